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
};
const boost::system::error_category& error_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

/// Human-readable reason for an errc, citing the spec section (convention 7).
std::string_view reason(errc e) noexcept;

/// Limits, from typed config (convention 5).
struct limits {
    std::size_t max_element_bytes = 256 * 1024; ///< bytes of one top-level element, as received
    unsigned max_depth = 64;                    ///< element nesting depth including the root
};

/// One attribute exactly as written: qualified name (prefix:local or local) and unescaped value.
struct attribute {
    std::string qname;
    std::string value;
};

/// The root element's start tag (stream header or <body>).
struct root_open {
    std::string qname;          ///< as written, e.g. "stream:stream" or "body"
    std::string ns;             ///< resolved namespace URI of the root element
    std::string local;          ///< local name
    std::vector<attribute> attrs; ///< all attributes including xmlns / xmlns:p declarations
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

/// Receives framer events. Callbacks may call stream_parser::request_reset(); they must not
/// destroy the parser or call feed() re-entrantly.
class handler {
public:
    virtual ~handler() = default;
    virtual void on_open(root_open&& root) = 0;
    virtual void on_element(element&& el) = 0;
    virtual void on_close() = 0;
};

/// Incremental framer over a byte stream.
/// Thread-safety: none; one owner. Lifetime: the handler must outlive the parser.
class stream_parser {
public:
    stream_parser(handler& h, limits lim, options opt = {});
    ~stream_parser();
    stream_parser(const stream_parser&) = delete;
    stream_parser& operator=(const stream_parser&) = delete;

    /// Feed bytes. Returns how many bytes were consumed. Consumption stops early only when a
    /// callback called request_reset(): the reset is applied after the callback returns and
    /// the unconsumed remainder is left to the caller (discard it after <proceed/>, re-feed
    /// it otherwise). On error `ec` is set and the parser accepts no more input until reset().
    std::size_t feed(std::string_view bytes, boost::system::error_code& ec);

    /// From inside a callback: stop after the current event and start a new document.
    void request_reset();
    /// Outside a callback: start a new document now (stream restart, RFC 6120 §4.3.3).
    void reset();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Document mode: parse one complete document (a BOSH request body) and deliver its events.
/// Fails with incomplete_document / trailing_content besides the stream errors.
boost::system::error_code parse_document(std::string_view doc, handler& h, limits lim,
                                         options opt = {});

} // namespace boshgate::xml

namespace boost::system {
template <>
struct is_error_code_enum<boshgate::xml::errc> : std::true_type {};
} // namespace boost::system
