// Client messages through websocket::framing (RFC 7395 §3.2-3.9): <open/>, relaying,
// message validation and every stream error the client can draw.
#include "framing_driver.hpp"
#include "support/ws_samples.hpp"

#include <random>

namespace boshgate::websocket::testing {
namespace {

const std::string open_reply = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' "
                               "from='example.com' id='srv-1' version='1.0' xml:lang='en'/>";

/// The tail every client-caused stream error ends with once the stream is established.
lines error_tail(std::string_view condition, std::string_view why, unsigned code)
{
    return {text(stream_error_xml(condition, why)), text(close_xml), "close_upstream clean",
            "close_websocket " + std::to_string(code)};
}

// ------------------------------------------------------------------ opening

// WS-OPEN-1, WS-OPEN-3, C2S-HDR-3: the client's <open/> opens the upstream stream with its
// `to` and xml:lang; nothing goes to the client before the server's header (WS-OPEN-4).
TEST(framing_open, open_starts_upstream_with_to_and_lang)
{
    driver d;
    EXPECT_FALSE(d.f.upstream_open());
    auto a = d.msg("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' "
                   "xml:lang='de' version='1.0'/>");
    EXPECT_EQ(a, lines{"open_upstream to=example.com lang=de"});
    EXPECT_TRUE(d.f.upstream_open());
    EXPECT_FALSE(d.f.ended());
}

// C2S-HDR-3: no xml:lang -> "en".
TEST(framing_open, lang_defaults_to_en)
{
    driver d;
    EXPECT_EQ(d.msg("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com'/>"),
              lines{"open_upstream to=example.com lang=en"});
}

// WS-OPEN-2, WS-RST-3: the server header becomes exactly this <open/>; the server's XML
// declaration is not forwarded.
TEST(framing_open, server_header_becomes_open)
{
    driver d;
    d.open();
    EXPECT_EQ(d.header(), lines{text(open_reply)});
}

// WS-FRM-2: an XML declaration before <open/> is accepted.
TEST(framing_open, declaration_before_open_accepted)
{
    driver d;
    EXPECT_EQ(d.msg("<?xml version='1.0'?>" + open_request),
              lines{"open_upstream to=example.com lang=en"});
}

// WS-OPEN-1: a stanza as first message: <open/> (local id, no from: no `to` known), the
// error, <close/>; no backend connection.
TEST(framing_open, message_first_is_invalid_namespace)
{
    driver d;
    auto a = d.msg("<message xmlns='jabber:client' to='a@example.com'><body>x</body></message>");
    EXPECT_EQ(a, (lines{text(local_open(std::nullopt)),
                        text(stream_error_xml(
                            "invalid-namespace",
                            "RFC 7395 §3.4: the first message must be &lt;open "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-framing'/&gt;")),
                        text(close_xml), "close_websocket 1000"}));
    EXPECT_TRUE(d.f.ended());
    EXPECT_FALSE(d.f.upstream_open());
}

// WS-NS-1: <open/> in jabber:client (or without namespace) draws invalid-namespace.
TEST(framing_open, open_in_wrong_namespace)
{
    for (std::string_view m : {"<open xmlns='jabber:client' to='example.com' version='1.0'/>",
                               "<open to='example.com' version='1.0'/>"}) {
        driver d;
        auto a = d.msg(m);
        ASSERT_EQ(a.size(), 4u) << m;
        EXPECT_EQ(a[0], text(local_open(std::nullopt)));
        EXPECT_EQ(a[1], text(stream_error_xml("invalid-namespace",
                                              "RFC 7395 §3.3.2: &lt;open/&gt; must be in the "
                                              "urn:ietf:params:xml:ns:xmpp-framing namespace")));
        EXPECT_EQ(a[2], text(close_xml));
        EXPECT_EQ(a[3], "close_websocket 1000");
        EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.3.2"), std::string::npos);
    }
}

// RFC 6120 §4.7.2: <open/> without `to` -> host-unknown; no upstream.
TEST(framing_open, open_without_to_is_host_unknown)
{
    driver d;
    auto a = d.msg("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0'/>");
    EXPECT_EQ(a, (lines{text(local_open(std::nullopt)),
                        text(stream_error_xml("host-unknown", "RFC 7395 §3.4 / RFC 6120 §4.7.2: "
                                                              "&lt;open/&gt; needs 'to'")),
                        text(close_xml), "close_websocket 1000"}));
    EXPECT_FALSE(d.f.upstream_open());
}

// WS-SOU-1: with see_other_uri every <open/> gets <close see-other-uri/>, no <open/>, no
// upstream, then WS close 1000.
TEST(framing_open, see_other_uri_redirects)
{
    options o;
    o.see_other_uri = "wss://other.example.com/xmpp?a=1&b=2";
    driver d(o);
    EXPECT_EQ(d.msg(open_request),
              (lines{text("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' "
                          "see-other-uri='wss://other.example.com/xmpp?a=1&amp;b=2'/>"),
                     "close_websocket 1000"}));
    EXPECT_TRUE(d.f.ended());
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.6.1"), std::string::npos);
}

// WS-OPEN-5: a second <open/> before SASL success: policy-violation, no second backend
// connection (no open_upstream / restart).
TEST(framing_open, second_open_before_sasl_is_policy_violation)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg(open_request),
              error_tail("policy-violation",
                         "RFC 7395 §3.4: one stream per WebSocket; &lt;open/&gt; again only "
                         "after SASL success",
                         1000));
}

// WS-OPEN-5: the same while the server's header is still awaited; the client then gets
// boshgate's own <open/> first (WS-ERR-2).
TEST(framing_open, second_open_while_awaiting_header)
{
    driver d;
    d.open();
    auto a = d.msg(open_request);
    ASSERT_EQ(a.size(), 5u);
    EXPECT_EQ(a[0], text(local_open()));
    EXPECT_NE(a[1].find("<policy-violation "), std::string::npos);
    EXPECT_EQ(a[2], text(close_xml));
    EXPECT_EQ(a[3], "close_upstream clean");
    EXPECT_EQ(a[4], "close_websocket 1000");
}

// WS-RST-1, C2S-RST-2: after SASL <success/> went to the client, its new <open/> restarts
// the upstream stream; the new header gives a new <open/> with the new id (no declaration,
// WS-RST-3). The restart is allowed once per success.
TEST(framing_open, restart_after_sasl_success)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                    "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"),
              lines{"upstream <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                    "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"});
    EXPECT_EQ(d.element(sasl_success_xml), lines{text(sasl_success_xml)});
    EXPECT_EQ(d.msg(open_request), lines{"restart_upstream"});
    EXPECT_TRUE(d.f.upstream_open());
    EXPECT_EQ(d.header("srv-2"),
              lines{text("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.com' "
                         "id='srv-2' version='1.0' xml:lang='en'/>")});
    EXPECT_EQ(d.element("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                        "</stream:features>"),
              lines{text("<stream:features xmlns='jabber:client' "
                         "xmlns:stream='http://etherx.jabber.org/streams'><bind "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")});
    // The success flag was consumed: another <open/> is a violation again.
    auto again = d.msg(open_request);
    ASSERT_FALSE(again.empty());
    EXPECT_NE(again[0].find("<policy-violation "), std::string::npos);
}

// ------------------------------------------------------------------ relaying

// WS-FRM-1, WS-FRM-4: a client element goes upstream byte for byte.
TEST(framing_relay, element_forwarded_verbatim)
{
    driver d;
    d.establish();
    std::string m = "<message xmlns='jabber:client' to='juliet@example.com' type=\"chat\" "
                    "id='a&amp;1'><body>x &lt; y \xC3\xA9</body><x:y xmlns:x='urn:x'/></message>";
    EXPECT_EQ(d.msg(m), lines{"upstream " + m});
}

// Documented tolerance: an element without a namespace is forwarded as is (it inherits
// jabber:client in the TCP stream).
TEST(framing_relay, unqualified_stanza_forwarded_as_is)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"),
              lines{"upstream <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"});
}

// WS-FRM-2: the XML declaration is accepted and not forwarded.
TEST(framing_relay, declaration_stripped)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<?xml version='1.0' encoding='UTF-8'?><presence xmlns='jabber:client'/>"),
              lines{"upstream <presence xmlns='jabber:client'/>"});
    EXPECT_EQ(d.msg("<?xml version=\"1.0\"?>\n  <presence xmlns='jabber:client'/>\n"),
              lines{"upstream <presence xmlns='jabber:client'/>"});
}

// WS-FRM-3 (documented tolerance): whitespace around the single element is stripped.
TEST(framing_relay, surrounding_whitespace_stripped)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg(" \r\n\t<presence xmlns='jabber:client'/> \n"),
              lines{"upstream <presence xmlns='jabber:client'/>"});
}

