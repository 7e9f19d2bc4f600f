// upstream::tls_socket: OpenSSL driven directly over a non-blocking TCP socket (see
// tls_socket.hpp). Every OpenSSL call is synchronous; WANT_READ / WANT_WRITE become an
// async_wait on the socket, then the same call is repeated (OpenSSL requires the same
// arguments for a repeated SSL_write; ACCEPT_MOVING_WRITE_BUFFER lets the pointer move).
#include "boshgate/upstream/tls_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <utility>

namespace boshgate::upstream {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

SSL* as_ssl(void* p)
{
    return static_cast<SSL*>(p);
}

tls_socket::bio_state* state_of(BIO* b)
{
    return static_cast<tls_socket::bio_state*>(BIO_get_data(b));
}

bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

// A minimal socket BIO: recv/send on the descriptor, send with MSG_NOSIGNAL. OpenSSL's
// BIO_s_socket writes with write(), which raises SIGPIPE on a connection the peer has
// reset; the gateway does not ignore SIGPIPE and neither do the test binaries.
int bio_write_ex(BIO* b, const char* data, size_t len, size_t* written)
{
    auto* st = state_of(b);
    BIO_clear_retry_flags(b);
    ssize_t n = ::send(st->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
        *written = static_cast<size_t>(n);
        return 1;
    }
    st->last_errno = errno;
    if (would_block(st->last_errno)) {
        BIO_set_retry_write(b);
    }
    *written = 0;
    return 0;
}

int bio_read_ex(BIO* b, char* data, size_t len, size_t* read)
{
    auto* st = state_of(b);
    BIO_clear_retry_flags(b);
    *read = 0;
    if (len == 0) {
        return 0;
    }
    ssize_t n = ::recv(st->fd, data, len, 0);
    if (n > 0) {
        *read = static_cast<size_t>(n);
        return 1;
    }
    if (n == 0) {
        st->eof = true; // OpenSSL then reports "unexpected eof" unless close_notify came first
        return 0;
    }
    st->last_errno = errno;
    if (would_block(st->last_errno)) {
        BIO_set_retry_read(b);
    }
    return 0;
}

long bio_ctrl(BIO* b, int cmd, long /*num*/, void* ptr)
{
    auto* st = state_of(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: // writes go straight to the socket
        return 1;
    case BIO_CTRL_EOF:
        return st != nullptr && st->eof ? 1 : 0;
    case BIO_C_GET_FD:
        if (st == nullptr) {
            return -1;
        }
        if (ptr != nullptr) {
            *static_cast<int*>(ptr) = st->fd;
        }
        return st->fd;
    default: // PENDING/WPENDING 0, no kTLS, no push/pop behaviour
        return 0;
    }
}

int bio_create(BIO* /*b*/)
{
    return 1; // BIO_set_init once the state is attached
}

int bio_destroy(BIO* /*b*/)
{
    return 1; // the state belongs to the tls_socket
}

/// The BIO method, created once per process (thread-safe static initialisation).
const BIO_METHOD* socket_bio_method()
{
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                     "boshgate tcp");
        if (m != nullptr) {
            BIO_meth_set_write_ex(m, &bio_write_ex);
            BIO_meth_set_read_ex(m, &bio_read_ex);
            BIO_meth_set_ctrl(m, &bio_ctrl);
            BIO_meth_set_create(m, &bio_create);
            BIO_meth_set_destroy(m, &bio_destroy);
        }
        return m;
    }();
    return method;
}

/// SSL_free_buffers() is safe to call while a record is partly received only with the fix
/// for CVE-2024-4741 (3.0.14, 3.1.6, 3.2.2, 3.3.1 and later), which makes it refuse then.
bool free_buffers_is_safe()
{
    static const bool safe = [] {
        const unsigned long v = OpenSSL_version_num(); // 0xMNN00PP0L
        const unsigned long minor = (v >> 20) & 0xff;
        const unsigned long patch = (v >> 4) & 0xff;
        if ((v >> 28) != 3) {
            return (v >> 28) > 3;
        }
        switch (minor) {
        case 0:
            return patch >= 14;
        case 1:
            return patch >= 6;
        case 2:
            return patch >= 2;
        case 3:
            return patch >= 1;
        default:
            return true;
        }
    }();
    return safe;
}

