// The admin listener: /metrics, /healthz, /readyz (503 while draining), /status and
// /status.json with live figures, its allow-list, and its read-only, self-contained answers.
#include "integration/harness.hpp"

#include <boost/json.hpp>

namespace boshgate::itest {
namespace {

using admin_listener = gateway_test;
using test::bhttp::verb;
namespace json = boost::json;

http_reply admin_get(std::uint16_t port, std::string target, verb method = verb::get)
{
    http_client c(port);
    c.send({}, std::move(target), method);
    return c.read();
}

json::object status(std::uint16_t port)
{
    auto r = admin_get(port, "/status.json");
    EXPECT_EQ(r.status, 200u);
    return json::parse(r.body).as_object();
}

TEST_F(admin_listener, serves_metrics_health_readiness_and_the_status_page)
{
    start();
    ASSERT_NE(admin_port(), 0);
    ASSERT_NE(admin_port(), port());

    auto m = admin_get(admin_port(), "/metrics");
    EXPECT_EQ(m.status, 200u);
    EXPECT_NE(m.header("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(m.body.find("\nboshgate_bosh_sessions_active "), std::string::npos) << m.body;
    EXPECT_NE(m.body.find("# TYPE boshgate_relay_latency_seconds histogram"), std::string::npos);

    auto h = admin_get(admin_port(), "/healthz");
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.body, "ok\n");
    auto ready = admin_get(admin_port(), "/readyz");
    EXPECT_EQ(ready.status, 200u);
    EXPECT_EQ(ready.body, "ready\n");

    auto page = admin_get(admin_port(), "/status");
    EXPECT_EQ(page.status, 200u);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(page.header("Cache-Control"), "no-store");
    EXPECT_NE(page.body.find("status.json"), std::string::npos);

    // HEAD: the GET's Content-Length, no body.
    raw_conn head(admin_port());
    head.send("HEAD /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto h_bytes = head.read_until_closed(10s).bytes;
    EXPECT_EQ(h_bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << h_bytes;
    EXPECT_NE(h_bytes.find("Content-Length: " + std::to_string(page.body.size()) + "\r\n"), std::string::npos)
        << h_bytes;
    EXPECT_EQ(h_bytes.size(), h_bytes.find("\r\n\r\n") + 4) << h_bytes;

    const auto doc = status(admin_port());
    EXPECT_TRUE(doc.at("ready").as_bool());
    EXPECT_EQ(doc.at("config").at("bosh_path").as_string(), "/http-bind");
    EXPECT_TRUE(doc.contains("history"));

    auto post = admin_get(admin_port(), "/metrics", verb::post);
    EXPECT_EQ(post.status, 405u);
    EXPECT_EQ(post.header("Allow"), "GET, HEAD");
    EXPECT_EQ(admin_get(admin_port(), "/http-bind").status, 404u);
    auto root = admin_get(admin_port(), "/");
    EXPECT_EQ(root.status, 302u);
    EXPECT_EQ(root.header("Location"), "/status");
}

// The figures the page shows move with real traffic: a BOSH session counted by transport and
// by upstream domain, its connect recorded, its element relayed and timed.
TEST_F(admin_listener, status_json_follows_live_sessions)
{
    start();
    const auto before = status(admin_port());
    const auto elements_before = before.at("now").at("counters").at("elements_to_server").as_int64();
    const auto held = hold_request("admin-marker");
    ASSERT_TRUE(held);

    const auto doc = status(admin_port());
    const auto& now = doc.at("now");
    EXPECT_GE(now.at("sessions").at("bosh").as_int64(), 1);
    EXPECT_GE(now.at("counters").at("elements_to_server").as_int64(), elements_before + 1);
    bool found = false;
    for (const auto& d : now.at("domains").as_array()) {
        if (d.at("domain").as_string() == "xmpp.test") {
            found = true;
            EXPECT_GE(d.at("sessions").as_int64(), 1);
            EXPECT_GE(d.at("connects").as_int64(), 1);
            EXPECT_TRUE(d.at("connect_ms_avg").is_double());
        }
    }
    EXPECT_TRUE(found) << json::serialize(now);
    std::int64_t timed = 0;
    for (const auto& c : now.at("relay_latency").at("to_server").as_array()) {
        timed += c.as_int64();
    }
    EXPECT_GE(timed, 1);
    EXPECT_GE(metric(admin_port(), "bytes_to_servers"), 1);
}

// Only the networks in admin.allow get an answer; others get 403 and the connection closes.
TEST_F(admin_listener, allow_list_refuses_other_peers)
{
    gateway_options o;
    o.admin_extra = "allow = [\"127.0.0.2/32\"]\n";
    start(o);
    raw_conn refused(admin_port()); // from 127.0.0.1
    refused.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto r = refused.read_until_closed(10s);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.bytes.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << r.bytes;
    EXPECT_EQ(r.bytes.find("boshgate_"), std::string::npos);

    raw_conn allowed(admin_port(), "127.0.0.2");
    allowed.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto a = allowed.read_until_closed(10s);
    EXPECT_EQ(a.bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << a.bytes;
}

// While draining (SIGTERM), /readyz says 503 so a balancer stops sending new sessions; the
// admin listener stays up until the process exits.
TEST_F(admin_listener, readyz_is_503_while_draining)
{
    start();
    // The server never answers the closing tag: the drain lasts close_timeout (1 s).
    const auto held = hold_request("drain-marker");
    ASSERT_TRUE(held);
    const auto admin = admin_port();
    gw.begin_stop();
    ASSERT_TRUE(eventually([&] { return admin_get(admin, "/readyz").status == 503u; }, 3s));
    const auto doc = status(admin);
    EXPECT_FALSE(doc.at("ready").as_bool());
    EXPECT_EQ(admin_get(admin, "/healthz").status, 200u);
    auto r = held->read();
    EXPECT_TRUE(is_terminate(r.body, "system-shutdown")) << r.body;
}

} // namespace
} // namespace boshgate::itest
