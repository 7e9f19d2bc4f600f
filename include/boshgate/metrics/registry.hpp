#pragma once
// Process-wide counters and gauges, declared in one list (Envoy's ALL_*_STATS idea) and
// incremented at the site of the transition or error. Lock-free; read by the exposition.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace boshgate::metrics {

// X(name, kind, help)
#define BOSHGATE_METRICS(X)                                                                      \
    X(http_connections_accepted, counter, "TCP connections accepted by the HTTP listeners")      \
    X(http_connections_active, gauge, "HTTP connections open now")                               \
    X(http_connections_refused, counter, "connections closed at once by a connection limit (limits_refused_* says which)")  \
    X(http_proxy_header_refused, counter, "connections on a proxy_protocol listener closed: peer not in trusted_proxies, or no valid PROXY header in time") \
    X(http_requests, counter, "HTTP requests read")                                              \
    X(http_bad_requests, counter, "malformed HTTP requests (status 400/413/431)")                \
    X(http_cors_refused, counter, "requests refused because their Origin is not allowed")        \
    X(limits_refused_connections, counter, "connections refused: http.max_connections (WebSocket included)") \
    X(limits_refused_address_connections, counter, "connections refused: limits.max_connections_per_address") \
    X(limits_refused_sessions, counter, "BOSH/WebSocket sessions refused: limits.max_sessions") \
    X(limits_refused_address_sessions, counter, "sessions refused: limits.max_sessions_per_address") \
    X(limits_refused_address_rate, counter, "sessions refused: limits.session_rate_per_address") \
    X(draining, gauge, "1 while the instance drains (SIGUSR2 or POST /drain): no new sessions, open ones served") \
    X(drain_refused_sessions, counter, "new BOSH/WebSocket sessions refused with HTTP 503 while draining") \
    X(hop_forwarded_requests, counter, "BOSH requests handed to the other process of an in-place restart (its sid)") \
    X(bosh_requests, counter, "BOSH POST bodies handled")                                        \
    X(bosh_sessions_created, counter, "BOSH sessions created")                                   \
    X(bosh_sessions_active, gauge, "BOSH sessions alive now")                                    \
    X(bosh_bad_request, counter, "BOSH bodies refused with bad-request")                         \
    X(bosh_unknown_sid, counter, "BOSH requests naming an unknown sid (item-not-found)")         \
    X(bosh_term_none, counter, "sessions ended with type=terminate and no condition")             \
    X(bosh_term_bad_request, counter, "sessions ended: bad-request")                             \
    X(bosh_term_host_gone, counter, "sessions ended: host-gone")                                 \
    X(bosh_term_host_unknown, counter, "sessions ended: host-unknown")                           \
    X(bosh_term_improper_addressing, counter, "sessions ended: improper-addressing")             \
    X(bosh_term_internal_server_error, counter, "sessions ended: internal-server-error")         \
    X(bosh_term_item_not_found, counter, "sessions ended: item-not-found")                       \
    X(bosh_term_other_request, counter, "sessions ended: other-request")                         \
    X(bosh_term_policy_violation, counter, "sessions ended: policy-violation")                   \
    X(bosh_term_remote_connection_failed, counter, "sessions ended: remote-connection-failed")   \
    X(bosh_term_remote_stream_error, counter, "sessions ended: remote-stream-error")             \
    X(bosh_term_see_other_uri, counter, "sessions ended: see-other-uri")                         \
    X(bosh_term_system_shutdown, counter, "sessions ended: system-shutdown")                     \
    X(bosh_term_undefined_condition, counter, "sessions ended: undefined-condition")             \
    X(bosh_insecure_request_dropped, counter, "requests for a TLS-born session over plain HTTP") \
    X(ws_upgrades, counter, "WebSocket upgrades completed (101 sent)")                           \
    X(ws_handshakes_refused, counter, "WebSocket upgrade requests refused (400/403/405/426/503)") \
    X(ws_sessions_active, gauge, "WebSocket sessions alive now")                                 \
    X(ws_messages_in, counter, "complete WebSocket messages received from clients")              \
    X(ws_messages_out, counter, "WebSocket text messages sent to clients")                       \
    X(ws_client_errors, counter, "WebSocket sessions ended by a client error (stream error, RFC 6455 violation)") \
    X(ws_idle_drops, counter, "WebSocket connections dropped: client idle beyond idle_timeout") \
    X(upstream_logins, counter, "server streams that authenticated (SASL success): logins through the gateway") \
    X(elements_to_servers, counter, "top-level elements (stanzas, SASL, stream management) relayed from clients to servers") \
    X(elements_to_clients, counter, "top-level elements relayed from servers to clients") \
    X(bytes_to_servers, counter, "XMPP bytes written to servers (before TLS)") \
    X(bytes_from_servers, counter, "XMPP bytes read from servers (after TLS)") \
    X(upstream_pings_sent, counter, "XEP-0199 pings written to servers (upstream.ping_interval)") \
    X(upstream_ping_timeouts, counter, "server streams ended: no answer to a XEP-0199 ping within upstream.ping_timeout") \
    X(upstream_redirects_followed, counter, "see-other-host redirects followed before the client saw the stream (upstream.max_redirects)") \
    X(http_readers_parked, gauge, "HTTP connections idle now between requests with no reader coroutine, only a wait for the next byte (issue 9)") \
    X(upstream_streams_parked, gauge, "server streams idle now with no read coroutine, only a wait for the server's next byte (issue 9)") \
    X(upstream_keepalives_sent, counter, "whitespace keepalives written to servers (upstream.whitespace_keepalive)") \
    X(upstream_breaker_refused, counter, "upstream connects refused: the domain's circuit breaker is open (limits.breaker_failures)") \
    X(upstream_connecting_refused, counter, "upstream connects refused: limits.max_connecting_per_domain attempts under way") \
    X(flow_upstream_read_pauses, counter, "times a session stopped reading its server: data for the client above limits.client_send_high_water") \
    X(flow_client_read_pauses, counter, "times a session stopped reading its client: data for the server above limits.upstream_send_high_water") \
    X(flow_upstream_write_timeouts, counter, "server connections cut: the server accepted no byte for limits.write_timeout") \
    X(upstream_link_timeouts, counter, "server connections lost to TCP keepalive or TCP_USER_TIMEOUT: a silently cut link (upstream.tcp_keepalive)") \
    X(flow_client_write_timeouts, counter, "client connections cut: the client accepted no byte for limits.write_timeout")