error_code openssl_error(unsigned long e)
{
    if (e == 0) {
        return boost::system::errc::make_error_code(boost::system::errc::io_error);
    }
    return error_code(static_cast<int>(e), net::error::get_ssl_category());
}

} // namespace

tls_socket::tls_socket(socket_type&& sock) : sock_(std::move(sock)) {}

tls_socket::~tls_socket()
{
    if (ssl_ != nullptr) {
        SSL_free(as_ssl(ssl_)); // frees the BIO too
    }
}

boost::system::result<std::unique_ptr<tls_socket>> tls_socket::create(socket_type& sock,
                                                                      ssl::context& ctx)
{
    const BIO_METHOD* method = socket_bio_method();
    if (method == nullptr) {
        return openssl_error(ERR_get_error());
    }
    error_code ec;
    sock.non_blocking(true, ec);
    if (ec) {
        return ec;
    }
    ERR_clear_error();
    SSL* s = SSL_new(ctx.native_handle());
    if (s == nullptr) {
        return openssl_error(ERR_get_error());
    }
    // RELEASE_BUFFERS: the record buffers exist only while a record is in flight.
    SSL_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    BIO* bio = BIO_new(method);
    if (bio == nullptr) {
        auto err = openssl_error(ERR_get_error());
        SSL_free(s);
        return err;
    }
    std::unique_ptr<tls_socket> self(new tls_socket(std::move(sock)));
    self->ssl_ = s;
    self->bio_.fd = self->sock_.native_handle();
    BIO_set_data(bio, &self->bio_);
    BIO_set_init(bio, 1);
    SSL_set_bio(s, bio, bio); // one reference, used for both directions
    SSL_set_connect_state(s);
    return self;
}

error_code tls_socket::map_error(int ssl_error)
{
    unsigned long e = ERR_get_error();
    switch (ssl_error) {
    case SSL_ERROR_ZERO_RETURN: // the peer's close_notify
        return net::error::eof;
    case SSL_ERROR_SYSCALL:
        if (e != 0) {
            return openssl_error(e);
        }
        if (bio_.last_errno != 0 && !bio_.eof) {
            return error_code(bio_.last_errno, boost::system::system_category());
        }
        return ssl::error::stream_truncated; // TCP closed without close_notify
    case SSL_ERROR_SSL:
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            return ssl::error::stream_truncated; // what ssl::stream reports for the same case
        }
        return openssl_error(e);
    default:
        return openssl_error(e);
    }
}

void tls_socket::after_call(side who, bool fatal)
{
    const side other = who == side::reader ? side::writer : side::reader;
    const auto o = static_cast<std::size_t>(other);
    if (waiting_[o] == wants::nothing || kicked_[o]) {
        return;
    }
    bool kick = fatal;
    if (other == side::reader) {
        // The writer's SSL_write can read records (handshake in progress): decrypted data or
        // the peer's close_notify may now sit in OpenSSL, with nothing left on the socket.
        SSL* s = as_ssl(ssl_);
        kick = kick || (waiting_[o] == wants::read &&
                        (SSL_has_pending(s) == 1 ||
                         (SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN) != 0));
    } else {
        // The writer waits for handshake bytes (WANT_READ from SSL_write): the reader's call
        // may have consumed them and finished the handshake step.
        kick = kick || waiting_[o] == wants::read;
    }
    if (kick) {
        // The calling side has no wait outstanding (it is running), so this aborts only the
        // other side's wait, which sees kicked_ and retries.
        kicked_[o] = true;
        error_code ignored;
        sock_.cancel(ignored);
    }
}

