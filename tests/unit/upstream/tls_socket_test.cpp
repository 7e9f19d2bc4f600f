// upstream::tls_socket against a local Asio ssl::stream server over real loopback sockets
// (test certificates from tests/support/test_certs). Everything runs on one io_context
// thread; the 20 s timer in run_until() is a safety net only.
#include "boshgate/upstream/tls_context.hpp"
#include "boshgate/upstream/tls_socket.hpp"
#include "support/fake_upstream_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <gtest/gtest.h>

#include <malloc.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace boshgate::upstream {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// Deterministic bytes, different per seed, so a reordered or lost chunk shows.
std::string pattern(std::size_t n, unsigned seed)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>((i * seed + i / 251 + seed) & 0xff);
    }
    return s;
}

class tls_socket_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        server_ctx.set_options(ssl::context::default_workarounds);
        server_ctx.use_certificate_chain_file(test::test_cert_path("xmpp_test.pem"));
        server_ctx.use_private_key_file(test::test_cert_path("xmpp_test.key"), ssl::context::pem);
        auto c = make_client_tls_context(test::test_cert_path("ca.pem"));
        ASSERT_TRUE(c.has_value());
        client_ctx = *c;
    }

    bool run_until(const std::function<bool()>& pred)
    {
        auto expired = std::make_shared<bool>(false);
        ioc.restart();
        net::steady_timer guard(ioc, 20s);
        guard.async_wait([expired](error_code ec) {
            if (!ec) {
                *expired = true;
            }
        });
        while (!pred() && !*expired) {
            if (ioc.run_one() == 0) {
                ioc.restart();
            }
        }
        guard.cancel();
        ioc.poll();
        return pred();
    }

    /// Accept one connection and run the server handshake; then `body` (if any).
    void serve(std::function<net::awaitable<void>(ssl::stream<tcp::socket>&)> body = {})
    {
        net::co_spawn(
            ioc,
            [this, body]() -> net::awaitable<void> {
                auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
                if (ec) {
                    co_return;
                }
                if (small_buffers) {
                    sock.set_option(net::socket_base::send_buffer_size(8192));
                }
                server = std::make_unique<ssl::stream<tcp::socket>>(std::move(sock), server_ctx);
                std::tie(server_handshake) =
                    co_await server->async_handshake(ssl::stream_base::server, use_tuple);
                if (const char* sni =
                        SSL_get_servername(server->native_handle(), TLSEXT_NAMETYPE_host_name)) {
                    server_sni = sni;
                }
                if (!*server_handshake && body) {
                    co_await body(*server);
                }
                server_done = true;
            },
            net::detached);
    }

    /// Connect and create the client tls_socket for `name` (not yet handshaken).
    std::unique_ptr<tls_socket> connect(const std::string& name = "xmpp.test")
    {
        tcp::socket sock(ioc);
        sock.open(tcp::v4());
        if (small_buffers) {
            sock.set_option(net::socket_base::send_buffer_size(8192));
        }
        sock.connect(acceptor.local_endpoint());
        tls_socket::socket_type link(std::move(sock));
        auto made = tls_socket::create(link, *client_ctx);
        EXPECT_TRUE(made.has_value());
        EXPECT_FALSE(link.is_open()); // taken over
        auto t = std::move(*made);
        EXPECT_FALSE(prepare_client_ssl(t->native_handle(), name, true, false));
        return t;
    }

    /// Client handshake, run to completion.
    error_code handshake(tls_socket& t)
    {
        std::optional<error_code> result;
        net::co_spawn(
            ioc, [&]() -> net::awaitable<void> { result = co_await t.handshake(); }, net::detached);
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return result.value_or(net::error::timed_out);
    }

    /// Client: read until `n` bytes (or an error), through wait_readable + read_some.
    static net::awaitable<error_code> read_exactly(tls_socket& t, std::string& out, std::size_t n)
    {
        std::string buf(16 * 1024, '\0');
        while (out.size() < n) {
            if (auto ec = co_await t.wait_readable()) {
                co_return ec;
            }
            auto [ec, got] = co_await t.read_some(net::buffer(buf));
            if (ec) {
                co_return ec;
            }
            EXPECT_GT(got, 0u);
            out.append(buf.data(), got);
        }
        co_return error_code{};
    }

    /// Client: one read_some result.
    std::pair<error_code, std::string> read_once(tls_socket& t)
    {
        std::optional<std::pair<error_code, std::string>> result;
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> {
                std::string buf(4096, '\0');
                auto [ec, n] = co_await t.read_some(net::buffer(buf));
                result.emplace(ec, buf.substr(0, n));
            },
            net::detached);
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return result.value_or(std::pair{error_code(net::error::timed_out), std::string()});
    }

    /// 1 MB each way with one read and one write outstanding at once, through 8 KiB send
    /// buffers: both directions hit WANT_READ / WANT_WRITE and partly written records many
    /// times. With `key_update`, the server asks for a TLS 1.3 KeyUpdate half way, while the
    /// client's writer is (very likely) blocked with a partly written record.
    void bulk_both_directions(bool key_update)
    {
        small_buffers = true;
        const std::size_t size = 1024 * 1024;
        const std::string down = pattern(size, 7);
        const std::string up = pattern(size, 13);
        std::string server_got;
        bool server_read_done = false;
        bool server_write_done = false;
        serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
            net::co_spawn(
                s.get_executor(),
                [&]() -> net::awaitable<void> {
                    const std::size_t first = key_update ? size / 2 : size;
                    co_await net::async_write(s, net::buffer(down.data(), first), use_tuple);
                    if (key_update) {
                        EXPECT_EQ(SSL_key_update(s.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
                        co_await net::async_write(s, net::buffer(down.data() + first, size - first),
                                                  use_tuple);
                    }
                    server_write_done = true;
                },
                net::detached);
            std::string buf(size, '\0');
            auto [ec, n] = co_await net::async_read(s, net::buffer(buf), use_tuple);
            server_got = buf.substr(0, n);
            server_read_done = true;
        });
        auto t = connect();
        ASSERT_FALSE(handshake(*t));

        std::string client_got;
        std::optional<error_code> read_ec;
        std::optional<std::tuple<error_code, std::size_t>> wrote;
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> { read_ec = co_await read_exactly(*t, client_got, size); },
            net::detached);
        net::co_spawn(
            ioc, [&]() -> net::awaitable<void> { wrote = co_await t->write_all(net::buffer(up)); },
            net::detached);
        ASSERT_TRUE(run_until([&] {
            return read_ec.has_value() && wrote.has_value() && server_read_done &&
                   server_write_done;
        }));
        EXPECT_FALSE(*read_ec) << read_ec->message();
        EXPECT_FALSE(std::get<0>(*wrote)) << std::get<0>(*wrote).message();
        EXPECT_EQ(std::get<1>(*wrote), size);
        EXPECT_TRUE(client_got == down) << "client received " << client_got.size() << " bytes";
        EXPECT_TRUE(server_got == up) << "server received " << server_got.size() << " bytes";
    }

    net::io_context ioc;
    tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
    ssl::context server_ctx{ssl::context::tls_server};
    std::shared_ptr<ssl::context> client_ctx;
    std::unique_ptr<ssl::stream<tcp::socket>> server;
    std::optional<error_code> server_handshake;
    std::string server_sni;
    bool server_done = false;
    bool small_buffers = false; ///< 8 KiB socket buffers: forces WANT_WRITE / partial writes
};

