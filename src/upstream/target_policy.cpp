// Upstream target policy (see target_policy.hpp). Pure.
#include "boshgate/upstream/target_policy.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace boshgate::upstream {

namespace {

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

/// RFC 7622 §3.2: a final label separator is stripped before the domainpart is used;
/// comparisons are ASCII case-insensitive (we do not implement IDNA mapping).
std::string normalize_domain(std::string_view d) {
    if (d.size() > 1 && d.back() == '.') {
        d.remove_suffix(1);
    }
    std::string out(d);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

std::string_view strip_brackets(std::string_view h) {
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
        h.remove_prefix(1);
        h.remove_suffix(1);
    }
    return h;
}

const domain_options* find_domain(const options& opt, std::string_view normalized) {
    for (const domain_options& d : opt.domains) {
        if (normalize_domain(d.name) == normalized) {
            return &d;
        }
    }
    return nullptr;
}

/// A DNS host name we are willing to look up for an unlisted domain: LDH labels (plus '_'),
/// 1..63 octets each, at most 253 in all, and a non-numeric last label (so that no IPv4
/// literal, in any of the forms inet_aton accepts, gets through).
bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) {
        return false;
    }
    std::size_t start = 0;
    bool last_numeric = false;
    while (start <= h.size()) {
        std::size_t dot = h.find('.', start);
        if (dot == std::string_view::npos) {
            dot = h.size();
        }
        const std::string_view label = h.substr(start, dot - start);
        if (label.empty() || label.size() > 63) {
            return false;
        }
        bool numeric = true;
        for (const char c : label) {
            const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if (!alnum && c != '-' && c != '_') {
                return false;
            }
            numeric = numeric && c >= '0' && c <= '9';
        }
        if (label.front() == '-' || label.back() == '-') {
            return false;
        }
        last_numeric = numeric;
        start = dot + 1;
    }
    return !last_numeric;
}

/// Parses a decimal port 1..65535, digits only.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    std::uint32_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v == 0 || v > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

struct parsed_route {
    bool direct_tls = false;
    std::string_view host; ///< without brackets
    std::uint16_t port = 0;
};

/// BOSH-ROUTE-2: proto:host:port split literally; nothing is decoded or normalised.
std::optional<parsed_route> parse_route(std::string_view route) {
    const std::size_t colon = route.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    parsed_route r;
    const std::string_view proto = route.substr(0, colon);
    if (iequals(proto, "xmpp")) {
        r.direct_tls = false;
    } else if (iequals(proto, "xmpps")) {
        r.direct_tls = true;
    } else {
        return std::nullopt;
    }
    const std::string_view rest = route.substr(colon + 1);
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            return std::nullopt;
        }
        r.host = rest.substr(1, close - 1);
        port_text = rest.substr(close + 2);
    } else {
        const std::size_t last = rest.rfind(':');
        if (last == std::string_view::npos) {
            return std::nullopt;
        }
        r.host = rest.substr(0, last);
        if (r.host.find(':') != std::string_view::npos) {
            return std::nullopt; // an unbracketed IPv6 literal is ambiguous
        }
        port_text = rest.substr(last + 1);
    }
    if (r.host.empty()) {
        return std::nullopt;
    }
    const auto port = parse_port(port_text);
    if (!port) {
        return std::nullopt;
    }
    r.port = *port;
    return r;
}

bool special_v4(const boost::asio::ip::address_v4& a) {
    const std::uint32_t v = a.to_uint();
    return (v >> 24) == 0                      // 0.0.0.0/8 "this network", unspecified
           || (v >> 24) == 10                  // 10/8 RFC 1918
           || (v & 0xFFC00000u) == 0x64400000u // 100.64/10 shared address space (RFC 6598)
           || (v >> 24) == 127                 // loopback
           || (v & 0xFFFF0000u) == 0xA9FE0000u // 169.254/16 link-local
           || (v & 0xFFF00000u) == 0xAC100000u // 172.16/12 RFC 1918
           || (v & 0xFFFFFF00u) == 0xC0000000u // 192.0.0/24 IETF protocol assignments (RFC 6890)
           || (v & 0xFFFF0000u) == 0xC0A80000u // 192.168/16 RFC 1918
           || (v & 0xFFFE0000u) == 0xC6120000u // 198.18/15 benchmarking (RFC 2544)
           || v >= 0xE0000000u;                // 224/4 multicast, 240/4 reserved, broadcast
}

