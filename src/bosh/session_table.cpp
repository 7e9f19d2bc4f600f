#include "boshgate/bosh/session_table.hpp"

#include <boost/asio/io_context.hpp>

#include "boshgate/core/ids.hpp"
#include "boshgate/core/io_thread.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/limits/metrics.hpp"
#include "boshgate/metrics/registry.hpp"

namespace boshgate::bosh {

namespace net = boost::asio;

session_table::session_table(net::any_io_executor ex, std::shared_ptr<const config::config> cfg,
                             std::shared_ptr<upstream::shared_context> upstream_ctx,
                             const core::clock& clock, std::shared_ptr<limits::admission> admission)
    : ex_(std::move(ex)),
      upstream_ctx_(std::move(upstream_ctx)),
      clock_(clock),
      cfg_(std::move(cfg)),
      admission_(std::move(admission))
{
}

void pending_request::abort()
{
    if (id_ == 0) {
        return;
    }
    if (auto s = s_.lock()) {
        s->post_abort(id_);
    }
    s_.reset();
    id_ = 0;
}

pending_request session_table::handle(std::string_view body_text, bool secure, const limits::address_key& client,
                                      responder r)
{
    return handle(body_text, secure, client, std::nullopt, std::move(r));
}

pending_request session_table::handle(std::string_view body_text, bool secure, const limits::address_key& client,
                                      const std::optional<boost::asio::ip::tcp::endpoint>& client_address,
                                      responder r, bool from_other_process)
{
    auto& m = metrics::global();
    ++m.bosh_requests;
    std::shared_ptr<const config::config> cfg;
    {
        std::lock_guard lock(mutex_);
        cfg = cfg_;
    }
    const auto& opt = cfg->bosh;

    auto parsed = parse_body(body_text, cfg->xml);
    if (auto* err = std::get_if<body_error>(&parsed)) {
        ++m.bosh_bad_request;
        if (err->sid) {
            // A well-formed httpbind body naming a live session: that session ends with
            // bad-request and its legacy status code (BOSH-COND-1, BOSH-STATUS-3).
            std::shared_ptr<session> s;
            {
                std::lock_guard lock(mutex_);
                if (auto it = sessions_.find(*err->sid); it != sessions_.end()) {
                    s = it->second.s;
                }
            }
            if (s) {
                request_id id = next_id_.fetch_add(1, std::memory_order_relaxed);
                s->post_request_error(id, std::move(*err), secure, std::move(r));
                return pending_request(s, id);
            }
        }
        // No session can be trusted from this body: the reply is the terminal condition
        // (BOSH-COND-1) with HTTP 200, since legacy-ness is unknown (GAP-2).
        core::log().info("bad BOSH body refused: {}", err->reason);
        r(reply{200, opt.default_content_type, terminate_body(condition::bad_request, err->reason), false});
        return {};
    }
    auto& b = std::get<body>(parsed);
    request_id id = next_id_.fetch_add(1, std::memory_order_relaxed);

    if (!b.sid) {
        if (draining_.load(std::memory_order_relaxed)) {
            // Not a BOSH condition: this instance is fine but takes no new sessions. HTTP 503
            // (RFC 9110 §15.6.4) is what a balancer retries elsewhere (conf/haproxy/:
            // retry-on 503); a client talking to us directly sees a failed attempt and retries.
            ++m.drain_refused_sessions;
            r(reply{503, "text/plain; charset=utf-8",
                    "503 draining: this instance takes no new sessions; try again (another instance)\n", false, 1});
            return {};
        }
        std::shared_ptr<session> s;
        {
            std::lock_guard lock(mutex_);
            if (shutting_down_) {
                r(reply{200, opt.default_content_type, terminate_body(condition::system_shutdown), false});
                return {};
            }
        }
        // SEC-LIMIT-1..3: global and per-address session caps, per-address creation rate.
        // XEP-0124 §17.2 policy-violation ("the client has broken the session rules") is the
        // terminal condition closest to "too many sessions / too fast"; the text says which.
        limits::decision d = admission_->open_session(client, clock_.now());
        if (!d.granted) {
            limits::record_refusal(d.why);
            core::log().info("BOSH session refused for {}: {}", client.to_string(), limits::describe(d.why));
            r(reply{200, opt.default_content_type,
                    terminate_body(condition::policy_violation, std::string(limits::describe(d.why))), false});
            return {};
        }
        {
            std::lock_guard lock(mutex_);
            if (shutting_down_) {
                r(reply{200, opt.default_content_type, terminate_body(condition::system_shutdown), false});
                return {};
            }
            // A named instance prefixes its sids ("gw1.<160 random bits>") so that a load
            // balancer can route every request of the session here (conf/haproxy/).
            const std::string& instance = cfg->server.instance_id;
            std::string sid;
            do {
                sid = instance.empty() ? core::random_sid() : instance + '.' + core::random_sid();
            } while (sessions_.count(sid) != 0);
            // On the io thread of the connection that asked for it (gateway: one io_context per
            // thread), so that this connection's requests and the upstream stream need no
            // hand-off to another thread; ex_ where no io thread is registered (tests).
            net::io_context* here = core::this_thread_io_context();
            net::any_io_executor ex = here != nullptr ? net::any_io_executor(here->get_executor()) : ex_;
            s = std::make_shared<session>(ex, sid, opt, upstream_ctx_, cfg->xml, clock_,
                                          weak_from_this(), secure, cfg->limits);
            core::log().info("{} BOSH session for client {}", s->tag(), d.granted.key().to_string());
            s->set_client_address(client_address);
            sessions_.emplace(std::string_view(s->sid()), entry{s, std::move(d.granted)});
        }
        ++m.bosh_sessions_created;
        s->post_create(id, std::move(b), std::move(r));
        return pending_request(s, id);
    }

    std::shared_ptr<session> s;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(*b.sid);
        if (it != sessions_.end()) {
            s = it->second.s;
        }
    }
    if (!s) {
        unknown_sid_handler other;
        if (!from_other_process) {
            std::lock_guard lock(mutex_);
            other = unknown_sid_;
        }
        if (other && other(body_text, secure, client_address, r)) {
            return {};
        }
        r(unknown_sid_reply());
        return {};
    }
    s->post_request(id, std::move(b), secure, std::move(r));
    return pending_request(s, id);
}

