// Fuzz target: dns::select, which merges _xmpps-client and _xmpp-client SRV answers (an
// attacker controlling a domain's DNS controls these records) into the dialling order.
// Invariants (abort on violation): priorities ascend within each kind's records as dialled;
// every candidate comes from a distinct input record (or is the domain:5222 fallback when
// there are no records); no_service leaves no candidate; no candidate names "." or "".
#include "boshgate/dns/srv_selector.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace boshgate::dns;
    FuzzedDataProvider in(data, size);
    auto records = [&](std::size_t max) {
        std::vector<srv_record> out(in.ConsumeIntegralInRange<std::size_t>(0, max));
        for (auto& r : out) {
            r.priority = in.ConsumeIntegralInRange<std::uint16_t>(0, 3);
            r.weight = in.ConsumeIntegral<std::uint16_t>();
            r.port = in.ConsumeIntegral<std::uint16_t>();
            switch (in.ConsumeIntegralInRange<int>(0, 3)) {
            case 0: r.target = "."; break;
            case 1: r.target = ""; break;
            case 2: r.target = "xmpp" + std::to_string(in.ConsumeIntegralInRange<int>(0, 5)) + ".example."; break;
            default: r.target = in.ConsumeRandomLengthString(16); break;
            }
        }
        return out;
    };
    const auto xmpps = records(6);
    const auto xmpp = records(6);
    const auto sel = select("example.com", xmpps, xmpp, [&](std::uint32_t bound) {
        return in.ConsumeIntegralInRange<std::uint32_t>(0, bound);
    });
    if (std::getenv("FUZZ_DEBUG") != nullptr) { // triage: print what was selected
        for (const auto* set : {&xmpps, &xmpp}) {
            for (const auto& r : *set) {
                std::fprintf(stderr, "%s prio %u weight %u port %u target '%s'\n", set == &xmpps ? "xmpps" : "xmpp",
                             r.priority, r.weight, r.port, r.target.c_str());
            }
        }
        for (const auto& c : sel.candidates) {
            std::fprintf(stderr, "-> %s:%u tls=%d\n", c.host.c_str(), c.port, c.direct_tls ? 1 : 0);
        }
        std::fprintf(stderr, "no_service=%d\n", sel.no_service ? 1 : 0);
    }
    if (sel.no_service && !sel.candidates.empty()) {
        std::abort();
    }
    if (xmpps.empty() && xmpp.empty()) {
        if (sel.candidates.size() != 1 || sel.candidates[0].host != "example.com" || sel.candidates[0].port != 5222 ||
            sel.candidates[0].direct_tls) {
            std::abort(); // RFC 6120 §3.2.2 fallback
        }
        return 0;
    }
    // Each candidate consumes one matching input record (host without its trailing dot).
    std::multimap<std::tuple<bool, std::string, std::uint16_t>, std::uint16_t> pool; // -> priority
    for (const auto* set : {&xmpps, &xmpp}) {
        for (const auto& r : *set) {
            std::string host = r.target;
            if (!host.empty() && host.back() == '.') {
                host.pop_back();
            }
            pool.emplace(std::make_tuple(set == &xmpps, host, r.port), r.priority);
        }
    }
    int last_priority[2] = {-1, -1};
    for (const auto& c : sel.candidates) {
        if (c.host.empty() || c.host == ".") {
            std::abort();
        }
        // Among identical records take the lowest priority that keeps the order.
        const auto key = std::make_tuple(c.direct_tls, c.host, c.port);
        int& last = last_priority[c.direct_tls ? 0 : 1];
        auto it = pool.end();
        for (auto j = pool.lower_bound(key); j != pool.upper_bound(key); ++j) {
            if (j->second >= last && (it == pool.end() || j->second < it->second)) {
                it = j;
            }
        }
        if (it == pool.end()) {
            std::abort(); // a candidate no record named, dialled twice, or out of priority order
        }
        last = it->second;
        pool.erase(it);
    }
    return 0;
}
