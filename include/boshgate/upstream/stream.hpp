#pragma once
// One client-to-server XMPP stream (RFC 6120 c2s) on behalf of a web client.
// I/O adapter: target policy, DNS, TCP, STARTTLS/direct TLS and the framer; the protocol
// decisions are made by upstream::negotiator (pure).
#include "boshgate/limits/options.hpp"
#include "boshgate/upstream/failure.hpp"
#include "boshgate/upstream/options.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>

namespace boshgate::upstream {

/// What the owner (bosh::session, later websocket::session) receives. Every callback runs
/// on the owner's executor; the callee may drop its reference to the stream inside a
/// callback (the stream keeps itself alive until the callback returns).
class stream_events {
public:
    virtual ~stream_events() = default;
    /// The server's stream header the client should see: after STARTTLS it is the header of
    /// the TLS-protected stream (pre-TLS headers are not reported). Called again after each
    /// client restart.
    virtual void on_upstream_header(const xml::root_open& header) = 0;
    /// A top-level element: <stream:features/> already filtered (no starttls, compression,
    /// *-PLUS), stanzas, SASL and XEP-0198 elements verbatim; namespace-complete.
    virtual void on_upstream_element(xml::element&& el) = 0;
    /// <stream:error/> as a whole element, namespace-complete (XBOSH-9, WS-ERR-1).
    virtual void on_upstream_stream_error(std::string error_xml) = 0;
    /// The server closed its stream (clean = saw </stream:stream>) or the connection ended.
    virtual void on_upstream_closed(bool clean) = 0;
    /// Setup or runtime failure; `detail` is a short log-safe reason.
    virtual void on_upstream_failed(failure f, std::string detail) = 0;
    /// Flow control (SEC-FLOW-2): the bytes waiting for the server, which had crossed
    /// upstream_send_high_water (send_blocked() was true), are down to the low-water mark:
    /// the owner may read its client again.
    virtual void on_upstream_writable() {}
};

struct open_params {
    std::string to;                    ///< XMPP domain: stream `to`, SNI, certificate identity
    std::optional<std::string> route;  ///< "xmpp:host:port" from BOSH, split literally (BOSH-ROUTE-2)
    std::string lang = "en";
    std::optional<std::string> from;   ///< sent only once the link is TLS-protected (C2S-HDR-5)
    /// The browser's address (port 0 when unknown), for the PROXY header of a domain with
    /// proxy_protocol; nullopt: a v2 LOCAL header.
    std::optional<boost::asio::ip::tcp::endpoint> client;
};

class shared_context; ///< resolver settings, TLS contexts, options (one per gateway)

/// Create with make_stream(); all calls on `ex` (the owner's strand).
class stream {
public:
    virtual ~stream() = default;
    /// Resolve, connect, secure, send the header. Results arrive through stream_events.
    virtual void open(const open_params& p) = 0;
    /// Send client elements (namespace-complete bytes). Held until the stream is ready
    /// (after STARTTLS, and between SASL <success/> and the client's restart: XBOSH-11).
    virtual void send(std::string bytes) = 0;
    /// Client-requested restart after SASL success (XEP-0206 §5, RFC 7395 §3.7): new header
    /// on the same connection, framer reset.
    virtual void restart() = 0;
    /// clean: </stream:stream>, wait (bounded) for the server's, TLS close_notify, TCP close.
    /// !clean: drop TCP without a closing tag (lets the server keep an XEP-0198 session).
    /// No callbacks are delivered after close() returns.
    virtual void close(bool clean) = 0;

    // ---- flow control (SEC-FLOW-1, SEC-FLOW-2)
    /// Stop (true) or resume (false) reading from the server: the owner's queue towards its
    /// client is above client_send_high_water. The server's data waits in its own socket
    /// buffers (TCP flow control) instead of in the gateway's memory.
    virtual void pause_reading(bool paused) = 0;
    /// The bytes accepted by send() and not yet written to the server are above
    /// upstream_send_high_water: the owner should stop reading its client until
    /// stream_events::on_upstream_writable(). A server that accepts no byte for
    /// write_timeout is cut off (the owner sees on_upstream_closed(false)).
    virtual bool send_blocked() const = 0;
};

/// `lim` (make_shared_context): the [limits] options; the upstream protection (per-domain connect cap, circuit
/// breaker) reads max_connecting_per_domain and breaker_*.
std::shared_ptr<shared_context> make_shared_context(const options& opt,
                                                    const limits::options& lim = {});
/// `flow`: the [limits] flow-control bounds (upstream_send_*_water, write_timeout).
std::shared_ptr<stream> make_stream(boost::asio::any_io_executor ex,
                                    std::shared_ptr<shared_context> ctx,
                                    std::weak_ptr<stream_events> events, std::string log_tag,
                                    xml::limits lim, const limits::options& flow = {});

} // namespace boshgate::upstream
