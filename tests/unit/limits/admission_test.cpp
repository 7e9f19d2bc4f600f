// Admission control: address grouping, every refusal with its Retry-After hint, RAII
// accounting, the per-address token bucket and the bound on the per-address map. Time is
// passed explicitly (no sleeps).
#include "boshgate/limits/admission.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace boshgate::limits {
namespace {

using namespace std::chrono_literals;

const core::time_point t0 = core::time_point{} + std::chrono::hours(1000);

address_key key_of(const std::string& text, const options& opt = {})
{
    std::array<std::uint8_t, 16> b{};
    std::optional<address_key> k;
    if (::inet_pton(AF_INET, text.c_str(), b.data()) == 1) {
        k = make_key(b.data(), 4, opt);
    } else if (::inet_pton(AF_INET6, text.c_str(), b.data()) == 1) {
        k = make_key(b.data(), 16, opt);
    }
    EXPECT_TRUE(k.has_value()) << text;
    return k.value_or(address_key{});
}

/// Options with every limit off except those a test switches on.
options all_off()
{
    options o;
    o.max_sessions = 1'000'000;
    o.max_sessions_per_address = 0;
    o.session_rate_per_address = 0;
    o.max_connections_per_address = 0;
    return o;
}

// ------------------------------------------------------------------------ address keys

TEST(admission_key, ipv4_is_stored_mapped_and_masked)
{
    options opt;
    const auto a = key_of("203.0.113.7", opt);
    EXPECT_EQ(a.prefix, 128u);
    EXPECT_EQ(a.to_string(), "203.0.113.7/32");
    EXPECT_EQ(a.bytes[10], 0xff);
    EXPECT_EQ(a.bytes[11], 0xff);
    EXPECT_EQ(a.bytes[12], 203);

    // 127.0.0.1 and 127.0.0.2 are different clients at /32.
    EXPECT_NE(key_of("127.0.0.1"), key_of("127.0.0.2"));

    opt.ipv4_prefix = 24;
    const auto b = key_of("203.0.113.7", opt);
    EXPECT_EQ(b.prefix, 96u + 24u);
    EXPECT_EQ(b.to_string(), "203.0.113.0/24");
    EXPECT_EQ(b, key_of("203.0.113.200", opt));
    EXPECT_NE(b, key_of("203.0.114.7", opt));

    opt.ipv4_prefix = 20;
    EXPECT_EQ(key_of("10.1.17.9", opt).to_string(), "10.1.16.0/20");
    EXPECT_EQ(key_of("10.1.17.9", opt), key_of("10.1.31.255", opt));
    EXPECT_NE(key_of("10.1.17.9", opt), key_of("10.1.32.0", opt));
}

TEST(admission_key, mapped_ipv4_equals_plain_ipv4)
{
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d: same group as plain IPv4,
    // grouped by ipv4_prefix, not ipv6_prefix.
    options opt;
    opt.ipv6_prefix = 64;
    opt.ipv4_prefix = 32;
    const auto mapped = key_of("::ffff:198.51.100.4", opt);
    EXPECT_EQ(mapped, key_of("198.51.100.4", opt));
    EXPECT_EQ(mapped.to_string(), "198.51.100.4/32");
    EXPECT_NE(mapped, key_of("::ffff:198.51.100.5", opt));
    opt.ipv4_prefix = 16;
    EXPECT_EQ(key_of("::ffff:198.51.100.4", opt), key_of("198.51.7.7", opt));
}

// SEC-LIMIT-6: one IPv6 customer owns a whole /64; grouping by it stops address hopping.
TEST(admission_key, ipv6_grouped_by_prefix)
{
    options opt;
    const auto a = key_of("2001:db8:1:2::1", opt);
    EXPECT_EQ(a.prefix, 64u);
    EXPECT_EQ(a.to_string(), "2001:db8:1:2::/64");
    EXPECT_EQ(a, key_of("2001:db8:1:2:ffff:ffff:ffff:ffff", opt));
    EXPECT_NE(a, key_of("2001:db8:1:3::1", opt));

    opt.ipv6_prefix = 56;
    EXPECT_EQ(key_of("2001:db8:1:2::1", opt), key_of("2001:db8:1:ff::1", opt));
    EXPECT_NE(key_of("2001:db8:1:2::1", opt), key_of("2001:db8:1:100::1", opt));
    EXPECT_EQ(key_of("2001:db8:1:2::1", opt).to_string(), "2001:db8:1::/56");

    opt.ipv6_prefix = 128;
    EXPECT_NE(key_of("::1", opt), key_of("::2", opt));
    EXPECT_EQ(key_of("::1", opt).to_string(), "::1/128");

    opt.ipv6_prefix = 61; // not on a byte boundary
    EXPECT_EQ(key_of("2001:db8:0:7::1", opt), key_of("2001:db8:0:0::1", opt));
    EXPECT_NE(key_of("2001:db8:0:8::1", opt), key_of("2001:db8:0:0::1", opt));
}

TEST(admission_key, wrong_sizes_are_refused)
{
    const std::uint8_t bytes[16] = {};
    const options opt;
    EXPECT_FALSE(make_key(bytes, 0, opt).has_value());
    EXPECT_FALSE(make_key(bytes, 5, opt).has_value());
    EXPECT_FALSE(make_key(bytes, 15, opt).has_value());
    EXPECT_FALSE(make_key(nullptr, 4, opt).has_value());
    EXPECT_TRUE(make_key(bytes, 4, opt).has_value());
    EXPECT_TRUE(make_key(bytes, 16, opt).has_value());
}

TEST(admission_key, descriptions)
{
    EXPECT_EQ(describe(refusal::global_connections), "too many connections");
    EXPECT_EQ(describe(refusal::address_connections), "too many connections from this address");
    EXPECT_EQ(describe(refusal::global_sessions), "too many sessions");
    EXPECT_EQ(describe(refusal::address_sessions), "too many sessions from this address");
    EXPECT_EQ(describe(refusal::address_rate), "session creation rate exceeded for this address");
    EXPECT_FALSE(describe(refusal::none).empty());
}

// ------------------------------------------------------------------------ connections

// SEC-LIMIT-5: one global cap for all connections (WebSocket connections are connections).
TEST(admission_connections, global_cap)
{
    auto adm = admission::make(all_off(), 3);
    std::vector<ticket> held;
    for (int i = 0; i < 3; ++i) {
        auto d = adm->open_connection(key_of("192.0.2." + std::to_string(i + 1)));
        ASSERT_TRUE(d.granted);
        EXPECT_EQ(d.why, refusal::none);
        EXPECT_EQ(d.retry_after, 0s);
        held.push_back(std::move(d.granted));
    }
    auto refused = adm->open_connection(key_of("192.0.2.99"));
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.why, refusal::global_connections);
    EXPECT_GE(refused.retry_after, 1s);
    EXPECT_EQ(adm->snapshot().connections, 3u);

