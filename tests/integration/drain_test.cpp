// Drain (issue 11, rolling upgrades): SIGUSR2 or the admin listener's POST /drain makes the
// instance not-ready, refuses new BOSH sessions and WebSocket upgrades with HTTP 503 +
// Retry-After (what a load balancer retries on another instance), keeps serving the open
// sessions, and exits 0 by itself once the last one has ended, or at server.drain_timeout
// after ending what is left with system-shutdown.
#include "integration/harness.hpp"

#include <csignal>

namespace boshgate::itest {
namespace {

using drain = gateway_test;
using test::bhttp::verb;

http_reply admin_request(std::uint16_t port, std::string target, verb method,
                         std::initializer_list<std::pair<std::string, std::string>> extra = {})
{
    http_client c(port);
    c.send({}, std::move(target), method, 11, extra);
    return c.read();
}

std::string ws_upgrade()
{
    return "GET /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: xmpp\r\n\r\n";
}

TEST_F(drain, refuses_new_sessions_serves_the_open_one_and_exits_when_it_ends)
{
    start();
    script s;
    tls_prefix(s).expect("before-drain").expect("during-drain").read_until_eof();
    fake->add(std::move(s));
    const std::string sid = create_session(1);
    ASSERT_FALSE(sid.empty());
    http_client held(port(), 15s);
    held.send(req_body(sid, 2, chat("before-drain")));
    ASSERT_TRUE(fake->wait_received(0, "before-drain"));
    EXPECT_EQ(admin_request(admin_port(), "/readyz", verb::get).status, 200u);
    const auto refused_before = metric(admin_port(), "drain_refused_sessions");

    const auto d = admin_request(admin_port(), "/drain", verb::post);
    EXPECT_EQ(d.status, 202u);
    EXPECT_NE(d.body.find("draining: 1 BOSH and 0 WebSocket sessions open"), std::string::npos) << d.body;
    EXPECT_NE(d.body.find("server.drain_timeout"), std::string::npos) << d.body;
    const auto ready = admin_request(admin_port(), "/readyz", verb::get);
    EXPECT_EQ(ready.status, 503u);
    EXPECT_EQ(metric(admin_port(), "draining"), 1);

    // A new BOSH session: 503 with Retry-After, no session (a balancer retries elsewhere).
    const auto creation = post(create_body(1));
    EXPECT_EQ(creation.status, 503u) << creation.body;
    EXPECT_EQ(creation.header("Retry-After"), "1");
    EXPECT_NE(creation.body.find("draining"), std::string::npos) << creation.body;
    EXPECT_EQ(creation.body.find("<body"), std::string::npos) << creation.body;
    // A WebSocket upgrade: the same, before any WebSocket exists.
    http_client ws(port());
    ws.send_raw(ws_upgrade());
    const auto upgrade = ws.read();
    EXPECT_EQ(upgrade.status, 503u) << upgrade.body;
    EXPECT_EQ(upgrade.header("Retry-After"), "1");
    EXPECT_EQ(metric(admin_port(), "drain_refused_sessions"), refused_before + 2);
    EXPECT_EQ(fake->connection_count(), 1u) << "a refused creation reached the server";

    // The open session carries on both ways: its next request releases the held one and
    // its payload reaches the server.
    http_client next(port(), 15s);
    next.send(req_body(sid, 3, chat("during-drain")));
    const auto released = held.read();
    EXPECT_EQ(released.status, 200u);
    EXPECT_EQ(body_start_tag(released.body).find("terminate"), std::string::npos) << released.body;
    ASSERT_TRUE(fake->wait_received(0, "during-drain"));
    const auto again = admin_request(admin_port(), "/drain", verb::post);
    EXPECT_EQ(again.status, 202u);
    EXPECT_NE(again.body.find("draining already"), std::string::npos) << again.body;
    EXPECT_FALSE(gw.exited()) << "exited with a session still open";

    // The client ends its session: nothing is left, the process exits by itself, status 0.
    http_client end(port(), 15s);
    end.send(terminate_req(sid, 4));
    EXPECT_EQ(next.read().status, 200u);
    const auto ended = end.read();
    EXPECT_EQ(ended.status, 200u);
    EXPECT_NE(body_start_tag(ended.body).find("type='terminate'"), std::string::npos) << ended.body;
    EXPECT_EQ(body_start_tag(ended.body).find("condition="), std::string::npos) << ended.body;
    EXPECT_TRUE(gw.wait_exited(10s)) << "still running after its last session ended";
    EXPECT_EQ(gw.exit_code(), 0);
}

TEST_F(drain, deadline_ends_the_sessions_left_with_system_shutdown)
{
    gateway_options o;
    o.server_extra = "drain_timeout = \"1s\"\n";
    start(o);
    auto held = hold_request("lingering");
    ASSERT_TRUE(held);
    ASSERT_EQ(::raise(SIGUSR2), 0); // as `kill -USR2 <pid>` or `systemctl kill -s USR2`
    EXPECT_TRUE(eventually([&] { return admin_request(admin_port(), "/readyz", verb::get).status == 503u; }));
    EXPECT_FALSE(gw.exited());
    const auto r = held->read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(body_start_tag(r.body).find("condition='system-shutdown'"), std::string::npos) << r.body;
    EXPECT_TRUE(gw.wait_exited(10s));
    EXPECT_EQ(gw.exit_code(), 0);
}

TEST_F(drain, endpoint_takes_post_only_and_never_from_a_browser_page)
{
    start();
    const auto get = admin_request(admin_port(), "/drain", verb::get);
    EXPECT_EQ(get.status, 405u);
    EXPECT_EQ(get.header("Allow"), "POST");
    // A page on this host could POST a form to the loopback admin port: browsers send
    // Origin with it, and that is refused.
    const auto page = admin_request(admin_port(), "/drain", verb::post, {{"Origin", "http://127.0.0.1:8080"}});
    EXPECT_EQ(page.status, 403u);
    EXPECT_EQ(admin_request(admin_port(), "/readyz", verb::get).status, 200u);
    EXPECT_EQ(metric(admin_port(), "draining"), 0);
    // Sessions are still created.
    script s;
    tls_prefix(s).read_until_eof();
    fake->add(std::move(s));
    EXPECT_FALSE(create_session(1).empty());
}

} // namespace
} // namespace boshgate::itest
