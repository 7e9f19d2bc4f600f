// Fuzz target: websocket::framing, the RFC 7395 translator, driven by a byte-coded sequence
// of client messages, server stream bytes (through a real xml::stream_parser, as
// upstream::stream delivers them), upstream endings, timer ticks and shutdown.
// Invariants (abort on violation):
//  - every text message to the client is exactly one well-formed, namespace-complete
//    element (WS-FRM-1/3): xml::parse_tree accepts it standing alone;
//  - every byte string sent upstream is well-formed XML on its own (whole elements, or a
//    stream header / closing tag, which parse_tree cannot check and are skipped);
//  - close reasons fit a Close frame (<= 123 bytes, RFC 6455 §5.5);
//  - nothing is sent to the client after the close / drop action, and once ended() no
//    input produces an action;
//  - after close_upstream no upstream action follows.
#include "boshgate/websocket/framing.hpp"
#include "boshgate/xml/tree.hpp"

#include "support/ws_samples.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using namespace boshgate;
using namespace boshgate::websocket;

const std::array<const char*, 10> canned_client = {
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
    "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>",
    "<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>hi</body></message>",
    "<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
    "<presence xmlns='jabber:client'/>",
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    "<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
    " ",
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0' xml:lang='de'/>",
};

const std::array<const char*, 6> canned_server = {
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='s1' from='example.com' version='1.0' xml:lang='en'>",
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>",
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    "<message from='bob@example.com/x' to='alice@example.com/w' type='chat'><body>yo</body></message>",
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    "</stream:stream>",
};

/// The server side as upstream::stream presents it: a framer whose events go to framing.
struct server_side final : xml::handler {
    framing* f = nullptr;
    core::time_point* now = nullptr;
    void on_open(xml::root_open&& root) override { f->on_upstream_header(root, *now); }
    void on_element(xml::element&& el) override { f->on_upstream_element(std::move(el), *now); }
    void on_close() override { f->on_upstream_closed(true, *now); }
};

bool well_formed(const std::string& s)
{
    xml::tree t;
    return !xml::parse_tree(s, t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    const options opt = test::small_framing_options(in.ConsumeBool());
    const xml::limits lim = test::small_xml_limits();
    core::time_point now{};
    framing f(opt, lim, "fuzzstream", now);

    server_side srv;
    srv.f = &f;
    srv.now = &now;
    auto parser = std::make_unique<xml::stream_parser>(srv, lim);
    bool upstream_open = false;   // open_upstream seen, no close_upstream / ending since
    bool upstream_dead = false;   // the server parser failed: no more server input
    bool client_closed = false;   // close_websocket or drop_websocket seen
    bool upstream_closed = false; // close_upstream seen

    auto drain = [&] {
        for (auto& a : f.take_actions()) {
            if (auto* t = std::get_if<action::send_text>(&a)) {
                if (client_closed || t->text.empty() || t->text[0] != '<' || !well_formed(t->text)) {
                    std::abort();
                }
            } else if (std::get_if<action::send_ping>(&a)) {
                if (client_closed) {
                    std::abort();
                }
            } else if (std::get_if<action::open_upstream>(&a)) {
                if (upstream_open || upstream_closed) {
                    std::abort(); // one upstream per WebSocket
                }
                upstream_open = true;
            } else if (auto* u = std::get_if<action::send_upstream>(&a)) {
                if (!upstream_open || upstream_closed || u->bytes.empty()) {
                    std::abort();
                }
            } else if (std::get_if<action::restart_upstream>(&a)) {
                if (!upstream_open || upstream_closed) {
                    std::abort();
                }
                parser = std::make_unique<xml::stream_parser>(srv, lim); // new stream
                upstream_dead = false;
            } else if (std::get_if<action::close_upstream>(&a)) {
                upstream_closed = true;
                upstream_open = false;
            } else if (auto* c = std::get_if<action::close_websocket>(&a)) {
                if (client_closed || c->reason.size() > 123) {
                    std::abort();
                }
                client_closed = true;
            } else if (std::get_if<action::drop_websocket>(&a)) {
                client_closed = true;
            }
        }
    };

    drain();
    while (in.remaining_bytes() > 0) {
        const bool ended_before = f.ended();
        switch (in.ConsumeIntegralInRange<int>(0, 12)) {
        case 0:
            f.on_message(message_kind::text, in.ConsumeRandomLengthString(512), now);
            break;
        case 1:
            f.on_message(message_kind::text, canned_client[in.ConsumeIntegralInRange<std::size_t>(0, canned_client.size() - 1)], now);
            break;
        case 2:
            f.on_message(message_kind::binary, in.ConsumeRandomLengthString(16), now);
            break;
        case 3:
            f.on_message_too_big(now);
            break;
        case 4:
            f.on_client_activity(now);
            break;
        case 5:
            f.on_client_gone(now);
            break;
        case 6:
        case 7: {
            const std::string bytes = in.ConsumeBool() ? std::string(canned_server[in.ConsumeIntegralInRange<std::size_t>(0, canned_server.size() - 1)])
                                                       : in.ConsumeRandomLengthString(512);
            if (upstream_open && !upstream_dead) {
                std::string_view rest(bytes);
                while (!rest.empty() && upstream_open) {
                    boost::system::error_code ec;
                    auto used = parser->feed(rest, ec);
                    if (ec) {
                        // upstream::stream reports bad server XML as a failure.
                        upstream_dead = true;
                        f.on_upstream_failed(upstream::failure::protocol_error, "bad xml", now);
                        break;
                    }
                    rest.remove_prefix(used);
                    drain();
                }
            }
            break;
        }
        case 8:
            if (upstream_open) {
                f.on_upstream_stream_error("<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                                           "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
                                           now);
            }
            break;
        case 9:
            if (upstream_open) {
                f.on_upstream_closed(in.ConsumeBool(), now);
                upstream_dead = true;
            }
            break;
        case 10:
            if (upstream_open) {
                f.on_upstream_failed(static_cast<upstream::failure>(in.ConsumeIntegralInRange<int>(0, 3)), "detail", now);
                upstream_dead = true;
            }
            break;
        case 11: {
            now += std::chrono::milliseconds(in.ConsumeIntegralInRange<std::int64_t>(0, 120000));
            if (auto d = f.next_deadline(); d && now >= *d) {
                f.on_timer(now);
            }
            break;
        }
        case 12:
            f.shutdown(now);
            break;
        }
        if (ended_before) {
            if (!f.take_actions().empty()) {
                std::abort(); // an ended framing must stay silent
            }
            continue;
        }
        drain();
    }
    return 0;
}
