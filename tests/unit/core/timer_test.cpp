#include "boshgate/core/timer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

namespace boshgate::core {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;

/// Arm `t` for `d`; `fired` gets the wait's outcome.
void arm(optional_timer& t, net::io_context& io, std::chrono::steady_clock::duration d,
         std::optional<boost::system::error_code>& fired)
{
    fired.reset();
    t.use(io.get_executor()).expires_after(d);
    t.use(io.get_executor()).async_wait([&fired](boost::system::error_code ec) { fired = ec; });
}

/// Run `io` until nothing is left; the outcome of the wait arm() set up (timed_out if it
/// never completed).
boost::system::error_code run_all(net::io_context& io, const std::optional<boost::system::error_code>& fired)
{
    io.restart();
    io.run();
    return fired.value_or(net::error::timed_out);
}

// Issue 9: a session's timers name the io_context; a strand would lose its handlers' order.
TEST(timer, made_on_an_io_context_executor_only)
{
    net::io_context io;
    net::any_io_executor plain = io.get_executor();
    EXPECT_NO_THROW((void)make_timer(plain));
    net::any_io_executor strand = net::make_strand(io);
    EXPECT_THROW((void)make_timer(strand), std::logic_error);
}

// Issue 9: a wait an idle session holds is allocated at its own size. Asio takes
// std::allocator<void> to mean its recycling cache (which may hand out a block several times
// the operation's size), so the handler must carry an allocator of another type; the wait
// itself behaves as without it.
TEST(exact_alloc, a_wait_keeps_its_behaviour_outside_asios_cache)
{
    auto h = exact_alloc([](boost::system::error_code) {});
    using alloc = net::associated_allocator_t<decltype(h)>;
    static_assert(!std::is_same_v<alloc, std::allocator<void>>);
    EXPECT_TRUE((std::is_same_v<alloc, exact_allocator<void>>));

    net::io_context io;
    auto t = make_timer(io.get_executor());
    std::optional<boost::system::error_code> fired;
    t.expires_after(1ms);
    t.async_wait(exact_alloc([&fired](boost::system::error_code ec) { fired = ec; }));
    io.run();
    EXPECT_EQ(fired, boost::system::error_code());

    fired.reset();
    t.expires_after(1h);
    t.async_wait(exact_alloc([&fired](boost::system::error_code ec) { fired = ec; }));
    t.cancel();
    io.restart();
    io.run();
    EXPECT_EQ(fired, net::error::operation_aborted);
}

// Issue 9: an optional timer holds nothing until a wait needs it, and gives it back.
TEST(optional_timer, exists_only_between_use_and_release)
{
    net::io_context io;
    optional_timer t;
    EXPECT_FALSE(t.engaged());
    t.cancel(); // nothing to cancel: no timer is made for it
    EXPECT_FALSE(t.engaged());
    auto& made = t.use(io.get_executor());
    EXPECT_TRUE(t.engaged());
    EXPECT_EQ(&t.use(io.get_executor()), &made) << "a second use() reuses the timer";
    t.release();
    EXPECT_FALSE(t.engaged());
}

TEST(optional_timer, a_wait_fires_and_a_cancel_reaches_it)
{
    net::io_context io;
    optional_timer t;
    std::optional<boost::system::error_code> fired;
    arm(t, io, 1ms, fired);
    EXPECT_EQ(run_all(io, fired), boost::system::error_code{});
    arm(t, io, 1h, fired);
    t.cancel();
    EXPECT_EQ(run_all(io, fired), net::error::operation_aborted);
}

// Releasing with a wait pending (the upstream stream does so once negotiation is over)
// completes that wait as aborted; the next use() makes a fresh timer.
TEST(optional_timer, release_aborts_a_pending_wait)
{
    net::io_context io;
    optional_timer t;
    std::optional<boost::system::error_code> fired;
    arm(t, io, 1h, fired);
    t.release();
    EXPECT_FALSE(t.engaged());
    EXPECT_EQ(run_all(io, fired), net::error::operation_aborted);
    arm(t, io, 1ms, fired);
    EXPECT_EQ(run_all(io, fired), boost::system::error_code{});
}

/// An owner of a guard, as a session or an upstream stream is.
struct guarded : std::enable_shared_from_this<guarded> {
    guard_timer guard;
    int expired = 0;
    void arm(net::io_context& io, std::chrono::steady_clock::duration d)
    {
        guard.arm(io.get_executor(), d, weak_from_this(), [](guarded& self) { ++self.expired; });
    }
    /// Run `io` until nothing is left; how often the action ran so far.
    int run(net::io_context& io)
    {
        io.restart();
        io.run();
        return expired;
    }
};

class guard_timer_test : public ::testing::Test {
protected:
    net::io_context io;
    std::shared_ptr<guarded> g = std::make_shared<guarded>();
    net::steady_timer first{io};
    bool first_ran = false;

