#pragma once
// The client address behind trusted reverse proxies: `Forwarded` (RFC 7239) or, without it,
// `X-Forwarded-For`, believed only when the connection comes from a configured trusted
// network. Pure code.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::http {

/// Networks whose connections may tell the client's address (PROXY protocol, Forwarded,
/// X-Forwarded-For).
class trusted_networks {
public:
    /// Parse "10.0.0.0/8", "2001:db8::/32" or a single address ("127.0.0.1" = /32). The
    /// error names the bad entry.
    static std::optional<trusted_networks> parse(const std::vector<std::string>& cidrs, std::string& error);

    bool contains(const boost::asio::ip::address& a) const;
    bool empty() const { return v4_.empty() && v6_.empty(); }

private:
    std::vector<boost::asio::ip::network_v4> v4_;
    std::vector<boost::asio::ip::network_v6> v6_;
};

/// One address as forwarding headers write it: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
/// "[2001:db8::1]", "[2001:db8::1]:4711", optionally in double quotes; nullopt otherwise
/// ("unknown", "_hidden", garbage).
std::optional<boost::asio::ip::address> parse_forwarded_node(std::string_view s);

/// The client of a request that arrived from `peer`. Unless `peer` is trusted, `peer`.
/// Otherwise the hops listed in `forwarded` (its for= values) or, when that is absent, in
/// `x_forwarded_for` are walked from the right (the hop nearest to us) past trusted
/// addresses; the first untrusted one is the client. A hop that is no address ends the walk
/// at the last trusted one; all hops trusted gives the leftmost.
boost::asio::ip::address forwarded_client(const boost::asio::ip::address& peer,
                                          std::optional<std::string_view> forwarded,
                                          std::optional<std::string_view> x_forwarded_for,
                                          const trusted_networks& trusted);

} // namespace boshgate::http
