#include "boshgate/config/config.hpp"

#include <gtest/gtest.h>

namespace boshgate::config {
namespace {

config base()
{
    config c;
    http::listen_options tls;
    tls.address = "0.0.0.0";
    tls.port = 443;
    tls.backlog = 100;
    tls.tls_cert_file = "/etc/boshgate/cert.pem";
    tls.tls_key_file = "/etc/boshgate/key.pem";
    c.http.listen = {tls};
    c.server.threads = 4;
    c.server.log_level = "info";
    return c;
}

TEST(config_overrides, empty_overrides_change_nothing)
{
    config c = base();
    EXPECT_TRUE(apply_overrides(c, {}).empty());
    ASSERT_EQ(c.http.listen.size(), 1u);
    EXPECT_EQ(c.http.listen[0].port, 443);
    EXPECT_EQ(c.server.threads, 4u);
    EXPECT_EQ(c.server.log_level, "info");
}

TEST(config_overrides, listen_replaces_all_listeners_with_plain_http)
{
    config c = base();
    overrides ov;
    ov.listen = {"127.0.0.1:0", "[::1]:5281"};
    ASSERT_TRUE(apply_overrides(c, ov).empty());
    ASSERT_EQ(c.http.listen.size(), 2u);
    EXPECT_EQ(c.http.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.http.listen[0].port, 0);
    EXPECT_FALSE(c.http.listen[0].tls_cert_file.has_value());
    EXPECT_FALSE(c.http.listen[0].tls_key_file.has_value());
    EXPECT_EQ(c.http.listen[0].backlog, http::listen_options{}.backlog);
    EXPECT_EQ(c.http.listen[1].address, "::1");
    EXPECT_EQ(c.http.listen[1].port, 5281);
}

TEST(config_overrides, log_level_and_threads)
{
    config c = base();
    overrides ov;
    ov.log_level = "trace";
    ov.threads = 0;
    ASSERT_TRUE(apply_overrides(c, ov).empty());
    EXPECT_EQ(c.server.log_level, "trace");
    EXPECT_EQ(c.server.threads, 0u);
}

TEST(config_overrides, invalid_flags_are_all_reported_and_nothing_is_applied)
{
    config c = base();
    overrides ov;
    ov.listen = {"127.0.0.1:5280", "localhost:80", "127.0.0.1:5280"};
    ov.log_level = "chatty";
    ov.threads = -2;
    const auto errors = apply_overrides(c, ov);
    ASSERT_EQ(errors.size(), 4u);
    EXPECT_EQ(errors[0].where, "--listen");
    EXPECT_NE(errors[0].message.find("\"localhost\" is not a numeric IP address"), std::string::npos);
    EXPECT_EQ(errors[1].where, "--listen");
    EXPECT_EQ(errors[1].message, "127.0.0.1:5280 is given twice");
    EXPECT_EQ(errors[2].where, "--log-level");
    EXPECT_EQ(errors[2].message, "must be one of trace, debug, info, warn, error, off (got \"chatty\")");
    EXPECT_EQ(errors[3].where, "--threads");
    EXPECT_EQ(errors[3].message, "must be between 0 and 1024 (got -2)");
    // All or nothing: the valid --listen entry was not applied either.
    ASSERT_EQ(c.http.listen.size(), 1u);
    EXPECT_EQ(c.http.listen[0].port, 443);
    EXPECT_EQ(c.server.log_level, "info");
    EXPECT_EQ(c.server.threads, 4u);
}

TEST(config_overrides, threads_upper_bound)
{
    config c = base();
    overrides ov;
    ov.threads = 1025;
    const auto errors = apply_overrides(c, ov);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].message, "must be between 0 and 1024 (got 1025)");
    ov.threads = 1024;
    EXPECT_TRUE(apply_overrides(c, ov).empty());
    EXPECT_EQ(c.server.threads, 1024u);
}

} // namespace
} // namespace boshgate::config
