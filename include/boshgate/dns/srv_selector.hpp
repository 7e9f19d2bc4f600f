#pragma once
// Pure RFC 2782 / RFC 6120 §3.2 / XEP-0368 §3 target ordering. No I/O, injected RNG.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace boshgate::dns {

struct srv_record {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::string target; ///< "." (or empty) means "no service" (RFC 2782)
};

/// A host to dial, in order; addresses are resolved later (A/AAAA).
struct candidate {
    std::string host;
    std::uint16_t port = 0;
    bool direct_tls = false; ///< from _xmpps-client._tcp (XEP-0368): TLS from the first byte
};

/// Outcome of combining the two SRV lookups.
struct selection {
    std::vector<candidate> candidates; ///< in dialling order
    bool no_service = false;           ///< a '.' answer forbids any fallback (C2S-DNS-2, -6);
                                       ///< when true, `candidates` is empty
};

/// Random source: returns a uniform integer in [0, bound] (inclusive). A result above
/// `bound` is clamped to `bound`.
using rng = std::function<std::uint32_t(std::uint32_t bound)>;

/// Merge _xmpps-client (direct TLS) and _xmpp-client records for `domain` into one ordered
/// list: priority ascending, RFC 2782 weighted random order within a priority.
/// Rules: '.' as the sole xmpp-client record => no_service; '.' as the sole xmpps record =>
/// ignore xmpps records, no A/AAAA fallback of its own (XEP-0368 §5); no records at all =>
/// fall back to domain:5222 plain (RFC 6120 §3.2.2).
/// Details: a sole '.' xmpp-client record wins over any xmpps records (RFC 6120 §3.2.1 "MUST
/// abort"); '.' records inside a larger set are dropped; a set made only of '.' records is
/// no_service; trailing dots are stripped from targets. Within one priority, zero-weight
/// records are placed first and then drawn as RFC 2782 describes, calling `random(total)`
/// once per remaining record (also when total is 0), so an injected rng sees a fixed sequence.
/// Pure and thread-compatible; `random` is called synchronously and not retained.
selection select(const std::string& domain, const std::vector<srv_record>& xmpps,
                 const std::vector<srv_record>& xmpp, const rng& random);

} // namespace boshgate::dns
