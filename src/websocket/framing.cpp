// Sans-I/O RFC 7395 translator. See framing.hpp for the contract.
//
// Client messages. Each text message is parsed as if on its own, wrapped in a synthetic root
// (`<m>` + message + `</m>`) and fed to the framer in one go: the framer then lifts the
// message's element with its exact bytes, reports the XML declaration, restricted XML,
// non-UTF-8 input, depth and size exactly as for the TCP stream, and tells us how many
// elements the message holds. (Parsing the message itself as the document root does not
// work: the framer refuses character data directly inside its root, which every SASL
// <auth/> and <response/> has.) The wrapper cannot be escaped: a message that closes it
// early leaves our own `</m>` as junk after the document, which is an error.
// To spare a new expat document per message (the largest CPU cost of a WebSocket message,
// issue 9), a session's messages go one after the other into one long-lived framer whose
// root `<m>` stays open. A message it takes as it is (no error, the root still open, back
// between elements with nothing held: so no partial token can reach into the next message)
// is classified from what it lifted; that is exactly what the wrapped parse gives for it.
// Any other message (an error, an unclosed element, a leading XML declaration, which must
// start a document) is parsed on its own as above, for the same outcome as before, and the
// long-lived framer is dropped (rebuilt fresh for the next message).
//
//   message                                      outcome (stream error = condition, close code)
//   binary                                       bad-format, 1003                   (WS-MSG-1)
//   not UTF-8 / non-UTF-8 encoding declared      unsupported-encoding, 1007         (WS-MSG-1)
//   comment, PI, DTD, entity                     restricted-xml, 1000               (C2S-XML-1)
//   nesting beyond limits::max_depth             policy-violation, 1000
//   namespace declarations beyond the limit      policy-violation, 1000             (SEC-XML-1)
//   element beyond limits::max_element_bytes     policy-violation, 1009             (WS-SIZE-1)
//   empty or whitespace only (keepalive)         not-well-formed, 1000              (WS-KA-1)
//   two elements, text around it, broken XML     not-well-formed, 1000    (WS-FRM-3/4, GAP-14)
//   first message other than framing <open/>     invalid-namespace, 1000  (WS-OPEN-1, WS-NS-1)
//   <stream:stream> header, legacy_framing off   invalid-namespace, 1000            (WS-NS-1)
//   second <open/> before SASL success           policy-violation, 1000             (WS-OPEN-5)
//   <open/> without `to`                         host-unknown, 1000
//   <starttls/>                                  TLS <failure/>, <close/>, 1000     (WS-TLS-3)
// Whitespace around the element and a leading XML declaration (WS-FRM-2) are tolerated and
// not forwarded; the element's bytes go upstream verbatim. An element without a namespace
// is forwarded as is: in the TCP stream it inherits jabber:client (documented tolerance).
// Every stream error is preceded by <open/> when none went to the client yet (WS-ERR-2,
// WS-OPEN-4), followed by <close/>, a clean upstream close and the WebSocket close.
// Close codes: 1003 and 1007 as RFC 6455 §7.4.1 prescribes for the data type, 1009 for
// size, 1000 for every other stream error (the XMPP stream was closed properly).
#include "boshgate/websocket/framing.hpp"

#include "boshgate/xml/tree.hpp"

#include <algorithm>
#include <utility>

namespace boshgate::websocket {
namespace {

constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";
constexpr std::string_view ns_stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";
constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view ns_xml = "http://www.w3.org/XML/1998/namespace";

/// RFC 6455 §5.5: a control frame payload is at most 125 bytes, 2 of them the close code.
constexpr std::size_t max_close_reason = 123;

bool is_xml_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && is_xml_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_xml_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// Cut to at most `n` bytes without splitting a UTF-8 sequence.
std::string cut_utf8(std::string_view s, std::size_t n)
{
    if (s.size() <= n) {
        return std::string(s);
    }
    std::size_t end = n;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0U) == 0x80U) {
        --end;
    }
    return std::string(s.substr(0, end));
}

