#include "boshgate/admin/status.hpp"

#include "boshgate/config/values.hpp"

// Boost.JSON, header-only: this is its one compiled translation unit in the gateway. It
// writes the status document (escaping, number formatting) so that nothing here does.
#include <boost/json/src.hpp>

#include <algorithm>

namespace boshgate::admin {

namespace json = boost::json;

sample take_sample(const metrics::registry& r, std::int64_t unix_seconds)
{
    const auto v = [](const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); };
    sample s;
    s.t = unix_seconds;
    s.bosh_sessions = v(r.bosh_sessions_active);
    s.ws_sessions = v(r.ws_sessions_active);
    s.logins = v(r.upstream_logins);
    s.elements_to_server = v(r.elements_to_servers);
    s.elements_to_client = v(r.elements_to_clients);
    s.bytes_to_server = v(r.bytes_to_servers);
    s.bytes_to_client = v(r.bytes_from_servers);
    s.refusals = v(r.limits_refused_connections) + v(r.limits_refused_address_connections) +
                 v(r.limits_refused_sessions) + v(r.limits_refused_address_sessions) +
                 v(r.limits_refused_address_rate) + v(r.upstream_breaker_refused) + v(r.upstream_connecting_refused);
    return s;
}

void history::add(const sample& s)
{
    if (have_last_ && s.t > last_.t) {
        const double dt = static_cast<double>(s.t - last_.t);
        const auto rate = [dt](std::int64_t now, std::int64_t before) {
            return now > before ? static_cast<double>(now - before) / dt : 0.0;
        };
        point p;
        p.t = s.t;
        p.bosh_sessions = s.bosh_sessions;
        p.ws_sessions = s.ws_sessions;
        p.logins_per_s = rate(s.logins, last_.logins);
        p.elements_to_server_per_s = rate(s.elements_to_server, last_.elements_to_server);
        p.elements_to_client_per_s = rate(s.elements_to_client, last_.elements_to_client);
        p.bytes_to_server_per_s = rate(s.bytes_to_server, last_.bytes_to_server);
        p.bytes_to_client_per_s = rate(s.bytes_to_client, last_.bytes_to_client);
        p.refusals_per_s = rate(s.refusals, last_.refusals);
        points_.push_back(p);
        while (points_.size() > capacity_) {
            points_.pop_front();
        }
    } else if (have_last_) {
        return; // the wall clock stepped back or stood still: keep the older base
    }
    last_ = s;
    have_last_ = true;
}

namespace {

json::array numbers(const auto& values)
{
    json::array a;
    a.reserve(values.size());
    for (const auto& v : values) {
        a.emplace_back(v);
    }
    return a;
}

json::object config_summary(const config::config& c, unsigned threads)
{
    json::array listeners;
    for (const auto& l : c.http.listen) {
        std::string text = config::format_host_port(l.address, l.port);
        if (l.tls_cert_file) {
            text += " (https)";
        }
        if (l.proxy_protocol) {
            text += " (PROXY protocol)";
        }
        listeners.emplace_back(text);
    }
    json::array domains;
    for (const auto& d : c.upstream.domains) {
        domains.emplace_back(d.name);
    }
    json::object o;
    o["threads"] = threads;
    o["listeners"] = std::move(listeners);
    o["bosh_path"] = c.http.bosh_path;
    o["websocket_path"] = c.websocket.enabled ? json::value(c.http.websocket_path) : json::value("off");
    o["max_connections"] = c.http.max_connections;
    o["max_sessions"] = c.limits.max_sessions;
    o["max_sessions_per_address"] = c.limits.max_sessions_per_address;
    o["upstream_domains"] = std::move(domains);
    o["trusted_proxies"] = !c.http.trusted_proxies.empty();
    o["host_meta"] = c.http.host_meta;
    o["admin"] = config::format_host_port(c.admin.address, c.admin.port);
    return o;
}

} // namespace

