#pragma once
// The timer type of a session's long-lived timers (issue 9). net::steady_timer carries an
// any_io_executor (120 bytes with the timer's own state); a timer typed on the io_context's
// own executor is 72 bytes, and a session holds 8 of them for its whole life: ~0.4 KB per
// session. Sessions and upstream streams run on one io thread's io_context without strands
// (server::gateway), so their timers lose nothing by naming it: handlers of callback waits
// run on that io_context, and a coroutine's wait resumes on the coroutine's own executor
// either way. Short-lived local timers stay net::steady_timer. I/O adapter support.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

namespace boshgate::core {

/// An allocator that is only std::allocator under another type: Asio takes
/// std::allocator<void> itself to mean its recycling cache (see exact_alloc).
template <class T>
struct exact_allocator {
    using value_type = T;
    exact_allocator() noexcept = default;
    template <class U>
    exact_allocator(const exact_allocator<U>&) noexcept
    {
    }
    T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
    friend bool operator==(const exact_allocator&, const exact_allocator&) noexcept { return true; }
};

/// `handler` for a wait that may last while its session is idle (a timer, a socket wait):
/// its operation is allocated at its own size. Asio otherwise takes operations from a
/// per-thread cache that hands out the first freed block large enough, and a block keeps
/// its size through reuse, so a small wait can pin a block several times its size for as
/// long as it waits. Which block a wait gets depends on what ran just before (issue 9:
/// making the HTTP watchdog re-arm less often moved waits into larger blocks, +0.35 KB per
/// idle BOSH session; with these waits sized exactly, heaptrack counts 5.39 MB per 1,000
/// idle BOSH sessions, against 5.95 before and 5.6 before the watchdog change). Costs a
/// malloc and a free per wait instead of a cache hit.
template <class Handler>
auto exact_alloc(Handler&& handler)
{
    return boost::asio::bind_allocator(exact_allocator<void>(), std::forward<Handler>(handler));
}

using timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
                                                boost::asio::io_context::executor_type>;

/// The io_context executor that `ex` is. Throws std::logic_error for any other executor
/// (a strand, say): the callback waits of a session's timers would not run on it.
inline boost::asio::io_context::executor_type io_executor_of(const boost::asio::any_io_executor& ex)
{
    using io_ex = boost::asio::io_context::executor_type;
    if (const auto* plain = ex.target<io_ex>()) {
        return *plain;
    }
    throw std::logic_error("core::make_timer: not an io_context executor");
}

/// A timer on the io_context that runs `ex`.
inline timer make_timer(const boost::asio::any_io_executor& ex) { return timer(io_executor_of(ex)); }

/// A timer that exists only while it is needed: for waits most sessions never make (flow
/// control pauses) or make only in one phase of their life (negotiation, closing). 8 bytes
/// instead of 72 the rest of the time (issue 9).
class optional_timer {
public:
    /// The timer, made on the io_context that runs `ex` if there is none.
    timer& use(const boost::asio::any_io_executor& ex)
    {
        if (!t_) {
            t_ = std::make_unique<timer>(make_timer(ex));
        }
        return *t_;
    }
    void cancel() noexcept
    {
        if (t_) {
            t_->cancel();
        }
    }
    /// Frees the timer; a wait still pending completes with operation_aborted.
    void release() noexcept { t_.reset(); }
    bool engaged() const noexcept { return t_ != nullptr; }

private:
    std::unique_ptr<timer> t_;
};

namespace detail {
template <class T>
std::shared_ptr<T> lock_owner(const std::weak_ptr<T>& w) noexcept
{
    return w.lock();
}
template <class T>
const std::shared_ptr<T>& lock_owner(const std::shared_ptr<T>& s) noexcept
{
    return s;
}

/// Wait on `t` (already set to expire) on behalf of generation `gen` of a counter in the
/// owner; `on_due(owner)` runs only if the wait ends normally while `current` still equals
/// `gen`: a cancelled wait, or one whose handler was already queued when the counter moved
/// on, does nothing. `owner` is a std::weak_ptr (the wait does not keep the owner alive) or a
/// std::shared_ptr (it does); `current` lives in the owner, so it is read only once the owner
/// is known to be alive.
template <class Holder, class OnDue>
void wait_for_generation(timer& t, const std::uint64_t& current, std::uint64_t gen, Holder owner, OnDue on_due)
{
    t.async_wait(exact_alloc([&current, gen, o = std::move(owner), f = std::move(on_due)](boost::system::error_code ec) {
        const auto& self = lock_owner(o);
        if (!self || ec || gen != current) {
            return;
        }
        f(*self);
    }));
}
} // namespace detail

/// A deadline for one operation at a time (a write that must make progress): arm() starts
/// it, disarm() ends it, and `on_expiry(owner)` runs only when the deadline of the latest
/// arm() passes with no disarm() or arm() since. A cancelled wait, one released while
/// pending, or one whose handler was already queued when a later arm()/disarm() came, does
/// nothing: every arm()/disarm() starts a new generation and a wait acts only for its own.
/// The guard must be a member of the owner the handler locks (it is reached through it), and
/// its timer exists only while needed (release() when idle; the next arm() makes it again).
class guard_timer {
public:
    template <class Owner, class OnExpiry>
    void arm(const boost::asio::any_io_executor& ex, std::chrono::steady_clock::duration d,
             std::weak_ptr<Owner> owner, OnExpiry on_expiry)
    {
        const auto gen = ++generation_;
        auto& t = timer_.use(ex);
        t.expires_after(d);
        detail::wait_for_generation(t, generation_, gen, std::move(owner), std::move(on_expiry));
    }
    void disarm() noexcept
    {
        ++generation_;
        timer_.cancel();
    }
    /// Frees the timer; a pending wait completes aborted and does nothing.
    void release() noexcept { timer_.release(); }
    bool engaged() const noexcept { return timer_.engaged(); }

private:
    optional_timer timer_;
    std::uint64_t generation_ = 0;
};

/// The timer a pure engine's next_deadline() drives in its I/O adapter (the BOSH engine, the
/// WebSocket framing, the HTTP connection's deadlines): arm(deadline) asks for `on_due(owner)`
/// once the latest deadline passes (none: nothing is due), disarm() ends the wait. The guard
/// must be a member of the owner passed to arm(); the timer lives as long as the owner.
///
/// One timer wait at a time, never later than the deadline asked for. A deadline that moves
/// later leaves the pending wait as it is: woken before the deadline, the wait goes on until
/// it (on_due does not run early). Only a nearer deadline re-arms the timer, so the usual
/// event (each request, each message pushes the deadline later) makes no timer-queue
/// operation and no allocation at all (issue 9: CPU per message). No deadline leaves the
/// pending wait too, which then ends without action; disarm() ends it at once, releasing a
/// strong owner. The owner and action of a wait are those of the arm() that started it: an
/// adapter passes the same each time.
class deadline_timer {
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit deadline_timer(const boost::asio::any_io_executor& ex) : timer_(make_timer(ex))
    {
        timer_.expires_at(never); // no wait pending
    }

