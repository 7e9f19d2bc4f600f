#pragma once
// Blocking HTTP/1.x test client over loopback (Beast), for integration tests that drive an
// in-process gateway running on its own threads. Every read waits at most `timeout` (poll()
// before each read_some: SO_RCVTIMEO would not bound Asio's blocking reads, which retry with
// an unbounded poll), so a test fails instead of hanging.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>

#include <chrono>
#include <optional>
#include <string>

namespace boshgate::test {

namespace bhttp = boost::beast::http;

struct http_reply {
    unsigned status = 0;
    std::string body;
    bhttp::fields headers;
    bool keep_alive = false;
    std::string header(std::string_view name) const
    {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : std::string(it->value());
    }
};

/// SyncReadStream/SyncWriteStream over a socket whose reads give up after a deadline.
class timed_socket {
public:
    timed_socket(boost::asio::ip::tcp::socket& s, std::chrono::milliseconds timeout) : s_(s), timeout_(timeout) {}

    template <class Buffers>
    std::size_t read_some(const Buffers& b, boost::system::error_code& ec)
    {
        pollfd p{s_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout_.count())) <= 0) {
            ec = boost::asio::error::timed_out;
            return 0;
        }
        return s_.read_some(b, ec);
    }
    template <class Buffers>
    std::size_t read_some(const Buffers& b)
    {
        boost::system::error_code ec;
        auto n = read_some(b, ec);
        if (ec) {
            throw boost::system::system_error(ec);
        }
        return n;
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& b, boost::system::error_code& ec)
    {
        return s_.write_some(b, ec);
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& b)
    {
        return s_.write_some(b);
    }

private:
    boost::asio::ip::tcp::socket& s_;
    std::chrono::milliseconds timeout_;
};

class http_client {
public:
    explicit http_client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
        : socket_(ioc_), timed_(socket_, timeout)
    {
        socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }

    /// Write a request without reading (pipelining, or to read later).
    void send(std::string body, std::string target = "/http-bind", bhttp::verb verb = bhttp::verb::post,
              unsigned version = 11, std::initializer_list<std::pair<std::string, std::string>> extra = {})
    {
        bhttp::request<bhttp::string_body> req{verb, target, version};
        if (version == 11) {
            req.set(bhttp::field::host, "127.0.0.1");
        }
        for (const auto& [k, v] : extra) {
            req.set(k, v);
        }
        if (verb == bhttp::verb::post) {
            req.set(bhttp::field::content_type, "text/xml; charset=utf-8");
            req.body() = std::move(body);
            req.prepare_payload();
        }
        bhttp::write(socket_, req);
    }

    /// Write raw bytes (malformed requests).
    void send_raw(std::string_view bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }

    /// Read one response; error_code set on EOF/timeout.
    http_reply read(boost::system::error_code& ec)
    {
        bhttp::response_parser<bhttp::string_body> p;
        p.body_limit(64 * 1024 * 1024);
        bhttp::read(timed_, buffer_, p, ec);
        http_reply r;
        if (ec) {
            return r;
        }
        auto res = p.release();
        r.status = res.result_int();
        r.keep_alive = res.keep_alive();
        r.body = std::move(res.body());
        r.headers = std::move(res.base());
        return r;
    }

    http_reply read()
    {
        boost::system::error_code ec;
        auto r = read(ec);
        if (ec) {
            throw boost::system::system_error(ec, "http_client::read");
        }
        return r;
    }

    http_reply post(std::string body)
    {
        send(std::move(body));
        return read();
    }

    /// True when the server closed the connection (EOF) before sending anything more.
    bool closed_by_peer()
    {
        char c;
        boost::system::error_code ec;
        timed_.read_some(boost::asio::buffer(&c, 1), ec);
        return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    timed_socket timed_;
    boost::beast::flat_buffer buffer_;
};

} // namespace boshgate::test
