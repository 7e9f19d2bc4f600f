#pragma once
// Candidate iteration for an upstream XMPP link: SRV (or fixed targets) -> A/AAAA ->
// address policy -> TCP connect with a per-address timeout. I/O adapter (Asio coroutines);
// compiled into boshgate_core (BOSHGATE_IO_SOURCES).
#include "boshgate/core/clock.hpp"
#include "boshgate/dns/resolver.hpp"
#include "boshgate/limits/upstream_guard.hpp"
#include "boshgate/upstream/failure.hpp"
#include "boshgate/upstream/options.hpp"
#include "boshgate/upstream/tls_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace boshgate::upstream {

/// Per-gateway state shared by every upstream stream: the options, one TLS client context
/// per CA file, the resolver settings and the upstream protection (per-domain cap on
/// connection attempts, circuit breaker). Thread-safety: immutable except the TLS cache and
/// the guard, which lock. Lifetime: shared_ptr held by the gateway and by every stream.
class shared_context {
public:
    explicit shared_context(options opt, const limits::options& lim = {})
        : options_(std::move(opt)), guard_(limits::upstream_guard::make(lim))
    {
    }
    const options& opts() const noexcept { return options_; }
    dns::resolver_options resolver_options() const
    {
        return dns::resolver_options{options_.dns_server, options_.dns_timeout};
    }
    tls_context_cache& tls_contexts() noexcept { return tls_; }
    limits::upstream_guard& guard() noexcept { return *guard_; }
    /// The adapters' clock (the guard takes `now` from here).
    core::time_point now() const { return clock_.now(); }

private:
    options options_;
    tls_context_cache tls_;
    std::shared_ptr<limits::upstream_guard> guard_;
    core::steady_clock clock_;
};

/// Bounds per connect, so that a hostile DNS answer (hundreds of SRV records or addresses)
/// cannot make one login dial hundreds of times: at most this many SRV targets (in RFC 2782
/// order; the rest are ignored) and this many addresses over all targets (each address
/// counts whether the policy refuses it or a TCP connect is tried). Real deployments use
/// one to three targets with one or two addresses each.
inline constexpr std::size_t max_connect_targets = 8;
inline constexpr std::size_t max_connect_addresses = 16;

/// What to dial, from the target policy.
struct connect_request {
    std::string domain;                     ///< XMPP domain (SRV owner name)
    bool use_srv = false;                   ///< resolve SRV for `domain` (C2S-DNS-1..6)
    std::vector<dns::candidate> candidates; ///< fixed targets when !use_srv, tried in order
    /// Address filter (target policy); an empty function permits every address.
    std::function<bool(const boost::asio::ip::address&)> permitted;
    std::chrono::milliseconds connect_timeout{5000}; ///< per address
    bool no_direct_tls = false; ///< tls = "off": direct-TLS candidates are left out
    /// Non-empty: connect to this Unix domain socket instead (no DNS, no candidates, no
    /// address policy; connect_timeout applies).
    std::string unix_path;
    std::size_t max_targets = max_connect_targets;     ///< candidates considered
    std::size_t max_addresses = max_connect_addresses; ///< addresses considered, all targets
};

/// The socket of a server link: TCP, or a Unix domain socket (static `unix:` target).
using link_socket = boost::asio::generic::stream_protocol::socket;

/// A connected socket and the candidate it belongs to (direct_tls decides whether TLS
/// starts at once, C2S-DNS-5). A Unix socket target is reported as host "unix:<path>",
/// port 0.
struct connected {
    link_socket socket;
    dns::candidate target;
};

/// FAULT-LINK-1/2: make a silently cut server link fail the socket with ETIMEDOUT:
/// SO_KEEPALIVE probes after `keepalive` idle (0 = no keepalive), and TCP_USER_TIMEOUT =
/// `unacked` (sent bytes unacknowledged this long abort the connection; 0 = kernel default).
/// Best effort: a failing setsockopt is logged, not fatal.
void set_link_liveness(int fd, std::chrono::seconds keepalive,
                       std::chrono::seconds unacked, std::string_view log_tag);

/// The `unacked` bound for a stream whose writes are bounded by `write_timeout` (SEC-FLOW-2):
/// write_timeout + max(1 s, write_timeout / 2), 0 when write_timeout is 0. Longer than
/// write_timeout, so that a write the server does not take is reported by the write guard
/// (flow_upstream_write_timeouts) and never races the kernel; the kernel's bound catches
/// what the guard cannot see: bytes that left our socket buffer but are never acknowledged.
std::chrono::seconds unacked_timeout_for(std::chrono::seconds write_timeout) noexcept;

struct connect_failure {
    failure why;
    std::string reason; ///< log-safe, names the last error
};

/// Try every candidate in order and every address of each (C2S-DNS-1), within
/// req.max_targets / req.max_addresses. A '.' SRV answer
/// fails with host_unknown and no fallback (C2S-DNS-2); DNS errors, refused or timed-out
/// connects move on to the next address; when nothing connects the result is
/// connection_failed (host_unknown when every address was refused by policy).
/// Runs on the awaiting coroutine's executor; honours terminal cancellation of the awaiting
/// coroutine (returns connection_failed "cancelled"). The awaiting coroutine must have
/// throw_if_cancelled(false).
boost::asio::awaitable<std::variant<connected, connect_failure>>
connect(connect_request req, dns::resolver_options resolver_opt, std::string log_tag);

} // namespace boshgate::upstream