    held.pop_back();
    EXPECT_EQ(adm->snapshot().connections, 2u);
    EXPECT_TRUE(adm->open_connection(key_of("192.0.2.99")).granted);
}

// SEC-LIMIT-4
TEST(admission_connections, per_address_cap)
{
    auto opt = all_off();
    opt.max_connections_per_address = 2;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    auto c1 = adm->open_connection(a);
    auto c2 = adm->open_connection(a);
    ASSERT_TRUE(c1.granted);
    ASSERT_TRUE(c2.granted);
    auto c3 = adm->open_connection(a);
    EXPECT_FALSE(c3.granted);
    EXPECT_EQ(c3.why, refusal::address_connections);
    EXPECT_EQ(c3.retry_after, 1s);
    // Another address is not affected.
    EXPECT_TRUE(adm->open_connection(key_of("192.0.2.2")).granted);
    EXPECT_EQ(adm->of(a).connections, 2u);

    c1.granted = ticket{};
    EXPECT_EQ(adm->of(a).connections, 1u);
    EXPECT_TRUE(adm->open_connection(a).granted);
}

TEST(admission_connections, global_refusal_wins_over_per_address)
{
    auto opt = all_off();
    opt.max_connections_per_address = 1;
    auto adm = admission::make(opt, 1);
    const auto a = key_of("192.0.2.1");
    auto c1 = adm->open_connection(a);
    ASSERT_TRUE(c1.granted);
    EXPECT_EQ(adm->open_connection(a).why, refusal::global_connections);
}

