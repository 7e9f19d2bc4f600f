#pragma once
// Value syntaxes of the config file and the command line, as pure functions (no I/O).
// The loader and the flag overrides share them, so "5s" or "[::1]:5280" mean the same in
// both places. Each parser returns the value or a one-line reason ready to print.
#include "boshgate/core/host.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace boshgate::config {

/// A parse failure: a one-line, human-readable reason (no location; the caller adds it).
struct value_error {
    std::string message;
};

/// Lets result<T, value_error>::value() throw (std::invalid_argument with the message).
[[noreturn]] void throw_exception_from_error(const value_error& e, const boost::source_location& loc);

/// "<int><unit>" with unit ms|s|m|h|d, e.g. "500ms", "5s", "2m", "1h", "1d". No sign, no
/// spaces, no fraction; at least one digit. Fails on overflow of the millisecond count.
boost::system::result<std::chrono::milliseconds, value_error> parse_duration(std::string_view text);

/// Canonical spelling of a duration with the largest exact unit ("90s" -> "90s", 60000ms -> "1m").
std::string format_duration(std::chrono::milliseconds d);

// Host names and IP literals: boshgate/core/host.hpp (shared with the HTTP front).
using core::is_host_name;
using core::is_ip_literal;
using core::is_ipv6_literal;
using core::is_non_loopback_ip_literal;

/// "host:port" split. The host is an IPv4 literal, a host name, or an IPv6 literal in
/// brackets ("[::1]:5222"; the brackets are dropped from `host`).
struct host_port {
    std::string host;
    std::uint16_t port = 0;
};

/// Which hosts parse_host_port accepts.
enum class host_kind {
    ip_only,      ///< numeric addresses only (listeners, DNS server)
    name_or_ip,   ///< also DNS host names (upstream targets)
};

/// Parse "host:port". `min_port` is 0 where "any free port" makes sense (listeners) and 1
/// otherwise; the port is decimal without sign, at most 65535.
boost::system::result<host_port, value_error> parse_host_port(std::string_view text, host_kind kind,
                                                              std::uint16_t min_port = 1);

/// "host:port" with brackets around IPv6 hosts (the inverse of parse_host_port).
std::string format_host_port(std::string_view host, std::uint16_t port);

} // namespace boshgate::config
