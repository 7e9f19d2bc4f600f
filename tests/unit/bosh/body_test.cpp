// parse_body: XEP-0124 §6/§7/§14/§22 and XEP-0206 §11 request validation.
#include "boshgate/bosh/body.hpp"

#include <gtest/gtest.h>

#include <string>

namespace boshgate::bosh {
namespace {

const std::string open_tag = "<body xmlns='http://jabber.org/protocol/httpbind' ";

body ok(const std::string& doc)
{
    auto r = parse_body(doc, xml::limits{});
    if (auto* e = std::get_if<body_error>(&r)) {
        ADD_FAILURE() << "refused: " << e->reason << "\n" << doc;
        return body{};
    }
    return std::get<body>(std::move(r));
}

std::string refused(const std::string& doc, xml::limits lim = {})
{
    auto r = parse_body(doc, lim);
    if (auto* e = std::get_if<body_error>(&r)) {
        return e->reason;
    }
    ADD_FAILURE() << "accepted: " << doc;
    return {};
}

// Full creation request as strophe.js sends it.
TEST(parse_body, creation_request_attributes)
{
    auto b = ok(open_tag +
                "content='text/xml; charset=utf-8' hold='1' rid='1573741820' to='example.com' "
                "route='xmpp:example.com:9999' secure='true' ver='1.6' wait='60' ack='1' "
                "xml:lang='en' from='u@example.com' xmpp:version='1.0' "
                "xmlns:xmpp='urn:xmpp:xbosh'/>");
    EXPECT_EQ(b.rid, 1573741820u);
    EXPECT_EQ(b.content, "text/xml; charset=utf-8");
    EXPECT_EQ(b.hold, 1u);
    EXPECT_EQ(b.wait, 60u);
    EXPECT_EQ(b.to, "example.com");
    EXPECT_EQ(b.route, "xmpp:example.com:9999");
    EXPECT_EQ(b.ver, "1.6");
    EXPECT_EQ(b.ack, 1u);
    EXPECT_EQ(b.lang, "en");
    EXPECT_EQ(b.from, "u@example.com");
    EXPECT_EQ(b.xmpp_version, "1.0");
    EXPECT_FALSE(b.sid);
    EXPECT_FALSE(b.restart);
    EXPECT_FALSE(b.terminate);
    EXPECT_TRUE(b.payloads.empty());
}

// BOSH-XML-6, XML-11: children in document order; unqualified stanzas stay unqualified
// (they inherit jabber:client on the TCP stream).
TEST(parse_body, payloads_in_order_and_unqualified_kept_unqualified)
{
    auto b = ok(open_tag + "rid='5' sid='s'>"
                           "<message to='a@b'><body>1</body></message>\n  "
                           "<iq xmlns='jabber:client' type='get' id='2'/>"
                           "<r xmlns='urn:xmpp:sm:3'/></body>");
    ASSERT_EQ(b.payloads.size(), 3u);
    EXPECT_EQ(b.payloads[0].local, "message");
    EXPECT_EQ(b.payloads[0].xml, "<message to='a@b'><body>1</body></message>");
    EXPECT_EQ(b.payloads[1].xml, "<iq xmlns='jabber:client' type='get' id='2'/>");
    EXPECT_EQ(b.payloads[2].ns, "urn:xmpp:sm:3");
    EXPECT_EQ(b.payload_bytes,
              b.payloads[0].xml.size() + b.payloads[1].xml.size() + b.payloads[2].xml.size());
    EXPECT_EQ(b.sid, "s");
}

// BOSH-XML-1
TEST(parse_body, root_must_be_httpbind_body)
{
    EXPECT_NE(refused("<foo xmlns='http://jabber.org/protocol/httpbind' rid='1'/>").find("XEP-0124 §6"),
              std::string::npos);
    EXPECT_NE(refused("<body xmlns='jabber:client' rid='1'/>").find("XEP-0124 §6"), std::string::npos);
    EXPECT_NE(refused("<body rid='1'/>").find("XEP-0124 §6"), std::string::npos);
}

// BOSH-XML-2
TEST(parse_body, not_well_formed_is_refused)
{
    EXPECT_NE(refused(open_tag + "rid='1'").find("XEP-0124 §6"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1'><x:y/></body>").find("XEP-0124 §6"), std::string::npos);
    EXPECT_NE(refused("").find("XEP-0124 §6"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1'/><extra/>").find("XEP-0124 §6"), std::string::npos);
}

// BOSH-XML-3, XML-4: comments, PIs, DOCTYPE, entity references are refused.
TEST(parse_body, restricted_xml_is_refused)
{
    for (std::string doc : {
             open_tag + "rid='1'><!-- c --></body>",
             open_tag + "rid='1'><?pi x?></body>",
             "<!DOCTYPE body [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>" + open_tag +
                 "rid='1'><message><body>&b;</body></message></body>",
             open_tag + "rid='1'><message><body>&ent;</body></message></body>",
         }) {
        EXPECT_NE(refused(doc).find("XEP-0124 §6"), std::string::npos) << doc;
    }
}

// Predefined entities are fine.
TEST(parse_body, predefined_entities_accepted)
{
    auto b = ok(open_tag + "rid='1'><message><body>&lt;&amp;&gt;&apos;&quot;</body></message></body>");
    ASSERT_EQ(b.payloads.size(), 1u);
}

// BOSH-XML-5: no character data in body; whitespace between children is tolerated.
TEST(parse_body, character_data_refused_whitespace_tolerated)
{
    EXPECT_NE(refused(open_tag + "rid='1'>hello</body>").find("character data"), std::string::npos);
    auto b = ok(open_tag + "rid='1'>\n  <message/>\n  <message/>\n</body>");
    EXPECT_EQ(b.payloads.size(), 2u);
}

// BOSH-XML-7, REQ-10
TEST(parse_body, rid_required_and_in_range)
{
    EXPECT_NE(refused(open_tag + "sid='x'/>").find("XEP-0124 §14.1"), std::string::npos);
    for (std::string rid : {"0", "-1", "abc", "9007199254740992", "+5", " 5", "1.0", "",
                            "99999999999999999999999"}) {
        EXPECT_NE(refused(open_tag + "rid='" + rid + "'/>").find("XEP-0124 §14.1"), std::string::npos)
            << rid;
    }
    EXPECT_EQ(ok(open_tag + "rid='9007199254740990'/>").rid, 9007199254740990u);
    EXPECT_EQ(ok(open_tag + "rid='9007199254740991'/>").rid, max_rid);
    EXPECT_EQ(ok(open_tag + "rid='007'/>").rid, 7u);
}

// SCHEMA-1: wait/inactivity/pause unsignedShort, hold unsignedByte.
TEST(parse_body, numeric_attributes_follow_schema)
{
    auto b = ok(open_tag + "rid='1' wait='65535' hold='255' pause='0' inactivity='30'/>");
    EXPECT_EQ(b.wait, 65535u);
    EXPECT_EQ(b.hold, 255u);
    EXPECT_EQ(b.pause, 0u);
    EXPECT_EQ(b.inactivity, 30u);
    EXPECT_NE(refused(open_tag + "rid='1' wait='65536'/>").find("wait"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1' hold='256'/>").find("hold"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1' hold='-1'/>").find("hold"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1' wait='abc'/>").find("XEP-0124 §22"), std::string::npos);
    EXPECT_NE(refused(open_tag + "rid='1' pause='1e3'/>").find("pause"), std::string::npos);
}

// XBOSH-4, SCHEMA-5: xmpp:restart true/1/false/0, only when namespace-qualified.
TEST(parse_body, restart_boolean_and_qualified_only)
{
    const std::string ns = "xmlns:xmpp='urn:xmpp:xbosh' ";
    EXPECT_TRUE(ok(open_tag + ns + "rid='1' xmpp:restart='true'/>").restart);
    EXPECT_TRUE(ok(open_tag + ns + "rid='1' xmpp:restart='1'/>").restart);
    EXPECT_FALSE(ok(open_tag + ns + "rid='1' xmpp:restart='false'/>").restart);
    EXPECT_FALSE(ok(open_tag + ns + "rid='1' xmpp:restart='0'/>").restart);
    EXPECT_NE(refused(open_tag + ns + "rid='1' xmpp:restart='yes'/>").find("XEP-0206 §11"),
              std::string::npos);
    // unqualified: not a restart
    EXPECT_FALSE(ok(open_tag + "rid='1' restart='true'/>").restart);
    // another prefix bound to the xbosh namespace counts
    EXPECT_TRUE(ok(open_tag + "xmlns:x='urn:xmpp:xbosh' rid='1' x:restart='true'/>").restart);
    // the xmpp prefix bound elsewhere does not
    EXPECT_FALSE(ok(open_tag + "xmlns:xmpp='urn:other' rid='1' xmpp:restart='true'/>").restart);
}

// BOSH-ACK-6: ack='0' accepted (acks off), other garbage refused.
TEST(parse_body, ack_values)
{
    EXPECT_EQ(ok(open_tag + "rid='1' ack='0'/>").ack, 0u);
    EXPECT_EQ(ok(open_tag + "rid='1' ack='12345'/>").ack, 12345u);
    EXPECT_NE(refused(open_tag + "rid='1' ack='x'/>").find("XEP-0124 §9"), std::string::npos);
}

// type='terminate'; other values ignored.
TEST(parse_body, terminate_type)
{
    EXPECT_TRUE(ok(open_tag + "rid='1' type='terminate'/>").terminate);
    EXPECT_FALSE(ok(open_tag + "rid='1' type='error'/>").terminate);
}

// SCHEMA-3, REQ-11, KEY-4, MULTI-2: unknown attributes, secure, key/newkey and stream are
// ignored harmlessly.
TEST(parse_body, ignored_attributes)
{
    auto b = ok(open_tag +
                "rid='1' sid='s' secure='true' key='abc' newkey='def' stream='x' window='5' "
                "charsets='ISO-8859-1' accept='gzip' foo='bar' to='other.example'/>");
    EXPECT_EQ(b.rid, 1u);
    EXPECT_EQ(b.sid, "s");
}

// BOSH-HTTP-10, SEC-INJ-1: content becomes a header. A value that is not a plain XML media
// type (header injection, text/html, ...) is dropped, not refused: the session goes on with
// the configured default type.
TEST(parse_body, content_type_sanitised)
{
    EXPECT_EQ(ok(open_tag + "rid='1' content='text/xml&#13;&#10;X-Evil: 1'/>").content, std::nullopt);
    EXPECT_EQ(ok(open_tag + "rid='1' content='text/html'/>").content, std::nullopt);
    EXPECT_EQ(ok(open_tag + "rid='1' content='text/plain; charset=utf-8'/>").content, std::nullopt);
    EXPECT_EQ(ok(open_tag + "rid='1' content='application/xml; charset=utf-8'/>").content,
              "application/xml; charset=utf-8");
}

// SEC-XML-1: the namespace declaration limit applies to request bodies (bad-request).
TEST(parse_body, namespace_declaration_limit_applies)
{
    xml::limits lim;
    lim.max_namespace_decls = 3;
    EXPECT_EQ(ok(open_tag + "rid='1'><message xmlns='jabber:client' xmlns:a='urn:a'/></body>").rid,
              1u);
    auto r = parse_body(open_tag + "rid='1'><message xmlns='jabber:client' xmlns:a='urn:a' "
                                   "xmlns:b='urn:b'/></body>",
                        lim);
    ASSERT_TRUE(std::holds_alternative<body_error>(r));
    EXPECT_NE(std::get<body_error>(r).reason.find("RFC 6120 §13.12"), std::string::npos)
        << std::get<body_error>(r).reason;
}

// SEC-XML-2, BOSH-XML-4: a full billion-laughs body is refused before any expansion.
TEST(parse_body, billion_laughs_refused)
{
    std::string doc = "<!DOCTYPE body [<!ENTITY l0 'lol'>";
    for (int i = 1; i <= 9; ++i) {
        doc += "<!ENTITY l" + std::to_string(i) + " '";
        for (int k = 0; k < 10; ++k) {
            doc += "&l" + std::to_string(i - 1) + ";";
        }
        doc += "'>";
    }
    doc += "]>" + open_tag + "rid='1'><message><body>&l9;</body></message></body>";
    EXPECT_NE(refused(doc).find("RFC 6120 §11.1"), std::string::npos);
}

// Limits from config bound the document.
TEST(parse_body, element_limit_applies)
{
    xml::limits lim;
    lim.max_element_bytes = 100;
    EXPECT_FALSE(refused(open_tag + "rid='1'><message><body>" + std::string(500, 'x') +
                             "</body></message></body>",
                         lim)
                     .empty());
}

// Every split is irrelevant here (document mode), but non-UTF-8 must be refused
// (RFC 6120 §11.6, BOSH-XML-9).
TEST(parse_body, invalid_utf8_refused)
{
    EXPECT_FALSE(refused(open_tag + "rid='1'><message><body>\xff\xfe</body></message></body>").empty());
}

// BOSH-XML-9: a UTF-16 body (expat would read it as UTF-16 from its byte order mark, and its
// children's bytes would go to the server as they are) is refused as not UTF-8.
TEST(parse_body, utf16_body_refused)
{
    std::string utf16;
    utf16 += "\xFF\xFE";
    for (char c : open_tag + "rid='1'><message xmlns='jabber:client'/></body>") {
        utf16 += c;
        utf16 += '\0';
    }
    EXPECT_NE(refused(utf16).find("RFC 6120 §11.6"), std::string::npos) << refused(utf16);
    EXPECT_NE(refused(utf16.substr(2)).find("RFC 6120 §11.6"), std::string::npos)
        << "without the mark";
}

} // namespace
} // namespace boshgate::bosh

namespace boshgate::bosh {
namespace {

// A refusal names the sid when the document had one, so the table can end that session
// (BOSH-COND-1, STATUS-3); a broken document has none.
TEST(parse_body, refusal_carries_sid_when_known)
{
    auto r = parse_body(open_tag + "sid='abc' rid='x'/>", xml::limits{});
    ASSERT_TRUE(std::holds_alternative<body_error>(r));
    EXPECT_EQ(std::get<body_error>(r).sid, "abc");
    auto r2 = parse_body(open_tag + "sid='abc' rid='1'", xml::limits{});
    ASSERT_TRUE(std::holds_alternative<body_error>(r2));
    EXPECT_EQ(std::get<body_error>(r2).sid, std::nullopt);
}

} // namespace
} // namespace boshgate::bosh
