#pragma once
// Typed options of the WebSocket transport (RFC 7395), section [websocket] of the config.
// The endpoint path is http::options::websocket_path; the Origin allow-list is
// http::options::cors_origins (one list for BOSH CORS and the WebSocket Origin check).
#include <chrono>
#include <cstddef>
#include <string>

namespace boshgate::websocket {

struct options {
    /// false: the WebSocket path answers 404 (BOSH only).
    bool enabled = true;
    /// Send a WebSocket Ping after this long without any frame from the client (WS-KA-2/3);
    /// below common 60 s proxy idle timeouts.
    std::chrono::seconds ping_interval{25};
    /// Nothing at all (not even a Pong) received for this long: the client is gone; the
    /// TCP link to the server is dropped without a closing tag (WS-CLOSE-3).
    std::chrono::seconds idle_timeout{75};
    /// The client must send its first <open/> this soon after the upgrade (slow-client guard).
    std::chrono::seconds open_timeout{30};
    /// After boshgate sent <close/> (server closed, stream error, shutdown), how long to wait
    /// for the client's <close/> before closing the WebSocket anyway (WS-CLOSE-2).
    std::chrono::seconds close_timeout{5};
    /// Largest client message (bytes of one reassembled WebSocket message); larger draws a
    /// <policy-violation/> stream error and close code 1009 (WS-SIZE-1).
    std::size_t max_message_bytes = 256 * 1024;
    /// Accept the pre-RFC draft framing (`<stream:stream>` header messages, `</stream:stream>`
    /// close) from old clients. Off: such a header draws <invalid-namespace/> (WS-NS-1).
    bool legacy_framing = false;
    /// Non-empty: every <open/> is answered with <close see-other-uri='...'/> (WS-SOU-1), e.g.
    /// to move clients during maintenance. Must be ws:// or wss:// (wss:// when any listener
    /// uses TLS: WS-SOU-2).
    std::string see_other_uri;
};

} // namespace boshgate::websocket