// C2S-TLS-1 C2S-TLS-4: SNI and a verified certificate, then data both ways
TEST_F(tls_socket_test, handshake_then_echo_both_ways)
{
    std::string server_got;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        co_await net::async_write(s, net::buffer(std::string("hello client")), use_tuple);
        std::string buf(4, '\0');
        auto [ec, n] = co_await net::async_read(s, net::buffer(buf), use_tuple);
        server_got = buf.substr(0, n);
        co_await net::async_write(s, net::buffer("echo:" + server_got), use_tuple);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    ASSERT_TRUE(server_handshake.has_value());
    EXPECT_FALSE(*server_handshake);
    EXPECT_EQ(server_sni, "xmpp.test");
    EXPECT_EQ(SSL_get_verify_result(static_cast<SSL*>(t->native_handle())), X509_V_OK);

    std::string first;
    std::optional<error_code> read_ec;
    std::optional<std::tuple<error_code, std::size_t>> wrote;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            read_ec = co_await read_exactly(*t, first, 12);
            wrote = co_await t->write_all(net::buffer(std::string("ping")));
        },
        net::detached);
    ASSERT_TRUE(run_until([&] { return wrote.has_value(); }));
    EXPECT_FALSE(*read_ec);
    EXPECT_EQ(first, "hello client");
    EXPECT_FALSE(std::get<0>(*wrote));
    EXPECT_EQ(std::get<1>(*wrote), 4u);

    std::string echoed;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { read_ec = co_await read_exactly(*t, echoed, 9); },
        net::detached);
    read_ec.reset();
    ASSERT_TRUE(run_until([&] { return read_ec.has_value(); }));
    EXPECT_FALSE(*read_ec);
    EXPECT_EQ(server_got, "ping");
    EXPECT_EQ(echoed, "echo:ping");
}

TEST_F(tls_socket_test, one_megabyte_both_directions_concurrently)
{
    bulk_both_directions(false);
}