    /// The race cancel() cannot close: `act` runs in the handler of a timer due just before
    /// a 1 ms guard armed here; both are due when the reactor first looks, so the guard's
    /// handler is already queued with success when `act` runs.
    template <class Act>
    void just_before_the_deadline(Act act)
    {
        first.expires_after(1ms);
        first.async_wait([this, act](boost::system::error_code ec) {
            EXPECT_FALSE(ec);
            act();
            first_ran = true;
        });
        g->arm(io, 1ms);
        std::this_thread::sleep_for(20ms);
    }
};

// SEC-FLOW-2, SEC-FLOW-3: the action runs when the deadline of an armed guard passes.
TEST_F(guard_timer_test, an_armed_deadline_that_passes_runs_the_action_once)
{
    EXPECT_FALSE(g->guard.engaged());
    g->arm(io, 1ms);
    EXPECT_TRUE(g->guard.engaged());
    EXPECT_EQ(g->run(io), 1);
}

TEST_F(guard_timer_test, disarm_ends_the_deadline)
{
    g->arm(io, 1ms);
    g->guard.disarm();
    EXPECT_EQ(g->run(io), 0);
}

// A re-arm restarts the deadline: only the latest arm() counts, so a write that made
// progress is not cut for the previous write's deadline.
TEST_F(guard_timer_test, only_the_latest_arm_counts)
{
    g->arm(io, 1ms);
    g->arm(io, 1h);
    io.run_for(50ms);
    EXPECT_EQ(g->expired, 0);
    g->guard.disarm();
    EXPECT_EQ(g->run(io), 0);
}

// A disarm() that comes when the guard's handler is already queued (with success): the
// generation stops it.
TEST_F(guard_timer_test, a_handler_already_queued_when_disarmed_does_nothing)
{
    just_before_the_deadline([this] { g->guard.disarm(); });
    EXPECT_EQ(g->run(io), 0);
    EXPECT_TRUE(first_ran);
}

// Issue 9: released while idle, a pending wait ends aborted; the next arm() makes a timer
// again and works.
TEST_F(guard_timer_test, release_frees_the_timer_and_arm_makes_it_again)
{
    g->arm(io, 1h);
    g->guard.release();
    EXPECT_FALSE(g->guard.engaged());
    EXPECT_EQ(g->run(io), 0);
    g->arm(io, 1ms);
    EXPECT_TRUE(g->guard.engaged());
    EXPECT_EQ(g->run(io), 1);
}

// The owner gone while the guard's handler is queued (with success): the handler does not
// reach it (nor the guard, which went with it).
TEST_F(guard_timer_test, an_owner_gone_is_not_reached)
{
    std::weak_ptr<guarded> w = g;
    just_before_the_deadline([this] { g.reset(); });
    io.run();
    EXPECT_TRUE(first_ran);
    EXPECT_TRUE(w.expired());
}

/// An adapter of a pure engine, as the BOSH and WebSocket sessions are.
struct engine_adapter : std::enable_shared_from_this<engine_adapter> {
    explicit engine_adapter(net::io_context& io) : timer(io.get_executor()) {}
    deadline_timer timer;
    int due = 0;
    std::function<void()> on_due; ///< also run when due, if set
    void arm(std::optional<std::chrono::steady_clock::time_point> at)
    {
        timer.arm(at, weak_from_this(), [](engine_adapter& self) {
            ++self.due;
            if (self.on_due) {
                self.on_due();
            }
        });
    }
};

class deadline_timer_test : public ::testing::Test {
protected:
    net::io_context io;
    std::shared_ptr<engine_adapter> a = std::make_shared<engine_adapter>(io);
    std::chrono::steady_clock::time_point now() const { return std::chrono::steady_clock::now(); }
    int run()
    {
        io.restart();
        io.run();
        return a->due;
    }

