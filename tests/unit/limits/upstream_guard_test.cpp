// limits::upstream_guard: per-domain cap on connection attempts and circuit breaker.
// Time is given explicitly (core::time_point{} + durations); nothing sleeps.
#include "boshgate/limits/upstream_guard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace boshgate::limits {
namespace {

using namespace std::chrono_literals;
using state = upstream_guard::state;

const core::time_point t0 = core::time_point{} + 1h;

options guard_options(std::size_t cap = 100, unsigned failures = 3)
{
    options o;
    o.max_connecting_per_domain = cap;
    o.breaker_failures = failures;
    o.breaker_open = 100ms;
    o.breaker_open_max = 350ms;
    return o;
}

attempt take(upstream_guard& g, std::string_view domain, core::time_point now)
{
    auto d = g.try_connect(domain, now);
    EXPECT_TRUE(d.granted) << describe(d.why);
    EXPECT_EQ(d.why, guard_refusal::none);
    return std::move(d.granted);
}

/// `n` attempts to `domain` that fail at `now`.
void fail_n(upstream_guard& g, std::string_view domain, unsigned n, core::time_point now)
{
    for (unsigned i = 0; i < n; ++i) {
        take(g, domain, now).failed(now);
    }
}

TEST(upstream_guard, caps_concurrent_attempts_per_domain)
{
    auto g = upstream_guard::make(guard_options(2));
    auto a = take(*g, "example.com", t0);
    auto b = take(*g, "example.com", t0);
    EXPECT_EQ(g->connecting("example.com"), 2u);

    auto refused = g->try_connect("example.com", t0);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.why, guard_refusal::too_many_connecting);
    EXPECT_GE(refused.retry_after, 1ms);
    EXPECT_FALSE(describe(refused.why).empty());

    // Other domains have their own count.
    auto other = take(*g, "other.example", t0);

    // A finished attempt frees its slot, whatever its outcome.
    a.succeeded(t0);
    EXPECT_EQ(g->connecting("example.com"), 1u);
    auto c = take(*g, "example.com", t0);
    EXPECT_FALSE(g->try_connect("example.com", t0).granted);
    b.failed(t0);
    auto d = take(*g, "example.com", t0);
}

TEST(upstream_guard, zero_cap_means_no_cap)
{
    auto g = upstream_guard::make(guard_options(0));
    std::vector<attempt> live;
    for (int i = 0; i < 500; ++i) {
        live.push_back(take(*g, "example.com", t0));
    }
    EXPECT_EQ(g->connecting("example.com"), 500u);
}

TEST(upstream_guard, breaker_opens_after_consecutive_failures)
{
    auto g = upstream_guard::make(guard_options(100, 3));
    fail_n(*g, "example.com", 2, t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::closed);
    take(*g, "example.com", t0).failed(t0 + 10ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 10ms), state::open);

    auto refused = g->try_connect("example.com", t0 + 30ms);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.why, guard_refusal::breaker_open);
    EXPECT_EQ(refused.retry_after, 80ms); // opened at +10 ms for 100 ms
    EXPECT_EQ(g->connecting("example.com"), 0u);

    // Only this domain is affected.
    EXPECT_EQ(g->state_of("other.example", t0 + 30ms), state::closed);
    take(*g, "other.example", t0 + 30ms);
}

TEST(upstream_guard, success_resets_the_failure_count)
{
    auto g = upstream_guard::make(guard_options(100, 3));
    fail_n(*g, "example.com", 2, t0);
    take(*g, "example.com", t0).succeeded(t0);
    fail_n(*g, "example.com", 2, t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::closed);
    take(*g, "example.com", t0).failed(t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::open);
}

TEST(upstream_guard, zero_failures_disables_the_breaker)
{
    auto g = upstream_guard::make(guard_options(100, 0));
    fail_n(*g, "example.com", 50, t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::closed);
    take(*g, "example.com", t0);
}

