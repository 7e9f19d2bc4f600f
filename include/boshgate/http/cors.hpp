#pragma once
// Pure CORS and Origin policy (WEB-1..4, WS-SEC-1): one origin list drives both.
#include "boshgate/http/options.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace boshgate::http {

struct origin_decision {
    bool allowed = true;
    /// Value for Access-Control-Allow-Origin; nullopt = send no CORS headers (no Origin).
    std::optional<std::string> allow_origin;
    bool vary_origin = false; ///< echoing a specific origin: add `Vary: Origin`
};

/// Requests without Origin (non-browser clients, same-origin GETs) are allowed without CORS
/// headers. With Origin: allowed if the list holds "*" (answer "*") or the exact origin
/// (ASCII case-insensitive; answer the origin and Vary: Origin).
origin_decision decide_origin(const options& opt, std::optional<std::string_view> origin);

/// Access-Control-Allow-Headers for a preflight: the requested headers if they are all
/// simple tokens, else "Content-Type".
std::string preflight_allow_headers(std::optional<std::string_view> requested);

} // namespace boshgate::http
