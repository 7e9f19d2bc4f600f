// PROXY protocol v1/v2 (see proxy_protocol.hpp).
#include "boshgate/http/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace boshgate::http::proxy_protocol {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v2_fixed = 16; // signature, version/command, family, length

parse_result invalid(std::string why)
{
    parse_result r;
    r.what = parse_result::status::invalid;
    r.error = std::move(why);
    return r;
}

parse_result need(std::size_t n)
{
    parse_result r;
    r.what = parse_result::status::need_more;
    r.need = n;
    return r;
}

std::optional<std::uint16_t> parse_port(std::string_view s)
{
    // Decimal, no sign, no leading zero (except "0" itself), at most 65535.
    if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) {
        return std::nullopt;
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(v);
}

parse_result parse_v1(std::string_view text)
{
    const auto crlf = text.find("\r\n");
    if (crlf == std::string_view::npos) {
        if (text.size() >= v1_max_bytes) {
            return invalid("PROXY v1: no CRLF within 107 bytes");
        }
        return need(text.size() + 1);
    }
    const std::string_view line = text.substr(v1_prefix.size(), crlf - v1_prefix.size());
    parse_result r;
    r.what = parse_result::status::complete;
    r.consumed = crlf + 2;
    r.hdr.version = 1;
    if (line.starts_with("UNKNOWN")) {
        return r; // the rest of the line is to be ignored
    }
    // Exactly five fields separated by single spaces.
    std::array<std::string_view, 5> f;
    std::size_t n = 0;
    for (std::size_t pos = 0;;) {
        const auto sp = line.find(' ', pos);
        const auto field = line.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos);
        if (field.empty() || n == f.size()) {
            return invalid("PROXY v1: expected \"TCP4|TCP6 src dst sport dport\"");
        }
        f[n++] = field;
        if (sp == std::string_view::npos) {
            break;
        }
        pos = sp + 1;
    }
    if (n != f.size()) {
        return invalid("PROXY v1: expected \"TCP4|TCP6 src dst sport dport\"");
    }
    const bool v4 = f[0] == "TCP4";
    if (!v4 && f[0] != "TCP6") {
        return invalid("PROXY v1: unknown protocol \"" + std::string(f[0]) + "\"");
    }
    boost::system::error_code ec1;
    boost::system::error_code ec2;
    const auto src = net::ip::make_address(std::string(f[1]), ec1);
    const auto dst = net::ip::make_address(std::string(f[2]), ec2);
    const auto sport = parse_port(f[3]);
    const auto dport = parse_port(f[4]);
    if (ec1 || ec2 || src.is_v4() != v4 || dst.is_v4() != v4 || !sport || !dport) {
        return invalid("PROXY v1: bad address or port");
    }
    r.hdr.source = tcp::endpoint(src, *sport);
    r.hdr.destination = tcp::endpoint(dst, *dport);
    return r;
}

std::uint16_t be16(const std::uint8_t* p)
{
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

parse_result parse_v2(std::span<const std::uint8_t> b)
{
    if (b.size() < v2_fixed) {
        return need(v2_fixed);
    }
    const std::uint8_t ver_cmd = b[12];
    if ((ver_cmd >> 4) != 2) {
        return invalid("PROXY v2: version " + std::to_string(ver_cmd >> 4) + " (expected 2)");
    }
    const int command = ver_cmd & 0x0F;
    if (command > 1) {
        return invalid("PROXY v2: unknown command " + std::to_string(command));
    }
    const std::size_t len = be16(&b[14]);
    if (b.size() < v2_fixed + len) {
        return need(v2_fixed + len);
    }
    parse_result r;
    r.what = parse_result::status::complete;
    r.consumed = v2_fixed + len;
    r.hdr.version = 2;
    if (command == 0) {
        return r; // LOCAL: the proxy's own connection (health check)
    }
    const std::uint8_t fam = b[13];
    const auto* a = &b[v2_fixed];
    // TCP over IPv4 (0x11) or IPv6 (0x21): source, destination, source port, destination port.
    const auto read_pair = [&](auto addr_tag, std::size_t need_len, const char* name) -> std::optional<parse_result> {
        using addr_t = decltype(addr_tag);
        typename addr_t::bytes_type src{};
        typename addr_t::bytes_type dst{};
        if (len < need_len) {
            return invalid("PROXY v2: " + std::string(name) + " address block of " + std::to_string(len) +
                           " bytes (need " + std::to_string(need_len) + ")");
        }
        std::copy_n(a, src.size(), src.begin());
        std::copy_n(a + src.size(), dst.size(), dst.begin());
        r.hdr.source = tcp::endpoint(addr_t(src), be16(a + 2 * src.size()));
        r.hdr.destination = tcp::endpoint(addr_t(dst), be16(a + 2 * src.size() + 2));
        return std::nullopt;
    };
    std::optional<parse_result> bad;
    if (fam == 0x11) {
        bad = read_pair(net::ip::address_v4{}, 12, "TCP4");
    } else if (fam == 0x21) {
        bad = read_pair(net::ip::address_v6{}, 36, "TCP6");
    }
    if (bad) {
        return *bad;
    }
    // UNSPEC, UDP and Unix families: no usable client address; the peer's stands.
    return r;
}

} // namespace

parse_result parse(std::span<const std::uint8_t> bytes)
{
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const auto prefix_of = [&](std::string_view sig) {
        const auto n = std::min(text.size(), sig.size());
        return text.substr(0, n) == sig.substr(0, n);
    };
    if (prefix_of(v2_signature)) {
        return text.size() < v2_signature.size() ? need(v2_fixed) : parse_v2(bytes);
    }
    if (prefix_of(v1_prefix)) {
        return text.size() < v1_prefix.size() ? need(v1_prefix.size() + 1) : parse_v1(text);
    }
    return invalid("no PROXY protocol header (the listener has proxy_protocol = true)");
}

namespace {

void put16(std::string& out, std::uint16_t v)
{
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xFF);
}

net::ip::address_v6 as_v6(const net::ip::address& a)
{
    return a.is_v6() ? a.to_v6() : net::ip::make_address_v6(net::ip::v4_mapped, a.to_v4());
}

} // namespace

std::string make_v2(const tcp::endpoint& source, const tcp::endpoint& destination)
{
    std::string out(v2_signature);
    out += static_cast<char>(0x21); // version 2, PROXY
    const bool v4 = source.address().is_v4() && destination.address().is_v4();
    out += static_cast<char>(v4 ? 0x11 : 0x21);
    put16(out, v4 ? 12 : 36);
    const auto append = [&](const auto& bytes) { out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size()); };
    if (v4) {
        append(source.address().to_v4().to_bytes());
        append(destination.address().to_v4().to_bytes());
    } else {
        append(as_v6(source.address()).to_bytes());
        append(as_v6(destination.address()).to_bytes());
    }
    put16(out, source.port());
    put16(out, destination.port());
    return out;
}

std::string make_v2_local()
{
    std::string out(v2_signature);
    out += static_cast<char>(0x20); // version 2, LOCAL
    out += static_cast<char>(0x00); // UNSPEC
    put16(out, 0);
    return out;
}

} // namespace boshgate::http::proxy_protocol
