#include "boshgate/upstream/connector.hpp"

#include "boshgate/core/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (operator
// new/delete are a matching class-specific pair) when an awaitable operator|| is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace boshgate::upstream {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

net::awaitable<bool> cancelled()
{
    auto cs = co_await net::this_coro::cancellation_state;
    co_return cs.cancelled() != net::cancellation_type::none;
}

bool set_int_option(int fd, int level, int name, int value, std::string_view what, std::string_view log_tag)
{
    if (::setsockopt(fd, level, name, &value, sizeof value) == 0) {
        return true;
    }
    core::log().warn("{} upstream: setsockopt {} = {} failed: {}", log_tag, what, value, std::strerror(errno));
    return false;
}

} // namespace

void set_link_liveness(int fd, std::chrono::seconds keepalive, std::chrono::seconds unacked,
                       std::string_view log_tag)
{
    if (keepalive.count() > 0) {
        const int idle = static_cast<int>(keepalive.count());
        const int interval = std::max(1, idle / 3);
        if (set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", log_tag)) {
            set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, "TCP_KEEPIDLE", log_tag);
            set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval, "TCP_KEEPINTVL", log_tag);
            set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT", log_tag);
        }
    }
    if (unacked.count() > 0) {
        set_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(unacked.count() * 1000),
                       "TCP_USER_TIMEOUT", log_tag);
    }
}

std::chrono::seconds unacked_timeout_for(std::chrono::seconds write_timeout) noexcept
{
    if (write_timeout.count() <= 0) {
        return std::chrono::seconds{0};
    }
    return write_timeout + std::max(std::chrono::seconds{1}, write_timeout / 2);
}

