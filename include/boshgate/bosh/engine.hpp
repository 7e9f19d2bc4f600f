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
};
/// XEP-0206 §5: restart the upstream stream on the same connection (new header, no close).
struct restart_upstream {};
/// Close upstream. clean: send </stream:stream> and close politely (client terminate);
/// otherwise drop TCP without a closing tag (inactivity: lets the server keep a
/// XEP-0198 session, SM-3).
struct close_upstream {
    bool clean;
};
/// The session is over; the adapter removes it from the session table once the actions
/// before this one are executed.
struct session_ended {
    condition why;
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
class engine {
public:
    /// `sid` comes from core::random_sid(). The first input must be on_create().
    engine(std::string sid, const options& opt);

    /// The session-creation request (a body without sid).
    void on_create(request_id id, body&& req, core::time_point now);
    /// Any later request for this sid.
    void on_request(request_id id, body&& req, core::time_point now);
    /// The HTTP connection of a held request went away; forget the request.
    void on_request_aborted(request_id id, core::time_point now);

    /// Upstream events (from the negotiator, after STARTTLS handling and feature filtering).
    void on_upstream_header(const upstream_header& h, core::time_point now);
    void on_upstream_element(xml::element&& el, core::time_point now);
    /// The server sent <stream:error/>: `error_xml` is the whole element, namespace-complete.
    void on_upstream_stream_error(std::string error_xml, core::time_point now);
    /// The server closed its stream cleanly (</stream:stream>) or the TCP link ended.
    void on_upstream_closed(bool clean, core::time_point now);
    /// Could not reach or secure the server, or policy refused the target.
    void on_upstream_failed(condition c, std::string_view detail, core::time_point now);

    /// The gateway is shutting down (BOSH-COND-12).
    void shutdown(core::time_point now);

    /// Fire timers whose deadline is <= now (wait expiry, inactivity, pause end).
    void on_timer(core::time_point now);
    /// Earliest deadline, or nullopt when none is armed.
    std::optional<core::time_point> next_deadline() const;

    /// Drain actions produced by the calls above, in order.
    std::vector<action_t> take_actions();

    const std::string& sid() const noexcept { return sid_; }
    /// Content-Type of every response (BOSH-HTTP-10).
    const std::string& content_type() const noexcept;
    bool ended() const noexcept;

private:
    struct state;
    std::string sid_;
    std::shared_ptr<state> st_;
};

/// Body for a request whose sid is unknown (or other table-level refusals): a terminate
/// with `c`, and the status for a client of unknown legacy-ness (GAP-2).
std::string terminate_body(condition c, std::string_view detail = {});

} // namespace boshgate::bosh
