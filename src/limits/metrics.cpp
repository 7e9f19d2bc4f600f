#include "boshgate/limits/metrics.hpp"

#include "boshgate/metrics/registry.hpp"

namespace boshgate::limits {

void record_refusal(refusal r) noexcept
{
    auto& m = metrics::global();
    switch (r) {
    case refusal::none:
        return;
    case refusal::global_connections:
        ++m.limits_refused_connections;
        return;
    case refusal::address_connections:
        ++m.limits_refused_address_connections;
        return;
    case refusal::global_sessions:
        ++m.limits_refused_sessions;
        return;
    case refusal::address_sessions:
        ++m.limits_refused_address_sessions;
        return;
    case refusal::address_rate:
        ++m.limits_refused_address_rate;
        return;
    }
}

} // namespace boshgate::limits
