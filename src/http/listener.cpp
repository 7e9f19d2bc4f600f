#include "boshgate/http/listener.hpp"

#include "boshgate/core/log.hpp"
#include "boshgate/limits/metrics.hpp"
#include "boshgate/metrics/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <stdexcept>

namespace boshgate::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(net::io_context& ioc, context_picker pick, const listen_options& lo,
                   std::shared_ptr<const context> ctx)
    : pick_(std::move(pick)), acceptor_(ioc.get_executor()), ctx_(std::move(ctx))
{
    tcp::endpoint ep(net::ip::make_address(lo.address), lo.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(lo.backlog);
    if (lo.tls_cert_file && lo.tls_key_file) {
        tls_ = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
        tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                          net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                          net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
        tls_->use_certificate_chain_file(*lo.tls_cert_file);
        tls_->use_private_key_file(*lo.tls_key_file, net::ssl::context::pem);
    }
    auto bound = acceptor_.local_endpoint();
    core::log().info("listening on {}:{}{} (backlog {})", bound.address().to_string(), bound.port(),
                     tls_ ? " (https)" : "", lo.backlog);
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
                auto& m = metrics::global();
                // SEC-LIMIT-4/5: every connection, WebSocket ones included (the ticket moves
                // into the WebSocket session), counts until its socket is closed. A refused
                // one is closed at once: nothing is read, so nothing can be answered.
                boost::system::error_code peer_ec;
                auto peer = socket.remote_endpoint(peer_ec);
                auto key = client_key(peer.address(), *self->ctx_->limits_opt);
                limits::decision d = self->ctx_->admission->open_connection(key);
                if (!d.granted) {
                    ++m.http_connections_refused;
                    limits::record_refusal(d.why);
                    core::log().debug("connection from {} refused: {}", key.to_string(), limits::describe(d.why));
                    boost::system::error_code ignored;
                    socket.close(ignored);
                    continue;
                }
                ++m.http_connections_accepted;
                run_connection(std::move(socket), self->ctx_, self->tls_, std::move(d.granted));
            }
        },
        net::detached);
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
