#pragma once
// Client TLS over a plain, connected TCP socket, driven directly by OpenSSL. I/O adapter
// (Asio coroutines); compiled into boshgate_core (BOSHGATE_IO_SOURCES).
//
// Why not boost::asio::ssl::stream: its stream_core keeps two 17 KiB vectors and a BIO pair
// with two 17 KiB buffers for the whole life of every connection, idle or not. Here OpenSSL
// reads and writes the socket itself (non-blocking), and its record buffers exist only while
// a record is in flight (SSL_MODE_RELEASE_BUFFERS, plus SSL_free_buffers() before every
// wait: RELEASE_BUFFERS alone leaves a ~16.5 KiB buffer in place after the handshake), so
// an idle link costs the SSL object and little else. OpenSSL does all of TLS; this class
// only waits for readiness.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <memory>
#include <tuple>

namespace boshgate::upstream {

/// One client TLS connection over `lowest_layer()` (a connected TCP or Unix stream socket).
///
/// Operations (each an awaitable to be co_awaited on the socket's strand):
///  - handshake(): once, before anything else (SNI, host name check and ALPN are set on
///    native_handle() beforehand, see prepare_client_ssl);
///  - read_some() / wait_readable(): at most one outstanding;
///  - write_all(): at most one outstanding, concurrently with one read;
///  - shutdown(): after the reads and writes have ended.
/// A read and a write may be outstanding at the same time: every OpenSSL call is synchronous
/// and runs on the strand, and each side re-checks after the other side's OpenSSL call may
/// have consumed the readiness it waits for (TLS 1.3 post-handshake messages, TLS 1.2
/// renegotiation). A TLS 1.3 KeyUpdate that asks for a reply while the writer has a partly
/// written record is fine: OpenSSL 3 sends the reply after that record (tested). Not
/// covered by tests: a TLS 1.2 renegotiation started by the server during a blocked write.
///
/// Errors: OpenSSL errors in Asio's ssl category (the same codes ssl::stream reports, so
/// describe_tls_failure() applies), net::error::eof for the peer's close_notify,
/// ssl::error::stream_truncated for a TCP close without close_notify, system codes
/// (connection_reset, ...) otherwise; operation_aborted when the awaiting coroutine's
/// cancellation slot fires or the socket is closed.
///
/// Writes never raise SIGPIPE (send with MSG_NOSIGNAL through a minimal socket BIO; OpenSSL's
/// own socket BIO uses write()).
///
/// Thread-safety: none; one strand. Lifetime: the object must outlive every operation on it;
/// closing lowest_layer() aborts the operations. Not copyable or movable (the BIO points at
/// it).
class tls_socket {
public:
    using socket_type = boost::asio::generic::stream_protocol::socket; ///< TCP or Unix

    /// Take over a connected socket (set to non-blocking) and create its SSL from `ctx` (the
    /// SSL keeps its own reference to the SSL_CTX). Sets SSL_MODE_RELEASE_BUFFERS,
    /// SSL_MODE_ENABLE_PARTIAL_WRITE and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER. Fails with the
    /// OpenSSL or system error; `sock` is left unchanged then.
    static boost::system::result<std::unique_ptr<tls_socket>>
    create(socket_type& sock, boost::asio::ssl::context& ctx);

    ~tls_socket();
    tls_socket(const tls_socket&) = delete;
    tls_socket& operator=(const tls_socket&) = delete;

    /// The OpenSSL connection (an SSL*), for prepare_client_ssl() and describe_tls_failure().
    void* native_handle() const noexcept { return ssl_; }
    socket_type& lowest_layer() noexcept { return sock_; }
    boost::asio::any_io_executor get_executor() { return sock_.get_executor(); }

    /// TLS client handshake (SSL_connect).
    boost::asio::awaitable<boost::system::error_code> handshake();

    /// Read at least one byte of application data (SSL_read); an empty buffer completes at
    /// once with 0.
    boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    read_some(boost::asio::mutable_buffer buf);

    /// Wait until read_some() would complete without waiting: decrypted application data is
    /// pending, or the error it would report is returned here (SSL_peek of one byte, so TLS
    /// records and post-handshake messages are processed while no read buffer exists).
    boost::asio::awaitable<boost::system::error_code> wait_readable();

    /// Write every byte (SSL_write in records; partial writes are resumed). Returns the bytes
    /// written, which is buf.size() unless an error is returned.
    boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    write_all(boost::asio::const_buffer buf);

    /// Send close_notify and wait for the peer's (SSL_shutdown twice, like ssl::stream's
    /// async_shutdown). Bound it with a timer: a peer may never answer.
    boost::asio::awaitable<boost::system::error_code> shutdown();

    /// What the socket BIO works on (internal; public for the BIO callbacks).
    struct bio_state {
        int fd = -1;
        bool eof = false;   ///< recv() returned 0 (OpenSSL asks BIO_CTRL_EOF)
        int last_errno = 0; ///< errno of the last failed recv()/send()
    };

private:
    enum class side { reader = 0, writer = 1 };
    enum class wants { nothing, read, write };

    explicit tls_socket(socket_type&& sock);

    /// Run one OpenSSL call (returning > 0 on success, else see SSL_get_error) for `who`
    /// until it succeeds or fails, waiting for socket readiness as OpenSSL asks.
    template <class Call>
    boost::asio::awaitable<boost::system::error_code> drive(side who, Call call);
    /// After an OpenSSL call by `who`: wake the other side if that call may have consumed
    /// the readiness it waits for (or ended the connection).
    void after_call(side who, bool fatal);
    boost::system::error_code map_error(int ssl_error);

    socket_type sock_;
    void* ssl_ = nullptr; ///< SSL*, owned (frees the BIO)
    bio_state bio_;
    /// What each side is waiting for; the other side wakes it (cancel()) after an OpenSSL
    /// call that may have consumed that readiness.
    wants waiting_[2] = {wants::nothing, wants::nothing};
    bool kicked_[2] = {false, false};
};

} // namespace boshgate::upstream
