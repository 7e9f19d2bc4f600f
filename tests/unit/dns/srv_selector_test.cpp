// Pure SRV ordering: RFC 2782 priority/weight, RFC 6120 §3.2 fallback and '.', XEP-0368 merge.
#include "boshgate/dns/srv_selector.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using boshgate::dns::candidate;
using boshgate::dns::rng;
using boshgate::dns::select;
using boshgate::dns::srv_record;

srv_record rec(std::uint16_t prio, std::uint16_t weight, std::uint16_t port, std::string target) {
    return srv_record{prio, weight, port, std::move(target)};
}

/// Replays a fixed list of draws and records the bounds it was asked for.
struct scripted_rng {
    std::deque<std::uint32_t> draws;
    std::vector<std::uint32_t> bounds;

    rng fn() {
        return [this](std::uint32_t bound) {
            bounds.push_back(bound);
            if (draws.empty()) {
                ADD_FAILURE() << "rng called more often than scripted";
                return std::uint32_t{0};
            }
            const std::uint32_t v = draws.front();
            draws.pop_front();
            return v;
        };
    }
};

rng zero_rng() {
    return [](std::uint32_t) { return std::uint32_t{0}; };
}

std::vector<std::string> hosts(const std::vector<candidate>& cs) {
    std::vector<std::string> out;
    for (const candidate& c : cs) {
        out.push_back(c.host);
    }
    return out;
}

TEST(srv_selector, orders_by_priority_ascending) {
    // C2S-DNS-1
    const auto sel = select("example.com", {},
                            {rec(20, 0, 5222, "b.example.com"), rec(10, 0, 5222, "a.example.com"),
                             rec(30, 0, 5222, "c.example.com")},
                            zero_rng());
    EXPECT_FALSE(sel.no_service);
    EXPECT_EQ(hosts(sel.candidates),
              (std::vector<std::string>{"a.example.com", "b.example.com", "c.example.com"}));
}

TEST(srv_selector, weighted_draw_uses_running_sums_with_zero_weights_first) {
    // C2S-DNS-1: RFC 2782 running sums; the zero-weight record is placed first.
    scripted_rng r;
    // List becomes [z(0), a(10), b(20)], sums 0,10,30. Draw 0 -> z.
    // Then [a(10), b(20)], sums 10,30. Draw 11 -> b. Then [a], draw 7 -> a.
    r.draws = {0, 11, 7};
    const auto sel =
        select("example.com", {},
               {rec(10, 10, 5222, "a"), rec(10, 20, 5222, "b"), rec(10, 0, 5222, "z")}, r.fn());
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"z", "b", "a"}));
    EXPECT_EQ(r.bounds, (std::vector<std::uint32_t>{30, 30, 10}));
}

TEST(srv_selector, draw_equal_to_running_sum_selects_that_record) {
    // C2S-DNS-1: "the first SRV RR whose running sum value is greater than or equal to".
    scripted_rng r;
    r.draws = {10, 0};
    const auto sel =
        select("example.com", {}, {rec(1, 10, 5222, "a"), rec(1, 20, 5222, "b")}, r.fn());
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"a", "b"}));

    scripted_rng r2;
    r2.draws = {11, 0};
    const auto sel2 =
        select("example.com", {}, {rec(1, 10, 5222, "a"), rec(1, 20, 5222, "b")}, r2.fn());
    EXPECT_EQ(hosts(sel2.candidates), (std::vector<std::string>{"b", "a"}));
}

TEST(srv_selector, all_zero_weights_keep_answer_order_and_still_draw) {
    scripted_rng r;
    r.draws = {0, 0, 0};
    const auto sel = select("example.com", {},
                            {rec(1, 0, 1, "a"), rec(1, 0, 2, "b"), rec(1, 0, 3, "c")}, r.fn());
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(r.bounds, (std::vector<std::uint32_t>{0, 0, 0}));
}

TEST(srv_selector, out_of_range_rng_is_clamped) {
    scripted_rng r;
    r.draws = {1000000, 1000000};
    const auto sel = select("example.com", {}, {rec(1, 1, 1, "a"), rec(1, 2, 2, "b")}, r.fn());
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"b", "a"}));
}