TEST(upstream_guard, half_open_allows_exactly_one_probe)
{
    auto g = upstream_guard::make(guard_options(100, 3));
    fail_n(*g, "example.com", 3, t0);
    EXPECT_FALSE(g->try_connect("example.com", t0 + 99ms).granted);
    EXPECT_EQ(g->state_of("example.com", t0 + 100ms), state::half_open);

    auto probe = take(*g, "example.com", t0 + 100ms);
    for (int i = 0; i < 5; ++i) {
        auto d = g->try_connect("example.com", t0 + 150ms);
        EXPECT_FALSE(d.granted);
        EXPECT_EQ(d.why, guard_refusal::breaker_open);
        EXPECT_GE(d.retry_after, 1ms);
    }
    EXPECT_EQ(g->connecting("example.com"), 1u);
    (void)probe;
}

TEST(upstream_guard, probe_success_closes_and_resets)
{
    auto g = upstream_guard::make(guard_options(100, 3));
    fail_n(*g, "example.com", 3, t0);
    take(*g, "example.com", t0 + 100ms).succeeded(t0 + 120ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 120ms), state::closed);
    EXPECT_EQ(g->tracked_domains(), 0u); // closed, no failure, nothing connecting

    // Concurrent attempts are allowed again, and it takes a full run of failures to re-open,
    // for the base period (the doubling was reset).
    auto a = take(*g, "example.com", t0 + 130ms);
    auto b = take(*g, "example.com", t0 + 130ms);
    a.failed(t0 + 140ms);
    b.failed(t0 + 140ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 140ms), state::closed);
    take(*g, "example.com", t0 + 140ms).failed(t0 + 200ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 299ms), state::open);
    EXPECT_EQ(g->state_of("example.com", t0 + 300ms), state::half_open);
}

TEST(upstream_guard, probe_failure_reopens_with_doubling_up_to_the_max)
{
    auto g = upstream_guard::make(guard_options(100, 3)); // 100 ms, max 350 ms
    fail_n(*g, "example.com", 3, t0);                       // open [t0, t0+100)
    auto now = t0 + 100ms;
    for (auto expected : {200ms, 350ms, 350ms}) {
        ASSERT_EQ(g->state_of("example.com", now), state::half_open);
        take(*g, "example.com", now).failed(now);
        EXPECT_EQ(g->state_of("example.com", now + expected - 1ms), state::open) << expected.count();
        auto d = g->try_connect("example.com", now);
        EXPECT_EQ(d.why, guard_refusal::breaker_open);
        EXPECT_EQ(d.retry_after, expected);
        now += expected;
    }
    EXPECT_EQ(g->state_of("example.com", now), state::half_open);
}

TEST(upstream_guard, cancelled_attempts_count_as_nothing)
{
    auto g = upstream_guard::make(guard_options(1, 3));
    fail_n(*g, "example.com", 2, t0);
    for (int i = 0; i < 10; ++i) {
        auto a = take(*g, "example.com", t0); // cap 1: each cancel frees the only slot
    }
    EXPECT_EQ(g->connecting("example.com"), 0u);
    EXPECT_EQ(g->state_of("example.com", t0), state::closed);
    // Still two failures on record: the third opens the breaker.
    take(*g, "example.com", t0).failed(t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::open);

    // A cancelled probe lets the next caller probe.
    {
        auto probe = take(*g, "example.com", t0 + 100ms);
        EXPECT_FALSE(g->try_connect("example.com", t0 + 100ms).granted);
    }
    EXPECT_EQ(g->state_of("example.com", t0 + 100ms), state::half_open);
    take(*g, "example.com", t0 + 100ms).succeeded(t0 + 110ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 110ms), state::closed);
}

