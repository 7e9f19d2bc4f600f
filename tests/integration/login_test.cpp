// A whole XEP-0206 login through the gateway against the scripted server: STARTTLS hidden
// from the client, filtered features, SASL PLAIN, restart, bind features, stanzas and
// XEP-0198 nonzas both ways, client terminate with a payload and the closing handshake.
#include "integration/harness.hpp"

namespace boshgate::itest {
namespace {

using login = gateway_test;

constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";

// XBOSH-1, XBOSH-2, XBOSH-3, XBOSH-5, XBOSH-6, XBOSH-10, XBOSH-13, XBOSH-14, BOSH-RESP-12,
// BOSH-RESP-14, BOSH-RESP-16, BOSH-RESP-17, BOSH-SEC-1, BOSH-HTTP-10 (default type),
// C2S-HDR-1, C2S-HDR-2, C2S-HDR-3, C2S-HDR-4, C2S-HDR-6, C2S-TLS-1, C2S-TLS-5, C2S-RST-1,
// C2S-RST-2, SM-1, SM-6, BOSH-TERM-1, BOSH-TERM-3, BOSH-TERM-4, C2S-CLOSE-1
TEST_F(login, full_transcript_against_scripted_server)
{
    start();
    script s;
    tls_prefix(s)
        .expect("<auth")
        .expect("</auth>")
        .send(fake_upstream_server::sasl_success())
        .expect_header()
        .send(fake_upstream_server::header("s3") + fake_upstream_server::features_bind())
        .expect("hello-from-client")
        .expect("</message>")
        .send(server_message("hello-from-server"))
        .expect("urn:xmpp:sm:3")
        .send("<r xmlns='urn:xmpp:sm:3'/>")
        .expect("<a xmlns='urn:xmpp:sm:3' h='1'/>")
        .expect("unavailable")
        .expect("</stream:stream>")
        .send("</stream:stream>")
        .read_until_eof();
    fake->add(std::move(s));

    // Creation: held until the TLS-protected stream's features arrive.
    auto created = post(create_body(1000));
    ASSERT_EQ(created.status, 200u) << created.body;
    expect_length_framed(created);
    EXPECT_EQ(created.header("Content-Type"), "text/xml; charset=utf-8"); // BOSH-HTTP-10 default
    const std::string sid = body_attr(created.body, "sid").value_or("");
    ASSERT_FALSE(sid.empty()) << created.body;
    EXPECT_EQ(body_attr(created.body, "authid"), "s2"); // the stream the client sees is post-TLS
    EXPECT_EQ(body_attr(created.body, "xmlns:stream"), std::string(ns_streams));
    EXPECT_NE(created.body.find("<mechanism>SCRAM-SHA-1</mechanism>"), std::string::npos) << created.body;
    EXPECT_NE(created.body.find("<mechanism>PLAIN</mechanism>"), std::string::npos);
    EXPECT_EQ(created.body.find("starttls"), std::string::npos) << created.body;    // RESP-16
    EXPECT_EQ(created.body.find("-PLUS"), std::string::npos) << created.body;       // XBOSH-14
    EXPECT_EQ(created.body.find("compress"), std::string::npos) << created.body;    // RESP-17

    // The plaintext header before STARTTLS: C2S-HDR-1..4 and 6.
    auto first = fake->log(0);
    ASSERT_NE(first.received.find('>', first.received.find("<stream:stream")), std::string::npos);
    const std::string header0 =
        first.received.substr(0, first.received.find('>', first.received.find("<stream:stream")) + 1);
    EXPECT_EQ(header0.rfind("<?xml", 0), 0u) << header0;
    EXPECT_NE(header0.find("xmlns='jabber:client'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("xmlns:stream='http://etherx.jabber.org/streams'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("to='xmpp.test'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("version='1.0'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("xml:lang='en'"), std::string::npos) << header0;
    EXPECT_EQ(header0.find(" id="), std::string::npos) << header0;
    EXPECT_TRUE(first.tls);
    EXPECT_EQ(first.sni, "xmpp.test"); // C2S-TLS-1
    // BOSH-SEC-1: nothing but the header and <starttls/> went out before TLS.
    EXPECT_EQ(first.received.find("<auth"), std::string::npos);

    // SASL PLAIN, relayed untouched (XBOSH-10).
    auto auth = post(req_body(sid, 1001,
                              "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                              "AGFsaWNlAHNlY3JldA==</auth>"));
    ASSERT_EQ(auth.status, 200u);
    EXPECT_NE(auth.body.find("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"), std::string::npos) << auth.body;
    EXPECT_TRUE(fake->wait_received(0, "AGFsaWNlAHNlY3JldA==</auth>"));

    // xmpp:restart: new header on the same socket, no closing tag (XBOSH-5), bind features
    // come back (XBOSH-6).
    auto restarted = post(restart_body(sid, 1002));
    ASSERT_EQ(restarted.status, 200u);
    EXPECT_NE(restarted.body.find("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'"), std::string::npos)
        << restarted.body;
    EXPECT_EQ(body_attr(restarted.body, "xmlns:stream"), std::string(ns_streams));

    // A message each way.
    auto msg = post(req_body(sid, 1003,
                             "<message xmlns='jabber:client' to='bob@xmpp.test' type='chat'>"
                             "<body>hello-from-client</body></message>"));
    ASSERT_EQ(msg.status, 200u);
    EXPECT_NE(msg.body.find("<body>hello-from-server</body>"), std::string::npos) << msg.body;
    EXPECT_NE(msg.body.find("<message"), std::string::npos);

    // SM-1, SM-6: a body holding only <r/> reaches the server; the server's <r/> comes back
    // alone in a body; the client's <a/> then travels (with the terminate) ahead of the
    // presence.
    auto sm = post(req_body(sid, 1004, "<r xmlns='urn:xmpp:sm:3'/>"));
    ASSERT_EQ(sm.status, 200u);
    EXPECT_EQ(sm.body, "<body xmlns='http://jabber.org/protocol/httpbind'><r xmlns='urn:xmpp:sm:3'/></body>");

    // TERM-1: terminate carrying an SM ack and unavailable presence.
    auto term = post(terminate_req(
        sid, 1005, "<a xmlns='urn:xmpp:sm:3' h='1'/><presence xmlns='jabber:client' type='unavailable'/>"));
    ASSERT_EQ(term.status, 200u);
    EXPECT_TRUE(is_terminate(term.body, "")) << term.body;

    // TERM-3, C2S-CLOSE-1: presence, then our closing tag, then close_notify and FIN.
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_EQ(log.error, "");
    EXPECT_TRUE(log.peer_closed);
    EXPECT_TRUE(log.close_notify);
    auto presence_at = log.received.find("type='unavailable'");
    ASSERT_NE(presence_at, std::string::npos) << log.received;
    ASSERT_NE(log.closing_tag_at, std::string::npos);
    EXPECT_LT(presence_at, log.closing_tag_at);
    EXPECT_EQ(log.received.find("</stream:stream>", log.closing_tag_at + 1), std::string::npos)
        << "nothing after the closing tag";
    // XBOSH-5, C2S-RST-1: three headers (plain, post-TLS, post-SASL), no closing tag
    // before the last one; C2S-HDR-6: each with an XML declaration.
    EXPECT_EQ(count(log.received, "<stream:stream"), 3u) << log.received;
    EXPECT_EQ(count(log.received, "<?xml"), 3u) << log.received;
    EXPECT_LT(log.received.rfind("<stream:stream"), log.closing_tag_at);
    // C2S-RST-2: the restart header follows the SASL exchange with nothing in between.
    auto auth_end = log.received.find("</auth>") + std::string_view("</auth>").size();
    EXPECT_EQ(log.received.find("<?xml", auth_end), auth_end) << log.received;
    // SM-6: the client's <r/> and <a/> arrived as sent, in order with the stanzas.
    EXPECT_NE(log.received.find("<r xmlns='urn:xmpp:sm:3'/>"), std::string::npos) << log.received;
    EXPECT_LT(log.received.find("hello-from-client"), log.received.find("<r xmlns='urn:xmpp:sm:3'/>"));
    EXPECT_LT(log.received.find("<a xmlns='urn:xmpp:sm:3' h='1'/>"), presence_at) << log.received;

    // TERM-4: the session is gone.
    auto later = post(req_body(sid, 1006));
    EXPECT_EQ(later.status, 200u);
    EXPECT_TRUE(is_terminate(later.body, "item-not-found")) << later.body;
}

// tls = "off" (issue 9: a server on the same host, no TLS at all): an optional STARTTLS offer
// is declined, the first stream is the client's, SASL goes in the clear over loopback, and
// the client never sees the offer (BOSH-RESP-16). C2S-TLS-5 (SHOULD) is waived by the
// operator's explicit choice; see tests/CONFORMANCE.md.
TEST_F(login, tls_off_declines_starttls_over_loopback)
{
    fake = std::make_unique<fake_server>(fake_upstream_server::config{});
    gateway_options o;
    o.tail = "[[upstream.domain]]\nname = \"plain.test\"\naddress = \"127.0.0.1:" + std::to_string(fake->port()) +
             "\"\ntls = \"off\"\n";
    start(o);
    script s;
    s.expect_header()
        .send(fake_upstream_server::header("p1") +
              "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
              "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
              "</mechanisms></stream:features>")
        .expect("<auth")
        .expect("</auth>")
        .send(fake_upstream_server::sasl_success())
        .expect_header()
        .send(fake_upstream_server::header("p2") + fake_upstream_server::features_bind())
        .expect("</stream:stream>")
        .send("</stream:stream>")
        .read_until_eof();
    fake->add(std::move(s));

    auto created = post(create_body(2000, "plain.test"));
    ASSERT_EQ(created.status, 200u) << created.body;
    const std::string sid = body_attr(created.body, "sid").value_or("");
    ASSERT_FALSE(sid.empty()) << created.body;
    EXPECT_EQ(body_attr(created.body, "authid"), "p1"); // the first stream is the client's
    EXPECT_EQ(created.body.find("starttls"), std::string::npos) << created.body;
    EXPECT_NE(created.body.find("<mechanism>PLAIN</mechanism>"), std::string::npos) << created.body;

    auto auth = post(req_body(sid, 2001,
                              "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                              "AGFsaWNlAHNlY3JldA==</auth>"));
    ASSERT_EQ(auth.status, 200u);
    EXPECT_NE(auth.body.find("<success"), std::string::npos) << auth.body;
    auto restarted = post(req_body(sid, 2002, {}, "to='plain.test' xml:lang='en' xmpp:restart='true'"));
    ASSERT_EQ(restarted.status, 200u);
    EXPECT_NE(restarted.body.find("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'"), std::string::npos)
        << restarted.body;
    auto term = post(terminate_req(sid, 2003));
    ASSERT_EQ(term.status, 200u);
    EXPECT_TRUE(is_terminate(term.body, "")) << term.body;

    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_EQ(log.error, "");
    EXPECT_FALSE(log.tls);
    EXPECT_EQ(log.received.find("<starttls"), std::string::npos) << log.received;
    EXPECT_NE(log.received.find("to='plain.test'"), std::string::npos) << log.received;
    EXPECT_NE(log.received.find("AGFsaWNlAHNlY3JldA==</auth>"), std::string::npos) << log.received;
}

} // namespace
} // namespace boshgate::itest
