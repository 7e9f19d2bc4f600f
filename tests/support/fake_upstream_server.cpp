#include "support/fake_upstream_server.hpp"

#include <poll.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <stdexcept>

namespace boshgate::test {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using link = net::generic::stream_protocol; // TCP or Unix
using link_acceptor = net::basic_socket_acceptor<link>;
using boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::string test_cert_path(std::string_view file)
{
    return std::string(BOSHGATE_TEST_SUPPORT_DIR) + "/test_certs/" + std::string(file);
}

struct fake_upstream_server::script::step {
    enum class kind { expect, send, start_tls, reset, close, read_until_eof, stall, answer_ping };
    kind what;
    std::string data;
};

using step = fake_upstream_server::script::step;

fake_upstream_server::script& fake_upstream_server::script::expect(std::string needle)
{
    steps_.push_back(std::make_shared<step>(step{step::kind::expect, std::move(needle)}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::answer_ping()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::answer_ping, "<ping xmlns='urn:xmpp:ping'/></iq>"}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::expect_header()
{
    return expect("<stream:stream").expect(">");
}

fake_upstream_server::script& fake_upstream_server::script::send(std::string bytes)
{
    steps_.push_back(std::make_shared<step>(step{step::kind::send, std::move(bytes)}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::start_tls()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::start_tls, {}}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::reset()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::reset, {}}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::close()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::close, {}}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::read_until_eof()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::read_until_eof, {}}));
    return *this;
}

fake_upstream_server::script& fake_upstream_server::script::stall()
{
    steps_.push_back(std::make_shared<step>(step{step::kind::stall, {}}));
    return *this;
}

namespace {

/// SSL ex_data slot for the connection log (SSL app_data belongs to Asio's verify callback).
int log_index()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// ALPN: record what the client offers and pick xmpp-client when present.
int alpn_select(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* /*arg*/)
{
    auto* log = static_cast<fake_upstream_server::connection_log*>(SSL_get_ex_data(ssl, log_index()));
    int result = SSL_TLSEXT_ERR_NOACK;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int len = in[i];
        if (i + 1 + len > inlen) {
            break;
        }
        std::string proto(reinterpret_cast<const char*>(in + i + 1), len);
        if (proto == "xmpp-client") {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(len);
            result = SSL_TLSEXT_ERR_OK;
        }
        if (log != nullptr) {
            log->alpn_offered.push_back(std::move(proto));
        }
        i += 1 + len;
    }
    return result;
}

/// One accepted connection: a socket that may be upgraded to TLS in place.
struct server_conn {
    explicit server_conn(link::socket s) : sock(std::move(s)) {}
    link::socket sock;
    std::unique_ptr<ssl::stream<link::socket>> tls;

    link::socket& lowest() { return tls ? tls->next_layer() : sock; }

    net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b)
    {
        if (tls) {
            co_return co_await tls->async_read_some(b, use_tuple);
        }
        co_return co_await sock.async_read_some(b, use_tuple);
    }

    net::awaitable<std::tuple<error_code, std::size_t>> write_all(const std::string& data)
    {
        if (tls) {
            co_return co_await net::async_write(*tls, net::buffer(data), use_tuple);
        }
        co_return co_await net::async_write(sock, net::buffer(data), use_tuple);
    }
};

} // namespace

