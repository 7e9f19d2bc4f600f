// Upstream failure modes seen through the gateway: bad certificate, refused connection,
// stalled negotiation, reset mid-stanza, stream errors, clean server close, restricted XML,
// pre-TLS stream errors (SEC-TLS-1), the upstream circuit breaker.
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using upstream_failures = gateway_test;

constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";

// C2S-TLS-4, BOSH-COND-9: STARTTLS with a certificate for another name.
TEST_F(upstream_failures, bad_certificate_is_remote_connection_failed)
{
    start({}, {.cert = "other"});
    script s;
    s.expect_header()
        .send(fake_upstream_server::header("s1") + fake_upstream_server::features_starttls())
        .expect("<starttls")
        .expect(">")
        .send(fake_upstream_server::proceed())
        .start_tls()
        .read_until_eof();
    fake->add(std::move(s));

    auto r = post(create_body(1));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_FALSE(body_attr(r.body, "sid").has_value()) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_FALSE(log.tls);
    EXPECT_TRUE(log.tls_failed) << log.error;
}

// C2S-TLS-4: the same certificate trouble with direct TLS (XEP-0368) on a static target.
TEST_F(upstream_failures, bad_certificate_on_direct_tls_is_remote_connection_failed)
{
    gateway_options o;
    o.domain_extra = "direct_tls = true\n";
    start(o, {.cert = "other", .direct_tls = true});
    fake->add(script{}.read_until_eof());

    auto r = post(create_body(1));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_TRUE(fake->log(0).tls_failed);
    EXPECT_EQ(fake->log(0).received, "");
}

// BOSH-COND-9: nothing listens on the configured port.
TEST_F(upstream_failures, connection_refused_is_remote_connection_failed)
{
    gateway_options o;
    o.upstream_port = closed_port();
    gw.start(gateway_toml(o));

    auto r = post(create_body(1));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_EQ(metric(admin_port(), "bosh_sessions_active"), 0);
}

// Upstream stall (header, never features), negotiate_timeout < wait: the creation request
// is answered remote-connection-failed when negotiate_timeout fires (documented outcome:
// the negotiator fails the stream, protocol_error maps to remote-connection-failed); the
// stalled link is closed. A second session on the same gateway is unaffected.
TEST_F(upstream_failures, stall_before_features_fails_at_negotiate_timeout)
{
    gateway_options o;
    o.max_wait = "20s";
    o.negotiate_timeout = "1500ms";
    start(o);
    fake->add(script{}.expect_header().send(fake_upstream_server::header("stall")).read_until_eof());

    http_client stalled(port(), 15s);
    const auto t0 = std::chrono::steady_clock::now();
    stalled.send(create_body(1, domain, {}, 20));
    ASSERT_TRUE(fake->wait_received(0, "<stream:stream"));

    // Meanwhile a normal session logs in and exchanges a stanza.
    script ok;
    tls_prefix(ok).expect("ping-2").send(server_message("pong-2")).read_until_eof();
    fake->add(std::move(ok));
    const std::string sid = create_session(100);
    ASSERT_FALSE(sid.empty());
    auto ex = post(req_body(sid, 101, "<message xmlns='jabber:client' to='x@xmpp.test'><body>ping-2</body></message>"));
    EXPECT_NE(ex.body.find("pong-2"), std::string::npos) << ex.body;

    // The stalled creation: released well before its 20 s wait.
    auto r = stalled.read();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_TRUE(fake->log(0).peer_closed);

    // The other session is still alive.
    auto t = post(terminate_req(sid, 102));
    EXPECT_TRUE(is_terminate(t.body, "")) << t.body;
}

// Upstream stall, wait < negotiate_timeout: the creation request is answered at wait expiry
// as a normal creation response without features (session usable, BOSH-RESP-12 "creation
// hold"); the next held request then gets remote-connection-failed at negotiate_timeout.
TEST_F(upstream_failures, stall_before_features_answers_creation_at_wait)
{
    gateway_options o;
    o.negotiate_timeout = "3s";
    start(o);
    fake->add(script{}.expect_header().send(fake_upstream_server::header("stall")).read_until_eof());

    auto created = post(create_body(1, domain, {}, /*wait=*/1));
    ASSERT_EQ(created.status, 200u);
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;
    EXPECT_EQ(created.body.find("features"), std::string::npos) << created.body;
    EXPECT_FALSE(body_attr(created.body, "type").has_value()) << created.body;

    // Polls every `wait` (1 s) until the negotiation timeout ends the session.
    std::string last;
    std::uint64_t rid = 2;
    ASSERT_TRUE(eventually(
        [&] {
            auto r = post(req_body(*sid, rid++));
            last = r.body;
            return body_attr(r.body, "type") == "terminate";
        },
        15s))
        << last;
    EXPECT_TRUE(is_terminate(last, "remote-connection-failed")) << last;
    EXPECT_LE(rid, 12u); // a few polls of 1 s, not the 15 s limit
}

