#pragma once
// The only place that reads a clock. Protocol engines take `now` as an argument and expose
// next_deadline(); adapters read core::steady_clock; tests drive a fake clock.
#include <chrono>

namespace boshgate::core {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using duration = clock_type::duration;

/// Source of monotonic time. Thread-safe implementations only.
class clock {
public:
    virtual ~clock() = default;
    virtual time_point now() const = 0;
};

/// Production clock: std::chrono::steady_clock.
class steady_clock final : public clock {
public:
    time_point now() const override { return clock_type::now(); }
};

} // namespace boshgate::core
