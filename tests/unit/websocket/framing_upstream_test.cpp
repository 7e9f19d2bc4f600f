// Upstream (RFC 6120 TCP stream) events through websocket::framing: header translation,
// element relaying, server stream errors and closes, connection failures.
#include "framing_driver.hpp"

namespace boshgate::websocket::testing {
namespace {

// WS-OPEN-2/3: only the header attributes present are copied, escaped; never a declaration.
TEST(framing_upstream, header_attributes_present_only)
{
    driver d;
    d.open();
    auto h = parse_server("<stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams' id='a&apos;b&lt;c' "
                          "version='1.0'>")
                 .header;
    d.f.on_upstream_header(h, d.now());
    EXPECT_EQ(d.take(), lines{text("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' "
                                   "id='a&apos;b&lt;c' version='1.0'/>")});
}

// C2S-HDR-8: a header with no attributes at all still gives a valid <open/>.
TEST(framing_upstream, bare_header)
{
    driver d;
    d.open();
    auto h = parse_server("<stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams'>")
                 .header;
    d.f.on_upstream_header(h, d.now());
    EXPECT_EQ(d.take(), lines{text("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")});
}

// WS-FRM-1/4, WS-NS-2: each server element is one message, namespace-complete (the framer
// re-declared jabber:client and the stream prefix).
TEST(framing_upstream, elements_relayed_one_per_message)
{
    driver d;
    d.open();
    d.header();
    EXPECT_EQ(d.element(features_xml),
              lines{text("<stream:features xmlns='jabber:client' "
                         "xmlns:stream='http://etherx.jabber.org/streams'><mechanisms "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
                         "</mechanisms></stream:features>")});
    EXPECT_EQ(d.element("<message from='a@example.com'><body>hi</body></message>"),
              lines{text("<message xmlns='jabber:client' from='a@example.com'><body>hi</body>"
                         "</message>")});
}

// WS-ERR-1, C2S-ERR-1: a server stream error: the error whole, <close/>, then boshgate waits
// for the client's <close/> (closing; the upstream is already gone).
TEST(framing_upstream, server_stream_error)
{
    driver d;
    d.establish();
    std::string err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                      "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    d.f.on_upstream_stream_error(err, d.now());
    EXPECT_EQ(d.take(), (lines{text(err), text(close_xml)}));
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_FALSE(d.f.ended());
    EXPECT_EQ(d.f.next_deadline(), d.now() + d.opt.close_timeout);
    // WS-CLOSE-1: the client's <close/> completes the close: only the WS close now.
    EXPECT_EQ(d.msg(close_xml), lines{"close_websocket 1000"});
    EXPECT_TRUE(d.f.ended());
}

// WS-ERR-2, C2S-ERR-2: a stream error before the server's header: boshgate's <open/> first.
TEST(framing_upstream, server_stream_error_before_header)
{
    driver d;
    d.open();
    std::string err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                      "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    d.f.on_upstream_stream_error(err, d.now());
    EXPECT_EQ(d.take(), (lines{text(local_open()), text(err), text(close_xml)}));
}

// WS-CLOSE-2: a clean server close is mirrored with <close/>; the client's <close/> then
// ends the WebSocket (1000); no close_upstream (it is gone already).
TEST(framing_upstream, server_close_clean)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    EXPECT_EQ(d.take(), lines{text(close_xml)});
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_EQ(d.msg(close_xml), lines{"close_websocket 1000"});
}

// RFC 7395 §3.6: in `closing`, anything but the client's <close/> is dropped.
TEST(framing_upstream, closing_drops_other_messages)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    d.take();
    EXPECT_TRUE(d.msg("<presence xmlns='jabber:client'/>").empty());
    EXPECT_TRUE(d.msg("not xml").empty());
    EXPECT_TRUE(d.msg(" ").empty());
    EXPECT_TRUE(d.binary("x").empty());
    EXPECT_TRUE(d.msg(open_request).empty());
    // Late upstream events are ignored too.
    d.f.on_upstream_element(server_element("<presence/>"), d.now());
    d.f.on_upstream_closed(false, d.now());
    EXPECT_TRUE(d.take().empty());
    EXPECT_FALSE(d.f.ended());
    EXPECT_EQ(d.msg(close_xml), lines{"close_websocket 1000"});
}

// WS-CLOSE-2: no client <close/> within close_timeout: WS close 1000 anyway.
TEST(framing_upstream, close_timeout)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    d.take();
    EXPECT_EQ(d.f.next_deadline(), d.now() + 5s);
    EXPECT_TRUE(d.advance(4s).empty());
    EXPECT_EQ(d.advance(1s), lines{"close_websocket 1000"});
    EXPECT_TRUE(d.f.ended());
    EXPECT_EQ(d.f.next_deadline(), std::nullopt);
    EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.6"), std::string::npos);
}

// An unclean server close (TCP lost): remote-connection-failed, <close/>, WS close 1000.
TEST(framing_upstream, server_close_unclean)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(false, d.now());
    EXPECT_EQ(d.take(), (lines{text(stream_error_xml("remote-connection-failed",
                                                     "RFC 6120 §4.9.3.15: the server connection "
                                                     "was lost")),
                               text(close_xml), "close_websocket 1000"}));
    EXPECT_TRUE(d.f.ended());
}

