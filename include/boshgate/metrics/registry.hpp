#pragma once
// Process-wide counters and gauges, declared in one list (Envoy's ALL_*_STATS idea) and
// incremented at the site of the transition or error. Lock-free; read by the exposition.
#include <atomic>
#include <cstdint>
#include <string>

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
    X(upstream_keepalives_sent, counter, "whitespace keepalives written to servers (upstream.whitespace_keepalive)") \
    X(upstream_breaker_refused, counter, "upstream connects refused: the domain's circuit breaker is open (limits.breaker_failures)") \
    X(upstream_connecting_refused, counter, "upstream connects refused: limits.max_connecting_per_domain attempts under way") \
    X(flow_upstream_read_pauses, counter, "times a session stopped reading its server: data for the client above limits.client_send_high_water") \
    X(flow_client_read_pauses, counter, "times a session stopped reading its client: data for the server above limits.upstream_send_high_water") \
    X(flow_upstream_write_timeouts, counter, "server connections cut: the server accepted no byte for limits.write_timeout") \
    X(upstream_link_timeouts, counter, "server connections lost to TCP keepalive or TCP_USER_TIMEOUT: a silently cut link (upstream.tcp_keepalive)") \
    X(flow_client_write_timeouts, counter, "client connections cut: the client accepted no byte for limits.write_timeout")

struct registry {
#define BOSHGATE_METRIC_FIELD(name, kind, help) std::atomic<std::int64_t> name{0};
    BOSHGATE_METRICS(BOSHGATE_METRIC_FIELD)
#undef BOSHGATE_METRIC_FIELD
};

/// The process registry.
registry& global();

/// Text exposition (Prometheus/OpenMetrics text format, "boshgate_" prefix).
std::string exposition(const registry& r);

} // namespace boshgate::metrics