/// Bytes that may form an XML name (ASCII subset plus any non-ASCII byte); good enough to
/// find where a start or end tag's name stops.
bool is_name_byte(char c) noexcept
{
    auto u = static_cast<unsigned char>(c);
    return u >= 0x80U || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-' || c == '.';
}

/// The local part of a qualified name.
std::string_view local_part(std::string_view qname) noexcept
{
    std::size_t colon = qname.find(':');
    return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

/// Message without its leading XML declaration (if well placed) and surrounding whitespace.
std::string_view strip_declaration(std::string_view data) noexcept
{
    if (data.starts_with("<?xml") && data.size() > 5 && (is_xml_space(data[5]) || data[5] == '?')) {
        std::size_t end = data.find("?>");
        if (end != std::string_view::npos) {
            data.remove_prefix(end + 2);
        }
    }
    return trim(data);
}

/// Result of parsing one client text message.
struct parsed {
    enum class kind {
        element,       ///< exactly one element: `el`
        legacy_header, ///< unclosed <stream:stream ...> start tag: `el` is it, closed
        legacy_close,  ///< a lone </stream:stream>
        nothing,       ///< empty or whitespace only (after an optional declaration)
        several,       ///< more than one element (WS-FRM-4, GAP-14)
        error,         ///< the framer refused the message: `error`, `why`
    };
    kind what = kind::nothing;
    xml::element el;
    xml::errc error{};
    std::string why;
};

/// Collects the lifted elements of the wrapped message.
class collector final : public xml::handler {
public:
    void on_open(xml::root_open&&) override {}
    void on_element(xml::element&& el) override
    {
        ++count;
        if (count == 1) {
            first = std::move(el);
        }
    }
    void on_close() override { closed = true; }

    /// What the message held (nothing, one element, several); ready for the next message.
    parsed take()
    {
        parsed out;
        if (count == 0) {
            out.what = parsed::kind::nothing;
        } else if (count > 1) {
            out.what = parsed::kind::several;
        } else {
            out.what = parsed::kind::element;
            out.el = std::move(first);
        }
        count = 0;
        first = xml::element{};
        return out;
    }

    std::size_t count = 0;
    xml::element first;
    bool closed = false;
};

/// Parse `doc` (message with an optional leading declaration, then content) as
/// <m>content</m>. The declaration stays in front so the framer checks it (WS-FRM-2,
/// RFC 6120 §11.6 for its encoding).
parsed parse_wrapped(std::string_view data, std::string_view extra, xml::limits lim)
{
    std::size_t body_at = 0;
    if (data.starts_with("<?xml")) {
        std::size_t end = data.find("?>");
        body_at = end == std::string_view::npos ? data.size() : end + 2;
    }
    std::string doc;
    doc.reserve(data.size() + extra.size() + 8);
    doc.append(data.substr(0, body_at));
    doc.append("<m>");
    doc.append(data.substr(body_at));
    doc.append(extra);
    doc.append("</m>");

    // The wrapper is one more level of nesting than the client wrote.
    lim.max_depth = lim.max_depth + 1;
    collector c;
    xml::options opt;
    opt.redeclare_default_ns = false; // the wrapper declares nothing; keep the bytes exact
    xml::stream_parser p(c, lim, opt);
    boost::system::error_code ec;
    p.feed(doc, ec);

    parsed out;
    if (ec) {
        out.what = parsed::kind::error;
        out.error = static_cast<xml::errc>(ec.value());
        out.why = std::string(p.error_reason());
        return out;
    }
    if (!c.closed) {
        // E.g. an unterminated CDATA section swallowed the wrapper's end tag.
        out.what = parsed::kind::error;
        out.error = xml::errc::incomplete_document;
        out.why = "RFC 7395 §3.3.3: the message is not a complete XML element";
        return out;
    }
    return c.take();
}

/// Classify one text message (section table at the top of the file).
parsed parse_message(std::string_view data, xml::limits lim)
{
    // Inside the wrapper a DTD would only be a syntax error; name it for what it is.
    if (strip_declaration(data).starts_with("<!DOCTYPE")) {
        parsed p;
        p.what = parsed::kind::error;
        p.error = xml::errc::restricted_xml;
        p.why = "RFC 6120 §11.1: DTDs (<!DOCTYPE>) are not allowed";
        return p;
    }
    parsed p = parse_wrapped(data, {}, lim);
    if (p.what != parsed::kind::error || p.error != xml::errc::not_well_formed) {
        return p;
    }
    // Legacy draft framing: an unclosed stream header, or the lone closing tag. Both are
    // not well-formed on their own; recognise them by the tag name.
    std::string_view body = strip_declaration(data);
    if (body.starts_with("</") && body.ends_with(">")) {
        std::string_view name = trim(body.substr(2, body.size() - 3));
        if (local_part(name) == "stream" && std::all_of(name.begin(), name.end(), is_name_byte)) {
            parsed close;
            close.what = parsed::kind::legacy_close;
            return close;
        }
        return p;
    }
    if (!body.starts_with("<") || body.ends_with("/>") || !body.ends_with(">")) {
        return p;
    }
    std::size_t n = 1;
    while (n < body.size() && is_name_byte(body[n])) {
        ++n;
    }
    std::string_view qname = body.substr(1, n - 1);
    if (local_part(qname) != "stream") {
        return p;
    }
    std::string end_tag = "</" + std::string(qname) + ">";
    parsed header = parse_wrapped(data, end_tag, lim);
    if (header.what == parsed::kind::element && header.el.ns == ns_streams &&
        header.el.local == "stream") {
        header.what = parsed::kind::legacy_header;
        return header;
    }
    return p;
}

} // namespace