void session_table::shutdown_all()
{
    std::vector<std::shared_ptr<session>> all;
    {
        std::lock_guard lock(mutex_);
        shutting_down_ = true;
        for (auto& [sid, e] : sessions_) {
            all.push_back(e.s);
        }
    }
    for (auto& s : all) {
        s->post_shutdown();
    }
}

reply session_table::unknown_sid_reply() const
{
    // BOSH-XML-8 / BOSH-TERM-4: unknown or ended session. Cheap: no log line per request
    // (browsers keep polling dead sessions), just a counter.
    ++metrics::global().bosh_unknown_sid;
    std::shared_ptr<const config::config> cfg;
    {
        std::lock_guard lock(mutex_);
        cfg = cfg_;
    }
    const unsigned status = cfg->bosh.legacy_404_for_unknown_sid ? 404u : 200u;
    return reply{status, cfg->bosh.default_content_type, terminate_body(condition::item_not_found), false};
}

void session_table::set_unknown_sid_handler(unknown_sid_handler h)
{
    std::lock_guard lock(mutex_);
    unknown_sid_ = std::move(h);
}

void session_table::set_draining(bool on)
{
    draining_.store(on, std::memory_order_relaxed);
}

void session_table::set_config(std::shared_ptr<const config::config> cfg)
{
    std::lock_guard lock(mutex_);
    cfg_ = std::move(cfg);
}

void session_table::remove(const std::string& sid)
{
    entry gone; // released (ticket, session reference) outside the lock
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(sid); it != sessions_.end()) {
        gone = std::move(it->second);
        sessions_.erase(it);
    }
}

std::size_t session_table::size() const
{
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

} // namespace boshgate::bosh