bool special_v6(const boost::asio::ip::address_v6& a) {
    const auto b = a.to_bytes();
    const auto embedded_v4 = [&b] {
        return boost::asio::ip::address_v4(
            boost::asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
    };
    // ::ffff:a.b.c.d (mapped, ::ffff:0:0/96), ::ffff:0:a.b.c.d (translated, RFC 6145),
    // 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052) and ::a.b.c.d (deprecated
    // compatible form, which also covers :: and ::1) reach the embedded IPv4 address: the
    // IPv4 rules apply to it.
    const auto zero = [](auto x) { return x == 0; };
    const bool first10_zero = std::all_of(b.begin(), b.begin() + 10, zero);
    if (first10_zero && b[10] == 0xff && b[11] == 0xff) {
        return special_v4(embedded_v4());
    }
    if (first10_zero && b[10] == 0 && b[11] == 0) {
        return true; // ::, ::1 and IPv4-compatible addresses: never a public destination
    }
    if (std::all_of(b.begin(), b.begin() + 8, zero) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 &&
        b[11] == 0) {
        return special_v4(embedded_v4());
    }
    static constexpr std::array<unsigned char, 12> nat64{0x00, 0x64, 0xff, 0x9b, 0, 0,
                                                         0,    0,    0,    0,    0, 0};
    if (std::equal(nat64.begin(), nat64.end(), b.begin())) {
        return special_v4(embedded_v4());
    }
    // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): translates into whatever the operator's
    // network holds, so the whole prefix is refused.
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01) {
        return true;
    }
    // 2002::/16 (6to4, RFC 3056) and 2001::/32 (Teredo, RFC 4380) tunnel to an embedded IPv4
    // address (Teredo's obfuscated). Both are deprecated for servers (RFC 7526 for 6to4), a
    // real XMPP server has a native address, and a local relay or tunnel endpoint could
    // deliver into private networks: the whole prefixes are refused, whatever they embed.
    if ((b[0] == 0x20 && b[1] == 0x02) ||
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)) {
        return true;
    }
    return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)    // fe80::/10 link-local
           || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) // fec0::/10 site-local (deprecated)
           || (b[0] & 0xfe) == 0xfc                   // fc00::/7 unique local
           || b[0] == 0xff;                           // ff00::/8 multicast
}

} // namespace

std::variant<dial_plan, refusal> plan_target(const options& opt, std::string_view to,
                                             std::optional<std::string_view> route) {
    if (to.empty()) {
        return refusal{failure::improper_addressing,
                       "XEP-0124 §7.1: session request without 'to' (BOSH-COND-4)"};
    }
    dial_plan plan;
    plan.domain = normalize_domain(to);
    plan.ca_file = opt.ca_file;

    const domain_options* listed = find_domain(opt, plan.domain);
    if (listed != nullptr) {
        plan.tls = listed->tls;
        plan.force_tls_off = listed->force_tls_off;
        plan.tls_verify = listed->tls_verify;
        plan.proxy_protocol = listed->proxy_protocol;
        if (listed->ca_file) {
            plan.ca_file = listed->ca_file;
        }
    } else if (!opt.allow_any_domain) {
        return refusal{failure::host_unknown,
                       "XEP-0124 §7.1/§19: 'to' is not a domain served by this gateway "
                       "(BOSH-COND-3)"};
    } else if (!valid_hostname(plan.domain)) {
        return refusal{failure::host_unknown,
                       "XEP-0124 §19: 'to' is not an ASCII DNS host name (BOSH-COND-3)"};
    }
    // Unlisted domains always get the defaults: TLS required and verified (C2S-TLS-7).

    // BOSH-ROUTE-1: without an allow-list the attribute is ignored.
    if (route && !opt.route_allow.empty()) {
        const auto parsed = parse_route(*route);
        if (!parsed) {
            return refusal{failure::host_unknown,
                           "XEP-0124 §7.1: 'route' is not proto:host:port with proto xmpp or "
                           "xmpps (BOSH-ROUTE-2)"};
        }
        const auto rule =
            std::find_if(opt.route_allow.begin(), opt.route_allow.end(), [&](const route_rule& r) {
                return r.port == parsed->port && iequals(strip_brackets(r.host), parsed->host);
            });
        if (rule == opt.route_allow.end()) {
            return refusal{failure::host_unknown,
                           "XEP-0124 §7.1/§19: 'route' names a host:port that is not allowed "
                           "(BOSH-ROUTE-3)"};
        }
        // BOSH-ROUTE-4: `to` stays the stream `to` and the certificate identity.
        plan.fixed.push_back(dns::candidate{std::string(strip_brackets(rule->host)), rule->port,
                                            rule->direct_tls || parsed->direct_tls});
        return plan;
    }

    if (listed != nullptr && listed->target && !listed->target->unix_path.empty()) {
        plan.unix_path = listed->target->unix_path;
        return plan;
    }
    if (listed != nullptr && listed->target) {
        plan.fixed.push_back(
            dns::candidate{listed->target->host, listed->target->port, listed->target->direct_tls});
        return plan;
    }
    plan.use_srv = true;
    return plan;
}

bool address_permitted(const options& opt, const dial_plan& plan,
                       const boost::asio::ip::address& addr) {
    if (plan.tls == tls_mode::off && !plan.force_tls_off) {
        // Never TLS: only to a server on this host (nothing on the wire to read).
        return addr.is_loopback() ||
               (addr.is_v6() && addr.to_v6().is_v4_mapped() &&
                boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6())
                    .is_loopback());
    }
    if (!plan.fixed.empty() || opt.allow_private_addresses) {
        return true;
    }
    if (find_domain(opt, normalize_domain(plan.domain)) != nullptr) {
        return true; // the operator chose this domain; its DNS is trusted as configured
    }
    // BOSH-ROUTE-3: an open gateway must not become a relay into private networks.
    return addr.is_v4() ? !special_v4(addr.to_v4()) : !special_v6(addr.to_v6());
}

} // namespace boshgate::upstream
