#pragma once
// Internal to the xml module: expat set-up and the RFC 6120 §11 restriction checks shared by
// stream_parser and parse_tree. Not a public header.
#include "boshgate/xml/stream_parser.hpp"

#include <expat.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace boshgate::xml::detail {

static_assert(sizeof(XML_Char) == 1, "boshgate needs expat built with UTF-8 XML_Char");

/// Separator between namespace URI, local name and prefix in names expat reports.
/// U+0001 cannot occur in XML 1.0 names or namespace URIs (it is not a Char), and expat
/// rejects a declared URI containing the separator.
inline constexpr XML_Char ns_separator = '\x01';

/// A name as reported by expat with namespace triplets on:
/// "uri<sep>local<sep>prefix", "uri<sep>local" or "local".
struct name_parts {
    std::string_view ns;
    std::string_view local;
    std::string_view prefix;

    /// Length of the name as written: "prefix:local" or "local".
    std::size_t qname_size() const noexcept
    {
        return prefix.empty() ? local.size() : prefix.size() + 1 + local.size();
    }
    std::string qname() const;
    /// The same into `out`, replacing what it held (its capacity is kept).
    void qname_to(std::string& out) const;
};
name_parts split_name(const XML_Char* name) noexcept;

/// Reset expat parsers kept per thread for reuse (see create_parser / free_parser).
inline constexpr std::size_t parser_pool_size = 8;
/// A parser that has parsed more than this since it was created or reset is freed rather
/// than kept: its input buffer and string pools may have grown to the size of what it read.
inline constexpr std::size_t parser_pool_max_parsed = 64 * 1024;
/// Parsers kept on the calling thread now (tests).
std::size_t pooled_parsers() noexcept;
/// A long-lived stream's parser is rebuilt (stream_parser::release_idle, then the primer)
/// at the first point between top-level elements after it has parsed this much. expat
/// interns every element, attribute and prefix name it meets and frees them only with the
/// parser or at a reset, so without a rebuild a peer sending ever new names would make one
/// stream's parser grow without bound (SEC-XML-1). A rebuild costs about as much as
/// parsing one small stanza, once per 16 KiB.
inline constexpr std::size_t stream_parser_rebuild_after = 16 * 1024;
/// Heap bytes that expat parsers hold, as allocated minus freed on the calling thread
/// (malloc_usable_size of each block). A parser used and freed on one thread adds and
/// removes on that thread only, which is what tests measure; with several io threads the
/// per-thread figures are not meaningful, only their sum.
std::int64_t expat_heap_bytes() noexcept;
/// Allocations (malloc and realloc) expat made on the calling thread so far (tests).
std::uint64_t expat_allocations() noexcept;

/// Error bookkeeping and the restriction handlers, shared by the parse states that own an
/// expat parser. The expat user data of such a parser must be a pointer to this base.
struct expat_base {
    XML_Parser parser = nullptr;
    errc error{};       ///< errc{} means no error
    std::string detail; ///< spec-citing text for `error`
    std::size_t parsed_bytes = 0; ///< input given to parse() since create_parser / reset_parser

    expat_base();
    ~expat_base();
    /// Take a parser (UTF-8 forced, namespace triplets): a reset one this thread kept, else
    /// a new one. Throws std::bad_alloc.
    void create_parser();
    /// Give the parser up (parser becomes nullptr): reset and kept for reuse on this thread
    /// while fewer than parser_pool_size are kept and it has parsed at most
    /// parser_pool_max_parsed bytes, else freed. Idempotent. Never call it from inside one of
    /// the parser's handlers.
    void free_parser() noexcept;
    /// XML_Parse, counting the bytes (size must fit an int: callers slice their input).
    XML_Status parse(const char* data, std::size_t size, bool final);
    expat_base(const expat_base&) = delete;
    expat_base& operator=(const expat_base&) = delete;

    bool failed() const noexcept { return error != errc{}; }
    /// Record the first error and stop expat. Safe to call from inside any expat handler.
    void fail(errc e, std::string_view why);
    /// Fresh expat state (XML_ParserReset, or a new parser after free_parser()); callers
    /// install handlers again. Clears the recorded error.
    void reset_parser();
    /// Registers the user data (this), namespace triplets and the restriction handlers.
    void install_restrictions();
    /// Record the error expat reported after XML_Parse failed without our asking.
    /// `document` maps end-of-input errors to incomplete_document / trailing_content.
    void take_expat_error(bool document);

    static expat_base& from(void* user_data) noexcept
    {
        return *static_cast<expat_base*>(user_data);
    }
};

/// RFC 6120 §11.6: expat reads UTF-16 when a document begins with a byte order mark or has
/// a NUL among its first two bytes, even when told the input is UTF-8. No UTF-8 XML document
/// begins so (0xFE and 0xFF never occur in UTF-8; NUL is not an XML character). `bytes`
/// continue the document at position `at` (< 2 for a check to happen).
bool starts_as_utf16(std::size_t at, std::string_view bytes) noexcept;

/// Spec-citing detail strings for the specific restriction violations (convention 7).
namespace why {
inline constexpr std::string_view comment = "RFC 6120 §11.1: comments are not allowed";
inline constexpr std::string_view pi = "RFC 6120 §11.1: processing instructions are not allowed";
inline constexpr std::string_view doctype =
    "RFC 6120 §11.1: DTDs (<!DOCTYPE>) are not allowed";
inline constexpr std::string_view entity_decl =
    "RFC 6120 §11.1: entity declarations are not allowed";
inline constexpr std::string_view entity_ref =
    "RFC 6120 §11.1: entity references other than the five predefined ones are not allowed";
inline constexpr std::string_view encoding =
    "RFC 6120 §11.6: the XML declaration names an encoding other than UTF-8";
inline constexpr std::string_view utf16 =
    "RFC 6120 §11.6: input is UTF-16 (byte order mark or NUL bytes), not UTF-8";
inline constexpr std::string_view too_deep =
    "RFC 6120 §13.12: element nesting exceeds the configured depth limit";
inline constexpr std::string_view too_large =
    "RFC 6120 §13.12: element exceeds the configured size limit";
inline constexpr std::string_view too_many_namespaces =
    "RFC 6120 §13.12: namespace declarations in scope exceed the configured limit";
} // namespace why

} // namespace boshgate::xml::detail
