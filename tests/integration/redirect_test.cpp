// C2S-SOH-1..3: a server's <see-other-host/> before the client has seen the stream is
// followed by the gateway (same domain, TLS and identity rules, bounded hops); otherwise the
// stream error reaches the client as any other.
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using redirects = gateway_test;

/// STARTTLS, then the protected stream's header and a see-other-host naming `target`.
script& redirect_after_tls(script& s, const std::string& target)
{
    return starttls_prefix(s)
        .send(fake_upstream_server::header("moved") +
              "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" + target +
              "</see-other-host></stream:error></stream:stream>")
        .read_until_eof();
}

// C2S-SOH-1: followed after TLS; the client sees only the new server's stream (its features;
// no trace of the redirecting one), and the session works on the new link.
TEST_F(redirects, see_other_host_before_the_client_saw_anything_is_followed)
{
    start();
    const auto before = metric(admin_port(), "upstream_redirects_followed");
    const std::string target = "127.0.0.1:" + std::to_string(fake->port());
    script first;
    redirect_after_tls(first, target);
    fake->add(std::move(first));
    script second;
    tls_prefix(second).expect("after-redirect").read_until_eof();
    fake->add(std::move(second));

    auto r = post(create_body(1));
    ASSERT_EQ(r.status, 200u);
    const auto sid = body_attr(r.body, "sid");
    ASSERT_TRUE(sid.has_value()) << r.body;
    EXPECT_NE(r.body.find("<mechanisms"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("see-other-host"), std::string::npos) << r.body;
    http_client held(port(), 15s);
    held.send(req_body(*sid, 2, chat("after-redirect")));
    EXPECT_TRUE(fake->wait_received(1, "after-redirect"));
    EXPECT_EQ(metric(admin_port(), "upstream_redirects_followed"), before + 1);
    // Both links were verified TLS to xmpp.test.
    EXPECT_EQ(fake->log(0).sni, "xmpp.test");
    EXPECT_EQ(fake->log(1).sni, "xmpp.test");
}

// C2S-SOH-2: bounded: with max_redirects = 1 the second redirect is relayed like any stream
// error (BOSH remote-stream-error carrying it).
TEST_F(redirects, hops_are_bounded_then_relayed)
{
    gateway_options o;
    o.upstream_extra = "max_redirects = 1\n";
    start(o);
    const auto before = metric(admin_port(), "upstream_redirects_followed");
    const std::string target = "127.0.0.1:" + std::to_string(fake->port());
    for (int i = 0; i < 2; ++i) {
        script s;
        redirect_after_tls(s, target);
        fake->add(std::move(s));
    }
    auto r = post(create_body(1));
    EXPECT_TRUE(is_terminate(r.body, "remote-stream-error")) << r.body;
    EXPECT_NE(r.body.find("see-other-host"), std::string::npos) << r.body;
    EXPECT_EQ(metric(admin_port(), "upstream_redirects_followed"), before + 1);
    EXPECT_EQ(fake->connection_count(), 2u);
}

// C2S-SOH-3: a target that is no host[:port] is not followed: relayed.
TEST_F(redirects, malformed_target_is_relayed)
{
    start();
    const auto before = metric(admin_port(), "upstream_redirects_followed");
    script s;
    redirect_after_tls(s, "not a host:99999");
    fake->add(std::move(s));
    auto r = post(create_body(1));
    EXPECT_TRUE(is_terminate(r.body, "remote-stream-error")) << r.body;
    EXPECT_EQ(metric(admin_port(), "upstream_redirects_followed"), before);
}

} // namespace
} // namespace boshgate::itest
