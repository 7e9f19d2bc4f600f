// Fuzz target: bosh::engine, the sans-I/O BOSH session state machine (XEP-0124 + XEP-0206),
// driven by a byte-coded sequence of inputs on a fake clock: one creation, then requests
// with rids around the next expected one (in order, resent, early, beyond the window),
// request errors, aborted requests, clock advances that fire the timer as the adapter does,
// server header / elements / stream error / close / failure, and gateway shutdown.
//
// Invariants, checked after every input (std::abort() on a violation):
//  1. Every request id is answered (action::respond) at most once, never after it was
//     aborted; once ended(), every request given and not aborted has been answered.
//  2. With enforce_overactivity (the default, always on here), requests given and not yet
//     answered nor aborted, not counting pause/terminate requests (the one extra request a
//     client may add, BOSH-OVER-1; GAP-8: "OVER-2 counts held + early requests, not a pending
//     pause/terminate"), never exceed `requests` (hold + 1, polling 1, GAP-5). The creation
//     response advertises that same `requests` and `hold`.
//  3. A session_ended action comes at most once, last in its batch, and ended() agrees
//     with it; after it only respond actions appear ("Once a session_ended action has been
//     produced the engine ignores upstream input; a later on_request() is answered
//     item-not-found" — checked too). open_upstream only on creation; close_upstream at
//     most once; nothing is sent or restarted upstream after close_upstream.
//     shutdown() always leaves the session ended (the gateway's drain relies on it).
//  4. Server elements (made unique with id='eN') reach the client in the order given, each
//     once, none skipped: every fresh response carries exactly the next run of elements.
//     Retransmissions (a response byte-identical to an earlier one for the same rid) are
//     replays and skipped. Ordinary (non-terminate) responses carrying server data go to
//     increasing rids (BOSH-PAY-7). Until the session ends or upstream is closed,
//     queued_bytes() equals the bytes of the elements given and not yet delivered (nothing
//     is dropped; only the end or a max_queued_bytes overflow, which ends it, may drop).
//  5. queued_bytes() <= max_queued_bytes always, and 0 once ended().
//  6. Client payloads (id='c<rid>_<k>') go upstream in rid order, each rid at most once
//     (XEP-0124 §14.2: processed in rid order; resends are not forwarded again).
//  7. Every response is one well-formed httpbind <body/> (BOSH-XML-1); its status is 200
//     for a `ver` session, else 200/400/403/404 (§17.1); content_type() is always safe.
//  8. After on_timer(now), next_deadline() is none or later than now (the timer fired
//     everything due, so the adapter does not spin).
// Not checked: next_deadline() == nullopt once ended (true in the code, but engine.hpp does
// not promise it; after the end the adapter drops the session and on_timer is a no-op, which
// invariant 3 checks).
//
// Input layout (bytes past the end read as 0):
//   byte 0   options: bits 0-1 max_hold - 1; bits 2-3 max_queued_bytes {1 MiB, 128, 512, 2048};
//            bit 4 max_pause=0 (no pause); bit 5 no server acks; bit 6 enforce_polling off;
//            bit 7 small caches (max_rid_repeats 2, max_cached_responses 2).
//   bytes 1-3 creation: f1 bits 0-1 hold, bit 2 no hold, bit 3 no ver (legacy), bit 4 bad
//            ver, bits 5-6 content {none, text/xml;charset=utf-8, application/xml, text/html},
//            bit 7 ack='1'; f2 bits 0-1 first rid {1000, 1, 2^53-41, 2^32-1}, bit 2 no
//            `to`, bit 3 no `wait`, bit 4 ver 1.6, bit 5 route; then wait in seconds.
//   then ops: opcode byte % 10, and its parameters:
//     0 request  flags, delta: rid = highest rid given + 1 + (delta % 9 - 3);
//                flags bits 0-1 payloads (0..2), bits 2-3 kind {normal, normal, pause, terminate}
//                (pause reads one more byte: seconds), bit 4 restart, bit 5 ack (reads one
//                more byte: ack = highest given rid - byte % 4)
//     1 request error   2 abort (byte: index among open requests)
//     3 advance clock (byte: b&0x7f units of 50 ms, or of 1 s when b&0x80), fire the timer
//     4 upstream header (byte: bits 0-2 id / from / version present, bit 3 odd chars in from)
//     5 upstream element (byte: bits 0-1 kind {message, features, sasl success, message},
//       bits 2-7 text length/4)
//     6 upstream stream error   7 upstream closed (byte bit 0: clean)
//     8 upstream failed (byte: condition = byte % 14; then a detail of byte>>4 chars, which
//       see-other-uri puts in <uri/>)
//     9 shutdown
// BOSH_ENGINE_FUZZ_TRACE=1 in the environment prints every input and action to stderr.
#include "boshgate/bosh/body.hpp"
#include "boshgate/bosh/engine.hpp"
#include "boshgate/bosh/options.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace boshgate;
using namespace std::chrono_literals;

