#pragma once
// ASCII text helpers shared by the protocol modules (no locale: protocol tokens only).
#include <string_view>

namespace boshgate::core {

constexpr char ascii_lower(char c) noexcept
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Case-insensitive comparison of ASCII letters (media types, charsets, encodings).
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

} // namespace boshgate::core
