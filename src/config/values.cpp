#include "boshgate/config/values.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

namespace boshgate::config {

namespace {

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

value_error fail(std::string message)
{
    return value_error{std::move(message)};
}

std::string in_quotes(std::string_view text)
{
    return "\"" + std::string(text) + "\"";
}

} // namespace

void throw_exception_from_error(const value_error& e, const boost::source_location&)
{
    throw std::invalid_argument(e.message);
}

boost::system::result<std::chrono::milliseconds, value_error> parse_duration(std::string_view text)
{
    const auto syntax = [&] {
        return fail("invalid duration " + in_quotes(text) +
                    ": expected a whole number and a unit (ms, s, m, h, d), e.g. \"5s\"");
    };
    std::size_t i = 0;
    std::int64_t n = 0;
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    while (i < text.size() && is_digit(text[i])) {
        const auto digit = static_cast<std::int64_t>(text[i] - '0');
        if (n > (max - digit) / 10) {
            return fail("duration " + in_quotes(text) + " is too large");
        }
        n = n * 10 + digit;
        ++i;
    }
    if (i == 0) {
        return syntax();
    }
    const std::string_view unit = text.substr(i);
    std::int64_t scale = 0;
    if (unit == "ms") {
        scale = 1;
    } else if (unit == "s") {
        scale = 1000;
    } else if (unit == "m") {
        scale = 60 * 1000;
    } else if (unit == "h") {
        scale = 3600 * 1000;
    } else if (unit == "d") {
        scale = 24 * 3600 * 1000;
    } else {
        return syntax();
    }
    if (n > max / scale) {
        return fail("duration " + in_quotes(text) + " is too large");
    }
    return std::chrono::milliseconds(n * scale);
}

std::string format_duration(std::chrono::milliseconds d)
{
    const auto ms = d.count();
    struct unit {
        std::int64_t scale;
        const char* name;
    };
    constexpr std::array<unit, 4> units{{{24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"},
                                         {1000, "s"}}};
    if (ms != 0) {
        for (const auto& u : units) {
            if (ms % u.scale == 0) {
                return std::to_string(ms / u.scale) + u.name;
            }
        }
        return std::to_string(ms) + "ms";
    }
    return "0s";
}

boost::system::result<host_port, value_error> parse_host_port(std::string_view text, host_kind kind,
                                                              std::uint16_t min_port)
{
    const std::string_view expected =
        kind == host_kind::ip_only ? "expected \"IP:PORT\" (IPv6 as \"[::1]:PORT\")"
                                   : "expected \"HOST:PORT\" (IPv6 as \"[::1]:PORT\")";
    const auto syntax = [&] { return fail("invalid address " + in_quotes(text) + ": " + std::string(expected)); };

    host_port out;
    std::string_view rest;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return syntax();
        }
        const auto host = text.substr(1, close - 1);
        if (!is_ipv6_literal(host)) {
            return fail("invalid address " + in_quotes(text) + ": " + in_quotes(host) + " is not an IPv6 address");
        }
        out.host = std::string(host);
        rest = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            return syntax();
        }
        const auto host = text.substr(0, colon);
        if (host.find(':') != std::string_view::npos) {
            return fail("invalid address " + in_quotes(text) + ": IPv6 addresses need brackets, e.g. \"[::1]:5280\"");
        }
        std::array<unsigned char, 4> buf{};
        const std::string h(host);
        const bool ipv4 = ::inet_pton(AF_INET, h.c_str(), buf.data()) == 1;
        if (!ipv4) {
            if (kind == host_kind::ip_only) {
                return fail("invalid address " + in_quotes(text) + ": " + in_quotes(host) +
                            " is not a numeric IP address");
            }
            if (!is_host_name(host)) {
                return fail("invalid address " + in_quotes(text) + ": " + in_quotes(host) + " is not a valid host name");
            }
        }
        out.host = h;
        rest = text.substr(colon + 1);
    }
    if (rest.empty() || rest.size() > 5) {
        return syntax();
    }
    unsigned port = 0;
    for (const char c : rest) {
        if (!is_digit(c)) {
            return syntax();
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port < min_port || port > 65535) {
        return fail("invalid address " + in_quotes(text) + ": port must be between " + std::to_string(min_port) +
                    " and 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
    return out;
}

std::string format_host_port(std::string_view host, std::uint16_t port)
{
    if (host.find(':') != std::string_view::npos) {
        return "[" + std::string(host) + "]:" + std::to_string(port);
    }
    return std::string(host) + ":" + std::to_string(port);
}

} // namespace boshgate::config
