// Fuzz target: xml::stream_parser, the framer for both directions (a server's RFC 6120
// stream, a client's BOSH body / WebSocket message), fed at random split points.
// Differential invariant: feeding the same bytes in one piece and in random pieces gives the
// same events (root, each element's exact bytes, close); when both fail, the events seen
// before the failure agree as far as both got. Also: nothing after an error.
//
// With bit 0x10 of byte 0 the split run also calls release_idle() after every feed (as the
// upstream stream does before each wait): releasing and rebuilding expat must change nothing.
//
// Input layout: byte 0 picks the options (redeclare_default_ns), small limits and release;
// then a split table: bytes 1..8 are chunk lengths cycled over the rest, which is the stream.
#include "boshgate/xml/stream_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace boshgate;

struct recorder final : xml::handler {
    std::vector<std::string> events;
    void on_open(xml::root_open&& root) override { events.push_back("open " + root.qname); }
    void on_element(xml::element&& el) override { events.push_back("el " + el.xml); }
    void on_close() override { events.push_back("close"); }
};

struct outcome {
    std::vector<std::string> events;
    bool failed = false;
};

outcome run(std::string_view stream, const std::uint8_t* splits, std::size_t nsplits, const xml::limits& lim,
            const xml::options& opt, bool release = false)
{
    recorder rec;
    xml::stream_parser p(rec, lim, opt);
    outcome out;
    std::size_t i = 0;
    while (!stream.empty()) {
        std::size_t n = stream.size();
        if (nsplits > 0) {
            n = std::min<std::size_t>(stream.size(), 1 + splits[i++ % nsplits]);
        }
        std::string_view piece = stream.substr(0, n);
        stream.remove_prefix(n);
        while (!piece.empty()) {
            boost::system::error_code ec;
            std::size_t used = p.feed(piece, ec);
            if (ec) {
                out.failed = true;
                boost::system::error_code again;
                if (p.feed("<x/>", again) != 0 || again != ec) {
                    std::abort(); // a dead stream must stay dead with the same error
                }
                out.events = std::move(rec.events);
                return out;
            }
            if (used == 0) {
                std::abort(); // no progress without an error or a reset request
            }
            piece.remove_prefix(used);
            if (release) {
                p.release_idle();
            }
        }
    }
    out.events = std::move(rec.events);
    return out;
}

bool prefix_of(const std::vector<std::string>& a, const std::vector<std::string>& b)
{
    if (a.size() > b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 9) {
        return 0;
    }
    xml::options opt;
    opt.redeclare_default_ns = (data[0] & 1) != 0;
    xml::limits lim;
    lim.max_element_bytes = (data[0] & 2) != 0 ? 256 : 64 * 1024;
    lim.max_depth = (data[0] & 4) != 0 ? 4 : 64;
    lim.max_namespace_decls = (data[0] & 8) != 0 ? 4 : 64;
    const std::string_view stream(reinterpret_cast<const char*>(data + 9), size - 9);

    const auto whole = run(stream, nullptr, 0, lim, opt);
    const auto split = run(stream, data + 1, 8, lim, opt, (data[0] & 0x10) != 0);
    if (!whole.failed && !split.failed) {
        if (whole.events != split.events) {
            std::abort(); // split points changed what was framed
        }
    } else if (whole.failed != split.failed) {
        // Size limits may trip at a different moment, but one run cannot accept what the
        // other refused unless the difference is only in what came after the failure.
        const auto& ok = whole.failed ? split : whole;
        const auto& bad = whole.failed ? whole : split;
        if (!prefix_of(bad.events, ok.events)) {
            std::abort();
        }
    } else if (!prefix_of(whole.events, split.events) && !prefix_of(split.events, whole.events)) {
        std::abort();
    }
    return 0;
}
