#include "boshgate/metrics/registry.hpp"

namespace boshgate::metrics {

registry& global()
{
    static registry r;
    return r;
}

std::string exposition(const registry& r)
{
    std::string out;
#define BOSHGATE_METRIC_TEXT(name, kind, help)                                                   \
    out += "# HELP boshgate_" #name " " help "\n# TYPE boshgate_" #name " " #kind "\n";          \
    out += std::string("boshgate_" #name) + (std::string_view(#kind) == "counter" ? "_total " : " ") + \
           std::to_string(r.name.load(std::memory_order_relaxed)) + "\n";
    BOSHGATE_METRICS(BOSHGATE_METRIC_TEXT)
#undef BOSHGATE_METRIC_TEXT
    out += "# EOF\n";
    return out;
}

} // namespace boshgate::metrics
