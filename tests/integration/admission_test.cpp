// Admission control and deadlines through the real gateway (issue "safe to expose"):
// per-address session caps and rates answered as BOSH policy-violation or HTTP 503 before a
// WebSocket upgrade, per-address connection caps that count WebSocket connections too, a
// second client address unaffected, deadlines on every TLS connection, and the headers
// that keep responses from being rendered as something else.
#include "integration/harness.hpp"
#include "integration/tls_client.hpp"

#include <boost/asio/connect.hpp>

namespace boshgate::itest {
namespace {

using admission = gateway_test;
using deadlines = gateway_test;
using headers = gateway_test;

std::string post_request(std::string_view body)
{
    return raw_request("POST", "/http-bind", "HTTP/1.1",
                       {{"Host", "127.0.0.1"}, {"Content-Type", "text/xml; charset=utf-8"}, {"Connection", "close"}},
                       body);
}

std::string ws_upgrade()
{
    return "GET /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: xmpp\r\n\r\n";
}

// SEC-LIMIT-2, SEC-LIMIT-6: the per-address session cap refuses the next creation with
// policy-violation and opens no upstream connection for it; another address still gets in;
// ending a session frees its place.
TEST_F(admission, per_address_session_cap_refuses_with_policy_violation)
{
    gateway_options o;
    o.tail = "[limits]\nmax_sessions_per_address = 2\nsession_burst_per_address = 100\n"
             "session_rate_per_address = 100\n";
    start(o);
    for (int i = 0; i < 4; ++i) {
        fake->add(open_session_script());
    }
    const auto a = create_session(10);
    const auto b = create_session(20);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    ASSERT_TRUE(eventually([&] { return fake->connection_count() == 2; }));

    auto refused = post(create_body(30));
    EXPECT_EQ(refused.status, 200u);
    EXPECT_TRUE(is_terminate(refused.body, "policy-violation")) << refused.body;
    EXPECT_EQ(fake->connection_count(), 2u); // no upstream connection for a refused session
    EXPECT_EQ(metric(admin_port(), "limits_refused_address_sessions"), 1);

    // Another client address is its own group.
    raw_conn other(port(), "127.0.0.2");
    other.send(post_request(create_body(40)));
    auto [reply, closed] = other.read_until_closed(10s);
    EXPECT_NE(reply.find("sid="), std::string::npos) << reply;
    EXPECT_EQ(reply.find("policy-violation"), std::string::npos) << reply;

    // Ending a session frees its place.
    auto t = post(terminate_req(a, 11));
    EXPECT_TRUE(is_terminate(t.body, "")) << t.body;
    EXPECT_TRUE(eventually([&] { return !body_attr(post(create_body(50)).body, "sid").value_or("").empty(); }));
}

// SEC-LIMIT-3: the per-address creation rate (token bucket) refuses a burst beyond its depth.
TEST_F(admission, session_rate_per_address_refuses_a_burst)
{
    gateway_options o;
    o.tail = "[limits]\nsession_burst_per_address = 2\nsession_rate_per_address = 0.01\n";
    start(o);
    for (int i = 0; i < 2; ++i) {
        fake->add(open_session_script());
    }
    ASSERT_FALSE(create_session(10).empty());
    ASSERT_FALSE(create_session(20).empty());
    auto refused = post(create_body(30));
    EXPECT_TRUE(is_terminate(refused.body, "policy-violation")) << refused.body;
    EXPECT_EQ(metric(admin_port(), "limits_refused_address_rate"), 1);
}

// SEC-LIMIT-1: the global session cap covers BOSH and WebSocket together; a WebSocket
// upgrade beyond it is answered 503 with Retry-After before any upgrade.
TEST_F(admission, websocket_upgrade_beyond_the_session_cap_is_503_with_retry_after)
{
    gateway_options o;
    o.tail = "[limits]\nmax_sessions = 1\nsession_burst_per_address = 100\nsession_rate_per_address = 100\n";
    start(o);
    fake->add(open_session_script());
    ASSERT_FALSE(create_session(10).empty());

    http_client c(port());
    c.send_raw(ws_upgrade());
    auto r = c.read();
    EXPECT_EQ(r.status, 503u);
    EXPECT_FALSE(r.header("Retry-After").empty());
    EXPECT_GE(std::stoi(std::string(r.header("Retry-After"))), 1);
    EXPECT_NE(r.body.find("too many sessions"), std::string::npos) << r.body;
    EXPECT_EQ(metric(admin_port(), "limits_refused_sessions"), 1);
    EXPECT_EQ(fake->connection_count(), 1u);
}

// SEC-LIMIT-4, SEC-LIMIT-5: connections per address are capped, WebSocket connections
// included after their upgrade; a refused connection is closed at once; another address
// still connects; closing a WebSocket frees its place.
TEST_F(admission, websocket_connections_count_against_the_connection_caps)
{
    gateway_options o;
    o.tail = "[limits]\nmax_connections_per_address = 2\nsession_burst_per_address = 100\n"
             "session_rate_per_address = 100\n";
    start(o);
    auto ws1 = std::make_unique<raw_conn>(port());
    ws1->send(ws_upgrade());
    ASSERT_NE(ws1->read_until("\r\n\r\n", 10s).find("101"), std::string::npos);
    raw_conn ws2(port());
    ws2.send(ws_upgrade());
    ASSERT_NE(ws2.read_until("\r\n\r\n", 10s).find("101"), std::string::npos);

    // Both upgraded connections still count: a third one is closed without a byte.
    raw_conn third(port());
    auto r = third.read_until_closed(10s);
    EXPECT_TRUE(r.closed);
    EXPECT_TRUE(r.bytes.empty()) << r.bytes;
    // The admin listener is not subject to the public listener's per-address caps.
    EXPECT_GE(metric(admin_port(), "limits_refused_address_connections"), 1);

    // Closing one WebSocket frees a place.
    ws1.reset();
    EXPECT_TRUE(eventually([&] {
        raw_conn again(port());
        again.send(raw_request("GET", "/healthz", "HTTP/1.1", {{"Host", "x"}, {"Connection", "close"}}));
        return again.read_until("ok", 2s).find("200") != std::string::npos;
    }));
}

// SEC-DL-1: over TLS, a request followed by one byte of the next in the same record leaves
// the connection with a deadline (header_timeout), not none; and a fresh TLS connection
// that sends nothing after the handshake is closed at header_timeout, not idle_timeout.
TEST_F(deadlines, tls_connections_always_have_a_read_deadline)
{
    gateway_options o;
    o.http_extra = "header_timeout = \"1s\"\nidle_timeout = \"600s\"\n";
    o.listen_extra = "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\ntls_cert = \"" + cert_path("xmpp_test.pem") +
                     "\"\ntls_key = \"" + cert_path("xmpp_test.key") + "\"\n";
    start(o);
    {
        https_client silent(gw.port(1));
        EXPECT_TRUE(silent.closed_within(20s)); // header_timeout (1 s), far below idle (600 s)
    }
    {
        https_client trailing(gw.port(1));
        trailing.send_raw(raw_request("GET", "/healthz", "HTTP/1.1", {{"Host", "localhost"}}) + "G");
        EXPECT_TRUE(trailing.closed_within(20s));
    }
}

// SEC-DL-1: the same on a plain connection that never sends a first request.
TEST_F(deadlines, plain_connection_without_a_request_is_closed_at_header_timeout)
{
    gateway_options o;
    o.http_extra = "header_timeout = \"1s\"\nidle_timeout = \"600s\"\n";
    start(o);
    raw_conn c(port());
    EXPECT_TRUE(c.read_until_closed(20s).closed);
}

// SEC-DL-1, issue 9: the watchdog waits for the nearer deadline and moves only when one
// comes nearer. A connection idle well past its first request's header deadline (the
// watchdog has since been woken and waits for idle_timeout) that then starts a request and
// stalls is cut off at header_timeout, not at the far idle deadline.
TEST_F(deadlines, a_stalled_second_request_is_closed_at_header_timeout)
{
    gateway_options o;
    o.http_extra = "header_timeout = \"1s\"\nidle_timeout = \"600s\"\n";
    start(o);
    raw_conn c(port());
    c.send(raw_request("GET", "/healthz", "HTTP/1.1", {{"Host", "x"}}));
    ASSERT_NE(c.read_until("ok\n", 10s).find("200"), std::string::npos);
    std::this_thread::sleep_for(1500ms); // past the first request's header deadline
    c.send("POST /http-bind HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    auto r = c.read_until_closed(20s);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.bytes, "");
}

// SEC-DL-1, issue 9: a deadline that moved later does not cut the connection off at the
// earlier one, which the watchdog's pending wait still ends at: woken then, it waits again.
TEST_F(deadlines, a_deadline_moved_later_is_not_enforced_early)
{
    gateway_options o;
    o.http_extra = "header_timeout = \"1s\"\nidle_timeout = \"600s\"\n";
    start(o);
    raw_conn c(port());
    for (int i = 0; i < 3; ++i) {
        c.send(raw_request("GET", "/healthz", "HTTP/1.1", {{"Host", "x"}}));
        auto reply = c.read_until("ok\n", 10s);
        ASSERT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << "request " << i << ": " << reply;
        std::this_thread::sleep_for(1500ms); // beyond header_timeout, far within idle_timeout
    }
}

// SEC-INJ-3: every response carries nosniff and a CSP that runs nothing. /metrics is not on
// the public listener at all (it moved to the admin listener), proxied or not.
TEST_F(headers, nosniff_csp_and_metrics_behind_a_proxy)
{
    start();
    http_client c(port());
    auto r = c.post(create_body(1, "unknown.example"));
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_NE(std::string(r.header("Content-Security-Policy")).find("default-src 'none'"), std::string::npos);

    http_client m(port());
    m.send({}, "/metrics", test::bhttp::verb::get, 11, {{"X-Forwarded-For", "203.0.113.9"}});
    EXPECT_EQ(m.read().status, 404u);
    m.send({}, "/metrics", test::bhttp::verb::get);
    EXPECT_EQ(m.read().status, 404u);
    EXPECT_GE(metric(admin_port(), "http_requests"), 1); // on the admin listener
}

} // namespace
} // namespace boshgate::itest
