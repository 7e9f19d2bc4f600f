#include "boshgate/http/cors.hpp"

#include <algorithm>
#include <cctype>

namespace boshgate::http {

namespace {
bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}
} // namespace

origin_decision decide_origin(const options& opt, std::optional<std::string_view> origin)
{
    origin_decision d;
    if (!origin) {
        return d;
    }
    for (const auto& o : opt.cors_origins) {
        if (o == "*") {
            d.allow_origin = "*";
            return d;
        }
        if (iequals(o, *origin)) {
            d.allow_origin = std::string(*origin);
            d.vary_origin = true;
            return d;
        }
    }
    d.allowed = false;
    return d;
}

std::string preflight_allow_headers(std::optional<std::string_view> requested)
{
    if (!requested || requested->empty()) {
        return "Content-Type";
    }
    bool ok = std::all_of(requested->begin(), requested->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ',' || c == ' ' || c == '_';
    });
    return ok && requested->size() <= 512 ? std::string(*requested) : std::string("Content-Type");
}

} // namespace boshgate::http
