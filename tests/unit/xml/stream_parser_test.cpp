// Unit tests for xml::stream_parser in stream mode. Every input goes through the byte-split
// matrix (whole, every two-chunk split, byte by byte) and must give identical events.
#include "boshgate/xml/stream_parser.hpp"

#include "boshgate/xml/tree.hpp"
#include "xml_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace boshgate::xml {
namespace {

using test::after_reset;
using test::expect_matrix;
using test::outcome;
using test::run_whole;
using test::setup;

const std::string ns_stream = "http://etherx.jabber.org/streams";
const std::string ns_xml = "http://www.w3.org/XML/1998/namespace";

const std::string header = "<?xml version='1.0'?>"
                           "<stream:stream xmlns='jabber:client' "
                           "xmlns:stream='http://etherx.jabber.org/streams' id='7f3e2d1c-9b8a' "
                           "from='example.com' version='1.0' xml:lang='en'>";
const std::string header_event =
    "open stream:stream {" + ns_stream + "}stream xmlns=jabber:client xmlns:stream=" + ns_stream +
    " id=7f3e2d1c-9b8a from=example.com version=1.0 xml:lang=en{" + ns_xml + "}";
// What every lifted element of the stream above gets after its name (BOSH-XML-10).
const std::string client_decl = " xmlns='jabber:client'";
const std::string stream_decl = " xmlns:stream='http://etherx.jabber.org/streams'";

outcome ok(std::vector<std::string> events, std::size_t size)
{
    return {std::move(events), {}, {}, size};
}

outcome failed(std::vector<std::string> events, errc e, std::string reason_text)
{
    return {std::move(events), make_error_code(e), std::move(reason_text), 0};
}

// C2S-XML-3, BOSH-XML-10, BOSH-XML-14, C2S-HDR-6: a realistic Prosody stream.
TEST(stream_parser, prosody_stream_in_every_split)
{
    const std::string features =
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
        "</stream:features>";
    const std::string message_tail =
        " from='juliet@example.com/balcony' id='m&apos;1&amp;2&lt;3' "
        "to='romeo@example.net/orchard' type='chat'><body>Wherefore art thou? &lt;3 &amp; "
        "&apos;\xC3\xA7" "a&apos; \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
        "\xF0\x9F\x98\x80 &#x41;&#66;</body>"
        "<active xmlns='http://jabber.org/protocol/chatstates'/><thread>e0ffe42b</thread>"
        "</message>";
    const std::string sm = "<r xmlns='urn:xmpp:sm:3'/>";
    const std::string error_tail =
        "><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Replaced by new "
        "connection</text></stream:error>";
    const std::string input = header + "\n" + features + "\n  \t\r\n<message" + message_tail +
                              "<presence/>" + sm + " <stream:error" + error_tail +
                              "</stream:stream>";
    expect_matrix(
        input, setup{},
        ok({header_event,
            "element {" + ns_stream + "}features <stream:features" + client_decl + stream_decl +
                features.substr(16),
            "element {jabber:client}message <message" + client_decl + message_tail,
            "element {jabber:client}presence <presence" + client_decl + "/>",
            "element {urn:xmpp:sm:3}r " + sm,
            "element {" + ns_stream + "}error <stream:error" + client_decl + stream_decl +
                error_tail,
            "close"},
           input.size()));
}

// BOSH-XML-14: prefixes declared on the root are re-declared on the lifted element when it,
// a descendant, or an attribute uses them, and only then.
TEST(stream_parser, root_prefixes_redeclared_where_used)
{
    const std::string root = "<stream:stream xmlns='jabber:client' xmlns:stream='" + ns_stream +
                             "' xmlns:db='jabber:server:dialback' xmlns:unused='urn:u'>";
    const std::string db_decl = " xmlns:db='jabber:server:dialback'";
    const std::string input =
        root +
        // element name prefix and an attribute prefix
        "<db:result db:type='valid' to='a'/>"
        // prefix used only by a descendant's attribute
        "<iq type='get'><query xmlns='urn:x'><item db:attr='v'/></query></iq>"
        // prefix re-declared on the element's own start tag: nothing to copy
        "<iq xmlns:db='urn:other'><db:y/></iq>"
        // prefix declared inside and used only there: nothing to copy
        "<iq><query xmlns:p='urn:p'><p:item p:a='1'/></query></iq>"
        // xml: needs no declaration; a redeclared default suppresses xmlns='jabber:client'
        "<message xmlns='jabber:client' xml:lang='fr'><stream:x/><db:z/></message>";
    expect_matrix(
        input, setup{},
        ok({"open stream:stream {" + ns_stream +
                "}stream xmlns=jabber:client xmlns:stream=" + ns_stream +
                " xmlns:db=jabber:server:dialback xmlns:unused=urn:u",
            "element {jabber:server:dialback}result <db:result" + client_decl + db_decl +
                " db:type='valid' to='a'/>",
            "element {jabber:client}iq <iq" + client_decl + db_decl +
                " type='get'><query xmlns='urn:x'><item db:attr='v'/></query></iq>",
            "element {jabber:client}iq <iq" + client_decl +
                " xmlns:db='urn:other'><db:y/></iq>",
            "element {jabber:client}iq <iq" + client_decl +
                "><query xmlns:p='urn:p'><p:item p:a='1'/></query></iq>",
            "element {jabber:client}message <message" + stream_decl + db_decl +
                " xmlns='jabber:client' xml:lang='fr'><stream:x/><db:z/></message>"},
           input.size()));
}

// BOSH-XML-11: a BOSH body read as a stream keeps unqualified children unqualified.
TEST(stream_parser, bosh_body_children_keep_their_form)
{
    const std::string input =
        "<body rid='1573741820' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind' "
        "xmlns:stream='" + ns_stream + "'>"
        "<message to='contact@example.com' xmlns='jabber:client'><body>Hi</body></message>"
        "<message to='friend@example.com'><body>Hey!</body></message>"
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        "</body>";
    setup s;
    s.opt.redeclare_default_ns = false;
    expect_matrix(
        input, s,
        ok({"open body {http://jabber.org/protocol/httpbind}body "
            "xmlns=http://jabber.org/protocol/httpbind xmlns:stream=" + ns_stream +
                " rid=1573741820 sid=SomeSID",
            "element {jabber:client}message <message to='contact@example.com' "
            "xmlns='jabber:client'><body>Hi</body></message>",
            "element {http://jabber.org/protocol/httpbind}message "
            "<message to='friend@example.com'><body>Hey!</body></message>",
            "element {" + ns_stream + "}features <stream:features" + stream_decl +
                "><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
            "close"},
           input.size()));
}

// BOSH-XML-1: an empty (self-closing) root gives open then close.
TEST(stream_parser, self_closing_root)
{
    const std::string input =
        "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate'/>";
    expect_matrix(input, setup{},
                  ok({"open body {http://jabber.org/protocol/httpbind}body "
                      "xmlns=http://jabber.org/protocol/httpbind type=terminate",
                      "close"},
                     input.size()));
}

TEST(stream_parser, root_open_attribute_lookup)
{
    struct capture final : handler {
        root_open root;
        void on_open(root_open&& r) override { root = std::move(r); }
        void on_element(element&&) override {}
        void on_close() override {}
    } h;
    stream_parser p(h, limits{});
    boost::system::error_code ec;
    const std::string input =
        "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' "
        "rid='10' xmpp:version='1.0' xml:lang='en'>";
    EXPECT_EQ(p.feed(input, ec), input.size());
    ASSERT_FALSE(ec);
    EXPECT_EQ(h.root.attr("rid"), "10");
    EXPECT_EQ(h.root.attr("xmpp:version"), "1.0");
    EXPECT_EQ(h.root.attr_ns("urn:xmpp:xbosh", "version"), "1.0");
    EXPECT_EQ(h.root.attr_ns("", "rid"), "10");
    EXPECT_EQ(h.root.attr_ns(ns_xml, "lang"), "en");
    EXPECT_EQ(h.root.attr_ns("urn:other", "version"), std::nullopt);
    EXPECT_EQ(h.root.attr_ns("", "version"), std::nullopt);
    EXPECT_EQ(h.root.attr("wait"), std::nullopt);

    // Built by hand, without attribute::ns: the prefix is resolved from the root's xmlns:p.
    root_open manual;
    manual.attrs = {{"xmlns:xmpp", "urn:xmpp:xbosh"}, {"xmpp:restart", "true"}};
    EXPECT_EQ(manual.attr_ns("urn:xmpp:xbosh", "restart"), "true");
}

// ---------------------------------------------------------------- restarts (C2S-RST-1)

// STARTTLS: after <proceed/> the rest of the buffer is TLS and must stay unconsumed.
TEST(stream_parser, reset_after_proceed_leaves_rest_unconsumed)
{
    const std::string proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    const std::string input = header +
                              "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                              "<required/></starttls></stream:features>" +
                              proceed + std::string("\x16\x03\x01\x02\x00\x01\x00<<&\xff", 12);
    setup s;
    s.reset_on = {"proceed"};
    s.then = after_reset::discard;
    const std::size_t end_of_proceed = input.find(proceed) + proceed.size();
    expect_matrix(input, s,
                  ok({header_event,
                      "element {" + ns_stream + "}features <stream:features" + client_decl +
                          stream_decl +
                          "><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                          "</starttls></stream:features>",
                      "element {urn:ietf:params:xml:ns:xmpp-tls}proceed " + proceed, "reset",
                      "@" + std::to_string(end_of_proceed)},
                     end_of_proceed));
}

// SASL success, then the server's new stream (with an XML declaration again, C2S-HDR-6) in
// the same buffer: the caller re-feeds the remainder into the fresh parser.
TEST(stream_parser, restart_two_documents_back_to_back)
{
    const std::string success = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
    const std::string features2 =
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
    const std::string input = header + success + header + features2;
    setup s;
    s.reset_on = {"success"};
    const std::size_t end_of_success = header.size() + success.size();
    expect_matrix(input, s,
                  ok({header_event, "element {urn:ietf:params:xml:ns:xmpp-sasl}success " + success,
                      "reset", "@" + std::to_string(end_of_success), header_event,
                      "element {" + ns_stream + "}features <stream:features" + client_decl +
                          stream_decl + features2.substr(16)},
                     input.size()));
}

// reset() outside a callback discards a half-read document (RFC 6120 §4.3.3).
TEST(stream_parser, reset_outside_callback_starts_fresh_document)
{
    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    boost::system::error_code ec;
    std::string partial = header + "<message><body>half";
    EXPECT_EQ(p.feed(partial, ec), partial.size());
    ASSERT_FALSE(ec);
    EXPECT_GT(p.buffered_bytes(), 0U);
    p.reset();
    EXPECT_EQ(p.buffered_bytes(), 0U);
    std::string again = header + "<presence/>";
    EXPECT_EQ(p.feed(again, ec), again.size());
    ASSERT_FALSE(ec);
    EXPECT_EQ(rec.events,
              (std::vector<std::string>{header_event, header_event,
                                        "element {jabber:client}presence <presence" +
                                            client_decl + "/>"}));
}

// An exception thrown by a callback propagates and leaves a fresh parser behind.
TEST(stream_parser, handler_exception_propagates_and_resets)
{
    struct throwing final : handler {
        int opens = 0;
        void on_open(root_open&&) override { ++opens; }
        void on_element(element&&) override { throw std::runtime_error("boom"); }
        void on_close() override {}
    } h;
    stream_parser p(h, limits{});
    boost::system::error_code ec;
    EXPECT_THROW(p.feed(header + "<presence/>", ec), std::runtime_error);
    EXPECT_EQ(p.feed(header, ec), header.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(h.opens, 2);
}

// ---------------------------------------------------------------- rejections

struct rejection {
    const char* name;
    std::string input;
    errc expected;
    std::string reason_text;
};

void PrintTo(const rejection& r, std::ostream* os)
{
    *os << r.name;
}

class stream_rejects : public ::testing::TestWithParam<rejection> {};

// Each bad input is rejected with the exact error and reason in every split, after
// exactly the events before the offence.
TEST_P(stream_rejects, in_every_split)
{
    const rejection& r = GetParam();
    setup s;
    s.lim.max_depth = 6;
    outcome whole = run_whole(r.input, s);
    ASSERT_EQ(whole.ec, make_error_code(r.expected)) << whole.reason;
    EXPECT_EQ(whole.reason, r.reason_text);
    expect_matrix(r.input, s, whole);
}

const std::string comments_reason = "RFC 6120 §11.1: comments are not allowed";
const std::string pi_reason = "RFC 6120 §11.1: processing instructions are not allowed";
const std::string doctype_reason = "RFC 6120 §11.1: DTDs (<!DOCTYPE>) are not allowed";
const std::string entity_reason =
    "RFC 6120 §11.1: entity references other than the five predefined ones are not allowed";
const std::string utf8_reason = "RFC 6120 §11.6: input is not valid UTF-8";
const std::string utf16_reason = "RFC 6120 §11.6: input is UTF-16 (byte order mark or NUL bytes), not UTF-8";
const std::string text_reason = std::string(reason(errc::text_at_top_level));

INSTANTIATE_TEST_SUITE_P(
    rfc6120, stream_rejects,
    ::testing::Values(
        // C2S-XML-1, BOSH-XML-3: comments, PIs, DTDs, entities (RFC 6120 §11.1)
        rejection{"comment_in_prolog", "<!-- hi --><stream:stream/>", errc::restricted_xml,
                  comments_reason},
        rejection{"comment_between_stanzas", header + "<presence/><!-- x -->",
                  errc::restricted_xml, comments_reason},
        rejection{"comment_in_stanza", header + "<message><!--x--></message>",
                  errc::restricted_xml, comments_reason},
        rejection{"pi_in_prolog", "<?xml version='1.0'?><?foo bar?><a/>", errc::restricted_xml,
                  pi_reason},
        rejection{"pi_in_stanza", header + "<message><?php echo 1 ?></message>",
                  errc::restricted_xml, pi_reason},
        rejection{"doctype", "<?xml version='1.0'?><!DOCTYPE stream><stream/>",
                  errc::restricted_xml, doctype_reason},
        // BOSH-XML-4: the entity bomb is refused at <!DOCTYPE, before any declaration
        rejection{"billion_laughs",
                  "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
                  "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
                  "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
                  "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
                  "<!ENTITY lol9 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>]>"
                  "<lolz>&lol9;</lolz>",
                  errc::restricted_xml, doctype_reason},
        rejection{"external_entity_doctype",
                  "<!DOCTYPE a [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]><a>&xxe;</a>",
                  errc::restricted_xml, doctype_reason},
        rejection{"undefined_entity_in_text", header + "<message><body>&nbsp;</body></message>",
                  errc::restricted_xml, entity_reason},
        rejection{"undefined_entity_in_attribute", header + "<message to='&foo;'/>",
                  errc::restricted_xml, entity_reason},
        // C2S-XML-2: not UTF-8 (RFC 6120 §11.6)
        rejection{"lone_continuation_byte", header + "<message><body>a\x80</body></message>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"overlong_encoding", header + "<message><body>\xC0\xAF</body></message>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"surrogate", header + "<message><body>\xED\xA0\x80</body></message>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"above_u10ffff", header + "<message><body>\xF4\x90\x80\x80</body></message>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"truncated_sequence", header + "<message><body>\xC3z</body></message>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"latin1_in_attribute", header + "<message to='caf\xE9'/>",
                  errc::invalid_utf8, utf8_reason},
        rejection{"byte_ff_in_header", "<stream:stream id='\xFF'>", errc::invalid_utf8,
                  utf8_reason},
        rejection{"declared_latin1", "<?xml version='1.0' encoding='ISO-8859-1'?><a>",
                  errc::invalid_utf8,
                  "RFC 6120 §11.6: the XML declaration names an encoding other than UTF-8"},
        // UTF-16, which expat detects from the first bytes even when told the input is UTF-8
        rejection{"utf16le_bom", std::string("\xFF\xFE<\0s\0>\0", 8), errc::invalid_utf8, utf16_reason},
        rejection{"utf16be_bom", std::string("\xFE\xFF\0<\0s\0>", 8), errc::invalid_utf8, utf16_reason},
        rejection{"utf16le_no_bom", std::string("<\0s\0>\0", 6), errc::invalid_utf8, utf16_reason},
        rejection{"utf16be_no_bom", std::string("\0<\0s\0>", 6), errc::invalid_utf8, utf16_reason},
        // valid UTF-8 that XML forbids is a well-formedness error, not an encoding one
        rejection{"control_character", header + "<message><body>\x01</body></message>",
                  errc::not_well_formed,
                  "RFC 6120 §11.3: not well-formed XML (not well-formed (invalid token))"},
        rejection{"noncharacter_fffe", header + "<message><body>\xEF\xBF\xBE</body></message>",
                  errc::not_well_formed,
                  "RFC 6120 §11.3: not well-formed XML (not well-formed (invalid token))"},
        // BOSH-XML-2 / C2S-XML-1: well-formedness and namespaces
        rejection{"undeclared_prefix", header + "<message><foo:bar/></message>",
                  errc::not_well_formed,
                  "RFC 6120 §11.2, §4.9.3.2: element or attribute uses an undeclared "
                  "namespace prefix"},
        rejection{"undeclared_attribute_prefix", header + "<message foo:a='1'/>",
                  errc::not_well_formed,
                  "RFC 6120 §11.2, §4.9.3.2: element or attribute uses an undeclared "
                  "namespace prefix"},
        rejection{"mismatched_tag", header + "<message><body></message>",
                  errc::not_well_formed,
                  "RFC 6120 §11.3: not well-formed XML (mismatched tag)"},
        rejection{"xml_declaration_mid_stream", header + "<?xml version='1.0'?>",
                  errc::not_well_formed,
                  "RFC 6120 §11.3: not well-formed XML (XML or text declaration not at start "
                  "of entity)"},
        rejection{"junk_after_root", header + "</stream:stream><a/>", errc::not_well_formed,
                  "RFC 6120 §11.3: not well-formed XML (junk after document element)"},
        // BOSH-XML-5, C2S-XML-3: only whitespace between top-level elements
        rejection{"text_between_stanzas", header + "<presence/> hello <presence/>",
                  errc::text_at_top_level, text_reason},
        rejection{"char_ref_between_stanzas", header + "<presence/>&#x41;",
                  errc::text_at_top_level, text_reason},
        rejection{"cdata_between_stanzas", header + "<presence/><![CDATA[x]]>",
                  errc::text_at_top_level, text_reason},
        // limits (convention 5): depth counts the root
        rejection{"too_deep", header + "<a><b><c><d><e><f/></e></d></c></b></a>", errc::too_deep,
                  "RFC 6120 §13.12: element nesting exceeds the configured depth limit"}),
    [](const ::testing::TestParamInfo<rejection>& p) { return std::string(p.param.name); });

// Events before the offence are delivered; the error then sticks until reset().
TEST(stream_parser, error_is_sticky_until_reset)
{
    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    boost::system::error_code ec;
    std::string bad = header + "<presence/><!-- no -->";
    EXPECT_EQ(p.feed(bad, ec), bad.size());
    EXPECT_EQ(ec, make_error_code(errc::restricted_xml));
    EXPECT_EQ(p.error_reason(), comments_reason);
    EXPECT_EQ(rec.events.size(), 2U);
    EXPECT_EQ(p.feed("<presence/>", ec), 0U);
    EXPECT_EQ(ec, make_error_code(errc::restricted_xml));
    EXPECT_EQ(rec.events.size(), 2U);
    p.reset();
    EXPECT_EQ(p.error_reason(), "");
    EXPECT_EQ(p.feed(header + "<presence/>", ec), header.size() + 11);
    EXPECT_FALSE(ec);
    EXPECT_EQ(rec.events.size(), 4U);
}

// Allowed: character references, the five predefined entities, CDATA inside a stanza, a
// UTF-8 BOM and an XML declaration naming UTF-8. A split UTF-8 sequence at the end of a
// feed is simply incomplete, not an error.
TEST(stream_parser, accepts_permitted_constructs)
{
    const std::string msg = "<message to='a&quot;b&gt;'><body>&#x41;&#228;&lt;&gt;&amp;&apos;"
                            "&quot;<![CDATA[<not markup>]]></body></message>";
    const std::string input = "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8'?>"
                              "<stream:stream xmlns='jabber:client' xmlns:stream='" +
                              ns_stream + "'>" + msg;
    expect_matrix(input, setup{},
                  ok({"open stream:stream {" + ns_stream +
                          "}stream xmlns=jabber:client xmlns:stream=" + ns_stream,
                      "element {jabber:client}message <message" + client_decl + msg.substr(8)},
                     input.size()));

    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    boost::system::error_code ec;
    std::string part = header + "<message><body>\xE6\x97";
    EXPECT_EQ(p.feed(part, ec), part.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(p.feed("\xA5</body></message>", ec), 18U);
    EXPECT_FALSE(ec);
    ASSERT_EQ(rec.events.size(), 2U);
    EXPECT_EQ(rec.events[1], "element {jabber:client}message <message" + client_decl +
                                 "><body>\xE6\x97\xA5</body></message>");
}

// ---------------------------------------------------------------- size limits

// An element of exactly max_element_bytes passes; one byte more is refused, in every split.
TEST(stream_parser, element_size_limit_is_exact)
{
    const std::string fits = "<message><body>" + std::string(400, 'x') + "</body></message>";
    const std::string lifted =
        "element {jabber:client}message <message" + client_decl + fits.substr(8);
    const std::string too_large = "RFC 6120 §13.12: element exceeds the configured size limit";
    const std::string input = header + "<presence/>" + fits;
    ASSERT_LT(header.size(), fits.size());
    setup s;
    s.lim.max_element_bytes = fits.size();
    expect_matrix(input, s,
                  ok({header_event,
                      "element {jabber:client}presence <presence" + client_decl + "/>", lifted},
                     input.size()));
    s.lim.max_element_bytes = fits.size() - 1;
    expect_matrix(input, s,
                  failed({header_event,
                          "element {jabber:client}presence <presence" + client_decl + "/>"},
                         errc::element_too_large, too_large));

    // The root start tag, with what precedes it, is bounded the same way.
    s.lim.max_element_bytes = header.size();
    expect_matrix(header, s, ok({header_event}, header.size()));
    s.lim.max_element_bytes = header.size() - 1;
    expect_matrix(header, s, failed({}, errc::element_too_large, too_large));
}

// A 10 MB element against a 64 KiB limit is refused while it is being buffered: the framer
// never holds more than the limit plus one internal slice, and stops reading early.
TEST(stream_parser, ten_megabyte_element_is_refused_with_bounded_buffering)
{
    constexpr std::size_t limit = 64 * 1024;
    constexpr std::size_t slack = 32 * 1024 + 4096; // one internal slice + one read
    const std::string big_body = "<message><body>" + std::string(10 * 1024 * 1024, 'a') +
                                 "</body></message>";
    const std::string big_attr = "<message to='" + std::string(10 * 1024 * 1024, 'a') + "'/>";
    for (const std::string* big : {&big_body, &big_attr}) {
        setup s;
        s.lim.max_element_bytes = limit;
        test::recorder rec(s);
        stream_parser p(rec, s.lim);
        boost::system::error_code ec;
        std::string input = header + "<presence/>" + *big;
        std::size_t fed = 0;
        std::size_t max_buffered = 0;
        while (fed < input.size() && !ec) {
            std::size_t n = std::min<std::size_t>(4096, input.size() - fed);
            p.feed(std::string_view(input).substr(fed, n), ec);
            fed += n;
            max_buffered = std::max(max_buffered, p.buffered_bytes());
        }
        EXPECT_EQ(ec, make_error_code(errc::element_too_large));
        EXPECT_LE(fed, header.size() + 11 + limit + slack);
        EXPECT_LE(max_buffered, limit + slack);
        EXPECT_EQ(p.buffered_bytes(), 0U);
        EXPECT_EQ(rec.events.size(), 2U); // header and presence, nothing of the big one

        // The same in one feed() call.
        test::recorder rec2(s);
        stream_parser p2(rec2, s.lim);
        EXPECT_EQ(p2.feed(input, ec), input.size());
        EXPECT_EQ(ec, make_error_code(errc::element_too_large));
        EXPECT_EQ(rec2.events.size(), 2U);
    }
}

/// A stream parser (default limits and options) that has been fed `header`.
struct after_header {
    setup s;
    test::recorder rec{s};
    stream_parser p{rec, limits{}};
    boost::system::error_code ec;
    after_header() { p.feed(header, ec); }
};

// Whitespace alone between stanzas never produces an event nor grows the buffer
// (C2S-XML-3: keepalives must not wake a held BOSH request).
TEST(stream_parser, whitespace_keepalives_are_dropped)
{
    after_header h;
    auto& [s, rec, p, ec] = h;
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(p.feed(" \n\t\r\n", ec), 5U);
        ASSERT_FALSE(ec);
    }
    EXPECT_EQ(rec.events.size(), 1U);
    EXPECT_LE(p.buffered_bytes(), 5U);
}

// Issue 9 (memory per idle session): an idle stream gives expat's state back between
// top-level elements, keeps it while a token is partial, and rebuilds it transparently.
TEST(stream_parser, release_idle_only_between_elements)
{
    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    boost::system::error_code ec;
    EXPECT_TRUE(p.release_idle()) << "nothing fed yet";
    EXPECT_EQ(p.feed(header, ec), header.size());
    ASSERT_FALSE(ec);
    EXPECT_TRUE(p.release_idle()) << "right after the stream header";
    EXPECT_TRUE(p.release_idle()) << "idempotent";
    EXPECT_EQ(p.feed("<presence/>", ec), 11U);
    EXPECT_TRUE(p.release_idle());
    EXPECT_EQ(p.feed(" \n\t\n", ec), 4U); // whitespace keepalive
    EXPECT_TRUE(p.release_idle()) << "after a whitespace keepalive";
    EXPECT_EQ(p.feed("<mess", ec), 5U);
    EXPECT_FALSE(p.release_idle()) << "a partial start tag is held";
    EXPECT_EQ(p.feed("age to='a@b'><body>x", ec), 20U);
    EXPECT_FALSE(p.release_idle()) << "inside a top-level element";
    EXPECT_EQ(p.feed("</body></message>", ec), 17U);
    ASSERT_FALSE(ec);
    EXPECT_TRUE(p.release_idle());
    EXPECT_EQ(p.namespace_decls_in_scope(), 2U) << "the root's declarations are kept";
    EXPECT_EQ(p.buffered_bytes(), 0U);
    const std::string close = "</stream:stream>";
    EXPECT_EQ(p.feed(close, ec), close.size());
    ASSERT_FALSE(ec);
    EXPECT_FALSE(p.release_idle()) << "the root has ended";
    EXPECT_EQ(rec.events,
              (std::vector<std::string>{header_event,
                                        "element {jabber:client}presence <presence" + client_decl +
                                            "/>",
                                        "element {jabber:client}message <message" + client_decl +
                                            " to='a@b'><body>x</body></message>",
                                        "close"}));
}

// After a release the rebuilt parser still refuses what the stream refused before: an XML
// declaration inside the root, an undeclared prefix, a second root; and errors stay sticky.
TEST(stream_parser, released_parser_keeps_every_check)
{
    const std::vector<std::pair<std::string, errc>> cases = {
        {"<?xml version='1.0'?>", errc::not_well_formed},
        {"<x:y/>", errc::not_well_formed},
        {"<!-- c -->", errc::restricted_xml},
        {"text", errc::text_at_top_level},
    };
    for (const auto& [bad, want] : cases) {
        after_header h;
        auto& [s, rec, p, ec] = h;
        ASSERT_TRUE(p.release_idle());
        p.feed(bad, ec);
        EXPECT_EQ(ec, make_error_code(want)) << bad;
        EXPECT_FALSE(p.release_idle()) << "a failed stream is not released: " << bad;
        EXPECT_EQ(p.feed("<presence/>", ec), 0U) << "sticky: " << bad;
        EXPECT_EQ(ec, make_error_code(want));
    }
}

// Released after every stanza, a long stream still lifts each element with the root's
// declarations, and a stream restart (reset) on a released parser starts a fresh document.
TEST(stream_parser, release_then_reset_starts_fresh_document)
{
    after_header h;
    auto& [s, rec, p, ec] = h;
    ASSERT_TRUE(p.release_idle());
    p.reset();
    EXPECT_EQ(p.feed(header, ec), header.size()) << "an XML declaration is accepted again";
    ASSERT_FALSE(ec);
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(p.release_idle());
        EXPECT_EQ(p.feed("<stream:features/>", ec), 18U);
        ASSERT_FALSE(ec);
    }
    ASSERT_EQ(rec.events.size(), 102U);
    EXPECT_EQ(rec.events.back(), "element {" + ns_stream + "}features <stream:features" +
                                     client_decl + stream_decl + "/>");
}

// Many stanzas in one large feed: all delivered in order, nothing retained afterwards.
TEST(stream_parser, many_stanzas_in_one_feed)
{
    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    std::string input = header;
    for (int i = 0; i < 20000; ++i) {
        input += "<message id='" + std::to_string(i) + "'><body>hello</body></message>\n";
    }
    boost::system::error_code ec;
    EXPECT_EQ(p.feed(input, ec), input.size());
    ASSERT_FALSE(ec);
    ASSERT_EQ(rec.events.size(), 20001U);
    EXPECT_EQ(rec.events[12346], "element {jabber:client}message <message" + client_decl +
                                      " id='12345'><body>hello</body></message>");
    EXPECT_LE(p.buffered_bytes(), 1U);
}

// ---------------------------------------------------------------- namespace bookkeeping

const std::string ns_limit_reason =
    "RFC 6120 §13.12: namespace declarations in scope exceed the configured limit";

/// Records events and, after each element, how many declarations the parser tracks.
class scope_probe final : public handler {
public:
    stream_parser* parser = nullptr;
    std::size_t elements = 0;
    std::size_t max_seen = 0;
    std::size_t after_element_max = 0;

