#pragma once
// I/O adapter around one bosh::engine: runs on one io thread's context, parks HTTP responders by
// request id, arms one timer at engine.next_deadline(), executes the engine's actions and
// owns the upstream::stream. Everything protocol-related is decided by the engine.
#include "boshgate/bosh/engine.hpp"
#include "boshgate/core/access_log.hpp"
#include "boshgate/core/clock.hpp"
#include "boshgate/core/timer.hpp"
#include "boshgate/limits/options.hpp"
#include "boshgate/limits/watermark.hpp"
#include "boshgate/upstream/stream.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boshgate::bosh {

/// An HTTP reply for one BOSH request.
struct reply {
    unsigned status = 200;
    std::string content_type;
    std::string body;
    bool close_connection = false; ///< BOSH-HTTP-14: drop the connection without a body
    unsigned retry_after = 0;      ///< seconds for a Retry-After header (0: none)
};

/// Delivers a reply to the HTTP connection that carried the request. Called at most once,
/// on the BOSH session's io thread; the implementation posts to the connection's executor.
using responder = std::function<void(reply&&)>;

class session_table;

/// One BOSH session. Lifetime: shared_ptr held by the session_table until the engine ends
/// the session, and by pending handlers. All private state is touched by handlers on ex_
/// only, an executor run by one thread (the gateway's io_context per io thread; no strand);
/// public entry points post there, so they may be called from any thread.
class session : public std::enable_shared_from_this<session>, public upstream::stream_events {
public:
    session(boost::asio::any_io_executor ex, std::string sid, const options& opt,
            std::shared_ptr<upstream::shared_context> upstream_ctx, xml::limits xml_limits,
            const core::clock& clock, std::weak_ptr<session_table> table, bool secure,
            const limits::options& flow = {});
    ~session() override;

    const std::string& sid() const noexcept { return engine_.sid(); }
    const std::string& tag() const noexcept { return tag_; }
    /// The browser's address, named in the PROXY header of a domain with proxy_protocol.
    void set_client_address(std::optional<boost::asio::ip::tcp::endpoint> a) { client_address_ = a; }

    /// The creation request (no sid) or a later one. `secure`: it arrived over TLS.
    void post_create(request_id id, body&& b, responder r);
    void post_request(request_id id, body&& b, bool secure, responder r);
    /// A body for this session that failed validation: the engine ends the session with
    /// bad-request (BOSH-COND-1, BOSH-STATUS-3). Over plain HTTP for a session born over
    /// TLS it is dropped like any plain request (BOSH-HTTP-14): it cannot end the session.
    void post_request_error(request_id id, body_error&& err, bool secure, responder r);
    /// The HTTP connection of request `id` is gone.
    void post_abort(request_id id);
    /// Graceful gateway shutdown: system-shutdown to the client, clean upstream close.
    void post_shutdown();

    // upstream::stream_events (called on ex_'s thread)
    void on_upstream_header(const xml::root_open& header) override;
    void on_upstream_element(xml::element&& el) override;
    void on_upstream_stream_error(std::string error_xml) override;
    void on_upstream_closed(bool clean) override;
    void on_upstream_failed(upstream::failure f, std::string detail) override;
    void on_upstream_writable() override;

private:
    /// SEC-FLOW-2: a request that arrived while the server had more than
    /// upstream_send_high_water bytes of ours waiting. Its HTTP connection waits (the
    /// client cannot send more than `requests` at once); it reaches the engine when the
    /// server drains, goes away, or is cut off by write_timeout.
    struct parked_request {
        request_id id;
        body b;
    };
    bool upstream_blocked() const { return upstream_ && upstream_->send_blocked(); }
    /// Hand parked requests to the engine, in arrival order; `all`: even while blocked.
    void replay_parked(bool all);
    /// SEC-FLOW-1: pause/resume reading the server by the engine's queued bytes.
    void update_flow();
    void run_actions();
    void arm_timer();

    /// The io thread's context (run by that one thread), as its own executor: 16 bytes, not an
    /// any_io_executor's 56 (core/timer.hpp).
    boost::asio::io_context::executor_type ex_;
    std::string tag_;
    std::optional<boost::asio::ip::tcp::endpoint> client_address_;
    core::session_totals totals_;      ///< for the access line at the end
    std::string domain_;               ///< the stream's `to`
    engine engine_;
    std::shared_ptr<upstream::shared_context> upstream_ctx_;
    const core::clock& clock_;
    core::time_point started_;          ///< for the access line's duration
    std::weak_ptr<session_table> table_;
    /// BOSH-HTTP-14: true (and `r` answered by dropping the connection) when a request for
    /// a TLS-born session came over plain HTTP.
    bool drop_insecure(bool secure, responder& r);
    bool secure_;
    /// Requests waiting for their reply: a handful at most (`requests` plus parked ones),
    /// so a vector searched in order; a hash map kept ~200 bytes of buckets and nodes in
    /// every idle session (issue 9).
    std::vector<std::pair<request_id, responder>> pending_;
    /// `id`'s responder, removed from pending_; empty when `id` is not there.
    responder take_pending(request_id id);
    bool is_pending(request_id id) const;
    std::shared_ptr<upstream::stream> upstream_;
    struct stream_args {
        xml::limits xml;
        limits::options flow;
    };
    std::unique_ptr<const stream_args> stream_args_; ///< for the upstream stream; freed once it is made
    limits::watermark out_mark_;              ///< engine_.queued_bytes() (SEC-FLOW-1)
    std::vector<parked_request> parked_;      ///< SEC-FLOW-2
    std::size_t max_parked_;                  ///< more than this: handed to the engine anyway
    core::deadline_timer timer_; ///< engine_.next_deadline()
    bool removed_ = false;
    /// An upstream batch is open (engine::begin_upstream_batch) and its end is posted: the
    /// elements of one server read are delivered together, after that read's handler.
    bool batch_open_ = false;
};

} // namespace boshgate::bosh