TEST(admission_connections, per_address_zero_is_off)
{
    auto opt = all_off();
    opt.max_connections_per_address = 0;
    auto adm = admission::make(opt, 1000);
    const auto a = key_of("192.0.2.1");
    std::vector<ticket> held;
    for (int i = 0; i < 500; ++i) {
        auto d = adm->open_connection(a);
        ASSERT_TRUE(d.granted) << i;
        held.push_back(std::move(d.granted));
    }
    EXPECT_EQ(adm->of(a).connections, 500u);
}

// ------------------------------------------------------------------------ sessions

// SEC-LIMIT-1
TEST(admission_sessions, global_cap)
{
    auto opt = all_off();
    opt.max_sessions = 2;
    auto adm = admission::make(opt, 100);
    auto s1 = adm->open_session(key_of("192.0.2.1"), t0);
    auto s2 = adm->open_session(key_of("192.0.2.2"), t0);
    ASSERT_TRUE(s1.granted);
    ASSERT_TRUE(s2.granted);
    auto s3 = adm->open_session(key_of("192.0.2.3"), t0);
    EXPECT_FALSE(s3.granted);
    EXPECT_EQ(s3.why, refusal::global_sessions);
    EXPECT_EQ(s3.retry_after, 5s);
    // A refused unknown address leaves no trace.
    EXPECT_EQ(adm->of(key_of("192.0.2.3")).tracked_addresses, 0u);
    s1.granted = ticket{};
    EXPECT_TRUE(adm->open_session(key_of("192.0.2.3"), t0).granted);
}

// SEC-LIMIT-2
TEST(admission_sessions, per_address_cap)
{
    auto opt = all_off();
    opt.max_sessions_per_address = 3;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("2001:db8:1:2::1");
    const auto same_64 = key_of("2001:db8:1:2::99");
    std::vector<ticket> held;
    for (int i = 0; i < 3; ++i) {
        auto d = adm->open_session(i % 2 == 0 ? a : same_64, t0);
        ASSERT_TRUE(d.granted) << i;
        held.push_back(std::move(d.granted));
    }
    auto refused = adm->open_session(same_64, t0);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.why, refusal::address_sessions);
    EXPECT_EQ(refused.retry_after, 5s);
    // SEC-LIMIT-6: the neighbouring /64 is another client.
    EXPECT_TRUE(adm->open_session(key_of("2001:db8:1:3::1"), t0).granted);
    EXPECT_EQ(adm->of(a).sessions, 3u);
    held.pop_back();
    EXPECT_TRUE(adm->open_session(a, t0 + 1ms).granted);
}

TEST(admission_sessions, checks_in_order_global_then_address_then_rate)
{
    auto opt = all_off();
    opt.max_sessions = 2;
    opt.max_sessions_per_address = 1;
    opt.session_rate_per_address = 1;
    opt.session_burst_per_address = 1;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    auto s1 = adm->open_session(a, t0);
    ASSERT_TRUE(s1.granted);
    // Per-address cap and empty bucket both apply: the cap is reported.
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::address_sessions);
    auto s2 = adm->open_session(key_of("192.0.2.2"), t0);
    ASSERT_TRUE(s2.granted);
    // All three apply: the global cap is reported.
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::global_sessions);
    // Only the bucket applies.
    s1.granted = ticket{};
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::address_rate);
}

