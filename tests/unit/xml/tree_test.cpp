// Unit tests for xml::tree, parse_tree, serialize and the escaping helpers.
#include "boshgate/xml/tree.hpp"

#include <gtest/gtest.h>

#include <string>

namespace boshgate::xml {
namespace {

const std::string ns_stream = "http://etherx.jabber.org/streams";
const std::string ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
const std::string ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";

// Features as the framer lifts them out of a Prosody stream (BOSH-XML-10, -12, -14).
const std::string features =
    "<stream:features xmlns='jabber:client' xmlns:stream='" + ns_stream + "'>"
    "<starttls xmlns='" + ns_tls + "'><required/></starttls>"
    "<mechanisms xmlns='" + ns_sasl + "'><mechanism>SCRAM-SHA-1-PLUS</mechanism>"
    "<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"
    "<ver xmlns='urn:xmpp:features:rosterver'/></stream:features>";

tree parse_ok(std::string_view xml)
{
    tree t;
    boost::system::error_code ec = parse_tree(xml, t);
    EXPECT_FALSE(ec) << ec.message() << " for " << xml;
    return t;
}

TEST(tree, parses_features_namespace_resolved)
{
    tree t = parse_ok(features);
    EXPECT_EQ(t.ns, ns_stream);
    EXPECT_EQ(t.local, "features");
    EXPECT_EQ(t.prefix, "stream");
    EXPECT_TRUE(t.attrs.empty()); // namespace declarations are not attributes
    ASSERT_EQ(t.children.size(), 3U);
    const tree* tls = t.child(ns_tls, "starttls");
    ASSERT_NE(tls, nullptr);
    // <required/> inherits the starttls namespace
    EXPECT_NE(tls->child(ns_tls, "required"), nullptr);
    EXPECT_EQ(t.child("jabber:client", "starttls"), nullptr);
    const tree* mechs = t.child(ns_sasl, "mechanisms");
    ASSERT_NE(mechs, nullptr);
    std::vector<std::string> names;
    for (const node& n : mechs->children) {
        names.push_back(std::get<tree>(n.value).text());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}));
}

// The gateway's feature filter: drop starttls and *-PLUS, then serialize standalone.
TEST(tree, filter_and_serialize_features)
{
    tree t = parse_ok(features);
    EXPECT_EQ(t.remove_children_if([](const tree& c) { return c.ns == ns_tls; }), 1U);
    tree* mechs = nullptr;
    for (node& n : t.children) {
        if (auto* c = std::get_if<tree>(&n.value); c != nullptr && c->local == "mechanisms") {
            mechs = c;
        }
    }
    ASSERT_NE(mechs, nullptr);
    EXPECT_EQ(mechs->remove_children_if([](const tree& m) {
        return m.text().ends_with("-PLUS");
    }),
              1U);
    EXPECT_EQ(serialize(t),
              "<stream:features xmlns:stream='" + ns_stream + "'><mechanisms xmlns='" +
                  ns_sasl +
                  "'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>"
                  "</mechanisms><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>");
    // Inside a body that already declares xmlns:stream nothing changes for the prefix, but
    // with the default namespace in scope it is not repeated.
    tree msg = parse_ok("<message xmlns='jabber:client' to='a@b'><body>hi</body></message>");
    EXPECT_EQ(serialize(msg, "jabber:client"), "<message to='a@b'><body>hi</body></message>");
    EXPECT_EQ(serialize(msg), "<message xmlns='jabber:client' to='a@b'><body>hi</body></message>");
}

// Round trip: canonical text (apostrophes, no redundant declarations) comes back unchanged.
TEST(tree, round_trip_is_exact)
{
    for (std::string_view xml : {
             std::string_view("<a xmlns='urn:a'/>"),
             std::string_view("<message xmlns='jabber:client' id='x&apos;1' type='chat'>"
                              "<body>&lt;3 &amp; &gt; \xE6\x97\xA5\xF0\x9F\x98\x80</body>"
                              "<x xmlns='urn:x'><y>t</y></x>text tail</message>"),
             std::string_view("<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                              "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                              "</stream:error>"),
             std::string_view("<iq xmlns='jabber:client' xml:lang='en'><q xmlns='urn:q' "
                              "xmlns:p='urn:p' p:a='1' b='2'><p:c/></q></iq>"),
             std::string_view("<a xmlns='urn:a'><b xmlns=''/></a>"),
         }) {
        EXPECT_EQ(serialize(parse_ok(xml)), xml);
    }
}