struct fake_upstream_server::impl : std::enable_shared_from_this<impl> {
    impl(net::io_context& ioc, config c, const std::string& unix_path)
        : cfg(std::move(c)), acceptor(make_acceptor(ioc, unix_path, port)), tls_ctx(ssl::context::tls_server)
    {
        tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3);
        tls_ctx.use_certificate_chain_file(test_cert_path(cfg.cert + ".pem"));
        tls_ctx.use_private_key_file(test_cert_path(cfg.cert + ".key"), ssl::context::pem);
        SSL_CTX_set_alpn_select_cb(tls_ctx.native_handle(), &alpn_select, nullptr);
    }

    static link_acceptor make_acceptor(net::io_context& ioc, const std::string& unix_path, std::uint16_t& port)
    {
        if (!unix_path.empty()) {
            ::unlink(unix_path.c_str());
            port = 0;
            return link_acceptor(ioc, link::endpoint(net::local::stream_protocol::endpoint(unix_path)));
        }
        tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
        return link_acceptor(std::move(a));
    }

    config cfg;
    std::uint16_t port = 0; ///< set by make_acceptor (declared before acceptor)
    link_acceptor acceptor;
    ssl::context tls_ctx;
    std::vector<script> scripts;
    std::size_t next_script = 0;
    std::vector<std::unique_ptr<connection_log>> logs;
    std::vector<std::weak_ptr<server_conn>> live;
    bool stopped = false;

    // `self` is a parameter (copied into the frame at co_spawn time), so the impl outlives
    // every coroutine that uses it even if the server object is gone before they start.
    net::awaitable<void> accept_loop([[maybe_unused]] std::shared_ptr<impl> self)
    {
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (ec || stopped) {
                co_return;
            }
            auto c = std::make_shared<server_conn>(std::move(sock));
            live.push_back(c);
            logs.push_back(std::make_unique<connection_log>());
            connection_log* log = logs.back().get();
            if (next_script >= scripts.size()) {
                error_code ignored;
                c->sock.close(ignored);
                log->done = true;
                log->error = "no script for this connection";
                continue;
            }
            net::co_spawn(acceptor.get_executor(), run(shared_from_this(), c, log, scripts[next_script++]),
                          net::detached);
        }
    }

    net::awaitable<bool> handshake(std::shared_ptr<server_conn> c, connection_log* log)
    {
        c->tls = std::make_unique<ssl::stream<link::socket>>(std::move(c->sock), tls_ctx);
        SSL_set_ex_data(c->tls->native_handle(), log_index(), log);
        auto [ec] = co_await c->tls->async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) {
            log->tls_failed = true;
            log->error = "tls handshake: " + ec.message();
            co_return false;
        }
        log->tls = true;
        if (const char* sni =
                SSL_get_servername(c->tls->native_handle(), TLSEXT_NAMETYPE_host_name)) {
            log->sni = sni;
        }
        co_return true;
    }

    void record(connection_log* log, std::string_view data)
    {
        log->received.append(data);
        if (log->closing_tag_at == std::string::npos) {
            log->closing_tag_at = log->received.find("</stream:stream>");
        }
    }

    net::awaitable<void> shutdown_tls(std::shared_ptr<server_conn> c)
    {
        using namespace net::experimental::awaitable_operators;
        // Bounded: a peer that never answers close_notify must not hang the script.
        net::steady_timer t(c->lowest().get_executor(), std::chrono::seconds(5));
        co_await (c->tls->async_shutdown(use_tuple) || t.async_wait(use_tuple));
    }

    net::awaitable<void> run([[maybe_unused]] std::shared_ptr<impl> self,
                             std::shared_ptr<server_conn> c, connection_log* log, script s)
    {
        std::size_t cursor = 0;
        std::array<char, 4096> buf{};
        if (cfg.direct_tls && !co_await handshake(c, log)) {
            log->done = true;
            co_return;
        }
        for (const auto& st : s.steps_) {
            switch (st->what) {
            case step::kind::expect:
            case step::kind::answer_ping:
                for (;;) {
                    auto pos = log->received.find(st->data, cursor);
                    if (pos != std::string::npos) {
                        cursor = pos + st->data.size();
                        break;
                    }
                    auto [ec, n] = co_await c->read_some(net::buffer(buf));
                    if (ec) {
                        log->error = "expect '" + st->data + "': " + ec.message();
                        log->done = true;
                        co_return;
                    }
                    record(log, std::string_view(buf.data(), n));
                }
                if (st->what == step::kind::answer_ping) {
                    const auto iq = log->received.rfind("<iq", cursor);
                    const auto id_at = log->received.find(" id='", iq);
                    const auto id_end = log->received.find('\'', id_at + 5);
                    const std::string answer = "<iq type='result' from='xmpp.test' id='" +
                                               log->received.substr(id_at + 5, id_end - id_at - 5) + "'/>";
                    auto [ec, n] = co_await c->write_all(answer);
                    if (ec) {
                        log->error = "answer_ping: " + ec.message();
                        log->done = true;
                        co_return;
                    }
                }
                break;
            case step::kind::send: {
                auto [ec, n] = co_await c->write_all(st->data);
                if (ec) {
                    log->error = "send: " + ec.message();
                    log->done = true;
                    co_return;
                }
                break;
            }
            case step::kind::start_tls:
                if (!co_await handshake(c, log)) {
                    log->done = true;
                    co_return;
                }
                break;
            case step::kind::reset: {
                error_code ignored;
                c->lowest().set_option(net::socket_base::linger(true, 0), ignored);
                c->lowest().close(ignored);
                log->done = true;
                co_return;
            }
            case step::kind::close: {
                if (c->tls) {
                    co_await shutdown_tls(c);
                }
                error_code ignored;
                c->lowest().shutdown(link::socket::shutdown_both, ignored);
                c->lowest().close(ignored);
                log->done = true;
                co_return;
            }
            case step::kind::stall: {
                // Never read; look for the peer's FIN or reset every 20 ms without reading.
                net::steady_timer t(c->lowest().get_executor());
                for (;;) {
                    if (!c->lowest().is_open()) {
                        break; // the server is being destroyed
                    }
                    pollfd p{c->lowest().native_handle(), POLLRDHUP, 0};
                    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
                        log->peer_closed = true;
                        break;
                    }
                    t.expires_after(std::chrono::milliseconds(20));
                    auto [ec] = co_await t.async_wait(use_tuple);
                    if (ec) {
                        break;
                    }
                }
                error_code ignored;
                c->lowest().close(ignored);
                log->done = true;
                co_return;
            }
            case step::kind::read_until_eof:
                for (;;) {
                    auto [ec, n] = co_await c->read_some(net::buffer(buf));
                    if (ec) {
                        log->peer_closed = true;
                        log->close_notify = c->tls && ec == net::error::eof;
                        break;
                    }
                    record(log, std::string_view(buf.data(), n));
                }
                if (c->tls && log->close_notify) {
                    co_await shutdown_tls(c);
                }
                {
                    error_code ignored;
                    c->lowest().close(ignored);
                }
                log->done = true;
                co_return;
            }
        }
        log->done = true;
    }

    void stop()
    {
        stopped = true;
        error_code ignored;
        acceptor.close(ignored);
        for (auto& w : live) {
            if (auto c = w.lock()) {
                c->lowest().close(ignored);
            }
        }
    }
};

