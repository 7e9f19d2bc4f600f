#pragma once
// Which upstream a session may dial for a requested `to` / `route` (XEP-0124 §7.1, §19;
// checklist BOSH-ROUTE-1..4, BOSH-COND-3/4, C2S-TLS-7). Pure: no I/O, no clock.
#include "boshgate/dns/srv_selector.hpp"
#include "boshgate/upstream/failure.hpp"
#include "boshgate/upstream/options.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boshgate::upstream {

/// What to dial for one session.
struct dial_plan {
    std::string domain;                ///< stream `to`, SNI, certificate identity (BOSH-ROUTE-4);
                                       ///< ASCII-lowercased (the configured name if listed)
    std::vector<dns::candidate> fixed; ///< non-empty: static target or allowed route (no SRV)
    std::string unix_path;             ///< non-empty: the static target is this Unix socket
                                       ///< (fixed is empty, use_srv false)
    bool use_srv = false;              ///< true: resolve SRV for `domain` (fixed is empty)
    tls_mode tls =
        tls_mode::required; ///< plaintext only if the domain's config says so (C2S-TLS-7)
    bool force_tls_off = false; ///< with tls off: non-loopback addresses too
    bool tls_verify = true;
    std::optional<std::string> ca_file; ///< the domain's, else the global one
    bool proxy_protocol = false;        ///< send a PROXY v2 header first (the domain's setting)
};

/// A policy refusal; `reason` is log-safe and cites the rule (XEP/checklist section).
struct refusal {
    failure why;
    std::string reason;
};

/// Decides the dial plan for a session request.
/// - empty `to` => improper_addressing (BOSH-COND-4);
/// - `to` must name a configured domain (ASCII case-insensitive; one trailing dot ignored)
///   unless allow_any_domain, else host_unknown (BOSH-COND-3). With allow_any_domain an
///   unlisted `to` must be a syntactically valid ASCII host name (IDNA U-labels and IP
///   literals are refused) and gets tls=required, verify on, the global ca_file;
/// - `route` (only when route_allow is non-empty, BOSH-ROUTE-1) is split literally as
///   proto:host:port (BOSH-ROUTE-2, never URI-decoded; "[v6]" literal allowed), proto is
///   `xmpp` or `xmpps` (direct TLS), and host (ASCII case-insensitive, brackets ignored) plus
///   port must equal a route_allow entry, else host_unknown (BOSH-ROUTE-3). The candidate is
///   direct TLS if the proto is `xmpps` or the rule says so. `to` stays the domain
///   (BOSH-ROUTE-4);
/// - a listed domain with a static target dials it; otherwise use_srv.
/// Thread-safe (pure function of its arguments).
std::variant<dial_plan, refusal> plan_target(const options& opt, std::string_view to,
                                             std::optional<std::string_view> route);

/// Whether a resolved address may be dialled for `plan` (BOSH-ROUTE-3). Static targets,
/// allowed routes and domains listed in `opt.domains` are trusted as configured. For other
/// (allow_any_domain, SRV-resolved) domains, unless allow_private_addresses, refuses:
/// IPv4 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16,
/// 198.18/15, 224/4, 240/4 (incl. broadcast); IPv6 ::, ::1, IPv4-compatible ::/96,
/// fe80::/10, fec0::/10, fc00::/7, ff00::/8, the whole of 64:ff9b:1::/48 (local-use NAT64),
/// 2002::/16 (6to4) and 2001::/32 (Teredo), and the IPv4-mapped (::ffff:0:0/96),
/// IPv4-translated (::ffff:0:0:0/96) or NAT64 (64:ff9b::/96) forms of refused IPv4 addresses.
///
/// With `plan.tls == tls_mode::off` and no `force_tls_off`, only loopback addresses
/// (127/8, ::1, and their IPv4-mapped forms) are permitted, whatever else applies: the
/// stream will carry credentials in the clear.
bool address_permitted(const options& opt, const dial_plan& plan,
                       const boost::asio::ip::address& addr);

} // namespace boshgate::upstream
