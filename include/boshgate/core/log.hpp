#pragma once
// Logging goes through spdlog (Debian's libspdlog-dev): one process-wide logger named
// "boshgate". Session-scoped lines carry the session's short tag (core::next_session_tag),
// never a full sid, a password or a SASL payload.
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace boshgate::core {

/// Configure the process logger. level: trace|debug|info|warn|error|off.
/// Throws std::invalid_argument on an unknown level (start-up only).
void init_logging(std::string_view level);

/// The process logger (created with defaults on first use).
spdlog::logger& log();

} // namespace boshgate::core
