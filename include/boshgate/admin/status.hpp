#pragma once
// The data behind the admin listener's /status page: samples of the process counters taken
// on a timer, a bounded history of per-interval rates, and the /status.json document. Pure
// (no sockets, no clock of its own: callers pass the time), so it is unit-tested directly.
#include "boshgate/config/config.hpp"
#include "boshgate/metrics/registry.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::admin {

/// The process counters at one instant (cumulative, except the session gauges).
struct sample {
    std::int64_t t = 0; ///< unix seconds
    std::int64_t bosh_sessions = 0;
    std::int64_t ws_sessions = 0;
    std::int64_t logins = 0;
    std::int64_t elements_to_server = 0;
    std::int64_t elements_to_client = 0;
    std::int64_t bytes_to_server = 0;
    std::int64_t bytes_to_client = 0;
    std::int64_t refusals = 0; ///< every limits_refused_* and upstream_*_refused counter
};

sample take_sample(const metrics::registry& r, std::int64_t unix_seconds);

/// One interval of the charts: the gauges at its end, the counters as rates over it.
struct point {
    std::int64_t t = 0;
    std::int64_t bosh_sessions = 0;
    std::int64_t ws_sessions = 0;
    double logins_per_s = 0;
    double elements_to_server_per_s = 0;
    double elements_to_client_per_s = 0;
    double bytes_to_server_per_s = 0;
    double bytes_to_client_per_s = 0;
    double refusals_per_s = 0;
};

/// The last `capacity` intervals. add() turns consecutive samples into a point; the first
/// sample only starts the series. A counter that went down (none should) counts as 0.
class history {
public:
    explicit history(std::size_t capacity = 300) : capacity_(capacity) {}
    void add(const sample& s);
    const std::deque<point>& points() const noexcept { return points_; }

private:
    std::size_t capacity_;
    bool have_last_ = false;
    sample last_{};
    std::deque<point> points_;
};

/// What the page shows besides the counters.
struct status_facts {
    std::string version;
    std::string build;
    bool ready = true;                 ///< false while draining
    std::int64_t started = 0;          ///< unix seconds
    std::int64_t now = 0;              ///< unix seconds
    std::int64_t interval_s = 2;       ///< history sampling interval
    unsigned threads = 0;              ///< io threads in use
};

/// GET /status.json: { version, build, ready, started, now_time, uptime_s, config{...},
/// now{ sessions, counters, refusals, domains[], relay_latency }, history{ interval_s, t[],
/// bosh[], websocket[], ..._per_s[] } }.
std::string status_json(const status_facts& facts, const config::config& cfg, const metrics::registry& r,
                        const std::vector<metrics::domain_figures>& domains, const history& h);

/// The self-contained HTML page (no outside resources) that polls status.json.
std::string_view status_page();

} // namespace boshgate::admin
