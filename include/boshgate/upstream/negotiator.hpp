#pragma once
// Sans-I/O client-side RFC 6120 stream state machine towards the XMPP server (c2s).
// No Asio, no clock: the adapter (upstream::stream) feeds it framer events and client
// requests, then drains and executes the actions in order (conventions.md rules 1 and 8).
#include "boshgate/upstream/failure.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boshgate::upstream {

/// Namespaces the negotiator looks at.
inline constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view ns_compress_feature = "http://jabber.org/features/compress";
inline constexpr std::string_view ns_stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view ns_client = "jabber:client";
inline constexpr std::string_view ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view ns_sm_prefix = "urn:xmpp:sm:"; ///< XEP-0198 (sm:2, sm:3)

/// The closing tag of a stream, as sent and as expected.
inline constexpr std::string_view closing_tag = "</stream:stream>";

struct negotiator_params {
    std::string to;                   ///< XMPP domain (stream `to`, C2S-HDR-1)
    std::string lang = "en";          ///< stream xml:lang (C2S-HDR-3)
    std::optional<std::string> from;  ///< client bare JID; sent only on a TLS link (C2S-HDR-5)
    bool direct_tls = false;          ///< the link is TLS from the first byte (XEP-0368)
    bool allow_plaintext = false;     ///< a server without STARTTLS is acceptable (C2S-TLS-7)
    /// Never STARTTLS, even when offered (tls = "off", a server on the same host; implies
    /// allow_plaintext). A server that makes STARTTLS mandatory (<required/>, or STARTTLS
    /// its only feature, RFC 6120 §5.3.1) is refused: connection_failed.
    bool never_starttls = false;
    /// Bound on client data held before the stream is ready or between SASL <success/> and
    /// the client's restart. Exceeding it fails the stream (protocol_error).
    std::size_t max_pending_bytes = 256 * 1024;
    /// C2S-SOH-1: follow a <see-other-host/> stream error (RFC 6120 §4.9.3.19) that comes
    /// before the client has seen or sent anything on this stream, on a link whose server is
    /// authenticated (TLS) or where plaintext is the domain's policy anyway: emit redirect
    /// instead of relaying it. While enabled, the first client-visible header is held until
    /// the features (or the end of the stream), so that "nothing seen" is true until then.
    bool follow_redirect = false;
};

namespace neg_action {
/// Append these bytes to the single write queue.
struct write {
    std::string bytes;
};
/// Restart the XML framer: from inside a framer callback use request_reset() (and re-feed
/// the unconsumed remainder unless a start_tls follows), outside one use reset().
struct reset_parser {};
/// STARTTLS <proceed/> arrived: flush queued writes, discard every byte received after
/// <proceed/>, run the TLS client handshake on the same socket, then call
/// negotiator::on_tls_established() (or on_tls_failed()).
struct start_tls {};
/// The server's stream header of the stream the client should see (post-TLS, or the
/// plaintext stream when that is allowed). Emitted again after each client restart.
struct deliver_header {
    xml::root_open header;
};
/// A top-level element for the client (features already filtered).
struct deliver_element {
    xml::element element;
};
/// The whole <stream:error/> element, namespace-complete (C2S-ERR-1, XBOSH-9). Never for
/// an error received before TLS when TLS is required: that one ends the stream with
/// failed(connection_failed) instead (SEC-TLS-1).
struct deliver_stream_error {
    std::string xml;
};
/// The stream is over (clean = both closing tags exchanged). Terminal.
struct closed {
    bool clean;
};
/// Setup or runtime failure. Terminal. `reason` is log-safe and cites the spec.
struct failed {
    failure why;
    std::string reason;
};
/// C2S-SOH-1: the server sent <see-other-host>host[:port]</see-other-host> before the client
/// saw or sent anything: drop this link (no closing handshake needed: the server closes)
/// and negotiate the same stream with `host`:`port` under the same policy. Terminal.
struct redirect {
    std::string host;        ///< host name or IP literal (no brackets)
    std::uint16_t port = 5222;
};
} // namespace neg_action

using negotiator_action =
    std::variant<neg_action::write, neg_action::reset_parser, neg_action::start_tls,
                 neg_action::deliver_header, neg_action::deliver_element,
                 neg_action::deliver_stream_error, neg_action::closed, neg_action::failed,
                 neg_action::redirect>;

/// Client-side stream FSM: header, features, STARTTLS, restart after TLS, then transparent
/// relay with SASL-success tracking, client restarts, stream errors and closing handshake.
///
/// Queueing: client data passed to client_send() before the client-visible stream header
/// is written (pre-TLS, during the handshake) or between SASL <success/> and
/// client_restart() is held in order and written right after the next header; if it
/// exceeds params.max_pending_bytes the stream fails with protocol_error.
///
/// Thread-safety: none (one owner, one strand). Inputs after a terminal action
/// (closed/failed) are ignored.
class negotiator {
public:
    enum class state {
        idle,            ///< start() not called
        await_header,    ///< our header is out, waiting for the server's
        await_features,  ///< header received, waiting for <stream:features/>
        await_proceed,   ///< <starttls/> sent
        tls_handshake,   ///< <proceed/> received, adapter is handshaking
        open,            ///< features delivered: transparent relay
        closing,         ///< our closing tag is out, waiting for the server's
        closed,          ///< terminal: closed
        failed,          ///< terminal: failed
    };

    /// Send the initial header. Must be called once, first.
    void start(negotiator_params params);

