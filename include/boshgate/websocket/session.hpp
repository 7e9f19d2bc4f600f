#pragma once
// I/O shell around one websocket::framing: a Beast websocket::stream on the HTTP
// connection's io thread (no strand), a read loop that reassembles messages with a size
// bound, one write queue, one timer at framing.next_deadline(), and the upstream::stream it
// owns.
// Everything protocol-related is decided by websocket::framing.
#include "boshgate/config/config.hpp"
#include "boshgate/core/clock.hpp"
#include "boshgate/limits/admission.hpp"
#include "boshgate/upstream/stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace boshgate::websocket {

class session_base;

/// Registry of live WebSocket sessions: config for new ones (SIGHUP), shutdown of all,
/// counts. Thread-safe (one mutex, map operations only).
class hub : public std::enable_shared_from_this<hub> {
public:
    hub(std::shared_ptr<const config::config> cfg, std::shared_ptr<upstream::shared_context> upstream_ctx,
        const core::clock& clock);

    void set_config(std::shared_ptr<const config::config> cfg);
    std::shared_ptr<const config::config> config() const;
    const std::shared_ptr<upstream::shared_context>& upstream_context() const { return upstream_ctx_; }
    const core::clock& clock() const { return clock_; }

    /// Every live session: <stream:error><system-shutdown/>, <close/>, close 1001; new
    /// upgrades are refused from now on (accepting() == false).
    void shutdown_all();
    bool accepting() const;
    /// Draining: upgrades are answered HTTP 503 (Retry-After: 1); open sessions carry on.
    void set_draining(bool on) { draining_.store(on, std::memory_order_relaxed); }
    bool draining() const { return draining_.load(std::memory_order_relaxed); }
    std::size_t size() const;

    // Used by sessions.
    void add(std::uint64_t id, std::weak_ptr<session_base> s);
    void remove(std::uint64_t id);

private:
    std::shared_ptr<upstream::shared_context> upstream_ctx_;
    const core::clock& clock_;
    mutable std::mutex mutex_;
    std::shared_ptr<const config::config> cfg_;
    std::unordered_map<std::uint64_t, std::weak_ptr<session_base>> sessions_;
    bool shutting_down_ = false;
    std::atomic<bool> draining_{false};
};

/// What a session offers the hub.
class session_base {
public:
    virtual ~session_base() = default;
    /// Post a graceful shutdown onto the session's strand.
    virtual void post_shutdown() = 0;
};

using request = boost::beast::http::request<boost::beast::http::string_body>;

/// Take over an HTTP connection whose request `req` passed websocket::check_upgrade:
/// complete the RFC 6455 handshake (101 with Sec-WebSocket-Protocol: `protocol`), then run
/// the session until the WebSocket closes. Must be called on the connection's strand (the
/// socket's executor); the session keeps running on it. `secure`: the listener is TLS.
/// `admitted`: the connection's and the session's admission tickets (limits::admission),
/// held for the life of the WebSocket so that it counts against both limits.
struct admitted {
    limits::ticket connection;
    limits::ticket session;
    /// The browser's address, named in the PROXY header of a domain with proxy_protocol.
    std::optional<boost::asio::ip::tcp::endpoint> client_address;
};

void run_session(boost::asio::ip::tcp::socket&& socket, request&& req, std::string protocol,
                 std::shared_ptr<hub> h, admitted tickets = {});
void run_session(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>&& socket, request&& req,
                 std::string protocol, std::shared_ptr<hub> h, admitted tickets = {});

} // namespace boshgate::websocket
