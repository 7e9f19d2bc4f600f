// Unit tests for core::idle_sweep (issue 9): an upstream stream gives its XML framer's
// expat state back once it has been idle for a sweep period, not between every two reads.
#include "boshgate/core/idle_sweep.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>

namespace boshgate::core {
namespace {

namespace net = boost::asio;

struct fake_client final : idle_sweep::client {
    int releases = 0;
    bool can_release = true;
    bool release_idle() noexcept override
    {
        if (!can_release) {
            return false;
        }
        ++releases;
        return true;
    }
};

struct sweep_fixture : ::testing::Test {
    net::io_context ioc;
    idle_sweep& sweep = idle_sweep::of(ioc.get_executor());

    void touch(const std::shared_ptr<fake_client>& c)
    {
        sweep.touch(*c, [&c] { return std::weak_ptr<idle_sweep::client>(c); }, ioc.get_executor());
    }
};

TEST_F(sweep_fixture, one_sweep_per_io_context)
{
    EXPECT_EQ(&idle_sweep::of(ioc.get_executor()), &sweep);
    net::io_context other;
    EXPECT_NE(&idle_sweep::of(other.get_executor()), &sweep);
}

// A busy object (touched between every two sweeps) is never asked to release; once it is
// left alone for a whole period it is, once, and leaves the list.
TEST_F(sweep_fixture, releases_only_after_a_period_without_activity)
{
    auto c = std::make_shared<fake_client>();
    touch(c);
    EXPECT_EQ(sweep.watched(), 1U);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(sweep.sweep_now(), 0U) << "active since the last sweep";
        touch(c);
    }
    EXPECT_EQ(sweep.watched(), 1U) << "touching a watched object does not add it twice";
    EXPECT_EQ(sweep.sweep_now(), 0U) << "the last touch counts for this period";
    EXPECT_EQ(c->releases, 0);
    EXPECT_EQ(sweep.sweep_now(), 1U);
    EXPECT_EQ(c->releases, 1);
    EXPECT_EQ(sweep.watched(), 0U);
    EXPECT_EQ(sweep.sweep_now(), 0U) << "released objects are not asked again";
    touch(c);
    EXPECT_EQ(sweep.watched(), 1U) << "activity after a release watches it again";
}

TEST_F(sweep_fixture, an_object_that_cannot_release_now_is_asked_again)
{
    auto c = std::make_shared<fake_client>();
    c->can_release = false; // e.g. the framer holds half a stanza
    touch(c);
    sweep.sweep_now();
    EXPECT_EQ(sweep.sweep_now(), 0U);
    EXPECT_EQ(sweep.watched(), 1U);
    c->can_release = true;
    EXPECT_EQ(sweep.sweep_now(), 1U);
    EXPECT_EQ(c->releases, 1);
}

TEST_F(sweep_fixture, objects_gone_leave_the_list_without_a_call)
{
    auto a = std::make_shared<fake_client>();
    auto b = std::make_shared<fake_client>();
    touch(a);
    touch(b);
    a.reset();
    sweep.sweep_now(); // b was active
    EXPECT_EQ(sweep.watched(), 1U);
    EXPECT_EQ(sweep.sweep_now(), 1U);
    EXPECT_EQ(b->releases, 1);
}

// The timer runs while something is watched and stops once the list is empty, so the io
// thread of an idle gateway is not woken, and run() returns when there is nothing else.
TEST_F(sweep_fixture, the_timer_sweeps_until_nothing_is_watched)
{
    sweep.set_period(std::chrono::milliseconds(1));
    auto a = std::make_shared<fake_client>();
    auto b = std::make_shared<fake_client>();
    touch(a);
    touch(b);
    ioc.run(); // returns only when no sweep is armed any more
    EXPECT_EQ(a->releases, 1);
    EXPECT_EQ(b->releases, 1);
    EXPECT_EQ(sweep.watched(), 0U);
}

// The io_context may be destroyed with objects still watched and the timer armed.
TEST(idle_sweep, io_context_shutdown_with_a_sweep_pending)
{
    auto c = std::make_shared<fake_client>();
    {
        net::io_context ioc;
        auto& sweep = idle_sweep::of(ioc.get_executor());
        sweep.touch(*c, [&c] { return std::weak_ptr<idle_sweep::client>(c); }, ioc.get_executor());
        EXPECT_EQ(sweep.watched(), 1U);
    }
    EXPECT_EQ(c->releases, 0);
}

} // namespace
} // namespace boshgate::core
