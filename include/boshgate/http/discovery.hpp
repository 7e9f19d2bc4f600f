#pragma once
// XEP-0156 §3: the connection methods a browser client discovers at
// /.well-known/host-meta (XRD, RFC 6415 §3) and /.well-known/host-meta.json (JRD, RFC 6415
// Appendix A): the BOSH and WebSocket URLs of this gateway. Pure code: the HTTP connection
// passes what it knows about the request, this returns the document.
#include <optional>
#include <string>
#include <string_view>

namespace boshgate::http {

struct options;

inline constexpr std::string_view host_meta_path = "/.well-known/host-meta";
inline constexpr std::string_view host_meta_json_path = "/.well-known/host-meta.json";
inline constexpr std::string_view rel_xbosh = "urn:xmpp:alt-connections:xbosh";
inline constexpr std::string_view rel_websocket = "urn:xmpp:alt-connections:websocket";

/// The URLs to advertise; an absent one is left out of the document.
struct discovery_links {
    std::optional<std::string> bosh;
    std::optional<std::string> websocket;
};

/// What the connection knows about one request.
struct discovery_request {
    bool tls = false;                      ///< the request came in over HTTPS
    std::optional<std::string_view> host;  ///< its Host header
    bool websocket_enabled = true;
};

/// True for a Host header value a URL may be built from: a DNS name, an IPv4 literal or a
/// bracketed IPv6 literal, then an optional ":port" (RFC 9110 §7.2, RFC 3986 §3.2.2).
bool valid_host_header(std::string_view host);

/// What to answer a host-meta request with.
struct discovery_answer {
    enum class kind {
        document,   ///< 200 with `links`
        bad_host,   ///< 400: a link needs the Host header, which is missing or not host[:port]
        not_served, ///< 404: plain HTTP and no https/wss URL configured (DISC-3)
    };
    kind what = kind::not_served;
    discovery_links links;
};

/// DISC-1..3: over HTTPS, each configured public URL as is, the others built from the Host
/// header and the endpoint's path (https://Host/http-bind, wss://Host/xmpp-websocket). Over
/// plain HTTP only configured URLs are listed (they are https:// / wss://: a TLS-terminating
/// proxy in front); with none configured host-meta is not served there, since XEP-0156 §2.2
/// allows it over HTTPS only. The WebSocket link is left out when WebSocket is disabled.
discovery_answer answer_host_meta(const options& opt, const discovery_request& req);

/// The XRD document (application/xrd+xml).
std::string host_meta_xrd(const discovery_links& links);
/// The JRD document (application/json).
std::string host_meta_jrd(const discovery_links& links);

} // namespace boshgate::http
