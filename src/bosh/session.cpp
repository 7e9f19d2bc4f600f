#include "boshgate/bosh/session.hpp"

#include "boshgate/bosh/session_table.hpp"
#include "boshgate/core/ids.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/metrics/registry.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace boshgate::bosh {

namespace net = boost::asio;

namespace {

void count_end(condition c)
{
    auto& m = metrics::global();
    switch (c) {
    case condition::none: ++m.bosh_term_none; break;
    case condition::bad_request: ++m.bosh_term_bad_request; break;
    case condition::host_gone: ++m.bosh_term_host_gone; break;
    case condition::host_unknown: ++m.bosh_term_host_unknown; break;
    case condition::improper_addressing: ++m.bosh_term_improper_addressing; break;
    case condition::internal_server_error: ++m.bosh_term_internal_server_error; break;
    case condition::item_not_found: ++m.bosh_term_item_not_found; break;
    case condition::other_request: ++m.bosh_term_other_request; break;
    case condition::policy_violation: ++m.bosh_term_policy_violation; break;
    case condition::remote_connection_failed: ++m.bosh_term_remote_connection_failed; break;
    case condition::remote_stream_error: ++m.bosh_term_remote_stream_error; break;
    case condition::see_other_uri: ++m.bosh_term_see_other_uri; break;
    case condition::system_shutdown: ++m.bosh_term_system_shutdown; break;
    case condition::undefined_condition: ++m.bosh_term_undefined_condition; break;
    }
}

condition map_failure(upstream::failure f)
{
    switch (f) {
    case upstream::failure::improper_addressing: return condition::improper_addressing;
    case upstream::failure::host_unknown: return condition::host_unknown;
    case upstream::failure::connection_failed: return condition::remote_connection_failed;
    case upstream::failure::protocol_error: return condition::remote_connection_failed;
    }
    return condition::undefined_condition;
}

} // namespace

session::session(net::any_io_executor ex, std::string sid, const options& opt,
                 std::shared_ptr<upstream::shared_context> upstream_ctx, xml::limits xml_limits,
                 const core::clock& clock, std::weak_ptr<session_table> table, bool secure,
                 const limits::options& flow)
    : ex_(core::io_executor_of(ex)),
      tag_(core::next_session_tag('b')),
      engine_(std::move(sid), opt),
      upstream_ctx_(std::move(upstream_ctx)),
      clock_(clock),
      started_(clock.now()),
      table_(std::move(table)),
      secure_(secure),
      stream_args_(std::make_unique<const stream_args>(stream_args{xml_limits, flow})),
      out_mark_(flow.client_send_high_water, flow.client_send_low_water),
      max_parked_(opt.max_hold + 2),
      timer_(ex_)
{
    ++metrics::global().bosh_sessions_active;
}

session::~session()
{
    --metrics::global().bosh_sessions_active;
}

void session::post_create(request_id id, body&& b, responder r)
{
    net::post(ex_, [self = shared_from_this(), id, b = std::move(b), r = std::move(r)]() mutable {
        self->pending_.emplace_back(id, std::move(r));
        self->engine_.on_create(id, std::move(b), self->clock_.now());
        self->run_actions();
    });
}

void session::post_request(request_id id, body&& b, bool secure, responder r)
{
    net::post(ex_, [self = shared_from_this(), id, b = std::move(b), secure,
                        r = std::move(r)]() mutable {
        if (self->drop_insecure(secure, r)) {
            return;
        }
        self->pending_.emplace_back(id, std::move(r));
        if (self->upstream_blocked() || !self->parked_.empty()) {
            // SEC-FLOW-2: the server is not reading; this request (and what it carries)
            // waits, in order, until it does. The client cannot have more than `requests`
            // outstanding, so more than max_parked_ is overactivity: the engine decides.
            if (self->parked_.empty()) {
                ++metrics::global().flow_client_read_pauses;
                core::log().debug("{} server not reading: requests parked", self->tag_);
            }
            self->parked_.push_back(parked_request{id, std::move(b)});
            if (self->parked_.size() > self->max_parked_) {
                self->replay_parked(true);
            }
            return;
        }
        self->engine_.on_request(id, std::move(b), self->clock_.now());
        self->run_actions();
    });
}

