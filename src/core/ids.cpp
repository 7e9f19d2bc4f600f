#include "boshgate/core/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstdio>
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

unsigned long process_hash_salt()
{
    static const unsigned long salt = [] {
        unsigned long v = 0;
        while (v == 0) { // 0 means "draw one" to expat
            if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), static_cast<int>(sizeof v)) != 1) {
                throw std::runtime_error("RAND_bytes failed");
            }
        }
        return v;
    }();
    return salt;
}

std::string next_session_tag(char kind)
{
    static std::atomic<std::uint64_t> serial{0};
    // snprintf rather than string concatenation: g++ 12 at -O3 reports a false -Wrestrict
    // on `std::string(1, c) + std::to_string(n)`.
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%c%llu", kind,
                          static_cast<unsigned long long>(++serial));
    return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

} // namespace boshgate::core
