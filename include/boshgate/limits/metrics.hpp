#pragma once
// Counting refusals in the process metrics (one counter per reason), so that every limit is
// visible in /metrics. Kept out of the policy itself so the policy stays free of globals.
#include "boshgate/limits/admission.hpp"

namespace boshgate::limits {

/// Increment the limits_refused_* counter for `r` (nothing for refusal::none).
void record_refusal(refusal r) noexcept;

} // namespace boshgate::limits
