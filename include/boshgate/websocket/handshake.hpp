#pragma once
// Pure checks of a WebSocket upgrade request on the XMPP endpoint (RFC 7395 §3.1, RFC 6455
// §4.2, WS-HS-1/2, WS-SEC-1, GAP-12). The HTTP connection calls this before handing the
// socket to websocket::session; Beast then validates the RFC 6455 fields (version, key) and
// writes the 101.
#include "boshgate/http/options.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace boshgate::websocket {

struct upgrade_request {
    std::string_view method;                          ///< "GET"
    bool is_upgrade = false;                          ///< Connection: upgrade + Upgrade: websocket
    std::optional<std::string_view> protocols;        ///< Sec-WebSocket-Protocol (joined if repeated)
    std::optional<std::string_view> origin;           ///< Origin
};

struct handshake_decision {
    bool accept = false;
    unsigned status = 0;        ///< when refused: 400 (no `xmpp` subprotocol), 403 (Origin),
                                ///< 405 (not GET: Allow: GET), 426 (GET without Upgrade)
    std::string reason;         ///< plain-text body, cites the section
    /// When accepted: the subprotocol to echo ("xmpp").
    std::string protocol;
};

/// Decide. `xmpp` is matched case-sensitively as one comma-separated token of the offer
/// (RFC 6455 §4.1: tokens; RFC 7395 §3.1 registers "xmpp"). Origin absent: allowed (not a
/// browser); present: http::decide_origin with the CORS list.
handshake_decision check_upgrade(const http::options& opt, const upgrade_request& req);

} // namespace boshgate::websocket
