#include "boshgate/core/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <stdexcept>

namespace boshgate::core {

std::string random_sid()
{
    std::array<unsigned char, 20> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(raw.size() * 2);
    for (unsigned char c : raw) {
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0x0f]);
    }
    return out;
}

std::string next_session_tag(char kind)
{
    static std::atomic<std::uint64_t> serial{0};
    return std::string(1, kind) + std::to_string(++serial);
}

} // namespace boshgate::core
