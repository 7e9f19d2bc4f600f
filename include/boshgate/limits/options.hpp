#pragma once
// [limits]: admission control, upstream protection and flow-control bounds. Every limit is
// on by default with a value safe for a public deployment; 0 switches a per-address limit
// off (e.g. behind a same-host reverse proxy until trusted-proxy addresses exist).
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace boshgate::limits {

struct options {
    // ---- admission (client side)
    std::size_t max_sessions = 10000;              ///< BOSH + WebSocket sessions, whole process
    std::size_t max_sessions_per_address = 50;     ///< concurrent sessions per client address (0 = off)
    double session_rate_per_address = 2.0;         ///< new sessions per second per address, sustained (0 = off)
    std::size_t session_burst_per_address = 20;    ///< token-bucket depth for the rate above
    std::size_t max_connections_per_address = 256; ///< concurrent HTTP/WebSocket connections per address (0 = off)
    unsigned ipv6_prefix = 64;                     ///< IPv6 clients are grouped by this prefix (1..128)
    unsigned ipv4_prefix = 32;                     ///< IPv4 clients are grouped by this prefix (1..32)

    // ---- upstream protection (per upstream XMPP domain)
    std::size_t max_connecting_per_domain = 100;   ///< concurrent connection attempts (DNS..features)
    unsigned breaker_failures = 5;                 ///< consecutive connect failures that open the breaker
    std::chrono::milliseconds breaker_open{2000};  ///< first open period; doubles on each re-open
    std::chrono::milliseconds breaker_open_max{60000}; ///< cap of the doubling

    // ---- flow control (per session)
    std::size_t client_send_high_water = 256 * 1024; ///< bytes queued for the client: stop reading upstream
    std::size_t client_send_low_water = 64 * 1024;   ///< ... resume reading upstream below this
    std::size_t upstream_send_high_water = 256 * 1024; ///< bytes queued for the server: stop reading the client
    std::size_t upstream_send_low_water = 64 * 1024;
    std::chrono::seconds write_timeout{30};          ///< a peer that accepts no byte for this long is cut off
};

} // namespace boshgate::limits
