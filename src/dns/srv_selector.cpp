// Pure RFC 2782 / RFC 6120 §3.2 / XEP-0368 target ordering (see srv_selector.hpp).
#include "boshgate/dns/srv_selector.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <string_view>

namespace boshgate::dns {

namespace {

/// RFC 2782: a target of "." means "service decidedly not available". c-ares hands the root
/// name over as an empty string, a hand-built record may spell it ".".
bool is_root(const std::string& target) {
    return target.empty() || target == ".";
}

/// A target no host can have: after its one trailing dot, empty, or with an empty label
/// ("..", ".x", "a..b"). DNS answers cannot spell these, but a resolver's text form can
/// (found by tests/fuzz/srv_selector: ".." became a candidate named "."). Dropped like "."
/// records inside a larger set.
bool malformed(const std::string& target) {
    std::string_view t(target);
    if (t.size() > 1 && t.back() == '.') {
        t.remove_suffix(1);
    }
    return t.empty() || t.front() == '.' || t.find("..") != std::string_view::npos;
}

/// One record tagged with the lookup it came from.
struct tagged {
    const srv_record* rec = nullptr;
    bool direct_tls = false;
};

candidate make_candidate(const tagged& t) {
    candidate c;
    c.host = t.rec->target;
    // Absolute names come back with or without the trailing dot; dial the host name without it
    // (it is also what a log line and a certificate check expect).
    if (c.host.size() > 1 && c.host.back() == '.') {
        c.host.pop_back();
    }
    c.port = t.rec->port;
    c.direct_tls = t.direct_tls;
    return c;
}

/// RFC 2782 "Usage rules", for one priority: zero-weight records first, then repeatedly
/// draw r = random(total) (inclusive) and take the first record whose running weight sum is
/// >= r. The sum of weights fits in 32 bits: a DNS message (<= 65535 bytes) cannot hold the
/// 65537 records it would take to overflow it.
void order_priority(std::vector<tagged> group, const rng& random, std::vector<candidate>& out) {
    std::stable_partition(group.begin(), group.end(),
                          [](const tagged& t) { return t.rec->weight == 0; });
    while (!group.empty()) {
        std::uint32_t total = 0;
        for (const tagged& t : group) {
            total += t.rec->weight;
        }
        // A misbehaving injected rng must not index past the end: clamp to the bound.
        const std::uint32_t r = std::min(random(total), total);
        std::size_t chosen = group.size() - 1;
        std::uint32_t running = 0;
        for (std::size_t i = 0; i < group.size(); ++i) {
            running += group[i].rec->weight;
            if (running >= r) {
                chosen = i;
                break;
            }
        }
        out.push_back(make_candidate(group[chosen]));
        group.erase(group.begin() + static_cast<std::ptrdiff_t>(chosen));
    }
}

} // namespace

selection select(const std::string& domain, const std::vector<srv_record>& xmpps,
                 const std::vector<srv_record>& xmpp, const rng& random) {
    selection sel;

    // C2S-DNS-2 (RFC 6120 §3.2.1): a single "." xmpp-client record means the domain offers no
    // c2s service; abort the whole process, direct-TLS records included, and never fall back.
    if (xmpp.size() == 1 && is_root(xmpp.front().target)) {
        sel.no_service = true;
        return sel;
    }
    // C2S-DNS-6 (XEP-0368 §5): a single "." xmpps-client record only withdraws direct TLS;
    // the xmpp-client records still count, but this answer forbids the A/AAAA fallback.
    const bool xmpps_withdrawn = xmpps.size() == 1 && is_root(xmpps.front().target);

    // C2S-DNS-4 (XEP-0368 §3): both record kinds form one set ordered by priority/weight.
    // Within a priority, records keep their answer order (xmpps first) before the weighted
    // draw; "." records inside a larger set are meaningless and are dropped.
    std::map<std::uint16_t, std::vector<tagged>> by_priority;
    if (!xmpps_withdrawn) {
        for (const srv_record& r : xmpps) {
            if (!is_root(r.target) && !malformed(r.target)) {
                by_priority[r.priority].push_back(tagged{&r, true});
            }
        }
    }
    for (const srv_record& r : xmpp) {
        if (!is_root(r.target) && !malformed(r.target)) {
            by_priority[r.priority].push_back(tagged{&r, false});
        }
    }

    if (by_priority.empty()) {
        if (xmpps.empty() && xmpp.empty()) {
            // C2S-DNS-3 (RFC 6120 §3.2.2): no SRV records at all: the domain itself, port 5222,
            // plain TCP then STARTTLS.
            sel.candidates.push_back(candidate{domain, 5222, false});
        } else {
            // Only "." answers (C2S-DNS-6, or a malformed set of several "." records): the
            // domain told us what it does not offer, so no fallback of any kind.
            sel.no_service = true;
        }
        return sel;
    }

    for (auto& [priority, group] : by_priority) {
        order_priority(std::move(group), random, sel.candidates);
    }
    return sel;
}

} // namespace boshgate::dns
