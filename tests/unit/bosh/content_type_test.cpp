// safe_content_type: which BOSH `content` values may become a response Content-Type
// (XEP-0124 §7.1, BOSH-HTTP-10; SEC-INJ-1: no attacker-chosen active type, no header
// injection). Every refused value leaves the session on the configured default type.
#include "boshgate/bosh/body.hpp"

#include <gtest/gtest.h>

#include <string>

namespace boshgate::bosh {
namespace {

// SEC-INJ-1, BOSH-HTTP-10: the XML media types, bare or with parameters.
TEST(safe_content_type, xml_types_accepted)
{
    for (const char* v : {
             "text/xml",
             "application/xml",
             "text/xml; charset=utf-8",
             "text/xml;charset=utf-8",
             "text/xml ; charset=utf-8",
             "text/xml;  charset=UTF-8",
             "application/xml; charset=\"utf-8\"",
             "application/xhtml+xml",
             "application/atom+xml",
             "application/vnd.example.thing+xml; charset=utf-8",
             "application/xml; foo=bar; charset=utf-8",
             "application/xml; foo=\"a;b c\"",
             "application/xml; foo=\"escaped \\\" quote\"",
             "application/xml;",
             "application/xml; ;charset=utf-8",
             "application/xml ",
         }) {
        EXPECT_TRUE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: type and subtype are case-insensitive (RFC 9110 §8.3.1).
TEST(safe_content_type, case_insensitive)
{
    for (const char* v : {"TEXT/XML", "Text/Xml; Charset=Utf-8", "APPLICATION/XML",
                          "Application/Foo+XML"}) {
        EXPECT_TRUE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: active or merely non-XML types are refused: the page would render attacker
// XML as HTML/SVG/script on the gateway's origin, or sniff it.
TEST(safe_content_type, non_xml_types_refused)
{
    for (const char* v : {
             "text/html",
             "text/html; charset=utf-8",
             "TEXT/HTML",
             "text/plain",
             "text/plain; charset=utf-8",
             "text/javascript",
             "application/javascript",
             "application/json",
             "image/svg+xml",            // only application/*+xml
             "text/xsl",
             "application/xslt",
             "multipart/x-mixed-replace; boundary=x",
             "application/octet-stream",
             "text/xml-external-parsed-entity",
             "application/xml-dtd",
             "application/+xml",         // no name before the suffix
             "application/xmlfoo",
             "application/foo+xmlx",
             "xml",
             "text/",
             "/xml",
             "text xml",
             "*/*",
             "text/*",
         }) {
        EXPECT_FALSE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: charset other than utf-8 refused (no UTF-7 style re-decoding of the body).
TEST(safe_content_type, charset_must_be_utf8)
{
    for (const char* v : {"text/xml; charset=utf-7", "text/xml; charset=iso-8859-1",
                          "application/xml; charset=\"utf-16\"", "text/xml; charset=utf-8; charset=utf-7",
                          "text/xml; charset=\"utf\\-8\"", "text/xml; charset=utf8"}) {
        EXPECT_FALSE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: header injection and control characters (CR, LF, TAB, NUL, DEL), non-ASCII.
TEST(safe_content_type, control_and_non_ascii_refused)
{
    using namespace std::string_literals;
    for (const std::string& v : {
             "text/xml\r\nX-Evil: 1"s,
             "text/xml\nX-Evil: 1"s,
             "text/xml\r"s,
             "text/xml\t"s,
             "text/xml;\tcharset=utf-8"s,
             "text/xml\0"s,
             "text/xml\x7f"s,
             "text/xml; a=\"\xc3\xa9\""s,
             "\x01text/xml"s,
         }) {
        EXPECT_FALSE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: malformed parameter syntax refused.
TEST(safe_content_type, malformed_parameters_refused)
{
    for (const char* v : {
             "text/xml charset=utf-8",   // missing ';'
             "text/xml; charset",        // no '='
             "text/xml; charset=",       // no value
             "text/xml; =utf-8",         // no name
             "text/xml; a=\"unterminated",
             "text/xml; a=\"ends in backslash\\",
             "text/xml; a=b c",
             "text/xml, text/html",
             "text/xml; a=b\"",
             " text/xml",                // no leading whitespace in a header value we build
         }) {
        EXPECT_FALSE(safe_content_type(v)) << v;
    }
}

// SEC-INJ-1: bounded length, and empty.
TEST(safe_content_type, length_bounded)
{
    EXPECT_FALSE(safe_content_type(""));
    std::string base = "application/xml; p=";
    std::string fits = base + std::string(max_content_type_bytes - base.size(), 'a');
    ASSERT_EQ(fits.size(), max_content_type_bytes);
    EXPECT_TRUE(safe_content_type(fits));
    EXPECT_FALSE(safe_content_type(fits + "a"));
    EXPECT_FALSE(safe_content_type("application/" + std::string(200, 'a') + "+xml"));
}

} // namespace
} // namespace boshgate::bosh