constexpr std::string_view test_sid = "0123456789abcdef0123456789abcdef01234567";

/// BOSH_ENGINE_FUZZ_TRACE=1 prints every input and action to stderr (for reproducers).
bool tracing()
{
    static const bool on = std::getenv("BOSH_ENGINE_FUZZ_TRACE") != nullptr;
    return on;
}

#define BOSH_FUZZ_TRACE(...)                                                                       \
    do {                                                                                           \
        if (tracing()) {                                                                           \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
        }                                                                                          \
    } while (0)

void check(bool ok, std::source_location loc = std::source_location::current())
{
    if (!ok) {
        std::fprintf(stderr, "bosh_engine: invariant broken at %s:%u\n", loc.file_name(),
                     static_cast<unsigned>(loc.line()));
        std::abort();
    }
}

struct reader {
    const std::uint8_t* p;
    std::size_t n;
    std::size_t i = 0;
    bool more() const { return i < n; }
    std::uint8_t next() { return i < n ? p[i++] : 0; }
};

/// Value of attribute `name` on the <body> start tag.
std::optional<std::string> start_attr(const std::string& b, std::string_view name)
{
    auto end = b.find('>');
    std::string needle = " " + std::string(name) + "='";
    auto pos = b.find(needle);
    if (pos == std::string::npos || pos > end) {
        return std::nullopt;
    }
    pos += needle.size();
    return b.substr(pos, b.find('\'', pos) - pos);
}

/// Numbers N of every id='<prefix>N...' in `s`, in order.
std::vector<std::uint64_t> tagged(std::string_view s, std::string_view prefix)
{
    std::vector<std::uint64_t> out;
    std::string needle = " id='" + std::string(prefix);
    for (auto pos = s.find(needle); pos != std::string_view::npos; pos = s.find(needle, pos + 1)) {
        std::uint64_t v = 0;
        for (auto q = pos + needle.size(); q < s.size() && s[q] >= '0' && s[q] <= '9'; ++q) {
            v = v * 10 + static_cast<std::uint64_t>(s[q] - '0');
        }
        out.push_back(v);
    }
    return out;
}

bool is_httpbind_body(const std::string& b)
{
    struct h final : xml::handler {
        std::string ns, local;
        void on_open(xml::root_open&& r) override
        {
            ns = r.ns;
            local = r.local;
        }
        void on_element(xml::element&&) override {}
        void on_close() override {}
    } hh;
    if (xml::parse_document(b, hh, xml::limits{})) {
        return false;
    }
    return hh.local == "body" && hh.ns == bosh::ns_httpbind;
}

unsigned long long ull(std::uint64_t v)
{
    return v;
}

long long ms(core::time_point t)
{
    const core::time_point start{std::chrono::hours(1000)};
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - start).count();
}

std::string describe(const bosh::action_t& a)
{
    if (const auto* r = std::get_if<bosh::action::respond>(&a)) {
        return "respond id=" + std::to_string(r->id) + " " + std::to_string(r->status) + " " + r->body;
    }
    if (std::holds_alternative<bosh::action::open_upstream>(a)) {
        return "open_upstream";
    }
    if (const auto* s = std::get_if<bosh::action::send_upstream>(&a)) {
        return "send_upstream " + s->bytes;
    }
    if (std::holds_alternative<bosh::action::restart_upstream>(a)) {
        return "restart_upstream";
    }
    if (const auto* c = std::get_if<bosh::action::close_upstream>(&a)) {
        return std::string("close_upstream clean=") + (c->clean ? "1" : "0");
    }
    const auto& e = std::get<bosh::action::session_ended>(a);
    return "session_ended " + std::string(bosh::to_string(e.why)) + " (" + e.reason + ")";
}

enum class req_kind { create, request, error };