// SEC-LIMIT-3: a fresh address may open `burst` sessions at once, then `rate` per second.
TEST(admission_rate, burst_then_refill)
{
    auto opt = all_off();
    opt.session_rate_per_address = 2;
    opt.session_burst_per_address = 4;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    std::vector<ticket> held;
    for (int i = 0; i < 4; ++i) {
        auto d = adm->open_session(a, t0);
        ASSERT_TRUE(d.granted) << i;
        held.push_back(std::move(d.granted));
    }
    auto refused = adm->open_session(a, t0);
    EXPECT_EQ(refused.why, refusal::address_rate);
    EXPECT_EQ(refused.retry_after, 1s); // 0.5 s to one token, rounded up
    // Closing sessions gives no token back: the rate counts creations.
    held.clear();
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::address_rate);
    // Other addresses have their own bucket.
    EXPECT_TRUE(adm->open_session(key_of("192.0.2.2"), t0).granted);

    // 250 ms: half a token.
    EXPECT_EQ(adm->open_session(a, t0 + 250ms).why, refusal::address_rate);
    // 500 ms: one token.
    EXPECT_TRUE(adm->open_session(a, t0 + 500ms).granted);
    EXPECT_EQ(adm->open_session(a, t0 + 500ms).why, refusal::address_rate);
    // 10 s later: the bucket is full again, but never above its depth.
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(adm->open_session(a, t0 + 10s).granted) << i;
    }
    EXPECT_EQ(adm->open_session(a, t0 + 10s).why, refusal::address_rate);
}

TEST(admission_rate, retry_after_is_the_time_to_one_token_rounded_up)
{
    auto opt = all_off();
    opt.session_rate_per_address = 0.25; // one token every 4 s
    opt.session_burst_per_address = 1;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    ASSERT_TRUE(adm->open_session(a, t0).granted);
    auto d = adm->open_session(a, t0);
    EXPECT_EQ(d.why, refusal::address_rate);
    EXPECT_EQ(d.retry_after, 4s);
    d = adm->open_session(a, t0 + 1500ms);
    EXPECT_EQ(d.retry_after, 3s); // 2.5 s left
    d = adm->open_session(a, t0 + 3900ms);
    EXPECT_EQ(d.retry_after, 1s); // never below 1 s
    EXPECT_TRUE(adm->open_session(a, t0 + 4s).granted);

    // Fast rate: still at least 1 s.
    opt.session_rate_per_address = 100;
    adm->set_options(opt, 100);
    const auto b = key_of("192.0.2.2");
    ASSERT_TRUE(adm->open_session(b, t0 + 5s).granted);
    d = adm->open_session(b, t0 + 5s);
    EXPECT_EQ(d.why, refusal::address_rate);
    EXPECT_EQ(d.retry_after, 1s);
}

TEST(admission_rate, rate_zero_is_off)
{
    auto opt = all_off();
    opt.session_rate_per_address = 0;
    opt.session_burst_per_address = 1;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(adm->open_session(a, t0).granted) << i;
    }
    EXPECT_EQ(adm->snapshot().sessions, 0u);
    EXPECT_EQ(adm->snapshot().tracked_addresses, 0u);
}

// The documented defaults admit a burst of 20 sessions then 2 per second.
TEST(admission_rate, defaults)
{
    const options opt;
    EXPECT_EQ(opt.session_burst_per_address, 20u);
    auto adm = admission::make(opt, 20000);
    const auto a = key_of("192.0.2.1");
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(adm->open_session(a, t0).granted) << i;
    }
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::address_rate);
    EXPECT_TRUE(adm->open_session(a, t0 + 500ms).granted);
}

// ------------------------------------------------------------------------ tickets

TEST(admission_ticket, counts_return_to_zero)
{
    auto opt = all_off();
    opt.max_sessions_per_address = 10;
    opt.max_connections_per_address = 10;
    opt.session_rate_per_address = 1;
    opt.session_burst_per_address = 10;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    {
        auto c = adm->open_connection(a);
        auto s = adm->open_session(a, t0);
        ASSERT_TRUE(c.granted);
        ASSERT_TRUE(s.granted);
        EXPECT_EQ(c.granted.key(), a);
        EXPECT_EQ(adm->snapshot().connections, 1u);
        EXPECT_EQ(adm->snapshot().sessions, 1u);
        EXPECT_EQ(adm->of(a).connections, 1u);
        EXPECT_EQ(adm->of(a).sessions, 1u);
        EXPECT_EQ(adm->of(a).tracked_addresses, 1u);
    }
    const auto s = adm->snapshot();
    EXPECT_EQ(s.connections, 0u);
    EXPECT_EQ(s.sessions, 0u);
    EXPECT_EQ(adm->of(a).connections, 0u);
    EXPECT_EQ(adm->of(a).sessions, 0u);
}

