#include "boshgate/server/handover.hpp"

#include "boshgate/bosh/session_table.hpp"
#include "boshgate/config/values.hpp"
#include "boshgate/core/ids.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/metrics/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <set>
#include <system_error>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (a matching
// class-specific new/delete pair), as in http/listener.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

extern char** environ;

namespace boshgate::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using local = net::local::stream_protocol;
using local_stream = beast::basic_stream<local, net::any_io_executor, beast::unlimited_rate_policy>;

namespace {

constexpr std::string_view hdr_secure = "X-Boshgate-Secure";
constexpr std::string_view hdr_client = "X-Boshgate-Client";
constexpr std::string_view hdr_drop = "X-Boshgate-Drop";
constexpr std::size_t max_reply_bytes = 64 * 1024 * 1024;

/// "@name" -> the abstract-namespace endpoint "\0name".
local::endpoint hop_endpoint(const std::string& address)
{
    std::string path = address;
    if (!path.empty() && path[0] == '@') {
        path[0] = '\0';
    }
    return local::endpoint(path);
}

std::optional<net::ip::tcp::endpoint> parse_endpoint(std::string_view text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string host(text.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    const auto p = text.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    boost::system::error_code aec;
    const auto a = net::ip::make_address(host, aec);
    if (ec != std::errc{} || ptr != p.data() + p.size() || port > 65535 || aec) {
        return std::nullopt;
    }
    return net::ip::tcp::endpoint(a, static_cast<std::uint16_t>(port));
}

} // namespace

// ------------------------------------------------------------------------------ pure parts

std::optional<std::map<std::string, int>> parse_inherited(std::string_view text)
{
    std::map<std::string, int> out;
    std::set<int> fds;
    if (!text.empty() && text.back() == ',') {
        return std::nullopt;
    }
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const auto colon = item.find(':');
        const auto role_ok = [](std::string_view r) {
            return std::all_of(r.begin(), r.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
        };
        if (colon != std::string_view::npos && !role_ok(item.substr(colon + 1))) {
            return std::nullopt;
        }
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == item.size()) {
            return std::nullopt;
        }
        int fd = -1;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + colon, fd);
        if (ec != std::errc{} || ptr != item.data() + colon || fd < 0) {
            return std::nullopt;
        }
        std::string role(item.substr(colon + 1));
        if (!out.emplace(role, fd).second || !fds.insert(fd).second) {
            return std::nullopt;
        }
    }
    return out;
}

std::string format_inherited(const std::map<std::string, int>& fds)
{
    std::string out;
    for (const auto& [role, fd] : fds) {
        if (!out.empty()) {
            out += ',';
        }
        out += std::to_string(fd) + ':' + role;
    }
    return out;
}

bool socket_bound_to(int fd, const std::string& address, std::uint16_t port)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return false;
    }
    boost::system::error_code ec;
    const auto want = net::ip::make_address(address, ec);
    if (ec) {
        return false;
    }
    if (ss.ss_family == AF_INET && want.is_v4()) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        const auto bytes = want.to_v4().to_bytes();
        return std::memcmp(&in->sin_addr, bytes.data(), bytes.size()) == 0 &&
               (port == 0 || ntohs(in->sin_port) == port);
    }
    if (ss.ss_family == AF_INET6 && want.is_v6()) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        const auto bytes = want.to_v6().to_bytes();
        return std::memcmp(&in6->sin6_addr, bytes.data(), bytes.size()) == 0 &&
               (port == 0 || ntohs(in6->sin6_port) == port);
    }
    return false;
}

// ------------------------------------------------------------------------------ hop server

struct hop_server::impl : std::enable_shared_from_this<impl> {
    impl(net::io_context& ioc, std::shared_ptr<bosh::session_table> t, std::size_t mb)
        : acceptor(ioc), table(std::move(t)), max_body(mb)
    {
        address = "@boshgate-hop-" + std::to_string(::getpid()) + '-' + core::random_sid().substr(0, 16);
        const auto ep = hop_endpoint(address);
        acceptor.open(ep.protocol());
        acceptor.bind(ep);
        acceptor.listen(256);
    }

    local::acceptor acceptor;
    std::shared_ptr<bosh::session_table> table;
    std::size_t max_body;
    std::string address;

