#pragma once
// expat-based framer: splits an XML stream (or one BOSH <body/> document) into its root
// open tag, its top-level child elements and its close, without losing or reordering bytes.
// Pure code: no Asio, no clock. See ../shared/design/conventions.md rules 1, 5, 8.
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::xml {

/// Errors the framer reports. Every one is fatal for the stream it was found in.
enum class errc {
    not_well_formed = 1,   ///< any well-formedness or namespace-well-formedness error
    restricted_xml,        ///< comment, PI, DTD/DOCTYPE, or entity reference other than the 5 (RFC 6120 §11.1)
    invalid_utf8,          ///< bytes that are not UTF-8 (RFC 6120 §11.6)
    too_deep,              ///< nesting beyond limits::max_depth
    element_too_large,     ///< one top-level element (or the root tag) beyond limits::max_element_bytes
    text_at_top_level,     ///< non-whitespace character data directly inside the root
    incomplete_document,   ///< document mode: input ended before the root was closed
    trailing_content,      ///< document mode: anything but whitespace after the root's end
    too_many_namespaces,   ///< namespace declarations in scope beyond limits::max_namespace_decls
};
const boost::system::error_category& error_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

/// Human-readable reason for an errc, citing the spec section (convention 7). Also the
/// error_category message.
std::string_view reason(errc e) noexcept;

/// Limits, from typed config (convention 5).
struct limits {
    std::size_t max_element_bytes = 256 * 1024; ///< bytes of one top-level element, as received
    unsigned max_depth = 64;                    ///< element nesting depth including the root
    /// Namespace declarations (xmlns and xmlns:p) in scope at any one point: those on the
    /// root plus those on the open elements inside it (SEC-XML-1). Declarations leave the
    /// count when the element carrying them ends, so a long stream of stanzas that each
    /// declare namespaces never accumulates them. Real traffic needs a handful.
    std::size_t max_namespace_decls = 64;
};

/// One attribute exactly as written: qualified name (prefix:local or local) and unescaped value.
/// Namespace declarations appear as attributes named "xmlns" / "xmlns:p" whose value is the URI.
struct attribute {
    std::string qname;
    std::string value;
    /// Resolved namespace URI of a prefixed attribute ("p:local"); empty for unprefixed
    /// attributes and for namespace declarations. Filled by the parsers; may be left empty
    /// when building by hand (root_open::attr_ns then resolves the prefix itself).
    std::string ns = {};
};

/// The root element's start tag (stream header or <body>).
struct root_open {
    std::string qname;          ///< as written, e.g. "stream:stream" or "body"
    std::string ns;             ///< resolved namespace URI of the root element
    std::string local;          ///< local name
    /// All attributes including xmlns / xmlns:p declarations. expat reports declarations
    /// separately, so the declarations come first (in document order), then the other
    /// attributes (in document order).
    std::vector<attribute> attrs;
    /// Attribute value by qualified name as written ("to", "xml:lang", "xmpp:version").
    std::optional<std::string_view> attr(std::string_view qname) const;
    /// Attribute value by namespace URI + local name ("" for unqualified attributes);
    /// resolves prefixes declared on the root itself.
    std::optional<std::string_view> attr_ns(std::string_view ns_uri, std::string_view local) const;
};

/// One complete top-level element lifted out of its root.
struct element {
    std::string ns;    ///< resolved namespace URI of the element
    std::string local; ///< local name
    /// The element's bytes exactly as received, except that namespace declarations it relied
    /// on from the root (prefixes it uses; the default namespace when options say so) are
    /// inserted into its start tag, so the text is namespace-complete standing alone
    /// (BOSH-XML-10, BOSH-XML-14, RFC 6120 §4.8.5).
    std::string xml;
};

struct options {
    /// Add xmlns='<root default ns>' to lifted elements that lack their own default
    /// declaration. true for a server stream (lifts stanzas as jabber:client); false for a
    /// BOSH body, whose unqualified children must reach the TCP stream unqualified
    /// (they then inherit jabber:client there, BOSH-XML-11).
    bool redeclare_default_ns = true;
};

/// Receives framer events. Callbacks run synchronously inside stream_parser::feed() (or
/// parse_document()). They may call stream_parser::request_reset(); they must not destroy the
/// parser, call feed() or reset() re-entrantly. An exception thrown by a callback stops the
/// parse, leaves the parser reset to a fresh document, and propagates out of feed().
class handler {
public:
    virtual ~handler() = default;
    /// The handler may move from `root` or swap it with a root_open of its own: whatever it
    /// leaves there the parser may reuse as storage for a later root (and overwrites).
    virtual void on_open(root_open&& root) = 0;
    virtual void on_element(element&& el) = 0;
    virtual void on_close() = 0;
};

/// Incremental framer over a byte stream (RFC 6120 §4 stream, or one XEP-0124 body).
///
/// Events: handler::on_open for the root start tag, handler::on_element for each complete
/// child of the root (depth 1) with its exact bytes, handler::on_close at the root end tag.
/// Whitespace between children is dropped (RFC 6120 §11.7); other text there is an error.
/// Restricted XML (RFC 6120 §11.1) and non-UTF-8 input (§11.6) are errors; a DOCTYPE is
/// refused at its start, before any of its internal subset is read (SEC-XML-2). Work is
/// linear in the input; memory is bounded by about limits::max_element_bytes plus one
/// internal slice (32 KiB), because only the bytes of the element in progress are kept, and
/// the namespace bookkeeping holds at most limits::max_namespace_decls entries (SEC-XML-1).
/// The names expat interns (elements, attributes, prefixes) do not accumulate either: past
/// 16 KiB of input the parser is rebuilt at the next point between top-level elements, as
/// release_idle() does.
/// Thread-safety: none; one owner (the owning session's strand). Lifetime: the handler must
/// outlive the parser.
class stream_parser {
public:
    stream_parser(handler& h, limits lim, options opt = {});
    ~stream_parser();
    stream_parser(const stream_parser&) = delete;
    stream_parser& operator=(const stream_parser&) = delete;

    /// Feed bytes. Returns how many bytes were consumed. Consumption stops early only when a
    /// callback called request_reset(): the reset is applied after the callback returns and
    /// the unconsumed remainder is left to the caller (discard it after <proceed/>, re-feed
    /// it otherwise). On error `ec` is set, the call that found it returns bytes.size() (the
    /// stream is dead), and every later call returns 0 with the same error until reset().
    std::size_t feed(std::string_view bytes, boost::system::error_code& ec);

    /// Memory for idle streams: if the framer is between top-level elements with no partial
    /// token held (or has not been fed yet), free expat's parser and every buffer, keeping
    /// only the root's name and namespace declarations (a few dozen bytes); the next feed()
    /// rebuilds the parser by parsing a start tag made from them, which costs a few
    /// microseconds. Returns whether the framer is now released. Events, positions, limits
    /// and errors are exactly as without the call. Not in document mode, not inside a
    /// callback.
    bool release_idle() noexcept;

    /// Inside the root, between top-level elements, with no partial token held and no error:
    /// everything fed so far has been reported.
    bool between_elements() const noexcept;

    /// From inside a callback: stop after the current event and start a new document (an
    /// XML declaration is accepted again). Called outside a callback it is reset().
    void request_reset();
    /// Outside a callback: start a new document now (stream restart, RFC 6120 §4.3.3).
    /// Also clears a sticky error.
    void reset();

    /// Spec-citing reason for the last error, more specific than reason(errc) where the
    /// parser knows more (e.g. "RFC 6120 §11.1: comments are not allowed"); empty if none.
    std::string_view error_reason() const noexcept;

    /// Bytes currently held by the framer for the element in progress (diagnostics and
    /// tests of the memory bound; expat's own buffer is bounded the same way).
    std::size_t buffered_bytes() const noexcept;

    /// Namespace declarations the framer tracks right now: the root's plus those in scope
    /// inside the current top-level element; never above limits::max_namespace_decls
    /// (diagnostics and tests of the bound, SEC-XML-1).
    std::size_t namespace_decls_in_scope() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;

    struct reused_documents;
    friend boost::system::error_code parse_document(std::string_view doc, handler& h,
                                                    limits lim, options opt);
    friend boost::system::error_code parse_document_alone(std::string_view doc, handler& h,
                                                          limits lim, options opt);
};

/// Document mode: parse one complete document (a BOSH request body) and deliver its events.
/// Fails with incomplete_document / trailing_content besides the stream errors. Events
/// delivered before an error stand; callers must discard them when an error is returned.
/// Consecutive documents on a thread share one expat parser when they parse cleanly
/// (stream_parser.cpp, reused_documents); events and errors are exactly those of
/// parse_document_alone, which is what anything else falls back to.
boost::system::error_code parse_document(std::string_view doc, handler& h, limits lim,
                                         options opt = {});
/// The same with a parser of its own for this document (tests compare the two).
boost::system::error_code parse_document_alone(std::string_view doc, handler& h, limits lim,
                                               options opt = {});

} // namespace boshgate::xml

namespace boost::system {
template <>
struct is_error_code_enum<boshgate::xml::errc> : std::true_type {};
} // namespace boost::system