// XEP-0198 elements and SASL responses (character data directly in the element) relay too.
TEST(framing_relay, sm_and_sasl_elements_forwarded)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<r xmlns='urn:xmpp:sm:3'/>"), lines{"upstream <r xmlns='urn:xmpp:sm:3'/>"});
    EXPECT_EQ(d.msg("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>abc=</response>"),
              lines{"upstream <response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>abc=</response>"});
}

// Elements sent before the server's header are forwarded (upstream::stream holds them).
TEST(framing_relay, element_before_header_forwarded)
{
    driver d;
    d.open();
    EXPECT_EQ(d.msg("<presence xmlns='jabber:client'/>"),
              lines{"upstream <presence xmlns='jabber:client'/>"});
}

// ------------------------------------------------------------------ one parser per session
// A session's messages go through one long-lived framer, as children of one synthetic root
// (framing.cpp). Each message must still be judged as if parsed on its own.

// WS-FRM-1: many messages in a row, with the framer's state given back between some of them
// (what the session does once idle), each forwarded byte for byte.
TEST(framing_messages, each_message_forwarded_verbatim_across_releases)
{
    driver d;
    d.establish();
    for (int i = 0; i < 50; ++i) {
        const std::string m = "<message xmlns='jabber:client' to='a@example.com' id='m" +
                              std::to_string(i) + "'><body>n " + std::to_string(i) +
                              "</body><x:y xmlns:x='urn:x'/></message>";
        EXPECT_EQ(d.msg(m), lines{"upstream " + m});
        if (i % 3 == 0) {
            EXPECT_TRUE(d.f.release_idle());
        }
    }
}