    net::awaitable<void> accept_loop(std::shared_ptr<impl> self)
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
            if (ec == net::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            if (ec) {
                net::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
                co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
                continue;
            }
            // Only this service's own processes: the same uid as ours.
            ucred cred{};
            socklen_t len = sizeof cred;
            if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
                cred.uid != ::geteuid()) {
                core::log().warn("hop: connection from uid {} refused (not this service's uid)", cred.uid);
                continue;
            }
            net::co_spawn(acceptor.get_executor(), serve(self, std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> serve([[maybe_unused]] std::shared_ptr<impl> self, local::socket socket)
    {
        local_stream stream(std::move(socket));
        beast::flat_buffer buf;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(max_body);
        stream.expires_after(std::chrono::seconds(10));
        auto [ec, n] = co_await bhttp::async_read(stream, buf, parser, net::as_tuple(net::use_awaitable));
        if (ec) {
            co_return;
        }
        stream.expires_never();
        auto& req = parser.get();
        std::optional<net::ip::tcp::endpoint> client;
        if (auto it = req.find(hdr_client); it != req.end()) {
            client = parse_endpoint(std::string_view(it->value().data(), it->value().size()));
        }
        const bool secure = req[hdr_secure] == "1";
        struct waiter {
            explicit waiter(net::any_io_executor ex) : timer(ex, net::steady_timer::time_point::max()) {}
            net::steady_timer timer;
            std::optional<bosh::reply> r;
        };
        auto ex = stream.get_executor();
        auto w = std::make_shared<waiter>(ex);
        // The session's own rules apply (rid window, hold, wait); only sessions of this
        // process answer here, an unknown sid is item-not-found as on the public listener.
        table->handle(
            req.body(), secure, limits::address_key{}, client,
            [w, ex](bosh::reply&& r) {
                net::post(ex, [w, r = std::move(r)]() mutable {
                    w->r = std::move(r);
                    w->timer.cancel();
                });
            },
            /*from_other_process=*/true);
        co_await w->timer.async_wait(net::as_tuple(net::use_awaitable));
        if (!w->r) {
            co_return;
        }
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(w->r->close_connection ? 200 : w->r->status), 11};
        if (w->r->close_connection) {
            res.set(hdr_drop, "1");
        } else {
            res.set(bhttp::field::content_type, w->r->content_type);
            if (w->r->retry_after != 0) {
                res.set(bhttp::field::retry_after, std::to_string(w->r->retry_after));
            }
            res.body() = std::move(w->r->body);
        }
        res.keep_alive(false);
        res.prepare_payload();
        stream.expires_after(std::chrono::seconds(10));
        co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
        boost::system::error_code ignored;
        stream.socket().shutdown(local::socket::shutdown_send, ignored);
    }
};

hop_server::hop_server(net::io_context& ioc, std::shared_ptr<bosh::session_table> table, std::size_t max_body)
    : impl_(std::make_shared<impl>(ioc, std::move(table), max_body))
{
}

hop_server::~hop_server() = default;

const std::string& hop_server::address() const
{
    return impl_->address;
}

void hop_server::start()
{
    net::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(impl_), net::detached);
}

void hop_server::stop()
{
    net::post(impl_->acceptor.get_executor(), [self = impl_] {
        boost::system::error_code ignored;
        self->acceptor.close(ignored);
    });
}

// ------------------------------------------------------------------------------ hop client

struct hop_client::impl {
    std::string address;
    std::chrono::seconds reply_timeout;
    std::function<bosh::reply()> not_found;
    std::atomic<bool> gone{false};
};

