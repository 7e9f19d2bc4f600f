// Pure WebSocket upgrade checks for the XMPP endpoint. See handshake.hpp for the contract.
//
// Order of the checks (first failure wins): method (405), Upgrade (426), Origin (403),
// subprotocol (400). The Origin is checked before the subprotocol so that a refused site
// learns nothing about the endpoint beyond "forbidden" (WS-SEC-1).
#include "boshgate/websocket/handshake.hpp"

#include "boshgate/http/cors.hpp"

namespace boshgate::websocket {
namespace {

constexpr std::string_view xmpp_protocol = "xmpp";

/// RFC 7230 §7 list: comma-separated, optional whitespace (SP / HTAB) around elements.
bool offers_xmpp(std::string_view list)
{
    while (true) {
        std::size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        // Tokens compare case-sensitively (RFC 6455 §4.1; RFC 7395 §3.1 registers "xmpp").
        if (item == xmpp_protocol) {
            return true;
        }
        if (comma == std::string_view::npos) {
            return false;
        }
        list.remove_prefix(comma + 1);
    }
}

handshake_decision refuse(unsigned status, std::string reason)
{
    handshake_decision d;
    d.accept = false;
    d.status = status;
    d.reason = std::move(reason);
    return d;
}

} // namespace

handshake_decision check_upgrade(const http::options& opt, const upgrade_request& req)
{
    if (req.method != "GET") {
        return refuse(405, "RFC 6455 §4.1: the WebSocket opening handshake is a GET request");
    }
    if (!req.is_upgrade) {
        return refuse(426, "RFC 7395 §3.1 / RFC 6455 §4.2.1: this endpoint speaks XMPP over "
                           "WebSocket only (Upgrade: websocket)");
    }
    if (!http::decide_origin(opt, req.origin).allowed) {
        return refuse(403, "RFC 6455 §10.2 / RFC 7395 §6: Origin not allowed");
    }
    if (!req.protocols || !offers_xmpp(*req.protocols)) {
        return refuse(400, "RFC 7395 §3.1: Sec-WebSocket-Protocol must offer 'xmpp' (GAP-12)");
    }
    handshake_decision d;
    d.accept = true;
    d.status = 0;
    d.protocol = std::string(xmpp_protocol);
    return d;
}

} // namespace boshgate::websocket
