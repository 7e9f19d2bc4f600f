#pragma once
// Flow control between two peers of one session (SEC-FLOW-1..3): the bytes queued for a
// slow receiver are counted; crossing the high-water mark pauses the sender (the gateway
// stops reading it), falling to the low-water mark resumes it. Hysteresis keeps a
// receiver that drains slowly from toggling the sender on every write. Pure.
#include <algorithm>
#include <cstddef>

namespace boshgate::limits {

class watermark {
public:
    enum class change { none, pause, resume };

    /// `low` is clamped to at most `high`; high = 0 pauses as soon as anything is queued.
    watermark(std::size_t high, std::size_t low) noexcept : high_(high), low_(std::min(low, high)) {}

    /// `n` bytes were queued: pause when the total goes above high water.
    change add(std::size_t n) noexcept
    {
        bytes_ += n;
        if (!paused_ && bytes_ > high_) {
            paused_ = true;
            return change::pause;
        }
        return change::none;
    }

    /// `n` bytes left the queue (written, or dropped): resume at or below low water.
    change remove(std::size_t n) noexcept
    {
        bytes_ -= std::min(n, bytes_);
        if (paused_ && bytes_ <= low_) {
            paused_ = false;
            return change::resume;
        }
        return change::none;
    }

    /// Set the total (for queues whose size is only known as a whole).
    change set(std::size_t total) noexcept
    {
        return total >= bytes_ ? add(total - bytes_) : remove(bytes_ - total);
    }

    std::size_t bytes() const noexcept { return bytes_; }
    bool paused() const noexcept { return paused_; }
    std::size_t high() const noexcept { return high_; }
    std::size_t low() const noexcept { return low_; }

private:
    std::size_t high_;
    std::size_t low_;
    std::size_t bytes_ = 0;
    bool paused_ = false;
};

} // namespace boshgate::limits
