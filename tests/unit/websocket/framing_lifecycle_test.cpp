// Gateway-side inputs of websocket::framing: shutdown, timers (open timeout, keepalive
// pings, idle drop), the client going away, and the ended state.
#include "framing_driver.hpp"

namespace boshgate::websocket::testing {
namespace {

// ------------------------------------------------------------------ shutdown

// Shutdown before <open/>: only the WebSocket close 1001.
TEST(framing_shutdown, await_open)
{
    driver d;
    d.f.shutdown(d.now());
    EXPECT_EQ(d.take(), lines{"close_websocket 1001"});
    EXPECT_TRUE(d.f.ended());
}

// Shutdown while the header is awaited: local <open/>, system-shutdown, <close/>, clean
// upstream close, 1001.
TEST(framing_shutdown, await_header)
{
    driver d;
    d.open();
    d.f.shutdown(d.now());
    EXPECT_EQ(d.take(), (lines{text(local_open()),
                               text(stream_error_xml("system-shutdown",
                                                     "RFC 6120 §4.9.3.17: the gateway is "
                                                     "shutting down")),
                               text(close_xml), "close_upstream clean", "close_websocket 1001"}));
}

TEST(framing_shutdown, open)
{
    driver d;
    d.establish();
    d.f.shutdown(d.now());
    EXPECT_EQ(d.take(), (lines{text(stream_error_xml("system-shutdown",
                                                     "RFC 6120 §4.9.3.17: the gateway is "
                                                     "shutting down")),
                               text(close_xml), "close_upstream clean", "close_websocket 1001"}));
    EXPECT_FALSE(d.f.upstream_open());
}

// Shutdown while waiting for the client's <close/>: close now with 1001.
TEST(framing_shutdown, closing)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    d.take();
    d.f.shutdown(d.now());
    EXPECT_EQ(d.take(), lines{"close_websocket 1001"});
}

TEST(framing_shutdown, ended_is_noop)
{
    driver d;
    d.establish();
    d.msg(close_xml);
    d.f.shutdown(d.now());
    EXPECT_TRUE(d.take().empty());
}

// ------------------------------------------------------------------ timers

// Open timeout: no <open/> within open_timeout -> local <open/>, connection-timeout,
// <close/>, 1000.
TEST(framing_timers, open_timeout)
{
    options o;
    o.open_timeout = 10s;
    driver d(o);
    EXPECT_EQ(d.f.next_deadline(), d.now() + 10s);
    EXPECT_TRUE(d.advance(9s).empty());
    EXPECT_EQ(d.advance(1s), (lines{text(local_open(std::nullopt)),
                                    text(stream_error_xml("connection-timeout",
                                                          "RFC 6120 §4.9.3.4: no &lt;open/&gt; "
                                                          "within the open timeout")),
                                    text(close_xml), "close_websocket 1000"}));
    EXPECT_TRUE(d.f.ended());
}

// The open timeout no longer applies once <open/> arrived.
TEST(framing_timers, open_timeout_disarmed_by_open)
{
    options o;
    o.open_timeout = 10s;
    driver d(o);
    d.clock.advance(5s);
    d.open();
    EXPECT_EQ(d.f.next_deadline(), d.now() + o.ping_interval);
    EXPECT_TRUE(d.advance(6s).empty());
    EXPECT_FALSE(d.f.ended());
}

// WS-KA-2/3: one Ping after ping_interval of silence, not again within the interval, again
// one interval after the last ping; activity (a Pong) resets the clock.
TEST(framing_timers, ping_once_per_interval)
{
    driver d; // ping 25 s, idle 75 s
    d.establish();
    EXPECT_EQ(d.f.next_deadline(), d.now() + 25s);
    EXPECT_TRUE(d.advance(24s).empty());
    EXPECT_EQ(d.advance(1s), lines{"ping"});
    EXPECT_EQ(d.f.next_deadline(), d.now() + 25s);
    // A spurious timer call inside the interval sends nothing.
    d.clock.advance(5s);
    EXPECT_TRUE(d.timer().empty());
    // The Pong arrives: activity.
    d.f.on_client_activity(d.now());
    EXPECT_EQ(d.f.next_deadline(), d.now() + 25s);
    EXPECT_TRUE(d.advance(24s).empty());
    EXPECT_EQ(d.advance(1s), lines{"ping"});
}

// Messages count as activity too.
TEST(framing_timers, messages_are_activity)
{
    driver d;
    d.establish();
    d.clock.advance(20s);
    d.msg("<r xmlns='urn:xmpp:sm:3'/>");
    EXPECT_EQ(d.f.next_deadline(), d.now() + 25s);
}

// WS-CLOSE-3: nothing from the client for idle_timeout: drop the server link uncleanly (SM
// may resume) and drop the WebSocket without a Close frame. Pings at 25 s and 50 s first.
TEST(framing_timers, idle_drop)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.advance(25s), lines{"ping"});
    EXPECT_EQ(d.advance(25s), lines{"ping"});
    EXPECT_EQ(d.f.next_deadline(), d.now() + 25s); // = last activity + 75 s
    EXPECT_TRUE(d.advance(24s).empty());
    EXPECT_EQ(d.advance(1s), (lines{"close_upstream unclean", "drop_websocket"}));
    EXPECT_TRUE(d.f.ended());
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_EQ(d.f.next_deadline(), std::nullopt);
}

