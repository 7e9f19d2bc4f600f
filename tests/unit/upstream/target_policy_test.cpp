// upstream::plan_target / address_permitted: which upstream a session may dial.
#include "boshgate/upstream/target_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace {

using boshgate::upstream::address_permitted;
using boshgate::upstream::dial_plan;
using boshgate::upstream::domain_options;
using boshgate::upstream::failure;
using boshgate::upstream::options;
using boshgate::upstream::plan_target;
using boshgate::upstream::refusal;
using boshgate::upstream::route_rule;
using boshgate::upstream::static_target;
using boshgate::upstream::tls_mode;
namespace ip = boost::asio::ip;

options listed_config() {
    options o;
    domain_options a;
    a.name = "Example.COM";
    o.domains.push_back(a);

    domain_options fixed;
    fixed.name = "fixed.test";
    fixed.target = static_target{"10.0.0.5", 5999, false, {}};
    fixed.ca_file = "/etc/boshgate/fixed-ca.pem";
    o.domains.push_back(fixed);

    domain_options plain;
    plain.name = "demo.local";
    plain.tls = tls_mode::plaintext;
    plain.tls_verify = false;
    plain.target = static_target{"127.0.0.1", 5222, false, {}};
    o.domains.push_back(plain);

    o.ca_file = "/etc/boshgate/global-ca.pem";
    return o;
}

dial_plan expect_plan(const std::variant<dial_plan, refusal>& v) {
    if (const auto* r = std::get_if<refusal>(&v)) {
        ADD_FAILURE() << "refused: " << r->reason;
        return {};
    }
    return std::get<dial_plan>(v);
}

refusal expect_refusal(const std::variant<dial_plan, refusal>& v) {
    if (std::holds_alternative<dial_plan>(v)) {
        ADD_FAILURE() << "unexpectedly allowed";
        return {failure::protocol_error, ""};
    }
    return std::get<refusal>(v);
}

TEST(target_policy, missing_to_is_improper_addressing) {
    // BOSH-COND-4
    const auto r = expect_refusal(plan_target(listed_config(), "", std::nullopt));
    EXPECT_EQ(r.why, failure::improper_addressing);
    EXPECT_NE(r.reason.find("XEP-0124 §7.1"), std::string::npos);
}

TEST(target_policy, unlisted_domain_is_host_unknown) {
    // BOSH-COND-3: to='not-allowed.test' => host-unknown, nothing to dial.
    const auto r = expect_refusal(plan_target(listed_config(), "not-allowed.test", std::nullopt));
    EXPECT_EQ(r.why, failure::host_unknown);
    EXPECT_NE(r.reason.find("BOSH-COND-3"), std::string::npos);
}

TEST(target_policy, listed_domain_matches_case_insensitively_and_uses_srv) {
    const auto p = expect_plan(plan_target(listed_config(), "EXAMPLE.com", std::nullopt));
    EXPECT_EQ(p.domain, "example.com");
    EXPECT_TRUE(p.use_srv);
    EXPECT_TRUE(p.fixed.empty());
    EXPECT_EQ(p.tls, tls_mode::required);
    EXPECT_TRUE(p.tls_verify);
    EXPECT_EQ(p.ca_file, "/etc/boshgate/global-ca.pem");

    // RFC 7622 §3.2: a trailing dot is stripped before comparison.
    const auto dotted = expect_plan(plan_target(listed_config(), "example.com.", std::nullopt));
    EXPECT_EQ(dotted.domain, "example.com");
}

TEST(target_policy, static_target_is_dialled_without_srv) {
    const auto p = expect_plan(plan_target(listed_config(), "fixed.test", std::nullopt));
    EXPECT_EQ(p.domain, "fixed.test");
    EXPECT_FALSE(p.use_srv);
    ASSERT_EQ(p.fixed.size(), 1u);
    EXPECT_EQ(p.fixed[0].host, "10.0.0.5");
    EXPECT_EQ(p.fixed[0].port, 5999);
    EXPECT_FALSE(p.fixed[0].direct_tls);
    EXPECT_EQ(p.ca_file, "/etc/boshgate/fixed-ca.pem");
    // Static targets are trusted as configured, private address or not.
    EXPECT_TRUE(address_permitted(listed_config(), p, ip::make_address("10.0.0.5")));
}