/// The session's long-lived framer for client messages (see the top of this file).
struct detail::message_parser {
    collector sink;
    xml::stream_parser parser;

    explicit message_parser(xml::limits lim) : parser(sink, with_wrapper(lim), wrapper_options()) {}

    static xml::limits with_wrapper(xml::limits lim) noexcept
    {
        lim.max_depth = lim.max_depth + 1; // as parse_wrapped: the wrapper is one more level
        return lim;
    }
    static xml::options wrapper_options() noexcept
    {
        xml::options opt;
        opt.redeclare_default_ns = false;
        return opt;
    }
};

namespace {

/// `data` through the long-lived framer when it takes it as it is; nullopt otherwise (the
/// framer is then dropped and the caller parses the message on its own).
std::optional<parsed> parse_in_stream(std::unique_ptr<detail::message_parser>& messages,
                                      std::string_view data, xml::limits lim)
{
    if (data.starts_with("<?")) {
        return std::nullopt; // an XML declaration (WS-FRM-2) must start a document
    }
    boost::system::error_code ec;
    if (!messages) {
        messages = std::make_unique<detail::message_parser>(lim);
        messages->parser.feed("<m>", ec);
        if (ec) {
            messages.reset();
            return std::nullopt;
        }
    }
    collector& c = messages->sink;
    c.count = 0;
    messages->parser.feed(data, ec);
    if (ec || c.closed || !messages->parser.between_elements()) {
        messages.reset();
        return std::nullopt;
    }
    return c.take();
}

/// One client text message, classified: in the long-lived framer when it takes it, else
/// parse_message.
parsed parse_client(std::unique_ptr<detail::message_parser>& messages, std::string_view data,
                    xml::limits lim)
{
    if (std::optional<parsed> p = parse_in_stream(messages, data, lim)) {
        return std::move(*p);
    }
    return parse_message(data, lim);
}

/// Attributes of an element the framing needs to look into (<open/>, <close/>, headers).
struct open_attrs {
    std::optional<std::string> to;
    std::optional<std::string> lang;
};

open_attrs read_open_attrs(const xml::element& el, xml::limits lim)
{
    open_attrs out;
    xml::tree t;
    lim.max_depth = lim.max_depth + 1;
    if (xml::parse_tree(el.xml, t, lim)) {
        return out; // cannot happen: the same bytes just parsed; treat as no attributes
    }
    if (auto to = t.attr("to")) {
        out.to = std::string(*to);
    }
    for (const xml::attribute& a : t.attrs) {
        if (local_part(a.qname) == "lang" &&
            (a.ns == ns_xml || a.qname.starts_with("xml:"))) {
            out.lang = a.value;
        }
    }
    return out;
}

void append_attr(std::string& out, std::string_view name, std::optional<std::string_view> value)
{
    if (!value) {
        return;
    }
    out += ' ';
    out += name;
    out += "='";
    out += xml::escape_attr(*value);
    out += '\'';
}

/// The RFC 7395 §3.4 <open/> reply (never with an XML declaration: WS-RST-3).
std::string make_open(std::optional<std::string_view> from, std::optional<std::string_view> id,
                      std::optional<std::string_view> version, std::optional<std::string_view> lang)
{
    std::string out = "<open xmlns='";
    out += ns_framing;
    out += '\'';
    append_attr(out, "from", from);
    append_attr(out, "id", id);
    append_attr(out, "version", version);
    append_attr(out, "xml:lang", lang);
    out += "/>";
    return out;
}

/// The draft-framing header boshgate sends a legacy client: an unclosed start tag.
std::string make_legacy_header(std::optional<std::string_view> from,
                               std::optional<std::string_view> id,
                               std::optional<std::string_view> version,
                               std::optional<std::string_view> lang)
{
    std::string out = "<stream:stream xmlns='jabber:client' xmlns:stream='";
    out += ns_streams;
    out += '\'';
    append_attr(out, "from", from);
    append_attr(out, "id", id);
    append_attr(out, "version", version);
    append_attr(out, "xml:lang", lang);
    out += '>';
    return out;
}

std::string make_close()
{
    return "<close xmlns='" + std::string(ns_framing) + "'/>";
}

std::string make_stream_error(std::string_view condition, std::string_view text)
{
    std::string out = "<stream:error xmlns:stream='";
    out += ns_streams;
    out += "'><";
    out += condition;
    out += " xmlns='";
    out += ns_stream_errors;
    out += "'/><text xmlns='";
    out += ns_stream_errors;
    out += "'>";
    out += xml::escape_text(text);
    out += "</text></stream:error>";
    return out;
}

/// The stream error for a message the framer refused, and its close code.
struct refusal {
    std::string_view condition;
    std::string text;
    close_code code;
};

refusal refusal_for(const parsed& p)
{
    switch (p.what) {
    case parsed::kind::nothing:
        return {"not-well-formed",
                "RFC 7395 §3.8: whitespace keepalives are not allowed; a message holds one element",
                close_code::normal};
    case parsed::kind::several:
        return {"not-well-formed",
                "RFC 7395 §3.3.3: one element per message, never two (WS-FRM-4)",
                close_code::normal};
    case parsed::kind::legacy_close:
        return {"not-well-formed", "RFC 7395 §3.3.1: </stream:stream> is not used; send <close/>",
                close_code::normal};
    default:
        break;
    }
    std::string why = p.why.empty() ? std::string(xml::reason(p.error)) : p.why;
    switch (p.error) {
    case xml::errc::invalid_utf8:
        return {"unsupported-encoding", std::move(why), close_code::invalid_payload};
    case xml::errc::restricted_xml:
        return {"restricted-xml", std::move(why), close_code::normal};
    case xml::errc::too_deep:
    case xml::errc::too_many_namespaces:
        return {"policy-violation", std::move(why), close_code::normal};
    case xml::errc::element_too_large:
        return {"policy-violation", std::move(why), close_code::message_too_big};
    case xml::errc::text_at_top_level:
    case xml::errc::trailing_content:
    case xml::errc::incomplete_document:
        return {"not-well-formed",
                "RFC 7395 §3.3.3: a message is exactly one element, starting with '<' "
                "(WS-FRM-3)",
                close_code::normal};
    case xml::errc::not_well_formed:
        break;
    }
    return {"not-well-formed", "RFC 7395 §3.3.3 / " + why, close_code::normal};
}

} // namespace