struct req_info {
    std::uint64_t rid = 0;
    req_kind kind = req_kind::request;
    bool extra = false;        ///< pause/terminate: not counted against `requests`
    bool after_end = false;    ///< given when the session had already ended
    bool answered = false;
    bool aborted = false;
    bool open() const { return !answered && !aborted; }
};

struct server_el {
    std::size_t bytes = 0;
    bool while_open = false; ///< given before close_upstream / the end
};

class harness {
public:
    explicit harness(const bosh::options& o) : opt_(o), eng_(std::string(test_sid), o) {}

    // ------------------------------------------------------------------ inputs

    void create(bosh::body&& b, unsigned hold_eff)
    {
        hold_ = hold_eff;
        requests_ = hold_eff + 1;
        non_legacy_ = b.ver.has_value();
        max_given_rid_ = b.rid;
        auto id = add(b.rid, req_kind::create, false);
        creation_id_ = id;
        BOSH_FUZZ_TRACE("on_create id=%llu rid=%llu\n", ull(id), ull(b.rid));
        eng_.on_create(id, std::move(b), now_);
        in_create_ = true;
        step();
        in_create_ = false;
        created_ = true;
    }

    void request(std::uint64_t rid, bosh::body&& b)
    {
        bool extra = b.terminate || (opt_.max_pause > 0s && b.pause.has_value());
        // A copy of an open rid replaces it and keeps the original body (BOSH-RTX-2), so it
        // is counted the way the original was.
        for (const auto& [id, r] : reqs_) {
            if (r.open() && r.rid == rid && r.kind != req_kind::error) {
                extra = r.extra;
            }
        }
        max_given_rid_ = std::max(max_given_rid_, rid);
        auto id = add(rid, req_kind::request, extra);
        BOSH_FUZZ_TRACE("on_request id=%llu rid=%llu pay=%zu term=%d pause=%d restart=%d ack=%lld\n",
                        ull(id), ull(rid), b.payloads.size(), int(b.terminate),
                        b.pause ? int(*b.pause) : -1, int(b.restart),
                        b.ack ? static_cast<long long>(*b.ack) : -1LL);
        eng_.on_request(id, std::move(b), now_);
        step();
    }

    void request_error()
    {
        auto id = add(0, req_kind::error, false);
        bosh::body_error err{"fuzz: refused body", std::string(test_sid)};
        BOSH_FUZZ_TRACE("on_request_error id=%llu\n", ull(id));
        eng_.on_request_error(id, err, now_);
        step();
    }

    void abort_request(std::uint8_t pick)
    {
        std::vector<bosh::request_id> open;
        for (const auto& [id, r] : reqs_) {
            if (r.open()) {
                open.push_back(id);
            }
        }
        if (open.empty()) {
            return;
        }
        auto id = open[pick % open.size()];
        reqs_[id].aborted = true;
        BOSH_FUZZ_TRACE("on_request_aborted id=%llu\n", ull(id));
        eng_.on_request_aborted(id, now_);
        step();
    }

    void advance(core::duration d)
    {
        now_ += d;
        auto dl = eng_.next_deadline();
        if (dl && *dl <= now_) {
            BOSH_FUZZ_TRACE("on_timer t=+%lldms\n", ms(now_));
            eng_.on_timer(now_);
            step();
            auto again = eng_.next_deadline();
            check(!again || *again > now_); // invariant 8
        }
    }

    void header(std::uint8_t f)
    {
        bosh::upstream_header h;
        if (f & 1) {
            h.id = "srv-stream-1";
        }
        if (f & 2) {
            h.from = (f & 8) ? "ex'<&>.com" : "example.com";
        }
        if (f & 4) {
            h.version = "1.0";
        }
        BOSH_FUZZ_TRACE("on_upstream_header %u\n", unsigned(f));
        eng_.on_upstream_header(h, now_);
        step();
    }

    void element(std::uint8_t f)
    {
        auto n = els_.size() + 1; // e-numbers start at 1
        std::string tag = "id='e" + std::to_string(n) + "'";
        xml::element el;
        switch (f & 3) {
        case 1:
            el.ns = std::string(bosh::ns_stream);
            el.local = "features";
            el.xml = "<stream:features xmlns:stream='http://etherx.jabber.org/streams' " + tag +
                     "><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
            break;
        case 2:
            el.ns = "urn:ietf:params:xml:ns:xmpp-sasl";
            el.local = "success";
            el.xml = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl' " + tag + "/>";
            break;
        default:
            el.ns = "jabber:client";
            el.local = "message";
            el.xml = "<message xmlns='jabber:client' " + tag + " to='a@b'><body>" +
                     std::string(static_cast<std::size_t>(f >> 2) * 4, 'x') + "</body></message>";
            break;
        }
        els_.push_back(server_el{el.xml.size(), !closed_ && !ended_});
        BOSH_FUZZ_TRACE("on_upstream_element e%zu %s\n", n, el.xml.c_str());
        eng_.on_upstream_element(std::move(el), now_);
        step();
    }

