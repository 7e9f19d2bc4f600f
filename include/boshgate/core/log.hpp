#pragma once
// Logging goes through spdlog (Debian's libspdlog-dev): one process-wide logger named
// "boshgate". Session-scoped lines carry the session's short tag (core::next_session_tag),
// never a full sid, a password or a SASL payload.
#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <string_view>

namespace boshgate::core {

/// Configure the process logger. level: trace|debug|info|warn|error|off. format: "text"
/// ("2026-12-04T12:00:00.123 info message") or "json" (one object per line: time (UTC, ISO
/// 8601), level, msg; for log shippers). Throws std::invalid_argument on an unknown level or
/// format (start-up only).
void init_logging(std::string_view level, std::string_view format = "text");

/// The JSON line for one record (exposed for tests): {"time":"...Z","level":"info","msg":"..."}
/// with the message escaped per RFC 8259 (quotes, backslash, control characters; bytes that
/// are not valid UTF-8 become U+FFFD).
std::string json_log_line(std::chrono::system_clock::time_point when, spdlog::level::level_enum level,
                          std::string_view msg);

/// The process logger (created with defaults on first use).
spdlog::logger& log();

} // namespace boshgate::core