namespace {

/// A server on this host over a Unix domain socket (issue 9): no DNS, no address policy, no
/// TCP. Not Asio's async_connect: a non-blocking connect(2) to a Unix socket whose listen
/// queue is full fails with EAGAIN and leaves the socket unconnected (it is not "in
/// progress" as for TCP), and Asio would wait for writability and report success on a
/// socket that is not connected. So connect(2) is retried here, backing off from 1 ms to
/// 50 ms, until it succeeds, fails otherwise, or connect_timeout passes.
net::awaitable<std::variant<connected, connect_failure>> connect_unix(const connect_request& req,
                                                                      const std::string& log_tag)
{
    auto ex = co_await net::this_coro::executor;
    const std::string where = "unix:" + req.unix_path;
    const net::local::stream_protocol::endpoint ep(req.unix_path);
    net::local::stream_protocol::socket sock(ex);
    error_code ec;
    sock.open(net::local::stream_protocol(), ec);
    if (!ec) {
        sock.native_non_blocking(true, ec);
    }
    if (ec) {
        co_return connect_failure{failure::connection_failed, "socket for " + where + ": " + ec.message()};
    }
    const auto deadline = std::chrono::steady_clock::now() + req.connect_timeout;
    auto backoff = std::chrono::milliseconds(1);
    std::size_t queue_full = 0;
    for (;;) {
        if (::connect(sock.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) == 0) {
            break;
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN) {
            co_return connect_failure{failure::connection_failed, "connect to " + where + ": " + std::strerror(err)};
        }
        ++queue_full;
        if (std::chrono::steady_clock::now() + backoff > deadline) {
            co_return connect_failure{failure::connection_failed,
                                      "connect to " + where + " timed out: the server's listen queue stayed full (" +
                                          std::to_string(queue_full) + " tries)"};
        }
        net::steady_timer pause(ex, backoff);
        co_await pause.async_wait(use_tuple);
        if (co_await cancelled()) {
            co_return connect_failure{failure::connection_failed, "cancelled"};
        }
        backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
    if (queue_full > 0) {
        core::log().debug("{} upstream {}: listen queue full, connected after {} tries", log_tag, where,
                          queue_full + 1);
    }
    core::log().debug("{} upstream connected to {}", log_tag, where);
    co_return connected{link_socket(std::move(sock)), dns::candidate{where, 0, false}};
}

} // namespace

net::awaitable<std::variant<connected, connect_failure>>
connect(connect_request req, dns::resolver_options resolver_opt, std::string log_tag)
{
    using namespace net::experimental::awaitable_operators;
    auto ex = co_await net::this_coro::executor;
    std::optional<dns::resolver> resolver;
    auto get_resolver = [&]() -> dns::resolver& {
        if (!resolver) {
            resolver.emplace(ex, resolver_opt);
        }
        return *resolver;
    };

    if (!req.unix_path.empty()) {
        co_return co_await connect_unix(req, log_tag);
    }

    std::vector<dns::candidate> candidates = std::move(req.candidates);
    if (req.use_srv) {
        auto sel = co_await get_resolver().resolve_srv(req.domain);
        if (co_await cancelled()) {
            co_return connect_failure{failure::connection_failed, "cancelled"};
        }
        if (!sel) {
            co_return connect_failure{failure::connection_failed,
                                      "C2S-DNS-1: SRV lookup for " + req.domain +
                                          " failed: " + sel.error().message()};
        }
        if (sel->no_service) {
            co_return connect_failure{failure::host_unknown,
                                      "C2S-DNS-2: SRV says no XMPP service for " + req.domain +
                                          " (RFC 6120 §3.2.1)"};
        }
        candidates = std::move(sel->candidates);
    }
    if (req.no_direct_tls) {
        std::erase_if(candidates, [](const dns::candidate& c) { return c.direct_tls; });
    }
    if (candidates.empty()) {
        co_return connect_failure{failure::connection_failed,
                                  req.no_direct_tls ? "no target to connect to without TLS (tls = \"off\")"
                                                    : "no target to connect to"};
    }

    if (candidates.size() > req.max_targets) {
        core::log().info("{} upstream {} offers {} targets; trying the first {}", log_tag,
                         req.domain, candidates.size(), req.max_targets);
        candidates.resize(req.max_targets);
    }

    std::string last_error = "no address";
    std::size_t tried = 0;
    std::size_t refused = 0;
    std::size_t considered = 0; // addresses, against req.max_addresses
    for (const auto& cand : candidates) {
        if (considered >= req.max_addresses) {
            break;
        }
        std::vector<net::ip::address> addrs;
        error_code lit_ec;
        auto literal = net::ip::make_address(cand.host, lit_ec);
        if (!lit_ec) {
            addrs.push_back(literal);
        } else {
            auto r = co_await get_resolver().resolve_host(cand.host);
            if (co_await cancelled()) {
                co_return connect_failure{failure::connection_failed, "cancelled"};
            }
            if (!r) {
                last_error = "resolving " + cand.host + ": " + r.error().message();
                core::log().debug("{} upstream {}", log_tag, last_error);
                continue;
            }
            addrs = std::move(*r);
        }
        for (const auto& addr : addrs) {
            if (considered >= req.max_addresses) {
                core::log().info("{} upstream {}: {} addresses tried, giving up (max {})",
                                 log_tag, req.domain, considered, req.max_addresses);
                break;
            }
            ++considered;
            if (req.permitted && !req.permitted(addr)) {
                ++refused;
                last_error = "address " + addr.to_string() + " of " + cand.host +
                             " refused by policy";
                core::log().info("{} upstream {}", log_tag, last_error);
                continue;
            }
            ++tried;
            tcp::socket sock(ex);
            net::steady_timer timer(ex, req.connect_timeout);
            auto res = co_await (sock.async_connect(tcp::endpoint(addr, cand.port), use_tuple) ||
                                 timer.async_wait(use_tuple));
            if (co_await cancelled()) {
                co_return connect_failure{failure::connection_failed, "cancelled"};
            }
            std::string where = cand.host + " [" + addr.to_string() + "]:" +
                                std::to_string(cand.port);
            if (res.index() == 1) {
                last_error = "connect to " + where + " timed out";
                core::log().info("{} upstream {}", log_tag, last_error);
                continue;
            }
            auto [ec] = std::get<0>(res);
            if (ec) {
                last_error = "connect to " + where + ": " + ec.message();
                core::log().info("{} upstream {}", log_tag, last_error);
                continue;
            }
            core::log().debug("{} upstream connected to {}{}", log_tag, where,
                              cand.direct_tls ? " (direct TLS)" : "");
            co_return connected{link_socket(std::move(sock)), cand};
        }
    }
    if (tried == 0 && refused > 0) {
        co_return connect_failure{failure::host_unknown, last_error};
    }
    co_return connect_failure{failure::connection_failed, last_error};
}

} // namespace boshgate::upstream