TEST(admission_ticket, moves_transfer_and_moved_from_releases_nothing)
{
    auto adm = admission::make(all_off(), 100);
    const auto a = key_of("192.0.2.1");
    auto d = adm->open_connection(a);
    ticket t1 = std::move(d.granted);
    EXPECT_FALSE(d.granted); // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_TRUE(t1);
    EXPECT_EQ(adm->snapshot().connections, 1u);

    ticket t2(std::move(t1));
    EXPECT_FALSE(t1); // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(adm->snapshot().connections, 1u);
    t1 = ticket{}; // assigning to an empty ticket releases nothing
    EXPECT_EQ(adm->snapshot().connections, 1u);

    // Move-assigning over a live ticket releases the one it held.
    auto other = adm->open_session(key_of("192.0.2.2"), t0);
    EXPECT_EQ(adm->snapshot().sessions, 1u);
    other.granted = std::move(t2);
    EXPECT_EQ(adm->snapshot().sessions, 0u);
    EXPECT_EQ(adm->snapshot().connections, 1u);
    EXPECT_EQ(other.granted.key(), a);

    // Self-move keeps the ticket.
    ticket& self = other.granted;
    other.granted = std::move(self);
    EXPECT_EQ(adm->snapshot().connections, 1u);

    other.granted = ticket{};
    EXPECT_EQ(adm->snapshot().connections, 0u);
    EXPECT_EQ(adm->snapshot().tracked_addresses, 0u);
}

TEST(admission_ticket, keeps_the_admission_alive)
{
    ticket t;
    {
        auto adm = admission::make(all_off(), 10);
        t = std::move(adm->open_connection(key_of("192.0.2.1")).granted);
        ASSERT_TRUE(t);
    }
    t = ticket{}; // releases into the admission the ticket kept alive
    EXPECT_FALSE(t);
}

TEST(admission_ticket, refused_decisions_hold_no_ticket)
{
    auto opt = all_off();
    opt.max_sessions = 0;
    auto adm = admission::make(opt, 0);
    const auto c = adm->open_connection(key_of("192.0.2.1"));
    const auto s = adm->open_session(key_of("192.0.2.1"), t0);
    EXPECT_FALSE(c.granted);
    EXPECT_FALSE(s.granted);
    EXPECT_EQ(adm->snapshot().connections, 0u);
    EXPECT_EQ(adm->snapshot().sessions, 0u);
    EXPECT_EQ(adm->snapshot().tracked_addresses, 0u);
}

// ------------------------------------------------------------------------ the per-address map

TEST(admission_map, idle_entries_are_forgotten_once_the_bucket_is_full)
{
    auto opt = all_off();
    opt.session_rate_per_address = 2;
    opt.session_burst_per_address = 4;
    auto adm = admission::make(opt, 100);
    const auto a = key_of("192.0.2.1");
    adm->open_session(a, t0); // released at once, but one token is missing
    EXPECT_EQ(adm->snapshot().tracked_addresses, 1u);
    // Forgetting it now would hand the address a fresh bucket: it stays.
    adm->open_connection(a);
    EXPECT_EQ(adm->snapshot().tracked_addresses, 1u);
    // Once the latest time seen shows a full bucket, the next release forgets it.
    adm->open_session(key_of("192.0.2.2"), t0 + 500ms);
    adm->open_connection(a);
    EXPECT_EQ(adm->of(a).tracked_addresses, 0u);
}

