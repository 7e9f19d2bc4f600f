// Text helpers that are not constexpr (see text.hpp).
#include "boshgate/core/text.hpp"

#include <cstdio>

namespace boshgate::core {

std::string json_quote(std::string_view s)
{
    std::string out = "\"";
    out.reserve(s.size() + 2);
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else if (const auto n = utf8_scalar_length(p + i, s.size() - i); n != 0) {
            out.append(s.data() + i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD"; // U+FFFD
            ++i;
        }
    }
    out += '"';
    return out;
}

} // namespace boshgate::core
