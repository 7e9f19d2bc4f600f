// The real client address behind a load balancer or reverse proxy: the PROXY protocol (v1, v2)
// on a listener that expects it, and Forwarded / X-Forwarded-For from trusted proxies. What
// shows it: the per-address session limit counts the named client, not the proxy.
#include "boshgate/http/proxy_protocol.hpp"
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using client_address = gateway_test;
namespace ip = boost::asio::ip;
namespace pp = http::proxy_protocol;

constexpr const char* one_session_per_address =
    "[limits]\nmax_sessions_per_address = 1\nsession_burst_per_address = 100\nsession_rate_per_address = 100\n";

/// A BOSH session-creation request, connection closed after the answer.
std::string create_request(std::uint64_t rid,
                           std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {})
{
    std::string r = raw_request("POST", "/http-bind", "HTTP/1.1",
                                {{"Host", "127.0.0.1"}, {"Content-Type", "text/xml; charset=utf-8"}, {"Connection", "close"}},
                                create_body(rid));
    std::string headers;
    for (const auto& [k, v] : extra) {
        headers += std::string(k) + ": " + std::string(v) + "\r\n";
    }
    return r.insert(r.find("\r\n") + 2, headers);
}

/// Sends `bytes` on a new connection from `source` and returns all it got until closed.
std::string send_and_read(std::uint16_t port, const std::string& bytes, std::string_view source = {})
{
    raw_conn c(port, source);
    c.send(bytes);
    return c.read_until_closed(10s).bytes;
}

bool granted(const std::string& reply)
{
    return reply.find("sid=") != std::string::npos && reply.find("policy-violation") == std::string::npos;
}

bool refused(const std::string& reply)
{
    return reply.find("condition='policy-violation'") != std::string::npos;
}

std::string v2_from(const char* address)
{
    return pp::make_v2(ip::tcp::endpoint(ip::make_address(address), 40000),
                       ip::tcp::endpoint(ip::make_address("127.0.0.1"), 5280));
}

gateway_options proxy_listener(const char* trusted)
{
    gateway_options o;
    o.http_extra = std::string("trusted_proxies = [\"") + trusted + "\"]\n";
    o.listen_extra = "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\nproxy_protocol = true\n";
    o.tail = one_session_per_address;
    return o;
}

// PROXY v2 and v1 name the client: two connections for 192.0.2.10 are one client (the second
// session is refused), 192.0.2.11 is another; a connection without a header, and one with a
// broken header, are closed unanswered; a LOCAL header (the balancer's health check) is served
// as the proxy itself.
TEST_F(client_address, proxy_protocol_names_the_client)
{
    start(proxy_listener("127.0.0.0/8"));
    for (int i = 0; i < 2; ++i) {
        fake->add(open_session_script());
    }
    const auto pport = gw.port(1);
    EXPECT_TRUE(granted(send_and_read(pport, v2_from("192.0.2.10") + create_request(10))));
    EXPECT_TRUE(refused(send_and_read(pport, v2_from("192.0.2.10") + create_request(20))));
    EXPECT_TRUE(granted(send_and_read(pport, "PROXY TCP4 192.0.2.11 127.0.0.1 40001 5280\r\n" + create_request(30))));
    EXPECT_EQ(metric(admin_port(), "limits_refused_address_sessions"), 1);

    const auto before = metric(admin_port(), "http_proxy_header_refused");
    EXPECT_EQ(send_and_read(pport, create_request(40)), "");
    EXPECT_EQ(send_and_read(pport, "PROXY TCP4 192.0.2.12 127.0.0.1 99999 5280\r\n" + create_request(50)), "");
    EXPECT_EQ(metric(admin_port(), "http_proxy_header_refused"), before + 2);

    const auto health = send_and_read(pport, pp::make_v2_local() + raw_request("GET", "/healthz", "HTTP/1.1",
                                                                          {{"Host", "x"}, {"Connection", "close"}}));
    EXPECT_TRUE(health.starts_with("HTTP/1.1 200 OK")) << health;
    // The plain listener next to it takes no PROXY header (a header there is a bad request).
    EXPECT_TRUE(send_and_read(port(), v2_from("192.0.2.13") + create_request(60)).starts_with("HTTP/1.1 400"));
}

// The header split over several TCP segments, the HTTP request right behind it.
TEST_F(client_address, proxy_header_in_pieces)
{
    start(proxy_listener("127.0.0.1/32"));
    fake->add(open_session_script());
    raw_conn c(gw.port(1));
    const auto hdr = v2_from("192.0.2.20");
    c.send(hdr.substr(0, 5));
    std::this_thread::sleep_for(50ms);
    c.send(hdr.substr(5, 14));
    std::this_thread::sleep_for(50ms);
    c.send(hdr.substr(19) + create_request(10));
    EXPECT_TRUE(granted(c.read_until_closed(10s).bytes));
}

// A peer outside trusted_proxies may not send PROXY headers: closed at once.
TEST_F(client_address, proxy_protocol_only_from_trusted_peers)
{
    start(proxy_listener("10.0.0.0/8"));
    const auto before = metric(admin_port(), "http_proxy_header_refused");
    EXPECT_EQ(send_and_read(gw.port(1), v2_from("192.0.2.10") + create_request(10)), "");
    EXPECT_EQ(metric(admin_port(), "http_proxy_header_refused"), before + 1);
    EXPECT_EQ(fake->connection_count(), 0u);
}

// Forwarded / X-Forwarded-For from a trusted proxy name the client per request; from any
// other peer they are ignored.
TEST_F(client_address, forwarding_headers_from_trusted_proxies_only)
{
    gateway_options o;
    o.http_extra = "trusted_proxies = [\"127.0.0.1\"]\n";
    o.tail = one_session_per_address;
    start(o);
    for (int i = 0; i < 5; ++i) {
        fake->add(open_session_script());
    }
    EXPECT_TRUE(granted(send_and_read(port(), create_request(10, {{"X-Forwarded-For", "198.51.100.1"}}))));
    EXPECT_TRUE(granted(send_and_read(port(), create_request(20, {{"X-Forwarded-For", "198.51.100.2, 127.0.0.1"}}))));
    EXPECT_TRUE(refused(send_and_read(port(), create_request(30, {{"Forwarded", "for=198.51.100.1;proto=https"}}))));
    EXPECT_TRUE(granted(send_and_read(port(), create_request(40)))); // the proxy itself: 127.0.0.1
    // 127.0.0.2 is not trusted: its header is ignored, it is its own client.
    EXPECT_TRUE(granted(send_and_read(port(), create_request(50, {{"X-Forwarded-For", "198.51.100.3"}}), "127.0.0.2")));
    EXPECT_TRUE(refused(send_and_read(port(), create_request(60, {{"X-Forwarded-For", "198.51.100.4"}}), "127.0.0.2")));
}

} // namespace
} // namespace boshgate::itest