// TLS 1.3 KeyUpdate (update_requested) arriving while the writer has a partly written
// record: OpenSSL defers the reply until that record is out; nothing stalls or fails.
TEST_F(tls_socket_test, key_update_during_concurrent_bulk_transfer)
{
    bulk_both_directions(true);
}

// TLS 1.3 post-handshake message that needs a reply: the reader's SSL_read has to write the
// client's KeyUpdate; both directions keep working with the new keys.
TEST_F(tls_socket_test, server_key_update_is_answered_by_the_reader)
{
    std::string server_got;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        EXPECT_EQ(SSL_version(s.native_handle()), TLS1_3_VERSION);
        EXPECT_EQ(SSL_key_update(s.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
        co_await net::async_write(s, net::buffer(std::string("after key update")), use_tuple);
        std::string buf(5, '\0');
        auto [ec, n] = co_await net::async_read(s, net::buffer(buf), use_tuple);
        server_got = buf.substr(0, n);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    std::string got;
    std::optional<error_code> read_ec;
    std::optional<std::tuple<error_code, std::size_t>> wrote;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            read_ec = co_await read_exactly(*t, got, 16);
            wrote = co_await t->write_all(net::buffer(std::string("thanks")));
        },
        net::detached);
    ASSERT_TRUE(run_until([&] { return server_done; }));
    ASSERT_TRUE(read_ec.has_value());
    EXPECT_FALSE(*read_ec);
    EXPECT_EQ(got, "after key update");
    EXPECT_EQ(server_got, "thank");
}

// C2S-TLS-4: a certificate for another name fails the handshake with the verify error
TEST_F(tls_socket_test, wrong_hostname_fails_verification)
{
    serve();
    auto t = connect("wrong.test");
    auto ec = handshake(*t);
    ASSERT_TRUE(ec);
    EXPECT_EQ(ec.category(), net::error::get_ssl_category());
    EXPECT_EQ(SSL_get_verify_result(static_cast<SSL*>(t->native_handle())),
              X509_V_ERR_HOSTNAME_MISMATCH);
    EXPECT_EQ(describe_tls_failure(t->native_handle(), ec),
              std::string("certificate verify failed: ") +
                  X509_verify_cert_error_string(X509_V_ERR_HOSTNAME_MISMATCH));
    ASSERT_TRUE(run_until([&] { return server_done; }));
    EXPECT_TRUE(server_handshake.value_or(error_code{})); // the server saw the alert
}

TEST_F(tls_socket_test, peer_close_notify_reads_as_eof)
{
    std::optional<error_code> server_shutdown;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        co_await net::async_write(s, net::buffer(std::string("bye")), use_tuple);
        std::tie(server_shutdown) = co_await s.async_shutdown(use_tuple);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    auto [ec1, data] = read_once(*t);
    EXPECT_FALSE(ec1);
    EXPECT_EQ(data, "bye");
    auto [ec2, none] = read_once(*t);
    EXPECT_EQ(ec2, net::error::eof);
    EXPECT_EQ(none, "");

    // Our close_notify completes the server's shutdown; ours completes at once (the peer's
    // close_notify is already in).
    std::optional<error_code> ours;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { ours = co_await t->shutdown(); }, net::detached);
    ASSERT_TRUE(run_until([&] { return ours.has_value() && server_shutdown.has_value(); }));
    EXPECT_FALSE(*ours) << ours->message();
    EXPECT_FALSE(*server_shutdown) << server_shutdown->message();
}

TEST_F(tls_socket_test, tcp_close_without_close_notify_is_stream_truncated)
{
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        s.next_layer().shutdown(tcp::socket::shutdown_both);
        s.next_layer().close();
        co_return;
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    std::optional<error_code> ec;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { ec = co_await t->wait_readable(); }, net::detached);
    ASSERT_TRUE(run_until([&] { return ec.has_value(); }));
    EXPECT_EQ(*ec, ssl::error::stream_truncated) << ec->message();
    auto [ec2, none] = read_once(*t); // and read_some says the same
    EXPECT_EQ(ec2, ssl::error::stream_truncated) << ec2.message();
}

TEST_F(tls_socket_test, tcp_reset_is_connection_reset)
{
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        s.next_layer().set_option(net::socket_base::linger(true, 0));
        s.next_layer().close();
        co_return;
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    auto [ec, none] = read_once(*t);
    EXPECT_EQ(ec, net::error::connection_reset) << ec.message();
    // Writing to the reset connection fails with an error code (no SIGPIPE).
    std::optional<std::tuple<error_code, std::size_t>> wrote;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> { wrote = co_await t->write_all(net::buffer(pattern(100000, 3))); },
        net::detached);
    ASSERT_TRUE(run_until([&] { return wrote.has_value(); }));
    EXPECT_TRUE(std::get<0>(*wrote));
}