TEST(target_policy, plaintext_only_when_configured_for_the_domain) {
    // C2S-TLS-7
    const auto demo = expect_plan(plan_target(listed_config(), "demo.local", std::nullopt));
    EXPECT_EQ(demo.tls, tls_mode::plaintext);
    EXPECT_FALSE(demo.tls_verify);

    auto o = listed_config();
    o.allow_any_domain = true;
    const auto other = expect_plan(plan_target(o, "elsewhere.example", std::nullopt));
    EXPECT_EQ(other.tls, tls_mode::required);
    EXPECT_TRUE(other.tls_verify);
    const auto listed = expect_plan(plan_target(o, "example.com", std::nullopt));
    EXPECT_EQ(listed.tls, tls_mode::required);
}

TEST(target_policy, route_is_ignored_without_allow_list) {
    // BOSH-ROUTE-1: fixed-backend config, route pointing elsewhere => configured backend used.
    const auto p = expect_plan(
        plan_target(listed_config(), "fixed.test", std::string_view("xmpp:evil.test:5222")));
    ASSERT_EQ(p.fixed.size(), 1u);
    EXPECT_EQ(p.fixed[0].host, "10.0.0.5");
    const auto srv =
        expect_plan(plan_target(listed_config(), "example.com", std::string_view("garbage")));
    EXPECT_TRUE(srv.use_srv);
    EXPECT_TRUE(srv.fixed.empty());
}

options route_config() {
    auto o = listed_config();
    o.route_allow.push_back(route_rule{"xmpp1.example.net", 5222, false});
    o.route_allow.push_back(route_rule{"[2001:db8::1]", 5223, true});
    o.route_allow.push_back(route_rule{"192.0.2.8", 5269, false});
    return o;
}

TEST(target_policy, allowed_route_chooses_the_host_but_to_stays_the_domain) {
    // BOSH-ROUTE-4: to='example.com', route to xmpp1.example.net => domain example.com.
    const auto p = expect_plan(plan_target(route_config(), "example.com",
                                           std::string_view("xmpp:XMPP1.example.net:5222")));
    EXPECT_EQ(p.domain, "example.com");
    EXPECT_FALSE(p.use_srv);
    ASSERT_EQ(p.fixed.size(), 1u);
    EXPECT_EQ(p.fixed[0].host, "xmpp1.example.net");
    EXPECT_EQ(p.fixed[0].port, 5222);
    EXPECT_FALSE(p.fixed[0].direct_tls);
    // A route wins over a static target too.
    const auto f = expect_plan(
        plan_target(route_config(), "fixed.test", std::string_view("xmpp:192.0.2.8:5269")));
    ASSERT_EQ(f.fixed.size(), 1u);
    EXPECT_EQ(f.fixed[0].host, "192.0.2.8");
    EXPECT_EQ(f.fixed[0].port, 5269);
    EXPECT_EQ(f.domain, "fixed.test");
}

TEST(target_policy, route_with_bracketed_ipv6_and_xmpps) {
    const auto p = expect_plan(
        plan_target(route_config(), "example.com", std::string_view("xmpp:[2001:db8::1]:5223")));
    ASSERT_EQ(p.fixed.size(), 1u);
    EXPECT_EQ(p.fixed[0].host, "2001:db8::1");
    EXPECT_EQ(p.fixed[0].port, 5223);
    EXPECT_TRUE(p.fixed[0].direct_tls); // the rule says direct TLS

    // xmpps: asks for direct TLS even where the rule does not.
    const auto s = expect_plan(
        plan_target(route_config(), "example.com", std::string_view("xmpps:192.0.2.8:5269")));
    ASSERT_EQ(s.fixed.size(), 1u);
    EXPECT_TRUE(s.fixed[0].direct_tls);
}

