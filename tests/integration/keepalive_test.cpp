// C2S-KA-1 through the real adapter: with upstream.whitespace_keepalive the gateway writes one
// space to an idle, authenticated server stream, and nothing before authentication.
// C2S-PING-1..3: with upstream.ping_interval, a XEP-0199 ping to an idle bound stream; its
// answer never reaches the client; no answer ends the session.
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

class pings : public gateway_test {
protected:
    /// A BOSH session through SASL, the restart and resource binding; the server script
    /// (queued by the caller) must answer the bind with a result. Returns the sid; next rid
    /// is 1004.
    std::string bound_session();
};

std::string pings::bound_session()
{
    auto& t = *this;
    const std::string sid = t.create_session(1000);
    if (sid.empty()) {
        return sid;
    }
    auto auth = t.post(req_body(sid, 1001,
                                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                                "AGFsaWNlAHNlY3JldA==</auth>"));
    EXPECT_NE(auth.body.find("<success"), std::string::npos) << auth.body;
    t.post(restart_body(sid, 1002));
    auto bound = t.post(req_body(sid, 1003,
                                 "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"));
    EXPECT_NE(bound.body.find("<jid>"), std::string::npos) << bound.body;
    return sid;
}

script& through_bind(script& s)
{
    return tls_prefix(s)
        .expect("</auth>")
        .send(fake_upstream_server::sasl_success())
        .expect_header()
        .send(fake_upstream_server::header("s3") + fake_upstream_server::features_bind())
        .expect("</iq>")
        .send("<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              "<jid>alice@xmpp.test/r</jid></bind></iq>");
}

// C2S-PING-1, C2S-PING-2: an idle bound stream gets a ping after ping_interval; the answer is
// consumed (a request held meanwhile returns empty at its wait, not with the pong) and the
// session lives on.
TEST_F(pings, answered_ping_is_consumed)
{
    gateway_options o;
    o.max_wait = "9s";
    o.upstream_extra = "ping_interval = \"5s\"\nping_timeout = \"3s\"\n";
    start(o);
    script s;
    through_bind(s).answer_ping().read_until_eof();
    fake->add(std::move(s));
    const std::string sid = bound_session();
    ASSERT_FALSE(sid.empty());
    http_client held(port(), 15s);
    held.send(req_body(sid, 1004));
    ASSERT_TRUE(eventually([&] { return metric(admin_port(), "upstream_pings_sent") >= 1; }, 8s));
    const auto r = held.read(); // at the 9 s wait: nothing for the client
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body.find("<iq"), std::string::npos) << r.body;
    EXPECT_FALSE(body_attr(r.body, "type").has_value()) << r.body; // not a terminate
    EXPECT_NE(fake->log(0).received.find("<ping xmlns='urn:xmpp:ping'/>"), std::string::npos);
    EXPECT_EQ(metric(admin_port(), "upstream_ping_timeouts"), 0);
}

// C2S-PING-3: a server that does not answer within ping_timeout: the session ends with
// remote-connection-failed.
TEST_F(pings, unanswered_ping_ends_the_session)
{
    gateway_options o;
    o.upstream_extra = "ping_interval = \"5s\"\nping_timeout = \"1s\"\n";
    start(o);
    script s;
    through_bind(s).expect("urn:xmpp:ping").read_until_eof();
    fake->add(std::move(s));
    const std::string sid = bound_session();
    ASSERT_FALSE(sid.empty());
    http_client held(port(), 15s);
    held.send(req_body(sid, 1004));
    const auto r = held.read();
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_EQ(metric(admin_port(), "upstream_ping_timeouts"), 1);
}

} // namespace
} // namespace boshgate::itest