namespace {

net::awaitable<void> forward_one(std::shared_ptr<hop_client::impl> self, hop_request hreq, bosh::responder r)
{
    local_stream stream(co_await net::this_coro::executor);
    stream.expires_after(std::chrono::seconds(5));
    auto [cec] = co_await stream.async_connect(hop_endpoint(self->address), net::as_tuple(net::use_awaitable));
    if (cec) {
        if (!self->gone.exchange(true)) {
            core::log().info("hop: the other process is gone ({}): its sessions are over; unknown sids are "
                             "item-not-found from now on",
                             cec.message());
        }
        r(self->not_found());
        co_return;
    }
    ++metrics::global().hop_forwarded_requests;
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/hop", 11};
    req.set(bhttp::field::host, "hop");
    req.set(bhttp::field::content_type, "text/xml; charset=utf-8");
    req.set(hdr_secure, hreq.secure ? "1" : "0");
    if (hreq.client_address) {
        req.set(hdr_client, config::format_host_port(hreq.client_address->address().to_string(),
                                                     hreq.client_address->port()));
    }
    req.body() = std::move(hreq.body);
    req.keep_alive(false);
    req.prepare_payload();
    // Held there up to the session's wait: the timeout is above bosh.max_wait.
    stream.expires_after(self->reply_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, req, net::as_tuple(net::use_awaitable));
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(max_reply_bytes);
    boost::system::error_code rec = wec;
    if (!rec) {
        auto [ec, n] = co_await bhttp::async_read(stream, buf, parser, net::as_tuple(net::use_awaitable));
        rec = ec;
    }
    if (rec) {
        // The other process ended mid-request, or held it beyond the bound: the client's
        // connection is dropped (no body), as for BOSH-HTTP-14; clients resend.
        core::log().debug("hop: forwarded request failed: {}", rec.message());
        r(bosh::reply{0, {}, {}, true});
        co_return;
    }
    auto& res = parser.get();
    if (res.find(hdr_drop) != res.end()) {
        r(bosh::reply{0, {}, {}, true});
        co_return;
    }
    bosh::reply out;
    out.status = res.result_int();
    out.content_type = std::string(res[bhttp::field::content_type]);
    if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
        const auto v = it->value();
        std::from_chars(v.data(), v.data() + v.size(), out.retry_after);
    }
    out.body = std::move(res.body());
    r(std::move(out));
}

} // namespace

hop_client::hop_client(std::string address, std::chrono::seconds reply_timeout, std::function<bosh::reply()> not_found)
    : impl_(std::make_shared<impl>())
{
    impl_->address = std::move(address);
    impl_->reply_timeout = reply_timeout;
    impl_->not_found = std::move(not_found);
}

void hop_client::forward(net::io_context& ioc, hop_request req, bosh::responder r)
{
    net::co_spawn(ioc, forward_one(impl_, std::move(req), std::move(r)), net::detached);
}

bool hop_client::gone() const
{
    return impl_->gone.load();
}

// ------------------------------------------------------------------------------ spawning

int spawn_successor(const std::string& exe, const std::vector<std::string>& argv, const std::map<std::string, int>& fds,
                    int ready_fd, const std::vector<std::pair<std::string, std::string>>& env)
{
    // Copies above every target number first, so that placing them at 3, 4, ... in the child
    // never overwrites one still to be placed.
    std::vector<int> high;
    const auto close_high = [&high] {
        for (int h : high) {
            ::close(h);
        }
    };
    std::map<std::string, int> child_fds;
    int next = 3;
    for (const auto& [role, fd] : fds) {
        const int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
        if (h < 0) {
            const int err = errno;
            close_high();
            throw std::system_error(err, std::generic_category(), "duplicating the " + role + " socket");
        }
        high.push_back(h);
        child_fds[role] = next++;
    }
    const int rh = ::fcntl(ready_fd, F_DUPFD_CLOEXEC, 100);
    if (rh < 0) {
        const int err = errno;
        close_high();
        throw std::system_error(err, std::generic_category(), "duplicating the readiness pipe");
    }
    high.push_back(rh);
    const int child_ready = next++;

    std::vector<std::pair<std::string, std::string>> add = env;
    add.emplace_back(env_listen_fds, format_inherited(child_fds));
    add.emplace_back(env_ready_fd, std::to_string(child_ready));
    std::vector<std::string> envs;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view kv(*e);
        const auto name = kv.substr(0, kv.find('='));
        bool replaced = name == env_listen_fds || name == env_ready_fd || name == env_predecessor;
        for (const auto& [k, v] : add) {
            replaced = replaced || name == k;
        }
        if (!replaced) {
            envs.emplace_back(kv);
        }
    }
    for (const auto& [k, v] : add) {
        envs.push_back(k + '=' + v);
    }
    std::vector<char*> envp;
    for (auto& s : envs) {
        envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& s : args) {
        argp.push_back(s.data());
    }
    argp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (std::size_t i = 0; i < high.size(); ++i) {
        posix_spawn_file_actions_adddup2(&fa, high[i], 3 + static_cast<int>(i));
    }
    posix_spawn_file_actions_addclosefrom_np(&fa, 3 + static_cast<int>(high.size()));
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argp.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close_high();
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(), "starting " + exe);
    }
    return pid;
}

} // namespace boshgate::server