TEST(target_policy, route_is_split_literally_never_decoded) {
    // BOSH-ROUTE-2
    auto o = route_config();
    o.route_allow.push_back(route_rule{"example.com.evil.test", 5222, false});
    for (const char* route : {"xmpp:example.com%2eevil.test:5222", "xmpp:xmpp1%2Eexample.net:5222",
                              "xmpp://xmpp1.example.net:5222", "xmpp:user@xmpp1.example.net:5222",
                              "xmpp:xmpp1.example.net:5222/path", "xmpp:xmpp1.example.net:05222x",
                              "xmpp:xmpp1.example.net:+5222", "xmpp:xmpp1.example.net: 5222"}) {
        const auto r = expect_refusal(plan_target(o, "example.com", std::string_view(route)));
        EXPECT_EQ(r.why, failure::host_unknown) << route;
    }
}

TEST(target_policy, route_must_match_an_allowed_host_and_port_exactly) {
    // BOSH-ROUTE-3: route='xmpp:127.0.0.1:22' => host-unknown.
    const auto o = route_config();
    for (const char* route :
         {"xmpp:127.0.0.1:22", "xmpp:xmpp1.example.net:22", "xmpp:xmpp2.example.net:5222",
          "xmpp:xmpp1.example.net.:5222", "xmpp:192.0.2.8:5222", "xmpp:2001:db8::1:5223",
          "xmpp:[2001:db8::2]:5223", "xmpp:[2001:db8::1]5223", "http:xmpp1.example.net:5222",
          "xmpp:xmpp1.example.net", "xmpp:xmpp1.example.net:0", "xmpp:xmpp1.example.net:70000",
          "xmpp::5222", "", "xmpp1.example.net:5222"}) {
        const auto r = expect_refusal(plan_target(o, "example.com", std::string_view(route)));
        EXPECT_EQ(r.why, failure::host_unknown) << route;
        EXPECT_NE(r.reason.find("BOSH-ROUTE"), std::string::npos) << route;
    }
}

TEST(target_policy, route_does_not_bypass_the_domain_check) {
    // BOSH-COND-3 before routing: an allowed route does not make any `to` acceptable.
    const auto r = expect_refusal(
        plan_target(route_config(), "other.test", std::string_view("xmpp:xmpp1.example.net:5222")));
    EXPECT_EQ(r.why, failure::host_unknown);
}

TEST(target_policy, allow_any_domain_resolves_unlisted_domains_by_srv) {
    auto o = listed_config();
    o.allow_any_domain = true;
    const auto p = expect_plan(plan_target(o, "Jabber.Example.ORG", std::nullopt));
    EXPECT_EQ(p.domain, "jabber.example.org");
    EXPECT_TRUE(p.use_srv);
    EXPECT_TRUE(p.fixed.empty());
    EXPECT_EQ(p.ca_file, "/etc/boshgate/global-ca.pem");
}

TEST(target_policy, allow_any_domain_still_refuses_non_hostnames) {
    // BOSH-ROUTE-3 / BOSH-COND-3: no IP literals or odd names as an unlisted `to`.
    auto o = listed_config();
    o.allow_any_domain = true;
    for (const char* to :
         {"127.0.0.1", "10.1", "[::1]", "::1", "a..b", "-a.test", "a b.test", "exa%2emple.com",
          "user@example.com", "example.com/x", "bücher.example", "."}) {
        const auto r = expect_refusal(plan_target(o, to, std::nullopt));
        EXPECT_EQ(r.why, failure::host_unknown) << to;
    }
}

