#pragma once
// HTTP front: listeners and the per-connection HTTP/1.x session (Beast). Routes POST on the
// BOSH path to bosh::session_table, OPTIONS to CORS, GET on the BOSH path to an
// informational page, GET on the WebSocket path to websocket::run_session (RFC 7395),
// /healthz (metrics: admin::server), XEP-0156 host-meta, and static files (demo page) from static_dir.
#include "boshgate/bosh/session_table.hpp"
#include "boshgate/http/options.hpp"
#include "boshgate/limits/admission.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace boshgate::websocket {
class hub;
}

namespace boshgate::http {

/// What every connection needs; immutable once listeners start.
struct context {
    options opt;
    std::string bosh_content_type = "text/xml; charset=utf-8"; ///< for replies made before a session is known
    std::shared_ptr<bosh::session_table> bosh;
    std::shared_ptr<websocket::hub> ws; ///< null or !cfg.websocket.enabled: the WebSocket path is 404
    std::shared_ptr<limits::admission> admission; ///< connection and session admission (required)
    /// Limits options for grouping client addresses (ipv4_prefix / ipv6_prefix).
    std::shared_ptr<const limits::options> limits_opt;
    /// In-place restart, once another process accepts on our sockets: every response closes
    /// its connection, so that clients open new ones (to the other process).
    std::shared_ptr<std::atomic<bool>> closing = std::make_shared<std::atomic<bool>>(false);
};

/// The admission group of a TCP peer (the seam where a trusted-proxy address will go).
limits::address_key client_key(const boost::asio::ip::address& a, const limits::options& opt);

/// One listening socket. Accepts each connection onto the io_context pick() yields (run by
/// one io thread: no strand) and hands it to a connection object that owns itself through
/// its pending coroutines.
class listener : public std::enable_shared_from_this<listener> {
public:
    /// Yields the io_context an accepted connection runs on (e.g. round-robin over the io
    /// threads' contexts). Called on the acceptor's thread.
    using context_picker = std::function<boost::asio::io_context&()>;
    /// Binds and listens (explicit backlog) on `ioc`, or takes over `inherited_fd` (a
    /// socket already listening on lo's address, from the process this one replaces);
    /// connections go to `pick()`. Throws std::system_error / std::runtime_error on failure:
    /// start-up only.
    listener(boost::asio::io_context& ioc, context_picker pick, const listen_options& lo,
             std::shared_ptr<const context> ctx, int inherited_fd = -1);
    void start();
    void stop();
    std::uint16_t port() const;
    /// The listening socket (to hand over to a successor process).
    int native_handle() { return acceptor_.native_handle(); }

private:
    context_picker pick_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<const context> ctx_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    bool proxy_protocol_ = false;
};

/// Admit one accepted connection from `client` (the TCP peer, or the address its PROXY
/// header gave) and serve it, or close it when admission refuses.
void admit_and_run(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& client,
                   std::shared_ptr<const context> ctx, std::shared_ptr<boost::asio::ssl::context> tls);

/// Serve one accepted connection (plain or TLS). `client`: the client's address, the TCP
/// peer or what a PROXY header gave (nullopt: the TCP peer, read from the socket).
void run_connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<const context> ctx,
                    std::shared_ptr<boost::asio::ssl::context> tls, limits::ticket admitted,
                    std::optional<boost::asio::ip::tcp::endpoint> client = std::nullopt);

} // namespace boshgate::http
