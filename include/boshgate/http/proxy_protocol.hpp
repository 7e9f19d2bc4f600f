#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer in front sends first on each connection (`send-proxy`, `send-proxy-v2`), parsed
// (listener side) and written (server side, so the XMPP server sees the browser's address).
// Pure code: bytes in, bytes out.
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace boshgate::http::proxy_protocol {

/// The v2 signature, the first 12 bytes of every v2 header.
inline constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
/// Longest v1 line, CRLF included.
inline constexpr std::size_t v1_max_bytes = 107;

struct header {
    /// The client's address; nullopt for v1 "UNKNOWN", v2 LOCAL (a health check from the
    /// proxy itself) and v2 families other than TCP over IPv4/IPv6: the peer address stands.
    std::optional<boost::asio::ip::tcp::endpoint> source;
    std::optional<boost::asio::ip::tcp::endpoint> destination;
    int version = 0;
};

struct parse_result {
    enum class status {
        need_more, ///< a valid prefix: read at least `need` bytes in all, then parse again
        complete,  ///< `hdr` is the header; it took `consumed` bytes
        invalid,   ///< not a PROXY header: `error` says why
    };
    status what = status::need_more;
    std::size_t need = 0;
    std::size_t consumed = 0;
    header hdr;
    std::string error;
};

/// Parse the start of a connection. Never consumes past the header.
parse_result parse(std::span<const std::uint8_t> bytes);

/// A v2 PROXY header for a TCP stream from `source` to `destination` (same family; an IPv4
/// address on one side and IPv6 on the other sends both as IPv6, v4-mapped).
std::string make_v2(const boost::asio::ip::tcp::endpoint& source, const boost::asio::ip::tcp::endpoint& destination);
/// A v2 LOCAL header (no address: the receiver keeps the connection's own).
std::string make_v2_local();

} // namespace boshgate::http::proxy_protocol