framing::framing(const options& opt, xml::limits lim, std::string local_stream_id,
                 core::time_point now)
    : opt_(&opt),
      lim_(lim),
      local_id_(std::move(local_stream_id)),
      last_activity_(now),
      last_ping_(now),
      open_deadline_(now + opt.open_timeout)
{
}

framing::~framing() = default;
framing::framing(framing&&) noexcept = default;
framing& framing::operator=(framing&&) noexcept = default;

// ------------------------------------------------------------------------ client side

void framing::on_message(message_kind kind, std::string_view data, core::time_point now)
{
    if (state_ == state::ended) {
        return;
    }
    last_activity_ = now;

    if (state_ == state::closing) {
        // RFC 7395 §3.6: boshgate already closed the stream; only the client's <close/>
        // (or the legacy closing tag) matters now, everything else is dropped.
        if (kind != message_kind::text) {
            return;
        }
        parsed p = parse_client(messages_, data, lim_);
        bool is_close =
            (p.what == parsed::kind::element && p.el.ns == ns_framing && p.el.local == "close") ||
            (legacy_ && p.what == parsed::kind::legacy_close);
        if (is_close) {
            finish(close_code::normal, "RFC 7395 §3.6: stream closed");
        }
        return;
    }

    if (kind == message_kind::binary) {
        stream_error("bad-format", "RFC 7395 §3.2: XMPP is carried in text frames only",
                     close_code::unsupported_data);
        return;
    }

    parsed p = parse_client(messages_, data, lim_);
    switch (p.what) {
    case parsed::kind::element:
        handle_element(p.el, false);
        return;
    case parsed::kind::legacy_header:
        handle_element(p.el, true);
        return;
    case parsed::kind::legacy_close:
        if (legacy_ && state_ != state::await_open) {
            handle_client_close();
            return;
        }
        break;
    default:
        break;
    }
    refusal r = refusal_for(p);
    stream_error(r.condition, r.text, r.code);
}

