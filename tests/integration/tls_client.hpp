#pragma once
// Blocking HTTPS test client for the gateway's TLS listener: verifies the listener's
// certificate (tests/support/test_certs, valid for "localhost") against the test CA.
#include "integration/harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace boshgate::itest {

class https_client {
public:
    explicit https_client(std::uint16_t port)
        : ctx_(boost::asio::ssl::context::tls_client), stream_(ioc_, ctx_)
    {
        ctx_.load_verify_file(cert_path("ca.pem"));
        stream_.set_verify_mode(boost::asio::ssl::verify_peer);
        stream_.set_verify_callback(boost::asio::ssl::host_name_verification("localhost"));
        SSL_set_tlsext_host_name(stream_.native_handle(), "localhost");
        stream_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
        stream_.handshake(boost::asio::ssl::stream_base::client);
    }

    http_reply post(const std::string& body)
    {
        test::bhttp::request<test::bhttp::string_body> req{test::bhttp::verb::post, "/http-bind", 11};
        req.set(test::bhttp::field::host, "localhost");
        req.set(test::bhttp::field::content_type, "text/xml; charset=utf-8");
        req.body() = body;
        req.prepare_payload();
        test::bhttp::write(stream_, req);
        test::bhttp::response<test::bhttp::string_body> res;
        test::bhttp::read(stream_, buffer_, res);
        return to_reply(std::move(res));
    }

    /// GET or HEAD `target` with the Host header `host` (HEAD: headers only, no body read).
    http_reply get(const std::string& target, const std::string& host,
                   test::bhttp::verb verb = test::bhttp::verb::get)
    {
        test::bhttp::request<test::bhttp::string_body> req{verb, target, 11};
        req.set(test::bhttp::field::host, host);
        test::bhttp::write(stream_, req);
        test::bhttp::response_parser<test::bhttp::string_body> parser;
        parser.skip(verb == test::bhttp::verb::head);
        test::bhttp::read(stream_, buffer_, parser);
        return to_reply(parser.release());
    }

    /// Write raw bytes in one TLS record (e.g. a request plus one byte of the next).
    void send_raw(std::string_view bytes) { boost::asio::write(stream_, boost::asio::buffer(bytes)); }

    /// Read (and drop) everything until the server closes the connection; true if it did
    /// within `limit`.
    bool closed_within(std::chrono::milliseconds limit)
    {
        auto& sock = stream_.next_layer();
        const auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return false;
            }
            pollfd p{sock.native_handle(), POLLIN, 0};
            if (SSL_pending(stream_.native_handle()) == 0 && ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            char buf[4096];
            boost::system::error_code ec;
            stream_.read_some(boost::asio::buffer(buf), ec);
            if (ec) {
                return true;
            }
        }
    }

private:
    static http_reply to_reply(test::bhttp::response<test::bhttp::string_body>&& res)
    {
        http_reply r;
        r.status = res.result_int();
        r.keep_alive = res.keep_alive();
        r.body = std::move(res.body());
        r.headers = std::move(res.base());
        return r;
    }

    boost::asio::io_context ioc_;
    boost::asio::ssl::context ctx_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
    boost::beast::flat_buffer buffer_;
};

} // namespace boshgate::itest
