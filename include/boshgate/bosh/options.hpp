#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace boshgate::bosh {

/// BOSH session parameters and limits (config section [bosh]). Values a client asks for
/// are clamped to these (BOSH-RESP-3..5). engine copies what it needs at construction, so a
/// reload affects new sessions only. Durations above 65535 s are capped (XEP-0124 §22).
/// A session is "polling" when the client asks for hold=0 or wait=0 (XEP-0124 §12): it then
/// gets hold=0, requests=1 and `polling_inactivity`.
struct options {
    std::chrono::seconds max_wait{50};        ///< cap on `wait`; below common 60 s proxy timeouts (WEB-7)
    std::chrono::seconds default_wait{50};    ///< used when the client sends no `wait`
    unsigned max_hold = 1;                    ///< cap on `hold`; requests = hold + 1 (GAP-5)
    std::chrono::seconds inactivity{60};      ///< advertised `inactivity` (BOSH-INACT-3/4)
    std::chrono::seconds polling{2};          ///< advertised `polling` (shortest poll interval)
    std::chrono::seconds polling_inactivity{120}; ///< `inactivity` for polling sessions (BOSH-POLL-1)
    std::chrono::seconds max_pause{120};      ///< advertised `maxpause`; 0 = pause unsupported;
                                              ///< pause > maxpause => policy-violation (GAP-3)
    bool enforce_overactivity = true;         ///< XEP-0124 §11 too many simultaneous requests (BOSH-OVER-2, GAP-8)
    bool enforce_polling = true;              ///< too-frequent empty requests: §11 (BOSH-OVER-3) in
                                              ///< normal sessions, §12 (BOSH-POLL-2) in polling ones
    bool server_acks = true;                  ///< send `ack` / `report` (XEP-0124 §9)
    unsigned max_rid_repeats = 8;             ///< resends of one rid before policy-violation (BOSH-RTX-3)
    std::size_t max_queued_bytes = 1024 * 1024; ///< server data waiting for a request (per session);
                                                ///< beyond it: internal-server-error, queue dropped
    std::size_t max_cached_responses = 16;    ///< cap on the retransmission cache with client acks
                                              ///< (without them the cache holds `requests` bodies)
    bool legacy_404_for_unknown_sid = false;  ///< GAP-2
    std::string default_content_type = "text/xml; charset=utf-8";
};

} // namespace boshgate::bosh