void framing::handle_element(const xml::element& el, bool legacy_header)
{
    // A self-closed <stream:stream/> is the legacy header too.
    legacy_header = legacy_header || (el.ns == ns_streams && el.local == "stream");
    bool framing_open = el.ns == ns_framing && el.local == "open";
    if (legacy_header || framing_open) {
        open_attrs a = read_open_attrs(el, lim_);
        handle_open(std::move(a.to), std::move(a.lang), legacy_header);
        return;
    }
    if (state_ == state::await_open) {
        if (el.local == "open") {
            stream_error("invalid-namespace",
                         "RFC 7395 §3.3.2: <open/> must be in the "
                         "urn:ietf:params:xml:ns:xmpp-framing namespace",
                         close_code::normal);
        } else {
            stream_error("invalid-namespace",
                         "RFC 7395 §3.4: the first message must be <open xmlns='"
                         "urn:ietf:params:xml:ns:xmpp-framing'/>",
                         close_code::normal);
        }
        return;
    }
    if (el.ns == ns_framing && el.local == "close") {
        handle_client_close();
        return;
    }
    if (el.ns == ns_tls && el.local == "starttls") {
        handle_starttls();
        return;
    }
    // await_header or open: upstream::stream queues writes until the stream is ready.
    actions_.emplace_back(action::send_upstream{el.xml});
}