    void on_open(root_open&&) override { note(); }
    void on_element(element&&) override
    {
        ++elements;
        note();
        after_element_max = std::max(after_element_max, parser->namespace_decls_in_scope());
    }
    void on_close() override {}

private:
    void note() { max_seen = std::max(max_seen, parser->namespace_decls_in_scope()); }
};

// SEC-XML-1: declarations inside stanzas leave the bookkeeping when their element ends: a
// long stream whose stanzas each declare fresh prefixes (and defaults, nested, re-declared)
// keeps it at the root's declarations between stanzas, whatever the stream's length.
TEST(stream_parser, namespace_bookkeeping_stays_constant_over_a_long_stream)
{
    scope_probe probe;
    stream_parser p(probe, limits{});
    probe.parser = &p;
    boost::system::error_code ec;
    ASSERT_EQ(p.feed(header, ec), header.size());
    ASSERT_FALSE(ec);
    const std::size_t root_decls = 2; // xmlns, xmlns:stream
    EXPECT_EQ(p.namespace_decls_in_scope(), root_decls);
    for (int i = 0; i < 20000; ++i) {
        const std::string n = std::to_string(i);
        std::string stanza = "<message xmlns:a" + n + "='urn:a:" + n + "' xmlns:b" + n + "='urn:b'>"
                             "<x xmlns='urn:x' xmlns:a" + n + "='urn:inner'><a" + n + ":y/></x>"
                             "<b" + n + ":z xmlns:c='urn:c'/></message>";
        ASSERT_EQ(p.feed(stanza, ec), stanza.size());
        ASSERT_FALSE(ec) << p.error_reason();
        ASSERT_EQ(p.namespace_decls_in_scope(), root_decls) << "after stanza " << i;
    }
    EXPECT_EQ(probe.elements, 20000U);
    // on_element runs between the stanza's end tag and expat's end-of-scope reports for the
    // declarations on its own start tag: those two are still counted there, the inner ones
    // are gone already.
    EXPECT_EQ(probe.after_element_max, root_decls + 2);
    EXPECT_EQ(probe.max_seen, root_decls + 2);
}

// SEC-XML-1: a declaration that went out of scope no longer shadows the root's binding: a
// later use of the prefix (in a sibling inside the same stanza, or in a later stanza) gets
// the root's declaration copied onto the lifted element (BOSH-XML-14).
TEST(stream_parser, inner_declarations_end_with_their_element)
{
    const std::string root = "<stream:stream xmlns='jabber:client' xmlns:stream='" + ns_stream +
                             "' xmlns:x='urn:root'>";
    const std::string x_decl = " xmlns:x='urn:root'";
    const std::string input = root +
                              "<iq><a xmlns:x='urn:inner'><x:b/></a><x:c/></iq>"
                              "<iq xmlns:x='urn:own'><x:d/></iq>"
                              "<iq><x:e/></iq>";
    expect_matrix(input, setup{},
                  ok({"open stream:stream {" + ns_stream + "}stream xmlns=jabber:client xmlns:stream=" +
                          ns_stream + " xmlns:x=urn:root",
                      "element {jabber:client}iq <iq" + client_decl + x_decl +
                          "><a xmlns:x='urn:inner'><x:b/></a><x:c/></iq>",
                      "element {jabber:client}iq <iq" + client_decl + " xmlns:x='urn:own'><x:d/></iq>",
                      "element {jabber:client}iq <iq" + client_decl + x_decl + "><x:e/></iq>"},
                     input.size()));
}

// SEC-XML-1: more declarations in scope than limits::max_namespace_decls is a clear stream
// error (policy-violation upstream / for the client), in every split; exactly the limit
// passes. The root's declarations count.
TEST(stream_parser, namespace_declaration_limit)
{
    setup s;
    s.lim.max_namespace_decls = 5;
    auto decls = [](int from, int count) {
        std::string out;
        for (int i = from; i < from + count; ++i) {
            out += " xmlns:p" + std::to_string(i) + "='urn:" + std::to_string(i) + "'";
        }
        return out;
    };
    // root 2 + 3 on one element: exactly 5 => fine; nested, 3 then (out of scope) 3 again.
    const std::string fits = header + "<iq" + decls(0, 3) + "/><iq><a" + decls(0, 2) +
                             "/><b xmlns='urn:b'" + decls(5, 2) + "/></iq>";
    outcome good = run_whole(fits, s);
    EXPECT_FALSE(good.ec) << good.reason;
    EXPECT_EQ(good.events.size(), 3U);
    expect_matrix(fits, s, good);

    // One more on a single start tag.
    const std::string flat = header + "<presence/><iq" + decls(0, 4) + "/>";
    expect_matrix(flat, s,
                  failed({header_event, "element {jabber:client}presence <presence" + client_decl + "/>"},
                         errc::too_many_namespaces, ns_limit_reason));
    // Accumulated over nesting inside one stanza.
    const std::string nested = header + "<iq xmlns:a='urn:a'><q xmlns:b='urn:b'><r xmlns='urn:r'>"
                                        "<s xmlns:c='urn:c'/></r></q></iq>";
    expect_matrix(nested, s, failed({header_event}, errc::too_many_namespaces, ns_limit_reason));
    // On the root itself.
    const std::string root = "<stream:stream xmlns='jabber:client'" + decls(0, 5) + ">";
    expect_matrix(root, s, failed({}, errc::too_many_namespaces, ns_limit_reason));

    // The default limit (64) with a realistic stream and a hostile start tag.
    setup d;
    const std::string hostile = header + "<iq" + decls(0, 63) + "/>";
    outcome r = run_whole(hostile, d);
    EXPECT_EQ(r.ec, make_error_code(errc::too_many_namespaces));
    EXPECT_EQ(r.reason, ns_limit_reason);
    EXPECT_FALSE(run_whole(header + "<iq" + decls(0, 62) + "/>", d).ec);
}

// SEC-XML-1: the document mode (BOSH bodies) and parse_tree apply the same limit.
TEST(stream_parser, namespace_declaration_limit_in_documents_and_trees)
{
    limits lim;
    lim.max_namespace_decls = 3;
    struct sink final : handler {
        void on_open(root_open&&) override {}
        void on_element(element&&) override {}
        void on_close() override {}
    } h;
    const std::string body = "<body xmlns='http://jabber.org/protocol/httpbind'>";
    EXPECT_FALSE(parse_document(body + "<a xmlns:x='urn:x' xmlns:y='urn:y'/></body>", h, lim));
    EXPECT_EQ(parse_document(body + "<a xmlns:x='urn:x' xmlns:y='urn:y' xmlns:z='urn:z'/></body>",
                             h, lim),
              make_error_code(errc::too_many_namespaces));
    tree t;
    EXPECT_FALSE(parse_tree("<a xmlns='urn:a' xmlns:x='urn:x'><b xmlns:y='urn:y'/><c xmlns:z='urn:z'/></a>",
                            t, lim));
    EXPECT_EQ(parse_tree("<a xmlns='urn:a' xmlns:x='urn:x'><b xmlns:y='urn:y' xmlns:z='urn:z'/></a>", t, lim),
              make_error_code(errc::too_many_namespaces));
}

// ---------------------------------------------------------------- DTDs and entities

// SEC-XML-2, BOSH-XML-4, RFC 6120 §11.1: a DOCTYPE is refused as soon as its name is read,
// before the internal subset: an entity bomb is never declared, let alone expanded. Both
// directions use this framer: the server's stream (stream mode) and client input (BOSH
// bodies in document mode, WebSocket messages wrapped in a synthetic root).
TEST(stream_parser, doctype_refused_before_its_internal_subset)
{
    setup s;
    test::recorder rec(s);
    stream_parser p(rec, limits{});
    boost::system::error_code ec;
    const std::string start = "<?xml version='1.0'?><!DOCTYPE lolz [";
    EXPECT_EQ(p.feed(start, ec), start.size());
    EXPECT_EQ(ec, make_error_code(errc::restricted_xml));
    EXPECT_EQ(p.error_reason(), "RFC 6120 §11.1: DTDs (<!DOCTYPE>) are not allowed");
    EXPECT_TRUE(rec.events.empty());
    // The rest of the bomb is never looked at.
    EXPECT_EQ(p.feed("<!ENTITY lol 'lol'><!ENTITY lol1 '&lol;&lol;'>]><lolz>&lol1;</lolz>", ec), 0U);
    EXPECT_EQ(ec, make_error_code(errc::restricted_xml));
    EXPECT_EQ(p.buffered_bytes(), 0U);
}

// SEC-XML-2: a full-size billion-laughs document (10^9 expansions of 'lol') is refused at
// the DOCTYPE in document mode too, with nothing delivered and nothing buffered; the
// external-entity (XXE) and parameter-entity variants likewise.
TEST(stream_parser, entity_bombs_refused_in_document_mode)
{
    std::string bomb = "<?xml version='1.0'?><!DOCTYPE body [<!ENTITY lol0 'lol'>";
    for (int i = 1; i <= 9; ++i) {
        bomb += "<!ENTITY lol" + std::to_string(i) + " '";
        for (int k = 0; k < 10; ++k) {
            bomb += "&lol" + std::to_string(i - 1) + ";";
        }
        bomb += "'>";
    }
    bomb += "]><body xmlns='http://jabber.org/protocol/httpbind'><m>&lol9;</m></body>";
    for (const std::string& doc :
         {bomb,
          std::string("<!DOCTYPE body SYSTEM 'http://attacker.example/x.dtd'>"
                      "<body xmlns='http://jabber.org/protocol/httpbind'/>"),
          std::string("<!DOCTYPE body [<!ENTITY % p SYSTEM 'file:///etc/passwd'> %p;]>"
                      "<body xmlns='http://jabber.org/protocol/httpbind'/>"),
          std::string("<!DOCTYPE body [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                      "<body xmlns='http://jabber.org/protocol/httpbind'>&x;</body>")}) {
        std::size_t events = 0;
        struct counter final : handler {
            std::size_t& n;
            explicit counter(std::size_t& c) : n(c) {}
            void on_open(root_open&&) override { ++n; }
            void on_element(element&&) override { ++n; }
            void on_close() override { ++n; }
        } h(events);
        EXPECT_EQ(parse_document(doc, h, limits{}), make_error_code(errc::restricted_xml)) << doc;
        EXPECT_EQ(events, 0U) << doc;
    }
}

// SEC-XML-2: inside an open stream (server direction) a DOCTYPE or an entity declaration
// is markup XML does not allow there: the stream dies before anything is declared.
TEST(stream_parser, doctype_and_entity_declaration_inside_a_stream_refused)
{
    for (const std::string& tail : {std::string("<!DOCTYPE x [<!ENTITY a 'b'>]>"),
                                    std::string("<!ENTITY a 'b'>"),
                                    std::string("<message><!DOCTYPE x></message>")}) {
        outcome r = run_whole(header + tail, setup{});
        EXPECT_TRUE(r.ec == make_error_code(errc::not_well_formed) ||
                    r.ec == make_error_code(errc::restricted_xml))
            << tail << ": " << r.reason;
        expect_matrix(header + tail, setup{}, r);
    }
}

// ---------------------------------------------------------------- errors

TEST(xml_errc, reasons_cite_the_spec)
{
    for (errc e : {errc::not_well_formed, errc::restricted_xml, errc::invalid_utf8,
                   errc::too_deep, errc::element_too_large, errc::text_at_top_level,
                   errc::incomplete_document, errc::trailing_content,
                   errc::too_many_namespaces}) {
        std::string_view r = reason(e);
        EXPECT_TRUE(r.find("RFC 6120 §") != std::string_view::npos ||
                    r.find("XEP-0124 §") != std::string_view::npos)
            << r;
        boost::system::error_code ec = e;
        EXPECT_EQ(ec.message(), r);
        EXPECT_EQ(ec.category().name(), std::string("boshgate.xml"));
        EXPECT_EQ(ec, make_error_code(e));
    }
    EXPECT_EQ(reason(errc::restricted_xml),
              "RFC 6120 §11.1: comments, processing instructions, DTDs and entity references "
              "other than the five predefined ones are not allowed");
    EXPECT_EQ(reason(errc::invalid_utf8), "RFC 6120 §11.6: input is not UTF-8");
}

} // namespace
} // namespace boshgate::xml