void session::replay_parked(bool all)
{
    std::size_t n = 0;
    while (n < parked_.size() && (all || !upstream_blocked()) && !engine_.ended()) {
        auto& p = parked_[n++];
        const bool gone = !is_pending(p.id);
        engine_.on_request(p.id, std::move(p.b), clock_.now());
        if (gone) {
            // Its connection closed while parked: the rid still counts (the engine answers
            // it with an empty body into the retransmission cache, like any abort).
            engine_.on_request_aborted(p.id, clock_.now());
        }
        run_actions();
    }
    parked_.erase(parked_.begin(), parked_.begin() + static_cast<std::ptrdiff_t>(n));
    if (engine_.ended()) {
        parked_.clear(); // their responders were answered by run_actions()
    }
}

void session::on_upstream_writable()
{
    replay_parked(false);
}

void session::update_flow()
{
    if (!upstream_) {
        return;
    }
    switch (out_mark_.set(engine_.queued_bytes())) {
    case limits::watermark::change::pause:
        // SEC-FLOW-1: the client is not polling; leave the server's data in its socket.
        core::log().debug("{} client not polling: server reads paused", tag_);
        upstream_->pause_reading(true);
        break;
    case limits::watermark::change::resume:
        upstream_->pause_reading(false);
        break;
    case limits::watermark::change::none:
        break;
    }
}

bool session::drop_insecure(bool secure, responder& r)
{
    if (!secure_ || secure) {
        return false;
    }
    // BOSH-HTTP-14 (XEP-0124 §19.1): a session born over TLS never continues over a plain
    // link; drop that connection without a body, keep the session.
    ++metrics::global().bosh_insecure_request_dropped;
    core::log().warn("{} request over plain HTTP for a TLS session dropped (XEP-0124 19.1)", tag_);
    r(reply{0, {}, {}, true});
    return true;
}

void session::post_request_error(request_id id, body_error&& err, bool secure, responder r)
{
    net::post(ex_, [self = shared_from_this(), id, err = std::move(err), secure, r = std::move(r)]() mutable {
        if (self->drop_insecure(secure, r)) {
            return;
        }
        core::log().info("{} bad request body: {}", self->tag_, err.reason);
        self->pending_.emplace_back(id, std::move(r));
        self->engine_.on_request_error(id, err, self->clock_.now());
        self->run_actions();
    });
}

responder session::take_pending(request_id id)
{
    auto it = std::find_if(pending_.begin(), pending_.end(), [id](const auto& p) { return p.first == id; });
    if (it == pending_.end()) {
        return nullptr;
    }
    auto r = std::move(it->second);
    pending_.erase(it);
    return r;
}

bool session::is_pending(request_id id) const
{
    return std::any_of(pending_.begin(), pending_.end(), [id](const auto& p) { return p.first == id; });
}

void session::post_abort(request_id id)
{
    net::post(ex_, [self = shared_from_this(), id] {
        const bool parked = std::any_of(self->parked_.begin(), self->parked_.end(),
                                        [id](const parked_request& p) { return p.id == id; });
        if (self->take_pending(id) && !parked) {
            self->engine_.on_request_aborted(id, self->clock_.now());
            self->run_actions();
        }
    });
}

void session::post_shutdown()
{
    net::post(ex_, [self = shared_from_this()] {
        self->engine_.shutdown(self->clock_.now());
        self->run_actions();
    });
}

void session::on_upstream_header(const xml::root_open& header)
{
    upstream_header h;
    if (auto v = header.attr("id")) {
        h.id = std::string(*v);
    }
    if (auto v = header.attr("from")) {
        h.from = std::string(*v);
    }
    if (auto v = header.attr("version")) {
        h.version = std::string(*v);
    }
    engine_.on_upstream_header(h, clock_.now());
    run_actions();
}

void session::on_upstream_element(xml::element&& el)
{
    // The stream delivers a read's elements one by one, synchronously, on this thread: the
    // first opens a batch whose end runs once that read has been handled, so a held
    // request gets all of them in one body (issue 9), at the cost of one post per read.
    if (!batch_open_) {
        batch_open_ = true;
        engine_.begin_upstream_batch();
        net::post(ex_, [self = shared_from_this()] {
            self->batch_open_ = false;
            self->engine_.end_upstream_batch(self->clock_.now());
            self->run_actions();
        });
    }
    totals_.down(el.xml.size());
    engine_.on_upstream_element(std::move(el), clock_.now());
    run_actions();
}