// WS-FRM-1: each message stands alone; a namespace prefix declared in one message is not in
// scope in the next.
TEST(framing_messages, a_prefix_from_an_earlier_message_is_not_bound)
{
    driver d;
    d.establish();
    const std::string first = "<message xmlns='jabber:client' xmlns:x='urn:x'><x:y/></message>";
    EXPECT_EQ(d.msg(first), lines{"upstream " + first});
    auto a = d.msg("<x:y xmlns='jabber:client'/>");
    ASSERT_FALSE(a.empty());
    EXPECT_NE(a.front().find("not-well-formed"), std::string::npos) << a.front();
    EXPECT_TRUE(d.f.ended());
}

/// What the framing does with `m` as the first message after the stream is established.
lines judged(std::string_view m)
{
    driver d;
    d.establish();
    return d.msg(m);
}

// WS-FRM-3, WS-FRM-4: each message is judged exactly as when parsed as a document of its
// own: a leading XML declaration makes the framing parse it so (the declaration must start
// a document), and the outcome must not differ, error text included. Among them, messages
// that would end the synthetic root or leave markup open for the next message to finish.
TEST(framing_messages, judged_as_if_parsed_on_its_own)
{
    const std::string decl = "<?xml version='1.0'?>";
    for (std::string_view m :
         {"<presence xmlns='jabber:client'/>", "</m>", "</m><m>", "<m/>",
          "<presence xmlns='jabber:client'/", "<presence xmlns='jabber:client'",
          "<message><body>", "<a></b>", "<presence/>hello", "hello", " ", "",
          "<presence/><presence/>", "<p:q/>", "<presence xmlns='jabber:client'><!-- c --></presence>",
          "<![CDATA[x]]>", "<presence xmlns='jabber:client'><![CDATA[x"}) {
        EXPECT_EQ(judged(m), judged(decl + std::string(m))) << "message '" << m << "'";
    }
    auto a = judged("<presence xmlns='jabber:client'/");
    ASSERT_FALSE(a.empty());
    EXPECT_NE(a.front().find("not-well-formed"), std::string::npos) << a.front();
}

