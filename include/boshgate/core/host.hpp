#pragma once
// Host names and IP literals as they appear in configuration and in HTTP Host headers.
#include <string_view>

namespace boshgate::core {

/// True for a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", no brackets) address.
bool is_ip_literal(std::string_view text);
/// An IP literal that is not a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z).
bool is_non_loopback_ip_literal(std::string_view text);
/// True for a numeric IPv6 address (no brackets).
bool is_ipv6_literal(std::string_view text);

/// True for a DNS host name: dot-separated labels of 1..63 letters, digits and '-' (not at a
/// label's start or end), at most 253 characters, an optional trailing dot not counted.
bool is_host_name(std::string_view text);

} // namespace boshgate::core
