#pragma once
// Why an upstream stream could not be set up or ended abnormally. Kept in its own header so
// that pure code (negotiator, target_policy) can use it without pulling in Asio.

namespace boshgate::upstream {

/// Why a stream could not be set up: maps to BOSH host-unknown / improper-addressing /
/// remote-connection-failed (GAP-10) and to the WebSocket stream errors.
enum class failure {
    improper_addressing, ///< no `to`
    host_unknown,        ///< `to`/`route` refused by policy, or no such service ('.' SRV)
    connection_failed,   ///< DNS, TCP, TLS handshake, certificate, STARTTLS failure, timeout
    protocol_error,      ///< the server sent garbage / restricted XML / broke the framing
};

} // namespace boshgate::upstream