// C2S-CLOSE-1: shutdown() sends close_notify (the server reads eof) and waits for the peer's
TEST_F(tls_socket_test, shutdown_sends_close_notify_and_waits_for_the_peers)
{
    std::optional<error_code> server_read;
    std::optional<error_code> server_shutdown;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        std::string buf(16, '\0');
        std::tie(server_read, std::ignore) = co_await s.async_read_some(net::buffer(buf), use_tuple);
        std::tie(server_shutdown) = co_await s.async_shutdown(use_tuple);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    std::optional<error_code> ours;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { ours = co_await t->shutdown(); }, net::detached);
    ASSERT_TRUE(run_until([&] { return ours.has_value() && server_shutdown.has_value(); }));
    EXPECT_EQ(*server_read, net::error::eof); // Asio's name for a received close_notify
    EXPECT_FALSE(*server_shutdown) << server_shutdown->message();
    EXPECT_FALSE(*ours) << ours->message();
    EXPECT_EQ(SSL_get_shutdown(static_cast<SSL*>(t->native_handle())),
              SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

// Terminal cancellation of the awaiting coroutine aborts a pending read, and a write on the
// same socket is not disturbed by it.
TEST_F(tls_socket_test, cancellation_aborts_a_pending_read_only)
{
    std::string server_got;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        std::string buf(3, '\0');
        auto [ec, n] = co_await net::async_read(s, net::buffer(buf), use_tuple);
        server_got = buf.substr(0, n);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    net::cancellation_signal cancel;
    std::optional<error_code> read_ec;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            co_await net::this_coro::throw_if_cancelled(false);
            read_ec = co_await t->wait_readable();
        },
        net::bind_cancellation_slot(cancel.slot(), net::detached));
    ioc.poll(); // the read is now waiting
    std::optional<std::tuple<error_code, std::size_t>> wrote;
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { wrote = co_await t->write_all(net::buffer(std::string("abc"))); },
        net::detached);
    ASSERT_TRUE(run_until([&] { return wrote.has_value() && server_done; }));
    EXPECT_FALSE(read_ec.has_value()); // still waiting: no data came
    EXPECT_FALSE(std::get<0>(*wrote));
    EXPECT_EQ(server_got, "abc");
    cancel.emit(net::cancellation_type::terminal);
    ASSERT_TRUE(run_until([&] { return read_ec.has_value(); }));
    EXPECT_EQ(*read_ec, net::error::operation_aborted);
}

/// Bytes SSL_free_buffers() gives back right now: what OpenSSL held in record buffers.
/// (Under a sanitizer allocator mallinfo2() reports nothing and this is always 0.)
std::size_t held_record_buffers(tls_socket& t)
{
    const auto before = mallinfo2().uordblks;
    EXPECT_EQ(SSL_free_buffers(static_cast<SSL*>(t.native_handle())), 1);
    const auto after = mallinfo2().uordblks;
    return before > after ? before - after : 0;
}

// Memory while idle: a connection waiting for data holds no ~16.5 KiB record buffer, neither
// after the handshake and a first read (without tls_socket's SSL_free_buffers() OpenSSL
// still holds one here despite SSL_MODE_RELEASE_BUFFERS) nor after a write.
TEST_F(tls_socket_test, idle_connection_holds_no_record_buffers)
{
    std::string server_got;
    serve([&](ssl::stream<tcp::socket>& s) -> net::awaitable<void> {
        co_await net::async_write(s, net::buffer(std::string("x")), use_tuple);
        std::string buf(2, '\0');
        auto [ec, n] = co_await net::async_read(s, net::buffer(buf), use_tuple);
        server_got = buf.substr(0, n);
    });
    auto t = connect();
    ASSERT_FALSE(handshake(*t));
    std::string got;
    std::optional<error_code> first;
    bool wrote = false;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            first = co_await read_exactly(*t, got, 1);
            (void)co_await t->wait_readable(); // nothing more comes: stays waiting
        },
        net::detached);
    ASSERT_TRUE(run_until([&] { return first.has_value(); }));
    ioc.poll(); // wait_readable() runs SSL_peek and starts waiting
    ASSERT_EQ(first, error_code{});
    EXPECT_EQ(got, "x");
    EXPECT_LT(held_record_buffers(*t), 1024u) << "idle after the first read";

    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            co_await t->write_all(net::buffer(std::string("ok")));
            wrote = true;
        },
        net::detached);
    ASSERT_TRUE(run_until([&] { return server_done && wrote; }));
    ioc.poll();
    EXPECT_EQ(server_got, "ok");
    EXPECT_LT(held_record_buffers(*t), 1024u) << "idle after a write";
}

} // namespace
} // namespace boshgate::upstream