TEST(target_policy, private_addresses_refused_for_open_gateway_targets) {
    // BOSH-ROUTE-3: loopback, link-local, RFC1918, ULA, unspecified, multicast.
    auto o = listed_config();
    o.allow_any_domain = true;
    const auto p = expect_plan(plan_target(o, "public.example", std::nullopt));
    for (const char* a : {"127.0.0.1",
                          "127.9.9.9",
                          "10.0.0.1",
                          "172.16.0.1",
                          "172.31.255.255",
                          "192.168.1.1",
                          "169.254.1.1",
                          "0.0.0.0",
                          "224.0.0.1",
                          "239.255.255.250",
                          "255.255.255.255",
                          "100.64.0.1",
                          "::",
                          "::1",
                          "fe80::1",
                          "fc00::1",
                          "fd12:3456::1",
                          "ff02::1",
                          "::ffff:127.0.0.1",
                          "::ffff:192.168.0.1",
                          "64:ff9b::a00:1",
                          "fec0::1"}) {
        EXPECT_FALSE(address_permitted(o, p, ip::make_address(a))) << a;
    }
    for (const char* a : {"192.0.2.1", "8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                          "2001:db8::1", "2a01:4f8::1", "::ffff:8.8.8.8", "64:ff9b::808:808"}) {
        EXPECT_TRUE(address_permitted(o, p, ip::make_address(a))) << a;
    }
}

/// An open-gateway plan for an unlisted domain (the address filter applies).
struct open_gateway {
    options o = [] {
        auto c = listed_config();
        c.allow_any_domain = true;
        return c;
    }();
    dial_plan p = expect_plan(plan_target(o, "public.example", std::nullopt));
    bool permitted(const char* a) const { return address_permitted(o, p, ip::make_address(a)); }
};

TEST(target_policy, special_purpose_ipv4_ranges_refused) {
    // BOSH-ROUTE-3: 192.0.0.0/24 (IETF protocol assignments) and 198.18.0.0/15 (benchmarking).
    const open_gateway g;
    for (const char* a : {"192.0.0.0", "192.0.0.8", "192.0.0.255", "198.18.0.1", "198.19.255.255"}) {
        EXPECT_FALSE(g.permitted(a)) << a;
    }
    for (const char* a : {"192.0.1.1", "198.17.255.255", "198.20.0.1"}) {
        EXPECT_TRUE(g.permitted(a)) << a;
    }
}

TEST(target_policy, ipv4_mapped_and_translated_follow_the_ipv4_rules) {
    // BOSH-ROUTE-3: ::ffff:0:0/96 and ::ffff:0:0:0/96 carry an IPv4 destination.
    const open_gateway g;
    for (const char* a : {"::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:100.64.0.1",
                          "::ffff:192.0.0.9", "::ffff:198.18.0.1", "::ffff:0.0.0.0",
                          "::ffff:0:127.0.0.1", "::ffff:0:10.0.0.1", "::ffff:0:198.18.3.4"}) {
        EXPECT_FALSE(g.permitted(a)) << a;
    }
    for (const char* a : {"::ffff:93.184.216.34", "::ffff:0:93.184.216.34"}) {
        EXPECT_TRUE(g.permitted(a)) << a;
    }
}

TEST(target_policy, nat64_prefixes) {
    // BOSH-ROUTE-3: 64:ff9b::/96 (RFC 6052) follows the rules for the embedded IPv4 address;
    // 64:ff9b:1::/48 (local-use, RFC 8215) is refused whole.
    const open_gateway g;
    for (const char* a : {"64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::192.168.0.1",
                          "64:ff9b::198.18.0.1", "64:ff9b::192.0.0.170", "64:ff9b:1::1",
                          "64:ff9b:1::93.184.216.34", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"}) {
        EXPECT_FALSE(g.permitted(a)) << a;
    }
    for (const char* a : {"64:ff9b::93.184.216.34", "64:ff9b:2::1"}) {
        EXPECT_TRUE(g.permitted(a)) << a;
    }
}

TEST(target_policy, tunnel_prefixes_refused_whole) {
    // BOSH-ROUTE-3: 6to4 (2002::/16) and Teredo (2001::/32) are refused whatever they embed
    // (deprecated for servers; a relay could reach private networks).
    const open_gateway g;
    for (const char* a : {"2002:a00:1::1", "2002:7f00:1::", "2002:5db8:d822::1", "2002::",
                          "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"}) {
        EXPECT_FALSE(g.permitted(a)) << a;
    }
    for (const char* a : {"2001:db8::1", "2001:4860:4860::8888", "2003::1", "2a00:1450::1"}) {
        EXPECT_TRUE(g.permitted(a)) << a;
    }
}

TEST(target_policy, private_addresses_allowed_when_configured) {
    auto o = listed_config();
    o.allow_any_domain = true;
    o.allow_private_addresses = true;
    const auto p = expect_plan(plan_target(o, "public.example", std::nullopt));
    EXPECT_TRUE(address_permitted(o, p, ip::make_address("127.0.0.1")));
    EXPECT_TRUE(address_permitted(o, p, ip::make_address("fd00::1")));
}

TEST(target_policy, listed_domains_and_allowed_routes_are_trusted) {
    auto o = route_config();
    o.allow_any_domain = true;
    const auto listed = expect_plan(plan_target(o, "example.com", std::nullopt));
    EXPECT_TRUE(address_permitted(o, listed, ip::make_address("192.168.1.10")));
    const auto routed =
        expect_plan(plan_target(o, "public.example", std::string_view("xmpp:192.0.2.8:5269")));
    EXPECT_TRUE(address_permitted(o, routed, ip::make_address("10.9.9.9")));
}

// tls = "off": credentials go in the clear, so only loopback addresses are dialled, even for
// a listed domain with a static target or an allowed route; force_tls_off lifts that.
TEST(target_policy, tls_off_permits_only_loopback_addresses) {
    auto o = listed_config();
    domain_options off;
    off.name = "same-host.example";
    off.target = static_target{"localhost", 5222, false, {}};
    off.tls = tls_mode::off;
    o.domains.push_back(off);
    o.allow_private_addresses = true;
    const auto p = expect_plan(plan_target(o, "same-host.example", std::nullopt));
    EXPECT_EQ(p.tls, tls_mode::off);
    EXPECT_FALSE(p.force_tls_off);
    for (const char* a : {"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"}) {
        EXPECT_TRUE(address_permitted(o, p, ip::make_address(a))) << a;
    }
    for (const char* a : {"192.168.1.10", "10.0.0.1", "198.51.100.7", "2001:db8::1", "::ffff:10.0.0.1", "::"}) {
        EXPECT_FALSE(address_permitted(o, p, ip::make_address(a))) << a;
    }

    o.domains.back().force_tls_off = true;
    const auto forced = expect_plan(plan_target(o, "same-host.example", std::nullopt));
    EXPECT_TRUE(forced.force_tls_off);
    EXPECT_TRUE(address_permitted(o, forced, ip::make_address("192.168.1.10")));
}

// Issue 9: a static Unix socket target is dialled as such: no SRV, no host:port candidate,
// and a BOSH `route` cannot redirect it unless it names an allowed route.
TEST(target_policy, unix_socket_target_plans_the_path) {
    auto o = listed_config();
    domain_options local;
    local.name = "local.example";
    local.target = static_target{};
    local.target->unix_path = "/run/ejabberd/c2s.sock";
    local.tls = tls_mode::off;
    o.domains.push_back(local);
    const auto p = expect_plan(plan_target(o, "local.example", std::nullopt));
    EXPECT_EQ(p.unix_path, "/run/ejabberd/c2s.sock");
    EXPECT_TRUE(p.fixed.empty());
    EXPECT_FALSE(p.use_srv);
    EXPECT_EQ(p.tls, tls_mode::off);

    const auto other = expect_plan(plan_target(o, "example.com", std::nullopt));
    EXPECT_TRUE(other.unix_path.empty());
}

} // namespace