void framing::handle_open(std::optional<std::string> to, std::optional<std::string> lang,
                          bool legacy_header)
{
    if (legacy_header && !opt_->legacy_framing) {
        stream_error("invalid-namespace",
                     "RFC 7395 §3.3.2: <stream:stream> is not used; send <open/> in the "
                     "framing namespace",
                     close_code::normal);
        return;
    }
    if (state_ == state::await_open) {
        if (!opt_->see_other_uri.empty()) {
            // RFC 7395 §3.6.1 (WS-SOU-1): the <close/> is the whole answer, no <open/>.
            std::string out = "<close xmlns='" + std::string(ns_framing) + "' see-other-uri='";
            out += xml::escape_attr(opt_->see_other_uri);
            out += "'/>";
            send_text(std::move(out));
            finish(close_code::normal, "RFC 7395 §3.6.1: see-other-uri");
            return;
        }
        legacy_ = legacy_header;
        if (!to || to->empty()) {
            stream_error("host-unknown", "RFC 7395 §3.4 / RFC 6120 §4.7.2: <open/> needs 'to'",
                         close_code::normal);
            return;
        }
        to_ = std::move(*to);
        if (lang && !lang->empty()) {
            lang_ = std::move(*lang);
        }
        // upstream::stream always sends version='1.0' (C2S-HDR-4); the client's version
        // attribute is not passed on.
        actions_.emplace_back(action::open_upstream{to_, lang_});
        upstream_open_ = true;
        state_ = state::await_header;
        return;
    }
    // await_header or open: a later header is only valid as the restart after SASL.
    if (legacy_header != legacy_) {
        stream_error("invalid-namespace",
                     "RFC 7395 §3.3.2: the stream restart must use the framing of the first "
                     "header",
                     close_code::normal);
        return;
    }
    if (!sasl_success_) {
        stream_error("policy-violation",
                     "RFC 7395 §3.4: one stream per WebSocket; <open/> again only after SASL "
                     "success",
                     close_code::normal);
        return;
    }
    // RFC 7395 §3.7 (WS-RST-1): restart the TCP stream; the server's new header becomes a
    // new <open/> with the new stream id.
    sasl_success_ = false;
    actions_.emplace_back(action::restart_upstream{});
    state_ = state::await_header;
}

void framing::handle_client_close()
{
    // RFC 7395 §3.6 (WS-CLOSE-1): close the server stream (upstream::stream waits for the
    // server's closing tag itself and reports nothing after close), answer <close/>, then
    // the WebSocket closing handshake.
    if (upstream_open_) {
        actions_.emplace_back(action::close_upstream{true});
        upstream_open_ = false;
    }
    send_close_element();
    finish(close_code::normal, "RFC 7395 §3.6: stream closed");
}

void framing::handle_starttls()
{
    // RFC 7395 §3.9 (WS-TLS-3): TLS is the WebSocket's business (wss); never forwarded.
    send_local_open_if_needed();
    send_text("<failure xmlns='" + std::string(ns_tls) + "'/>");
    send_close_element();
    if (upstream_open_) {
        actions_.emplace_back(action::close_upstream{true});
        upstream_open_ = false;
    }
    finish(close_code::normal, "RFC 7395 §3.9: no STARTTLS over WebSocket; use wss");
}

void framing::on_message_too_big(core::time_point now)
{
    if (state_ == state::ended) {
        return;
    }
    last_activity_ = now;
    std::string text = "RFC 6120 §4.9.3.14: a message exceeds max_message_bytes (" +
                       std::to_string(opt_->max_message_bytes) + ")";
    if (state_ == state::closing) {
        // The adapter cannot resynchronise on the message; just finish the close.
        finish(close_code::message_too_big, text);
        return;
    }
    stream_error("policy-violation", text, close_code::message_too_big);
}

void framing::on_client_activity(core::time_point now)
{
    if (state_ != state::ended) {
        last_activity_ = now;
    }
}

void framing::on_client_gone(core::time_point)
{
    if (state_ == state::ended) {
        return;
    }
    // WS-CLOSE-3: no client <close/> was seen (it would have ended the framing), so the
    // XMPP session is not over for the server: drop TCP without a closing tag so that a
    // XEP-0198 session can be resumed.
    if (upstream_open_) {
        actions_.emplace_back(action::close_upstream{false});
        upstream_open_ = false;
    }
    state_ = state::ended;
    close_deadline_.reset();
}

// ------------------------------------------------------------------------ upstream side

