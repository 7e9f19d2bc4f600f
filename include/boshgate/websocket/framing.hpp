#pragma once
// Sans-I/O RFC 7395 translator for one WebSocket connection: client messages in, upstream
// (RFC 6120 TCP stream) events in, `now` in; actions and next_deadline() out. No Asio, no
// clock, no sockets (conventions rule 1, 2). websocket::session is the thin I/O shell that
// executes the actions; upstream::stream does DNS/TCP/TLS/STARTTLS and the server framer.
//
// Translation (checklist section 16):
//   client <open xmlns=framing to=.. xml:lang=.. version=../>   -> action::open_upstream (first)
//                                                                  or action::restart_upstream
//                                                                  (after SASL <success/>)
//   server stream header (on_upstream_header)                   -> <open xmlns=framing from id
//                                                                  version xml:lang/>
//   server element (features, stanzas, SASL, SM)                -> one text message, verbatim
//   server <stream:error/>                                      -> error message, <close/>
//   server </stream:stream>                                     -> <close/>
//   client stanza / SASL / SM element                           -> action::send_upstream (bytes
//                                                                  as received, XML declaration
//                                                                  and surrounding whitespace
//                                                                  removed)
//   client <close/>                                             -> close_upstream{clean}, <close/>,
//                                                                  close_websocket{1000}
//   WebSocket gone without <close/>                             -> close_upstream{!clean}
//                                                                  (XEP-0198 may resume)
// boshgate never writes XML into the upstream stream on its own (XEP-0198 counters stay
// exact); what it sends the client on its own is only <open/>, <close/>, stream errors and,
// for a client <starttls/>, the TLS <failure/> (WS-TLS-3).
#include "boshgate/core/clock.hpp"
#include "boshgate/upstream/failure.hpp"
#include "boshgate/websocket/options.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boshgate::websocket {

inline constexpr std::string_view ns_framing = "urn:ietf:params:xml:ns:xmpp-framing";

/// RFC 6455 §7.4.1 close codes boshgate sends.
enum class close_code : std::uint16_t {
    normal = 1000,           ///< XMPP stream closed (<close/> exchanged or sent), stream errors
    going_away = 1001,       ///< gateway shutting down
    protocol_error = 1002,
    unsupported_data = 1003, ///< binary message (RFC 7395 §3.2, WS-MSG-1)
    invalid_payload = 1007,  ///< text message that is not UTF-8 (WS-MSG-1)
    policy_violation = 1008,
    message_too_big = 1009,  ///< beyond options::max_message_bytes (WS-SIZE-1)
    internal_error = 1011,
};

enum class message_kind { text, binary };

namespace action {
/// One text message to the client (always starts with '<', one complete element).
struct send_text {
    std::string text;
};
/// A WebSocket Ping to the client (keepalive, WS-KA-2/3).
struct send_ping {};
/// Open the upstream stream (upstream::stream::open with these parameters).
struct open_upstream {
    std::string to;
    std::string lang; ///< client's xml:lang, "en" when absent
};
/// Bytes for the upstream stream (upstream::stream::send).
struct send_upstream {
    std::string bytes;
};
/// Client restart after SASL success (upstream::stream::restart, WS-RST-1).
struct restart_upstream {};
/// upstream::stream::close(clean). After it no upstream events are expected.
struct close_upstream {
    bool clean;
};
/// Write every send_text queued before this, then the WebSocket closing handshake with this
/// code and reason (reason <= 123 bytes, cites the spec section), then close TCP.
struct close_websocket {
    close_code code;
    std::string reason;
};
/// Close TCP at once without a Close frame (idle timeout: the client is not there).
struct drop_websocket {};
} // namespace action

using any_action = std::variant<action::send_text, action::send_ping, action::open_upstream,
                                action::send_upstream, action::restart_upstream,
                                action::close_upstream, action::close_websocket,
                                action::drop_websocket>;

/// One WebSocket connection's XMPP framing state. Single-threaded (the session's strand).
/// Every input may append actions; the caller drains take_actions() after each input and
/// re-arms its one timer at next_deadline(). Once ended() is true every input is ignored
/// (no further actions) except take_actions() draining what is left.
namespace detail {
struct message_parser;
}

class framing {
public:
    /// `opt` is referred to, not copied: it must outlive the framing (a session keeps the
    /// config it was born with; issue 9). `local_stream_id`: id for an <open/> boshgate must
    /// send itself (the server never answered, WS-OPEN-4); the caller passes a random one.
    /// `now`: the upgrade time (starts open_timeout and the keepalive clock).
    framing(const options& opt, xml::limits lim, std::string local_stream_id, core::time_point now);
    ~framing();
    framing(framing&&) noexcept;
    framing& operator=(framing&&) noexcept;

