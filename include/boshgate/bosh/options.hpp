#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace boshgate::bosh {

/// BOSH session parameters and limits (config section [bosh]). Values a client asks for
/// are clamped to these (BOSH-RESP-3..5).
struct options {
    std::chrono::seconds max_wait{50};        ///< cap on `wait`; below common 60 s proxy timeouts (WEB-7)
    std::chrono::seconds default_wait{50};    ///< used when the client sends no `wait`
    unsigned max_hold = 1;                    ///< cap on `hold`; requests = hold + 1 (GAP-5)
    std::chrono::seconds inactivity{60};      ///< advertised `inactivity` (BOSH-INACT-3/4)
    std::chrono::seconds polling{2};          ///< advertised `polling` (shortest poll interval)
    std::chrono::seconds polling_inactivity{120}; ///< `inactivity` for polling sessions (BOSH-POLL-1)
    std::chrono::seconds max_pause{120};      ///< advertised `maxpause`; 0 = pause unsupported
    bool enforce_overactivity = true;         ///< XEP-0124 §11 policy-violation (GAP-8)
    bool enforce_polling = true;              ///< XEP-0124 §12 policy-violation (BOSH-POLL-2)
    bool server_acks = true;                  ///< send `ack` / `report` (XEP-0124 §9)
    unsigned max_rid_repeats = 8;             ///< resends of one rid before policy-violation (BOSH-RTX-3)
    std::size_t max_queued_bytes = 1024 * 1024; ///< server data waiting for a request (per session)
    std::size_t max_cached_responses = 16;    ///< cap on the retransmission cache with client acks
    bool legacy_404_for_unknown_sid = false;  ///< GAP-2
    std::string default_content_type = "text/xml; charset=utf-8";
};

} // namespace boshgate::bosh