    void stream_error()
    {
        BOSH_FUZZ_TRACE("on_upstream_stream_error\n");
        eng_.on_upstream_stream_error(
            "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
            "<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
            now_);
        step();
    }

    void closed(bool clean)
    {
        BOSH_FUZZ_TRACE("on_upstream_closed clean=%d\n", int(clean));
        eng_.on_upstream_closed(clean, now_);
        step();
    }

    void failed(bosh::condition c, std::string_view detail)
    {
        BOSH_FUZZ_TRACE("on_upstream_failed %s '%.*s'\n", std::string(bosh::to_string(c)).c_str(),
                        int(detail.size()), detail.data());
        eng_.on_upstream_failed(c, detail, now_);
        step();
    }

    void shutdown()
    {
        BOSH_FUZZ_TRACE("shutdown\n");
        eng_.shutdown(now_);
        step();
        check(eng_.ended()); // invariant 3 (shutdown ends the session)
    }

    bool ended() const { return ended_; }
    std::uint64_t max_given_rid() const { return max_given_rid_; }
    core::time_point now() const { return now_; }

private:
    bosh::request_id add(std::uint64_t rid, req_kind kind, bool extra)
    {
        auto id = next_id_++;
        req_info r;
        r.rid = rid;
        r.kind = kind;
        r.extra = extra;
        r.after_end = ended_;
        reqs_[id] = r;
        return id;
    }

    void on_respond(const bosh::action::respond& a)
    {
        auto it = reqs_.find(a.id);
        check(it != reqs_.end());       // invariant 1: only ids given
        req_info& r = it->second;
        check(!r.answered);             // invariant 1: at most once
        check(!r.aborted);              // invariant 1: never after an abort
        r.answered = true;

        check(is_httpbind_body(a.body)); // invariant 7
        if (non_legacy_) {
            check(a.status == 200);
        } else {
            check(a.status == 200 || a.status == 400 || a.status == 403 || a.status == 404);
        }
        if (r.after_end && r.kind == req_kind::request) {
            // invariant 3: a request after the end is an unknown session
            check(a.body.find("condition='item-not-found'") != std::string::npos);
        }
        if (a.id == creation_id_ && a.status == 200 && start_attr(a.body, "sid")) {
            // invariant 2: the advertised limits are the ones enforced
            check(start_attr(a.body, "requests") == std::to_string(requests_));
            check(start_attr(a.body, "hold") == std::to_string(hold_));
            check(start_attr(a.body, "sid") == std::string(test_sid));
        }

        // invariant 4: server elements in order, each once, nothing skipped.
        auto& seen = bodies_by_rid_[r.rid];
        bool replay = false;
        if (r.kind != req_kind::error) {
            for (const auto& s : seen) {
                if (s == a.body) {
                    replay = true;
                    break;
                }
            }
        }
        if (!replay) {
            auto carried = tagged(a.body, "e");
            for (auto n : carried) {
                check(n == delivered_ + 1 && n <= els_.size());
                check(els_[n - 1].while_open);
                ++delivered_;
            }
            if (!carried.empty() && !start_attr(a.body, "type")) {
                // Server data goes out in rid order (BOSH-PAY-7): a terminal body may land
                // on whatever request comes next, an ordinary response may not.
                check(!last_data_rid_ || r.rid > *last_data_rid_);
                last_data_rid_ = r.rid;
            }
            if (r.kind != req_kind::error) {
                seen.push_back(a.body);
            }
        }
    }

