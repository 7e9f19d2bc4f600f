#include "boshgate/admin/server.hpp"

#include "boshgate/admin/status.hpp"
#include "boshgate/config/values.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/server/build_info.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (a matching
// class-specific new/delete pair), as in http/listener.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace boshgate::admin {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t max_connections = 64;       ///< admin clients at once (scrapers, a few browsers)
constexpr std::chrono::seconds request_timeout{10}; ///< to read a request and to write its reply
constexpr std::chrono::seconds idle_timeout{60};    ///< keep-alive with no request
constexpr std::int64_t sample_interval_s = 2;

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

struct server::impl : std::enable_shared_from_this<impl> {
    impl(net::io_context& ioc, const options& o, hooks h, int inherited_fd)
        : opt(o), hk(std::move(h)), acceptor(ioc), sampler(ioc), started(unix_now())
    {
        tcp::endpoint ep(net::ip::make_address(opt.address), opt.port);
        if (inherited_fd >= 0) {
            acceptor.assign(ep.protocol(), inherited_fd);
        } else {
            acceptor.open(ep.protocol());
            acceptor.set_option(net::socket_base::reuse_address(true));
            acceptor.bind(ep);
            acceptor.listen(64);
        }
        const auto bound = acceptor.local_endpoint();
        core::log().info("admin listener on {} (/metrics /healthz /readyz /status){}",
                         config::format_host_port(bound.address().to_string(), bound.port()),
                         opt.allow.empty() ? "" : ", admin.allow networks only");
    }

    options opt;
    hooks hk;
    tcp::acceptor acceptor;
    net::steady_timer sampler;
    std::int64_t started;
    history hist;
    std::size_t connections = 0;
    bool stopped = false;

    void sample()
    {
        hist.add(take_sample(metrics::global(), unix_now()));
        sampler.expires_after(std::chrono::seconds(sample_interval_s));
        sampler.async_wait([w = weak_from_this()](boost::system::error_code ec) {
            if (auto self = w.lock(); self && !ec && !self->stopped) {
                self->sample();
            }
        });
    }

