#include "boshgate/core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace boshgate::core {

// BOSH-RESP-1: sids are unpredictable (>= 128 bits from a CSPRNG), unique, not sequential.
TEST(ids, sid_is_160_bit_hex_and_unique)
{
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        auto sid = random_sid();
        ASSERT_EQ(sid.size(), 40u);
        ASSERT_EQ(sid.find_first_not_of("0123456789abcdef"), std::string::npos);
        ASSERT_TRUE(seen.insert(sid).second) << "duplicate sid";
    }
}

TEST(ids, session_tags_are_short_and_distinct)
{
    auto a = next_session_tag('b');
    auto b = next_session_tag('b');
    EXPECT_NE(a, b);
    EXPECT_EQ(a.front(), 'b');
    EXPECT_LT(a.size(), 12u);
}

// Expat's hash salt: one secret per process, never 0 (0 would make expat draw its own).
TEST(ids, process_hash_salt_is_nonzero_and_stable)
{
    const unsigned long salt = process_hash_salt();
    EXPECT_NE(salt, 0ul);
    EXPECT_EQ(process_hash_salt(), salt);
}

} // namespace boshgate::core