TEST(upstream_guard, moved_attempts_report_once)
{
    auto g = upstream_guard::make(guard_options(2, 3));
    auto a = take(*g, "example.com", t0);
    attempt b(std::move(a));
    EXPECT_FALSE(a); // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_TRUE(b);
    a.failed(t0); // empty: no effect
    EXPECT_EQ(g->connecting("example.com"), 1u);

    auto c = take(*g, "example.com", t0);
    b = std::move(c); // the old b is cancelled
    EXPECT_EQ(g->connecting("example.com"), 1u);
    b.failed(t0);
    b.failed(t0); // reported already: no effect
    EXPECT_EQ(g->connecting("example.com"), 0u);
    fail_n(*g, "example.com", 1, t0);
    EXPECT_EQ(g->state_of("example.com", t0), state::closed); // two failures, not three
}

TEST(upstream_guard, failures_of_older_attempts_do_not_extend_the_open_period)
{
    auto g = upstream_guard::make(guard_options(100, 2));
    auto slow = take(*g, "example.com", t0); // started before the breaker opens
    fail_n(*g, "example.com", 2, t0);
    slow.failed(t0 + 90ms);
    EXPECT_EQ(g->state_of("example.com", t0 + 100ms), state::half_open);
    auto d = g->try_connect("example.com", t0 + 100ms);
    EXPECT_TRUE(d.granted); // the probe
}

TEST(upstream_guard, success_of_an_older_attempt_closes_the_breaker)
{
    auto g = upstream_guard::make(guard_options(100, 2));
    auto slow = take(*g, "example.com", t0);
    fail_n(*g, "example.com", 2, t0);
    EXPECT_EQ(g->state_of("example.com", t0 + 10ms), state::open);
    slow.succeeded(t0 + 50ms); // the server answered after all: it is reachable
    EXPECT_EQ(g->state_of("example.com", t0 + 50ms), state::closed);
    take(*g, "example.com", t0 + 50ms);
}

TEST(upstream_guard, map_of_domains_stays_bounded)
{
    auto g = upstream_guard::make(guard_options(100, 3));
    for (int i = 0; i < 1000; ++i) {
        const std::string d = "d" + std::to_string(i) + ".example";
        take(*g, d, t0).succeeded(t0);
        take(*g, d, t0); // cancelled
    }
    EXPECT_EQ(g->tracked_domains(), 0u);

    // Domains with a failure on record are kept, but not without bound (a hostile client of
    // an allow_any_domain gateway can name endless dead domains).
    for (int i = 0; i < 20000; ++i) {
        take(*g, "f" + std::to_string(i) + ".example", t0).failed(t0);
    }
    EXPECT_LE(g->tracked_domains(), 4096u);

    // Open breakers survive a sweep.
    fail_n(*g, "down.example", 3, t0);
    for (int i = 0; i < 10000; ++i) {
        take(*g, "g" + std::to_string(i) + ".example", t0).failed(t0);
    }
    EXPECT_EQ(g->state_of("down.example", t0 + 50ms), state::open);
    EXPECT_LE(g->tracked_domains(), 4096u);
}

TEST(upstream_guard, new_options_apply_to_new_attempts)
{
    auto g = upstream_guard::make(guard_options(1, 3));
    auto a = take(*g, "example.com", t0);
    EXPECT_FALSE(g->try_connect("example.com", t0).granted);
    g->set_options(guard_options(2, 3));
    auto b = take(*g, "example.com", t0);
}

TEST(upstream_guard, concurrent_use_keeps_counts_exact)
{
    auto g = upstream_guard::make(guard_options(1000, 0));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&g, t] {
            for (int i = 0; i < 2000; ++i) {
                auto d = g->try_connect(i % 2 == 0 ? "a.example" : "b.example", t0);
                if (d.granted && (i + t) % 3 == 0) {
                    d.granted.succeeded(t0);
                } else if (d.granted && (i + t) % 3 == 1) {
                    d.granted.failed(t0);
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(g->connecting("a.example"), 0u);
    EXPECT_EQ(g->connecting("b.example"), 0u);
}

} // namespace
} // namespace boshgate::limits
