// The shipped conf/boshgate.toml must always load: it is the documentation of every option
// and the out-of-the-box demo configuration.
#include "boshgate/config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace boshgate::config {
namespace {

using namespace std::chrono_literals;

/// conf/ of the source tree: from BOSHGATE_TEST_DATA (tests/support, set by ctest), else from
/// this file's own path.
std::filesystem::path conf_dir()
{
    if (const char* data = std::getenv("BOSHGATE_TEST_DATA")) {
        return std::filesystem::path(data).parent_path().parent_path() / "conf";
    }
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "conf";
}

config load_shipped(const load_options& opt)
{
    const auto path = (conf_dir() / "boshgate.toml").string();
    auto r = load_file(path, opt);
    if (auto* errors = std::get_if<std::vector<load_error>>(&r)) {
        std::string all;
        for (const auto& e : *errors) {
            all += e.where + ": " + e.message + "\n";
        }
        ADD_FAILURE() << path << " does not load:\n" << all;
        return {};
    }
    return std::get<config>(r);
}

TEST(shipped_config, loads_and_matches_the_documented_defaults)
{
    // Files are not checked here: conf/www belongs to the demo page (checked below).
    const config c = load_shipped({.check_files = false});
    const config d{};

    ASSERT_EQ(c.http.listen.size(), 1u);
    EXPECT_EQ(c.http.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.http.listen[0].port, 5280);
    EXPECT_EQ(c.http.listen[0].backlog, d.http.listen[0].backlog);
    EXPECT_FALSE(c.http.listen[0].tls_cert_file.has_value());
    EXPECT_EQ(std::filesystem::path(c.http.static_dir), (conf_dir() / "www").lexically_normal());

    // The file documents the struct defaults: a value that drifted from them shows up here.
    EXPECT_EQ(c.server.threads, d.server.threads);
    EXPECT_EQ(c.server.nofile, d.server.nofile);
    EXPECT_EQ(c.server.log_level, d.server.log_level);
    EXPECT_EQ(c.server.log_format, d.server.log_format);
    EXPECT_EQ(c.admin.enabled, d.admin.enabled);
    EXPECT_EQ(c.admin.address, d.admin.address);
    EXPECT_EQ(c.admin.port, d.admin.port);
    EXPECT_TRUE(c.admin.allow.empty());
    EXPECT_EQ(c.server.shutdown_grace, d.server.shutdown_grace);
    EXPECT_EQ(c.server.drain_timeout, d.server.drain_timeout);
    EXPECT_EQ(c.server.instance_id, d.server.instance_id);
    EXPECT_EQ(c.http.bosh_path, d.http.bosh_path);
    EXPECT_EQ(c.http.websocket_path, d.http.websocket_path);
    EXPECT_EQ(c.http.cors_origins, d.http.cors_origins);
    EXPECT_EQ(c.http.cors_max_age, d.http.cors_max_age);
    EXPECT_EQ(c.http.max_body_bytes, d.http.max_body_bytes);
    EXPECT_EQ(c.http.max_header_bytes, d.http.max_header_bytes);
    EXPECT_EQ(c.http.header_timeout, d.http.header_timeout);
    EXPECT_EQ(c.http.idle_timeout, d.http.idle_timeout);
    EXPECT_EQ(c.http.max_connections, d.http.max_connections);
    EXPECT_EQ(c.http.host_meta, d.http.host_meta);
    EXPECT_EQ(c.http.public_bosh_url, d.http.public_bosh_url);
    EXPECT_EQ(c.http.public_websocket_url, d.http.public_websocket_url);
    EXPECT_TRUE(c.http.trusted_proxies.empty());
    EXPECT_EQ(c.http.listen[0].proxy_protocol, d.http.listen[0].proxy_protocol);
    EXPECT_EQ(c.bosh.max_wait, d.bosh.max_wait);
    EXPECT_EQ(c.bosh.default_wait, d.bosh.default_wait);
    EXPECT_EQ(c.bosh.max_hold, d.bosh.max_hold);
    EXPECT_EQ(c.bosh.inactivity, d.bosh.inactivity);
    EXPECT_EQ(c.bosh.polling, d.bosh.polling);
    EXPECT_EQ(c.bosh.polling_inactivity, d.bosh.polling_inactivity);
    EXPECT_EQ(c.bosh.max_pause, d.bosh.max_pause);
    EXPECT_EQ(c.bosh.enforce_overactivity, d.bosh.enforce_overactivity);
    EXPECT_EQ(c.bosh.enforce_polling, d.bosh.enforce_polling);
    EXPECT_EQ(c.bosh.server_acks, d.bosh.server_acks);
    EXPECT_EQ(c.bosh.max_rid_repeats, d.bosh.max_rid_repeats);
    EXPECT_EQ(c.bosh.max_queued_bytes, d.bosh.max_queued_bytes);
    EXPECT_EQ(c.bosh.max_cached_responses, d.bosh.max_cached_responses);
    EXPECT_EQ(c.bosh.legacy_404_for_unknown_sid, d.bosh.legacy_404_for_unknown_sid);
    EXPECT_EQ(c.bosh.default_content_type, d.bosh.default_content_type);
    EXPECT_EQ(c.xml.max_element_bytes, d.xml.max_element_bytes);
    EXPECT_EQ(c.xml.max_depth, d.xml.max_depth);
    EXPECT_EQ(c.xml.max_namespace_decls, d.xml.max_namespace_decls);
    EXPECT_EQ(c.upstream.allow_any_domain, d.upstream.allow_any_domain);
    EXPECT_EQ(c.upstream.allow_private_addresses, d.upstream.allow_private_addresses);
    EXPECT_EQ(c.upstream.ca_file, d.upstream.ca_file);
    EXPECT_EQ(c.upstream.connect_timeout, d.upstream.connect_timeout);
    EXPECT_EQ(c.upstream.negotiate_timeout, d.upstream.negotiate_timeout);
    EXPECT_EQ(c.upstream.close_timeout, d.upstream.close_timeout);
    EXPECT_EQ(c.upstream.dns_timeout, d.upstream.dns_timeout);
    EXPECT_EQ(c.upstream.dns_server, d.upstream.dns_server);
    EXPECT_EQ(c.upstream.tcp_keepalive, d.upstream.tcp_keepalive);
    EXPECT_EQ(c.upstream.whitespace_keepalive, d.upstream.whitespace_keepalive);
    EXPECT_EQ(c.upstream.ping_interval, d.upstream.ping_interval);
    EXPECT_EQ(c.upstream.max_redirects, d.upstream.max_redirects);
    EXPECT_EQ(c.upstream.ping_timeout, d.upstream.ping_timeout);
    EXPECT_TRUE(c.upstream.route_allow.empty()); // BOSH-ROUTE-1
    EXPECT_EQ(c.websocket.enabled, d.websocket.enabled);
    EXPECT_EQ(c.websocket.ping_interval, d.websocket.ping_interval); // WS-KA-3
    EXPECT_EQ(c.websocket.idle_timeout, d.websocket.idle_timeout);
    EXPECT_EQ(c.websocket.open_timeout, d.websocket.open_timeout);
    EXPECT_EQ(c.websocket.close_timeout, d.websocket.close_timeout);
    EXPECT_EQ(c.websocket.max_message_bytes, d.websocket.max_message_bytes);
    EXPECT_EQ(c.websocket.legacy_framing, d.websocket.legacy_framing);
    EXPECT_EQ(c.websocket.see_other_uri, d.websocket.see_other_uri);
    // [limits]: on by default (SEC-LIMIT-1..6).
    EXPECT_EQ(c.limits.max_sessions, d.limits.max_sessions);
    EXPECT_EQ(c.limits.max_sessions_per_address, d.limits.max_sessions_per_address);
    EXPECT_EQ(c.limits.session_rate_per_address, d.limits.session_rate_per_address);
    EXPECT_EQ(c.limits.session_burst_per_address, d.limits.session_burst_per_address);
    EXPECT_EQ(c.limits.max_connections_per_address, d.limits.max_connections_per_address);
    EXPECT_EQ(c.limits.ipv6_prefix, d.limits.ipv6_prefix);
    EXPECT_EQ(c.limits.ipv4_prefix, d.limits.ipv4_prefix);
    EXPECT_EQ(c.limits.max_connecting_per_domain, d.limits.max_connecting_per_domain);
    EXPECT_EQ(c.limits.breaker_failures, d.limits.breaker_failures);
    EXPECT_EQ(c.limits.breaker_open, d.limits.breaker_open);
    EXPECT_EQ(c.limits.breaker_open_max, d.limits.breaker_open_max);
    EXPECT_EQ(c.limits.client_send_high_water, d.limits.client_send_high_water);
    EXPECT_EQ(c.limits.client_send_low_water, d.limits.client_send_low_water);
    EXPECT_EQ(c.limits.upstream_send_high_water, d.limits.upstream_send_high_water);
    EXPECT_EQ(c.limits.upstream_send_low_water, d.limits.upstream_send_low_water);
    EXPECT_EQ(c.limits.write_timeout, d.limits.write_timeout);

    // The demo domain: the same-host Prosody, plaintext by explicit opt-in (BOSH-SEC-1, C2S-TLS-7).
    ASSERT_EQ(c.upstream.domains.size(), 1u);
    const auto& dom = c.upstream.domains[0];
    EXPECT_EQ(dom.name, "localhost");
    ASSERT_TRUE(dom.target.has_value());
    EXPECT_EQ(dom.target->host, "127.0.0.1");
    EXPECT_EQ(dom.target->port, 5222);
    EXPECT_FALSE(dom.target->direct_tls);
    EXPECT_EQ(dom.tls, upstream::tls_mode::plaintext);
}

// With file checks on (what `boshgate --check-config` does), conf/www must exist too.
TEST(shipped_config, demo_static_dir_exists)
{
    const config c = load_shipped({.check_files = true});
    EXPECT_FALSE(c.http.static_dir.empty());
}

} // namespace
} // namespace boshgate::config
