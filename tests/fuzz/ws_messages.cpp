// Fuzz target: the long-lived framer behind websocket::framing (WS-FRM-1..4), differential.
// Two framings live through the same session; one gets each client message as it is (it
// goes through the session's one framer, under a synthetic root), the other gets it behind
// an XML declaration, which makes the framing parse it as a document of its own. The
// framer's state is given back between some messages (what an idle session does) and
// server stanzas arrive in between, as in a session.
// Invariant (abort on violation): every input draws the same actions from both, text for
// text, error text and close code included; and both end together. This is the unit test
// framing_messages.random_sequences_judged_as_if_parsed_on_their_own, searching further
// than its fixed seed.
#include "boshgate/websocket/framing.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include "support/ws_samples.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace boshgate;
using namespace boshgate::websocket;

/// Messages that are not one clean element, or that test the synthetic root's edges; the
/// well-formed ones come from test::well_formed_client_messages.
const std::array<const char*, 6> canned_odd = {
    "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    "</m><m>",
    "<message><body>",
    "<?xml version='1.0'?><presence/>",
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com'>",
    "</stream:stream>",
};

std::string canned(FuzzedDataProvider& in)
{
    const auto& good = test::well_formed_client_messages;
    const std::size_t i = in.ConsumeIntegralInRange<std::size_t>(0, good.size() + canned_odd.size() - 1);
    return i < good.size() ? good[i] : std::string(canned_odd[i - good.size()]);
}

const char* const open_request =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>";
const char* const server_start =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='s1' from='example.com' version='1.0' xml:lang='en'>"
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
const char* const server_stanza =
    "<message from='bob@example.com/x' to='alice@example.com/w' type='chat'><body>yo</body></message>";

std::string describe(const any_action& a)
{
    struct visitor {
        std::string operator()(const action::send_text& x) const { return "text " + x.text; }
        std::string operator()(const action::send_ping&) const { return "ping"; }
        std::string operator()(const action::open_upstream& x) const { return "open " + x.to + " " + x.lang; }
        std::string operator()(const action::send_upstream& x) const { return "upstream " + x.bytes; }
        std::string operator()(const action::restart_upstream&) const { return "restart"; }
        std::string operator()(const action::close_upstream& x) const { return x.clean ? "close clean" : "close unclean"; }
        std::string operator()(const action::close_websocket& x) const
        {
            return "close_websocket " + std::to_string(static_cast<unsigned>(x.code)) + " " + x.reason;
        }
        std::string operator()(const action::drop_websocket&) const { return "drop"; }
    };
    return std::visit(visitor{}, a);
}

/// One session: a framing and the server side as upstream::stream presents it.
struct session final : xml::handler {
    framing f;
    xml::stream_parser server;
    core::time_point now{};

    session(const options& opt, const xml::limits& lim)
        : f(opt, lim, "fuzzstream", core::time_point{}), server(*this, lim)
    {
    }
    void on_open(xml::root_open&& root) override { f.on_upstream_header(root, now); }
    void on_element(xml::element&& el) override { f.on_upstream_element(std::move(el), now); }
    void on_close() override { f.on_upstream_closed(true, now); }

    std::vector<std::string> take()
    {
        std::vector<std::string> out;
        for (const any_action& a : f.take_actions()) {
            out.push_back(describe(a));
        }
        return out;
    }
    std::vector<std::string> message(const std::string& m)
    {
        f.on_message(message_kind::text, m, now);
        return take();
    }
    std::vector<std::string> from_server(std::string_view bytes)
    {
        boost::system::error_code ec;
        server.feed(bytes, ec);
        if (ec) {
            std::abort(); // canned server bytes are well-formed
        }
        return take();
    }
};

void same(const std::vector<std::string>& a, const std::vector<std::string>& b)
{
    if (a != b) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    const options opt = test::small_framing_options(in.ConsumeBool());
    const xml::limits lim = test::small_xml_limits();
    const std::string decl = "<?xml version='1.0'?>";

    session a(opt, lim); // messages as they are: the long-lived framer
    session b(opt, lim); // each message behind a declaration: parsed on its own
    same(a.message(open_request), b.message(open_request));
    same(a.from_server(server_start), b.from_server(server_start));

    while (in.remaining_bytes() > 0 && !a.f.ended()) {
        switch (in.ConsumeIntegralInRange<int>(0, 4)) {
        case 0:
        case 1: {
            std::string m;
            for (int n = in.ConsumeIntegralInRange<int>(1, 3); n > 0; --n) {
                m += in.ConsumeBool() ? canned(in) : in.ConsumeRandomLengthString(256);
            }
            same(a.message(m), b.message(m.starts_with("<?") ? m : decl + m));
            break;
        }
        case 2:
            a.f.release_idle();
            break;
        case 3:
            same(a.from_server(server_stanza), b.from_server(server_stanza));
            break;
        case 4: {
            // A long run of well-formed messages with ever new names: the framer is rebuilt
            // every 16 KiB (SEC-XML-1) and must judge the next message the same afterwards.
            const int count = in.ConsumeIntegralInRange<int>(1, 400);
            for (int i = 0; i < count; ++i) {
                const std::string m = "<message xmlns='jabber:client' a" + std::to_string(i) +
                                      "='v'><body>" + std::string(64, 'x') + "</body></message>";
                same(a.message(m), b.message(decl + m));
            }
            break;
        }
        }
    }
    if (a.f.ended() != b.f.ended()) {
        std::abort();
    }
    return 0;
}
