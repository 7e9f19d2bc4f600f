#include "boshgate/config/values.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace boshgate::config {
namespace {

using namespace std::chrono_literals;

TEST(config_values, duration_units)
{
    EXPECT_EQ(parse_duration("0s").value(), 0ms);
    EXPECT_EQ(parse_duration("500ms").value(), 500ms);
    EXPECT_EQ(parse_duration("5s").value(), 5000ms);
    EXPECT_EQ(parse_duration("2m").value(), 120'000ms);
    EXPECT_EQ(parse_duration("1h").value(), 3'600'000ms);
    EXPECT_EQ(parse_duration("1d").value(), 86'400'000ms);
    EXPECT_EQ(parse_duration("007s").value(), 7000ms);
}

TEST(config_values, duration_rejects_malformed_text)
{
    for (const char* bad : {"", "5", "s", "ms", "-5s", "+5s", "5 s", " 5s", "5s ", "1.5s", "5S", "5sec", "5min",
                            "5us", "1e3ms", "5s5", "0x10s"}) {
        auto r = parse_duration(bad);
        ASSERT_FALSE(r.has_value()) << '"' << bad << '"';
        EXPECT_NE(r.error().message.find("invalid duration"), std::string::npos) << r.error().message;
    }
}

TEST(config_values, duration_overflow_is_an_error_not_a_wrap)
{
    auto r = parse_duration("99999999999999999999s");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("too large"), std::string::npos);
    // Fits in int64 as a number of days, but not as milliseconds.
    r = parse_duration("9223372036854775d");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("too large"), std::string::npos);
}

TEST(config_values, value_throws_invalid_argument_with_the_message)
{
    EXPECT_THROW(static_cast<void>(parse_duration("x").value()), std::invalid_argument);
}

TEST(config_values, format_duration_uses_largest_exact_unit)
{
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(120s), "2m");
    EXPECT_EQ(format_duration(3600s), "1h");
    EXPECT_EQ(format_duration(86400s), "1d");
}

TEST(config_values, host_port_ipv4_ipv6_and_names)
{
    auto a = parse_host_port("127.0.0.1:5222", host_kind::ip_only).value();
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 5222);
    auto b = parse_host_port("[::1]:53", host_kind::ip_only).value();
    EXPECT_EQ(b.host, "::1");
    EXPECT_EQ(b.port, 53);
    auto c = parse_host_port("xmpp1.example.net:5223", host_kind::name_or_ip).value();
    EXPECT_EQ(c.host, "xmpp1.example.net");
    EXPECT_EQ(c.port, 5223);
    auto d = parse_host_port("0.0.0.0:0", host_kind::ip_only, 0).value();
    EXPECT_EQ(d.port, 0);
}

TEST(config_values, host_port_rejections)
{
    struct bad_case {
        const char* text;
        host_kind kind;
        const char* reason;
    };
    for (const auto& bc : std::initializer_list<bad_case>{
             {"127.0.0.1", host_kind::ip_only, "expected \"IP:PORT\""},
             {":5222", host_kind::ip_only, "expected"},
             {"127.0.0.1:", host_kind::ip_only, "expected"},
             {"127.0.0.1:52a2", host_kind::ip_only, "expected"},
             {"127.0.0.1:-1", host_kind::ip_only, "expected"},
             {"127.0.0.1:65536", host_kind::ip_only, "port must be between 1 and 65535"},
             {"127.0.0.1:0", host_kind::ip_only, "port must be between 1 and 65535"},
             {"127.0.0.1:123456", host_kind::ip_only, "expected"},
             {"::1:5280", host_kind::ip_only, "IPv6 addresses need brackets"},
             {"[::1]5280", host_kind::ip_only, "expected"},
             {"[::1", host_kind::ip_only, "expected"},
             {"[127.0.0.1]:5280", host_kind::ip_only, "is not an IPv6 address"},
             {"localhost:5280", host_kind::ip_only, "is not a numeric IP address"},
             {"bad_host!:5222", host_kind::name_or_ip, "is not a valid host name"},
             {"10.0.0.300:5222", host_kind::name_or_ip, "is not a valid host name"},
         }) {
        auto r = parse_host_port(bc.text, bc.kind);
        ASSERT_FALSE(r.has_value()) << bc.text;
        EXPECT_NE(r.error().message.find(bc.reason), std::string::npos) << bc.text << " -> " << r.error().message;
    }
}

TEST(config_values, format_host_port_brackets_ipv6)
{
    EXPECT_EQ(format_host_port("::1", 5280), "[::1]:5280");
    EXPECT_EQ(format_host_port("127.0.0.1", 5280), "127.0.0.1:5280");
}

TEST(config_values, host_names)
{
    EXPECT_TRUE(is_host_name("localhost"));
    EXPECT_TRUE(is_host_name("example.com."));
    EXPECT_TRUE(is_host_name("a-b.example"));
    EXPECT_TRUE(is_host_name(std::string(63, 'a') + ".com"));
    EXPECT_FALSE(is_host_name(std::string(64, 'a') + ".com"));
    EXPECT_FALSE(is_host_name(""));
    EXPECT_FALSE(is_host_name("."));
    EXPECT_FALSE(is_host_name("a..b"));
    EXPECT_FALSE(is_host_name("-a.com"));
    EXPECT_FALSE(is_host_name("a-.com"));
    EXPECT_FALSE(is_host_name("a b.com"));
    EXPECT_FALSE(is_host_name("user@example.com"));
    EXPECT_FALSE(is_host_name("1.2.3.4")); // an address, not a name (RFC 1123 §2.1)
    EXPECT_TRUE(is_ip_literal("1.2.3.4"));
    EXPECT_TRUE(is_ip_literal("::"));
    EXPECT_FALSE(is_ip_literal("[::1]"));
    EXPECT_FALSE(is_ip_literal(""));
}

} // namespace
} // namespace boshgate::config