TEST(srv_selector, weight_proportions_match_rfc2782_statistically) {
    // C2S-DNS-1: with weights 10/30/60 the first pick is a/b/c about 10%/30%/60% of the time.
    // Deterministic: fixed seed, so the counts are the same on every run.
    std::mt19937 gen(20240601u);
    const rng random = [&gen](std::uint32_t bound) {
        return std::uniform_int_distribution<std::uint32_t>(0, bound)(gen);
    };
    const std::vector<srv_record> records{rec(5, 10, 1, "a"), rec(5, 30, 2, "b"),
                                          rec(5, 60, 3, "c")};
    std::map<std::string, int> first;
    constexpr int trials = 30000;
    for (int i = 0; i < trials; ++i) {
        const auto sel = select("example.com", {}, records, random);
        ASSERT_EQ(sel.candidates.size(), 3u);
        ++first[sel.candidates.front().host];
    }
    // Draw in [0,100]: a for 0..10 (11/101), b for 11..40 (30/101), c for 41..100 (60/101).
    EXPECT_NEAR(first["a"] / double(trials), 11.0 / 101.0, 0.01);
    EXPECT_NEAR(first["b"] / double(trials), 30.0 / 101.0, 0.015);
    EXPECT_NEAR(first["c"] / double(trials), 60.0 / 101.0, 0.015);
}

TEST(srv_selector, zero_weight_record_is_rarely_first) {
    // RFC 2782: weight 0 records have "a very small chance of being selected" (1/(total+1)).
    std::mt19937 gen(7u);
    const rng random = [&gen](std::uint32_t bound) {
        return std::uniform_int_distribution<std::uint32_t>(0, bound)(gen);
    };
    int zero_first = 0;
    constexpr int trials = 20000;
    for (int i = 0; i < trials; ++i) {
        const auto sel =
            select("example.com", {}, {rec(1, 9, 1, "heavy"), rec(1, 0, 2, "zero")}, random);
        if (sel.candidates.front().host == "zero") {
            ++zero_first;
        }
    }
    EXPECT_NEAR(zero_first / double(trials), 0.1, 0.01);
}

TEST(srv_selector, xmpps_and_xmpp_merge_as_one_set) {
    // C2S-DNS-4: xmpps prio 5, xmpp prio 10 => the direct-TLS attempt comes first.
    // C2S-DNS-5: the record kind decides direct TLS vs STARTTLS.
    const auto sel = select("example.com", {rec(5, 0, 5223, "tls.example.com")},
                            {rec(10, 0, 5222, "plain.example.com")}, zero_rng());
    ASSERT_EQ(sel.candidates.size(), 2u);
    EXPECT_EQ(sel.candidates[0].host, "tls.example.com");
    EXPECT_EQ(sel.candidates[0].port, 5223);
    EXPECT_TRUE(sel.candidates[0].direct_tls);
    EXPECT_EQ(sel.candidates[1].host, "plain.example.com");
    EXPECT_EQ(sel.candidates[1].port, 5222);
    EXPECT_FALSE(sel.candidates[1].direct_tls);

    // And the other way round: a better-priority xmpp-client record precedes xmpps.
    const auto sel2 = select("example.com", {rec(20, 0, 5223, "tls.example.com")},
                             {rec(10, 0, 5222, "plain.example.com")}, zero_rng());
    EXPECT_EQ(hosts(sel2.candidates),
              (std::vector<std::string>{"plain.example.com", "tls.example.com"}));
}

TEST(srv_selector, same_priority_kinds_share_one_weighted_draw) {
    // C2S-DNS-4: within a priority the weights of both kinds compete with each other.
    scripted_rng r;
    // Candidates at prio 1: [tls(5), plain(15)], sums 5, 20. Draw 6 -> plain.
    r.draws = {6, 0};
    const auto sel =
        select("example.com", {rec(1, 5, 5223, "tls")}, {rec(1, 15, 5222, "plain")}, r.fn());
    ASSERT_EQ(sel.candidates.size(), 2u);
    EXPECT_EQ(sel.candidates[0].host, "plain");
    EXPECT_FALSE(sel.candidates[0].direct_tls);
    EXPECT_EQ(sel.candidates[1].host, "tls");
    EXPECT_TRUE(sel.candidates[1].direct_tls);
    EXPECT_EQ(r.bounds, (std::vector<std::uint32_t>{20, 5}));
}

TEST(srv_selector, sole_dot_xmpp_client_record_means_no_service) {
    // C2S-DNS-2
    const auto sel = select("example.com", {}, {rec(0, 0, 0, ".")}, zero_rng());
    EXPECT_TRUE(sel.no_service);
    EXPECT_TRUE(sel.candidates.empty());

    // c-ares reports the root name as an empty string.
    const auto sel2 = select("example.com", {}, {rec(0, 0, 0, "")}, zero_rng());
    EXPECT_TRUE(sel2.no_service);
    EXPECT_TRUE(sel2.candidates.empty());
}

TEST(srv_selector, sole_dot_xmpp_client_record_wins_over_xmpps_records) {
    // C2S-DNS-2: RFC 6120 §3.2.1 "MUST abort processing"; no fallback of any kind.
    const auto sel = select("example.com", {rec(5, 0, 5223, "tls.example.com")},
                            {rec(0, 0, 0, ".")}, zero_rng());
    EXPECT_TRUE(sel.no_service);
    EXPECT_TRUE(sel.candidates.empty());
}