    void step()
    {
        auto acts = eng_.take_actions();
        for (std::size_t i = 0; i < acts.size(); ++i) {
            const auto& act = acts[i];
            BOSH_FUZZ_TRACE("  -> %s\n", describe(act).c_str());
            if (ended_) {
                // invariant 3: after session_ended only answers to later requests
                check(std::holds_alternative<bosh::action::respond>(act));
            }
            if (const auto* r = std::get_if<bosh::action::respond>(&act)) {
                on_respond(*r);
            } else if (std::holds_alternative<bosh::action::open_upstream>(act)) {
                check(in_create_ && !opened_ && i == 0);
                opened_ = true;
            } else if (const auto* s = std::get_if<bosh::action::send_upstream>(&act)) {
                check(opened_ && !closed_);
                // invariant 6: client payloads in rid order, each rid once
                auto tags = tagged(s->bytes, "c");
                for (std::size_t k = 0; k < tags.size(); ++k) {
                    std::uint64_t rid = tags[k];
                    if (k == 0) {
                        check(!last_forwarded_ || rid > *last_forwarded_);
                    } else {
                        check(rid == tags[0]); // one request per send_upstream
                    }
                }
                if (!tags.empty()) {
                    last_forwarded_ = tags[0];
                }
            } else if (std::holds_alternative<bosh::action::restart_upstream>(act)) {
                check(opened_ && !closed_);
            } else if (std::holds_alternative<bosh::action::close_upstream>(act)) {
                check(opened_ && !closed_); // at most once
                closed_ = true;
            } else if (std::holds_alternative<bosh::action::session_ended>(act)) {
                check(!ended_);
                check(i + 1 == acts.size()); // last in its batch
                ended_ = true;
            }
        }
        check(eng_.ended() == ended_);
        check(eng_.take_actions().empty());

        // invariant 1: the end answers everything still open
        if (ended_) {
            for (const auto& [id, r] : reqs_) {
                check(!r.open());
            }
        }
        // invariant 2: no more simultaneous ordinary requests than `requests`
        if (created_ && !ended_ && opt_.enforce_overactivity) {
            std::size_t open_ordinary = 0;
            for (const auto& [id, r] : reqs_) {
                if (r.open() && !r.extra) {
                    ++open_ordinary;
                }
            }
            check(open_ordinary <= requests_);
        }
        // invariant 5
        check(eng_.queued_bytes() <= opt_.max_queued_bytes);
        if (ended_) {
            check(eng_.queued_bytes() == 0);
        }
        // invariant 4: nothing dropped while the session runs with its upstream open
        if (!ended_ && !closed_) {
            std::size_t undelivered = 0;
            for (std::size_t k = delivered_; k < els_.size(); ++k) {
                undelivered += els_[k].bytes;
            }
            check(eng_.queued_bytes() == undelivered);
        }
        // invariant 7
        const auto& ct = eng_.content_type();
        check(ct == opt_.default_content_type || bosh::safe_content_type(ct));
    }

    bosh::options opt_;
    bosh::engine eng_;
    core::time_point now_{std::chrono::hours(1000)};
    bosh::request_id next_id_ = 1;
    bosh::request_id creation_id_ = 0;
    std::map<bosh::request_id, req_info> reqs_;
    std::map<std::uint64_t, std::vector<std::string>> bodies_by_rid_;
    std::vector<server_el> els_;
    std::size_t delivered_ = 0;
    std::optional<std::uint64_t> last_forwarded_;
    std::optional<std::uint64_t> last_data_rid_;
    std::uint64_t max_given_rid_ = 0;
    unsigned hold_ = 1;
    unsigned requests_ = 2;
    bool non_legacy_ = false;
    bool created_ = false;
    bool in_create_ = false;
    bool opened_ = false;
    bool closed_ = false;
    bool ended_ = false;
};