// Idle before <open/> with a long open timeout: just the drop (no upstream).
TEST(framing_timers, idle_drop_without_upstream)
{
    options o;
    o.open_timeout = 600s;
    o.ping_interval = 10s;
    o.idle_timeout = 20s;
    driver d(o);
    EXPECT_EQ(d.advance(10s), lines{"ping"});
    EXPECT_EQ(d.advance(10s), lines{"drop_websocket"});
}

// ------------------------------------------------------------------ client gone

// WS-CLOSE-3: the WebSocket ends without a client <close/>: upstream dropped uncleanly.
TEST(framing_gone, without_close_drops_upstream_uncleanly)
{
    driver d;
    d.establish();
    d.f.on_client_gone(d.now());
    EXPECT_EQ(d.take(), lines{"close_upstream unclean"});
    EXPECT_TRUE(d.f.ended());
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_EQ(d.f.next_deadline(), std::nullopt);
}

// After the client's <close/>, the WebSocket going away adds nothing.
TEST(framing_gone, after_close_nothing_more)
{
    driver d;
    d.establish();
    d.msg(close_xml);
    d.f.on_client_gone(d.now());
    EXPECT_TRUE(d.take().empty());
}

// Gone while boshgate waits for the client's <close/> (server already closed): nothing to do.
TEST(framing_gone, while_closing)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    d.take();
    d.f.on_client_gone(d.now());
    EXPECT_TRUE(d.take().empty());
    EXPECT_TRUE(d.f.ended());
}

// Gone before <open/>: no upstream, just ended.
TEST(framing_gone, before_open)
{
    driver d;
    d.f.on_client_gone(d.now());
    EXPECT_TRUE(d.take().empty());
    EXPECT_TRUE(d.f.ended());
}

// ------------------------------------------------------------------ ended

// Once ended, every input is ignored and no deadline is armed.
TEST(framing_ended, inputs_ignored)
{
    driver d;
    d.establish();
    d.msg(close_xml);
    ASSERT_TRUE(d.f.ended());
    d.f.on_message(message_kind::text, open_request, d.now());
    d.f.on_message(message_kind::binary, "x", d.now());
    d.f.on_message_too_big(d.now());
    d.f.on_client_activity(d.now());
    d.f.on_upstream_header(server_header(), d.now());
    d.f.on_upstream_element(server_element("<presence/>"), d.now());
    d.f.on_upstream_stream_error("<stream:error xmlns:stream='http://etherx.jabber.org/streams'/>",
                                 d.now());
    d.f.on_upstream_closed(false, d.now());
    d.f.on_upstream_failed(upstream::failure::connection_failed, "x", d.now());
    d.f.shutdown(d.now());
    d.clock.advance(1h);
    d.f.on_timer(d.now());
    d.f.on_client_gone(d.now());
    EXPECT_TRUE(d.take().empty());
    EXPECT_EQ(d.f.next_deadline(), std::nullopt);
}

// After a stream error, a later message draws nothing.
TEST(framing_ended, after_error)
{
    driver d;
    d.establish();
    d.binary("x");
    EXPECT_TRUE(d.f.ended());
    EXPECT_TRUE(d.msg("<presence xmlns='jabber:client'/>").empty());
}

// WS-FRM-1/3/5, WS-RST-3 over a whole session: every message boshgate sends parses alone,
// starts with '<', has no stream header/footer and no declaration (the driver checks each
// one as it is taken); here a full login with restart, traffic and close.
TEST(framing_invariants, full_session)
{
    driver d;
    d.establish();
    d.msg("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    d.element(sasl_success_xml);
    d.msg(open_request);
    d.header("srv-2");
    d.element("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
              "<sm xmlns='urn:xmpp:sm:3'/></stream:features>");
    d.msg("<iq xmlns='jabber:client' type='set' id='b'><bind "
          "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    d.element("<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              "<jid>a@example.com/r</jid></bind></iq>");
    d.element("<message from='b@example.com' xml:lang='fr'><body>salut</body></message>");
    auto last = d.msg(close_xml);
    EXPECT_EQ(last, (lines{"close_upstream clean", text(close_xml), "close_websocket 1000"}));
}

} // namespace
} // namespace boshgate::websocket::testing