void session::on_upstream_stream_error(std::string error_xml)
{
    core::log().info("{} server sent a stream error", tag_);
    engine_.on_upstream_stream_error(std::move(error_xml), clock_.now());
    run_actions();
}

void session::on_upstream_closed(bool clean)
{
    core::log().info("{} server stream closed ({})", tag_, clean ? "clean" : "connection lost");
    upstream_.reset();
    // Parked requests arrived before the end: the engine sees them first (their payload
    // has nowhere to go), then answers the held ones with the terminal condition.
    replay_parked(true);
    engine_.on_upstream_closed(clean, clock_.now());
    run_actions();
}

void session::on_upstream_failed(upstream::failure f, std::string detail)
{
    core::log().info("{} upstream failed: {}", tag_, detail);
    upstream_.reset();
    // Parked requests arrived before the end: the engine sees them first (their payload
    // has nowhere to go), then answers the held ones with the terminal condition.
    replay_parked(true);
    engine_.on_upstream_failed(map_failure(f), detail, clock_.now());
    run_actions();
}

void session::run_actions()
{
    // Executing an action may re-enter the engine: open_upstream fails inside open() when
    // the target is refused at once (policy, connecting cap, breaker), and that callback
    // runs its own run_actions(). What it adds is drained there; loop for the rest.
    for (;;) {
        auto actions = engine_.take_actions();
        if (actions.empty()) {
            break;
        }
        for (auto& a : actions) {
            std::visit(
                [this](auto& act) {
                    using T = std::decay_t<decltype(act)>;
                    if constexpr (std::is_same_v<T, action::respond>) {
                        if (auto r = take_pending(act.id)) {
                            r(reply{act.status, engine_.content_type(), std::move(act.body), false});
                        }
                    } else if constexpr (std::is_same_v<T, action::open_upstream>) {
                        // The engine asks for one stream per session, on its first creation
                        // only (engine_restart.one_open_upstream_per_engine_lifetime).
                        const auto args = std::move(stream_args_);
                        upstream_ = upstream::make_stream(ex_, upstream_ctx_, weak_from_this(), tag_,
                                                          args->xml, args->flow);
                        upstream::open_params p;
                        p.to = act.to;
                        p.route = act.route;
                        p.lang = act.lang;
                        p.from = act.from;
                        p.client = client_address_;
                        domain_ = act.to;
                        core::log().info("{} new session to {}", tag_, act.to);
                        upstream_->open(p);
                    } else if constexpr (std::is_same_v<T, action::send_upstream>) {
                        totals_.up(act.elements, act.bytes.size());
                        metrics::global().elements_to_servers.fetch_add(static_cast<std::int64_t>(act.elements),
                                                                        std::memory_order_relaxed);
                        if (upstream_) {
                            upstream_->send(std::move(act.bytes));
                        }
                    } else if constexpr (std::is_same_v<T, action::restart_upstream>) {
                        if (upstream_) {
                            upstream_->restart();
                        }
                    } else if constexpr (std::is_same_v<T, action::close_upstream>) {
                        if (upstream_) {
                            upstream_->close(act.clean);
                            upstream_.reset();
                        }
                    } else if constexpr (std::is_same_v<T, action::session_ended>) {
                        count_end(act.why);
                        const std::string_view end = act.why == condition::none ? "terminate" : to_string(act.why);
                        core::log().info("{} session ended ({})", tag_, end);
                        core::log().info(core::access_line(
                            tag_, "bosh", client_address_ ? client_address_->address().to_string() : std::string(),
                            domain_, std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started_),
                            totals_, end));
                        if (!removed_) {
                            removed_ = true;
                            if (auto t = table_.lock()) {
                                t->remove(engine_.sid());
                            }
                        }
                    }
                },
                a);
        }
    }
    if (engine_.ended()) {
        // Requests the engine will never answer (it answers all on the way out; this is a
        // safety net so no HTTP connection waits forever).
        for (auto& [id, r] : pending_) {
            r(reply{200, engine_.content_type(), terminate_body(condition::item_not_found), false});
        }
        pending_.clear();
        parked_.clear();
        timer_.disarm();
        return;
    }
    update_flow();
    arm_timer();
}

void session::arm_timer()
{
    timer_.arm(engine_.next_deadline(), shared_from_this(), [](session& self) {
        if (self.engine_.ended()) {
            return;
        }
        self.engine_.on_timer(self.clock_.now());
        self.run_actions();
    });
}

} // namespace boshgate::bosh
