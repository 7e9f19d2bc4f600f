// The admin status document (admin/status.hpp) and the labelled metrics behind it: history
// rates, the JSON the status page reads, the Prometheus histogram and per-domain families.
#include "boshgate/admin/status.hpp"
#include "boshgate/metrics/registry.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>

namespace boshgate::admin {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

sample at(std::int64_t t, std::int64_t logins, std::int64_t bytes_out)
{
    sample s;
    s.t = t;
    s.bosh_sessions = 3;
    s.ws_sessions = 2;
    s.logins = logins;
    s.bytes_to_client = bytes_out;
    return s;
}

TEST(history, first_sample_only_starts_the_series)
{
    history h;
    h.add(at(100, 5, 0));
    EXPECT_TRUE(h.points().empty());
}

TEST(history, rates_are_deltas_over_the_interval)
{
    history h;
    h.add(at(100, 5, 1000));
    h.add(at(102, 9, 5000));
    ASSERT_EQ(h.points().size(), 1u);
    const auto& p = h.points().back();
    EXPECT_EQ(p.t, 102);
    EXPECT_EQ(p.bosh_sessions, 3);
    EXPECT_EQ(p.ws_sessions, 2);
    EXPECT_DOUBLE_EQ(p.logins_per_s, 2.0);
    EXPECT_DOUBLE_EQ(p.bytes_to_client_per_s, 2000.0);
    EXPECT_DOUBLE_EQ(p.refusals_per_s, 0.0);
}

TEST(history, a_clock_step_back_is_skipped_and_a_counter_drop_is_zero)
{
    history h;
    h.add(at(100, 5, 0));
    h.add(at(99, 50, 0)); // wall clock stepped back: ignored, 100 stays the base
    EXPECT_TRUE(h.points().empty());
    h.add(at(104, 1, 0)); // a counter that went down (never expected) counts as no logins
    ASSERT_EQ(h.points().size(), 1u);
    EXPECT_DOUBLE_EQ(h.points().back().logins_per_s, 0.0);
}

TEST(history, is_bounded)
{
    history h(3);
    for (std::int64_t t = 0; t < 10; ++t) {
        h.add(at(t, t, 0));
    }
    ASSERT_EQ(h.points().size(), 3u);
    EXPECT_EQ(h.points().front().t, 7);
    EXPECT_EQ(h.points().back().t, 9);
}

TEST(take_sample, refusals_sum_every_limit_and_upstream_refusal)
{
    metrics::registry r;
    r.limits_refused_connections = 1;
    r.limits_refused_address_connections = 2;
    r.limits_refused_sessions = 3;
    r.limits_refused_address_sessions = 4;
    r.limits_refused_address_rate = 5;
    r.upstream_breaker_refused = 6;
    r.upstream_connecting_refused = 7;
    r.upstream_logins = 11;
    r.bosh_sessions_active = 12;
    const auto s = take_sample(r, 42);
    EXPECT_EQ(s.t, 42);
    EXPECT_EQ(s.refusals, 28);
    EXPECT_EQ(s.logins, 11);
    EXPECT_EQ(s.bosh_sessions, 12);
}

TEST(status_json, carries_what_the_page_shows)
{
    metrics::registry r;
    r.bosh_sessions_active = 4;
    r.ws_sessions_active = 1;
    r.upstream_logins = 9;
    r.elements_to_servers = 20;
    r.elements_to_clients = 30;
    r.limits_refused_address_sessions = 2;
    r.relay_to_server.observe(50us);   // <= 0.1 ms
    r.relay_to_server.observe(3ms);    // <= 5 ms
    r.relay_to_client.observe(2s);     // +Inf
    std::vector<metrics::domain_figures> ds(2);
    ds[0].domain = "a.example";
    ds[0].streams = 3;
    ds[0].connects = 4;
    ds[0].connect_ms_sum = 10;
    ds[1].domain = "b\"<example>";
    ds[1].connect_failures = 1;
    ds[1].last_failure = "connection refused";
    history h;
    h.add(at(100, 0, 0));
    h.add(at(102, 4, 0));
    config::config cfg;
    status_facts f;
    f.version = "1.2.3";
    f.build = "Release";
    f.ready = false;
    f.started = 1000;
    f.now = 1065;
    f.threads = 2;

    const auto doc = json::parse(status_json(f, cfg, r, ds, h)).as_object();
    EXPECT_EQ(doc.at("version").as_string(), "1.2.3");
    EXPECT_FALSE(doc.at("ready").as_bool());
    EXPECT_EQ(doc.at("uptime_s").as_int64(), 65);
    EXPECT_EQ(doc.at("config").at("threads").as_int64(), 2);
    EXPECT_EQ(doc.at("config").at("admin").as_string(), "127.0.0.1:9280");
    const auto& now = doc.at("now");
    EXPECT_EQ(now.at("sessions").at("bosh").as_int64(), 4);
    EXPECT_EQ(now.at("sessions").at("websocket").as_int64(), 1);
    EXPECT_EQ(now.at("counters").at("logins").as_int64(), 9);
    EXPECT_EQ(now.at("counters").at("elements_to_server").as_int64(), 20);
    EXPECT_EQ(now.at("counters").at("elements_to_client").as_int64(), 30);
    EXPECT_EQ(now.at("refusals").at("address_sessions").as_int64(), 2);

    const auto& domains = now.at("domains").as_array();
    ASSERT_EQ(domains.size(), 2u);
    EXPECT_EQ(domains[0].at("domain").as_string(), "a.example");
    EXPECT_EQ(domains[0].at("sessions").as_int64(), 3);
    EXPECT_DOUBLE_EQ(domains[0].at("connect_ms_avg").as_double(), 2.5);
    EXPECT_TRUE(domains[0].at("last_failure").is_null());
    EXPECT_EQ(domains[1].at("domain").as_string(), "b\"<example>"); // escaped by the writer, intact here
    EXPECT_TRUE(domains[1].at("connect_ms_avg").is_null());
    EXPECT_EQ(domains[1].at("last_failure").as_string(), "connection refused");

    const auto& lat = now.at("relay_latency");
    const auto& bounds = lat.at("bounds_ms").as_array();
    const auto& up = lat.at("to_server").as_array();
    ASSERT_EQ(up.size(), bounds.size() + 1);
    EXPECT_EQ(up[0].as_int64(), 1);
    EXPECT_EQ(up[5].as_int64(), 1); // bounds[5] = 5 ms
    EXPECT_DOUBLE_EQ(bounds[5].to_number<double>(), 5.0);
    EXPECT_EQ(lat.at("to_client").as_array().back().as_int64(), 1);

    const auto& hist = doc.at("history");
    ASSERT_EQ(hist.at("t").as_array().size(), 1u);
    EXPECT_EQ(hist.at("t").as_array()[0].as_int64(), 102);
    EXPECT_DOUBLE_EQ(hist.at("logins_per_s").as_array()[0].as_double(), 2.0);
}

TEST(status_page, is_self_contained)
{
    const auto page = status_page();
    EXPECT_NE(page.find("<!DOCTYPE html>"), std::string_view::npos);
    EXPECT_NE(page.find("status.json"), std::string_view::npos);
    // No outside resources (the admin listener's CSP would block them anyway): the only
    // URL is the SVG namespace name, which is never fetched.
    std::size_t urls = 0;
    for (auto p = page.find("http://"); p != std::string_view::npos; p = page.find("http://", p + 1)) {
        EXPECT_EQ(page.substr(p, 26), "http://www.w3.org/2000/svg");
        ++urls;
    }
    EXPECT_LE(urls, 1u);
    for (const char* bad : {"https://", "<script src", "<link", "@import", "url(", "<img", "<iframe"}) {
        EXPECT_EQ(page.find(bad), std::string_view::npos) << bad;
    }
}

TEST(exposition, histogram_is_cumulative_with_sum_and_count)
{
    metrics::registry r;
    r.relay_to_server.observe(50us);
    r.relay_to_server.observe(3ms);
    r.relay_to_server.observe(2s);
    const auto text = metrics::exposition(r);
    EXPECT_NE(text.find("# TYPE boshgate_relay_latency_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("boshgate_relay_latency_seconds_bucket{direction=\"to_server\",le=\"0.0001\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("boshgate_relay_latency_seconds_bucket{direction=\"to_server\",le=\"0.005\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("boshgate_relay_latency_seconds_bucket{direction=\"to_server\",le=\"+Inf\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("boshgate_relay_latency_seconds_count{direction=\"to_server\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("boshgate_relay_latency_seconds_sum{direction=\"to_server\"} 2.00305\n"), std::string::npos);
}

TEST(domain_table, labels_are_escaped_and_the_table_is_bounded)
{
    metrics::domain_table t;
    t.stream_opened("x.example");
    t.connected("x.example", 4ms);
    t.connect_failed("x.example", "refused");
    for (std::size_t i = 0; i < metrics::domain_table::max_domains + 5; ++i) {
        t.stream_opened("d" + std::to_string(i) + ".example");
    }
    const auto snap = t.snapshot();
    EXPECT_EQ(snap.size(), metrics::domain_table::max_domains + 1); // + "(other)"
    const auto other = std::find_if(snap.begin(), snap.end(), [](const auto& d) { return d.domain == "(other)"; });
    ASSERT_NE(other, snap.end());
    EXPECT_EQ(other->streams, 6);
    const auto x = std::find_if(snap.begin(), snap.end(), [](const auto& d) { return d.domain == "x.example"; });
    ASSERT_NE(x, snap.end());
    EXPECT_EQ(x->connects, 1);
    EXPECT_EQ(x->connect_failures, 1);
    EXPECT_DOUBLE_EQ(x->connect_ms_sum, 4.0);
    EXPECT_EQ(x->last_failure, "refused");
}

TEST(exposition, domain_labels_are_escaped)
{
    metrics::domains().stream_opened("q\"uote\\.example");
    const auto text = metrics::exposition(metrics::global());
    EXPECT_NE(text.find("boshgate_upstream_streams{domain=\"q\\\"uote\\\\.example\"} 1\n"), std::string::npos)
        << text;
    metrics::domains().stream_closed("q\"uote\\.example");
}

} // namespace
} // namespace boshgate::admin