fake_upstream_server::fake_upstream_server(net::io_context& ioc, config cfg)
    : fake_upstream_server(ioc, std::move(cfg), std::string())
{
}

fake_upstream_server::fake_upstream_server(net::io_context& ioc, config cfg, std::string unix_path)
    : impl_(std::make_shared<impl>(ioc, std::move(cfg), unix_path))
{
    net::co_spawn(ioc, impl_->accept_loop(impl_), net::detached);
}

fake_upstream_server::fake_upstream_server(net::io_context& ioc)
    : fake_upstream_server(ioc, config{})
{
}

fake_upstream_server::~fake_upstream_server()
{
    impl_->stop();
}

std::uint16_t fake_upstream_server::port() const
{
    return impl_->port;
}

void fake_upstream_server::add(script s)
{
    impl_->scripts.push_back(std::move(s));
}

std::size_t fake_upstream_server::connection_count() const
{
    return impl_->logs.size();
}

const fake_upstream_server::connection_log& fake_upstream_server::connection(std::size_t i) const
{
    return *impl_->logs.at(i);
}

std::string fake_upstream_server::header(std::string_view id, std::string_view from)
{
    return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' id='" +
           std::string(id) + "' from='" + std::string(from) +
           "' version='1.0' xml:lang='en'>";
}

std::string fake_upstream_server::features_starttls()
{
    return "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
           "</starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
           "<mechanism>PLAIN</mechanism></mechanisms></stream:features>";
}

std::string fake_upstream_server::features_sasl()
{
    return "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
           "<mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
           "<mechanism>PLAIN</mechanism></mechanisms>"
           "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method>"
           "</compression></stream:features>";
}

std::string fake_upstream_server::features_bind()
{
    return "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
}

std::string fake_upstream_server::proceed()
{
    return "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
}

std::string fake_upstream_server::sasl_success()
{
    return "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
}

std::string fake_upstream_server::stream_error(std::string_view condition)
{
    return "<stream:error><" + std::string(condition) +
           " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
}

} // namespace boshgate::test
