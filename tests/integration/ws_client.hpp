#pragma once
// Blocking WebSocket test client (Beast) for the integration tests. It runs Beast's
// asynchronous operations on a private io_context and drives that context only while the
// test waits, up to a deadline, so no call can hang the suite. A read that times out stays
// pending and a later read() continues it: a timeout never corrupts the stream.
//
// Single-threaded: use one client from one test thread.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace boshgate::itest {

struct ws_connect_options {
    std::optional<std::string> protocol = "xmpp"; ///< Sec-WebSocket-Protocol offer; nullopt: none
    std::optional<std::string> origin;            ///< Origin header; nullopt: none
    std::string target = "/xmpp-websocket";
    /// wss only: PEM file of the CA that signed the listener's certificate (checked for
    /// "localhost").
    std::string ca_file;
    /// SO_RCVBUF set before connecting (0: the kernel's autotuned default). A small buffer
    /// makes a client that stops reading push back on the gateway after a few KB.
    int recv_buffer = 0;
};

/// Tls = false: ws:// over TCP; Tls = true: wss:// (TLS handshake first).
template <bool Tls>
class basic_ws_client {
    using next_layer_type =
        std::conditional_t<Tls, boost::asio::ssl::stream<boost::asio::ip::tcp::socket>, boost::asio::ip::tcp::socket>;

public:
    using response = boost::beast::websocket::response_type;

    struct message {
        std::string data;
        bool binary = false;
    };

    /// Connect and run the opening handshake (bounded by `limit`). Check upgraded().
    explicit basic_ws_client(std::uint16_t port, ws_connect_options o = {},
                             std::chrono::milliseconds limit = std::chrono::seconds(10))
        : tls_(boost::asio::ssl::context::tls_client), ws_(make_next_layer())
    {
        namespace bws = boost::beast::websocket;
        boost::system::error_code ec;
        if (o.recv_buffer > 0) {
            auto& sock = boost::beast::get_lowest_layer(ws_);
            sock.open(boost::asio::ip::tcp::v4(), ec);
            if (!ec) {
                sock.set_option(boost::asio::socket_base::receive_buffer_size(o.recv_buffer), ec);
            }
            if (ec) {
                error_ = ec;
                return;
            }
        }
        boost::beast::get_lowest_layer(ws_).connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        if (ec) {
            error_ = ec;
            return;
        }
        if constexpr (Tls) {
            tls_.load_verify_file(o.ca_file);
            auto& ssl = ws_.next_layer();
            ssl.set_verify_mode(boost::asio::ssl::verify_peer);
            ssl.set_verify_callback(boost::asio::ssl::host_name_verification("localhost"));
            SSL_set_tlsext_host_name(ssl.native_handle(), "localhost");
            auto shaken = std::make_shared<bool>(false);
            ssl.async_handshake(boost::asio::ssl::stream_base::client, [this, shaken](boost::system::error_code e) {
                error_ = e;
                *shaken = true;
            });
            run_until([&] { return *shaken; }, limit);
            if (!*shaken || error_) {
                if (!error_) {
                    error_ = boost::asio::error::timed_out;
                }
                return;
            }
        }
        ws_.set_option(bws::stream_base::decorator([o](bws::request_type& req) {
            if (o.protocol) {
                req.set(boost::beast::http::field::sec_websocket_protocol, *o.protocol);
            }
            if (o.origin) {
                req.set(boost::beast::http::field::origin, *o.origin);
            }
        }));
        ws_.control_callback([this](bws::frame_type kind, std::string_view payload) {
            if (kind == bws::frame_type::pong) {
                pongs_.emplace_back(payload);
            } else if (kind == bws::frame_type::ping) {
                pings_.emplace_back(payload); // Beast answers with a Pong itself
            }
        });
        auto done = std::make_shared<bool>(false);
        ws_.async_handshake(handshake_response_, "127.0.0.1", o.target, [this, done](boost::system::error_code e) {
            error_ = e;
            *done = true;
        });
        run_until([&] { return *done; }, limit);
        upgraded_ = *done && !error_;
        if (!*done) {
            error_ = boost::asio::error::timed_out;
        }
    }

    ~basic_ws_client()
    {
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(ws_).close(ignored);
    }

    basic_ws_client(const basic_ws_client&) = delete;
    basic_ws_client& operator=(const basic_ws_client&) = delete;

    bool upgraded() const { return upgraded_; }
    const response& handshake_response() const { return handshake_response_; }
    boost::system::error_code error() const { return error_; }

    void send_text(std::string_view text) { write(text, false); }
    /// Send a text message; false if it could not be written within `limit` (the peer does
    /// not read). The write then stays pending: send nothing more on this client.
    bool try_send_text(std::string_view text, std::chrono::milliseconds limit)
    {
        return write(text, false, limit) && !write_error_;
    }
    void send_binary(std::string_view data) { write(data, true); }
    /// Send one frame of a text message (RFC 6455 §5.4); `fin` ends the message.
    void send_text_frame(std::string_view text, bool fin)
    {
        auto done = std::make_shared<bool>(false);
        auto copy = std::make_shared<std::string>(text);
        ws_.binary(false);
        ws_.auto_fragment(false);
        ws_.async_write_some(fin, boost::asio::buffer(*copy), [this, done, copy](boost::system::error_code e, std::size_t) {
            if (e) {
                write_error_ = e;
            }
            *done = true;
        });
        run_until([&] { return *done; }, std::chrono::seconds(10));
    }