std::string status_json(const status_facts& facts, const config::config& cfg, const metrics::registry& r,
                        const std::vector<metrics::domain_figures>& domains, const history& h)
{
    const auto v = [](const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); };
    json::object doc;
    doc["version"] = facts.version;
    doc["build"] = facts.build;
    doc["ready"] = facts.ready;
    doc["started"] = facts.started;
    doc["now_time"] = facts.now;
    doc["uptime_s"] = std::max<std::int64_t>(0, facts.now - facts.started);
    doc["config"] = config_summary(cfg, facts.threads);

    json::object now;
    now["sessions"] = json::object{{"bosh", v(r.bosh_sessions_active)}, {"websocket", v(r.ws_sessions_active)}};
    now["counters"] = json::object{
        {"logins", v(r.upstream_logins)},
        {"elements_to_server", v(r.elements_to_servers)},
        {"elements_to_client", v(r.elements_to_clients)},
        {"bytes_to_server", v(r.bytes_to_servers)},
        {"bytes_to_client", v(r.bytes_from_servers)},
        {"http_requests", v(r.http_requests)},
        {"bosh_sessions_created", v(r.bosh_sessions_created)},
        {"ws_upgrades", v(r.ws_upgrades)},
    };
    now["refusals"] = json::object{
        {"connections", v(r.limits_refused_connections)},
        {"address_connections", v(r.limits_refused_address_connections)},
        {"sessions", v(r.limits_refused_sessions)},
        {"address_sessions", v(r.limits_refused_address_sessions)},
        {"address_rate", v(r.limits_refused_address_rate)},
        {"upstream_breaker", v(r.upstream_breaker_refused)},
        {"upstream_connecting", v(r.upstream_connecting_refused)},
        {"proxy_header", v(r.http_proxy_header_refused)},
        {"cors", v(r.http_cors_refused)},
        {"bad_requests", v(r.http_bad_requests)},
        {"websocket_handshakes", v(r.ws_handshakes_refused)},
    };
    json::array ds;
    for (const auto& d : domains) {
        json::object o;
        o["domain"] = d.domain;
        o["sessions"] = d.streams;
        o["connects"] = d.connects;
        o["connect_failures"] = d.connect_failures;
        o["connect_ms_avg"] = d.connects > 0 ? json::value(d.connect_ms_sum / static_cast<double>(d.connects))
                                             : json::value(nullptr);
        o["last_failure"] = d.last_failure.empty() ? json::value(nullptr) : json::value(d.last_failure);
        ds.push_back(std::move(o));
    }
    now["domains"] = std::move(ds);
    now["relay_latency"] = json::object{
        {"bounds_ms", numbers(metrics::latency_bounds_ms)},
        {"to_server", numbers(r.relay_to_server.buckets())},
        {"to_client", numbers(r.relay_to_client.buckets())},
    };
    doc["now"] = std::move(now);

    json::object hist;
    hist["interval_s"] = facts.interval_s;
    const auto series = [&h](auto field) {
        json::array a;
        a.reserve(h.points().size());
        for (const auto& p : h.points()) {
            a.emplace_back(p.*field);
        }
        return a;
    };
    hist["t"] = series(&point::t);
    hist["bosh"] = series(&point::bosh_sessions);
    hist["websocket"] = series(&point::ws_sessions);
    hist["logins_per_s"] = series(&point::logins_per_s);
    hist["elements_to_server_per_s"] = series(&point::elements_to_server_per_s);
    hist["elements_to_client_per_s"] = series(&point::elements_to_client_per_s);
    hist["bytes_to_server_per_s"] = series(&point::bytes_to_server_per_s);
    hist["bytes_to_client_per_s"] = series(&point::bytes_to_client_per_s);
    hist["refusals_per_s"] = series(&point::refusals_per_s);
    doc["history"] = std::move(hist);
    return json::serialize(doc);
}

} // namespace boshgate::admin
