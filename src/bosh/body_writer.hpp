#pragma once
// Internal to the bosh module: builds response <body/> documents (XEP-0124 §6, XEP-0206 §2).
// Every response is one element qualified by the httpbind namespace (BOSH-XML-1); attribute
// values are escaped for apostrophe quoting; payload bytes are appended verbatim.
#include "boshgate/bosh/body.hpp"
#include "boshgate/xml/tree.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace boshgate::bosh::detail {

/// Append `s` escaped for an apostrophe-quoted attribute value; the result is also valid
/// character data (used for <text/> and <uri/> children).
inline void append_escaped(std::string& out, std::string_view s)
{
    out += xml::escape_attr(s);
}

/// Builder for one response body. Call the declaration helpers first, then attrs, then
/// finish(). Not reusable after finish().
class body_writer {
public:
    body_writer()
    {
        out_.reserve(160);
        out_ += "<body xmlns='";
        out_ += ns_httpbind;
        out_ += '\'';
    }

    /// xmlns:xmpp, required by any xmpp:* attribute (BOSH-XML-13).
    body_writer& declare_xmpp() { return attr("xmlns:xmpp", ns_xbosh); }
    /// xmlns:stream, required when the payload holds stream:features / stream:error
    /// (BOSH-XML-12, XBOSH-9).
    body_writer& declare_stream() { return attr("xmlns:stream", ns_stream); }

    body_writer& attr(std::string_view name, std::string_view value)
    {
        out_ += ' ';
        out_ += name;
        out_ += "='";
        append_escaped(out_, value);
        out_ += '\'';
        return *this;
    }

    body_writer& attr(std::string_view name, std::uint64_t value)
    {
        out_ += ' ';
        out_ += name;
        out_ += "='";
        out_ += std::to_string(value);
        out_ += '\'';
        return *this;
    }

    /// Close the start tag and append `payload` (complete elements, verbatim).
    std::string finish(std::string_view payload = {}) &&
    {
        if (payload.empty()) {
            out_ += "/>";
        } else {
            out_.reserve(out_.size() + payload.size() + 8);
            out_ += '>';
            out_ += payload;
            out_ += "</body>";
        }
        return std::move(out_);
    }

private:
    std::string out_;
};

} // namespace boshgate::bosh::detail
