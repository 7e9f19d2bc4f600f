// PROXY protocol v1/v2 headers (HAProxy proxy-protocol.txt): parsed exactly, never past their
// end, partial input asks for more, anything else is refused with a reason.
#include "boshgate/http/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace boshgate::http::proxy_protocol {
namespace {

namespace ip = boost::asio::ip;
using status = parse_result::status;

parse_result parse_text(std::string_view s)
{
    return parse({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

TEST(proxy_protocol, v1_tcp4_and_what_follows_is_left_alone)
{
    const std::string hdr = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
    const auto r = parse_text(hdr + "POST /http-bind HTTP/1.1\r\n");
    ASSERT_EQ(r.what, status::complete) << r.error;
    EXPECT_EQ(r.consumed, hdr.size());
    EXPECT_EQ(r.hdr.version, 1);
    EXPECT_EQ(r.hdr.source, ip::tcp::endpoint(ip::make_address("192.0.2.10"), 56324));
    EXPECT_EQ(r.hdr.destination, ip::tcp::endpoint(ip::make_address("198.51.100.1"), 443));
}

TEST(proxy_protocol, v1_tcp6_and_unknown)
{
    const auto r = parse_text("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n");
    ASSERT_EQ(r.what, status::complete) << r.error;
    EXPECT_EQ(r.hdr.source, ip::tcp::endpoint(ip::make_address("2001:db8::1"), 1));
    const auto u = parse_text("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\nGET");
    ASSERT_EQ(u.what, status::complete);
    EXPECT_EQ(u.consumed, std::string_view("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n").size());
    EXPECT_FALSE(u.hdr.source);
    EXPECT_EQ(parse_text("PROXY UNKNOWN\r\n").what, status::complete);
}

TEST(proxy_protocol, v1_partial_asks_for_more)
{
    for (std::string_view p : {"P", "PROXY", "PROXY ", "PROXY TCP4 192.0.2.10 198.51.100.1 5", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"}) {
        const auto r = parse_text(p);
        EXPECT_EQ(r.what, status::need_more) << p;
        EXPECT_GT(r.need, p.size()) << p;
    }
}

TEST(proxy_protocol, v1_invalid)
{
    for (std::string_view bad : {"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n",          // 4 fields
                                 "PROXY TCP4 192.0.2.10  198.51.100.1 1 2\r\n",           // empty field
                                 "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",           // family mismatch
                                 "PROXY TCP6 192.0.2.10 198.51.100.1 1 2\r\n",
                                 "PROXY TCP4 192.0.2.10 198.51.100.1 65536 2\r\n",        // port range
                                 "PROXY TCP4 192.0.2.10 198.51.100.1 01 2\r\n",           // leading zero
                                 "PROXY UDP4 192.0.2.10 198.51.100.1 1 2\r\n",
                                 "PROXY TCP4 192.0.2.10 198.51.100.1 1 2 3\r\n",          // 6 fields
                                 "GET / HTTP/1.1\r\n", "\x16\x03\x01"}) {
        EXPECT_EQ(parse_text(bad).what, status::invalid) << bad;
    }
    // No CRLF within the 107 bytes a v1 line may take.
    EXPECT_EQ(parse_text("PROXY TCP4 " + std::string(120, '1')).what, status::invalid);
}

std::string v2(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& payload)
{
    std::string h(v2_signature);
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>(payload.size() >> 8);
    h += static_cast<char>(payload.size() & 0xFF);
    return h + payload;
}

TEST(proxy_protocol, v2_roundtrip_ipv4_ipv6_and_mixed)
{
    const ip::tcp::endpoint s4(ip::make_address("192.0.2.10"), 40000);
    const ip::tcp::endpoint d4(ip::make_address("198.51.100.1"), 5280);
    const auto h4 = make_v2(s4, d4);
    EXPECT_EQ(h4.size(), 16u + 12u);
    const auto r4 = parse_text(h4 + "GET /");
    ASSERT_EQ(r4.what, status::complete) << r4.error;
    EXPECT_EQ(r4.consumed, h4.size());
    EXPECT_EQ(r4.hdr.version, 2);
    EXPECT_EQ(r4.hdr.source, s4);
    EXPECT_EQ(r4.hdr.destination, d4);

    const ip::tcp::endpoint s6(ip::make_address("2001:db8::7"), 1);
    const auto h6 = make_v2(s6, d4); // mixed: both sent as IPv6
    EXPECT_EQ(h6.size(), 16u + 36u);
    const auto r6 = parse_text(h6);
    ASSERT_EQ(r6.what, status::complete);
    EXPECT_EQ(r6.hdr.source, s6);
    EXPECT_EQ(r6.hdr.destination->address(), ip::make_address("::ffff:198.51.100.1"));
}

TEST(proxy_protocol, v2_local_tlvs_and_other_families)
{
    const auto local = make_v2_local();
    const auto rl = parse_text(local + "GET");
    ASSERT_EQ(rl.what, status::complete);
    EXPECT_EQ(rl.consumed, local.size());
    EXPECT_FALSE(rl.hdr.source);
    // TLVs after the addresses are skipped with the length.
    // 192.0.2.10:40000 -> 198.51.100.1:5280
    const unsigned char addrs[] = {0xC0, 0x00, 0x02, 0x0A, 0xC6, 0x33, 0x64, 0x01, 0x9C, 0x40, 0x14, 0xA0};
    std::string payload(reinterpret_cast<const char*>(addrs), sizeof addrs);
    payload += std::string("\x04\x00\x03" "abc", 6); // a TLV (type 4, length 3)
    const auto r = parse_text(v2(0x21, 0x11, payload) + "X");
    ASSERT_EQ(r.what, status::complete);
    EXPECT_EQ(r.consumed, 16u + payload.size());
    EXPECT_EQ(r.hdr.source, ip::tcp::endpoint(ip::make_address("192.0.2.10"), 40000));
    EXPECT_EQ(r.hdr.destination, ip::tcp::endpoint(ip::make_address("198.51.100.1"), 5280));
    // Unix and UDP families carry no usable client address.
    const auto unix_fam = parse_text(v2(0x21, 0x31, std::string(216, '\0')));
    ASSERT_EQ(unix_fam.what, status::complete);
    EXPECT_FALSE(unix_fam.hdr.source);
}

TEST(proxy_protocol, v2_partial_and_invalid)
{
    const auto h = make_v2(ip::tcp::endpoint(ip::make_address("192.0.2.10"), 1),
                           ip::tcp::endpoint(ip::make_address("192.0.2.11"), 2));
    for (std::size_t n = 1; n < h.size(); ++n) {
        const auto r = parse_text(h.substr(0, n));
        ASSERT_EQ(r.what, status::need_more) << n;
        EXPECT_GT(r.need, n);
        EXPECT_LE(r.need, h.size());
    }
    EXPECT_EQ(parse_text(v2(0x11, 0x11, std::string(12, '\0'))).what, status::invalid); // version 1
    EXPECT_EQ(parse_text(v2(0x22, 0x11, std::string(12, '\0'))).what, status::invalid); // command 2
    EXPECT_EQ(parse_text(v2(0x21, 0x11, std::string(8, '\0'))).what, status::invalid);  // short TCP4 block
    EXPECT_EQ(parse_text(v2(0x21, 0x21, std::string(20, '\0'))).what, status::invalid); // short TCP6 block
}

} // namespace
} // namespace boshgate::http::proxy_protocol