TEST(admission_map, stays_bounded_when_many_addresses_come_and_go)
{
    // Default rate: each address's bucket is full again 0.5 s after its session.
    auto adm = admission::make(options{}, 100000);
    auto now = t0;
    std::size_t largest = 0;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        now += 10ms;
        const std::array<std::uint8_t, 4> ip{10, static_cast<std::uint8_t>(i >> 16),
                                             static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        const auto k = make_key(ip.data(), ip.size(), options{});
        ASSERT_TRUE(k.has_value());
        auto c = adm->open_connection(*k);
        auto s = adm->open_session(*k, now);
        ASSERT_TRUE(c.granted);
        ASSERT_TRUE(s.granted);
        largest = std::max(largest, adm->snapshot().tracked_addresses);
    }
    EXPECT_LE(largest, 1024u + 1u);
    const auto s = adm->snapshot();
    EXPECT_EQ(s.connections, 0u);
    EXPECT_EQ(s.sessions, 0u);

    // IPv6 address hopping inside one /64 is one entry.
    for (std::uint32_t i = 0; i < 1000; ++i) {
        std::array<std::uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1};
        ip[14] = static_cast<std::uint8_t>(i >> 8);
        ip[15] = static_cast<std::uint8_t>(i);
        const auto k = make_key(ip.data(), ip.size(), options{});
        auto c = adm->open_connection(*k);
        ASSERT_TRUE(c.granted);
    }
    EXPECT_LE(adm->snapshot().tracked_addresses, 1024u + 1u);
}