    // ---------------------------------------------------------------- client side
    /// One complete (reassembled) client message. Text messages must hold exactly one
    /// element (WS-FRM-1..4): <open/>, <close/>, or an element for the server. Anything else
    /// draws a stream error (see the .cpp table; every reason cites its section).
    void on_message(message_kind kind, std::string_view data, core::time_point now);
    /// The adapter stopped reading a message that grew beyond options::max_message_bytes:
    /// <policy-violation/> (RFC 6120 §4.9.3.14), <close/>, close code 1009 (WS-SIZE-1).
    void on_message_too_big(core::time_point now);
    /// Any frame from the client, including Ping/Pong and message fragments (idle clock).
    void on_client_activity(core::time_point now);
    /// The WebSocket ended from the client side: Close frame received, TCP reset/EOF, or a
    /// frame-level protocol error detected by the WebSocket layer. Without a prior client
    /// <close/> this drops the upstream uncleanly (WS-CLOSE-3: the server may keep an
    /// XEP-0198 session); after it, nothing more happens. Ends the framing.
    void on_client_gone(core::time_point now);

    // ---------------------------------------------------------------- upstream side
    void on_upstream_header(const xml::root_open& header, core::time_point now);
    void on_upstream_element(xml::element&& el, core::time_point now);
    void on_upstream_stream_error(std::string error_xml, core::time_point now);
    void on_upstream_closed(bool clean, core::time_point now);
    /// The upstream could not be set up or broke: a stream error with a fixed, generic text
    /// per failure kind (SEC-INJ-2). `detail` is never shown to the client (it names internal
    /// addresses, ports, SRV targets); the adapter logs it.
    void on_upstream_failed(upstream::failure f, std::string_view detail, core::time_point now);

    // ---------------------------------------------------------------- gateway side
    /// Graceful gateway shutdown: <stream:error><system-shutdown/>, <close/>, clean upstream
    /// close, WebSocket close 1001.
    void shutdown(core::time_point now);
    /// Call when now >= next_deadline() (open/close/idle timeouts, keepalive pings).
    void on_timer(core::time_point now);
    /// Earliest time on_timer must run; nullopt once ended.
    std::optional<core::time_point> next_deadline() const;

    std::vector<any_action> take_actions();
    /// The WebSocket was closed or dropped (a close_websocket / drop_websocket was emitted,
    /// or on_client_gone ran): the session can go away once the actions are executed.
    bool ended() const noexcept;
    /// An upstream stream is open (open_upstream emitted, not yet closed or failed).
    bool upstream_open() const noexcept;
    /// Memory for idle sessions: gives back the parser client messages go through (expat's
    /// state, ~12 KiB, and the framer's own); the next message builds a fresh one. Always
    /// possible between messages. Returns true.
    bool release_idle() noexcept;

private:
    enum class state {
        await_open,      ///< upgraded; waiting for the client's first <open/>
        await_header,    ///< open_upstream (or restart) sent; waiting for the server's header
        open,            ///< relaying
        closing,         ///< boshgate sent <close/>; waiting for the client's <close/>
        ended,
    };

    // Helpers (implementation detail; see framing.cpp for the rules they implement).
    void handle_element(const xml::element& el, bool legacy_header);
    void handle_open(std::optional<std::string> to, std::optional<std::string> lang,
                     bool legacy_header);
    void handle_client_close();
    void handle_starttls();
    /// <open/> (or the legacy header) first when none went to the client, the stream error,
    /// <close/>, a clean upstream close when one is open, then close_websocket{code}. The
    /// close reason is `text` cut to the RFC 6455 §5.5 limit.
    void stream_error(std::string_view condition, std::string_view text, close_code code);
    void send_local_open_if_needed();
    void send_text(std::string text);
    /// <close xmlns=framing/> or, in legacy mode, </stream:stream>.
    void send_close_element();
    /// boshgate closed the XMPP stream: wait close_timeout for the client's <close/>.
    void begin_closing(core::time_point now);
    void finish(close_code code, std::string_view reason);
    void drop();

    const options* opt_; ///< never null; the caller's (see the constructor)
    xml::limits lim_;
    std::string local_id_;
    state state_ = state::await_open;
    std::vector<any_action> actions_;
    std::string to_;             ///< client's `to` (for a locally generated <open/>)
    std::string lang_ = "en";
    bool legacy_ = false;        ///< the client uses the draft <stream:stream> framing
    bool open_sent_ = false;     ///< an <open/> (or legacy header) went to the client
    bool sasl_success_ = false;  ///< SASL <success/> relayed; a new <open/> is a restart
    bool upstream_open_ = false;
    core::time_point last_activity_; ///< last frame from the client (idle and ping clocks)
    core::time_point last_ping_;     ///< last Ping sent (or construction)
    core::time_point open_deadline_;
    std::optional<core::time_point> close_deadline_;
    /// Client messages, one after the other, as children of one synthetic root (framing.cpp);
    /// created on the first message, dropped after a message it could not take as it is and
    /// when the session is idle (release_idle()).
    std::unique_ptr<detail::message_parser> messages_;
};

} // namespace boshgate::websocket
