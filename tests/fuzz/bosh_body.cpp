// Fuzz target: one BOSH request <body/> (XEP-0124 §6/§7.1, XEP-0206), as parse_body() sees
// every POST. Invariants: no crash, no leak, no undefined behaviour; a parsed body's
// `content` always passes safe_content_type() (SEC-INJ-1); a refusal names its rule; and
// xml::parse_document, whose thread-wide reused parser has seen every earlier input of the
// run, judges the input exactly as xml::parse_document_alone (same events, same error).
#include "boshgate/bosh/body.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace boshgate;

struct events final : xml::handler {
    std::vector<std::string> seen;
    void on_open(xml::root_open&& r) override
    {
        std::string s = "open " + r.qname + " {" + r.ns + "}";
        for (const xml::attribute& a : r.attrs) {
            s += " " + a.qname + "=" + a.value + "{" + a.ns + "}";
        }
        seen.push_back(std::move(s));
    }
    void on_element(xml::element&& el) override { seen.push_back("{" + el.ns + "}" + el.local + " " + el.xml); }
    void on_close() override { seen.push_back("close"); }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
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
    const xml::options opt{size % 2 == 0};
    events reused;
    events alone;
    const auto ec_reused = xml::parse_document(doc, reused, lim, opt);
    const auto ec_alone = xml::parse_document_alone(doc, alone, lim, opt);
    if (ec_reused != ec_alone || reused.seen != alone.seen) {
        std::abort(); // the reused parser judged a document differently
    }
    return 0;
}
