#include "boshgate/core/timer.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>

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

} // namespace
} // namespace boshgate::core