// WS-FRM-1..4: the same property over random sequences of messages, so that what one
// message leaves in the long-lived framer meets the next: two sessions get the same
// messages, one of them each behind an XML declaration (parsed on its own), and every
// message must draw the same actions from both. Four in five messages are well-formed, so
// that sessions last; the state is given back between some of them, as an idle session does.
TEST(framing_messages, random_sequences_judged_as_if_parsed_on_their_own)
{
    const std::vector<std::string>& good = test::well_formed_client_messages;
    const std::vector<std::string> parts = {
        "<presence xmlns='jabber:client'/>", "<message xmlns='jabber:client' to='a@b'>",
        "</message>", "<body>", "</body>", "hi", " ", "\n", "<x:y xmlns:x='urn:x'/>", "<x:y/>",
        "<p:q/>", "<![CDATA[", "]]>", "<!-- c -->", "<?pi x?>", "&amp;", "&nbsp;", "</m>",
        "<m>", "<", ">", "/>", "'", "<a", "</a>", "<a>", " xmlns:p='urn:p'", "\xC3\xA9", "\xFF",
        "<?xml version='1.0'?>", "<!DOCTYPE a>", "<stream:stream>", "</stream:stream>",
        "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com'/>",
    };
    const std::string decl = "<?xml version='1.0'?>";
    std::mt19937 rng(20261205);
    auto pick = [&rng](const std::vector<std::string>& v) -> const std::string& {
        return v[rng() % v.size()];
    };
    std::size_t compared = 0;
    for (int session = 0; session < 500; ++session) {
        options o;
        o.legacy_framing = session % 2 == 1; // the draft framing's header and closing tag too
        driver a(o);
        driver b(o);
        a.establish();
        b.establish();
        for (int k = 0; k < 30 && !a.f.ended(); ++k) {
            std::string m;
            if (rng() % 5 != 0) {
                m = pick(good);
            } else {
                for (unsigned n = 1 + rng() % 4; n > 0; --n) {
                    m += pick(parts);
                }
            }
            const lines got = a.msg(m);
            ASSERT_EQ(got, b.msg(m.starts_with("<?") ? m : decl + m))
                << "session " << session << ", message " << k << ": '" << m << "'";
            ++compared;
            if (rng() % 4 == 0) {
                EXPECT_TRUE(a.f.release_idle());
            }
        }
        EXPECT_EQ(a.f.ended(), b.f.ended());
    }
    EXPECT_GT(compared, 2000U);
}

// WS-FRM-2: a message with an XML declaration is parsed on its own (the declaration must
// start a document); the messages after it go on as before.
TEST(framing_messages, declarations_between_plain_messages)
{
    driver d;
    d.establish();
    const std::string p = "<presence xmlns='jabber:client'/>";
    EXPECT_EQ(d.msg(p), lines{"upstream " + p});
    EXPECT_EQ(d.msg("<?xml version='1.0'?>" + p), lines{"upstream " + p});
    EXPECT_EQ(d.msg(p), lines{"upstream " + p});
}

// ------------------------------------------------------------------ message errors

// WS-MSG-1: binary message -> bad-format, close 1003.
TEST(framing_errors, binary_message_is_bad_format)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.binary("<presence/>"),
              error_tail("bad-format", "RFC 7395 §3.2: XMPP is carried in text frames only", 1003));
    EXPECT_TRUE(d.f.ended());
    EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.2"), std::string::npos);
}

// WS-MSG-1, WS-ERR-2: binary as first message: local <open/> first, no upstream to close.
TEST(framing_errors, binary_first_message)
{
    driver d;
    auto a = d.binary("x");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[0], text(local_open(std::nullopt)));
    EXPECT_NE(a[1].find("<bad-format "), std::string::npos);
    EXPECT_EQ(a[2], text(close_xml));
    EXPECT_EQ(a[3], "close_websocket 1003");
}

// WS-MSG-1, C2S-XML-2: invalid UTF-8 -> unsupported-encoding, close 1007; never forwarded.
TEST(framing_errors, invalid_utf8_is_unsupported_encoding)
{
    driver d;
    d.establish();
    auto a = d.msg("<message xmlns='jabber:client'><body>\xC3\x28</body></message>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<unsupported-encoding xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
              std::string::npos);
    EXPECT_NE(a[0].find("RFC 6120 §11.6"), std::string::npos);
    EXPECT_EQ(a[1], text(close_xml));
    EXPECT_EQ(a[2], "close_upstream clean");
    EXPECT_EQ(a[3], "close_websocket 1007");
}

