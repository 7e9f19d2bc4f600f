#pragma once
#include "boshgate/core/clock.hpp"

namespace boshgate::test {

/// Manually advanced clock for sans-I/O engine tests: no test sleeps.
class fake_clock final : public core::clock {
public:
    core::time_point now() const override { return now_; }
    void advance(core::duration d) { now_ += d; }

private:
    core::time_point now_{std::chrono::hours(1000)};
};

} // namespace boshgate::test