// BOSH-TERM-6: the server resets the TCP connection in the middle of a stanza.
TEST_F(upstream_failures, reset_mid_stanza_fails_held_request)
{
    start();
    script s;
    tls_prefix(s).expect("go-reset").send("<message from='bob@xmpp.test'><body>partial").reset();
    fake->add(std::move(s));
    const std::string sid = create_session(1);
    ASSERT_FALSE(sid.empty());

    auto r = post(req_body(sid, 2, "<message xmlns='jabber:client' to='bob@xmpp.test'><body>go-reset</body></message>"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_EQ(r.body.find("partial"), std::string::npos) << r.body;

    auto later = post(req_body(sid, 3));
    EXPECT_TRUE(is_terminate(later.body, "item-not-found")) << later.body;
}

// XBOSH-9, BOSH-TERM-7, BOSH-COND-10, C2S-ERR-1: a message then a stream error while no
// request is held (polling session) => one terminate body: the message, then the whole
// <stream:error/>, xmlns:stream declared; the gateway answers with its closing tag.
TEST_F(upstream_failures, stream_error_after_message_is_one_terminate_body)
{
    start();
    const std::string error = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                              "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text>"
                              "</stream:error>";
    script s;
    tls_prefix(s).expect("go-error").send(server_message("before-error") + error).read_until_eof();
    fake->add(std::move(s));

    // hold=0: every request is answered at once, so the server's output queues up.
    auto created = post(create_body(1, domain, {}, 10, /*hold=*/0));
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;
    EXPECT_EQ(body_attr(created.body, "hold"), "0");
    // Wait for the features to reach the gateway (the server read nothing more yet).
    ASSERT_TRUE(fake->wait_for(0, [](const auto& l) { return l.tls; }));
    auto go = post(req_body(*sid, 2, "<message xmlns='jabber:client' to='bob@xmpp.test'><body>go-error</body></message>"));
    EXPECT_EQ(go.status, 200u);
    // The gateway has processed the error once it reciprocates with its closing tag.
    ASSERT_TRUE(fake->wait_for(0, [](const auto& l) { return l.closing_tag_at != std::string::npos; }));

    std::string body = go.body;
    if (body.find("<stream:error") == std::string::npos) {
        body = post(req_body(*sid, 3)).body;
    }
    EXPECT_TRUE(is_terminate(body, "remote-stream-error")) << body;
    EXPECT_EQ(body_attr(body, "xmlns:stream"), std::string(ns_streams)) << body;
    auto msg_at = body.find("before-error");
    auto err_at = body.find("<stream:error");
    ASSERT_NE(msg_at, std::string::npos) << body;
    ASSERT_NE(err_at, std::string::npos) << body;
    EXPECT_LT(msg_at, err_at);
    EXPECT_NE(body.find("<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), std::string::npos) << body;
    EXPECT_NE(body.find("Replaced by new connection</text></stream:error>"), std::string::npos) << body;
    EXPECT_EQ(count(body, "before-error"), 1u);
    ASSERT_TRUE(fake->wait_done(0));
}

// BOSH-TERM-5, GAP-7: a clean server close answers the held request with type='terminate'
// and no condition; the gateway reciprocates the closing tag.
TEST_F(upstream_failures, clean_server_close_is_terminate_without_condition)
{
    start();
    script s;
    tls_prefix(s).expect("go-close").send("</stream:stream>").read_until_eof();
    fake->add(std::move(s));
    const std::string sid = create_session(1);
    ASSERT_FALSE(sid.empty());

    auto r = post(req_body(sid, 2, "<presence xmlns='jabber:client'><status>go-close</status></presence>"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "")) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_NE(log.closing_tag_at, std::string::npos) << log.received;
    EXPECT_TRUE(log.peer_closed);
}

// C2S-XML-1: a comment from the server is restricted XML: the gateway sends
// <restricted-xml/> upstream and the held request ends with remote-connection-failed.
TEST_F(upstream_failures, server_comment_is_restricted_xml)
{
    start();
    script s;
    tls_prefix(s).expect("go-comment").send("<!-- not allowed -->").read_until_eof();
    fake->add(std::move(s));
    const std::string sid = create_session(1);
    ASSERT_FALSE(sid.empty());

    auto r = post(req_body(sid, 2, "<message xmlns='jabber:client' to='b@xmpp.test'><body>go-comment</body></message>"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_NE(log.received.find("<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), std::string::npos)
        << log.received;
    EXPECT_NE(log.closing_tag_at, std::string::npos);
}

// C2S-XML-1 / RFC 6120 §4.9.3.13: garbage bytes from the server are not-well-formed.
TEST_F(upstream_failures, server_garbage_is_not_well_formed)
{
    start();
    script s;
    tls_prefix(s).expect("go-garbage").send("<<<\x01 garbage &&&").read_until_eof();
    fake->add(std::move(s));
    const std::string sid = create_session(1);
    ASSERT_FALSE(sid.empty());

    auto r = post(req_body(sid, 2, "<message xmlns='jabber:client' to='b@xmpp.test'><body>go-garbage</body></message>"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_EQ(r.body.find("garbage"), std::string::npos) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_NE(log.received.find("<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), std::string::npos)
        << log.received;
}

// SEC-TLS-1 C2S-ERR-2: with tls = "required", a stream error sent before STARTTLS (by the
// server or anyone on the path) is not relayed: the client gets remote-connection-failed and
// no <stream:error/>; the gateway closes its side.
TEST_F(upstream_failures, pre_tls_stream_error_is_not_relayed)
{
    start();
    script s;
    s.expect_header()
        .send(fake_upstream_server::header("s1") + fake_upstream_server::stream_error("host-unknown") +
              "</stream:stream>")
        .read_until_eof();
    fake->add(std::move(s));

    auto r = post(create_body(1));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    EXPECT_EQ(r.body.find("stream:error"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("host-unknown"), std::string::npos) << r.body;
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_NE(fake->log(0).closing_tag_at, std::string::npos);
}

// Upstream protection: a server that keeps failing (here: accepts and closes at once) trips
// the domain's circuit breaker after limits.breaker_failures failed connects; the next BOSH
// creation is answered remote-connection-failed without any TCP connection, and counted.
// After breaker_open (200 ms) one probe goes through; its success closes the breaker.
TEST_F(upstream_failures, breaker_refuses_without_dialling_then_recovers)
{
    gateway_options o;
    // Per-address admission off: this test creates many sessions from 127.0.0.1.
    o.tail = "[limits]\nbreaker_failures = 2\nbreaker_open = \"200ms\"\n"
             "session_rate_per_address = 0\nmax_sessions_per_address = 0\n";
    start(o); // no script queued: the fake server closes every connection at once

    std::uint64_t rid = 1;
    for (int i = 0; i < 2; ++i) {
        auto r = post(create_body(rid++));
        EXPECT_TRUE(is_terminate(r.body, "remote-connection-failed")) << r.body;
    }
    ASSERT_EQ(fake->connection_count(), 2u);

    const auto refused_before = metric(admin_port(), "upstream_breaker_refused");
    ASSERT_GE(refused_before, 0);
    auto refused = post(create_body(rid++));
    EXPECT_TRUE(is_terminate(refused.body, "remote-connection-failed")) << refused.body;
    EXPECT_FALSE(body_attr(refused.body, "sid").has_value()) << refused.body;
    // Had the gateway dialled, its failure would have needed the fake server's accept first.
    EXPECT_EQ(fake->connection_count(), 2u);
    EXPECT_GE(metric(admin_port(), "upstream_breaker_refused"), refused_before + 1);

    // Recovery: once the open period has passed, the probe reaches a healthy server.
    fake->add(open_session_script());
    std::string last;
    ASSERT_TRUE(eventually(
        [&] {
            auto r = post(create_body(rid++));
            last = r.body;
            return body_attr(r.body, "sid").has_value();
        },
        10s))
        << last;
    EXPECT_EQ(fake->connection_count(), 3u); // exactly one probe was dialled
    EXPECT_TRUE(fake->wait_for(2, [](const auto& l) { return l.tls; }));
}

} // namespace
} // namespace boshgate::itest
