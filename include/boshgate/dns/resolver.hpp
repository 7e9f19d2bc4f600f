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
/// context). All member functions (destructor included) must be called, and all coroutines
/// resumed, on that executor; the resolver is not thread-safe, so give each upstream stream
/// its own (channel set-up is cheap: it reads resolv.conf once). Several lookups may run at
/// once on one resolver.
///
/// Lifetime and cancellation: a lookup coroutine keeps the internals alive, not the
/// resolver. Destroying the resolver destroys the channel: pending lookups then complete
/// with operation_aborted (no callback touches freed memory). Cancelling the awaiting
/// coroutine (its cancellation slot) completes that lookup with operation_aborted at once;
/// its queries stay in c-ares until they answer or time out (c-ares cancels per channel
/// only) and their results are dropped.
///
/// Errors: boost::asio::error::host_not_found (NXDOMAIN / no data, resolve_host only),
/// timed_out (the whole lookup exceeded `timeout`), operation_aborted (cancelled /
/// destroyed), boost::system::errc::invalid_argument (unusable `server` option),
/// other c-ares failures (SERVFAIL, refused, malformed answer) as errc::io_error.
/// Resolv.conf search domains are never applied: XMPP domains are fully qualified.
class resolver {
public:
    resolver(boost::asio::any_io_executor ex, resolver_options opt);
    ~resolver();
    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    /// Both SRV lookups (_xmpps-client._tcp and _xmpp-client._tcp) in parallel, combined by
    /// dns::select (weights drawn from an RNG seeded by OpenSSL RAND_bytes). NXDOMAIN/NODATA
    /// for a name = no records of that kind. A failed xmpps lookup only loses the direct-TLS
    /// targets; a failed xmpp-client lookup is returned as the error unless the xmpps lookup
    /// produced real targets (then those alone are used).
    boost::asio::awaitable<boost::system::result<selection>> resolve_srv(std::string domain);

    /// A and AAAA of a host (IPv6 first when present, then IPv4, each in answer order,
    /// duplicates removed). /etc/hosts is consulted first. A literal IP address (an IPv6
    /// one optionally in brackets) is returned as is without a query.
    boost::asio::awaitable<boost::system::result<std::vector<boost::asio::ip::address>>>
    resolve_host(std::string host);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace boshgate::dns