void framing::on_upstream_header(const xml::root_open& header, core::time_point)
{
    if (state_ != state::await_header || !upstream_open_) {
        return;
    }
    auto from = header.attr("from");
    auto id = header.attr("id");
    auto version = header.attr("version");
    auto lang = header.attr_ns(ns_xml, "lang");
    // RFC 7395 §3.4 (WS-OPEN-2/3): the server's header, translated; every restart gives a
    // new <open/> with the new id (WS-RST-1). Never an XML declaration (WS-RST-3).
    send_text(legacy_ ? make_legacy_header(from, id, version, lang)
                      : make_open(from, id, version, lang));
    open_sent_ = true;
    state_ = state::open;
}

void framing::on_upstream_element(xml::element&& el, core::time_point)
{
    if (state_ == state::ended || state_ == state::closing || !upstream_open_) {
        return;
    }
    if (el.ns == ns_sasl && el.local == "success") {
        sasl_success_ = true; // the client's next <open/> is the restart (RFC 7395 §3.7)
    }
    // Namespace-complete already (the framer re-declared jabber:client / the stream prefix:
    // WS-FRM-1, WS-NS-2); one element, one message (WS-FRM-4).
    send_text(std::move(el.xml));
}

void framing::on_upstream_stream_error(std::string error_xml, core::time_point now)
{
    if (state_ == state::ended || state_ == state::closing || !upstream_open_) {
        return;
    }
    // RFC 7395 §3.5 (WS-ERR-1/2): <open/> first if the header never came, the error whole
    // in one message, then <close/>. The upstream is gone already.
    upstream_open_ = false;
    send_local_open_if_needed();
    send_text(std::move(error_xml));
    send_close_element();
    begin_closing(now);
}

void framing::on_upstream_closed(bool clean, core::time_point now)
{
    if (state_ == state::ended || state_ == state::closing || !upstream_open_) {
        return;
    }
    upstream_open_ = false;
    if (clean) {
        // WS-CLOSE-2: mirror the server's closing tag; wait for the client's <close/>.
        send_local_open_if_needed();
        send_close_element();
        begin_closing(now);
        return;
    }
    stream_error("remote-connection-failed", "RFC 6120 §4.9.3.15: the server connection was lost",
                 close_code::normal);
}

void framing::on_upstream_failed(upstream::failure f, std::string_view /*detail*/, core::time_point)
{
    if (state_ == state::ended || state_ == state::closing || !upstream_open_) {
        return;
    }
    upstream_open_ = false;
    // SEC-INJ-2: the client sees a fixed text per condition. `detail` (addresses, ports,
    // SRV targets, DNS/TLS errors) is for the adapter's log only: echoing it would turn the
    // gateway into a port/DNS oracle for the gateway's network.
    std::string_view condition;
    std::string_view text;
    switch (f) {
    case upstream::failure::host_unknown:
        condition = "host-unknown";
        text = "RFC 6120 §4.9.3.6: this gateway does not serve that domain";
        break;
    case upstream::failure::improper_addressing:
        condition = "improper-addressing";
        text = "RFC 6120 §4.9.3.7: the stream has no 'to'";
        break;
    case upstream::failure::connection_failed:
    case upstream::failure::protocol_error:
        condition = "remote-connection-failed";
        text = "RFC 6120 §4.9.3.15: the XMPP server could not be reached";
        break;
    }
    // WS-OPEN-4: <open/>, the error, <close/>, then the WebSocket close.
    stream_error(condition, text, close_code::normal);
}

// ------------------------------------------------------------------------ gateway side

void framing::shutdown(core::time_point)
{
    switch (state_) {
    case state::await_open:
    case state::closing:
        finish(close_code::going_away, "RFC 6455 §7.4.1: gateway shutting down");
        return;
    case state::await_header:
    case state::open:
        stream_error("system-shutdown", "RFC 6120 §4.9.3.17: the gateway is shutting down",
                     close_code::going_away);
        return;
    case state::ended:
        return;
    }
}

