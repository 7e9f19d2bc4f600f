// Request <body/> parsing and validation (XEP-0124 §6, §7.1, §14.1, §22; XEP-0206 §11).
// XML is never tokenized here: xml::parse_document does it, with the restrictions of
// RFC 6120 §11.1 (no comments, PIs, DTDs, entity references; BOSH-XML-3/4).
#include "boshgate/bosh/body.hpp"

#include "boshgate/core/text.hpp"

#include <charconv>
#include <limits>

namespace boshgate::bosh {
namespace {

/// Collects the document's events; everything is discarded by the caller on error.
/// The root is swapped into storage kept per thread (parse_body only reads it, before the
/// next body is parsed on this thread): the parser gets buffers back that already have the
/// capacity of a body's attributes, so a body's root costs no allocation once warm.
class collector final : public xml::handler {
public:
    const xml::root_open* root = nullptr;
    std::vector<xml::element> payloads;
    std::size_t payload_bytes = 0;

    void on_open(xml::root_open&& r) override
    {
        thread_local xml::root_open storage;
        std::swap(storage, r);
        root = &storage;
    }
    void on_element(xml::element&& el) override
    {
        payload_bytes += el.xml.size();
        payloads.push_back(std::move(el));
    }
    void on_close() override {}
};

/// Decimal digits only (no sign, no blanks), value <= max. Leading zeros are accepted.
bool parse_decimal(std::string_view s, std::uint64_t max, std::uint64_t& out)
{
    if (s.empty() || s.size() > 20) {
        return false;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v > max) {
        return false;
    }
    out = v;
    return true;
}

/// xs:boolean as XEP-0206 §11 allows it: true/1/false/0 (XBOSH-4).
std::optional<bool> parse_bool(std::string_view s)
{
    if (s == "true" || s == "1") {
        return true;
    }
    if (s == "false" || s == "0") {
        return false;
    }
    return std::nullopt;
}

body_error make_error(std::string_view section, std::string_view what)
{
    std::string r(section);
    r += ": ";
    r += what;
    return body_error{std::move(r)};
}

/// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

bool iends_with(std::string_view s, std::string_view suffix) noexcept
{
    return s.size() >= suffix.size() && core::ascii_iequals(s.substr(s.size() - suffix.size()), suffix);
}

/// Cursor over a Content-Type value (RFC 9110 §8.3.1 media-type grammar).
struct media_reader {
    std::string_view s;
    std::size_t i = 0;