TEST(srv_selector, sole_dot_xmpps_record_uses_xmpp_client_records_only) {
    // C2S-DNS-6
    const auto sel = select("example.com", {rec(0, 0, 0, ".")},
                            {rec(10, 0, 5222, "plain.example.com")}, zero_rng());
    EXPECT_FALSE(sel.no_service);
    ASSERT_EQ(sel.candidates.size(), 1u);
    EXPECT_EQ(sel.candidates[0].host, "plain.example.com");
    EXPECT_FALSE(sel.candidates[0].direct_tls);
}

TEST(srv_selector, sole_dot_xmpps_record_without_xmpp_records_forbids_fallback) {
    // C2S-DNS-6: xmpps '.' and no xmpp-client SRV => fail, no A/AAAA fallback.
    const auto sel = select("example.com", {rec(0, 0, 0, ".")}, {}, zero_rng());
    EXPECT_TRUE(sel.no_service);
    EXPECT_TRUE(sel.candidates.empty());
}

TEST(srv_selector, no_records_fall_back_to_domain_5222_plain) {
    // C2S-DNS-3
    const auto sel = select("example.com", {}, {}, zero_rng());
    EXPECT_FALSE(sel.no_service);
    ASSERT_EQ(sel.candidates.size(), 1u);
    EXPECT_EQ(sel.candidates[0].host, "example.com");
    EXPECT_EQ(sel.candidates[0].port, 5222);
    EXPECT_FALSE(sel.candidates[0].direct_tls);
}

TEST(srv_selector, dot_inside_a_larger_set_is_dropped) {
    const auto sel = select(
        "example.com", {}, {rec(1, 0, 5222, "."), rec(2, 0, 5222, "real.example.com")}, zero_rng());
    EXPECT_FALSE(sel.no_service);
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"real.example.com"}));

    const auto only_dots =
        select("example.com", {}, {rec(1, 0, 5222, "."), rec(2, 0, 5222, ".")}, zero_rng());
    EXPECT_TRUE(only_dots.no_service);
    EXPECT_TRUE(only_dots.candidates.empty());
}

TEST(srv_selector, trailing_dot_of_targets_is_stripped) {
    const auto sel = select("example.com", {}, {rec(1, 0, 5222, "xmpp.example.com.")}, zero_rng());
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"xmpp.example.com"}));
}

TEST(srv_selector, every_record_appears_exactly_once) {
    std::mt19937 gen(99u);
    const rng random = [&gen](std::uint32_t bound) {
        return std::uniform_int_distribution<std::uint32_t>(0, bound)(gen);
    };
    std::vector<srv_record> xmpp;
    std::vector<srv_record> xmpps;
    for (std::uint16_t i = 0; i < 12; ++i) {
        auto r = rec(static_cast<std::uint16_t>(i % 3), static_cast<std::uint16_t>(i * 7 % 5),
                     static_cast<std::uint16_t>(5000 + i), "h" + std::to_string(i));
        (i % 2 == 0 ? xmpp : xmpps).push_back(r);
    }
    for (int round = 0; round < 50; ++round) {
        const auto sel = select("example.com", xmpps, xmpp, random);
        ASSERT_EQ(sel.candidates.size(), 12u);
        std::map<std::uint16_t, int> seen;
        std::uint16_t last_prio = 0;
        for (const candidate& c : sel.candidates) {
            ++seen[c.port];
            const std::uint16_t i = static_cast<std::uint16_t>(c.port - 5000);
            EXPECT_EQ(c.direct_tls, i % 2 == 1);
            EXPECT_GE(i % 3, last_prio);
            last_prio = static_cast<std::uint16_t>(i % 3);
        }
        EXPECT_EQ(seen.size(), 12u);
    }
}

} // namespace

// Found by tests/fuzz/srv_selector: a target of ".." was dialled as a host named ".".
// Targets with an empty label are dropped; a set of nothing else offers no service.
TEST(srv_selector, malformed_targets_are_dropped) {
    const auto sel = select("example.com", {rec(0, 0, 5223, ".x.example.com")},
                            {rec(0, 0, 5222, ".."), rec(1, 0, 5222, "a..example.com"),
                             rec(2, 0, 5222, "ok.example.com.")},
                            zero_rng());
    EXPECT_FALSE(sel.no_service);
    EXPECT_EQ(hosts(sel.candidates), (std::vector<std::string>{"ok.example.com"}));

    const auto none = select("example.com", {}, {rec(0, 0, 5222, "..")}, zero_rng());
    EXPECT_TRUE(none.no_service);
    EXPECT_TRUE(none.candidates.empty());
}
