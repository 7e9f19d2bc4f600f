// Command-line overrides: validated with the same value parsers as the file, applied all or
// nothing.
#include "boshgate/config/config.hpp"
#include "boshgate/config/values.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace boshgate::config {

std::vector<load_error> apply_overrides(config& cfg, const overrides& ov)
{
    std::vector<load_error> errors;
    config next = cfg;

    if (!ov.listen.empty()) {
        std::vector<http::listen_options> listeners;
        for (const auto& text : ov.listen) {
            auto hp = parse_host_port(text, host_kind::ip_only, /*min_port=*/0);
            if (!hp) {
                errors.push_back({"--listen", hp.error().message});
                continue;
            }
            const bool duplicate = hp->port != 0 && std::any_of(listeners.begin(), listeners.end(), [&](const auto& l) {
                return l.address == hp->host && l.port == hp->port;
            });
            if (duplicate) {
                errors.push_back({"--listen", format_host_port(hp->host, hp->port) + " is given twice"});
                continue;
            }
            http::listen_options l; // plain HTTP, default backlog: the file's TLS keys belong to its own listeners
            l.address = hp->host;
            l.port = hp->port;
            listeners.push_back(std::move(l));
        }
        next.http.listen = std::move(listeners);
    }

    if (ov.log_level) {
        constexpr std::array<std::string_view, 6> levels{"trace", "debug", "info", "warn", "error", "off"};
        if (std::find(levels.begin(), levels.end(), *ov.log_level) == levels.end()) {
            errors.push_back({"--log-level", "must be one of trace, debug, info, warn, error, off (got \"" +
                                                 *ov.log_level + "\")"});
        } else {
            next.server.log_level = *ov.log_level;
        }
    }

    if (ov.threads) {
        if (*ov.threads < 0 || *ov.threads > 1024) {
            errors.push_back({"--threads", "must be between 0 and 1024 (got " + std::to_string(*ov.threads) + ")"});
        } else {
            next.server.threads = static_cast<unsigned>(*ov.threads);
        }
    }

    if (errors.empty()) {
        cfg = std::move(next);
    }
    return errors;
}

} // namespace boshgate::config
