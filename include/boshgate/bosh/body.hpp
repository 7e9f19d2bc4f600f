#pragma once
// A parsed, validated BOSH request <body/> (XEP-0124 §22 schema, XEP-0206 §11 xbosh).
#include "boshgate/xml/stream_parser.hpp"

#include <cstddef>
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

/// Attributes are stored as received (unescaped); absent attributes are nullopt. `lang` is
/// xml:lang. `content` is kept only when safe_content_type() accepts it (it becomes the
/// Content-Type of every response, BOSH-HTTP-10, SEC-INJ-1); any other value is dropped, so
/// the session gets the configured default type and continues.
/// Ignored on input: key/newkey (BOSH-KEY-4), stream (BOSH-MULTI-2), secure (BOSH-REQ-11),
/// charsets, accept and unknown attributes (SCHEMA-3); type values other than 'terminate'.
struct body {
    std::uint64_t rid = 0;                 ///< required, 1..2^53-1
    std::optional<std::string> sid;
    std::optional<std::string> to, route, from, lang, ver, content;
    std::optional<unsigned> wait, hold, inactivity, pause;   ///< unsignedShort / unsignedByte
    std::optional<std::uint64_t> ack;      ///< 0 means "acks off" at creation (BOSH-ACK-6)
    bool terminate = false;                ///< type='terminate'
    bool restart = false;                  ///< xmpp:restart true/1 (XBOSH-4, SCHEMA-5)
    std::optional<std::string> xmpp_version;
    /// Children in document order, namespace-complete, unqualified ones left unqualified
    /// (BOSH-XML-11); inter-element whitespace is not kept (BOSH-XML-15).
    std::vector<xml::element> payloads;
    std::size_t payload_bytes = 0;         ///< sum of payloads[i].xml.size()
};

/// Max length of a `content` value boshgate honours (SEC-INJ-1).
inline constexpr std::size_t max_content_type_bytes = 128;

/// True if `value` may become the Content-Type of a session's responses (BOSH-HTTP-10,
/// SEC-INJ-1). XEP-0124 §7.1 lets the client choose any type, but a gateway on the
/// Internet must not let a page have attacker-chosen XML rendered as text/html (or any
/// other active type) on its origin, nor inject headers. Accepted, case-insensitively:
/// `text/xml`, `application/xml` or `application/<name>+xml`, optionally followed by
/// RFC 9110 §5.6.6 parameters (`; name=token` or `; name="quoted"`), where a `charset`
/// parameter must be `utf-8` (responses are UTF-8; no UTF-7 style reinterpretation).
/// Refused: anything else, any control character (CR, LF, TAB, NUL, DEL) or non-ASCII byte,
/// and values longer than max_content_type_bytes. Pure; no allocation.
bool safe_content_type(std::string_view value) noexcept;

/// Why a body was refused; always maps to condition bad-request (BOSH-COND-1).
struct body_error {
    std::string reason; ///< names the rule, e.g. "XEP-0124 §14.1: rid out of range"
    /// The body's `sid` when the document got far enough to have one (well-formed httpbind
    /// root): the table can then end that session with engine::on_request_error().
    std::optional<std::string> sid = {};
};

/// Parse and validate one request body with xml::parse_document (restricted XML of
/// RFC 6120 §11.1, UTF-8 only). `lim` bounds each child element and the depth; the adapter
/// bounds the whole HTTP body. Returns the body or the bad-request reason; the caller feeds
/// a refusal for an existing session to engine::on_request_error().
std::variant<body, body_error> parse_body(std::string_view doc, const xml::limits& lim);

} // namespace boshgate::bosh
