#include "boshgate/metrics/registry.hpp"

#include <algorithm>
#include <cstdio>

namespace boshgate::metrics {

registry& global()
{
    static registry r;
    return r;
}

domain_table& domains()
{
    static domain_table t;
    return t;
}

// ------------------------------------------------------------------------------ histogram

void histogram::observe(std::chrono::nanoseconds d) noexcept
{
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    const auto at = std::lower_bound(latency_bounds_ms.begin(), latency_bounds_ms.end(), ms);
    counts[static_cast<std::size_t>(at - latency_bounds_ms.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_ns.fetch_add(d.count(), std::memory_order_relaxed);
}

std::array<std::int64_t, latency_bounds_ms.size() + 1> histogram::buckets() const noexcept
{
    std::array<std::int64_t, latency_bounds_ms.size() + 1> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = counts[i].load(std::memory_order_relaxed);
    }
    return out;
}

// ------------------------------------------------------------------------------ domains

domain_figures& domain_table::entry(std::string_view domain)
{
    auto it = domains_.find(std::string(domain));
    if (it != domains_.end()) {
        return it->second;
    }
    const std::string key = domains_.size() < max_domains ? std::string(domain) : std::string("(other)");
    auto& e = domains_[key];
    e.domain = key;
    return e;
}

void domain_table::stream_opened(std::string_view domain)
{
    std::lock_guard lock(mutex_);
    ++entry(domain).streams;
}

void domain_table::stream_closed(std::string_view domain)
{
    std::lock_guard lock(mutex_);
    --entry(domain).streams;
}

void domain_table::connected(std::string_view domain, std::chrono::nanoseconds took)
{
    std::lock_guard lock(mutex_);
    auto& e = entry(domain);
    ++e.connects;
    e.connect_ms_sum += std::chrono::duration<double, std::milli>(took).count();
}

void domain_table::connect_failed(std::string_view domain, std::string_view why)
{
    std::lock_guard lock(mutex_);
    auto& e = entry(domain);
    ++e.connect_failures;
    e.last_failure.assign(why.substr(0, 200));
}

std::vector<domain_figures> domain_table::snapshot() const
{
    std::vector<domain_figures> out;
    {
        std::lock_guard lock(mutex_);
        out.reserve(domains_.size());
        for (const auto& [name, e] : domains_) {
            out.push_back(e);
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.domain < b.domain; });
    return out;
}

// ------------------------------------------------------------------------------ exposition

namespace {

/// A label value with \, " and newline escaped (Prometheus text format).
std::string label_value(std::string_view v)
{
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string number(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void histogram_text(std::string& out, std::string_view direction, const histogram& h)
{
    const auto b = h.buckets();
    std::int64_t cumulative = 0;
    const std::string labels = "direction=\"" + std::string(direction) + "\"";
    for (std::size_t i = 0; i < b.size(); ++i) {
        cumulative += b[i];
        const std::string le = i < latency_bounds_ms.size() ? number(latency_bounds_ms[i] / 1000.0) : "+Inf";
        out += "boshgate_relay_latency_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
               std::to_string(cumulative) + "\n";
    }
    out += "boshgate_relay_latency_seconds_sum{" + labels + "} " +
           number(static_cast<double>(h.sum_ns.load(std::memory_order_relaxed)) / 1e9) + "\n";
    out += "boshgate_relay_latency_seconds_count{" + labels + "} " + std::to_string(cumulative) + "\n";
}

} // namespace

std::string exposition(const registry& r)
{
    std::string out;
#define BOSHGATE_METRIC_TEXT(name, kind, help)                                                   \
    out += "# HELP boshgate_" #name " " help "\n# TYPE boshgate_" #name " " #kind "\n";          \
    out += std::string("boshgate_" #name) + (std::string_view(#kind) == "counter" ? "_total " : " ") + \
           std::to_string(r.name.load(std::memory_order_relaxed)) + "\n";
    BOSHGATE_METRICS(BOSHGATE_METRIC_TEXT)
#undef BOSHGATE_METRIC_TEXT
    out += "# HELP boshgate_relay_latency_seconds time an element spends in the gateway between arrival and "
           "the completed write to the other side (to_client: WebSocket only)\n"
           "# TYPE boshgate_relay_latency_seconds histogram\n";
    histogram_text(out, "to_server", r.relay_to_server);
    histogram_text(out, "to_client", r.relay_to_client);

    const auto ds = domains().snapshot();
    struct family {
        const char* name;
        const char* kind;
        const char* help;
        std::string (*value)(const domain_figures&);
    };
    static const family families[] = {
        {"upstream_streams", "gauge", "server streams alive, per upstream domain",
         [](const domain_figures& d) { return std::to_string(d.streams); }},
        {"upstream_connects", "counter", "server streams connected and negotiated, per upstream domain",
         [](const domain_figures& d) { return std::to_string(d.connects); }},
        {"upstream_connect_failures", "counter",
         "server connection attempts that failed before a negotiated stream, per upstream domain",
         [](const domain_figures& d) { return std::to_string(d.connect_failures); }},
        {"upstream_connect_seconds", "counter",
         "total time from open to a negotiated stream (DNS, TCP, TLS, features), per upstream domain",
         [](const domain_figures& d) { return number(d.connect_ms_sum / 1000.0); }},
    };
    for (const auto& f : families) {
        const std::string suffix = std::string_view(f.kind) == "counter" ? "_total" : "";
        out += std::string("# HELP boshgate_") + f.name + " " + f.help + "\n# TYPE boshgate_" + f.name + " " +
               f.kind + "\n";
        for (const auto& d : ds) {
            out += std::string("boshgate_") + f.name + suffix + "{domain=\"" + label_value(d.domain) + "\"} " +
                   f.value(d) + "\n";
        }
    }
    out += "# EOF\n";
    return out;
}

} // namespace boshgate::metrics
