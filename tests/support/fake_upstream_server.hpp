#pragma once
// A scripted in-process XMPP server on 127.0.0.1:<ephemeral> for hermetic tests of the
// upstream side (things a real Prosody/ejabberd will not do on demand: wrong certificates,
// garbage, resets mid-stanza, stalls).
//
// Usage (everything on the test's io_context, one thread):
//
//   fake_upstream_server srv(ioc, {.cert = "xmpp_test"});
//   srv.add(fake_upstream_server::script{}
//               .expect_header()
//               .send(fake_upstream_server::header("s1") + fake_upstream_server::features_starttls())
//               .expect("<starttls").expect("/>")
//               .send(fake_upstream_server::proceed())
//               .start_tls()
//               ...);
//   ... run ioc until srv.connection(0).done ...
//   EXPECT_EQ(srv.connection(0).received, "...");
//
// Each accepted connection runs the next added script (a connection with no script left is
// closed at once). Steps run strictly in order; `expect` reads until the needle has been
// received (searching only bytes after the previous match).
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::test {

/// Path of a file in tests/support/test_certs (BOSHGATE_TEST_SUPPORT_DIR).
std::string test_cert_path(std::string_view file);

class fake_upstream_server {
public:
    struct config {
        /// Certificate/key pair from tests/support/test_certs: "xmpp_test" (valid for
        /// xmpp.test and localhost) or "other" (valid for other.test only). Needed for
        /// start_tls() and direct_tls.
        std::string cert = "xmpp_test";
        /// TLS from the first byte (XEP-0368 direct TLS); ALPN "xmpp-client" is accepted.
        bool direct_tls = false;
    };

    /// One step list for one connection. Builder methods return *this.
    class script {
    public:
        /// Read until `needle` has been received.
        script& expect(std::string needle);
        /// expect("<stream:stream") then expect(">"): one client stream header.
        script& expect_header();
        /// Write bytes (plaintext or through TLS, whichever is current).
        script& send(std::string bytes);
        /// Server side of STARTTLS: TLS handshake on the same socket (after sending
        /// <proceed/>). Bytes the client sent before the handshake must have been consumed.
        script& start_tls();
        /// Abortive close: RST, no closing tag, no close_notify (e.g. mid-stanza).
        script& reset();
        /// Polite close: TLS close_notify (when TLS) and TCP FIN.
        script& close();
        /// Keep reading and recording until the peer closes (or the server is destroyed);
        /// records close_notify / EOF, then answers close_notify (when TLS) and closes. Use
        /// it to "stall" (never answer) or to observe the client's closing sequence.
        script& read_until_eof();
        /// Stop reading for good (a server that hangs): the client's writes fill the socket
        /// buffers and then block. Ends, with peer_closed, when the client closes or resets
        /// the connection (seen without reading: POLLRDHUP/POLLHUP).
        script& stall();
        /// Read until a XEP-0199 ping (the gateway's <iq ...><ping xmlns='urn:xmpp:ping'/></iq>)
        /// has arrived, then answer it: <iq type='result' id='<its id>'/>.
        script& answer_ping();

        struct step;

    private:
        friend class fake_upstream_server;
        std::vector<std::shared_ptr<step>> steps_;
    };

    /// What happened on one connection. Valid while the server lives.
    struct connection_log {
        std::string received;                  ///< all application bytes received, in order
        std::string sni;                       ///< TLS SNI the client sent ("" if none)
        std::vector<std::string> alpn_offered; ///< ALPN protocols the client offered
        bool tls = false;                      ///< a TLS handshake completed
        bool tls_failed = false;               ///< a TLS handshake was attempted and failed
        bool peer_closed = false;              ///< read_until_eof saw the end of the stream
        bool close_notify = false;             ///< ... and it began with a TLS close_notify
        std::size_t closing_tag_at = std::string::npos; ///< offset of "</stream:stream>" in received
        bool done = false;                     ///< the script ended (completed or aborted)
        std::string error;                     ///< why the script stopped early; "" if it completed
    };

    fake_upstream_server(boost::asio::io_context& ioc, config cfg);
    /// Listening on the Unix domain socket `unix_path` (created; removed first if present)
    /// instead of 127.0.0.1; port() is 0.
    fake_upstream_server(boost::asio::io_context& ioc, config cfg, std::string unix_path);
    explicit fake_upstream_server(boost::asio::io_context& ioc);
    ~fake_upstream_server();
    fake_upstream_server(const fake_upstream_server&) = delete;
    fake_upstream_server& operator=(const fake_upstream_server&) = delete;

    /// The bound port on 127.0.0.1 (0 on a Unix socket).
    std::uint16_t port() const;
    /// Queue a script for the next accepted connection.
    void add(script s);
    /// Connections accepted so far.
    std::size_t connection_count() const;
    /// Log of connection i (i < connection_count()).
    const connection_log& connection(std::size_t i) const;

    // ---- canned server output
    /// "<?xml version='1.0'?><stream:stream ... id='<id>' from='<from>' version='1.0' ...>"
    static std::string header(std::string_view id, std::string_view from = "xmpp.test");
    /// <stream:features> with <starttls><required/></starttls> and PLAIN.
    static std::string features_starttls();
    /// <stream:features> with SCRAM-SHA-1-PLUS, SCRAM-SHA-1, PLAIN and zlib compression.
    static std::string features_sasl();
    /// <stream:features> with <bind/>.
    static std::string features_bind();
    static std::string proceed();
    static std::string sasl_success();
    /// <stream:error><condition/></stream:error>
    static std::string stream_error(std::string_view condition);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace boshgate::test
