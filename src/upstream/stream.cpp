// upstream::stream: the I/O adapter around upstream::negotiator (see stream.hpp).
//
// Shape (one strand: the owner's executor):
//  - run(): plan_target -> connector (SRV, A/AAAA, policy, TCP) -> direct TLS handshake when
//    the candidate says so -> negotiator.start() -> read loop -> finish(). It is the only
//    coroutine that reads, handshakes or tears the socket down.
//  - do_write(): the single write queue (conventions rule 4), started when the queue goes
//    from empty to non-empty.
//  - Everything else (owner calls, timers) feeds the negotiator and executes its actions
//    synchronously; a terminal action sets finishing_ and emits terminal cancellation on
//    run()'s slot, which aborts whatever run() awaits; run() then calls finish().
//  - STARTTLS (conventions rule 8): the negotiator asks for a parser reset plus start_tls on
//    <proceed/>; the framer stops after that element, the rest of the read is discarded,
//    the write queue is drained and the same TCP socket is handed to a tls_socket.
//  - Upstream protection: before DNS, an attempt is taken from the gateway's
//    limits::upstream_guard (per-domain cap and circuit breaker); a refusal fails the stream
//    at once with connection_failed. The attempt succeeds when the negotiator reaches the
//    open state, fails on any setup or negotiation failure caused by the server or the
//    network, and is cancelled (counts as nothing) when the owner closes or goes away, or
//    when the client's own data fails the stream.
//  - Memory while idle (the common state of a BOSH session): TLS is upstream::tls_socket
//    (OpenSSL on the socket, record buffers released between records), and the read loop
//    waits for readiness before it allocates its read buffer, so an idle stream holds no
//    I/O buffer at all. The XML framer's expat state goes back once the stream has read
//    nothing for a period of the io thread's core::idle_sweep (not between every two reads:
//    a busy stream keeps it).
#include "boshgate/upstream/stream.hpp"

#include "boshgate/core/ids.hpp"
#include "boshgate/core/idle_sweep.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/core/timer.hpp"
#include "boshgate/limits/watermark.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/http/proxy_protocol.hpp"
#include "boshgate/upstream/connector.hpp"
#include "boshgate/upstream/negotiator.hpp"
#include "boshgate/upstream/target_policy.hpp"
#include "boshgate/upstream/tls_context.hpp"
#include "boshgate/upstream/tls_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (a matching
// class-specific new/delete pair), as in http/listener.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace boshgate::upstream {

namespace net = boost::asio;
using boost::system::error_code;

std::shared_ptr<shared_context> make_shared_context(const options& opt, const limits::options& lim)
{
    return std::make_shared<shared_context>(opt, lim);
}

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

/// The upstream guard's key for a plan: the XMPP domain when its SRV records decide, else
/// the domain plus the fixed target, so that a client-chosen route (BOSH-ROUTE-3) can only
/// ever trip the breaker of the target it names.
std::string guard_key(const dial_plan& plan)
{
    if (plan.use_srv || (plan.fixed.empty() && plan.unix_path.empty())) {
        return plan.domain;
    }
    if (!plan.unix_path.empty()) {
        return plan.domain + " via unix:" + plan.unix_path;
    }
    const auto& t = plan.fixed.front();
    return plan.domain + " via " + t.host + ":" + std::to_string(t.port);
}

/// Read buffer size. One TLS record carries at most 16 KiB of plaintext; the buffer exists
/// only while one read is copied out and fed to the framer.
constexpr std::size_t read_chunk = 16 * 1024;

/// The read buffer of one io thread, lent to one stream at a time for one read and its
/// synchronous feed (issue 9: a 16 KiB malloc/free per server read cost more CPU than the
/// copy). A stream that finds it lent out (a read fed while another is suspended mid-feed,
/// e.g. during STARTTLS) uses a buffer of its own for that read.
class read_buffer_lease {
public:
    read_buffer_lease()
    {
        auto& slot = thread_slot();
        if (!slot.lent) {
            if (!slot.mem) {
                slot.mem = std::make_unique_for_overwrite<char[]>(read_chunk);
            }
            slot.lent = true;
            data_ = slot.mem.get();
            shared_ = true;
        } else {
            own_ = std::make_unique_for_overwrite<char[]>(read_chunk);
            data_ = own_.get();
        }
    }
    ~read_buffer_lease()
    {
        if (shared_) {
            thread_slot().lent = false;
        }
    }
    read_buffer_lease(const read_buffer_lease&) = delete;
    read_buffer_lease& operator=(const read_buffer_lease&) = delete;

    char* data() const noexcept { return data_; }

private:
    struct slot_type {
        std::unique_ptr<char[]> mem;
        bool lent = false;
    };
    static slot_type& thread_slot()
    {
        thread_local slot_type slot;
        return slot;
    }
    char* data_ = nullptr;
    bool shared_ = false;
    std::unique_ptr<char[]> own_;
};

template <class... Ts>
struct overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