// WS-OPEN-4, GAP-10, SEC-INJ-2: each failure maps to its condition with a fixed text (the
// detail is never shown); <open/> first (from = the client's `to`), then the error,
// <close/>, WS close 1000.
TEST(framing_upstream, failures_map_to_conditions)
{
    struct row {
        upstream::failure f;
        std::string_view condition;
        std::string_view text;
    };
    for (row r : {row{upstream::failure::host_unknown, "host-unknown",
                      "RFC 6120 §4.9.3.6: this gateway does not serve that domain"},
                  row{upstream::failure::improper_addressing, "improper-addressing",
                      "RFC 6120 §4.9.3.7: the stream has no 'to'"},
                  row{upstream::failure::connection_failed, "remote-connection-failed",
                      "RFC 6120 §4.9.3.15: the XMPP server could not be reached"},
                  row{upstream::failure::protocol_error, "remote-connection-failed",
                      "RFC 6120 §4.9.3.15: the XMPP server could not be reached"}}) {
        driver d;
        d.open();
        d.f.on_upstream_failed(r.f, "RFC 6120 §3.2: no <answer> & more", d.now());
        EXPECT_EQ(d.take(),
                  (lines{text(local_open()),
                         text(stream_error_xml(r.condition, xml::escape_text(r.text))),
                         text(close_xml), "close_websocket 1000"}))
            << r.condition;
        EXPECT_EQ(d.last_close_reason, r.text);
        EXPECT_FALSE(d.f.upstream_open());
        EXPECT_TRUE(d.f.ended());
    }
}

// SEC-INJ-2: connect details (addresses, ports, SRV targets, resolver and TLS errors) never
// reach the client, neither in the stream error <text/> nor in the WebSocket close reason:
// the client could otherwise map the gateway's network through `to`.
TEST(framing_upstream, failure_detail_not_shown_to_client)
{
    const std::string detail =
        "connect to xmpp-internal.corp.example [10.1.2.3]:5269 failed: Connection refused; "
        "SRV _xmpp-client._tcp.example.com -> [fd00::1]:3306 timed out; TLS: certificate "
        "verify failed";
    for (auto f : {upstream::failure::host_unknown, upstream::failure::improper_addressing,
                   upstream::failure::connection_failed, upstream::failure::protocol_error}) {
        for (bool established : {false, true}) {
            driver d;
            if (established) {
                d.establish();
            } else {
                d.open();
            }
            d.f.on_upstream_failed(f, detail, d.now());
            auto out = d.take();
            ASSERT_FALSE(out.empty());
            for (const std::string& line : out) {
                for (const char* leak : {"10.1.2.3", "5269", "3306", "fd00", "corp.example",
                                         "refused", "_xmpp-client", "timed out", "certificate"}) {
                    EXPECT_EQ(line.find(leak), std::string::npos) << line;
                }
            }
            for (const char* leak : {"10.1.2.3", "5269", "corp.example"}) {
                EXPECT_EQ(d.last_close_reason.find(leak), std::string::npos) << d.last_close_reason;
            }
        }
    }
}

// An empty detail gives the same generic text.
TEST(framing_upstream, failure_without_detail)
{
    driver d;
    d.open();
    d.f.on_upstream_failed(upstream::failure::connection_failed, "", d.now());
    auto a = d.take();
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[1], text(stream_error_xml("remote-connection-failed",
                                          "RFC 6120 §4.9.3.15: the XMPP server could not be reached")));
}

// A failure after the stream was established (no second <open/>).
TEST(framing_upstream, failure_after_open)
{
    driver d;
    d.establish();
    d.f.on_upstream_failed(upstream::failure::protocol_error, "bad server XML", d.now());
    EXPECT_EQ(d.take(),
              (lines{text(stream_error_xml("remote-connection-failed",
                                           "RFC 6120 §4.9.3.15: the XMPP server could not be reached")),
                     text(close_xml), "close_websocket 1000"}));
}

// Upstream events with no upstream open (before <open/>) are ignored.
TEST(framing_upstream, events_without_upstream_ignored)
{
    driver d;
    d.f.on_upstream_header(server_header(), d.now());
    d.f.on_upstream_element(server_element("<presence/>"), d.now());
    d.f.on_upstream_stream_error("<stream:error xmlns:stream='http://etherx.jabber.org/streams'/>",
                                 d.now());
    d.f.on_upstream_closed(true, d.now());
    d.f.on_upstream_failed(upstream::failure::host_unknown, "x", d.now());
    EXPECT_TRUE(d.take().empty());
    EXPECT_FALSE(d.f.ended());
}

// SASL success is only noted for the SASL namespace: a <success/> elsewhere does not allow
// a restart.
TEST(framing_upstream, success_in_other_namespace_does_not_allow_restart)
{
    driver d;
    d.establish();
    d.element("<success xmlns='urn:example:other'/>");
    auto a = d.msg(open_request);
    ASSERT_FALSE(a.empty());
    EXPECT_NE(a[0].find("<policy-violation "), std::string::npos);
}

} // namespace
} // namespace boshgate::websocket::testing
