// Fuzz target: what a proxy or a client says about the client's address, all attacker
// controlled on an exposed listener: the PROXY protocol header (v1 text, v2 binary) and the
// Forwarded / X-Forwarded-For values.
// Invariants (abort on violation): parse() never claims bytes it was not given (complete:
// 0 < consumed <= size; need_more: need > size); feeding a complete header's own bytes again
// gives the same result; a v2 header written for two endpoints parses back to them;
// forwarded_client() answers the peer itself when the peer is untrusted.
#include "boshgate/http/forwarded.hpp"
#include "boshgate/http/proxy_protocol.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

namespace pp = boshgate::http::proxy_protocol;
namespace ip = boost::asio::ip;

void check_parse(const std::string& bytes)
{
    const std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    const auto r = pp::parse(in);
    switch (r.what) {
    case pp::parse_result::status::complete: {
        if (r.consumed == 0 || r.consumed > bytes.size()) {
            std::abort();
        }
        const auto again = pp::parse(in.first(r.consumed));
        if (again.what != r.what || again.consumed != r.consumed || again.hdr.source != r.hdr.source) {
            std::abort();
        }
        break;
    }
    case pp::parse_result::status::need_more:
        if (r.need <= bytes.size()) {
            std::abort();
        }
        break;
    case pp::parse_result::status::invalid:
        if (r.error.empty()) {
            std::abort();
        }
        break;
    }
}

ip::tcp::endpoint endpoint_from(FuzzedDataProvider& in)
{
    const auto port = in.ConsumeIntegral<std::uint16_t>();
    if (in.ConsumeBool()) {
        ip::address_v4::bytes_type b{};
        for (auto& x : b) {
            x = in.ConsumeIntegral<std::uint8_t>();
        }
        return {ip::address_v4(b), port};
    }
    ip::address_v6::bytes_type b{};
    for (auto& x : b) {
        x = in.ConsumeIntegral<std::uint8_t>();
    }
    return {ip::address_v6(b), port};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: // raw bytes, possibly with a real prefix
        check_parse(in.ConsumeRemainingBytesAsString());
        break;
    case 1: { // v1 / v2 prefixes with fuzzed tails
        std::string s = in.ConsumeBool() ? std::string("PROXY ") : std::string(pp::v2_signature);
        s += in.ConsumeRemainingBytesAsString();
        check_parse(s);
        break;
    }
    case 2: { // what we write parses back
        const auto src = endpoint_from(in);
        const auto dst = endpoint_from(in);
        const std::string hdr = pp::make_v2(src, dst);
        const auto r = pp::parse(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(hdr.data()), hdr.size()));
        if (r.what != pp::parse_result::status::complete || !r.hdr.source) {
            std::abort();
        }
        const bool both_v4 = src.address().is_v4() && dst.address().is_v4();
        if (both_v4 && (*r.hdr.source != src || *r.hdr.destination != dst)) {
            std::abort();
        }
        if (r.hdr.source->port() != src.port()) {
            std::abort();
        }
        break;
    }
    default: { // forwarding headers
        std::vector<std::string> cidrs;
        for (auto n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) {
            cidrs.push_back(in.ConsumeRandomLengthString(24));
        }
        std::string why;
        const auto trusted = boshgate::http::trusted_networks::parse(cidrs, why).value_or(boshgate::http::trusted_networks{});
        const auto peer = endpoint_from(in).address();
        const auto fwd = in.ConsumeRandomLengthString(128);
        const auto xff = in.ConsumeRandomLengthString(128);
        const bool use_fwd = in.ConsumeBool();
        const auto client = boshgate::http::forwarded_client(
            peer, use_fwd ? std::optional<std::string_view>(fwd) : std::nullopt, std::optional<std::string_view>(xff),
            trusted);
        if (!trusted.contains(peer) && client != peer) {
            std::abort();
        }
        break;
    }
    }
    return 0;
}