class stream_impl final : public stream,
                          public xml::handler,
                          public core::idle_sweep::client,
                          public std::enable_shared_from_this<stream_impl> {
public:
    stream_impl(net::any_io_executor ex, std::shared_ptr<shared_context> ctx,
                std::weak_ptr<stream_events> events, std::string log_tag, xml::limits lim,
                const limits::options& flow)
        : ex_(core::io_executor_of(ex)), ctx_(std::move(ctx)), events_(std::move(events)), tag_(std::move(log_tag)),
          parser_(*this, lim), sock_(ex),
          send_mark_(flow.upstream_send_high_water, flow.upstream_send_low_water),
          write_timeout_(flow.write_timeout)
    {
    }

    ~stream_impl() override
    {
        if (parked_) { // only when the io_context is destroyed with the wait pending
            --metrics::global().upstream_streams_parked;
        }
        if (!counted_domain_.empty()) {
            metrics::domains().stream_closed(counted_domain_);
        }
    }

    // ---------------------------------------------------------------- idle_sweep::client
    /// Called by the io thread's sweep once nothing was read for a sweep period: expat's state
    /// goes back (refused mid-stanza or inside a parser callback; asked again later).
    /// The read loop's coroutines are let go too (park()): asked while the loop waits for
    /// the server and nothing is being written, it cancels that wait, and the loop ends into
    /// a plain callback wait; asked again later while a write is under way.
    bool release_idle() noexcept override
    {
        const bool released = parser_.release_idle();
        if (!writing_) {
            // Made again by the next write: an idle stream keeps no write timers (issue 9).
            // A guard wait still queued ends with operation_aborted.
            write_idle_.release();
            write_guard_.release();
        }
        if (parked_ || finishing_ || park_requested_ || !waiting_for_server_) {
            return released;
        }
        if (writing_) {
            return false; // cancelling the wait would abort the write too
        }
        park_requested_ = true;
        error_code ignored;
        lowest().cancel(ignored); // the wait ends with operation_aborted: see read_loop()
        return released;
    }

    // ---------------------------------------------------------------- stream
    /// run()'s or serve()'s completion handler, bound to `sig`'s slot (see open()).
    auto on_thread_done(const std::shared_ptr<net::cancellation_signal>& sig)
    {
        return net::bind_cancellation_slot(sig->slot(), [sig, ex = ex_](std::exception_ptr) mutable {
            net::post(ex, [sig = std::move(sig)] {});
        });
    }

    void open(const open_params& p) override
    {
        if (opened_ || owner_closed_) {
            return;
        }
        opened_ = true;
        opened_at_ = net::steady_timer::clock_type::now();
        // Asio's coroutine thread uses the signal's slot until the thread itself ends, which
        // is after run() returned and after the completion handler ran; by then *this may
        // be gone (the owner may drop the stream inside a failure callback that run() makes
        // while open() is still on the stack). So the signal is shared, and the completion
        // handler lets go of it only from a later handler, once the thread has ended.
        auto sig = cancel_;
        net::co_spawn(ex_, run(shared_from_this(), p), on_thread_done(sig));
    }

    void send(std::string bytes) override
    {
        if (owner_closed_ || finishing_) {
            return;
        }
        neg_.client_send(std::move(bytes));
        client_input_ = true; // a failure now (held data too large) is the client's doing
        execute();
        client_input_ = false;
    }

    void restart() override
    {
        if (owner_closed_ || finishing_) {
            return;
        }
        neg_.client_restart();
        execute();
    }

    void close(bool clean) override
    {
        if (owner_closed_) {
            return;
        }
        owner_closed_ = true; // from here on nothing is delivered
        if (!opened_) {
            finishing_ = true;
            return;
        }
        if (finishing_) {
            return;
        }
        neg_.client_close(clean);
        execute();
    }

    void pause_reading(bool paused) override
    {
        if (paused == read_paused_) {
            return;
        }
        read_paused_ = paused;
        if (paused) {
            ++metrics::global().flow_upstream_read_pauses;
        } else {
            read_resume_.cancel();
        }
    }

    bool send_blocked() const override { return send_mark_.paused(); }

    // ---------------------------------------------------------------- xml::handler
    void on_open(xml::root_open&& root) override
    {
        neg_.on_open(std::move(root));
        execute();
    }
    void on_element(xml::element&& el) override
    {
        neg_.on_element(std::move(el));
        execute();
    }
    void on_close() override
    {
        neg_.on_close();
        execute();
    }

private:
    // ---------------------------------------------------------------- actions
    void execute()
    {
        for (auto& a : neg_.take_actions()) {
            std::visit(overloaded{
                           [&](neg_action::write& w) { queue_write(std::move(w.bytes)); },
                           [&](neg_action::reset_parser&) {
                               if (in_feed_) {
                                   parser_.request_reset();
                               } else {
                                   parser_.reset();
                               }
                           },
                           [&](neg_action::start_tls&) { tls_pending_ = true; },
                           [&](neg_action::deliver_header& h) {
                               deliver([&](stream_events& e) { e.on_upstream_header(h.header); });
                           },
                           [&](neg_action::deliver_element& d) {
                               ++metrics::global().elements_to_clients;
                               deliver([&](stream_events& e) {
                                   e.on_upstream_element(std::move(d.element));
                               });
                           },
                           [&](neg_action::deliver_stream_error& s) {
                               deliver([&](stream_events& e) {
                                   e.on_upstream_stream_error(std::move(s.xml));
                               });
                           },
                           [&](neg_action::closed& c) {
                               core::log().debug("{} upstream closed (clean={})", tag_, c.clean);
                               // Closed before open: the server refused (stream error, close)
                               // unless the owner asked for it.
                               end_attempt(owner_closed_ ? outcome::cancelled : outcome::failed);
                               if (!owner_closed_) {
                                   note_connect_failure("the server closed the stream during negotiation");
                               }
                               // C2S-CLOSE-1: after a closing handshake (or its timeout)
                               // send close_notify; an owner's unclean close just drops TCP.
                               request_finish(neg_.closing_tag_sent());
                               deliver([&](stream_events& e) { e.on_upstream_closed(c.clean); });
                           },
                           [&](neg_action::redirect& r) {
                               // C2S-SOH-1: run() leaves the read loop and dials the target.
                               redirect_ = std::make_unique<neg_action::redirect>(std::move(r));
                           },
                           [&](neg_action::failed& f) {
                               core::log().info("{} upstream failed: {}", tag_, f.reason);
                               end_attempt(client_input_ ? outcome::cancelled : outcome::failed);
                               if (!client_input_) {
                                   note_connect_failure(f.reason);
                               }
                               request_finish(true); // flush a stream error / closing tag
                               deliver([&](stream_events& e) {
                                   e.on_upstream_failed(f.why, std::move(f.reason));
                               });
                           },
                       },
                       a);
        }
        if (negotiating_ && neg_.current_state() == negotiator::state::open) {
            redirect_params_.reset(); // C2S-SOH-1: no redirect is followed from here on
            plan_.reset();            // dialled; a redirect (only before open) plans again
            negotiating_ = false;
            negotiate_timer_.release(); // not needed again unless a redirect starts over
            end_attempt(outcome::succeeded); // connected and negotiated
            if (!counted_domain_.empty() && !connect_noted_) {
                connect_noted_ = true;
                metrics::domains().connected(counted_domain_, net::steady_timer::clock_type::now() - opened_at_);
            }
        }
        if (!login_counted_ && neg_.authenticated()) {
            login_counted_ = true;
            ++metrics::global().upstream_logins;
        }
        if (!close_timer_armed_ && !finishing_ &&
            neg_.current_state() == negotiator::state::closing) {
            close_timer_armed_ = true;
            auto& t = close_timer_.use(ex_);
            t.expires_after(ctx_->opts().close_timeout);
            t.async_wait([w = weak_from_this()](error_code ec) {
                if (auto self = w.lock(); self && !ec) {
                    self->neg_.on_close_timeout();
                    self->execute();
                }
            });
        }
    }

    /// Deliver one event to the owner unless it closed us or went away. The owner may drop
    /// its reference inside the callback: run() and the writer keep *this alive.
    template <class F>
    void deliver(F&& f)
    {
        if (owner_closed_) {
            return;
        }
        auto ev = events_.lock();
        if (!ev) {
            // Owner gone without close(): nobody listens, so drop the link.
            owner_closed_ = true;
            request_finish(false);
            return;
        }
        f(*ev);
    }

    enum class outcome { succeeded, failed, cancelled };

    /// Report the guard attempt's outcome, once (nothing when none is under way).
    void end_attempt(outcome o)
    {
        if (!attempt_) {
            return;
        }
        switch (o) {
        case outcome::succeeded:
            attempt_.succeeded(ctx_->now());
            break;
        case outcome::failed:
            attempt_.failed(ctx_->now());
            break;
        case outcome::cancelled:
            attempt_ = limits::attempt{};
            break;
        }
    }

    /// The per-domain figures (status page, /metrics): a stream of a permitted domain that
    /// never reached a negotiated stream, once, and only while negotiating.
    void note_connect_failure(std::string_view why)
    {
        if (!counted_domain_.empty() && !connect_noted_) {
            connect_noted_ = true;
            metrics::domains().connect_failed(counted_domain_, why);
        }
    }

    /// Setup failure outside the negotiator (policy, DNS, TCP).
    void fail_setup(failure why, std::string reason)
    {
        core::log().info("{} upstream setup failed: {}", tag_, reason);
        note_connect_failure(reason);
        finishing_ = true;
        deliver([&](stream_events& e) { e.on_upstream_failed(why, std::move(reason)); });
    }

    void request_finish(bool polite)
    {
        if (finishing_) {
            return;
        }
        finishing_ = true;
        polite_ = polite;
        negotiate_timer_.cancel();
        if (keepalive_timer_) {
            keepalive_timer_->cancel();
        }
        if (ping_timer_) {
            ping_timer_->cancel();
        }
        close_timer_.cancel();
        read_resume_.cancel();
        // Aborts whatever run() awaits (connect, read, handshake); harmless when run() is
        // executing synchronously: it checks finishing_ before every wait.
        if (cancel_) { // none while parked: no coroutine thread to abort
            cancel_->emit(net::cancellation_type::terminal);
        }
        if (parked_) {
            error_code ignored;
            lowest().cancel(ignored); // unpark(): serve() sees finishing_ and runs finish()
        }
    }

    // ---------------------------------------------------------------- writes
    void queue_write(std::string bytes)
    {
        if (write_failed_ || finished_) {
            return;
        }
        send_mark_.add(bytes.size());
        if (write_queue_.empty()) {
            queued_since_ = net::steady_timer::clock_type::now();
        }
        write_queue_.push_back(std::move(bytes));
        if (!writing_) {
            writing_ = true;
            net::co_spawn(ex_, do_write(shared_from_this()), net::detached);
        }
    }

    net::awaitable<void> do_write([[maybe_unused]] std::shared_ptr<stream_impl> self)
    {
        std::string batch;
        while (!write_queue_.empty()) {
            // Everything queued so far goes out as one write (fewer TLS records and
            // syscalls); what is queued meanwhile follows in the next round, in order.
            if (write_queue_.size() == 1) {
                batch = std::move(write_queue_.front());
            } else {
                batch.clear();
                for (const auto& part : write_queue_) {
                    batch += part;
                }
            }
            write_queue_.clear();
            const auto batch_since = queued_since_;
            last_write_ = net::steady_timer::clock_type::now();
            arm_write_guard();
            error_code ec;
            if (tls_) {
                std::tie(ec, std::ignore) = co_await tls_->write_all(net::buffer(batch));
            } else {
                std::tie(ec, std::ignore) =
                    co_await net::async_write(sock_, net::buffer(batch), use_tuple);
            }
            disarm_write_guard();
            if (ec) {
                // The read side sees the broken connection and reports it.
                write_failed_ = true;
                write_queue_.clear();
                send_mark_.set(0);
                break;
            }
            auto& m = metrics::global();
            m.bytes_to_servers.fetch_add(static_cast<std::int64_t>(batch.size()), std::memory_order_relaxed);
            m.relay_to_server.observe(net::steady_timer::clock_type::now() - batch_since);
            if (send_mark_.remove(batch.size()) == limits::watermark::change::resume) {
                // SEC-FLOW-2: the owner may read its client again.
                deliver([](stream_events& e) { e.on_upstream_writable(); });
            }
        }
        writing_ = false;
        write_idle_.cancel();
    }

    /// C2S-KA-1: with upstream.whitespace_keepalive, a timer that fires once the link has
    /// carried nothing towards the server for that long; the negotiator decides whether a
    /// space may go out now (open and authenticated only). The timer exists only when the
    /// option is on.
    void arm_keepalive()
    {
        const auto every = ctx_->opts().whitespace_keepalive;
        if (every.count() == 0 || finishing_ || finished_) {
            return;
        }
        if (!keepalive_timer_) {
            keepalive_timer_ = std::make_unique<core::timer>(core::make_timer(ex_));
            last_write_ = net::steady_timer::clock_type::now();
        }
        keepalive_timer_->expires_at(last_write_ + every);
        keepalive_timer_->async_wait([w = weak_from_this()](error_code ec) {
            auto self = w.lock();
            if (!self || ec || self->finishing_ || self->finished_) {
                return;
            }
            const auto now = net::steady_timer::clock_type::now();
            if (now - self->last_write_ >= self->ctx_->opts().whitespace_keepalive) {
                if (self->neg_.on_keepalive_due()) {
                    ++metrics::global().upstream_keepalives_sent;
                    self->execute();
                }
                self->last_write_ = now; // not due again before another interval
            }
            self->arm_keepalive();
        });
    }

    /// C2S-PING-1: with upstream.ping_interval, a timer that fires once nothing has been read
    /// from the server for that long: a XEP-0199 ping goes out (when the negotiator allows),
    /// and its answer is due within ping_timeout (C2S-PING-3), else the stream fails. Exists
    /// only when enabled.
    void arm_ping()
    {
        const auto& o = ctx_->opts();
        if (o.ping_interval.count() == 0 || finishing_ || finished_) {
            return;
        }
        if (!ping_timer_) {
            ping_timer_ = std::make_unique<core::timer>(core::make_timer(ex_));
            last_read_ = net::steady_timer::clock_type::now();
        }
        ping_timer_->expires_at(neg_.ping_pending() ? ping_sent_ + o.ping_timeout : last_read_ + o.ping_interval);
        ping_timer_->async_wait([w = weak_from_this()](error_code ec) {
            auto self = w.lock();
            if (!self || ec || self->finishing_ || self->finished_) {
                return;
            }
            const auto& opt = self->ctx_->opts();
            const auto now = net::steady_timer::clock_type::now();
            if (self->neg_.ping_pending()) {
                if (now - self->ping_sent_ >= opt.ping_timeout) {
                    ++metrics::global().upstream_ping_timeouts;
                    self->neg_.on_ping_timeout();
                    self->execute();
                    return;
                }
            } else if (now - self->last_read_ >= opt.ping_interval) {
                if (self->neg_.on_ping_due("bgping-" + core::random_sid())) {
                    ++metrics::global().upstream_pings_sent;
                    self->ping_sent_ = now;
                    self->execute();
                } else {
                    self->last_read_ = now; // not allowed yet (not bound, XEP-0198): look again later
                }
            }
            self->arm_ping();
        });
    }

    /// SEC-FLOW-2: a server that accepts no byte of a write for write_timeout is cut off.
    /// The socket is reset and cancelled: the write fails, the read loop (woken if
    /// paused) sees the broken transport and reports on_upstream_closed(false).
    void arm_write_guard()
    {
        write_guard_.arm(ex_, write_timeout_, weak_from_this(), [](stream_impl& self) {
            if (self.finished_) {
                return;
            }
            core::log().info("{} server accepted nothing for {} s: connection cut", self.tag_,
                             self.write_timeout_.count());
            ++metrics::global().flow_upstream_write_timeouts;
            self.write_failed_ = true;
            error_code ignored;
            // Abortive close (RST): a FIN would wait behind the unsent bytes forever, and the
            // kernel would keep them for the stalled peer.
            self.lowest().set_option(net::socket_base::linger(true, 0), ignored);
            self.lowest().shutdown(link_socket::shutdown_both, ignored);
            self.lowest().cancel(ignored);
            self.read_paused_ = false;
            self.read_resume_.cancel();
        });
    }

    void disarm_write_guard() { write_guard_.disarm(); }

    /// Wait until the write queue is empty; with `interruptible`, also stop once finishing
    /// (finish() itself bounds the wait with a timer instead).
    net::awaitable<void> drain_writes(bool interruptible)
    {
        while (writing_ && !(interruptible && finishing_)) {
            auto& idle = write_idle_.use(ex_);
            idle.expires_at(net::steady_timer::time_point::max());
            co_await idle.async_wait(use_tuple);
        }
    }

    // ---------------------------------------------------------------- main sequence
    link_socket& lowest() { return tls_ ? tls_->lowest_layer() : sock_; }

    net::awaitable<void> run([[maybe_unused]] std::shared_ptr<stream_impl> self, open_params p)
    {
        co_await net::this_coro::throw_if_cancelled(false);
        if (finishing_) {
            co_return; // closed before the first step
        }
        // setup() is a coroutine of its own so that its locals (open_params, the connector's
        // result, negotiator_params) are freed before the long idle read loop: this frame
        // lives as long as the stream.
        if (ctx_->opts().max_redirects > 0) {
            // Kept until the stream is open (execute() drops it): a redirect dials again.
            redirect_params_ = std::make_unique<open_params>(p);
        }
        std::optional<dns::candidate> own_target;
        auto next = co_await setup(std::move(p), std::move(own_target));
        if (next == after_setup::read) {
            co_await serve();
        } else if (next == after_setup::finish) {
            co_await finish();
        }
    }

    /// The open stream: read (following redirects), then tear down; or, when the read loop
    /// parks, return and leave the rest to unpark().
    net::awaitable<void> serve()
    {
        auto next = after_setup::read;
        while (next == after_setup::read) {
            if (co_await read_loop() == read_end::parked) {
                co_return;
            }
            if (!redirect_ || finishing_ || !redirect_params_) {
                break;
            }
            next = co_await follow_redirect();
        }
        if (next != after_setup::stop) {
            co_await finish();
        }
    }

    /// Issue 9: an idle stream keeps no coroutine. Its read loop's frames (run()'s or
    /// serve()'s, read_loop()'s, co_spawn's entry, the TLS wait's: ~1.7-2 KB) give way to
    /// one callback wait on the socket; data, an error, a cancel from request_finish() or a
    /// TLS wake-up all end it the same way: serve() runs again and sorts it out.
    void park()
    {
        parked_ = true;
        ++metrics::global().upstream_streams_parked;
        // The ending thread's signal (and the cancellation handler co_spawn left in its
        // slot, ~100 bytes) goes with that thread's completion handler; unpark() makes a
        // new one.
        cancel_.reset();
        lowest().async_wait(link_socket::wait_read,
                            core::exact_alloc([self = shared_from_this()](error_code) { self->unpark(); }));
    }

    void unpark()
    {
        parked_ = false;
        --metrics::global().upstream_streams_parked;
        // A fresh signal: the previous coroutine thread's completion handler still holds
        // the old one until its posted release (open()).
        cancel_ = std::make_shared<net::cancellation_signal>();
        auto sig = cancel_;
        net::co_spawn(ex_, serve_owned(shared_from_this()), on_thread_done(sig));
    }

    net::awaitable<void> serve_owned([[maybe_unused]] std::shared_ptr<stream_impl> self)
    {
        co_await net::this_coro::throw_if_cancelled(false);
        co_await serve();
    }

    enum class after_setup {
        stop,   ///< failed before a socket existed: nothing to tear down
        finish, ///< connected but stopping: run finish()
        read,   ///< negotiator started: run the read loop, then finish()
    };

    /// C2S-SOH-1: drop the current link (its server sent <see-other-host/> and closes) and
    /// set the same stream up again with the target it named, under the same policy.
    net::awaitable<after_setup> follow_redirect()
    {
        auto target = std::move(*redirect_);
        redirect_.reset();
        ++redirects_;
        ++metrics::global().upstream_redirects_followed;
        core::log().info("{} server redirects to {} (see-other-host, {} of at most {})", tag_,
                         format_target(target.host, target.port), redirects_, ctx_->opts().max_redirects);
        co_await drain_writes(true); // bounded by write_timeout
        error_code ignored;
        lowest().shutdown(link_socket::shutdown_both, ignored);
        lowest().close(ignored);
        tls_.reset();
        tls_up_ = false;
        tls_pending_ = false;
        sock_ = link_socket(ex_);
        write_queue_.clear();
        send_mark_.set(0);
        write_failed_ = false;
        negotiating_ = false;
        negotiate_timer_.cancel();
        parser_.reset();
        neg_ = negotiator{};
        end_attempt(outcome::cancelled); // the server answered; the next target gets its own
        if (finishing_) {
            co_return after_setup::stop;
        }
        std::optional<dns::candidate> where(dns::candidate{std::move(target.host), target.port, false});
        open_params again = *redirect_params_;
        co_return co_await setup(std::move(again), std::move(where));
    }

    static std::string format_target(std::string_view host, std::uint16_t port)
    {
        const bool v6 = host.find(':') != std::string_view::npos;
        return (v6 ? "[" : "") + std::string(host) + (v6 ? "]:" : ":") + std::to_string(port);
    }

    /// Target policy, connect, direct TLS, negotiator start. `redirected`: dial this target
    /// (a see-other-host) instead of the domain's own. (No default argument: GCC 12 destroys
    /// a coroutine's defaulted parameter twice.)
    net::awaitable<after_setup> setup(open_params p, std::optional<dns::candidate> redirected)
    {
        const options& opt = ctx_->opts();

        std::optional<std::string_view> route;
        if (p.route) {
            route = *p.route;
        }
        auto planned = plan_target(opt, p.to, route);
        if (auto* refused = std::get_if<refusal>(&planned)) {
            fail_setup(refused->why, refused->reason);
            co_return after_setup::stop;
        }
        plan_ = std::make_unique<dial_plan>(std::get<dial_plan>(std::move(planned)));
        if (counted_domain_.empty()) { // plan_target() refuses an empty domain
            counted_domain_ = plan_->domain;
            metrics::domains().stream_opened(counted_domain_);
        }
        // A redirect target is the server's word, not the operator's: its addresses pass the
        // check a DNS-resolved target of this domain would (BOSH-ROUTE-3), TLS and identity
        // rules stay the domain's (RFC 6120 §4.9.3.19).
        dial_plan check_plan = *plan_;
        if (redirected) {
            check_plan.fixed.clear();
            check_plan.unix_path.clear();
            check_plan.use_srv = true;
            plan_->fixed = {*redirected};
            plan_->unix_path.clear();
            plan_->use_srv = false;
        }

        // Upstream protection: a domain that keeps failing, or that has too many attempts
        // under way, is not dialled at all.
        auto admitted = ctx_->guard().try_connect(guard_key(*plan_), ctx_->now());
        if (!admitted.granted) {
            auto& m = metrics::global();
            ++(admitted.why == limits::guard_refusal::breaker_open ? m.upstream_breaker_refused
                                                                    : m.upstream_connecting_refused);
            fail_setup(failure::connection_failed,
                       "not connecting to " + plan_->domain + ": " +
                           std::string(limits::describe(admitted.why)) + "; retry in " +
                           std::to_string(admitted.retry_after.count()) + " ms");
            co_return after_setup::stop;
        }
        attempt_ = std::move(admitted.granted);

        connect_request req;
        req.domain = plan_->domain;
        req.use_srv = plan_->use_srv;
        req.candidates = plan_->fixed;
        req.permitted = [ctx = ctx_, plan = std::move(check_plan)](const net::ip::address& a) {
            return address_permitted(ctx->opts(), plan, a);
        };
        req.connect_timeout = opt.connect_timeout;
        req.no_direct_tls = plan_->tls == tls_mode::off;
        req.unix_path = plan_->unix_path;
        auto conn = co_await connect(std::move(req), ctx_->resolver_options(), tag_);
        if (finishing_) {
            co_return after_setup::finish;
        }
        if (auto* f = std::get_if<connect_failure>(&conn)) {
            // host_unknown ('.' SRV, every address refused by policy) dialled nothing: it
            // says nothing about the server's health and must not turn into an open breaker.
            end_attempt(f->why == failure::host_unknown ? outcome::cancelled : outcome::failed);
            fail_setup(f->why, std::move(f->reason));
            co_return after_setup::stop;
        }
        auto& c = std::get<connected>(conn);
        sock_ = std::move(c.socket);
        // The read loop reads synchronously once the socket is readable: never block.
        error_code nb_ec;
        sock_.non_blocking(true, nb_ec);
        if (nb_ec) {
            core::log().warn("{} upstream: cannot set non-blocking mode: {}", tag_, nb_ec.message());
        }
        if (plan_->unix_path.empty()) {
            set_link_liveness(sock_.native_handle(), opt.tcp_keepalive, unacked_timeout_for(write_timeout_),
                              tag_);
        }
        const bool direct_tls = c.target.direct_tls;
        if (plan_->proxy_protocol && !co_await send_proxy_header(p)) {
            co_return after_setup::stop;
        }

        negotiating_ = true;
        auto& negotiate_timer = negotiate_timer_.use(ex_);
        negotiate_timer.expires_after(opt.negotiate_timeout);
        negotiate_timer.async_wait([w = weak_from_this()](error_code ec) {
            if (auto s = w.lock(); s && !ec && s->negotiating_) {
                s->neg_.on_negotiate_timeout();
                s->execute();
            }
        });

        negotiator_params np;
        np.to = plan_->domain;
        np.lang = p.lang;
        np.from = p.from;
        np.direct_tls = direct_tls;
        np.allow_plaintext = plan_->tls != tls_mode::required;
        np.never_starttls = plan_->tls == tls_mode::off;
        np.follow_redirect = redirect_params_ && redirects_ < opt.max_redirects;

        // C2S-DNS-5, C2S-TLS-2: xmpps-client targets speak TLS from the first byte.
        if (direct_tls && !co_await handshake(true)) {
            co_return after_setup::finish;
        }
        neg_.start(std::move(np));
        execute();
        arm_keepalive();
        arm_ping();
        co_return after_setup::read;
    }

    /// The PROXY protocol v2 header, before anything else on the link (before direct TLS and
    /// the stream header): source = the browser, destination = the server address dialled (a
    /// Unix socket has none: the unspecified address of the source's family). Without a
    /// known client a LOCAL header. False (and the attempt failed) if it cannot be written.
    net::awaitable<bool> send_proxy_header(const open_params& p)
    {
        std::string hdr;
        if (p.client) {
            net::ip::tcp::endpoint dst(p.client->address().is_v4() ? net::ip::address(net::ip::address_v4::any())
                                                                   : net::ip::address(net::ip::address_v6::any()),
                                       0);
            error_code ep_ec;
            const auto remote = sock_.remote_endpoint(ep_ec);
            if (!ep_ec && (remote.protocol().family() == AF_INET || remote.protocol().family() == AF_INET6)) {
                std::memcpy(dst.data(), remote.data(), remote.size());
            }
            hdr = http::proxy_protocol::make_v2(*p.client, dst);
        } else {
            hdr = http::proxy_protocol::make_v2_local();
        }
        auto [ec, n] = co_await net::async_write(sock_, net::buffer(hdr), use_tuple);
        if (ec) {
            end_attempt(outcome::failed);
            fail_setup(failure::connection_failed, "writing the PROXY header failed: " + ec.message());
            co_return false;
        }
        co_return true;
    }

    /// TLS client handshake on the current TCP socket. On failure reports through the
    /// negotiator (connection_failed, C2S-TLS-4) unless we are already finishing.
    net::awaitable<bool> handshake(bool alpn)
    {
        auto tls_ctx = ctx_->tls_contexts().get(plan_->ca_file ? plan_->ca_file : ctx_->opts().ca_file);
        if (!tls_ctx) {
            neg_.on_tls_failed("cannot load trust anchors: " + tls_ctx.error().message());
            execute();
            co_return false;
        }
        auto made = tls_socket::create(sock_, **tls_ctx); // takes sock_ on success
        if (!made) {
            neg_.on_tls_failed(made.error().message());
            execute();
            co_return false;
        }
        tls_ = std::move(*made);
        if (auto ec = prepare_client_ssl(tls_->native_handle(), plan_->domain, plan_->tls_verify, alpn)) {
            neg_.on_tls_failed(ec.message());
            execute();
            co_return false;
        }
        auto ec = co_await tls_->handshake();
        if (finishing_) {
            co_return false;
        }
        if (ec) {
            neg_.on_tls_failed(describe_tls_failure(tls_->native_handle(), ec));
            execute();
            co_return false;
        }
        tls_up_ = true;
        core::log().debug("{} upstream TLS established with {}", tag_, counted_domain_);
        co_return true;
    }

    enum class read_end { ended, parked };

    net::awaitable<read_end> read_loop()
    {
        while (!finishing_ && !redirect_) {
            // SEC-FLOW-1: the owner's client is not reading; leave the server's data in the
            // kernel until it drains (pause_reading(false) cancels the timer).
            while (read_paused_ && !finishing_) {
                auto& resume = read_resume_.use(ex_);
                resume.expires_at(net::steady_timer::time_point::max());
                co_await resume.async_wait(use_tuple);
            }
            if (finishing_) {
                co_return read_end::ended;
            }
            // Wait for data before allocating the buffer: an idle stream holds none. Once idle
            // for a sweep period, the framer gives expat's state back too (~12 KiB, rebuilt
            // when data comes; issue 9); a busy stream keeps it (release_idle below).
            if (sweep_ == nullptr) {
                sweep_ = &core::idle_sweep::of(ex_);
            }
            sweep_->touch(*this, [this] { return weak_from_this(); }, ex_);
            error_code ec;
            waiting_for_server_ = true;
            if (tls_) {
                ec = co_await tls_->wait_readable();
            } else {
                std::tie(ec) = co_await sock_.async_wait(link_socket::wait_read, use_tuple);
            }
            waiting_for_server_ = false;
            if (finishing_) {
                co_return read_end::ended;
            }
            if (std::exchange(park_requested_, false) && ec == net::error::operation_aborted) {
                park(); // release_idle() cancelled the wait
                co_return read_end::parked;
            }
            std::size_t n = 0;
            std::optional<read_buffer_lease> buf;
            if (!ec) {
                buf.emplace();
                auto b = net::buffer(buf->data(), read_chunk);
                if (tls_) {
                    std::tie(ec, n) = co_await tls_->read_some(b); // completes at once
                    if (finishing_) {
                        co_return read_end::ended;
                    }
                } else {
                    // Readable: one non-blocking recv, no second trip through the scheduler
                    // (the socket is in non-blocking mode, see setup()).
                    n = sock_.read_some(b, ec);
                    if (ec == net::error::would_block || ec == net::error::try_again) {
                        continue; // a spurious wake-up: wait again
                    }
                }
            }
            if (ec) {
                if (ec == boost::system::errc::timed_out) {
                    // FAULT-LINK-1/2: keepalive probes or our own bytes went unanswered.
                    core::log().info("{} upstream link timed out (no answer to TCP keepalive, or data "
                                     "unacknowledged for write_timeout): ending the session",
                                     tag_);
                    ++metrics::global().upstream_link_timeouts;
                } else {
                    core::log().debug("{} upstream read ended: {}", tag_, ec.message());
                }
                neg_.on_transport_closed();
                execute();
                co_return read_end::ended;
            }
            metrics::global().bytes_from_servers.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
            if (ping_timer_) {
                last_read_ = net::steady_timer::clock_type::now();
            }
            std::string_view data(buf->data(), n);
            while (!data.empty() && !finishing_ && !redirect_) {
                error_code fec;
                in_feed_ = true;
                std::size_t used = parser_.feed(data, fec);
                in_feed_ = false;
                if (fec) {
                    auto e = fec.category() == xml::error_category()
                                 ? static_cast<xml::errc>(fec.value())
                                 : xml::errc::not_well_formed;
                    neg_.on_xml_error(e);
                    execute();
                    co_return read_end::ended;
                }
                data.remove_prefix(used);
                if (tls_pending_) {
                    // Conventions rule 8: plaintext after <proceed/> is discarded, pending
                    // writes are flushed, then the same socket is upgraded.
                    tls_pending_ = false;
                    data = {};
                    co_await drain_writes(true);
                    if (finishing_ || write_failed_) {
                        if (!finishing_) {
                            neg_.on_transport_closed();
                            execute();
                        }
                        co_return read_end::ended;
                    }
                    if (!co_await handshake(false)) {
                        co_return read_end::ended;
                    }
                    neg_.on_tls_established();
                    execute();
                }
            }
        }
        co_return read_end::ended;
    }

    /// Teardown, once: flush (bounded), TLS close_notify (bounded), TCP close.
    net::awaitable<void> finish()
    {
        using namespace net::experimental::awaitable_operators;
        co_await net::this_coro::reset_cancellation_state();
        negotiate_timer_.cancel();
        close_timer_.cancel();
        auto limit = ctx_->opts().close_timeout;
        if (polite_ && lowest().is_open() && !write_failed_) {
            net::steady_timer t(ex_, limit);
            auto drained = co_await (drain_writes(false) || t.async_wait(use_tuple));
            if (drained.index() == 0 && tls_up_ && !write_failed_) {
                net::steady_timer t2(ex_, limit);
                co_await (tls_->shutdown() || t2.async_wait(use_tuple));
            }
        }
        error_code ignored;
        lowest().shutdown(link_socket::shutdown_both, ignored);
        lowest().close(ignored);
        end_attempt(outcome::cancelled); // still pending: the owner closed or went away
        finished_ = true;
        disarm_write_guard();
        write_queue_.clear();
    }

    /// The io_context's own executor (16 bytes; an any_io_executor is 56): the stream runs on
    /// one io thread's io_context (core/timer.hpp).
    net::io_context::executor_type ex_;
    std::shared_ptr<shared_context> ctx_;
    std::weak_ptr<stream_events> events_;
    std::string tag_;
    negotiator neg_;
    xml::stream_parser parser_;
    core::idle_sweep* sweep_ = nullptr; ///< this io thread's sweep (set on the first read wait)
    std::unique_ptr<dial_plan> plan_; ///< from setup() until the stream is open (issue 9)
    std::string counted_domain_;      ///< plan_->domain once metrics::domains() counts the stream; empty before
    limits::attempt attempt_; ///< the guard's attempt, from before DNS until open (or failure)

    link_socket sock_;                   ///< before TLS (moved into tls_ after)
    std::unique_ptr<tls_socket> tls_;    ///< after direct TLS / STARTTLS

    /// Pending writes. A vector, not a deque: an empty std::deque still holds a 512-byte
    /// node, and every stream has one for its whole life.
    std::vector<std::string> write_queue_;
    limits::watermark send_mark_;     ///< bytes queued or being written (SEC-FLOW-2)
    std::chrono::seconds write_timeout_;
    core::optional_timer negotiate_timer_; ///< while negotiating
    core::optional_timer close_timer_;     ///< once closing
    core::optional_timer write_idle_;  ///< cancelled when the writer goes idle
    core::guard_timer write_guard_; ///< bounds one write (write_timeout_)
    core::optional_timer read_resume_; ///< the paused read loop waits on it (SEC-FLOW-1)
    std::unique_ptr<core::timer> keepalive_timer_; ///< C2S-KA-1, only when enabled
    std::unique_ptr<core::timer> ping_timer_;      ///< C2S-PING-1, only when enabled
    net::steady_timer::time_point last_read_{};          ///< last bytes from the server (pings)
    net::steady_timer::time_point ping_sent_{};          ///< when the pending ping went out
    net::steady_timer::time_point last_write_{};          ///< last write towards the server
    /// run()'s slot; shared with run()'s completion handler (see open()).
    std::shared_ptr<net::cancellation_signal> cancel_ = std::make_shared<net::cancellation_signal>();

    bool opened_ = false;
    std::unique_ptr<neg_action::redirect> redirect_; ///< set by the negotiator; run() follows it
    std::unique_ptr<open_params> redirect_params_; ///< until open, when redirects are allowed
    unsigned redirects_ = 0;
    bool connect_noted_ = false;  ///< its connect outcome is recorded there
    bool login_counted_ = false;  ///< upstream_logins counted
    net::steady_timer::time_point opened_at_{};
    net::steady_timer::time_point queued_since_{}; ///< when the write queue last became non-empty
    bool owner_closed_ = false;  ///< close() called or owner gone: deliver nothing
    bool finishing_ = false;     ///< teardown requested; run() stops and calls finish()
    bool finished_ = false;
    bool polite_ = false;
    bool writing_ = false;
    bool waiting_for_server_ = false; ///< read_loop() waits for the server to send
    bool park_requested_ = false;     ///< release_idle() cancelled that wait: park()
    bool parked_ = false;             ///< no read coroutine; a callback wait (park())
    bool write_failed_ = false;
    bool in_feed_ = false;
    bool client_input_ = false;  ///< executing actions caused by the owner's send()
    bool tls_pending_ = false;
    bool tls_up_ = false;
    bool negotiating_ = false;
    bool close_timer_armed_ = false;
    bool read_paused_ = false;   ///< SEC-FLOW-1: the owner asked us to stop reading
};

} // namespace

std::shared_ptr<stream> make_stream(net::any_io_executor ex, std::shared_ptr<shared_context> ctx,
                                    std::weak_ptr<stream_events> events, std::string log_tag,
                                    xml::limits lim, const limits::options& flow)
{
    return std::make_shared<stream_impl>(std::move(ex), std::move(ctx), std::move(events),
                                         std::move(log_tag), lim, flow);
}

} // namespace boshgate::upstream