    /// Send a Ping with `payload` (at most 125 bytes).
    void ping(std::string_view payload)
    {
        // Completion flags are shared with the handler: after a timeout it may still run later.
        auto done = std::make_shared<bool>(false);
        ws_.async_ping(boost::beast::websocket::ping_data(payload.data(), payload.size()), [done](boost::system::error_code) { *done = true; });
        run_until([&] { return *done; }, std::chrono::seconds(10));
    }

    /// Wait for a Pong (a read is kept pending so control frames are processed).
    bool wait_pong(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        start_read();
        return run_until([&] { return !pongs_.empty(); }, limit);
    }
    const std::vector<std::string>& pongs() const { return pongs_; }

    /// Wait for a Ping from the server (answered automatically).
    bool wait_ping(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        start_read();
        return run_until([&] { return !pings_.empty() || ended_; }, limit) && !pings_.empty();
    }
    const std::vector<std::string>& pings() const { return pings_; }

    /// Next message (text or binary), or nullopt if the connection closed, failed, or
    /// `limit` passed first.
    std::optional<message> read_message(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        if (inbox_.empty()) {
            start_read();
            run_until([&] { return !inbox_.empty() || ended_; }, limit);
        }
        if (inbox_.empty()) {
            return std::nullopt;
        }
        auto m = std::move(inbox_.front());
        inbox_.pop_front();
        return m;
    }

    /// Next message's text ("" when there is none; see read_message).
    std::string read(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        auto m = read_message(limit);
        return m ? m->data : std::string();
    }

    /// Read (and keep) messages until the WebSocket ends; true if it ended within `limit`.
    /// Messages read meanwhile are returned by later read() calls.
    bool wait_closed(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        return run_until(
            [&] {
                if (!ended_) {
                    start_read();
                }
                return ended_;
            },
            limit);
    }

    /// Every message left until the end of the WebSocket (bounded by `limit`).
    std::vector<std::string> drain(std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        wait_closed(limit);
        std::vector<std::string> all;
        for (auto& m : inbox_) {
            all.push_back(std::move(m.data));
        }
        inbox_.clear();
        return all;
    }

    /// The WebSocket ended: a Close frame was received (closed_by_peer()) or the read failed.
    bool ended() const { return ended_; }
    /// The peer sent a Close frame (its code is close_code()).
    bool closed_by_peer() const { return closed_; }
    std::uint16_t close_code() const { return static_cast<std::uint16_t>(ws_.reason().code); }
    std::string close_reason() const { return std::string(ws_.reason().reason.data(), ws_.reason().reason.size()); }
    boost::system::error_code read_error() const { return read_error_; }
    boost::system::error_code write_error() const { return write_error_; }

    /// Start the closing handshake with `code` and wait (bounded) for it to finish.
    void close(std::uint16_t code = 1000)
    {
        auto done = std::make_shared<bool>(false);
        ws_.async_close(boost::beast::websocket::close_reason(code), [done](boost::system::error_code) { *done = true; });
        run_until([&] { return *done; }, std::chrono::seconds(10));
    }

    /// Vanish: close the TCP connection without a Close frame (a tab killed, a network cut).
    void vanish()
    {
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(ws_).close(ignored);
        // Let the pending read (if any) complete with its error.
        run_until([&] { return !reading_; }, std::chrono::seconds(1));
    }

private:
    next_layer_type make_next_layer()
    {
        if constexpr (Tls) {
            return next_layer_type(ioc_, tls_);
        } else {
            return next_layer_type(ioc_);
        }
    }

    bool write(std::string_view data, bool binary, std::chrono::milliseconds limit = std::chrono::seconds(10))
    {
        auto done = std::make_shared<bool>(false);
        auto copy = std::make_shared<std::string>(data); // outlives a timed-out write
        ws_.binary(binary);
        ws_.async_write(boost::asio::buffer(*copy), [this, done, copy](boost::system::error_code e, std::size_t) {
            if (e) {
                write_error_ = e;
            }
            *done = true;
        });
        return run_until([&] { return *done; }, limit);
    }

    void start_read()
    {
        if (reading_ || ended_) {
            return;
        }
        reading_ = true;
        buffer_.clear();
        ws_.async_read(buffer_, [this](boost::system::error_code ec, std::size_t) {
            reading_ = false;
            if (ec) {
                ended_ = true;
                closed_ = ec == boost::beast::websocket::error::closed;
                read_error_ = ec;
                return;
            }
            auto d = buffer_.cdata();
            inbox_.push_back(message{std::string(static_cast<const char*>(d.data()), d.size()), ws_.got_binary()});
        });
    }

    /// Run the private io_context until `pred` holds or `limit` passes; returns pred().
    template <class Pred>
    bool run_until(Pred pred, std::chrono::milliseconds limit)
    {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!pred()) {
            // The context stops whenever it runs out of work (e.g. after a read completed and
            // before pred() started the next one): restart it each time.
            if (ioc_.stopped()) {
                ioc_.restart();
            }
            // 0: the deadline passed, or nothing is pending that could change pred().
            if (ioc_.run_one_until(end) == 0) {
                break;
            }
        }
        return pred();
    }

    boost::asio::io_context ioc_;
    boost::asio::ssl::context tls_; ///< used by wss clients only
    boost::beast::websocket::stream<next_layer_type> ws_;
    response handshake_response_;
    boost::beast::flat_buffer buffer_;
    std::deque<message> inbox_;
    std::vector<std::string> pongs_;
    std::vector<std::string> pings_;
    boost::system::error_code error_;
    boost::system::error_code read_error_;
    boost::system::error_code write_error_;
    bool upgraded_ = false;
    bool reading_ = false;
    bool ended_ = false;
    bool closed_ = false;
};

using ws_client = basic_ws_client<false>;
using wss_client = basic_ws_client<true>;

} // namespace boshgate::itest