/// Upper bounds (ms) of the relay latency buckets; one more bucket (+Inf) follows.
inline constexpr std::array<double, 12> latency_bounds_ms{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000};

/// A Prometheus histogram over latency_bounds_ms (per-bucket counts, not cumulative; the
/// exposition accumulates). Lock-free.
struct histogram {
    std::array<std::atomic<std::int64_t>, latency_bounds_ms.size() + 1> counts{};
    std::atomic<std::int64_t> sum_ns{0};
    void observe(std::chrono::nanoseconds d) noexcept;
    std::array<std::int64_t, latency_bounds_ms.size() + 1> buckets() const noexcept;
};

struct registry {
#define BOSHGATE_METRIC_FIELD(name, kind, help) std::atomic<std::int64_t> name{0};
    BOSHGATE_METRICS(BOSHGATE_METRIC_FIELD)
#undef BOSHGATE_METRIC_FIELD
    /// Relay latency: the time an element spends inside the gateway between its arrival and
    /// the completed write to the other side. to_server: client elements, from their hand-over
    /// to the server stream (BOSH and WebSocket); to_client: server elements over WebSocket
    /// (BOSH replies wait for the client's next request, which is protocol time, not ours).
    histogram relay_to_server;
    histogram relay_to_client;
};

/// Per upstream domain: server streams alive, connection outcomes and their latency (from
/// open to a negotiated stream: DNS, TCP, TLS, stream features). Thread-safe (one mutex;
/// touched once per connect and once per stream end, never per stanza). Bounded: after
/// max_domains names, further domains are counted under "(other)".
struct domain_figures {
    std::string domain;
    std::int64_t streams = 0;
    std::int64_t connects = 0;
    std::int64_t connect_failures = 0;
    double connect_ms_sum = 0;
    std::string last_failure;
};

class domain_table {
public:
    static constexpr std::size_t max_domains = 256;
    void stream_opened(std::string_view domain);
    void stream_closed(std::string_view domain);
    void connected(std::string_view domain, std::chrono::nanoseconds took);
    void connect_failed(std::string_view domain, std::string_view why);
    /// Every domain, sorted by name.
    std::vector<domain_figures> snapshot() const;

private:
    domain_figures& entry(std::string_view domain); // mutex_ held
    mutable std::mutex mutex_;
    std::unordered_map<std::string, domain_figures> domains_;
};

/// The process registry.
registry& global();
/// The process's per-domain figures.
domain_table& domains();

/// Text exposition (Prometheus/OpenMetrics text format, "boshgate_" prefix).
std::string exposition(const registry& r);

} // namespace boshgate::metrics
