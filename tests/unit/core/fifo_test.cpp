#include "boshgate/core/fifo.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace boshgate::core {

// Issue 9: an idle session's queues hold no storage.
TEST(fifo, empty_queue_holds_no_storage)
{
    fifo<std::string> q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.capacity(), 0u);
    q.push_back("one");
    EXPECT_GT(q.capacity(), 0u);
    q.pop_front();
    EXPECT_TRUE(q.empty());
    EXPECT_LE(q.capacity(), fifo<std::string>::kept_capacity);
}

TEST(fifo, release_if_empty_frees_the_kept_storage_and_nothing_else)
{
    fifo<std::string> q;
    q.push_back("one");
    q.push_back("two");
    q.release_if_empty(); // not empty: untouched
    ASSERT_EQ(q.size(), 2u);
    EXPECT_EQ(q.front(), "one");
    q.pop_front();
    q.pop_front();
    EXPECT_GT(q.capacity(), 0u); // kept for reuse by clear()
    q.release_if_empty();
    EXPECT_EQ(q.capacity(), 0u);
    q.push_back("three"); // usable again
    EXPECT_EQ(q.front(), "three");
}

TEST(fifo, a_burst_gives_its_storage_back_once_drained)
{
    fifo<std::string> q;
    for (int i = 0; i < 1000; ++i) {
        q.push_back(std::to_string(i));
    }
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(q.front(), std::to_string(i));
        q.pop_front();
    }
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.capacity(), 0u);
}

// Same order and contents as std::deque under random pushes, pops, clears and iteration.
TEST(fifo, behaves_like_a_deque)
{
    std::mt19937 rng(7);
    fifo<std::string> q;
    std::deque<std::string> ref;
    int next = 0;
    for (int step = 0; step < 200000; ++step) {
        const auto r = rng() % 100;
        if (r < 55) {
            q.push_back(std::to_string(next));
            ref.push_back(std::to_string(next));
            ++next;
        } else if (r < 99) {
            if (!ref.empty()) {
                ASSERT_EQ(q.front(), ref.front());
                q.pop_front();
                ref.pop_front();
            }
        } else {
            q.clear();
            ref.clear();
        }
        ASSERT_EQ(q.size(), ref.size());
        ASSERT_EQ(q.empty(), ref.empty());
        if (!ref.empty()) {
            ASSERT_EQ(q.back(), ref.back());
        }
        if (step % 997 == 0) {
            ASSERT_EQ(std::vector<std::string>(q.begin(), q.end()), std::vector<std::string>(ref.begin(), ref.end()));
        }
    }
}

// A queue that never drains (a steady trickle through a slow writer) stays bounded by its
// live items: consumed slots are compacted away.
TEST(fifo, a_queue_that_never_drains_stays_bounded)
{
    fifo<int> q;
    for (int i = 0; i < 10; ++i) {
        q.push_back(i);
    }
    for (int i = 10; i < 100000; ++i) {
        q.push_back(i);
        ASSERT_EQ(q.front(), i - 10);
        q.pop_front();
        ASSERT_EQ(q.size(), 10u);
        ASSERT_LE(q.capacity(), 128u) << "after " << i << " items";
    }
}

// A popped item is destroyed at once, as std::deque::pop_front does: a queue of owners does
// not keep what it handed out alive.
TEST(fifo, popped_items_are_released_at_once)
{
    fifo<std::shared_ptr<int>> q;
    auto first = std::make_shared<int>(1);
    std::weak_ptr<int> watch = first;
    q.push_back(std::move(first));
    q.push_back(std::make_shared<int>(2));
    q.pop_front();
    EXPECT_TRUE(watch.expired());
    EXPECT_EQ(*q.front(), 2);
}

} // namespace boshgate::core
