// Sans-I/O BOSH session (XEP-0124 + XEP-0206). See engine.hpp for the contract.
//
// Model. Requests are processed strictly in rid order (XEP-0124 §14.2); early arrivals wait
// in `pending` (bounded by the window). A processed request becomes "held" (kept open for
// server data) until data arrives, a newer request pushes it out (at most `hold` stay held),
// its `wait` expires, or the session ends. Server data goes to the lowest held rid; with
// nothing held it is queued (bounded by options::max_queued_bytes). Invariant: whenever the
// queue is non-empty, nothing is held. Every answered rid is cached for retransmission
// (§14.3). Terminal events that find no open request are parked in the `terminating` phase
// and delivered on the next request.
#include "boshgate/bosh/engine.hpp"

#include "body_writer.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <utility>

namespace boshgate::bosh {
namespace {

using std::chrono::seconds;

constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";

/// Highest protocol version this connection manager implements (XEP-0124 §7.2, BOSH-REQ-3).
constexpr unsigned cm_ver_major = 1;
constexpr unsigned cm_ver_minor = 11;

/// A client ack below the last answered rid only triggers `report` when that response is at
/// least this old, so the ordinary race (response in flight while the client sends its next
/// request) does not cause spurious resends (XEP-0124 §9.2 is a MAY).
constexpr auto report_grace = std::chrono::seconds(1);

/// `time` is an xs:unsignedShort (SCHEMA-4, BOSH-ACK-6).
constexpr std::uint64_t max_report_time_ms = 65535;

struct version {
    unsigned major = 0;
    unsigned minor = 0;
};

bool parse_unsigned(std::string_view s, unsigned& out)
{
    if (s.empty() || s.size() > 5) {
        return false;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

/// "major.minor", both decimal integers; minor compares numerically (1.10 > 1.6).
std::optional<version> parse_version(std::string_view s)
{
    auto dot = s.find('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    version v;
    if (!parse_unsigned(s.substr(0, dot), v.major) || !parse_unsigned(s.substr(dot + 1), v.minor)) {
        return std::nullopt;
    }
    return v;
}

std::string concat_payloads(const std::vector<xml::element>& els)
{
    std::size_t n = 0;
    for (const auto& e : els) {
        n += e.xml.size();
    }
    std::string out;
    out.reserve(n);
    for (const auto& e : els) {
        out += e.xml; // no inter-element whitespace reaches the TCP stream (BOSH-XML-15)
    }
    return out;
}

std::uint64_t to_seconds(seconds s)
{
    return s.count() < 0 ? 0 : static_cast<std::uint64_t>(s.count());
}

template <class T>
T clamp_to(std::uint64_t v)
{
    return static_cast<T>(std::min<std::uint64_t>(v, std::numeric_limits<T>::max()));
}

/// The options one session needs, packed: a session must stay small while idle. Durations
/// are whole seconds capped at 65535 (the xs:unsignedShort of XEP-0124 §22).
struct session_limits {
    explicit session_limits(const options& o)
        : max_queued_bytes(clamp_to<std::uint32_t>(o.max_queued_bytes)),
          max_wait_s(clamp_to<std::uint16_t>(to_seconds(o.max_wait))),
          default_wait_s(clamp_to<std::uint16_t>(to_seconds(o.default_wait))),
          inactivity_s(clamp_to<std::uint16_t>(to_seconds(o.inactivity))),
          polling_s(clamp_to<std::uint16_t>(to_seconds(o.polling))),
          polling_inactivity_s(clamp_to<std::uint16_t>(to_seconds(o.polling_inactivity))),
          max_pause_s(clamp_to<std::uint16_t>(to_seconds(o.max_pause))),
          max_rid_repeats(clamp_to<std::uint16_t>(o.max_rid_repeats)),
          max_cached_responses(clamp_to<std::uint16_t>(o.max_cached_responses)),
          max_hold(clamp_to<std::uint8_t>(o.max_hold)),
          enforce_overactivity(o.enforce_overactivity),
          enforce_polling(o.enforce_polling),
          server_acks(o.server_acks)
    {
    }

    seconds max_wait() const { return seconds(max_wait_s); }
    seconds default_wait() const { return seconds(default_wait_s); }
    seconds inactivity() const { return seconds(inactivity_s); }
    seconds polling() const { return seconds(polling_s); }
    seconds polling_inactivity() const { return seconds(polling_inactivity_s); }
    seconds max_pause() const { return seconds(max_pause_s); }

    std::uint32_t max_queued_bytes;
    std::uint16_t max_wait_s, default_wait_s, inactivity_s, polling_s, polling_inactivity_s,
        max_pause_s;
    std::uint16_t max_rid_repeats;
    std::uint16_t max_cached_responses;
    std::uint8_t max_hold;
    bool enforce_overactivity;
    bool enforce_polling;
    bool server_acks;
};

} // namespace

struct engine::state {
    enum class phase : std::uint8_t {
        fresh,       ///< before on_create
        active,      ///< normal operation
        terminating, ///< a terminal body waits for the next request (nothing was held)
        ended,       ///< session_ended emitted
    };

    /// A processed request kept open for server data.
    struct held_request {
        request_id id;
        std::uint64_t rid;
        core::time_point deadline; ///< wait expiry
        unsigned resends = 0;
        bool creation = false;
        bool answer_now = false;   ///< carries a `report` (XEP-0124 §9.2)
        std::uint64_t report_rid = 0;
        std::uint64_t report_ms = 0;
    };

    /// An early request waiting for the lower rids (XEP-0124 §14.2).
    struct pending_request {
        request_id id;
        body req;
        core::time_point deadline; ///< gap wait bound (BOSH-RID-4)
        unsigned resends = 0;
        std::uint64_t rid() const { return req.rid; }
    };

    /// A sent response kept for retransmission (XEP-0124 §14.3).
    struct cached_response {
        std::uint64_t rid;
        std::string body;
        core::time_point sent_at;
        unsigned resends = 0;
    };

    explicit state(std::string s, const options& o)
        : lim(o), sid(std::move(s)), content_type(o.default_content_type)
    {
    }

    // ------------------------------------------------------------------ configuration
    session_limits lim;
    std::string sid;
    std::string content_type;
    std::string ver;                 ///< negotiated "major.minor"
    seconds wait{0};
    seconds inactivity{0};
    unsigned hold = 1;
    unsigned requests = 2;
    bool legacy = false;             ///< creation request had no `ver`
    bool polling_session = false;    ///< hold=0 or wait=0 (XEP-0124 §12)
    bool client_acks = false;        ///< creation carried ack != 0 (§9.2, BOSH-ACK-6)
    bool pause_supported = false;    ///< maxpause advertised (BOSH-RESP-9)

    // ------------------------------------------------------------------ state
    phase ph = phase::fresh;
    bool upstream_open = false;
    bool sasl_succeeded = false;     ///< <success/> seen since the last restart (XBOSH-8)
    bool batching = false;           ///< inside begin/end_upstream_batch: queue, do not deliver
    bool creation_answered = false;
    bool from_sent = false;
    std::uint64_t last_rid = 0;          ///< highest rid processed in order
    std::uint64_t last_answered_rid = 0; ///< highest rid answered with a normal response
    std::uint64_t client_ack = 0;
    std::optional<std::uint64_t> last_pause_rid;
    std::optional<seconds> inactivity_override; ///< pause in force (§10)
    core::time_point idle_since{};   ///< last response while nothing is open (inactivity base)
    core::time_point prev_new_at{};  ///< processing time of the previous new request
    bool have_prev_new = false;
    bool prev_new_empty = false;
    bool last_response_empty = false;

    /// What the server's header gives the client: kept until it is out (the creation
    /// response, and `from` once), then freed: nothing of it in an established session
    /// (issue 9).
    struct server_header {
        std::optional<std::string> id;      ///< -> authid (BOSH-RESP-14)
        std::optional<std::string> from;    ///< -> from (BOSH-RESP-8)
        std::optional<std::string> version; ///< -> xmpp:version
    };
    std::unique_ptr<server_header> server;

    std::vector<held_request> held;        ///< ascending rid
    std::vector<pending_request> pending;  ///< ascending rid, all > last_rid + 1
    std::vector<cached_response> cache;    ///< ascending rid
    std::string queue;                     ///< server elements waiting for a request
    bool queue_has_stream_ns = false;

    /// The terminal body that waits for the next request (nothing was held): set exactly in
    /// phase::terminating (issue 9: no room for it in a live session).
    struct terminal_state {
        condition cond = condition::none;
        std::string body;
        std::string reason;
    };
    std::unique_ptr<terminal_state> terminal;

    std::vector<action_t> actions;

    // ================================================================== helpers

    unsigned status_for(condition c) const
    {
        // XEP-0124 §17.1: `ver` clients always get 200 (BOSH-STATUS-1/2).
        return legacy ? legacy_status(c) : 200;
    }

    seconds inactivity_now() const { return inactivity_override.value_or(inactivity); }

    void respond(request_id id, unsigned status, std::string b)
    {
        actions.emplace_back(action::respond{id, status, std::move(b)});
    }

    void respond_terminal(request_id id, condition c)
    {
        respond(id, status_for(c), terminate_body(c));
    }

    /// Phase terminating: the next request gets the terminal body, and the session ends.
    void answer_terminating(request_id id)
    {
        respond(id, status_for(terminal->cond), std::move(terminal->body));
        finish(terminal->cond, std::move(terminal->reason));
    }

    void finish(condition c, std::string reason)
    {
        ph = phase::ended;
        held.clear();
        pending.clear();
        cache.clear();
        cache.shrink_to_fit();
        queue.clear();
        queue.shrink_to_fit();
        terminal.reset();
        actions.emplace_back(action::session_ended{c, std::move(reason)});
    }

    void close_upstream(bool clean)
    {
        if (upstream_open) {
            upstream_open = false;
            actions.emplace_back(action::close_upstream{clean});
        }
    }

    bool nothing_open() const { return held.empty() && pending.empty(); }

    /// Open requests that count against `requests`: a pending pause or terminate is the
    /// one extra request a client may add (BOSH-OVER-1).
    std::size_t open_ordinary() const
    {
        std::size_t n = held.size();
        for (const auto& p : pending) {
            if (!p.req.terminate && !(pause_supported && p.req.pause)) {
                ++n;
            }
        }
        return n;
    }

    /// Build the normal (non-terminal) response for `h` with `payload`.
    std::string build_response(const held_request& h, std::string_view payload, bool stream_ns)
    {
        detail::body_writer w;
        if (h.creation) {
            w.declare_xmpp();
        }
        if (stream_ns) {
            w.declare_stream();
        }
        if (h.creation) {
            // XEP-0124 §7.2 (BOSH-RESP-2..10), XEP-0206 §4 (BOSH-RESP-12..14). Never `secure`
            // (BOSH-REQ-11), never `stream` (BOSH-RESP-11), no `accept`/`charsets`.
            w.attr("sid", sid)
                .attr("wait", to_seconds(wait))
                .attr("requests", requests)
                .attr("hold", hold)
                .attr("ver", ver)
                .attr("polling", to_seconds(lim.polling()))
                .attr("inactivity", to_seconds(inactivity));
            if (pause_supported) {
                w.attr("maxpause", to_seconds(lim.max_pause()));
            }
            if (lim.server_acks) {
                w.attr("ack", h.rid); // BOSH-RESP-10: ack = creation rid
            }
            w.attr("xmpp:version", server && server->version ? *server->version : std::string_view("1.0"));
            w.attr("xmpp:restartlogic", "true");
            if (server && server->id) {
                w.attr("authid", *server->id);
            }
        } else if (lim.server_acks && last_rid != h.rid) {
            // BOSH-ACK-1/3: only when it differs from the rid being answered.
            w.attr("ack", last_rid);
        }
        if (server && server->from && !from_sent) {
            w.attr("from", *server->from); // BOSH-RESP-8: once known
            from_sent = true;
        }
        if (server && (h.creation || creation_answered)) {
            // All of it is out: authid and version go on the creation response only, and a
            // known `from` was just written. A later header's `from` comes back here.
            server.reset();
        }
        if (h.answer_now && h.report_rid != 0) {
            w.attr("report", h.report_rid).attr("time", h.report_ms);
        }
        return std::move(w).finish(payload);
    }

    /// Keep `b` for retransmission, at its size (a built body's capacity is often double
    /// it); without client acks the oldest entry goes first, so the vector never grows past
    /// `requests` entries (issue 9).
    void cache_put(std::uint64_t rid, std::string b, core::time_point now)
    {
        b.shrink_to_fit(); // nothing to do for a copy
        if (!client_acks && requests > 0 && cache.size() >= requests) {
            cache.erase(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(cache.size() - requests + 1));
        }
        if (cache.capacity() == 0) {
            cache.reserve(client_acks ? requests + 1 : requests);
        }
        cache.push_back(cached_response{rid, std::move(b), now, 0});
        prune_cache();
    }

    void prune_cache()
    {
        // BOSH-RTX-1 / ACK-4: the last `requests` responses, or every unacknowledged one when
        // the client acks (bounded by max_cached_responses).
        if (client_acks) {
            std::erase_if(cache, [&](const cached_response& c) { return c.rid <= client_ack; });
            std::size_t cap = std::max<std::size_t>(lim.max_cached_responses, requests);
            if (cache.size() > cap) {
                cache.erase(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(cache.size() - cap));
            }
        } else if (cache.size() > requests) {
            cache.erase(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(cache.size() - requests));
        }
    }

    /// Answer held[i] normally; with the queued server data when `with_queue`.
    void answer_held(std::size_t i, core::time_point now, bool with_queue)
    {
        held_request h = held[i];
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
        std::string payload;
        bool stream_ns = false;
        if (with_queue && !queue.empty()) {
            payload.swap(queue);
            stream_ns = queue_has_stream_ns;
            queue_has_stream_ns = false;
        }
        last_response_empty = payload.empty();
        std::string b = build_response(h, payload, stream_ns);
        if (h.creation) {
            creation_answered = true;
        }
        last_answered_rid = std::max(last_answered_rid, h.rid);
        cache_put(h.rid, b, now); // a copy (capacity == size); the built body is sent
        respond(h.id, 200, std::move(b));
        if (nothing_open()) {
            idle_since = now;
        }
    }

    /// Server data goes on the lowest held rid (BOSH-PAY-7/8).
    void deliver(core::time_point now)
    {
        if (!queue.empty() && !held.empty()) {
            answer_held(0, now, true);
        }
    }

    /// Never more than `hold` held: release the oldest (BOSH-PAY-6).
    void enforce_hold(core::time_point now)
    {
        while (held.size() > hold) {
            answer_held(0, now, true);
        }
    }

    /// A request broke a rule: it gets `c`, every other open request gets other-request
    /// (BOSH-COND-7), the server stream is closed and the session ends.
    void fail(condition c, request_id trigger, std::string reason)
    {
        for (const auto& h : held) {
            if (h.id != trigger) {
                respond_terminal(h.id, condition::other_request);
            }
        }
        for (const auto& p : pending) {
            if (p.id != trigger) {
                respond_terminal(p.id, condition::other_request);
            }
        }
        respond_terminal(trigger, c);
        close_upstream(true);
        finish(c, std::move(reason));
    }

    /// The session ends for a reason outside any request (server, gateway). The lowest
    /// open request gets the terminal body with the queued stanzas first (BOSH-TERM-7) and
    /// `extra` after them; other open requests get a bare terminate with the same condition.
    /// With nothing open the body waits for the next request.
    void end_from_outside(condition c, std::string_view extra, bool extra_stream_ns, bool clean,
                          std::string reason)
    {
        if (ph != phase::active) {
            return;
        }
        close_upstream(clean);
        detail::body_writer w;
        if (queue_has_stream_ns || extra_stream_ns) {
            w.declare_stream();
        }
        w.attr("type", "terminate");
        if (c != condition::none) {
            w.attr("condition", to_string(c));
        }
        queue.append(extra);
        std::string b = std::move(w).finish(queue);
        queue.clear();
        queue_has_stream_ns = false;

        std::vector<request_id> open_ids;
        open_ids.reserve(held.size() + pending.size());
        for (const auto& h : held) {
            open_ids.push_back(h.id);
        }
        for (const auto& p : pending) {
            open_ids.push_back(p.id);
        }
        if (open_ids.empty()) {
            ph = phase::terminating;
            terminal = std::make_unique<terminal_state>(terminal_state{c, std::move(b), std::move(reason)});
            held.clear();
            pending.clear();
            return;
        }
        respond(open_ids.front(), status_for(c), std::move(b));
        for (std::size_t i = 1; i < open_ids.size(); ++i) {
            respond_terminal(open_ids[i], c);
        }
        finish(c, std::move(reason));
    }

    // ================================================================== inputs

    void create(request_id id, body&& req, core::time_point now)
    {
        if (ph != phase::fresh) {
            respond(id, 200, terminate_body(condition::bad_request));
            return;
        }
        legacy = !req.ver.has_value();
        // BOSH-HTTP-10: every later response, errors too. SEC-INJ-1: only an XML media
        // type is honoured (parse_body already drops others; bodies built by hand too);
        // anything else keeps options::default_content_type and the session goes on.
        if (req.content && safe_content_type(*req.content)) {
            content_type = *req.content;
        }
        version v{cm_ver_major, cm_ver_minor};
        if (req.ver) {
            auto cv = parse_version(*req.ver);
            if (!cv) {
                respond_terminal(id, condition::bad_request);
                finish(condition::bad_request, "XEP-0124 §7.1: ver must be major.minor integers");
                return;
            }
            // BOSH-REQ-3: the lower of the client's and ours, minor compared as an integer.
            if (cv->major < v.major || (cv->major == v.major && cv->minor < v.minor)) {
                v = *cv;
            }
        }
        ver = std::to_string(v.major) + "." + std::to_string(v.minor);
        if (!req.to || req.to->empty()) {
            // BOSH-COND-4: no target, so nobody is contacted.
            respond_terminal(id, condition::improper_addressing);
            finish(condition::improper_addressing, "XEP-0124 §7.1: creation request has no 'to'");
            return;
        }

        // BOSH-RESP-3..5: never more than the client asked for, never beyond our caps.
        seconds w = std::min(lim.default_wait(), lim.max_wait());
        if (req.wait) {
            w = std::min(seconds(*req.wait), lim.max_wait());
        }
        wait = std::max(w, seconds(0));
        hold = std::min(req.hold.value_or(1u), unsigned{lim.max_hold});
        polling_session = hold == 0 || wait == seconds(0); // BOSH-REQ-6
        if (polling_session) {
            hold = 0;
        }
        requests = hold + 1; // BOSH-RESP-4, GAP-5
        if (polling_session) {
            // BOSH-POLL-1: larger than normal and larger than `polling`.
            inactivity = std::max(lim.polling_inactivity(), lim.polling() + seconds(1));
        } else {
            inactivity = lim.inactivity();
        }
        pause_supported = lim.max_pause() > seconds(0);
        client_acks = req.ack.has_value() && *req.ack != 0; // ack='0' = off (BOSH-ACK-6)
        last_rid = req.rid;
        ph = phase::active;
        upstream_open = true;
        idle_since = now;

        actions.emplace_back(action::open_upstream{
            std::move(*req.to), std::move(req.route), req.lang.value_or(std::string{}),
            std::move(req.from)});
        // Payloads in a creation request are ignored: the stream does not exist yet.
        // The creation request waits for the server's first <stream:features/> or for
        // `wait` (BOSH-RESP-12/15); a polling session answers at once.
        held.push_back(held_request{id, req.rid, now + wait, 0, true});
        enforce_hold(now);
    }

    void request(request_id id, body&& req, core::time_point now)
    {
        if (ph == phase::fresh || ph == phase::ended) {
            // BOSH-TERM-4 / INACT-1: treated as an unknown session.
            respond_terminal(id, condition::item_not_found);
            return;
        }
        if (ph == phase::terminating) {
            answer_terminating(id);
            return;
        }
        const std::uint64_t rid = req.rid;
        if (rid <= last_rid) {
            retransmission(id, rid, now);
            return;
        }
        // normal inactivity is back with the next request (BOSH-PAUSE-4)
        inactivity_override.reset();
        for (auto& p : pending) {
            if (p.rid() == rid) {
                // A copy of an early request: same treatment as a held one (BOSH-RTX-2).
                if (++p.resends > lim.max_rid_repeats) {
                    fail(condition::policy_violation, id, "XEP-0124 §14.3: rid repeated too often");
                    return;
                }
                respond(p.id, 200, error_body());
                p.id = id;
                p.deadline = now + wait;
                return;
            }
        }
        const bool is_pause = pause_supported && req.pause.has_value();
        const bool extra_allowed = req.terminate || is_pause; // BOSH-OVER-1
        const std::uint64_t window = requests + (extra_allowed ? 1u : 0u);
        if (rid > last_rid + window) {
            fail(condition::item_not_found, id, "XEP-0124 §14.2: rid beyond the request window");
            return;
        }
        if (lim.enforce_overactivity && !extra_allowed && open_ordinary() + 1 > requests) {
            fail(condition::policy_violation, id,
                 "XEP-0124 §11: more simultaneous requests than 'requests'");
            return;
        }
        if (rid != last_rid + 1) {
            // BOSH-RID-1: queue the early arrival; process it when the gap closes.
            auto it = std::find_if(pending.begin(), pending.end(),
                                   [&](const pending_request& p) { return p.rid() > rid; });
            pending.insert(it, pending_request{id, std::move(req), now + wait, 0});
            return;
        }
        process(id, std::move(req), now);
        while (ph == phase::active && !pending.empty() && pending.front().rid() == last_rid + 1) {
            pending_request p = std::move(pending.front());
            pending.erase(pending.begin());
            process(p.id, std::move(p.req), now);
        }
    }

    static std::string error_body()
    {
        // XEP-0124 §17.3 recoverable binding error: the client resends (BOSH-REC-1).
        detail::body_writer w;
        w.attr("type", "error");
        return std::move(w).finish();
    }

    /// A rid at or below the last processed one (XEP-0124 §14.3).
    void retransmission(request_id id, std::uint64_t rid, core::time_point now)
    {
        if (last_pause_rid && *last_pause_rid == rid) {
            // GAP-11 / BOSH-RTX-6: pause responses are not cached; replay an empty body.
            respond(id, 200, detail::body_writer{}.finish());
            return;
        }
        inactivity_override.reset();
        for (auto& h : held) {
            if (h.rid == rid) {
                if (++h.resends > lim.max_rid_repeats) {
                    fail(condition::policy_violation, id, "XEP-0124 §14.3: rid repeated too often");
                    return;
                }
                // BOSH-RTX-2: the original gets a recoverable error, the copy is held.
                respond(h.id, 200, error_body());
                h.id = id;
                h.deadline = now + wait;
                return;
            }
        }
        for (auto& c : cache) {
            if (c.rid == rid) {
                if (++c.resends > lim.max_rid_repeats) {
                    fail(condition::policy_violation, id, "XEP-0124 §14.3: rid repeated too often");
                    return;
                }
                // BOSH-RTX-1/5: same bytes again; the payloads are not forwarded again.
                respond(id, 200, c.body);
                if (nothing_open()) {
                    idle_since = now;
                }
                return;
            }
        }
        // BOSH-RID-3 / RTX-4: a low rid without a cached response.
        fail(condition::item_not_found, id, "XEP-0124 §14.3: response for this rid is not cached");
    }

    /// Process one request in rid order.
    void process(request_id id, body&& req, core::time_point now)
    {
        last_rid = req.rid;
        inactivity_override.reset();
        held_request h{id, req.rid, now + wait, 0, false};

        if (client_acks && req.ack) {
            client_ack = std::max(client_ack, *req.ack);
            prune_cache();
            // BOSH-ACK-5: the client lacks a response we sent: report it at once.
            if (*req.ack < last_answered_rid) {
                for (const auto& c : cache) {
                    if (c.rid == *req.ack + 1 && now - c.sent_at >= report_grace) {
                        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.sent_at);
                        h.answer_now = true;
                        h.report_rid = c.rid;
                        h.report_ms = std::min<std::uint64_t>(
                            static_cast<std::uint64_t>(ms.count()), max_report_time_ms);
                        break;
                    }
                }
            }
        }

        if (req.terminate) {
            client_terminate(id, std::move(req));
            return;
        }
        if (pause_supported && req.pause) {
            pause(id, std::move(req), now);
            return;
        }

        const bool empty = req.payloads.empty() && !req.restart;
        if (lim.enforce_polling && empty && have_prev_new) {
            const bool too_soon = now - prev_new_at < lim.polling();
            if (polling_session) {
                // BOSH-POLL-2: two consecutive empty requests closer than `polling`, the
                // first one answered without payload.
                if (too_soon && prev_new_empty && last_response_empty && held.empty()) {
                    fail(condition::policy_violation, id,
                         "XEP-0124 §12: polling more often than 'polling' seconds");
                    return;
                }
            } else if (too_soon && held.size() >= hold) {
                // BOSH-OVER-3: `requests` unanswered requests, the last one empty and
                // closer than `polling` to the previous one.
                fail(condition::policy_violation, id,
                     "XEP-0124 §11: empty requests more often than 'polling' seconds");
                return;
            }
        }
        have_prev_new = true;
        prev_new_at = now;
        prev_new_empty = empty;

        if (req.restart) {
            if (!sasl_succeeded) {
                fail(condition::bad_request, id,
                     "XEP-0206 §5: xmpp:restart before SASL success (RFC 6120 §6.4.6)");
                return;
            }
            // XBOSH-5: fresh header on the same connection; XBOSH-7: payloads ignored.
            // The request is held until the new features arrive (XBOSH-6).
            sasl_succeeded = false;
            actions.emplace_back(action::restart_upstream{});
        } else if (!req.payloads.empty()) {
            // BOSH-PAY-1/2, XML-6: immediately, in rid order, in document order.
            actions.emplace_back(action::send_upstream{concat_payloads(req.payloads), req.payloads.size()});
        }

        const bool answer_now = h.answer_now;
        held.push_back(h);
        deliver(now);
        enforce_hold(now);
        if (answer_now) {
            // Answer it (and, to keep rid order, anything below it) right away.
            while (!held.empty() && held.front().rid <= req.rid) {
                answer_held(0, now, true);
            }
        }
    }

    /// XEP-0124 §13 (BOSH-TERM-1/2, GAP-1). Every open request, the terminate request
    /// included, is answered with an empty `type='terminate'` body (no payload, so still the
    /// empty body §13 asks for): clients are tuned to Prosody's and ejabberd's answer, and one
    /// that takes the first terminate as the end reads a later plain `<body/>` as a new stream
    /// (StanzaJS 12 then waits forever for its disconnect). The oldest open request carries
    /// whatever is still queued.
    void client_terminate(request_id id, body&& req)
    {
        if (!req.payloads.empty()) {
            actions.emplace_back(action::send_upstream{concat_payloads(req.payloads), req.payloads.size()});
        }
        close_upstream(true);
        detail::body_writer w;
        if (queue_has_stream_ns) {
            w.declare_stream();
        }
        w.attr("type", "terminate");
        respond(held.empty() ? id : held.front().id, 200, std::move(w).finish(queue));
        for (std::size_t i = 1; i < held.size(); ++i) {
            respond(held[i].id, 200, terminate_body(condition::none));
        }
        if (!held.empty()) {
            respond(id, 200, terminate_body(condition::none));
        }
        for (const auto& p : pending) {
            respond(p.id, 200, terminate_body(condition::none));
        }
        finish(condition::none, "XEP-0124 §13: client terminated the session");
    }

    /// XEP-0124 §10 (BOSH-PAUSE-2..6).
    void pause(request_id id, body&& req, core::time_point now)
    {
        const seconds p(*req.pause);
        if (p > lim.max_pause()) {
            // GAP-3 / BOSH-PAUSE-6: decided as policy-violation.
            fail(condition::policy_violation, id, "XEP-0124 §10: pause exceeds maxpause");
            return;
        }
        if (!req.payloads.empty()) {
            actions.emplace_back(action::send_upstream{concat_payloads(req.payloads), req.payloads.size()});
        }
        // Answer every held request at once, without payloads (BOSH-PAUSE-3): with
        // something held the queue is empty anyway.
        while (!held.empty()) {
            answer_held(0, now, false);
        }
        held_request h{id, req.rid, now, 0, false};
        respond(id, 200, build_response(h, {}, false)); // not cached (BOSH-RTX-6)
        last_answered_rid = std::max(last_answered_rid, req.rid);
        last_pause_rid = req.rid;
        last_response_empty = true;
        have_prev_new = false;
        inactivity_override = p;
        if (nothing_open()) {
            idle_since = now;
        }
    }

    void request_error(request_id id, const body_error& err)
    {
        if (ph == phase::active) {
            fail(condition::bad_request, id, err.reason);
        } else if (ph == phase::terminating) {
            answer_terminating(id);
        } else {
            respond_terminal(id, condition::bad_request);
        }
    }

    void aborted(request_id id, core::time_point now)
    {
        if (ph != phase::active) {
            return;
        }
        for (std::size_t i = 0; i < held.size(); ++i) {
            if (held[i].id == id) {
                // The rid stays answered-with-nothing: cache an empty body so a resend of
                // this rid replays it instead of failing (BOSH-REC-1). Data that arrives
                // later is queued for the next request.
                held_request h = held[i];
                held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
                std::string b = build_response(h, {}, false);
                if (h.creation) {
                    creation_answered = true;
                }
                last_answered_rid = std::max(last_answered_rid, h.rid);
                cache_put(h.rid, std::move(b), now);
                if (nothing_open()) {
                    idle_since = now;
                }
                return;
            }
        }
        for (std::size_t i = 0; i < pending.size(); ++i) {
            if (pending[i].id == id) {
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
                if (nothing_open()) {
                    idle_since = now;
                }
                return;
            }
        }
    }

    void header_in(const upstream_header& h)
    {
        if (ph != phase::active) {
            return;
        }
        const bool keep_id = h.id && !creation_answered; // authid: the creation response only
        const bool keep_from = h.from && !from_sent;
        const bool keep_version = h.version && !creation_answered;
        if (!keep_id && !keep_from && !keep_version) {
            return;
        }
        if (!server) {
            server = std::make_unique<server_header>();
        }
        if (keep_id) {
            server->id = h.id;
        }
        if (keep_from) {
            server->from = h.from;
        }
        if (keep_version) {
            server->version = h.version;
        }
    }

    void element_in(xml::element&& el, core::time_point now)
    {
        if (ph != phase::active) {
            return;
        }
        if (el.ns == ns_sasl && el.local == "success") {
            sasl_succeeded = true; // a restart is legitimate from now on (XBOSH-8)
        }
        if (held.empty() && queue.size() + el.xml.size() > lim.max_queued_bytes) {
            // Nobody collects the data: bounded memory wins over the session. The queue
            // is dropped, not sent (it may be huge).
            queue.clear();
            queue.shrink_to_fit();
            queue_has_stream_ns = false;
            end_from_outside(condition::internal_server_error, {}, false, true,
                             "gateway: queued server data exceeds max_queued_bytes");
            return;
        }
        if (el.ns == ns_stream) {
            queue_has_stream_ns = true; // BOSH-XML-12
        }
        queue += el.xml;
        if (!batching) {
            deliver(now);
        }
    }

    void timer(core::time_point now)
    {
        if (ph == phase::terminating) {
            if (now >= idle_since + inactivity_now()) {
                finish(terminal->cond, std::move(terminal->reason));
            }
            return;
        }
        if (ph != phase::active) {
            return;
        }
        // Wait expiry (BOSH-PAY-4/5). Keep rid order: an expired request releases every
        // lower held one with it (BOSH-PAY-7).
        std::size_t expired = 0;
        for (std::size_t i = 0; i < held.size(); ++i) {
            if (held[i].deadline <= now) {
                expired = i + 1;
            }
        }
        for (std::size_t i = 0; i < expired; ++i) {
            answer_held(0, now, true);
        }
        // Gap wait bound (BOSH-RID-4): an early request whose predecessor never came gets a
        // recoverable error, so the client resends the missing rid and this one.
        for (std::size_t i = 0; i < pending.size();) {
            if (pending[i].deadline <= now) {
                respond(pending[i].id, 200, error_body());
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
                if (nothing_open()) {
                    idle_since = now;
                }
            } else {
                ++i;
            }
        }
        // BOSH-INACT-1/2: only while nothing is open; silent end, nobody is answered.
        if (nothing_open() && now >= idle_since + inactivity_now()) {
            close_upstream(false);
            finish(condition::none, "XEP-0124 §10: client inactive");
        }
    }

    std::optional<core::time_point> deadline() const
    {
        switch (ph) {
        case phase::fresh:
        case phase::ended:
            return std::nullopt;
        case phase::terminating:
            return idle_since + inactivity_now();
        case phase::active:
            break;
        }
        std::optional<core::time_point> d;
        auto consider = [&](core::time_point t) {
            if (!d || t < *d) {
                d = t;
            }
        };
        for (const auto& h : held) {
            consider(h.deadline);
        }
        for (const auto& p : pending) {
            consider(p.deadline);
        }
        if (nothing_open()) {
            consider(idle_since + inactivity_now());
        }
        return d;
    }
};

// ====================================================================== engine

engine::engine(std::string sid, const options& opt)
    : st_(std::make_unique<state>(std::move(sid), opt))
{
}

engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

void engine::on_create(request_id id, body&& req, core::time_point now)
{
    st_->create(id, std::move(req), now);
}

void engine::on_request(request_id id, body&& req, core::time_point now)
{
    st_->request(id, std::move(req), now);
}

void engine::on_request_error(request_id id, const body_error& err, core::time_point /*now*/)
{
    st_->request_error(id, err);
}

void engine::on_request_aborted(request_id id, core::time_point now)
{
    st_->aborted(id, now);
}

void engine::on_upstream_header(const upstream_header& h, core::time_point /*now*/)
{
    st_->header_in(h);
}

void engine::on_upstream_element(xml::element&& el, core::time_point now)
{
    st_->element_in(std::move(el), now);
}

void engine::begin_upstream_batch()
{
    st_->batching = true;
}

void engine::end_upstream_batch(core::time_point now)
{
    if (!st_->batching) {
        return;
    }
    st_->batching = false;
    if (st_->ph == state::phase::active) {
        st_->deliver(now);
    }
}

void engine::on_upstream_stream_error(std::string error_xml, core::time_point /*now*/)
{
    // XBOSH-9: queued stanzas, then the whole <stream:error/>, xmlns:stream on the body.
    st_->end_from_outside(condition::remote_stream_error, error_xml, true, true,
                          "XEP-0206 §6: server sent a stream error");
}

void engine::on_upstream_closed(bool clean, core::time_point /*now*/)
{
    if (clean) {
        // GAP-7: a clean server close has no condition; answer with our closing tag.
        st_->end_from_outside(condition::none, {}, false, true,
                              "XEP-0124 §17.2: server closed the stream");
    } else {
        st_->end_from_outside(condition::remote_connection_failed, {}, false, false,
                              "XEP-0124 §17.2: connection to the server lost");
    }
}

void engine::on_upstream_failed(condition c, std::string_view why, core::time_point /*now*/)
{
    std::string extra;
    if (c == condition::see_other_uri && !why.empty()) {
        // XEP-0124 §17.2: the new address travels in a <uri/> child.
        extra = "<uri>";
        detail::append_escaped(extra, why);
        extra += "</uri>";
    }
    std::string reason = "XEP-0124 §17.2: ";
    reason += to_string(c);
    if (!why.empty()) {
        reason += ": ";
        reason += why;
    }
    st_->end_from_outside(c, extra, false, false, std::move(reason));
}

void engine::shutdown(core::time_point /*now*/)
{
    st_->end_from_outside(condition::system_shutdown, {}, false, true,
                          "XEP-0124 §17.2: gateway shutting down");
    if (st_->ph == state::phase::terminating) {
        // No request is open and the process is going away, so no later request could
        // collect the terminal body: end now, so the gateway's drain completes.
        st_->finish(condition::system_shutdown, "XEP-0124 §17.2: gateway shutting down");
    }
}

void engine::on_timer(core::time_point now)
{
    st_->timer(now);
}

std::optional<core::time_point> engine::next_deadline() const
{
    return st_->deadline();
}

std::vector<action_t> engine::take_actions()
{
    std::vector<action_t> out;
    out.swap(st_->actions);
    return out;
}

const std::string& engine::sid() const noexcept
{
    return st_->sid;
}

const std::string& engine::content_type() const noexcept
{
    return st_->content_type;
}

bool engine::ended() const noexcept
{
    return st_->ph == state::phase::ended;
}

std::size_t engine::queued_bytes() const noexcept
{
    return st_->queue.size();
}

bool engine::legacy() const noexcept
{
    return st_->legacy;
}

} // namespace boshgate::bosh
