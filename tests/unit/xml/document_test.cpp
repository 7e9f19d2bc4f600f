// Unit tests for xml::parse_document: one BOSH <body/> per HTTP request (XEP-0124 §6).
#include "boshgate/xml/stream_parser.hpp"

#include "xml_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace boshgate::xml {
namespace {

const std::string httpbind = "http://jabber.org/protocol/httpbind";
const std::string body_open = "<body rid='1573741820' sid='SomeSID' xmlns='" + httpbind + "'>";
const std::string body_event = "open body {" + httpbind + "}body xmlns=" + httpbind +
                               " rid=1573741820 sid=SomeSID";

struct result {
    boost::system::error_code ec;
    std::vector<std::string> events;
};

result parse(std::string_view doc, limits lim = {}, options opt = {false})
{
    test::setup s;
    test::recorder rec(s);
    result r;
    r.ec = parse_document(doc, rec, lim, opt);
    r.events = rec.events;
    return r;
}

// BOSH-XML-6, BOSH-XML-11: children in document order, as received; unqualified children
// stay unqualified when redeclare_default_ns is false.
TEST(parse_document, body_with_three_stanzas)
{
    const std::string m1 = "<message to='contact@example.com' xmlns='jabber:client'>"
                           "<body>Good morning!</body></message>";
    const std::string m2 = "<message to='friend@example.com'><body>Hey!</body></message>";
    const std::string iq = "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>";
    // BOSH-XML-5: pretty-printing whitespace between children is tolerated.
    const std::string doc = "<?xml version='1.0'?>\n" + body_open + "\n  " + m1 + "\n  " + m2 +
                            "\t" + iq + "\r\n</body>\n";
    result r = parse(doc);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.events, (std::vector<std::string>{body_event,
                                                  "element {jabber:client}message " + m1,
                                                  "element {" + httpbind + "}message " + m2,
                                                  "element {" + httpbind + "}iq " + iq,
                                                  "close"}));
}

// With redeclare_default_ns the body's default namespace is copied (not what BOSH wants,
// but the option is honoured in document mode as well).
TEST(parse_document, redeclare_option_is_honoured)
{
    result r = parse(body_open + "<presence/></body>", limits{}, options{true});
    ASSERT_FALSE(r.ec);
    ASSERT_EQ(r.events.size(), 3U);
    EXPECT_EQ(r.events[1], "element {" + httpbind + "}presence <presence xmlns='" + httpbind +
                               "'/>");
}

// Empty bodies (polling, terminate) are self-closing roots.
TEST(parse_document, empty_body)
{
    result r = parse("<body rid='2' sid='s' type='terminate' xmlns='" + httpbind + "'/>");
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.events, (std::vector<std::string>{"open body {" + httpbind + "}body xmlns=" +
                                                      httpbind + " rid=2 sid=s type=terminate",
                                                  "close"}));
}

struct bad_doc {
    const char* name;
    std::string doc;
    errc expected;
};

void PrintTo(const bad_doc& b, std::ostream* os)
{
    *os << b.name;
}

class document_rejects : public ::testing::TestWithParam<bad_doc> {};

TEST_P(document_rejects, with_exact_error)
{
    const bad_doc& b = GetParam();
    limits lim;
    lim.max_depth = 5;
    lim.max_element_bytes = 1024;
    result r = parse(b.doc, lim);
    EXPECT_EQ(r.ec, make_error_code(b.expected)) << r.ec.message();
}

INSTANTIATE_TEST_SUITE_P(
    xep0124, document_rejects,
    ::testing::Values(
        // BOSH-XML-2: truncated XML and undeclared prefixes
        bad_doc{"empty", "", errc::incomplete_document},
        bad_doc{"whitespace_only", " \n ", errc::incomplete_document},
        bad_doc{"truncated_in_tag", body_open + "<message to='a'", errc::incomplete_document},
        bad_doc{"unclosed_root", body_open + "<presence/>", errc::incomplete_document},
        bad_doc{"unclosed_cdata", body_open + "<m><![CDATA[abc", errc::incomplete_document},
        bad_doc{"undeclared_prefix", body_open + "<x:message/></body>", errc::not_well_formed},
        bad_doc{"mismatched", body_open + "<a></b></body>", errc::not_well_formed},
        // BOSH-XML-3, BOSH-XML-4
        bad_doc{"comment", body_open + "<!-- hi --></body>", errc::restricted_xml},
        bad_doc{"comment_after_root", body_open + "</body><!-- hi -->", errc::restricted_xml},
        bad_doc{"pi", body_open + "<?pi x?></body>", errc::restricted_xml},
        bad_doc{"doctype", "<!DOCTYPE body>" + body_open + "</body>", errc::restricted_xml},
        bad_doc{"entity_bomb",
                "<!DOCTYPE b [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;'>"
                "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]><body>&c;</body>",
                errc::restricted_xml},
        bad_doc{"entity_ref", body_open + "<m>&ent;</m></body>", errc::restricted_xml},
        // BOSH-XML-5: no character data of the body's own
        bad_doc{"text_in_body", body_open + "hello</body>", errc::text_at_top_level},
        // C2S-XML-2 (BOSH side): non-UTF-8 never reaches the server
        bad_doc{"latin1", body_open + "<m>caf\xE9</m></body>", errc::invalid_utf8},
        bad_doc{"truncated_utf8_at_end", body_open + "</body>\xC3", errc::invalid_utf8},
        // trailing content after the root
        bad_doc{"second_root", body_open + "</body><body/>", errc::trailing_content},
        bad_doc{"trailing_text", body_open + "</body>junk", errc::trailing_content},
        // limits
        bad_doc{"too_deep", body_open + "<a><b><c><d><e/></d></c></b></a></body>",
                errc::too_deep},
        bad_doc{"too_large", body_open + "<m>" + std::string(2000, 'x') + "</m></body>",
                errc::element_too_large}),
    [](const ::testing::TestParamInfo<bad_doc>& p) { return std::string(p.param.name); });

// Events before the offence are delivered (the caller discards them on error); nothing
// after it is.
TEST(parse_document, stops_at_the_offence)
{
    result r = parse(body_open + "<presence/><!-- x --><presence/></body>");
    EXPECT_EQ(r.ec, make_error_code(errc::restricted_xml));
    EXPECT_EQ(r.events.size(), 2U);
}

// Trailing whitespace after the root is fine.
TEST(parse_document, trailing_whitespace_is_fine)
{
    result r = parse(body_open + "<a/><b/></body> \r\n\t ");
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(r.events.size(), 4U);
}

} // namespace
} // namespace boshgate::xml