// Values with every special character survive serialize -> parse exactly.
TEST(tree, escaping_round_trips_values)
{
    tree t;
    t.ns = "urn:t";
    t.local = "t";
    const std::string nasty = "a'b\"c<d>e&f\tg\nh\ri ]]> &amp;";
    t.attrs.push_back({"v", nasty});
    t.children.push_back(node{nasty});
    tree back = parse_ok(serialize(t));
    EXPECT_EQ(back.attr("v"), nasty);
    EXPECT_EQ(back.text(), nasty);
    EXPECT_EQ(back.attr("missing"), std::nullopt);
}

TEST(tree, escape_functions_are_exact)
{
    EXPECT_EQ(escape_text("a<b>&c'\"\r\n\t"), "a&lt;b&gt;&amp;c'\"&#13;\n\t");
    EXPECT_EQ(escape_attr("a<b>&c'\"\r\n\t"), "a&lt;b>&amp;c&apos;&quot;&#13;&#10;&#9;");
    EXPECT_EQ(escape_text(""), "");
    EXPECT_EQ(escape_attr("\xC3\xA9"), "\xC3\xA9");
}

// Serialize declares what a hand-built tree needs: the element namespace, prefixed element
// and attribute namespaces (once, where first needed), and xmlns='' to leave a namespace.
TEST(tree, serialize_declares_namespaces_standalone)
{
    tree child;
    child.local = "plain"; // no namespace
    tree pref;
    pref.ns = "urn:p";
    pref.local = "item";
    pref.prefix = "p";
    pref.attrs.push_back({"p:flag", "1", "urn:p"});
    tree root;
    root.ns = "urn:root";
    root.local = "root";
    root.attrs.push_back({"p:id", "7", "urn:p"});
    root.attrs.push_back({"xml:lang", "en", "http://www.w3.org/XML/1998/namespace"});
    root.children.push_back(node{child});
    root.children.push_back(node{pref});
    EXPECT_EQ(serialize(root), "<root xmlns='urn:root' xmlns:p='urn:p' p:id='7' xml:lang='en'>"
                               "<plain xmlns=''/><p:item p:flag='1'/></root>");
    // Without the enclosing root, the prefixed element declares its prefix itself.
    EXPECT_EQ(serialize(pref), "<p:item xmlns:p='urn:p' p:flag='1'/>");
}

TEST(tree, parse_rejections)
{
    struct bad {
        std::string xml;
        errc expected;
    };
    limits lim;
    lim.max_depth = 3;
    lim.max_element_bytes = 200;
    for (const bad& b : {
             bad{"", errc::incomplete_document},
             bad{"<a>", errc::incomplete_document},
             bad{"<a/><b/>", errc::trailing_content},
             bad{"<a/>text", errc::trailing_content},
             bad{"<a><!-- c --></a>", errc::restricted_xml},     // RFC 6120 §11.1
             bad{"<?pi x?><a/>", errc::restricted_xml},
             bad{"<!DOCTYPE a><a/>", errc::restricted_xml},
             bad{"<a>&ent;</a>", errc::restricted_xml},
             bad{"<a>\xFF</a>", errc::invalid_utf8},              // RFC 6120 §11.6
             bad{"<p:a/>", errc::not_well_formed},                // undeclared prefix
             bad{"<a><b><c><d/></c></b></a>", errc::too_deep},
             bad{"<a>" + std::string(300, 'x') + "</a>", errc::element_too_large},
         }) {
        tree t;
        EXPECT_EQ(parse_tree(b.xml, t, lim), make_error_code(b.expected)) << b.xml;
    }
    tree t;
    EXPECT_FALSE(parse_tree(" <a>&#x41;&lt;</a>\n", t, lim));
    EXPECT_EQ(t.text(), "A<");
}

} // namespace
} // namespace boshgate::xml
