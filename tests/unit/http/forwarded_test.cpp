// The client behind trusted proxies: networks, forwarding-header nodes, and the walk from the
// nearest hop outwards.
#include "boshgate/http/forwarded.hpp"

#include <gtest/gtest.h>

namespace boshgate::http {
namespace {

namespace ip = boost::asio::ip;

trusted_networks nets(const std::vector<std::string>& cidrs)
{
    std::string why;
    auto t = trusted_networks::parse(cidrs, why);
    EXPECT_TRUE(t) << why;
    return t.value_or(trusted_networks{});
}

ip::address a(const char* s)
{
    return ip::make_address(s);
}

TEST(forwarded, trusted_networks_parse_and_contain)
{
    const auto t = nets({"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"});
    EXPECT_TRUE(t.contains(a("10.1.2.3")));
    EXPECT_FALSE(t.contains(a("11.0.0.1")));
    EXPECT_TRUE(t.contains(a("192.0.2.7")));
    EXPECT_FALSE(t.contains(a("192.0.2.8")));
    EXPECT_TRUE(t.contains(a("2001:db8:1::5")));
    EXPECT_TRUE(t.contains(a("::1")));
    EXPECT_TRUE(t.contains(a("::ffff:10.9.9.9"))); // v4-mapped counts as IPv4
    EXPECT_TRUE(nets({"0.0.0.0/0"}).contains(a("203.0.113.1")));
    EXPECT_TRUE(nets({"10.1.2.3/8"}).contains(a("10.200.0.1"))); // host bits ignored
    std::string why;
    for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "example.com", "10.0.0.0/8x", ""}) {
        EXPECT_FALSE(trusted_networks::parse({bad}, why)) << bad;
        EXPECT_NE(why.find(bad), std::string::npos) << why;
    }
    EXPECT_TRUE(trusted_networks{}.empty());
}

TEST(forwarded, nodes)
{
    EXPECT_EQ(parse_forwarded_node("192.0.2.43"), a("192.0.2.43"));
    EXPECT_EQ(parse_forwarded_node(" 192.0.2.43:47011 "), a("192.0.2.43"));
    EXPECT_EQ(parse_forwarded_node("\"192.0.2.43:47011\""), a("192.0.2.43"));
    EXPECT_EQ(parse_forwarded_node("\"[2001:db8:cafe::17]:4711\""), a("2001:db8:cafe::17"));
    EXPECT_EQ(parse_forwarded_node("[2001:db8::1]"), a("2001:db8::1"));
    EXPECT_EQ(parse_forwarded_node("2001:db8::1"), a("2001:db8::1"));
    for (const char* bad : {"unknown", "_hidden", "", "[2001:db8::1", "[192.0.2.1]", "[::1]x", "example.com", "1.2.3"}) {
        EXPECT_FALSE(parse_forwarded_node(bad)) << bad;
    }
}

TEST(forwarded, untrusted_peer_is_the_client)
{
    const auto t = nets({"10.0.0.0/8"});
    EXPECT_EQ(forwarded_client(a("203.0.113.9"), std::nullopt, "198.51.100.1", t), a("203.0.113.9"));
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, std::nullopt, t), a("10.0.0.1"));
}

TEST(forwarded, x_forwarded_for_walks_from_the_nearest_hop)
{
    const auto t = nets({"10.0.0.0/8"});
    // client, then two of our proxies: the first untrusted from the right is the client.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, "198.51.100.1, 10.0.0.2", t), a("198.51.100.1"));
    // A spoofed entry on the left does not win: the nearest untrusted hop does.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, "1.1.1.1, 198.51.100.1", t), a("198.51.100.1"));
    // All hops trusted: the leftmost.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, "10.0.0.9, 10.0.0.2", t), a("10.0.0.9"));
    // A hop that is no address ends the walk at the last trusted one.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, "198.51.100.1, unknown, 10.0.0.2", t), a("10.0.0.2"));
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), std::nullopt, "garbage", t), a("10.0.0.1"));
}

TEST(forwarded, forwarded_header_wins_over_x_forwarded_for)
{
    const auto t = nets({"10.0.0.0/8"});
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), "for=192.0.2.60;proto=https;by=10.0.0.1, For=\"[2001:db8::5]:4711\"",
                               "198.51.100.1", t),
              a("2001:db8::5"));
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), "for=192.0.2.60, for=10.0.0.3", std::nullopt, t), a("192.0.2.60"));
    // An element without for= hides its hop.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), "for=192.0.2.60, proto=https", std::nullopt, t), a("10.0.0.1"));
    // A quoted comma does not split elements.
    EXPECT_EQ(forwarded_client(a("10.0.0.1"), "for=192.0.2.60;x=\"a,b\"", std::nullopt, t), a("192.0.2.60"));
}

} // namespace
} // namespace boshgate::http
