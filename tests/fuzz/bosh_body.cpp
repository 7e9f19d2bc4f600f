// Fuzz target: one BOSH request <body/> (XEP-0124 §6/§7.1, XEP-0206), as parse_body() sees
// every POST. Invariants: no crash, no leak, no undefined behaviour; a parsed body's
// `content` always passes safe_content_type() (SEC-INJ-1); a refusal names its rule.
#include "boshgate/bosh/body.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace boshgate;
    const std::string_view doc(reinterpret_cast<const char*>(data), size);
    xml::limits lim;
    lim.max_element_bytes = 64 * 1024;
    auto r = bosh::parse_body(doc, lim);
    if (auto* b = std::get_if<bosh::body>(&r)) {
        if (b->content && !bosh::safe_content_type(*b->content)) {
            std::abort(); // an unsafe Content-Type survived parsing
        }
    } else if (std::get<bosh::body_error>(r).reason.empty()) {
        std::abort(); // every refusal must say why
    }
    return 0;
}