// RFC 6120 §11.6: a declaration naming another encoding is refused the same way.
TEST(framing_errors, non_utf8_declaration_is_unsupported_encoding)
{
    driver d;
    d.establish();
    auto a = d.msg("<?xml version='1.0' encoding='ISO-8859-1'?><presence xmlns='jabber:client'/>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<unsupported-encoding "), std::string::npos);
    EXPECT_EQ(a[3], "close_websocket 1007");
}

// WS-FRM-4, GAP-14: two elements in one message -> not-well-formed (<open/> first when none
// was sent yet: here the header is still awaited), nothing forwarded.
TEST(framing_errors, two_elements_in_one_message)
{
    driver d;
    d.open();
    auto a = d.msg("<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>");
    EXPECT_EQ(a, (lines{text(local_open()),
                        text(stream_error_xml("not-well-formed",
                                              "RFC 7395 §3.3.3: one element per message, never "
                                              "two (WS-FRM-4)")),
                        text(close_xml), "close_upstream clean", "close_websocket 1000"}));
}

// WS-FRM-4 with the stream established: no second <open/>.
TEST(framing_errors, two_elements_when_established)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<r xmlns='urn:xmpp:sm:3'/>\n<r xmlns='urn:xmpp:sm:3'/>"),
              error_tail("not-well-formed",
                         "RFC 7395 §3.3.3: one element per message, never two (WS-FRM-4)", 1000));
}

// WS-KA-1, RFC 7395 §3.8: a whitespace-only message (keepalive) and an empty one are
// refused with not-well-formed citing §3.8.
TEST(framing_errors, whitespace_only_and_empty_messages)
{
    for (std::string_view m : {" ", "\r\n", ""}) {
        driver d;
        d.establish();
        EXPECT_EQ(d.msg(m),
                  error_tail("not-well-formed",
                             "RFC 7395 §3.8: whitespace keepalives are not allowed; a message "
                             "holds one element",
                             1000))
            << "message '" << m << "'";
    }
}

// WS-FRM-3, C2S-ERR-4: text before/after the element, unclosed element, broken markup.
TEST(framing_errors, not_one_element)
{
    for (std::string_view m : {"hello<presence/>", "<presence/>hello", "just text"}) {
        driver d;
        d.establish();
        EXPECT_EQ(d.msg(m), error_tail("not-well-formed",
                                       "RFC 7395 §3.3.3: a message is exactly one element, "
                                       "starting with '&lt;' (WS-FRM-3)",
                                       1000))
            << m;
    }
    for (std::string_view m : {"<message xmlns='jabber:client'><body>x</body>", "<a></b>",
                               "<a x='1' x='2'/>", "<p:a/>", "<![CDATA[x]]>", "<a><![CDATA[x"}) {
        driver d;
        d.establish();
        auto a = d.msg(m);
        ASSERT_EQ(a.size(), 4u) << m;
        EXPECT_NE(a[0].find("<not-well-formed "), std::string::npos) << m;
        EXPECT_NE(a[0].find("RFC "), std::string::npos) << m;
        EXPECT_EQ(a[1], text(close_xml));
        EXPECT_EQ(a[2], "close_upstream clean");
        EXPECT_EQ(a[3], "close_websocket 1000");
    }
}

// A message cannot escape the parse wrapper: closing it early is still an error.
TEST(framing_errors, wrapper_cannot_be_escaped)
{
    for (std::string_view m : {"<a/></m><m>", "</m>", "<a/></m>"}) {
        driver d;
        d.establish();
        auto a = d.msg(m);
        ASSERT_EQ(a.size(), 4u) << m;
        EXPECT_NE(a[0].find("<not-well-formed "), std::string::npos) << m;
    }
}

