#pragma once
// A first-in first-out queue that costs nothing while empty (issue 9). Every session holds one
// or two queues for its whole life, and they are empty almost all the time; an empty
// std::deque (libstdc++) still holds its 8-slot map and one 512-byte node, ~570 bytes per
// queue. This one is a vector and the index of its front: it allocates on the first push,
// and gives its storage back whenever it drains after a burst. Popped items are destroyed at
// once (reset to a default-constructed value), as std::deque would, so a queue of
// shared_ptr does not keep anything alive. Pure code.
#include <cstddef>
#include <utility>
#include <vector>

namespace boshgate::core {

template <class T>
class fifo {
public:
    /// Storage kept after draining: a session that queues one item at a time reuses it; a
    /// burst's larger vector is freed.
    static constexpr std::size_t kept_capacity = 4;
    /// Consumed slots at the front are compacted away once there are this many and they are
    /// at least half the vector (a queue that never drains stays bounded by its live items).
    static constexpr std::size_t compact_after = 32;

    [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
    [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
    /// The allocated slots (for tests and for accounting).
    [[nodiscard]] std::size_t capacity() const noexcept { return items_.capacity(); }

    T& front() { return items_[head_]; }
    const T& front() const { return items_[head_]; }
    T& back() { return items_.back(); }

    void push_back(T&& v) { items_.push_back(std::move(v)); }
    void push_back(const T& v) { items_.push_back(v); }

    void pop_front()
    {
        items_[head_] = T{};
        ++head_;
        if (head_ == items_.size()) {
            clear();
        } else if (head_ >= compact_after && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

    void clear() noexcept
    {
        if (items_.capacity() > kept_capacity) {
            std::vector<T>().swap(items_);
        } else {
            items_.clear();
        }
        head_ = 0;
    }

    /// An empty queue gives back the storage clear() keeps for reuse (an idle session's
    /// sweep); a queue with items is left as it is.
    void release_if_empty() noexcept
    {
        if (empty()) {
            std::vector<T>().swap(items_);
            head_ = 0;
        }
    }

    auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() { return items_.end(); }
    auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() const { return items_.end(); }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

} // namespace boshgate::core
