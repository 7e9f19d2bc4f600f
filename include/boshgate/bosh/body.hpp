#pragma once
// A parsed, validated BOSH request <body/> (XEP-0124 §22 schema, XEP-0206 §11 xbosh).
#include "boshgate/xml/stream_parser.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boshgate::bosh {

inline constexpr std::string_view ns_httpbind = "http://jabber.org/protocol/httpbind";
inline constexpr std::string_view ns_xbosh = "urn:xmpp:xbosh";
inline constexpr std::string_view ns_stream = "http://etherx.jabber.org/streams";
inline constexpr std::string_view ns_client = "jabber:client";
inline constexpr std::uint64_t max_rid = 9007199254740991ULL; // 2^53 - 1 (BOSH-REQ-10)

struct body {
    std::uint64_t rid = 0;                 ///< required, 1..2^53-1
    std::optional<std::string> sid;
    std::optional<std::string> to, route, from, lang, ver, content;
    std::optional<unsigned> wait, hold, inactivity, pause;   ///< unsignedShort / unsignedByte
    std::optional<std::uint64_t> ack;      ///< 0 means "acks off" at creation (BOSH-ACK-6)
    bool terminate = false;                ///< type='terminate'
    bool restart = false;                  ///< xmpp:restart true/1 (XBOSH-4, SCHEMA-5)
    std::optional<std::string> xmpp_version;
    std::vector<xml::element> payloads;    ///< children in order, namespace-complete
    std::size_t payload_bytes = 0;
};

/// Why a body was refused; always maps to condition bad-request (BOSH-COND-1).
struct body_error {
    std::string reason; ///< names the rule, e.g. "XEP-0124 §14.1: rid out of range"
};

/// Parse and validate one request body. `lim` bounds the whole document.
/// Returns the body or the bad-request reason.
std::variant<body, body_error> parse_body(std::string_view doc, const xml::limits& lim);

} // namespace boshgate::bosh