std::uint64_t clamp_rid(std::int64_t base, std::int64_t delta)
{
    std::int64_t r = base + delta;
    if (r < 1) {
        r = 1;
    }
    if (static_cast<std::uint64_t>(r) > bosh::max_rid) {
        r = static_cast<std::int64_t>(bosh::max_rid);
    }
    return static_cast<std::uint64_t>(r);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 4) {
        return 0;
    }
    reader in{data, size};

    // ------------------------------------------------------------------ options
    bosh::options opt;
    const std::uint8_t o = in.next();
    opt.max_hold = 1u + (o & 3u);
    static constexpr std::size_t queue_caps[] = {1024 * 1024, 128, 512, 2048};
    opt.max_queued_bytes = queue_caps[(o >> 2) & 3];
    if (o & 0x10) {
        opt.max_pause = 0s;
    }
    opt.server_acks = (o & 0x20) == 0;
    opt.enforce_polling = (o & 0x40) == 0;
    if (o & 0x80) {
        opt.max_rid_repeats = 2;
        opt.max_cached_responses = 2;
    }
    opt.enforce_overactivity = true; // invariant 2 relies on it

    harness h(opt);

    // ------------------------------------------------------------------ creation
    const std::uint8_t f1 = in.next();
    const std::uint8_t f2 = in.next();
    const std::uint8_t wait_b = in.next();
    static constexpr std::uint64_t first_rids[] = {1000, 1, bosh::max_rid - 40, 0xFFFFFFFFull};
    bosh::body c;
    c.rid = first_rids[f2 & 3];
    if (!(f2 & 4)) {
        c.to = "example.com";
    }
    if (f2 & 0x20) {
        c.route = "xmpp:example.com:5222";
    }
    c.lang = "en";
    if (!(f1 & 8)) {
        c.ver = (f1 & 0x10) ? "1.x" : (f2 & 0x10) ? "1.6" : "1.11";
    }
    static constexpr const char* contents[] = {nullptr, "text/xml; charset=utf-8", "application/xml",
                                               "text/html"};
    if (const char* ct = contents[(f1 >> 5) & 3]) {
        c.content = ct;
    }
    if (!(f2 & 8)) {
        c.wait = wait_b;
    }
    if (!(f1 & 4)) {
        c.hold = f1 & 3u;
    }
    if (f1 & 0x80) {
        c.ack = 1;
    }
    c.xmpp_version = "1.0";
    // The session's `requests` per options.hpp: polling (hold=0 or wait=0) => hold 0.
    auto wait_eff = std::min(c.wait ? std::chrono::seconds(*c.wait) : opt.default_wait, opt.max_wait);
    unsigned hold_eff = std::min(c.hold.value_or(1u), opt.max_hold);
    const bool polling = hold_eff == 0 || wait_eff == 0s;
    if (polling) {
        hold_eff = 0;
    }
    h.create(std::move(c), hold_eff);

    // ------------------------------------------------------------------ operations
    static constexpr std::string_view uri_chars = "abcx:/.<>&'\"=?%#";
    while (in.more()) {
        switch (in.next() % 10) {
        case 0: {
            const std::uint8_t f = in.next();
            const std::int64_t delta = static_cast<std::int64_t>(in.next() % 9) - 3;
            const std::uint64_t rid =
                clamp_rid(static_cast<std::int64_t>(h.max_given_rid()) + 1, delta);
            bosh::body b;
            b.rid = rid;
            b.sid = std::string(test_sid);
            const unsigned npay = std::min(f & 3u, 2u);
            for (unsigned k = 0; k < npay; ++k) {
                std::string x = "<message xmlns='jabber:client' id='c" + std::to_string(rid) + "_" +
                                std::to_string(k) + "'><body>hi</body></message>";
                b.payload_bytes += x.size();
                b.payloads.push_back(xml::element{"jabber:client", "message", std::move(x)});
            }
            switch ((f >> 2) & 3) {
            case 2:
                b.pause = in.next();
                break;
            case 3:
                b.terminate = true;
                break;
            default:
                break;
            }
            b.restart = (f & 0x10) != 0;
            if (f & 0x20) {
                const std::uint64_t back = in.next() % 4;
                b.ack = h.max_given_rid() > back ? h.max_given_rid() - back : 1;
            }
            h.request(rid, std::move(b));
            break;
        }
        case 1:
            h.request_error();
            break;
        case 2:
            h.abort_request(in.next());
            break;
        case 3: {
            const std::uint8_t b = in.next();
            const auto units = static_cast<std::int64_t>(b & 0x7f);
            h.advance((b & 0x80) ? core::duration(std::chrono::seconds(units))
                                 : core::duration(std::chrono::milliseconds(50 * units)));
            break;
        }
        case 4:
            h.header(in.next());
            break;
        case 5:
            h.element(in.next());
            break;
        case 6:
            h.stream_error();
            break;
        case 7:
            h.closed((in.next() & 1) != 0);
            break;
        case 8: {
            const std::uint8_t b = in.next();
            const auto cond = static_cast<bosh::condition>(b % 14);
            std::string detail;
            for (unsigned k = 0; k < (b >> 4); ++k) {
                detail += uri_chars[in.next() % uri_chars.size()];
            }
            h.failed(cond, detail);
            break;
        }
        default:
            h.shutdown();
            break;
        }
    }
    return 0;
}