// C2S-XML-1: comments, PIs, DTDs and custom entities -> restricted-xml.
TEST(framing_errors, restricted_xml)
{
    for (std::string_view m :
         {"<presence xmlns='jabber:client'><!-- c --></presence>",
          "<presence xmlns='jabber:client'><?pi x?></presence>",
          "<!DOCTYPE p [<!ENTITY e 'x'>]><p>&e;</p>"}) {
        driver d;
        d.establish();
        auto a = d.msg(m);
        ASSERT_EQ(a.size(), 4u) << m;
        EXPECT_NE(a[0].find("<restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
                  std::string::npos)
            << m << " -> " << a[0];
        EXPECT_NE(a[0].find("RFC 6120 §11.1"), std::string::npos) << m;
        EXPECT_EQ(a[3], "close_websocket 1000");
    }
}

// Limits: nesting beyond max_depth -> policy-violation 1000; exactly max_depth passes.
TEST(framing_errors, too_deep_is_policy_violation)
{
    xml::limits lim;
    lim.max_depth = 3;
    {
        driver d({}, lim);
        d.establish();
        EXPECT_EQ(d.msg("<a xmlns='urn:x'><b><c/></b></a>"),
                  lines{"upstream <a xmlns='urn:x'><b><c/></b></a>"});
    }
    driver d({}, lim);
    d.establish();
    auto a = d.msg("<a xmlns='urn:x'><b><c><d/></c></b></a>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<policy-violation "), std::string::npos);
    EXPECT_NE(a[0].find("RFC 6120 §13.12"), std::string::npos);
    EXPECT_EQ(a[3], "close_websocket 1000");
}

// SEC-XML-1: more namespace declarations in scope than the limit -> policy-violation 1000;
// exactly the limit passes (the synthetic wrapper declares nothing).
TEST(framing_errors, too_many_namespaces_is_policy_violation)
{
    xml::limits lim;
    lim.max_namespace_decls = 3;
    {
        driver d({}, lim);
        d.establish();
        const std::string fits = "<a xmlns='urn:x' xmlns:p='urn:p'><b xmlns:q='urn:q'/></a>";
        EXPECT_EQ(d.msg(fits), lines{"upstream " + fits});
    }
    driver d({}, lim);
    d.establish();
    auto a = d.msg("<a xmlns='urn:x' xmlns:p='urn:p'><b xmlns:q='urn:q' xmlns:r='urn:r'/></a>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<policy-violation "), std::string::npos) << a[0];
    EXPECT_NE(a[0].find("RFC 6120 §13.12"), std::string::npos);
    EXPECT_EQ(a[3], "close_websocket 1000");
}

// SEC-XML-2, C2S-XML-1: a billion-laughs message (with or without an XML declaration) is
// refused as restricted-xml; nothing goes upstream.
TEST(framing_errors, entity_bomb_is_restricted_xml)
{
    std::string bomb = "<!DOCTYPE m [<!ENTITY l0 'lol'>";
    for (int i = 1; i <= 9; ++i) {
        bomb += "<!ENTITY l" + std::to_string(i) + " '";
        for (int k = 0; k < 10; ++k) {
            bomb += "&l" + std::to_string(i - 1) + ";";
        }
        bomb += "'>";
    }
    bomb += "]><message xmlns='jabber:client'><body>&l9;</body></message>";
    for (const std::string& m : {bomb, "<?xml version='1.0'?>" + bomb}) {
        driver d;
        d.establish();
        auto a = d.msg(m);
        ASSERT_EQ(a.size(), 4u);
        EXPECT_NE(a[0].find("<restricted-xml "), std::string::npos) << a[0];
        for (const auto& line : a) {
            EXPECT_FALSE(line.starts_with("upstream ")) << line;
        }
    }
}

// WS-SIZE-1: an element beyond max_element_bytes -> policy-violation, close 1009.
TEST(framing_errors, element_too_large_is_1009)
{
    xml::limits lim;
    lim.max_element_bytes = 120;
    driver d({}, lim);
    d.establish();
    std::string fits = "<message xmlns='jabber:client'><body>" + std::string(50, 'x') +
                       "</body></message>";
    EXPECT_EQ(d.msg(fits), lines{"upstream " + fits});
    auto a = d.msg("<message xmlns='jabber:client'><body>" + std::string(100, 'x') +
                   "</body></message>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<policy-violation "), std::string::npos);
    EXPECT_EQ(a[3], "close_websocket 1009");
}

