// Host names and IP literals as they appear in configuration and in HTTP Host headers.
#include "boshgate/core/host.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <string>

namespace boshgate::core {

namespace {

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

} // namespace

bool is_ipv6_literal(std::string_view text)
{
    // inet_pton rejects zone ids ("fe80::1%eth0"); link-local listeners are out of scope.
    std::array<unsigned char, 16> buf{};
    const std::string s(text);
    return !s.empty() && ::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1;
}

bool is_ip_literal(std::string_view text)
{
    std::array<unsigned char, 16> buf{};
    const std::string s(text);
    if (s.empty()) {
        return false;
    }
    return ::inet_pton(AF_INET, s.c_str(), buf.data()) == 1 || is_ipv6_literal(text);
}

bool is_non_loopback_ip_literal(std::string_view text)
{
    const std::string s(text);
    std::array<unsigned char, 16> buf{};
    if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1) {
        return buf[0] != 127;
    }
    if (::inet_pton(AF_INET6, s.c_str(), buf.data()) != 1) {
        return false;
    }
    static constexpr std::array<unsigned char, 16> loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
    const bool v4_mapped = std::all_of(buf.begin(), buf.begin() + 10, [](unsigned char c) { return c == 0; }) &&
                           buf[10] == 0xff && buf[11] == 0xff;
    return !(buf == loopback || (v4_mapped && buf[12] == 127));
}

bool is_host_name(std::string_view text)
{
    if (!text.empty() && text.back() == '.') {
        text.remove_suffix(1);
    }
    if (text.empty() || text.size() > 253) {
        return false;
    }
    std::size_t label = 0;
    bool label_numeric = true;
    char prev = '.';
    for (const char c : text) {
        if (c == '.') {
            if (label == 0 || prev == '-') {
                return false;
            }
            label = 0;
            label_numeric = true;
        } else if (is_alnum(c) || c == '-' || c == '_') {
            // '_' is not a host name character, but it occurs in real internal names and in
            // SRV owner names; accepting it costs nothing since the resolver decides.
            if (c == '-' && label == 0) {
                return false;
            }
            if (++label > 63) {
                return false;
            }
            label_numeric = label_numeric && is_digit(c);
        } else {
            return false;
        }
        prev = c;
    }
    // RFC 1123 §2.1: the top-level label is not all-numeric, so "10.0.0.300" is a broken IPv4
    // address rather than a name.
    return prev != '-' && !label_numeric;
}

} // namespace boshgate::core
