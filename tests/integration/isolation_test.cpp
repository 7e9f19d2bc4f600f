// One session's trouble stays its own; graceful stop tells held requests why.
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using isolation = gateway_test;
using shutdown = gateway_test;

// BOSH-COND-1, BOSH-COND-8, BOSH-RID-2, BOSH-COND-5 (gateway keeps serving): while session B
// is abused (garbage, oversize body, out-of-window rid) session A keeps exchanging messages
// on one keep-alive connection between the abuses.
TEST_F(isolation, abuse_of_one_session_leaves_another_untouched)
{
    gateway_options o;
    o.http_extra = "max_body_bytes = 2048\n";
    start(o);
    script a;
    tls_prefix(a)
        .expect("a-1")
        .send(server_message("reply-1"))
        .expect("a-2")
        .send(server_message("reply-2"))
        .expect("a-3")
        .send(server_message("reply-3"))
        .read_until_eof();
    fake->add(std::move(a));
    fake->add(open_session_script());
    const std::string sid_a = create_session(100);
    const std::string sid_b = create_session(500);
    ASSERT_FALSE(sid_a.empty());
    ASSERT_FALSE(sid_b.empty());

    http_client held(port());
    std::uint64_t rid_a = 101;
    auto exchange = [&](std::string_view text, std::string_view reply) {
        // The request with the message is held until the server's reply arrives.
        held.send(req_body(sid_a, rid_a++, chat(text)));
        ASSERT_TRUE(fake->wait_received(0, text));
        auto r = held.read();
        EXPECT_EQ(r.status, 200u);
        EXPECT_NE(r.body.find(reply), std::string::npos) << r.body;
    };

    // Garbage, with B's sid in it: not an httpbind body, so no session can be blamed.
    auto garbage = post("<<garbage sid='" + sid_b + "'");
    EXPECT_TRUE(is_terminate(garbage.body, "bad-request")) << garbage.body;
    exchange("a-1", "reply-1");

    // Oversize body naming B: refused at the HTTP layer, connection closed.
    {
        http_client big(port());
        big.send(req_body(sid_b, 501, "<message xmlns='jabber:client'><body>" + std::string(4000, 'x') +
                                            "</body></message>"));
        auto r = big.read();
        EXPECT_TRUE(is_terminate(r.body, "policy-violation")) << r.body;
        EXPECT_TRUE(big.closed_by_peer());
    }
    exchange("a-2", "reply-2");

    // Out-of-window rid for B: B ends with item-not-found, its upstream is closed.
    auto oow = post(req_body(sid_b, 100000));
    EXPECT_TRUE(is_terminate(oow.body, "item-not-found")) << oow.body;
    ASSERT_TRUE(fake->wait_for(1, [](const auto& l) { return l.closing_tag_at != std::string::npos; }));
    exchange("a-3", "reply-3");

    // A is intact, B is gone; A's upstream saw no closing tag.
    EXPECT_EQ(fake->log(0).closing_tag_at, std::string::npos);
    EXPECT_TRUE(is_terminate(post(req_body(sid_b, 502)).body, "item-not-found"));
    auto t = post(terminate_req(sid_a, rid_a));
    EXPECT_TRUE(is_terminate(t.body, "")) << t.body;
}

// XBOSH-12, GAP-9, SM-3, BOSH-INACT-1: a client that vanishes (no request for
// `inactivity`) loses its session; the server stream is dropped without a closing tag so the
// server may keep an XEP-0198 session; later requests get item-not-found.
TEST_F(isolation, abandoned_session_drops_upstream_without_closing_tag)
{
    gateway_options o;
    o.bosh_extra = "inactivity = \"5s\"\n";
    start(o);
    fake->add(open_session_script());
    auto created = post(create_body(1, domain, {}, /*wait=*/1));
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;
    EXPECT_EQ(body_attr(created.body, "inactivity"), "5");

    ASSERT_TRUE(fake->wait_done(0, 20s));
    auto log = fake->log(0);
    EXPECT_TRUE(log.peer_closed);
    EXPECT_EQ(log.closing_tag_at, std::string::npos) << log.received;
    EXPECT_FALSE(log.close_notify);
    EXPECT_TRUE(is_terminate(post(req_body(*sid, 2)).body, "item-not-found"));
}

// BOSH-COND-12: a graceful stop answers a held request with system-shutdown and closes the
// server stream cleanly; the listener stops accepting.
TEST_F(shutdown, held_request_gets_system_shutdown)
{
    start();
    // Once the server has the payload, the request is held by the session.
    const auto held = hold_request("held-marker");
    ASSERT_TRUE(held);
    const auto gw_port = port();
    gw.begin_stop();
    auto r = held->read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "system-shutdown")) << r.body;
    ASSERT_TRUE(fake->wait_for(0, [](const auto& l) { return l.closing_tag_at != std::string::npos; }));
    gw.stop();
    EXPECT_TRUE(fake->wait_done(0));
    EXPECT_TRUE(fake->log(0).peer_closed);
    // Nothing listens any more.
    EXPECT_THROW(http_client{gw_port}, boost::system::system_error);
}

} // namespace
} // namespace boshgate::itest
