#pragma once
// Test driver for websocket::framing: a framing on a fake clock, helpers that build real
// server headers/elements with the XML framer, and a compact rendering of actions so tests
// can assert the exact sequence. Every text message the framing emits is checked against
// the RFC 7395 invariants as it is taken (WS-FRM-1/3/5, WS-RST-3). No sleeping, no wall clock.
#include "boshgate/websocket/framing.hpp"
#include "boshgate/xml/stream_parser.hpp"
#include "boshgate/xml/tree.hpp"
#include "support/fake_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boshgate::websocket::testing {

using namespace std::chrono_literals;

inline constexpr std::string_view local_id = "local-id-1";
inline constexpr std::string_view framing_ns_attr = "xmlns='urn:ietf:params:xml:ns:xmpp-framing'";
inline const std::string close_xml = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
inline const std::string open_request =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>";

/// `<open/>` boshgate sends itself (no server header): from = `to` when known.
inline std::string local_open(std::optional<std::string> from = "example.com")
{
    std::string s = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'";
    if (from) {
        s += " from='" + *from + "'";
    }
    s += " id='" + std::string(local_id) + "' version='1.0' xml:lang='en'/>";
    return s;
}

/// The exact stream error text boshgate generates.
inline std::string stream_error_xml(std::string_view condition, std::string_view text)
{
    return "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><" +
           std::string(condition) + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
           "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" + std::string(text) +
           "</text></stream:error>";
}

/// Server-side stream parsed by the real framer: the header and the lifted elements.
struct server_stream {
    xml::root_open header;
    std::vector<xml::element> elements;
};

inline server_stream parse_server(std::string_view bytes)
{
    struct h final : xml::handler {
        server_stream out;
        void on_open(xml::root_open&& r) override { out.header = std::move(r); }
        void on_element(xml::element&& e) override { out.elements.push_back(std::move(e)); }
        void on_close() override {}
    } hh;
    xml::stream_parser p(hh, xml::limits{});
    boost::system::error_code ec;
    p.feed(bytes, ec);
    EXPECT_FALSE(ec) << ec.message() << ": " << bytes;
    return std::move(hh.out);
}

/// A server stream header as Prosody/ejabberd send it (with the XML declaration).
inline xml::root_open server_header(std::string_view id = "srv-1",
                                    std::string_view from = "example.com")
{
    std::string s = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' from='" +
                    std::string(from) + "' id='" + std::string(id) +
                    "' version='1.0' xml:lang='en'>";
    return parse_server(s).header;
}

/// One server element, lifted out of a stream by the real framer (namespace-complete).
inline xml::element server_element(std::string_view xml_text)
{
    auto s = parse_server("<stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams' id='x'>" +
                          std::string(xml_text));
    EXPECT_EQ(s.elements.size(), 1u) << xml_text;
    return s.elements.empty() ? xml::element{} : std::move(s.elements.front());
}

inline constexpr std::string_view features_xml =
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>PLAIN</mechanism></mechanisms></stream:features>";
inline constexpr std::string_view sasl_success_xml =
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

/// Compact, exact rendering of one action.
inline std::string describe(const any_action& a)
{
    struct visitor {
        std::string operator()(const action::send_text& x) const { return "text " + x.text; }
        std::string operator()(const action::send_ping&) const { return "ping"; }
        std::string operator()(const action::open_upstream& x) const
        {
            return "open_upstream to=" + x.to + " lang=" + x.lang;
        }
        std::string operator()(const action::send_upstream& x) const { return "upstream " + x.bytes; }
        std::string operator()(const action::restart_upstream&) const { return "restart_upstream"; }
        std::string operator()(const action::close_upstream& x) const
        {
            return x.clean ? "close_upstream clean" : "close_upstream unclean";
        }
        std::string operator()(const action::close_websocket& x) const
        {
            return "close_websocket " + std::to_string(static_cast<unsigned>(x.code));
        }
        std::string operator()(const action::drop_websocket&) const { return "drop_websocket"; }
    };
    return std::visit(visitor{}, a);
}

using lines = std::vector<std::string>;

inline std::string text(std::string_view s)
{
    return "text " + std::string(s);
}

/// WS-FRM-1/3/5, WS-RST-3: a message boshgate sends stands alone as XML, starts with '<',
/// and never holds a stream header, stream footer or XML declaration.
inline ::testing::AssertionResult valid_rfc7395_message(const std::string& t)
{
    if (t.empty() || t.front() != '<') {
        return ::testing::AssertionFailure() << "does not start with '<': " << t;
    }
    if (t.find("<stream:stream") != std::string::npos ||
        t.find("</stream:stream") != std::string::npos) {
        return ::testing::AssertionFailure() << "stream header/footer in a message: " << t;
    }
    if (t.find("<?xml") != std::string::npos) {
        return ::testing::AssertionFailure() << "XML declaration in a message: " << t;
    }
    xml::tree tr;
    if (auto ec = xml::parse_tree(t, tr)) {
        return ::testing::AssertionFailure() << "does not parse alone (" << ec.message()
                                             << "): " << t;
    }
    return ::testing::AssertionSuccess();
}

struct driver {
    explicit driver(options o = {}, xml::limits l = {})
        : opt(std::move(o)), f(opt, l, std::string(local_id), clock.now())
    {
    }

    core::time_point now() const { return clock.now(); }

    /// Drain the framing's actions, check every text message, remember them all.
    lines take()
    {
        lines out;
        for (any_action& a : f.take_actions()) {
            if (auto* t = std::get_if<action::send_text>(&a); t != nullptr && !legacy) {
                EXPECT_TRUE(valid_rfc7395_message(t->text));
            }
            if (auto* c = std::get_if<action::close_websocket>(&a)) {
                EXPECT_LE(c->reason.size(), 123u) << "RFC 6455 §5.5 control frame limit";
                last_close_reason = c->reason;
            }
            out.push_back(describe(a));
        }
        return out;
    }

    lines msg(std::string_view data)
    {
        f.on_message(message_kind::text, data, now());
        return take();
    }

    lines binary(std::string_view data)
    {
        f.on_message(message_kind::binary, data, now());
        return take();
    }

    lines header(std::string_view id = "srv-1")
    {
        f.on_upstream_header(server_header(id), now());
        return take();
    }

    lines element(std::string_view xml_text)
    {
        f.on_upstream_element(server_element(xml_text), now());
        return take();
    }

    lines timer()
    {
        f.on_timer(now());
        return take();
    }

    /// Advance the clock and fire the timer if a deadline has been reached (as the adapter
    /// does with its one steady_timer).
    lines advance(core::duration d)
    {
        clock.advance(d);
        auto dl = f.next_deadline();
        if (dl && *dl <= now()) {
            return timer();
        }
        return {};
    }

    /// Client <open/>, checked to produce exactly open_upstream.
    void open()
    {
        EXPECT_EQ(msg(open_request), lines{"open_upstream to=example.com lang=en"});
    }

    /// <open/> exchanged: the framing relays.
    void establish()
    {
        open();
        EXPECT_EQ(header(), lines{text("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' "
                                       "from='example.com' id='srv-1' version='1.0' "
                                       "xml:lang='en'/>")});
        EXPECT_EQ(element(features_xml).size(), 1u);
    }

    options opt;
    test::fake_clock clock;
    framing f;
    bool legacy = false;
    std::string last_close_reason;
};

} // namespace boshgate::websocket::testing