    bool done() const noexcept { return i == s.size(); }
    void skip_ows() noexcept
    {
        while (i < s.size() && s[i] == ' ') {
            ++i;
        }
    }
    std::string_view token() noexcept
    {
        std::size_t from = i;
        while (i < s.size() && is_tchar(s[i])) {
            ++i;
        }
        return s.substr(from, i - from);
    }
    bool take(char c) noexcept
    {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    /// quoted-string after the opening quote; the unescaped value is not needed except for
    /// charset, which is compared on the raw text (a quoted-pair there makes it unequal).
    bool quoted(std::string_view& raw) noexcept
    {
        std::size_t from = i;
        while (i < s.size()) {
            char c = s[i];
            if (c == '"') {
                raw = s.substr(from, i - from);
                ++i;
                return true;
            }
            if (c == '\\') {
                if (i + 1 >= s.size()) {
                    return false;
                }
                ++i;
            }
            ++i;
        }
        return false; // unterminated
    }
};

} // namespace

bool safe_content_type(std::string_view value) noexcept
{
    // SEC-INJ-1: printable ASCII only (no header injection, no obs-text), bounded.
    if (value.empty() || value.size() > max_content_type_bytes) {
        return false;
    }
    for (char c : value) {
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    media_reader r{value};
    std::string_view type = r.token();
    if (type.empty() || !r.take('/')) {
        return false;
    }
    std::string_view subtype = r.token();
    if (subtype.empty()) {
        return false;
    }
    // Only XML media types: what a BOSH response is (XEP-0124 §7.1 example text/xml).
    // RFC 7303 §4.2, §9.2: application/xml, text/xml and the +xml structured suffix.
    bool xml_type = (core::ascii_iequals(type, "text") && core::ascii_iequals(subtype, "xml")) ||
                    (core::ascii_iequals(type, "application") &&
                     (core::ascii_iequals(subtype, "xml") ||
                      (subtype.size() > 4 && iends_with(subtype, "+xml"))));
    if (!xml_type) {
        return false;
    }
    // RFC 9110 §5.6.6: *( OWS ";" OWS [ parameter ] ), parameter = token "=" value.
    while (true) {
        r.skip_ows();
        if (r.done()) {
            return true;
        }
        if (!r.take(';')) {
            return false;
        }
        r.skip_ows();
        if (r.done()) {
            return true;
        }
        if (r.s[r.i] == ';') {
            continue; // empty parameter
        }
        std::string_view name = r.token();
        if (name.empty() || !r.take('=')) {
            return false;
        }
        std::string_view val;
        if (r.take('"')) {
            if (!r.quoted(val)) {
                return false;
            }
        } else {
            val = r.token();
            if (val.empty()) {
                return false;
            }
        }
        // Responses are UTF-8 (RFC 6120 §11.6); another label would make the browser decode
        // them differently from what the gateway checked.
        if (core::ascii_iequals(name, "charset") && !core::ascii_iequals(val, "utf-8")) {
            return false;
        }
    }
}

std::variant<body, body_error> parse_body(std::string_view doc, const xml::limits& lim)
{
    collector c;
    // Unqualified children must reach the TCP stream unqualified, where they inherit
    // jabber:client (BOSH-XML-11): do not re-declare the body's default namespace on them.
    xml::options xo;
    xo.redeclare_default_ns = false;
    if (auto ec = xml::parse_document(doc, c, lim, xo)) {
        std::string what = ec.category() == xml::error_category()
                               ? std::string(xml::reason(static_cast<xml::errc>(ec.value())))
                               : ec.message();
        if (ec == xml::errc::text_at_top_level) {
            return make_error("XEP-0124 §6: body holds character data", what); // BOSH-XML-5
        }
        return make_error("XEP-0124 §6: body is not acceptable XML", what); // BOSH-XML-2/3/4
    }
    if (!c.root) {
        return make_error("XEP-0124 §6", "no root element");
    }
    const xml::root_open& root = *c.root;
    if (root.local != "body" || root.ns != ns_httpbind) {
        // BOSH-XML-1
        return make_error("XEP-0124 §6", "root must be <body/> qualified by " + std::string(ns_httpbind));
    }

    body b;
    if (auto v = root.attr("sid")) {
        b.sid = std::string(*v);
    }
    auto error = [&b](std::string_view section, std::string_view what) {
        body_error e = make_error(section, what);
        e.sid = b.sid;
        return e;
    };

    // BOSH-XML-7, BOSH-REQ-10: rid is required, a positiveInteger no larger than 2^53-1.
    auto rid = root.attr("rid");
    if (!rid) {
        return error("XEP-0124 §14.1", "rid attribute is required");
    }
    if (!parse_decimal(*rid, max_rid, b.rid) || b.rid == 0) {
        return error("XEP-0124 §14.1", "rid must be decimal digits in 1..2^53-1");
    }

    auto copy = [&](std::string_view qname, std::optional<std::string>& out) {
        if (auto v = root.attr(qname)) {
            out = std::string(*v);
        }
    };
    copy("to", b.to);
    copy("route", b.route);
    copy("from", b.from);
    copy("xml:lang", b.lang);
    copy("ver", b.ver);
    copy("content", b.content);
    if (b.content && !safe_content_type(*b.content)) {
        // SEC-INJ-1: not refused (XEP-0124 §7.1 allows any type); the session simply gets
        // the configured default Content-Type.
        b.content.reset();
    }

    // SCHEMA-1: wait/inactivity/pause are xs:unsignedShort, hold is xs:unsignedByte.
    struct numeric {
        std::string_view name;
        std::uint64_t max;
        std::optional<unsigned>* out;
    };
    const numeric numerics[] = {
        {"wait", 65535, &b.wait},
        {"hold", 255, &b.hold},
        {"inactivity", 65535, &b.inactivity},
        {"pause", 65535, &b.pause},
    };
    for (const auto& n : numerics) {
        if (auto v = root.attr(n.name)) {
            std::uint64_t x = 0;
            if (!parse_decimal(*v, n.max, x)) {
                return error("XEP-0124 §22", std::string(n.name) + " must be an integer in 0.." +
                                                 std::to_string(n.max));
            }
            *n.out = static_cast<unsigned>(x);
        }
    }
    // ack is a positiveInteger; ack='0' is accepted and means "no acks" (BOSH-ACK-6).
    if (auto v = root.attr("ack")) {
        std::uint64_t x = 0;
        if (!parse_decimal(*v, max_rid, x)) {
            return error("XEP-0124 §9", "ack must be decimal digits in 0..2^53-1");
        }
        b.ack = x;
    }
    // Only type='terminate' changes behaviour; other values are ignored (SCHEMA-3 spirit).
    if (auto v = root.attr("type"); v && *v == "terminate") {
        b.terminate = true;
    }
    // SCHEMA-5: only the namespace-qualified xbosh attributes count.
    if (auto v = root.attr_ns(ns_xbosh, "restart")) {
        auto r = parse_bool(*v);
        if (!r) {
            return error("XEP-0206 §11", "xmpp:restart must be true, 1, false or 0");
        }
        b.restart = *r;
    }
    if (auto v = root.attr_ns(ns_xbosh, "version")) {
        b.xmpp_version = std::string(*v);
    }
    // key/newkey (BOSH-KEY-4), stream (BOSH-MULTI-2), secure (BOSH-REQ-11), charsets,
    // accept and any unknown attribute are ignored (SCHEMA-3).

    b.payloads = std::move(c.payloads);
    b.payload_bytes = c.payload_bytes;
    return b;
}

} // namespace boshgate::bosh
