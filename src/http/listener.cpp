#include "boshgate/http/listener.hpp"

#include "boshgate/core/log.hpp"
#include "boshgate/http/proxy_protocol.hpp"
#include "boshgate/limits/metrics.hpp"
#include "boshgate/metrics/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <optional>
#include <vector>
#include <stdexcept>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (a matching
// class-specific new/delete pair) when an awaitable operator|| is inlined (as in connector.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace boshgate::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// Reads the PROXY header that starts a connection on a proxy_protocol listener, never a byte
/// past it: whatever is peeked is consumed only as far as it is surely header. Then admits and
/// serves the connection with the client the header names. A connection without a valid
/// header within http.header_timeout is closed.
net::awaitable<void> read_proxy_header(tcp::socket socket, tcp::endpoint peer, std::shared_ptr<const context> ctx,
                                       std::shared_ptr<net::ssl::context> tls)
{
    namespace pp = proxy_protocol;
    using namespace net::experimental::awaitable_operators;
    net::steady_timer deadline(socket.get_executor());
    deadline.expires_after(ctx->opt.header_timeout);
    std::vector<std::uint8_t> got;
    std::array<std::uint8_t, 256> peek{};
    std::string error;
    std::optional<pp::header> header;
    while (!header && error.empty()) {
        auto ready = co_await (socket.async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable)) ||
                               deadline.async_wait(net::as_tuple(net::use_awaitable)));
        if (ready.index() == 1) {
            error = "no complete PROXY header within http.header_timeout";
            break;
        }
        auto [ec] = std::get<0>(ready);
        std::size_t n = 0;
        if (!ec) {
            n = socket.receive(net::buffer(peek), tcp::socket::message_peek, ec);
        }
        if (ec || n == 0) {
            error = "connection closed before a complete PROXY header";
            break;
        }
        std::vector<std::uint8_t> all(got);
        all.insert(all.end(), peek.begin(), peek.begin() + static_cast<std::ptrdiff_t>(n));
        const auto r = pp::parse(all);
        // need_more: every byte seen so far lies inside the header (v1: no CRLF yet; v2:
        // fewer bytes than its length), so all of them can be consumed.
        std::size_t take = n;
        if (r.what == pp::parse_result::status::invalid) {
            error = r.error;
            break;
        }
        if (r.what == pp::parse_result::status::complete) {
            take = r.consumed - got.size();
            header = r.hdr;
        }
        std::vector<std::uint8_t> sink(take);
        net::read(socket, net::buffer(sink), ec);
        if (ec) {
            error = "read failed: " + ec.message();
            break;
        }
        got.insert(got.end(), sink.begin(), sink.end());
    }
    if (!header) {
        ++metrics::global().http_proxy_header_refused;
        core::log().info("connection from {} closed: {}", peer.address().to_string(), error);
        boost::system::error_code ignored;
        socket.close(ignored);
        co_return;
    }
    admit_and_run(std::move(socket), header->source.value_or(peer), ctx, tls);
}

} // namespace

listener::listener(net::io_context& ioc, context_picker pick, const listen_options& lo,
                   std::shared_ptr<const context> ctx, int inherited_fd)
    : pick_(std::move(pick)), acceptor_(ioc.get_executor()), ctx_(std::move(ctx))
{
    tcp::endpoint ep(net::ip::make_address(lo.address), lo.port);
    if (inherited_fd >= 0) {
        // Already bound and listening: connections waiting in its backlog are ours now.
        acceptor_.assign(ep.protocol(), inherited_fd);
    } else {
        acceptor_.open(ep.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(lo.backlog);
    }
    if (lo.tls_cert_file && lo.tls_key_file) {
        tls_ = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
        tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                          net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                          net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
        tls_->use_certificate_chain_file(*lo.tls_cert_file);
        tls_->use_private_key_file(*lo.tls_key_file, net::ssl::context::pem);
    }
    proxy_protocol_ = lo.proxy_protocol;
    auto bound = acceptor_.local_endpoint();
    core::log().info("listening on {}:{}{}{} (backlog {}){}", bound.address().to_string(), bound.port(),
                     tls_ ? " (https)" : "", proxy_protocol_ ? " (PROXY protocol)" : "", lo.backlog,
                     inherited_fd >= 0 ? ", socket taken over from the previous process" : "");
}

void listener::start()
{
    net::co_spawn(
        acceptor_.get_executor(),
        [self = shared_from_this()]() -> net::awaitable<void> {
            net::steady_timer backoff(self->acceptor_.get_executor());
            for (;;) {
                auto [ec, socket] = co_await self->acceptor_.async_accept(
                    net::any_io_executor(self->pick_().get_executor()), net::as_tuple(net::use_awaitable));
                if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) {
                    co_return;
                }
                if (ec) {
                    // EMFILE/ENFILE and friends: log, back off briefly, keep accepting.
                    core::log().warn("accept failed: {}", ec.message());
                    backoff.expires_after(std::chrono::milliseconds(50));
                    co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
                    continue;
                }
                boost::system::error_code peer_ec;
                const auto peer = socket.remote_endpoint(peer_ec);
                if (self->proxy_protocol_) {
                    if (peer_ec || !self->ctx_->opt.trusted_proxies.contains(peer.address())) {
                        ++metrics::global().http_proxy_header_refused;
                        core::log().info("connection from {} refused: not in http.trusted_proxies (listener "
                                         "expects a PROXY header)",
                                         peer.address().to_string());
                        boost::system::error_code ignored;
                        socket.close(ignored);
                        continue;
                    }
                    auto ex = socket.get_executor();
                    net::co_spawn(ex, read_proxy_header(std::move(socket), peer, self->ctx_, self->tls_), net::detached);
                    continue;
                }
                admit_and_run(std::move(socket), peer, self->ctx_, self->tls_);
            }
        },
        net::detached);
}

void admit_and_run(tcp::socket socket, const tcp::endpoint& client, std::shared_ptr<const context> ctx,
                   std::shared_ptr<net::ssl::context> tls)
{
    auto& m = metrics::global();
    // SEC-LIMIT-4/5: every connection, WebSocket ones included (the ticket moves into the
    // WebSocket session), counts until its socket is closed. A refused one is closed at once:
    // nothing is read, so nothing can be answered.
    auto key = client_key(client.address(), *ctx->limits_opt);
    limits::decision d = ctx->admission->open_connection(key);
    if (!d.granted) {
        ++m.http_connections_refused;
        limits::record_refusal(d.why);
        core::log().debug("connection from {} refused: {}", key.to_string(), limits::describe(d.why));
        boost::system::error_code ignored;
        socket.close(ignored);
        return;
    }
    ++m.http_connections_accepted;
    // The address is known here: the connection does not ask the kernel for it again.
    run_connection(std::move(socket), std::move(ctx), std::move(tls), std::move(d.granted), client);
}

void listener::stop()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
    });
}

limits::address_key client_key(const net::ip::address& a, const limits::options& opt)
{
    std::optional<limits::address_key> key;
    if (a.is_v4()) {
        auto b = a.to_v4().to_bytes();
        key = limits::make_key(b.data(), b.size(), opt);
    } else {
        auto b = a.to_v6().to_bytes();
        key = limits::make_key(b.data(), b.size(), opt);
    }
    return key.value_or(limits::address_key{});
}

std::uint16_t listener::port() const
{
    return acceptor_.local_endpoint().port();
}

} // namespace boshgate::http