template <class Call>
net::awaitable<error_code> tls_socket::drive(side who, Call call)
{
    // One frame for the whole operation (the readiness wait is inline, not a nested
    // coroutine): an idle stream keeps exactly this frame for its pending wait_readable().
    SSL* s = as_ssl(ssl_);
    const auto i = static_cast<std::size_t>(who);
    for (;;) {
        ERR_clear_error();
        bio_.last_errno = 0;
        const int ret = call();
        if (ret > 0) {
            after_call(who, false);
            co_return error_code{};
        }
        const int err = SSL_get_error(s, ret);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            auto ec = map_error(err);
            after_call(who, true);
            co_return ec;
        }
        after_call(who, false);
        // SSL_MODE_RELEASE_BUFFERS frees the read buffer only once a record has been
        // consumed: a read that stops on WANT_READ (an idle link, waiting here for hours)
        // would keep its ~16.5 KiB buffer. Hand the buffers back before waiting; OpenSSL
        // refuses (returns 0, frees nothing) while a partial record or write is buffered.
        if (free_buffers_is_safe()) {
            SSL_free_buffers(s);
        }
        auto cs = co_await net::this_coro::cancellation_state;
        if (cs.cancelled() != net::cancellation_type::none) {
            co_return net::error::operation_aborted;
        }
        const bool want_read = err == SSL_ERROR_WANT_READ;
        waiting_[i] = want_read ? wants::read : wants::write;
        auto [ec] = co_await sock_.async_wait(
            want_read ? socket_type::wait_read : socket_type::wait_write, use_tuple);
        waiting_[i] = wants::nothing;
        const bool kicked = std::exchange(kicked_[i], false);
        if (ec == net::error::operation_aborted && kicked) {
            continue; // woken by the other side, not cancelled: repeat the call
        }
        if (ec) {
            co_return ec;
        }
    }
}

// handshake(), wait_readable() and shutdown() return drive()'s awaitable directly: no
// coroutine frame of their own.
net::awaitable<error_code> tls_socket::handshake()
{
    return drive(side::reader, [s = as_ssl(ssl_)] { return SSL_connect(s); });
}

net::awaitable<error_code> tls_socket::wait_readable()
{
    return drive(side::reader, [s = as_ssl(ssl_)] {
        char one = 0;
        std::size_t n = 0;
        return SSL_peek_ex(s, &one, 1, &n);
    });
}

net::awaitable<std::tuple<error_code, std::size_t>> tls_socket::read_some(net::mutable_buffer buf)
{
    if (buf.size() == 0) {
        co_return std::tuple{error_code{}, std::size_t{0}};
    }
    SSL* s = as_ssl(ssl_);
    std::size_t n = 0;
    auto ec = co_await drive(side::reader,
                             [&] { return SSL_read_ex(s, buf.data(), buf.size(), &n); });
    co_return std::tuple{ec, ec ? std::size_t{0} : n};
}

net::awaitable<std::tuple<error_code, std::size_t>> tls_socket::write_all(net::const_buffer buf)
{
    SSL* s = as_ssl(ssl_);
    const auto* data = static_cast<const char*>(buf.data());
    std::size_t total = 0;
    while (total < buf.size()) {
        std::size_t n = 0;
        // With ENABLE_PARTIAL_WRITE each successful call writes at least one whole record;
        // a repeated call after WANT_WRITE has the same length (OpenSSL requires it).
        auto ec = co_await drive(side::writer, [&] {
            return SSL_write_ex(s, data + total, buf.size() - total, &n);
        });
        if (ec) {
            co_return std::tuple{ec, total};
        }
        total += n;
    }
    co_return std::tuple{error_code{}, total};
}

net::awaitable<error_code> tls_socket::shutdown()
{
    // The first call sends close_notify and returns 0; the second reads until the peer's
    // close_notify (1) or asks to wait; application data meanwhile is discarded. The same
    // two-call sequence as ssl::stream's async_shutdown.
    return drive(side::writer, [s = as_ssl(ssl_)] {
        int r = SSL_shutdown(s);
        return r == 0 ? SSL_shutdown(s) : r;
    });
}

} // namespace boshgate::upstream
