// C2S-KA-1 through the real adapter: with upstream.whitespace_keepalive the gateway writes one
// space to an idle, authenticated server stream, and nothing before authentication.
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using keepalive = gateway_test;

// C2S-KA-1: after SASL and the restart, an idle link gets a space every 5 s; the idle time
// before authentication (here longer than the interval) got none.
TEST_F(keepalive, whitespace_to_an_idle_authenticated_stream)
{
    gateway_options o;
    o.upstream_extra = "whitespace_keepalive = \"5s\"\n";
    start(o);
    script s;
    tls_prefix(s)
        .expect("</auth>")
        .send(fake_upstream_server::sasl_success())
        .expect_header()
        .send(fake_upstream_server::header("s3") + fake_upstream_server::features_bind())
        .read_until_eof();
    fake->add(std::move(s));

    const std::string sid = create_session(1000);
    ASSERT_FALSE(sid.empty());
    std::this_thread::sleep_for(6s); // idle before authentication: no keepalive
    const auto before_auth = fake->log(0).received;
    auto auth = post(req_body(sid, 1001,
                              "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                              "AGFsaWNlAHNlY3JldA==</auth>"));
    ASSERT_NE(auth.body.find("<success"), std::string::npos) << auth.body;
    auto restarted = post(restart_body(sid, 1002));
    ASSERT_NE(restarted.body.find("<bind"), std::string::npos) << restarted.body;
    const auto header_end = fake->log(0).received.size();

    ASSERT_TRUE(eventually([&] { return metric(admin_port(), "upstream_keepalives_sent") >= 1; }, 8s));
    const auto got = fake->log(0).received;
    // Before authentication the stream held only the header(s) and <starttls/>: no bare space
    // after the last '>'.
    EXPECT_NE(before_auth.back(), ' ') << before_auth;
    // After the restart header: spaces only.
    const auto tail = got.substr(header_end);
    EXPECT_FALSE(tail.empty());
    EXPECT_EQ(tail.find_first_not_of(' '), std::string::npos) << "[" << tail << "]";
}

} // namespace
} // namespace boshgate::itest