    // ---- framer events (server -> gateway)
    void on_open(xml::root_open root);
    void on_element(xml::element&& el);
    void on_close();
    /// The framer reported an error: best-effort stream error to the server
    /// (<restricted-xml/>, <not-well-formed/>, <policy-violation/>), closing tag, then
    /// failed(protocol_error). RFC 6120 §4.9.3, §11.1.
    void on_xml_error(xml::errc e);

    // ---- adapter events
    void on_tls_established();
    /// TLS handshake or certificate failure: failed(connection_failed, detail).
    void on_tls_failed(std::string_view detail);
    /// The transport ended without the server's closing tag (EOF, reset).
    void on_transport_closed();

    // ---- client requests
    /// Client elements, namespace-complete. Held as described above.
    void client_send(std::string bytes);
    /// Client restart after SASL success (XEP-0206 §5, RFC 6120 §4.3.3): fresh header on the
    /// same connection, parser reset, then the held data. Ignored unless the stream is open.
    void client_restart();
    /// clean: our closing tag (once) and state closing; the adapter bounds the wait with
    /// close_timeout. !clean: closed(false) at once, no tag.
    void client_close(bool clean);
    /// The wait for the server's closing tag timed out: closed(false).
    void on_close_timeout();
    /// negotiate_timeout expired before the client's features arrived:
    /// failed(connection_failed). Ignored once the stream is open.
    void on_negotiate_timeout();
    /// C2S-KA-1 (RFC 6120 §4.6.1): the link has been idle for whitespace_keepalive. Writes
    /// one space, between top-level elements, on an open stream after SASL success and the
    /// client's restart: never during TLS or SASL negotiation, never after our closing tag.
    /// Returns whether it wrote.
    bool on_keepalive_due();
    /// C2S-PING-1 (XEP-0199 §4.2): nothing has come from the server for ping_interval.
    /// Writes <iq type='get' id='<id>'><ping xmlns='urn:xmpp:ping'/></iq> to the server's
    /// domain when a ping may go: the stream is open, authenticated, a resource is bound
    /// (RFC 6120 §7.1: no stanzas before), no ping is out, our closing tag is not, and the
    /// client has not enabled XEP-0198 (our iq and its answer would shift both sides'
    /// stanza counts). The answer (result, or an error: the server is alive either way) is
    /// consumed, never delivered. `id` must be unguessable by the client. Returns whether
    /// it wrote.
    bool on_ping_due(std::string_view id);
    /// ping_timeout passed since on_ping_due() wrote: no answer: the server is gone or the
    /// link is dead: failed(connection_failed). Ignored when the answer came.
    void on_ping_timeout();
    /// A ping is out and unanswered.
    bool ping_pending() const noexcept { return !ping_id_.empty(); }

    /// Drain the pending actions (in order).
    std::vector<negotiator_action> take_actions();

    state current_state() const noexcept { return state_; }
    /// The link is TLS-protected (direct TLS or after STARTTLS).
    bool tls() const noexcept { return tls_; }
    /// True from SASL <success/> until client_restart().
    bool awaiting_client_restart() const noexcept { return sasl_restart_pending_; }
    /// Our closing tag has been written.
    bool closing_tag_sent() const noexcept { return closing_sent_; }
    /// SASL <success/> has been seen on this connection (the client logged in).
    bool authenticated() const noexcept { return authenticated_; }

    /// The stream header this negotiator writes (exposed for tests and logs).
    std::string header() const;

private:
    void fail(failure why, std::string reason);
    void write(std::string bytes);
    void send_closing_tag();
    void handle_features(xml::element&& el);
    void flush_pending();
    /// An iq from the server while a bind result is awaited or a ping is out: notes the bind,
    /// and returns true for our ping's answer (consumed).
    bool watch_iq(const xml::element& el);
    /// Deliver the held client-visible header (follow_redirect), once.
    void release_header();
    /// C2S-SOH-1: the target of a followable <see-other-host/>, else nullopt.
    std::optional<neg_action::redirect> redirect_target(const xml::element& error) const;
    /// Client data may be written now: the client's stream header is out and no SASL
    /// restart is pending.
    bool ready() const noexcept;
    bool terminal() const noexcept { return state_ == state::closed || state_ == state::failed; }

    negotiator_params params_;
    state state_ = state::idle;
    bool tls_ = false;
    bool visible_ = false;             ///< the current stream is the one the client sees
    bool sasl_restart_pending_ = false;
    bool authenticated_ = false;       ///< SASL <success/> seen on this connection
    bool closing_sent_ = false;
    bool stream_error_seen_ = false;
    bool client_wrote_ = false;        ///< client bytes were written on this connection
    bool header_seen_ = false;         ///< the client has been given a header
    bool bound_ = false;               ///< a resource bind result has come (stanzas may flow)
    bool sm_enabled_ = false;          ///< XEP-0198 <enabled/> or <resumed/> seen: no pings
    std::string ping_id_;              ///< the unanswered ping's id; empty: none out
    /// Plaintext header, delivered if allowed. Empty for most of a stream's life: on the heap
    /// (8 bytes, not 128, in every stream; issue 9).
    std::unique_ptr<xml::root_open> held_header_;
    std::string pending_;
    std::vector<negotiator_action> actions_;
};

/// Filter <stream:features/> for a client behind the gateway: drop <starttls/> (BOSH-RESP-16,
/// WS-RST-2), compression (BOSH-RESP-17) and SASL mechanisms ending in "-PLUS" (XBOSH-14).
/// Returns the element unchanged (bytes verbatim) when nothing is removed; otherwise the
/// re-serialized element as <stream:features xmlns:stream='...'>. Unparseable input is
/// returned unchanged.
xml::element filter_features(xml::element&& features);

} // namespace boshgate::upstream