    /// `arm(timer, owner, action)` arms with `a` as a strong owner; the test then lets go of
    /// `a`. Checks that the wait keeps it alive until the io_context has run out of work, and
    /// releases it then; returns how often the action ran.
    template <class Arm>
    int due_with_a_strong_owner(Arm arm)
    {
        std::weak_ptr<engine_adapter> w = a;
        int due = 0;
        arm(a->timer, a, [&due](engine_adapter&) { ++due; });
        a.reset();
        EXPECT_FALSE(w.expired()) << "held by the wait";
        io.run();
        EXPECT_TRUE(w.expired()) << "released once the wait is over";
        return due;
    }
};

TEST_F(deadline_timer_test, a_deadline_that_passes_runs_the_action)
{
    a->arm(now() + 1ms);
    EXPECT_EQ(run(), 1);
}

// An engine with nothing due (next_deadline() empty) waits for nothing; the earlier wait ends.
TEST_F(deadline_timer_test, no_deadline_ends_the_wait)
{
    a->arm(now() + 1ms);
    a->arm(std::nullopt);
    EXPECT_EQ(run(), 0);
}

// Only the latest deadline counts: an earlier one that a later arm() moved does nothing.
TEST_F(deadline_timer_test, only_the_latest_deadline_counts)
{
    a->arm(now() + 1ms);
    a->arm(now() + 1h);
    io.run_for(50ms);
    EXPECT_EQ(a->due, 0);
    a->arm(now() + 1ms);
    EXPECT_EQ(run(), 1);
}

// The race cancel() cannot close: the deadline passed and the handler is queued when the
// adapter disarms (its engine ended); the generation stops it.
TEST_F(deadline_timer_test, a_handler_already_queued_when_disarmed_does_nothing)
{
    net::steady_timer first(io);
    first.expires_after(1ms);
    bool disarmed = false;
    first.async_wait([&](boost::system::error_code) {
        a->timer.disarm();
        disarmed = true;
    });
    a->arm(now() + 1ms);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(run(), 0);
    EXPECT_TRUE(disarmed);
}

// With a std::shared_ptr the wait keeps its owner alive until it is due (the sessions' own
// timers do: the deadline may be what ends them).
TEST_F(deadline_timer_test, a_strong_owner_is_kept_until_the_deadline)
{
    EXPECT_EQ(due_with_a_strong_owner([this](deadline_timer& t, auto owner, auto action) {
                  t.arm(now() + 1ms, owner, action);
              }),
              1);
}

// Issue 9: a deadline pushed later (what each BOSH request and each message does) touches
// no timer: the pending wait stays, so no wait ends aborted.
TEST_F(deadline_timer_test, a_deadline_moved_later_ends_no_wait)
{
    a->arm(now() + 1h);
    EXPECT_EQ(io.poll(), 0u);
    a->arm(now() + 2h);
    EXPECT_EQ(io.poll(), 0u) << "the pending wait was replaced";
    a->arm(now() + 30min);
    EXPECT_EQ(io.poll(), 1u) << "a nearer deadline replaces the wait (the old one ends aborted)";
    a->timer.disarm();
    EXPECT_EQ(io.poll(), 1u);
    EXPECT_EQ(a->due, 0);
}

// The wait left pending wakes before the deadline that moved later and goes on waiting:
// the action runs once, not before the latest deadline.
TEST_F(deadline_timer_test, a_wait_woken_before_the_latest_deadline_waits_on)
{
    a->arm(now() + 5ms);
    const auto latest = now() + 150ms;
    a->arm(latest);
    std::chrono::steady_clock::time_point ran_at{};
    a->on_due = [&] { ran_at = now(); };
    EXPECT_EQ(run(), 1);
    EXPECT_GE(ran_at, latest);
}

// No deadline while a wait is pending: the wait ends without action when it wakes, and then
// releases a strong owner.
TEST_F(deadline_timer_test, no_deadline_leaves_a_wait_that_ends_without_action)
{
    EXPECT_EQ(due_with_a_strong_owner([this](deadline_timer& t, auto owner, auto action) {
                  t.arm(now() + 1ms, owner, action);
                  t.arm(std::nullopt, owner, action);
              }),
              0);
}

// disarm() ends the pending wait at once: a strong owner is released without waiting for the
// deadline.
TEST_F(deadline_timer_test, disarm_releases_a_strong_owner_at_once)
{
    std::weak_ptr<engine_adapter> w = a;
    a->timer.arm(now() + 1h, a, [](engine_adapter&) {});
    engine_adapter& held = *a;
    a.reset();
    held.timer.disarm();
    io.poll();
    EXPECT_TRUE(w.expired());
}

} // namespace
} // namespace boshgate::core