// WS-SIZE-1: the adapter refused an oversize message: policy-violation citing §4.9.3.14,
// close 1009.
TEST(framing_errors, message_too_big)
{
    options o;
    o.max_message_bytes = 1000;
    driver d(o);
    d.establish();
    d.f.on_message_too_big(d.now());
    EXPECT_EQ(d.take(), error_tail("policy-violation",
                                   "RFC 6120 §4.9.3.14: a message exceeds max_message_bytes (1000)",
                                   1009));
}

// WS-SIZE-1 before <open/>: local <open/> first, no upstream.
TEST(framing_errors, message_too_big_before_open)
{
    driver d;
    d.f.on_message_too_big(d.now());
    auto a = d.take();
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[0], text(local_open(std::nullopt)));
    EXPECT_EQ(a[3], "close_websocket 1009");
}

// WS-TLS-3: <starttls/> is answered locally with <failure/>, <close/>; never forwarded.
TEST(framing_errors, starttls_answered_locally)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
              (lines{text("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), text(close_xml),
                     "close_upstream clean", "close_websocket 1000"}));
    EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.9"), std::string::npos);
    EXPECT_FALSE(d.f.upstream_open());
}

// WS-TLS-3 while the server's header is awaited: boshgate's <open/> first (WS-ERR-2).
TEST(framing_errors, starttls_before_header)
{
    driver d;
    d.open();
    EXPECT_EQ(d.msg("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
              (lines{text(local_open()), text("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                     text(close_xml), "close_upstream clean", "close_websocket 1000"}));
}

// WS-OPEN-1: <starttls/> as the first message is just "not <open/>".
TEST(framing_errors, starttls_first_is_invalid_namespace)
{
    driver d;
    auto a = d.msg("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[1].find("<invalid-namespace "), std::string::npos);
}

// The client's `to` is escaped when it becomes the `from` of boshgate's own <open/>.
TEST(framing_errors, local_open_escapes_to)
{
    driver d;
    EXPECT_EQ(d.msg("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to=\"a'b&amp;c\"/>"),
              lines{"open_upstream to=a'b&c lang=en"});
    d.f.on_upstream_failed(upstream::failure::host_unknown, "RFC 6120 §4.9.3.6: no", d.now());
    auto a = d.take();
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[0], text("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='a&apos;b&amp;c' "
                         "id='local-id-1' version='1.0' xml:lang='en'/>"));
}

// An oversize message while boshgate waits for the client's <close/>: just close 1009.
TEST(framing_errors, message_too_big_while_closing)
{
    driver d;
    d.establish();
    d.f.on_upstream_closed(true, d.now());
    d.take();
    d.f.on_message_too_big(d.now());
    EXPECT_EQ(d.take(), lines{"close_websocket 1009"});
}

// ------------------------------------------------------------------ client close

// WS-CLOSE-1: client <close/> -> clean upstream close, <close/>, WS close 1000, in this order.
TEST(framing_close, client_close_order)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg(close_xml),
              (lines{"close_upstream clean", text(close_xml), "close_websocket 1000"}));
    EXPECT_TRUE(d.f.ended());
    EXPECT_FALSE(d.f.upstream_open());
    EXPECT_EQ(d.f.next_deadline(), std::nullopt);
    EXPECT_NE(d.last_close_reason.find("RFC 7395 §3.6"), std::string::npos);
}

// WS-CLOSE-1: <close/> may carry other attributes; still a close.
TEST(framing_close, close_with_attributes)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' foo='bar'/>"),
              (lines{"close_upstream clean", text(close_xml), "close_websocket 1000"}));
}

// WS-CLOSE-1 while the header is awaited.
TEST(framing_close, client_close_before_header)
{
    driver d;
    d.open();
    EXPECT_EQ(d.msg(close_xml),
              (lines{"close_upstream clean", text(close_xml), "close_websocket 1000"}));
}

// ------------------------------------------------------------------ legacy framing

// WS-NS-1, WS-FRM-5: the draft <stream:stream> header (an unclosed start tag) with
// legacy_framing off: <open/>, invalid-namespace citing §3.3.2, <close/>; no upstream.
TEST(framing_legacy, legacy_header_refused_when_off)
{
    for (std::string_view m :
         {"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          "to='example.com' version='1.0'>",
          "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
          "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='example.com'/>"}) {
        driver d;
        auto a = d.msg(m);
        EXPECT_EQ(a, (lines{text(local_open(std::nullopt)),
                            text(stream_error_xml(
                                "invalid-namespace",
                                "RFC 7395 §3.3.2: &lt;stream:stream&gt; is not used; send "
                                "&lt;open/&gt; in the framing namespace")),
                            text(close_xml), "close_websocket 1000"}))
            << m;
        EXPECT_FALSE(d.f.upstream_open());
    }
}

// A start tag that only looks like a header (other namespace) is just not well-formed.
TEST(framing_legacy, unclosed_other_tag_is_not_well_formed)
{
    driver d;
    auto a = d.msg("<stream:stream xmlns:stream='urn:other' to='example.com'>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[1].find("<not-well-formed "), std::string::npos);
}

// legacy_framing on: the header opens the upstream; the reply is an unclosed legacy header
// (never <open/>); </stream:stream> from the client closes; a server close is answered with
// </stream:stream>.
TEST(framing_legacy, legacy_session)
{
    options o;
    o.legacy_framing = true;
    driver d(o);
    d.legacy = true;
    EXPECT_EQ(d.msg("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' "
                    "xml:lang='fr' version='1.0'>"),
              lines{"open_upstream to=example.com lang=fr"});
    EXPECT_EQ(d.header(),
              lines{text("<stream:stream xmlns='jabber:client' "
                         "xmlns:stream='http://etherx.jabber.org/streams' from='example.com' "
                         "id='srv-1' version='1.0' xml:lang='en'>")});
    EXPECT_EQ(d.msg("<presence xmlns='jabber:client'/>"),
              lines{"upstream <presence xmlns='jabber:client'/>"});
    // Restart after SASL success with a new legacy header.
    EXPECT_EQ(d.element(sasl_success_xml), lines{text(sasl_success_xml)});
    EXPECT_EQ(d.msg("<stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' "
                    "version='1.0'>"),
              lines{"restart_upstream"});
    EXPECT_EQ(d.header("srv-2").size(), 1u);
    EXPECT_EQ(d.msg("</stream:stream>"),
              (lines{"close_upstream clean", text("</stream:stream>"), "close_websocket 1000"}));
}

TEST(framing_legacy, legacy_server_close_and_errors)
{
    options o;
    o.legacy_framing = true;
    {
        driver d(o);
        d.legacy = true;
        d.msg("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
              "to='example.com' version='1.0'>");
        d.header();
        d.f.on_upstream_closed(true, d.now());
        EXPECT_EQ(d.take(), lines{text("</stream:stream>")});
        // The client's closing tag completes the close.
        EXPECT_EQ(d.msg("</stream:stream >"), lines{"close_websocket 1000"});
    }
    {
        // Errors before the server answered: a local legacy header first, never <open/>.
        driver d(o);
        d.legacy = true;
        d.msg("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
              "to='example.com' version='1.0'>");
        d.f.on_upstream_failed(upstream::failure::connection_failed, "connect refused", d.now());
        EXPECT_EQ(d.take(),
                  (lines{text("<stream:stream xmlns='jabber:client' "
                              "xmlns:stream='http://etherx.jabber.org/streams' from='example.com' "
                              "id='local-id-1' version='1.0' xml:lang='en'>"),
                         text(stream_error_xml("remote-connection-failed",
                                               "RFC 6120 §4.9.3.15: the XMPP server could not be reached")),
                         text("</stream:stream>"), "close_websocket 1000"}));
    }
}

// Non-legacy streams never accept </stream:stream> as a close.
TEST(framing_legacy, stream_footer_refused_in_rfc_framing)
{
    driver d;
    d.establish();
    EXPECT_EQ(d.msg("</stream:stream>"),
              error_tail("not-well-formed",
                         "RFC 7395 §3.3.1: &lt;/stream:stream&gt; is not used; send &lt;close/&gt;",
                         1000));
}

// A legacy header after an RFC 7395 <open/> (even after SASL success) is refused.
TEST(framing_legacy, mixed_framing_refused)
{
    options o;
    o.legacy_framing = true;
    driver d(o);
    d.establish();
    d.element(sasl_success_xml);
    auto a = d.msg("<stream:stream xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' to='example.com'>");
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a[0].find("<invalid-namespace "), std::string::npos);
    EXPECT_EQ(a[2], "close_upstream clean");
}

} // namespace
} // namespace boshgate::websocket::testing
