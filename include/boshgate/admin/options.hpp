#pragma once
// [admin]: the operator's listener (Prometheus /metrics, /healthz, /readyz, the live /status
// page and its /status.json), apart from the public one: loopback by default, its own port,
// optionally restricted to networks.
#include "boshgate/http/forwarded.hpp"

#include <cstdint>
#include <string>

namespace boshgate::admin {

struct options {
    bool enabled = true;
    std::string address = "127.0.0.1";
    std::uint16_t port = 9280;
    /// Peers allowed to connect (CIDRs); empty: any peer that can reach `address`, which is
    /// allowed for a loopback address only (a non-loopback address needs this list).
    http::trusted_networks allow;
};

} // namespace boshgate::admin