    net::awaitable<void> accept_loop(std::shared_ptr<impl> self)
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
            if (ec == net::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            if (ec) {
                core::log().warn("admin accept failed: {}", ec.message());
                net::steady_timer backoff(acceptor.get_executor(), std::chrono::milliseconds(50));
                co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
                continue;
            }
            boost::system::error_code peer_ec;
            const auto peer = socket.remote_endpoint(peer_ec);
            if (peer_ec || connections >= max_connections) {
                continue; // the socket closes here
            }
            const bool allowed = opt.allow.empty() || opt.allow.contains(peer.address());
            net::co_spawn(acceptor.get_executor(), serve(self, std::move(socket), peer, allowed), net::detached);
        }
    }

    net::awaitable<void> serve([[maybe_unused]] std::shared_ptr<impl> self, tcp::socket socket, tcp::endpoint peer, bool allowed)
    {
        ++connections;
        struct leave {
            impl& i;
            ~leave() { --i.connections; }
        } on_exit{*this};
        beast::tcp_stream stream(std::move(socket));
        if (!allowed) {
            core::log().info("admin: connection from {} refused (not in admin.allow)", peer.address().to_string());
            bhttp::response<bhttp::string_body> res{bhttp::status::forbidden, 11};
            res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
            res.body() = "403 forbidden: this address is not in admin.allow\n";
            res.keep_alive(false);
            res.prepare_payload();
            stream.expires_after(request_timeout);
            co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
            boost::system::error_code ignored;
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            co_return;
        }
        beast::flat_buffer buf(8192);
        bool first = true;
        while (!stopped) {
            bhttp::request_parser<bhttp::empty_body> parser;
            parser.header_limit(8192);
            parser.body_limit(0);
            stream.expires_after(first ? request_timeout : idle_timeout);
            first = false;
            auto [ec, n] = co_await bhttp::async_read(stream, buf, parser, net::as_tuple(net::use_awaitable));
            if (ec) {
                if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                    ec != net::error::connection_reset && ec != net::error::operation_aborted) {
                    // Malformed request, oversized header or a body: say so, then close.
                    bhttp::response<bhttp::string_body> res{bhttp::status::bad_request, 11};
                    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
                    res.body() = "400 bad request: " + ec.message() + "\n";
                    res.keep_alive(false);
                    res.prepare_payload();
                    stream.expires_after(request_timeout);
                    co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
                }
                break;
            }
            auto res = answer(parser.get(), peer);
            stream.expires_after(request_timeout);
            auto [wec, wn] = co_await bhttp::async_write(stream, res, net::as_tuple(net::use_awaitable));
            if (wec || !res.keep_alive()) {
                break;
            }
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    bhttp::response<bhttp::string_body> answer(const bhttp::request<bhttp::empty_body>& req, const tcp::endpoint& peer)
    {
        const std::string peer_text = config::format_host_port(peer.address().to_string(), peer.port());
        bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
        res.keep_alive(req.keep_alive());
        res.set(bhttp::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        const auto reply = [&res](bhttp::status st, std::string_view type, std::string body) {
            res.result(st);
            res.set(bhttp::field::content_type, type);
            res.body() = std::move(body);
        };
        const std::string_view target(req.target().data(), req.target().size());
        const auto path = target.substr(0, target.find('?'));
        constexpr std::string_view text = "text/plain; charset=utf-8";
        if (path == "/drain") {
            if (req.method() != bhttp::verb::post) {
                reply(bhttp::status::method_not_allowed, text, "405 method not allowed: POST /drain starts a drain\n");
                res.set(bhttp::field::allow, "POST");
            } else if (req.find(bhttp::field::origin) != req.end()) {
                // A browser sends Origin with every cross-origin POST: a page on this host must
                // not be able to drain the gateway (a form needs no CORS preflight).
                reply(bhttp::status::forbidden, text,
                      "403 forbidden: POST /drain is for operators' tools (curl), not for pages in a browser\n");
            } else {
                core::log().info("admin: POST /drain from {}", peer_text);
                reply(bhttp::status::accepted, text, hk.drain() + "\n");
            }
        } else if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
            reply(bhttp::status::method_not_allowed, text,
                  "405 method not allowed: the admin listener is read-only but for POST /drain\n");
            res.set(bhttp::field::allow, "GET, HEAD");
        } else if (path == "/metrics") {
            reply(bhttp::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                  metrics::exposition(metrics::global()));
        } else if (path == "/healthz") {
            reply(bhttp::status::ok, text, "ok\n");
        } else if (path == "/readyz") {
            if (hk.ready()) {
                reply(bhttp::status::ok, text, "ready\n");
            } else {
                reply(bhttp::status::service_unavailable, text, "draining: not accepting new sessions\n");
            }
        } else if (path == "/status") {
            reply(bhttp::status::ok, "text/html; charset=utf-8", std::string(status_page()));
            // Self-contained by construction: the browser may load nothing from elsewhere.
            res.set("Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                    "frame-ancestors 'none'");
        } else if (path == "/status.json") {
            status_facts f;
            f.version = ::boshgate::server::version();
            f.build = ::boshgate::server::build_type();
            f.ready = hk.ready();
            f.started = started;
            f.now = unix_now();
            f.interval_s = sample_interval_s;
            f.threads = hk.threads;
            reply(bhttp::status::ok, "application/json",
                  status_json(f, *hk.config(), metrics::global(), metrics::domains().snapshot(), hist));
        } else if (path == "/") {
            reply(bhttp::status::found, text, "see /status\n");
            res.set(bhttp::field::location, "/status");
        } else {
            reply(bhttp::status::not_found, text,
                  "404 not found: the admin listener serves /metrics, /healthz, /readyz, /status, "
                  "/status.json and POST /drain\n");
        }
        res.prepare_payload();
        if (req.method() == bhttp::verb::head) {
            res.body().clear(); // Content-Length stays that of the GET
        }
        return res;
    }
};

server::server(net::io_context& ioc, const options& opt, hooks h, int inherited_fd)
    : impl_(std::make_shared<impl>(ioc, opt, std::move(h), inherited_fd))
{
}

int server::native_handle()
{
    return impl_->acceptor.native_handle();
}

// The coroutines own impl; they end with the io_context (stop() or its destruction).
server::~server() = default;

void server::start()
{
    impl_->sample();
    net::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(impl_), net::detached);
}

void server::stop()
{
    net::post(impl_->acceptor.get_executor(), [self = impl_] {
        self->stopped = true;
        self->sampler.cancel();
        boost::system::error_code ignored;
        self->acceptor.close(ignored);
    });
}

std::uint16_t server::port() const
{
    return impl_->acceptor.local_endpoint().port();
}

} // namespace boshgate::admin
