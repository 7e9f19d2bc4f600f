// The `route` and `from` attributes against the configured policy, and the HTTPS listener's
// "a TLS session stays on TLS" rule.
#include "integration/harness.hpp"
#include "integration/tls_client.hpp"

namespace boshgate::itest {
namespace {

using routing = gateway_test;

/// The stream header the gateway sent as the `n`-th (0-based) on connection `log`.
std::string nth_header(const std::string& received, std::size_t n)
{
    std::size_t at = 0;
    for (std::size_t i = 0; i <= n; ++i) {
        at = received.find("<stream:stream", i == 0 ? 0 : at + 1);
        if (at == std::string::npos) {
            return {};
        }
    }
    return received.substr(at, received.find('>', at) - at + 1);
}

// BOSH-ROUTE-4, BOSH-ROUTE-5, C2S-HDR-5, C2S-TLS-1, C2S-TLS-4: an allowed route chooses the
// host (the domain's own address is dead), while `to` stays the stream `to`, the SNI and
// the certificate identity (the certificate is not valid for 127.0.0.1); the client's
// `from` is advisory: absent before TLS, present after, and SASL is still offered.
TEST_F(routing, allowed_route_keeps_to_as_stream_and_certificate_identity)
{
    fake = std::make_unique<fake_server>();
    gateway_options o;
    o.upstream_port = closed_port();
    o.tail = "[[upstream.route]]\nhost = \"127.0.0.1\"\nport = " + std::to_string(fake->port()) + "\n";
    gw.start(gateway_toml(o));
    fake->add(open_session_script());

    auto r = post(create_body(
        1, domain, "route='xmpp:127.0.0.1:" + std::to_string(fake->port()) + "' from='admin@xmpp.test'"));
    ASSERT_TRUE(body_attr(r.body, "sid").has_value()) << r.body;
    EXPECT_NE(r.body.find("<mechanism>PLAIN</mechanism>"), std::string::npos) << r.body; // ROUTE-5
    auto log = fake->log(0);
    EXPECT_EQ(log.sni, "xmpp.test");
    EXPECT_TRUE(log.tls);
    const auto plain = nth_header(log.received, 0);
    const auto secured = nth_header(log.received, 1);
    EXPECT_NE(plain.find("to='xmpp.test'"), std::string::npos) << plain;
    EXPECT_EQ(plain.find("from="), std::string::npos) << plain;
    EXPECT_NE(secured.find("to='xmpp.test'"), std::string::npos) << secured;
    EXPECT_NE(secured.find("from='admin@xmpp.test'"), std::string::npos) << secured;
}

// Issue 11 (scale-out): a named instance's sids are "<instance_id>.<40 hex digits>" (the
// prefix a load balancer routes on, the rest 160 random bits); the session is found by the
// whole sid, and the same random part under another instance's name is an unknown sid.
TEST_F(routing, instance_id_prefixes_bosh_sids)
{
    gateway_options o;
    o.server_extra = "instance_id = \"gw7\"\n";
    start(o);
    fake->add(open_session_script());
    const std::string sid = create_session(1);
    ASSERT_EQ(sid.size(), 4u + 40u) << sid;
    EXPECT_EQ(sid.substr(0, 4), "gw7.");
    EXPECT_EQ(sid.find_first_not_of("0123456789abcdef", 4), std::string::npos) << sid;
    auto other = post(req_body("gw8." + sid.substr(4), 2));
    EXPECT_TRUE(is_terminate(other.body, "item-not-found")) << other.body;
    auto own = post(terminate_req(sid, 2));
    EXPECT_TRUE(is_terminate(own.body, "")) << own.body;
}

// Without instance_id the sid stays 40 hex digits (160 random bits), as before.
TEST_F(routing, no_instance_id_keeps_plain_sids)
{
    start();
    fake->add(open_session_script());
    const std::string sid = create_session(1);
    EXPECT_EQ(sid.size(), 40u) << sid;
    EXPECT_EQ(sid.find_first_not_of("0123456789abcdef"), std::string::npos) << sid;
}

// BOSH-ROUTE-2: `route` is split literally, never URI-decoded: %2e is not a dot, so the
// allow-listed host does not match and the route is refused.
TEST_F(routing, route_is_taken_literally)
{
    gateway_options o;
    o.tail = "[[upstream.route]]\nhost = \"example.com.evil.test\"\nport = 5222\n";
    start(o);
    auto r = post(create_body(1, domain, "route='xmpp:example.com%2eevil.test:5222'"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "host-unknown")) << r.body;
    EXPECT_EQ(fake->connection_count(), 0u);
}

// BOSH-HTTP-14: a session born over HTTPS: a request for it over plain HTTP is dropped by
// closing that connection, without a body and without ending the session, even when the
// body is malformed (SEC: a bad body over plain HTTP cannot end a TLS-born session).
TEST_F(routing, tls_session_refuses_plain_http_requests)
{
    gateway_options o;
    o.listen_extra = "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\ntls_cert = \"" + cert_path("xmpp_test.pem") +
                     "\"\ntls_key = \"" + cert_path("xmpp_test.key") + "\"\n";
    start(o);
    fake->add(open_session_script());
    https_client secure(gw.port(1));
    auto created = secure.post(create_body(1));
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;

    const auto dropped_before = metric(admin_port(), "bosh_insecure_request_dropped");
    http_client plain(port());
    plain.send(req_body(*sid, 2));
    boost::system::error_code ec;
    auto r = plain.read(ec);
    EXPECT_TRUE(ec) << "answered over plain HTTP: " << r.status << " " << r.body;
    EXPECT_EQ(metric(admin_port(), "bosh_insecure_request_dropped"), dropped_before + 1);

    // A malformed body for it over plain HTTP cannot end it either (bad-request would):
    // dropped the same way.
    http_client plain_bad(port());
    plain_bad.send(req_body(*sid, 2, {}, "wait='not-a-number'"));
    auto rb = plain_bad.read(ec);
    EXPECT_TRUE(ec) << "answered over plain HTTP: " << rb.status << " " << rb.body;
    EXPECT_EQ(metric(admin_port(), "bosh_insecure_request_dropped"), dropped_before + 2);

    // The same rid over HTTPS is processed normally.
    auto term = secure.post(terminate_req(*sid, 2));
    EXPECT_EQ(term.status, 200u);
    EXPECT_TRUE(is_terminate(term.body, "")) << term.body;
}

} // namespace
} // namespace boshgate::itest
