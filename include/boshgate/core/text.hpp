#pragma once
// ASCII text helpers shared by the protocol modules (no locale: protocol tokens only).
#include <cstddef>
#include <string>
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

/// Length of the well-formed UTF-8 scalar value at the start of `s` (n bytes available), or
/// 0 if there is none there: RFC 3629, no overlongs, no surrogates, nothing above U+10FFFF,
/// not truncated.
constexpr std::size_t utf8_scalar_length(const unsigned char* s, std::size_t n) noexcept
{
    if (n == 0) {
        return 0;
    }
    const unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c == 0xE0) {
        len = 3;
        lo = 0xA0;
    } else if (c == 0xED) {
        len = 3;
        hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF) {
        len = 3;
    } else if (c == 0xF0) {
        len = 4;
        lo = 0x90;
    } else if (c == 0xF4) {
        len = 4;
        hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3) {
        len = 4;
    } else {
        return 0; // continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < len; ++i) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

/// Offset of the first byte of `text` that does not start a well-formed UTF-8 scalar value
/// (see utf8_scalar_length), or npos when all of `text` is UTF-8.
inline std::size_t first_invalid_utf8(std::string_view text) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t len = utf8_scalar_length(p + i, text.size() - i);
        if (len == 0) {
            return i;
        }
        i += len;
    }
    return std::string_view::npos;
}

/// `s` as a JSON string literal (RFC 8259 §7), quotes included: '"' and '\\' escaped,
/// control characters as \\u00XX, and bytes that are not well-formed UTF-8 replaced by U+FFFD
/// so that the result is always valid JSON.
std::string json_quote(std::string_view s);

} // namespace boshgate::core