    /// `owner`: std::weak_ptr or std::shared_ptr (then the wait keeps the owner alive).
    template <class Holder, class OnDue>
    void arm(std::optional<time_point> deadline, Holder owner, OnDue on_due)
    {
        due_ = deadline.value_or(never);
        if (timer_.expiry() <= due_) {
            return; // a pending wait ends no later (or nothing is due and none is pending)
        }
        const auto gen = ++generation_;
        timer_.expires_at(due_); // ends the previous wait (aborted)
        wait(gen, std::move(owner), std::move(on_due));
    }

    /// Nothing is due any more and no wait is left.
    void disarm() noexcept
    {
        ++generation_;
        due_ = never;
        timer_.expires_at(never); // cancels the pending wait
    }

private:
    static constexpr time_point never = time_point::max();

    /// The timer's expiry is the end of the wait `gen` (current); `on_due` runs when it comes
    /// at or after due_. A wait whose generation has moved on (replaced by a nearer one, or
    /// disarmed after its handler was queued) does nothing.
    template <class Holder, class OnDue>
    void wait(std::uint64_t gen, Holder owner, OnDue on_due)
    {
        timer_.async_wait(exact_alloc([this, gen, o = std::move(owner), f = std::move(on_due)](boost::system::error_code ec) mutable {
            const auto& self = detail::lock_owner(o);
            if (!self || gen != generation_) {
                return; // owner gone (and this guard with it), or not the current wait
            }
            const bool due_set = !ec && due_ != never;
            if (due_set && timer::clock_type::now() < due_) {
                timer_.expires_at(due_); // woken early: the deadline moved later since
                wait(gen, std::move(o), std::move(f));
                return;
            }
            timer_.expires_at(never); // no wait pending (none to cancel either)
            if (due_set) {
                f(*self);
            }
        }));
    }

    timer timer_;
    time_point due_ = never;       ///< the latest deadline asked for
    std::uint64_t generation_ = 0; ///< the current wait
};

} // namespace boshgate::core
