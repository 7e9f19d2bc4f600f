#pragma once
// c-ares on Asio: SRV (_xmpps-client._tcp / _xmpp-client._tcp) and A/AAAA lookups.
// I/O adapter; the ordering logic lives in srv_selector (pure).
#include "boshgate/dns/srv_selector.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boshgate::dns {

struct resolver_options {
    std::optional<std::string> server;          ///< "ip:port"; default: /etc/resolv.conf
    std::chrono::milliseconds timeout{5000};    ///< whole lookup
};

/// One c-ares channel driven by Asio on the given executor (a strand or a single-threaded
/// context). All member functions must be called, and all coroutines resumed, on that
/// executor. Cancellation (via the awaiting coroutine's cancellation slot or destruction of
/// the resolver) suppresses completions; c-ares itself is cancelled per channel.
/// Errors: boost::asio::error::host_not_found (NXDOMAIN / no data), timed_out, or
/// c-ares failures mapped to boost::system::errc::io_error.
class resolver {
public:
    resolver(boost::asio::any_io_executor ex, resolver_options opt);
    ~resolver();
    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    /// Both SRV lookups, combined by dns::select (random weights from a CSPRNG-seeded RNG).
    boost::asio::awaitable<boost::system::result<selection>> resolve_srv(std::string domain);

    /// A and AAAA of a host (IPv6 first when present, RFC 6724-ish simple order).
    /// A literal IP address is returned as is without a query.
    boost::asio::awaitable<boost::system::result<std::vector<boost::asio::ip::address>>>
    resolve_host(std::string host);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace boshgate::dns