void framing::on_timer(core::time_point now)
{
    if (state_ == state::ended) {
        return;
    }
    if (state_ == state::closing) {
        if (close_deadline_ && now >= *close_deadline_) {
            finish(close_code::normal, "RFC 7395 §3.6: no <close/> from the client in time");
        }
        return;
    }
    if (opt_->idle_timeout.count() > 0 && now - last_activity_ >= opt_->idle_timeout) {
        // The client is not there: no Close frame (nobody would read it), and the server
        // stream is dropped without a closing tag so XEP-0198 can resume (WS-CLOSE-3).
        if (upstream_open_) {
            actions_.emplace_back(action::close_upstream{false});
            upstream_open_ = false;
        }
        drop();
        return;
    }
    if (state_ == state::await_open && now >= open_deadline_) {
        stream_error("connection-timeout",
                     "RFC 6120 §4.9.3.4: no <open/> within the open timeout", close_code::normal);
        return;
    }
    // WS-KA-2/3: one Ping per ping_interval of client silence (a Pong is activity).
    if (opt_->ping_interval.count() > 0 &&
        now - std::max(last_activity_, last_ping_) >= opt_->ping_interval) {
        actions_.emplace_back(action::send_ping{});
        last_ping_ = now;
    }
}

std::optional<core::time_point> framing::next_deadline() const
{
    switch (state_) {
    case state::ended:
        return std::nullopt;
    case state::closing:
        return close_deadline_;
    default:
        break;
    }
    std::optional<core::time_point> d;
    auto consider = [&d](core::time_point t) {
        if (!d || t < *d) {
            d = t;
        }
    };
    if (opt_->idle_timeout.count() > 0) {
        consider(last_activity_ + opt_->idle_timeout);
    }
    if (opt_->ping_interval.count() > 0) {
        consider(std::max(last_activity_, last_ping_) + opt_->ping_interval);
    }
    if (state_ == state::await_open) {
        consider(open_deadline_);
    }
    return d;
}

std::vector<any_action> framing::take_actions()
{
    return std::exchange(actions_, {});
}

bool framing::ended() const noexcept
{
    return state_ == state::ended;
}

bool framing::upstream_open() const noexcept
{
    return upstream_open_;
}

bool framing::release_idle() noexcept
{
    // Between messages the long-lived framer holds nothing a later message needs (each is
    // judged as if parsed alone): dropping it gives back expat's state and the framer's own
    // (its buffers and root context), and the next message builds a fresh one, as after an
    // error (issue 9).
    messages_.reset();
    return true;
}

// ------------------------------------------------------------------------ helpers

void framing::stream_error(std::string_view condition, std::string_view text, close_code code)
{
    send_local_open_if_needed();
    send_text(make_stream_error(condition, text));
    send_close_element();
    if (upstream_open_) {
        actions_.emplace_back(action::close_upstream{true});
        upstream_open_ = false;
    }
    finish(code, text);
}

void framing::send_local_open_if_needed()
{
    if (open_sent_) {
        return;
    }
    // The server never answered (or was never asked): boshgate answers itself with its own
    // stream id (RFC 7395 §3.5, WS-ERR-2, WS-OPEN-4). xml:lang is that of boshgate's own
    // error texts.
    std::optional<std::string_view> from;
    if (!to_.empty()) {
        from = to_;
    }
    send_text(legacy_ ? make_legacy_header(from, local_id_, "1.0", "en")
                      : make_open(from, local_id_, "1.0", "en"));
    open_sent_ = true;
}

void framing::send_text(std::string text)
{
    actions_.emplace_back(action::send_text{std::move(text)});
}

void framing::send_close_element()
{
    send_text(legacy_ ? std::string("</stream:stream>") : make_close());
}

void framing::begin_closing(core::time_point now)
{
    state_ = state::closing;
    close_deadline_ = now + opt_->close_timeout;
}

void framing::finish(close_code code, std::string_view reason)
{
    actions_.emplace_back(action::close_websocket{code, cut_utf8(reason, max_close_reason)});
    state_ = state::ended;
    close_deadline_.reset();
}

void framing::drop()
{
    actions_.emplace_back(action::drop_websocket{});
    state_ = state::ended;
    close_deadline_.reset();
}

} // namespace boshgate::websocket
