// SEC-FLOW-1..3: the pause/resume hysteresis every per-session queue uses.
#include "boshgate/limits/watermark.hpp"

#include <gtest/gtest.h>

namespace boshgate::limits {
namespace {

using change = watermark::change;

TEST(watermark, pauses_only_above_high_water)
{
    watermark w(100, 40);
    EXPECT_EQ(w.add(100), change::none); // at high water: still flowing
    EXPECT_FALSE(w.paused());
    EXPECT_EQ(w.add(1), change::pause);
    EXPECT_TRUE(w.paused());
    EXPECT_EQ(w.add(500), change::none); // already paused: reported once
    EXPECT_EQ(w.bytes(), 601u);
}

TEST(watermark, resumes_at_low_water_not_before)
{
    watermark w(100, 40);
    w.add(150);
    EXPECT_EQ(w.remove(100), change::none); // 50 left: between the marks, still paused
    EXPECT_TRUE(w.paused());
    EXPECT_EQ(w.remove(10), change::resume); // 40: at low water
    EXPECT_FALSE(w.paused());
    EXPECT_EQ(w.remove(40), change::none); // already flowing
    EXPECT_EQ(w.bytes(), 0u);
}

TEST(watermark, hysteresis_between_the_marks)
{
    watermark w(100, 40);
    w.add(101);
    w.remove(61); // resumed at 40
    EXPECT_EQ(w.add(50), change::none); // 90: below high, no new pause
    EXPECT_EQ(w.add(11), change::pause);
}

TEST(watermark, removing_more_than_queued_clamps_to_zero)
{
    watermark w(10, 5);
    w.add(3);
    EXPECT_EQ(w.remove(100), change::none);
    EXPECT_EQ(w.bytes(), 0u);
}

TEST(watermark, low_above_high_is_clamped)
{
    watermark w(10, 50);
    EXPECT_EQ(w.low(), 10u);
    w.add(11);
    EXPECT_EQ(w.remove(1), change::resume); // 10 == low
}

TEST(watermark, zero_high_water_pauses_on_any_byte)
{
    watermark w(0, 0);
    EXPECT_EQ(w.add(0), change::none);
    EXPECT_EQ(w.add(1), change::pause);
    EXPECT_EQ(w.remove(1), change::resume);
}

TEST(watermark, set_moves_either_way)
{
    watermark w(100, 40);
    EXPECT_EQ(w.set(120), change::pause);
    EXPECT_EQ(w.set(80), change::none);
    EXPECT_EQ(w.set(30), change::resume);
    EXPECT_EQ(w.bytes(), 30u);
}

} // namespace
} // namespace boshgate::limits
