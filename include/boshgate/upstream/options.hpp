#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace boshgate::upstream {

/// How to secure the link to one XMPP domain's server.
enum class tls_mode {
    required,   ///< STARTTLS (on xmpp-client targets) or direct TLS (xmpps-client); never plaintext
    plaintext,  ///< explicit opt-in only: a server without STARTTLS is accepted (C2S-TLS-7);
                ///< STARTTLS is still used when offered
    off,        ///< never TLS, even when offered (unless the server requires it): a server on
                ///< the same host; loopback addresses only unless force_tls_off
};

/// A fixed address for a domain, bypassing SRV (e.g. example.org -> 10.0.0.5:5222).
struct static_target {
    std::string host;
    std::uint16_t port = 5222;
    bool direct_tls = false; ///< XEP-0368 style TLS from the first byte
    /// Non-empty: a Unix domain socket (absolute path; config `address = "unix:/path"`)
    /// instead of host:port, for a server on the same host (ejabberd's `port: "unix:..."`
    /// listener). Local by nature, so tls = "off" needs no force_tls_off (issue 9).
    std::string unix_path;
};

/// Per-XMPP-domain settings ([[upstream.domain]] in config). Only listed domains are served
/// unless `allow_any_domain` is set (then SRV resolution decides, still refusing private
/// address ranges unless allowed).
struct domain_options {
    std::string name;                        ///< the XMPP domain (stream `to`)
    std::optional<static_target> target;     ///< override; else SRV lookup
    tls_mode tls = tls_mode::required;
    bool force_tls_off = false;              ///< tls off also for non-loopback addresses
    bool tls_verify = true;                  ///< false = development opt-out for this domain only
    std::optional<std::string> ca_file;      ///< trust anchors for this domain (else global)
    /// Send a PROXY protocol v2 header first on every connection, naming the browser's
    /// address (the server's listener must expect it: ejabberd `use_proxy_protocol: true`).
    bool proxy_protocol = false;
};

/// A host:port the `route` attribute may name (BOSH-ROUTE-3). Exact match on both.
struct route_rule {
    std::string host;
    std::uint16_t port = 5222;
    bool direct_tls = false;
};

struct options {
    std::vector<domain_options> domains;
    bool allow_any_domain = false;                 ///< serve any `to` via DNS (public gateway)
    bool allow_private_addresses = false;          ///< with allow_any_domain: permit RFC1918/loopback results
    std::vector<route_rule> route_allow;           ///< empty: `route` is ignored (BOSH-ROUTE-1)
    std::optional<std::string> ca_file;            ///< global trust anchors; default: system store
    std::chrono::milliseconds connect_timeout{5000};   ///< per candidate address
    std::chrono::milliseconds negotiate_timeout{15000}; ///< header..features incl. TLS handshake
    std::chrono::milliseconds close_timeout{3000};  ///< wait for the server's closing tag (C2S-CLOSE-1)
    std::chrono::milliseconds dns_timeout{5000};
    std::optional<std::string> dns_server;          ///< "ip:port" for c-ares; default /etc/resolv.conf
    std::chrono::seconds whitespace_keepalive{0};   ///< 0 = off (C2S-KA-1)
    /// C2S-PING-1: a XEP-0199 ping to the server after this long without a byte from it; 0 =
    /// off. No answer within ping_timeout ends the session (remote-connection-failed).
    std::chrono::seconds ping_interval{0};
    std::chrono::seconds ping_timeout{30};
    /// C2S-SOH-1: <see-other-host/> redirects followed per session before the client has
    /// seen the stream (0: always relay them to the client).
    unsigned max_redirects = 2;
    /// FAULT-LINK-1: TCP keepalive on the server link: probes after this long without a
    /// byte from the server, then every max(1 s, this / 3); 0 = off. With TCP_USER_TIMEOUT
    /// (unacked_timeout_for(limits.write_timeout)) a silently cut link is found without
    /// any traffic.
    std::chrono::seconds tcp_keepalive{60};
};

} // namespace boshgate::upstream