TEST(admission_map, live_addresses_are_never_swept)
{
    auto adm = admission::make(options{}, 100000);
    std::vector<ticket> held;
    for (std::uint32_t i = 0; i < 3000; ++i) {
        const std::array<std::uint8_t, 4> ip{10, 1, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        auto d = adm->open_connection(*make_key(ip.data(), ip.size(), options{}));
        ASSERT_TRUE(d.granted);
        held.push_back(std::move(d.granted));
    }
    EXPECT_EQ(adm->snapshot().tracked_addresses, 3000u);
    for (const auto& t : held) {
        EXPECT_EQ(adm->of(t.key()).connections, 1u);
    }
    held.clear();
    EXPECT_EQ(adm->snapshot().tracked_addresses, 0u);
}

TEST(admission_map, many_refilling_buckets_are_swept_later)
{
    // 5000 addresses open a session at the same instant: their buckets are not full, so no
    // entry may be forgotten yet; once time passes, the next sweep drops them.
    auto adm = admission::make(options{}, 100000);
    for (std::uint32_t i = 0; i < 5000; ++i) {
        const std::array<std::uint8_t, 4> ip{10, 2, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        ASSERT_TRUE(adm->open_session(*make_key(ip.data(), ip.size(), options{}), t0).granted);
    }
    EXPECT_EQ(adm->snapshot().tracked_addresses, 5000u);
    auto now = t0 + 1s;
    for (std::uint32_t i = 0; i < 20000; ++i) {
        now += 1ms;
        const std::array<std::uint8_t, 4> ip{10, 3, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
        ASSERT_TRUE(adm->open_session(*make_key(ip.data(), ip.size(), options{}), now).granted);
    }
    EXPECT_LT(adm->snapshot().tracked_addresses, 5000u);
}

// One instance is shared by every io thread: counts stay exact under concurrent use.
TEST(admission_threads, concurrent_use_keeps_counts_exact)
{
    auto opt = options{};
    opt.max_connections_per_address = 3;
    auto adm = admission::make(opt, 1'000'000);
    std::vector<std::thread> threads;
    for (std::uint8_t t = 0; t < 4; ++t) {
        threads.emplace_back([adm, t] {
            for (std::uint32_t i = 0; i < 5000; ++i) {
                const std::array<std::uint8_t, 4> ip{10, t, static_cast<std::uint8_t>(i % 7), 1};
                const auto k = *make_key(ip.data(), ip.size(), options{});
                auto c = adm->open_connection(k);
                auto s = adm->open_session(k, t0 + std::chrono::milliseconds(i));
                ticket moved = std::move(c.granted);
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    const auto s = adm->snapshot();
    EXPECT_EQ(s.connections, 0u);
    EXPECT_EQ(s.sessions, 0u);
    EXPECT_LE(s.tracked_addresses, 4u * 7u);
}

// ------------------------------------------------------------------------ reload

TEST(admission_reload, set_options_applies_to_new_admissions_only)
{
    auto opt = all_off();
    opt.max_sessions = 10;
    opt.max_connections_per_address = 5;
    auto adm = admission::make(opt, 10);
    const auto a = key_of("192.0.2.1");
    std::vector<ticket> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(std::move(adm->open_session(a, t0).granted));
        held.push_back(std::move(adm->open_connection(a).granted));
    }
    opt.max_sessions = 2;
    opt.max_connections_per_address = 1;
    adm->set_options(opt, 3);
    // Live tickets stay; new ones are refused.
    EXPECT_EQ(adm->snapshot().sessions, 4u);
    EXPECT_EQ(adm->open_session(key_of("192.0.2.9"), t0).why, refusal::global_sessions);
    EXPECT_EQ(adm->open_connection(key_of("192.0.2.9")).why, refusal::global_connections);
    held.clear();
    EXPECT_EQ(adm->snapshot().sessions, 0u);
    EXPECT_EQ(adm->snapshot().connections, 0u);
    auto c1 = adm->open_connection(a);
    ASSERT_TRUE(c1.granted);
    EXPECT_EQ(adm->open_connection(a).why, refusal::address_connections);

    // Switching the rate on later: existing addresses start with a full bucket.
    opt.session_rate_per_address = 1;
    opt.session_burst_per_address = 2;
    adm->set_options(opt, 3);
    auto s1 = adm->open_session(a, t0);
    auto s2 = adm->open_session(a, t0);
    ASSERT_TRUE(s1.granted);
    ASSERT_TRUE(s2.granted);
    s1.granted = ticket{};
    EXPECT_EQ(adm->open_session(a, t0).why, refusal::address_rate);
    // A smaller burst caps a bucket that was fuller.
    const auto b = key_of("192.0.2.2");
    auto keep = adm->open_connection(b); // entry with a full bucket of 2
    ASSERT_TRUE(keep.granted);
    opt.session_burst_per_address = 1;
    adm->set_options(opt, 3);
    ASSERT_TRUE(adm->open_session(b, t0 + 1s).granted);
    EXPECT_EQ(adm->open_session(b, t0 + 1s).why, refusal::address_rate);
}

// ------------------------------------------------------------------------ nofile

TEST(admission_effective, limits_follow_the_open_file_limit)
{
    auto e = effective_limits(20000, 10000, 65536);
    EXPECT_EQ(e.max_connections, 20000u);
    EXPECT_EQ(e.max_sessions, 10000u);
    EXPECT_FALSE(e.reduced);

    // 1024 descriptors: 960 usable, half each.
    e = effective_limits(20000, 10000, 1024);
    EXPECT_EQ(e.max_connections, 480u);
    EXPECT_EQ(e.max_sessions, 480u);
    EXPECT_TRUE(e.reduced);

    e = effective_limits(100, 10000, 1024);
    EXPECT_EQ(e.max_connections, 100u);
    EXPECT_EQ(e.max_sessions, 480u);
    EXPECT_TRUE(e.reduced);

    e = effective_limits(480, 480, 1024);
    EXPECT_FALSE(e.reduced);

    // Absurdly low limits still leave one of each.
    for (const std::uint64_t nofile : {0u, 1u, 64u, 65u, 66u}) {
        e = effective_limits(20000, 10000, nofile);
        EXPECT_EQ(e.max_connections, 1u) << nofile;
        EXPECT_EQ(e.max_sessions, 1u) << nofile;
        EXPECT_TRUE(e.reduced);
    }
    e = effective_limits(20000, 10000, 68);
    EXPECT_EQ(e.max_connections, 2u);
}

} // namespace
} // namespace boshgate::limits
