#pragma once
// One line per ended session for operators and log shippers (issue 10): who, where to, how
// long, how much each way, and how it ended. Pure: the sessions count, this formats.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace boshgate::core {

/// What a session carried. "up" is client to server, "down" server to client; elements are
/// top-level XML elements (stanzas and nonzas), bytes their serialized size.
struct session_totals {
    std::uint64_t up_elements = 0;
    std::uint64_t up_bytes = 0;
    std::uint64_t down_elements = 0;
    std::uint64_t down_bytes = 0;

    void up(std::uint64_t elements, std::uint64_t bytes)
    {
        up_elements += elements;
        up_bytes += bytes;
    }
    void down(std::uint64_t bytes)
    {
        ++down_elements;
        down_bytes += bytes;
    }
};

/// "<tag> access transport=bosh client=198.51.100.7 domain=example.com duration=12.345s
/// up=4/812 down=9/3456 end=terminate" (up/down: elements/bytes). Empty client or domain
/// print as "-"; values are written as given (tags, addresses, domains and conditions hold no
/// spaces).
std::string access_line(std::string_view tag, std::string_view transport, std::string_view client,
                        std::string_view domain, std::chrono::milliseconds duration, const session_totals& t,
                        std::string_view end);

} // namespace boshgate::core
