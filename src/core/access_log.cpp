// The per-session access line (see access_log.hpp).
#include "boshgate/core/access_log.hpp"

#include <fmt/format.h>

namespace boshgate::core {

std::string access_line(std::string_view tag, std::string_view transport, std::string_view client,
                        std::string_view domain, std::chrono::milliseconds duration, const session_totals& t,
                        std::string_view end)
{
    const auto or_dash = [](std::string_view s) { return s.empty() ? std::string_view("-") : s; };
    return fmt::format("{} access transport={} client={} domain={} duration={}.{:03}s up={}/{} down={}/{} end={}", tag,
                       transport, or_dash(client), or_dash(domain), duration.count() / 1000, duration.count() % 1000,
                       t.up_elements, t.up_bytes, t.down_elements, t.down_bytes, or_dash(end));
}

} // namespace boshgate::core
