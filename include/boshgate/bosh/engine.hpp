#pragma once
// Sans-I/O BOSH session state machine for one sid (XEP-0124 + XEP-0206).
// No sockets, no Asio, no clock reads: every input carries `now`, and the owner arms one
// timer at next_deadline() and calls on_timer(). Outputs are actions the I/O adapter
// executes in order (conventions.md rules 1 and 2).
#include "boshgate/bosh/body.hpp"
#include "boshgate/bosh/options.hpp"
#include "boshgate/core/clock.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace boshgate::bosh {

/// Terminal binding conditions (XEP-0124 §17.2). `none` = type='terminate' with no condition.
enum class condition {
    none,
    bad_request,
    host_gone,
    host_unknown,
    improper_addressing,
    internal_server_error,
    item_not_found,
    other_request,
    policy_violation,
    remote_connection_failed,
    remote_stream_error,
    see_other_uri,
    system_shutdown,
    undefined_condition,
};
std::string_view to_string(condition c) noexcept;
/// Legacy (no `ver`) HTTP status for a condition: 400/403/404, else 200 (BOSH-STATUS-2).
unsigned legacy_status(condition c) noexcept;

/// Opaque handle the adapter gives each HTTP request (unique within the session).
using request_id = std::uint64_t;

namespace action {
/// Answer HTTP request `id` with `status` and `body` (a complete <body/> document).
struct respond {
    request_id id;
    unsigned status;
    std::string body;
};
/// Open the upstream stream: resolve/connect/TLS per policy, then send the stream header.
struct open_upstream {
    std::string to;
    std::optional<std::string> route;
    std::string lang;
    std::optional<std::string> from;
};
/// Send these top-level elements (already namespace-complete) on the upstream stream.
struct send_upstream {
    std::string bytes;
    std::size_t elements = 1; ///< top-level elements in `bytes` (the access line counts them)
};
/// XEP-0206 §5: restart the upstream stream on the same connection (new header, no close).
struct restart_upstream {};
/// Close upstream. clean: send </stream:stream> and close politely (client terminate, error
/// ends, reciprocating a server close or stream error); otherwise drop TCP without a closing
/// tag (inactivity: lets the server keep a XEP-0198 session, SM-3; upstream failures).
/// Emitted at most once per session; the upstream may already be gone when it arrives.
struct close_upstream {
    bool clean;
};
/// The session is over; the adapter removes it from the session table once the actions
/// before this one are executed. `why` is condition::none for a client terminate, a clean
/// server close and a silent inactivity end; `reason` is a log line citing the spec section.
struct session_ended {
    condition why;
    std::string reason = {};
};
} // namespace action

using action_t = std::variant<action::respond, action::open_upstream, action::send_upstream,
                              action::restart_upstream, action::close_upstream,
                              action::session_ended>;

/// Server stream header facts the engine reports to the client.
struct upstream_header {
    std::optional<std::string> id;      ///< stream id -> authid (BOSH-RESP-14)
    std::optional<std::string> from;    ///< -> `from` on a response (BOSH-RESP-8)
    std::optional<std::string> version; ///< -> xmpp:version
};

/// One BOSH session.
/// Thread-safety: none; the adapter calls it from the session's strand only.
/// Lifetime: owns copies of everything it needs (the options are copied at construction,
/// so a config reload never changes a running session).
/// Usage: after every input call, execute take_actions() in order, then re-arm the one
/// timer at next_deadline(). Once a session_ended action has been produced the engine
/// ignores upstream input; a later on_request() is answered item-not-found.
class engine {
public:
    /// `sid` comes from core::random_sid(). The first input must be on_create().
    engine(std::string sid, const options& opt);
    ~engine();
    engine(engine&&) noexcept;
    engine& operator=(engine&&) noexcept;

    /// The session-creation request (a body without sid). Emits open_upstream (or, with no
    /// `to`, improper-addressing and session_ended). The request is then held until the
    /// first upstream element (the server's <stream:features/>) or `wait`; a polling session
    /// (hold=0 or wait=0) answers it at once. Creation payloads are ignored.
    void on_create(request_id id, body&& req, core::time_point now);
    /// Any later request for this sid (validated by parse_body; the sid is not re-checked).
    /// Processed in rid order: retransmissions are replayed from the cache, early rids wait.
    void on_request(request_id id, body&& req, core::time_point now);
    /// A later request for this sid whose body parse_body() refused: the session ends with
    /// bad-request (BOSH-COND-1), answered on `id` with this session's legacy status.
    void on_request_error(request_id id, const body_error& err, core::time_point now);
    /// The HTTP connection of a held request went away; forget the request. Its rid counts
    /// as answered with an empty body (that body is cached, so a resend replays it).
    void on_request_aborted(request_id id, core::time_point now);

    /// Upstream events (from the negotiator, after STARTTLS handling and feature filtering).
    /// Elements go to the lowest held request at once, else they are queued (bounded by
    /// options::max_queued_bytes). Terminal upstream events that find no open request are
    /// parked and answered on the next request (or dropped silently after inactivity).
    void on_upstream_header(const upstream_header& h, core::time_point now);
    void on_upstream_element(xml::element&& el, core::time_point now);
    /// Server elements that arrive together (one read from the server) go out together:
    /// between begin_upstream_batch() and end_upstream_batch() elements are only queued, and
    /// the end delivers them to the lowest held request in one body instead of one element
    /// per request (issue 9). A request that arrives meanwhile still takes what is queued.
    /// Batches do not nest; end without begin is a no-op.
    void begin_upstream_batch();
    void end_upstream_batch(core::time_point now);
    /// The server sent <stream:error/>: `error_xml` is the whole element, namespace-complete.
    void on_upstream_stream_error(std::string error_xml, core::time_point now);
    /// The server closed its stream cleanly (</stream:stream>) or the TCP link ended.
    void on_upstream_closed(bool clean, core::time_point now);
    /// Could not reach or secure the server, or policy refused the target. `detail` goes to
    /// session_ended::reason only, except for see_other_uri where it is the <uri/> text.
    void on_upstream_failed(condition c, std::string_view detail, core::time_point now);

    /// The gateway is shutting down (BOSH-COND-12).
    void shutdown(core::time_point now);

    /// Fire timers whose deadline is <= now (wait expiry, inactivity, pause end).
    void on_timer(core::time_point now);
    /// Earliest deadline, or nullopt when none is armed.
    std::optional<core::time_point> next_deadline() const;

    /// Drain actions produced by the calls above, in order.
    std::vector<action_t> take_actions();

    const std::string& sid() const noexcept;
    /// Content-Type of every response (BOSH-HTTP-10): the creation request's `content` when
    /// safe_content_type() accepts it (an XML media type, SEC-INJ-1), else
    /// options::default_content_type.
    const std::string& content_type() const noexcept;
    bool ended() const noexcept;
    /// Bytes of server data queued for the client (no request held to carry them). The I/O
    /// shell stops reading the server above limits.client_send_high_water (SEC-FLOW-1).
    std::size_t queued_bytes() const noexcept;
    /// The creation request carried no `ver` (XEP-0124 §17.1 legacy status codes).
    bool legacy() const noexcept;

private:
    struct state;
    std::unique_ptr<state> st_;
};

/// Body for a request whose sid is unknown (or other table-level refusals): a terminate
/// with `c`, and the status for a client of unknown legacy-ness (GAP-2).
std::string terminate_body(condition c, std::string_view detail = {});

} // namespace boshgate::bosh
