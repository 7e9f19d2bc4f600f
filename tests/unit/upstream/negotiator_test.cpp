// upstream::negotiator: the client-side RFC 6120 stream FSM, driven through the real
// xml::stream_parser the way upstream::stream drives it.
#include "boshgate/upstream/negotiator.hpp"
#include "boshgate/xml/tree.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace boshgate::upstream {
namespace {

constexpr std::string_view streams_ns = "http://etherx.jabber.org/streams";

const std::string hdr_plain = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                              "xmlns:stream='http://etherx.jabber.org/streams' "
                              "to='example.com' version='1.0' xml:lang='en'>";
const std::string hdr_tls = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                            "xmlns:stream='http://etherx.jabber.org/streams' "
                            "from='juliet@example.com' to='example.com' version='1.0' "
                            "xml:lang='en'>";
const std::string starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

std::string server_header(const std::string& id)
{
    return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' id='" +
           id + "' from='example.com' version='1.0' xml:lang='en'>";
}

const std::string features_starttls =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>";
const std::string features_sasl =
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
    "<mechanism>PLAIN</mechanism></mechanisms>"
    "<compression xmlns='http://jabber.org/features/compress'><method>zlib</method>"
    "</compression></stream:features>";
const std::string features_bind = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                                  "</stream:features>";

/// Client-visible event, flattened for assertions.
struct event {
    std::string kind; ///< header | element | stream_error | closed | failed
    std::string text; ///< header id / element xml / error xml / "1"/"0" / reason
    std::string ns;
    std::string local;
    failure why = failure::protocol_error;
};

/// A minimal adapter: framer + negotiator, executing actions like upstream::stream does.
class harness final : public xml::handler {
public:
    explicit harness(negotiator_params p, xml::limits lim = {}) : parser_(*this, lim)
    {
        neg.start(std::move(p));
        drain();
    }

    void on_open(xml::root_open&& root) override
    {
        neg.on_open(std::move(root));
        drain();
    }
    void on_element(xml::element&& el) override
    {
        neg.on_element(std::move(el));
        drain();
    }
    void on_close() override
    {
        neg.on_close();
        drain();
    }

    /// Bytes from the server, in one read.
    void server(std::string_view bytes)
    {
        while (!bytes.empty() && !ended_) {
            boost::system::error_code ec;
            in_feed_ = true;
            std::size_t n = parser_.feed(bytes, ec);
            in_feed_ = false;
            if (ec) {
                ASSERT_EQ(&ec.category(), &xml::error_category());
                neg.on_xml_error(static_cast<xml::errc>(ec.value()));
                drain();
                return;
            }
            bytes.remove_prefix(n);
            if (tls_pending_) {
                discarded += std::string(bytes); // plaintext after <proceed/>
                return;
            }
        }
    }

    void tls_ok()
    {
        ASSERT_TRUE(tls_pending_);
        tls_pending_ = false;
        neg.on_tls_established();
        drain();
    }

    void drain()
    {
        for (auto& a : neg.take_actions()) {
            if (auto* w = std::get_if<neg_action::write>(&a)) {
                ASSERT_FALSE(w->bytes.empty());
                written += w->bytes;
            } else if (std::get_if<neg_action::reset_parser>(&a)) {
                ++resets;
                if (in_feed_) {
                    parser_.request_reset();
                } else {
                    parser_.reset();
                }
            } else if (std::get_if<neg_action::start_tls>(&a)) {
                tls_pending_ = true;
            } else if (auto* h = std::get_if<neg_action::deliver_header>(&a)) {
                event e{"header", std::string(h->header.attr("id").value_or("")), h->header.ns,
                        h->header.local};
                events.push_back(std::move(e));
            } else if (auto* d = std::get_if<neg_action::deliver_element>(&a)) {
                events.push_back({"element", d->element.xml, d->element.ns, d->element.local});
            } else if (auto* s = std::get_if<neg_action::deliver_stream_error>(&a)) {
                events.push_back({"stream_error", s->xml, "", ""});
            } else if (auto* c = std::get_if<neg_action::closed>(&a)) {
                ended_ = true;
                events.push_back({"closed", c->clean ? "1" : "0", "", ""});
            } else if (auto* r = std::get_if<neg_action::redirect>(&a)) {
                ended_ = true;
                events.push_back({"redirect", r->host + " " + std::to_string(r->port), "", ""});
            } else if (auto* f = std::get_if<neg_action::failed>(&a)) {
                ended_ = true;
                event e{"failed", f->reason, "", ""};
                e.why = f->why;
                events.push_back(std::move(e));
            }
        }
    }

    /// Take and clear the written bytes.
    std::string take_written()
    {
        std::string w;
        w.swap(written);
        return w;
    }
    std::vector<event> take_events()
    {
        std::vector<event> e;
        e.swap(events);
        return e;
    }
    bool tls_pending() const { return tls_pending_; }

    negotiator neg;
    std::string written;
    std::string discarded;
    std::vector<event> events;
    int resets = 0;

private:
    xml::stream_parser parser_;
    bool in_feed_ = false;
    bool tls_pending_ = false;
    bool ended_ = false;
};

negotiator_params params()
{
    negotiator_params p;
    p.to = "example.com";
    p.lang = "en";
    p.from = "juliet@example.com";
    return p;
}

/// params() for a domain with tls = "off" (never STARTTLS).
negotiator_params params_tls_off()
{
    auto p = params();
    p.never_starttls = true;
    return p;
}

/// The client was given exactly the server's header (stream id `id`) and then its features.
::testing::AssertionResult header_then_features(const std::vector<event>& ev, std::string_view id)
{
    if (ev.size() != 2 || ev[0].kind != "header" || ev[0].text != id || ev[1].local != "features") {
        std::string got;
        for (const auto& e : ev) {
            got += " [" + e.kind + " " + e.local + " " + e.text.substr(0, 40) + "]";
        }
        return ::testing::AssertionFailure() << "expected header " << id << " then features, got" << got;
    }
    return ::testing::AssertionSuccess();
}

/// Bring a STARTTLS harness to the open state (post-TLS features delivered).
void to_open(harness& h)
{
    h.server(server_header("s1") + features_starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.tls_ok();
    h.server(server_header("s2") + features_sasl);
    ASSERT_EQ(h.neg.current_state(), negotiator::state::open);
    h.take_written();
    h.take_events();
}

xml::tree parse(const std::string& s)
{
    xml::tree t;
    EXPECT_FALSE(xml::parse_tree(s, t)) << s;
    return t;
}

std::vector<std::string> mechanisms(const xml::tree& features)
{
    std::vector<std::string> out;
    const auto* m = features.child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms");
    if (m == nullptr) {
        return out;
    }
    for (const auto& n : m->children) {
        if (const auto* t = std::get_if<xml::tree>(&n.value)) {
            out.push_back(t->text());
        }
    }
    return out;
}

// ------------------------------------------------------------------ headers

// C2S-HDR-1 C2S-HDR-2 C2S-HDR-3 C2S-HDR-4 C2S-HDR-5 C2S-HDR-6 C2S-HDR-7
TEST(negotiator, initial_header_exact_bytes_without_from_before_tls)
{
    harness h(params());
    EXPECT_EQ(h.take_written(), hdr_plain);
    EXPECT_EQ(h.neg.current_state(), negotiator::state::await_header);
    EXPECT_TRUE(h.take_events().empty());
}

// C2S-HDR-5: from is sent as soon as the link is TLS (direct TLS: in the first header)
TEST(negotiator, direct_tls_header_carries_from)
{
    auto p = params();
    p.direct_tls = true;
    harness h(p);
    EXPECT_EQ(h.take_written(), hdr_tls);
    EXPECT_TRUE(h.neg.tls());
}

// C2S-HDR-3: the client's language; attribute values escaped
TEST(negotiator, header_uses_client_lang_and_escapes)
{
    auto p = params();
    p.lang = "de";
    p.to = "a'b&c";
    harness h(p);
    EXPECT_EQ(h.take_written(),
              "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams' to='a&apos;b&amp;c' "
              "version='1.0' xml:lang='de'>");
}

// ------------------------------------------------------------------ STARTTLS

// C2S-TLS-5 C2S-TLS-6 BOSH-RESP-16 WS-RST-2 C2S-HDR-5
TEST(negotiator, starttls_sequence_hides_pre_tls_stream)
{
    harness h(params());
    h.take_written();
    h.server(server_header("s1") + features_starttls);
    EXPECT_EQ(h.take_written(), starttls); // no whitespace anywhere (C2S-TLS-6)
    EXPECT_EQ(h.neg.current_state(), negotiator::state::await_proceed);
    EXPECT_TRUE(h.take_events().empty()); // pre-TLS header and features never delivered

    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>junk-after-proceed");
    EXPECT_TRUE(h.tls_pending());
    EXPECT_EQ(h.discarded, "junk-after-proceed");
    EXPECT_EQ(h.resets, 1);
    EXPECT_EQ(h.take_written(), "");
    EXPECT_TRUE(h.take_events().empty());

    h.tls_ok();
    EXPECT_EQ(h.take_written(), hdr_tls);
    h.server(server_header("s2") + features_sasl);
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "header");
    EXPECT_EQ(ev[0].text, "s2");
    EXPECT_EQ(ev[1].kind, "element");
    EXPECT_EQ(ev[1].local, "features");
    EXPECT_EQ(h.neg.current_state(), negotiator::state::open);
}

// C2S-TLS-5: <failure/> ends the attempt
TEST(negotiator, starttls_failure_fails_connection)
{
    harness h(params());
    h.server(server_header("s1") + features_starttls);
    h.server("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::connection_failed);
    EXPECT_NE(ev[0].text.find("C2S-TLS-5"), std::string::npos);
    EXPECT_EQ(h.neg.current_state(), negotiator::state::failed);
}

// C2S-TLS-4: handshake/certificate failure reported by the adapter
TEST(negotiator, tls_handshake_failure_fails_connection)
{
    harness h(params());
    h.server(server_header("s1") + features_starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.neg.on_tls_failed("certificate verify failed");
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].why, failure::connection_failed);
    EXPECT_EQ(ev[0].text, "C2S-TLS-4: TLS handshake failed: certificate verify failed");
}

// C2S-TLS-7: plaintext backend refused unless configured
TEST(negotiator, no_starttls_refused_unless_plaintext_allowed)
{
    harness h(params());
    h.take_written();
    h.server(server_header("s1") + features_bind);
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::connection_failed);
    EXPECT_EQ(ev[0].text.rfind("C2S-TLS-7", 0), 0u);
    EXPECT_EQ(h.take_written(), "</stream:stream>");
}

// C2S-TLS-7: explicit opt-in; the plaintext stream becomes the client's (no `from`, C2S-HDR-5)
TEST(negotiator, plaintext_allowed_delivers_first_stream)
{
    auto p = params();
    p.allow_plaintext = true;
    harness h(p);
    EXPECT_EQ(h.take_written(), hdr_plain);
    h.neg.client_send("<early/>"); // held until the stream is known to be the client's
    h.drain();
    EXPECT_EQ(h.take_written(), "");
    h.server(server_header("s1") + features_bind);
    auto ev = h.take_events();
    ASSERT_TRUE(header_then_features(ev, "s1"));
    EXPECT_EQ(h.take_written(), "<early/>");
    EXPECT_FALSE(h.neg.tls());
}

// C2S-TLS-5: STARTTLS is used when offered even if plaintext is allowed
TEST(negotiator, plaintext_allowed_still_uses_offered_starttls)
{
    auto p = params();
    p.allow_plaintext = true;
    harness h(p);
    h.take_written();
    h.server(server_header("s1") + features_starttls);
    EXPECT_EQ(h.take_written(), starttls);
    EXPECT_TRUE(h.take_events().empty());
}

// tls = "off" (never_starttls): an optional STARTTLS offer is declined; the plaintext stream
// is the client's, with the offer stripped from its features (C2S-TLS-5 is a SHOULD; the
// operator's choice for a server on the same host, tests/CONFORMANCE.md).
TEST(negotiator, never_starttls_declines_an_optional_offer)
{
    harness h(params_tls_off());
    EXPECT_EQ(h.take_written(), hdr_plain);
    h.neg.client_send("<early/>");
    h.drain();
    h.server(server_header("s1") +
             "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
             "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
             "</mechanisms></stream:features>");
    EXPECT_EQ(h.take_written(), "<early/>"); // no <starttls/>
    auto ev = h.take_events();
    ASSERT_TRUE(header_then_features(ev, "s1"));
    EXPECT_EQ(ev[1].text.find("starttls"), std::string::npos) << ev[1].text;
    EXPECT_NE(ev[1].text.find("PLAIN"), std::string::npos) << ev[1].text;
    EXPECT_FALSE(h.neg.tls());
}

// RFC 6120 §5.3.1: STARTTLS marked <required/>, or offered as the only feature, is
// mandatory-to-negotiate: with tls = "off" the stream is refused, nothing relayed.
TEST(negotiator, never_starttls_refuses_a_mandatory_offer)
{
    const std::string only = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                             "</stream:features>";
    for (const std::string& features : {features_starttls, only}) {
        harness h(params_tls_off());
        h.take_written();
        h.server(server_header("s1") + features);
        EXPECT_EQ(h.take_written(), "</stream:stream>") << features;
        auto ev = h.take_events();
        ASSERT_EQ(ev.size(), 1u) << features;
        EXPECT_EQ(ev[0].kind, "failed");
        EXPECT_EQ(ev[0].why, failure::connection_failed);
        EXPECT_EQ(ev[0].text.rfind("C2S-TLS-5: the server requires STARTTLS", 0), 0u) << ev[0].text;
    }
}

// tls = "off" also accepts a server that offers no TLS at all.
TEST(negotiator, never_starttls_accepts_a_server_without_tls)
{
    harness h(params_tls_off());
    h.take_written();
    h.server(server_header("s1") + features_bind);
    EXPECT_TRUE(header_then_features(h.take_events(), "s1"));
    EXPECT_FALSE(h.neg.tls());
}

// C2S-TLS-3: no STARTTLS inside direct TLS; the offer is stripped from the client's view
TEST(negotiator, direct_tls_ignores_starttls_offer)
{
    auto p = params();
    p.direct_tls = true;
    harness h(p);
    h.take_written();
    h.server(server_header("d1") + features_starttls);
    EXPECT_EQ(h.take_written(), "");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "header");
    auto f = parse(ev[1].text);
    EXPECT_EQ(f.child("urn:ietf:params:xml:ns:xmpp-tls", "starttls"), nullptr);
    EXPECT_EQ(mechanisms(f), std::vector<std::string>{"PLAIN"});
    EXPECT_EQ(h.neg.current_state(), negotiator::state::open);
}

// ------------------------------------------------------------------ feature filtering

// BOSH-RESP-17 XBOSH-14 BOSH-RESP-16
TEST(negotiator, features_filtered_for_client)
{
    harness h(params());
    h.server(server_header("s1") + features_starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.tls_ok();
    h.server(server_header("s2") + features_sasl);
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    auto f = parse(ev[1].text);
    EXPECT_EQ(f.ns, streams_ns);
    EXPECT_EQ(f.local, "features");
    EXPECT_EQ(f.child("http://jabber.org/features/compress", "compression"), nullptr);
    EXPECT_EQ(mechanisms(f), (std::vector<std::string>{"SCRAM-SHA-1", "PLAIN"}));
    EXPECT_EQ(ev[1].text.find("PLUS"), std::string::npos);
    EXPECT_NE(ev[1].text.find("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"),
              std::string::npos);
}

TEST(filter_features, unchanged_bytes_when_nothing_to_strip)
{
    xml::element el{std::string(streams_ns), "features",
                    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
                    "<bind   xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"};
    auto copy = el.xml;
    auto out = filter_features(std::move(el));
    EXPECT_EQ(out.xml, copy);
}

// XBOSH-14: only names ending in -PLUS go; other children and mechanisms stay
TEST(filter_features, strips_plus_mechanisms_only)
{
    xml::element el{std::string(streams_ns), "features",
                    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
                    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                    "<mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>PLUSX</mechanism>"
                    "<mechanism> SCRAM-SHA-1-PLUS </mechanism></mechanisms>"
                    "<sm xmlns='urn:xmpp:sm:3'/></stream:features>"};
    auto out = filter_features(std::move(el));
    auto t = parse(out.xml);
    EXPECT_EQ(mechanisms(t), std::vector<std::string>{"PLUSX"});
    EXPECT_NE(t.child("urn:xmpp:sm:3", "sm"), nullptr);
}

// ------------------------------------------------------------------ SASL and restarts

// XBOSH-11 C2S-RST-2 XBOSH-5 C2S-RST-1
TEST(negotiator, data_after_sasl_success_held_until_restart)
{
    harness h(params());
    to_open(h);
    h.neg.client_send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    h.drain();
    EXPECT_EQ(h.take_written(),
              "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    h.server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    EXPECT_TRUE(h.neg.awaiting_client_restart());
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].local, "success");

    h.neg.client_send("<iq type='set' id='b1'/>");
    h.drain();
    EXPECT_EQ(h.take_written(), ""); // nothing between <success/> and the new header
    int resets_before = h.resets;
    h.neg.client_restart();
    h.drain();
    EXPECT_EQ(h.resets, resets_before + 1);
    EXPECT_EQ(h.take_written(), hdr_tls + "<iq type='set' id='b1'/>"); // no closing tag
    EXPECT_FALSE(h.neg.awaiting_client_restart());

    h.server(server_header("s3") + features_bind);
    ev = h.take_events();
    EXPECT_TRUE(header_then_features(ev, "s3"));
}

// C2S-KA-1: a whitespace keepalive goes out only on an open, authenticated stream between
// elements: never before or during TLS or SASL, never between <success/> and the restart,
// never after our closing tag.
TEST(negotiator, keepalive_only_once_authenticated_and_open)
{
    harness h(params());
    h.take_written();
    EXPECT_FALSE(h.neg.on_keepalive_due()); // header out, nothing back yet
    to_open(h);
    h.take_written();
    EXPECT_FALSE(h.neg.on_keepalive_due()); // open, but SASL not done
    h.neg.client_send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    h.drain();
    h.take_written();
    EXPECT_FALSE(h.neg.on_keepalive_due()); // SASL in progress
    h.server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    EXPECT_FALSE(h.neg.on_keepalive_due()); // between <success/> and the client's restart
    h.neg.client_restart();
    h.drain();
    h.take_written();
    EXPECT_FALSE(h.neg.on_keepalive_due()); // new header out, the server's not yet in
    h.server(server_header("s3") + features_bind);
    h.take_events();
    ASSERT_TRUE(h.neg.on_keepalive_due());
    h.drain();
    EXPECT_EQ(h.take_written(), " ");
    h.neg.client_send("<presence/>");
    ASSERT_TRUE(h.neg.on_keepalive_due());
    h.drain();
    EXPECT_EQ(h.take_written(), "<presence/> "); // after the whole element, never inside
    h.neg.client_close(true);
    h.drain();
    h.take_written();
    EXPECT_FALSE(h.neg.on_keepalive_due()); // nothing after the closing tag
    h.drain();
    EXPECT_EQ(h.take_written(), "");
}

/// Open, authenticated and restarted (the server's post-SASL features in), not bound yet.
void to_authenticated(harness& h)
{
    to_open(h);
    h.neg.client_send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    h.server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    h.neg.client_restart();
    h.drain();
    h.server(server_header("s3") + features_bind);
    h.take_events();
    h.take_written();
}

constexpr std::string_view bind_result =
    "<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/r</jid>"
    "</bind></iq>";

// C2S-PING-1: a XEP-0199 ping goes out only once the stream is open, authenticated and a
// resource is bound (no stanza before that, RFC 6120 §7.1), one at a time, never after our
// closing tag. C2S-PING-2: its answer is consumed, whatever else arrives is delivered.
TEST(negotiator, ping_only_once_bound_and_its_answer_is_consumed)
{
    harness h(params());
    h.take_written();
    EXPECT_FALSE(h.neg.on_ping_due("p1")); // header out, nothing back yet
    to_authenticated(h);
    EXPECT_FALSE(h.neg.on_ping_due("p1")); // authenticated, not bound
    h.neg.client_send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    h.drain();
    h.take_written();
    h.server("<iq type='result' id='other'/>"); // not a bind result
    EXPECT_FALSE(h.neg.on_ping_due("p1"));
    h.server(bind_result);
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u); // both iqs delivered
    EXPECT_NE(ev[1].text.find("<jid>juliet@example.com/r</jid>"), std::string::npos) << ev[1].text;

    ASSERT_TRUE(h.neg.on_ping_due("p1<'"));
    h.drain();
    EXPECT_EQ(h.take_written(),
              "<iq xmlns='jabber:client' type='get' to='example.com' id='p1&lt;&apos;'><ping xmlns='urn:xmpp:ping'/></iq>");
    EXPECT_TRUE(h.neg.ping_pending());
    EXPECT_FALSE(h.neg.on_ping_due("p2")); // one at a time
    // A client stanza with another id and a result with the same id but the wrong type are
    // the client's; the answer is not.
    h.server("<iq type='get' id='p1&lt;&apos;' from='x@example.com'><query xmlns='q'/></iq>");
    h.server("<iq type='result' id='p1&lt;&apos;' from='example.com'/><message><body>hi</body></message>");
    ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].local, "iq");
    EXPECT_NE(ev[0].text.find("type='get'"), std::string::npos);
    EXPECT_EQ(ev[1].local, "message");
    EXPECT_FALSE(h.neg.ping_pending());
    h.neg.on_ping_timeout(); // answered: nothing happens
    h.drain();
    EXPECT_TRUE(h.take_events().empty());

    // An error answer (ping not supported) still proves the server alive.
    ASSERT_TRUE(h.neg.on_ping_due("p2"));
    h.server("<iq type='error' id='p2'><error type='cancel'><service-unavailable "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    EXPECT_TRUE(h.take_events().empty());
    EXPECT_FALSE(h.neg.ping_pending());

    h.neg.client_close(true);
    h.drain();
    h.take_written();
    EXPECT_FALSE(h.neg.on_ping_due("p3")); // nothing after the closing tag
}

// C2S-PING-3: no answer within ping_timeout: the stream fails (connection_failed: the
// client sees remote-connection-failed).
TEST(negotiator, unanswered_ping_fails_the_stream)
{
    harness h(params());
    to_authenticated(h);
    h.server(bind_result);
    h.take_events();
    ASSERT_TRUE(h.neg.on_ping_due("p1"));
    h.neg.on_ping_timeout();
    h.drain();
    const auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::connection_failed);
    EXPECT_NE(ev[0].text.find("C2S-PING-3"), std::string::npos);
}

// C2S-PING-4: with XEP-0198 enabled, no pings (our iq and its answer would shift the
// stanza counts both sides keep); the client's own <r/> acks keep the link busy.
TEST(negotiator, no_ping_once_stream_management_is_enabled)
{
    harness h(params());
    to_authenticated(h);
    h.server(bind_result);
    h.server("<enabled xmlns='urn:xmpp:sm:3' id='sm1' resume='true'/>");
    const auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u); // delivered as always
    EXPECT_FALSE(h.neg.on_ping_due("p1"));
}

TEST(negotiator, restart_ignored_unless_open)
{
    harness h(params());
    h.take_written();
    h.neg.client_restart();
    h.drain();
    EXPECT_EQ(h.take_written(), "");
    EXPECT_EQ(h.resets, 0);
}

// Client data before the stream is ready is queued in order, then bounded.
TEST(negotiator, early_client_data_queued_in_order)
{
    harness h(params());
    h.take_written();
    h.neg.client_send("<a/>");
    h.neg.client_send("<b/>");
    h.drain();
    h.server(server_header("s1") + features_starttls);
    EXPECT_EQ(h.take_written(), starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.neg.client_send("<c/>");
    h.drain();
    EXPECT_EQ(h.take_written(), "");
    h.tls_ok();
    EXPECT_EQ(h.take_written(), hdr_tls + "<a/><b/><c/>");
}

TEST(negotiator, early_client_data_overflow_fails)
{
    auto p = params();
    p.max_pending_bytes = 8;
    harness h(p);
    h.neg.client_send("<a/><b/>");
    h.drain();
    EXPECT_TRUE(h.take_events().empty());
    h.neg.client_send("<c/>");
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::protocol_error);
}

// ------------------------------------------------------------------ errors and closing

// C2S-ERR-2: header + error + closing tag in one packet, at every split point, on a
// TLS-protected stream (direct TLS here; before TLS see SEC-TLS-1 below)
TEST(negotiator, header_error_close_in_one_packet_any_split)
{
    const std::string packet =
        server_header("e1") +
        "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        "</stream:error></stream:stream>";
    auto p = params();
    p.direct_tls = true;
    for (std::size_t split = 0; split <= packet.size(); ++split) {
        harness h(p);
        h.take_written();
        h.server(packet.substr(0, split));
        h.server(packet.substr(split));
        auto ev = h.take_events();
        ASSERT_EQ(ev.size(), 3u) << "split " << split;
        EXPECT_EQ(ev[0].kind, "header");
        EXPECT_EQ(ev[1].kind, "stream_error");
        auto err = parse(ev[1].text);
        EXPECT_EQ(err.ns, streams_ns);
        EXPECT_EQ(err.local, "error");
        EXPECT_NE(err.child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown"), nullptr);
        EXPECT_EQ(ev[2].kind, "closed");
        EXPECT_EQ(ev[2].text, "1");
        EXPECT_EQ(h.take_written(), "</stream:stream>") << "split " << split;
    }
}

/// STARTTLS done; the protected stream's header not yet in.
void to_tls(harness& h)
{
    h.server(server_header("s1") + features_starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.tls_ok();
    h.take_written();
    h.take_events();
}

// C2S-ERR-2 after STARTTLS: the error of the protected stream is relayed.
TEST(negotiator, stream_error_after_starttls_is_relayed)
{
    harness h(params());
    to_tls(h);
    h.server(server_header("s2") +
             "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
             "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, "header");
    EXPECT_EQ(ev[1].kind, "stream_error");
    EXPECT_EQ(ev[2].kind, "closed");
}

negotiator_params following()
{
    auto p = params();
    p.follow_redirect = true;
    return p;
}

std::string see_other_host(std::string_view target)
{
    return "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" + std::string(target) +
           "</see-other-host></stream:error></stream:stream>";
}

// C2S-SOH-1: after TLS, before the client saw anything: a redirect action, no event for the
// client; targets host, host:port, [v6]:port, v4:port.
TEST(negotiator, see_other_host_before_anything_was_seen_is_followed)
{
    for (const auto& [text, host, port] : {std::tuple{"xmpp2.example.com", "xmpp2.example.com", 5222},
                                           std::tuple{" xmpp2.example.com:5223 ", "xmpp2.example.com", 5223},
                                           std::tuple{"[2001:db8::1]:5269", "2001:db8::1", 5269},
                                           std::tuple{"192.0.2.7:443", "192.0.2.7", 443}}) {
        harness h(following());
        to_tls(h);
        h.server(server_header("s2") + see_other_host(text));
        const auto ev = h.take_events();
        ASSERT_EQ(ev.size(), 1u) << text;
        EXPECT_EQ(ev[0].kind, "redirect");
        EXPECT_EQ(ev[0].text, std::string(host) + " " + std::to_string(port));
        EXPECT_EQ(h.neg.current_state(), negotiator::state::closed);
    }
}

// C2S-SOH-1: with following on, the protected header is held until the features, then both
// come in order; a stream error or a close in between still shows the header first.
TEST(negotiator, following_holds_the_header_until_features)
{
    harness h(following());
    to_tls(h);
    h.server(server_header("s2"));
    EXPECT_TRUE(h.take_events().empty());
    h.server(features_sasl);
    EXPECT_TRUE(header_then_features(h.take_events(), "s2"));

    harness e(following());
    to_tls(e);
    e.server(server_header("s2") +
             "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    auto ev = e.take_events();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, "header");
    EXPECT_EQ(ev[1].kind, "stream_error");
    EXPECT_EQ(ev[2].kind, "closed");

    harness c(following());
    to_tls(c);
    c.server(server_header("s2") + "</stream:stream>");
    ev = c.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "header");
    EXPECT_EQ(ev[1].kind, "closed");
}

// C2S-SOH-2, C2S-SOH-3: relayed, not followed: when following is off (hops used up), once the
// client has the stream (after features), once the client wrote on it, and for a target that
// is no host[:port].
TEST(negotiator, see_other_host_is_relayed_otherwise)
{
    const auto relayed = [](harness& h, const std::string& context) {
        const auto ev = h.take_events();
        ASSERT_FALSE(ev.empty()) << context;
        const bool has_error = std::any_of(ev.begin(), ev.end(), [](const event& e) { return e.kind == "stream_error"; });
        const bool has_redirect = std::any_of(ev.begin(), ev.end(), [](const event& e) { return e.kind == "redirect"; });
        EXPECT_TRUE(has_error) << context;
        EXPECT_FALSE(has_redirect) << context;
    };
    {
        harness h(params());
        to_tls(h);
        h.server(server_header("s2") + see_other_host("xmpp2.example.com"));
        relayed(h, "following off");
    }
    {
        harness h(following());
        to_open(h);
        h.server(see_other_host("xmpp2.example.com"));
        relayed(h, "after features");
    }
    {
        harness h(following());
        to_tls(h);
        h.neg.client_send("<presence/>"); // written at once: the protected stream is the client's
        h.drain();
        h.server(server_header("s2") + see_other_host("xmpp2.example.com"));
        relayed(h, "client wrote");
    }
    for (const char* bad : {"", "two words", "2001:db8::1", "host:0", "host:65536", "host:12a", "[::1", "[::1]x"}) {
        harness h(following());
        to_tls(h);
        h.server(server_header("s2") + see_other_host(bad));
        relayed(h, std::string("target '") + bad + "'");
    }
}

// C2S-SOH-1 with SEC-TLS-1: before TLS (TLS required) a see-other-host is neither followed
// (the server is not authenticated yet: RFC 6120 §4.9.3.19, errata 3651) nor relayed.
TEST(negotiator, see_other_host_before_tls_is_not_followed)
{
    harness h(following());
    h.server(server_header("s1") + see_other_host("xmpp2.example.com"));
    const auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].text.rfind("SEC-TLS-1", 0), 0u) << ev[0].text;
}

const std::string injected_error =
    "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
    "evil.example</see-other-host><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
    "Please log in at https://evil.example</text></stream:error>";

/// No client-visible event, and no server-supplied text in the failure reason.
void expect_generic_pre_tls_failure(const std::vector<event>& ev, const std::string& context)
{
    ASSERT_EQ(ev.size(), 1u) << context;
    EXPECT_EQ(ev[0].kind, "failed") << context;
    EXPECT_EQ(ev[0].why, failure::connection_failed) << context;
    EXPECT_EQ(ev[0].text.rfind("SEC-TLS-1", 0), 0u) << ev[0].text;
    EXPECT_EQ(ev[0].text.find("evil"), std::string::npos) << ev[0].text;
}

// SEC-TLS-1 C2S-ERR-2 C2S-TLS-5: with TLS required, a stream error before TLS (here header +
// error + closing tag in one packet, at every split) is never relayed; the client gets a
// generic connection failure and the condition is named in the log reason only.
TEST(negotiator, pre_tls_stream_error_is_never_relayed_any_split)
{
    const std::string packet = server_header("e1") + injected_error + "</stream:stream>";
    for (std::size_t split = 0; split <= packet.size(); ++split) {
        harness h(params());
        h.take_written();
        h.server(packet.substr(0, split));
        h.server(packet.substr(split));
        auto ev = h.take_events();
        expect_generic_pre_tls_failure(ev, "split " + std::to_string(split));
        EXPECT_NE(ev[0].text.find("(see-other-host)"), std::string::npos) << ev[0].text;
        EXPECT_EQ(h.take_written(), "</stream:stream>") << "split " << split;
        EXPECT_EQ(h.neg.current_state(), negotiator::state::failed);
    }
}

// SEC-TLS-1 C2S-TLS-5: ... also while waiting for <proceed/>, and before the header's
// features; an unknown condition is not echoed either.
TEST(negotiator, pre_tls_stream_error_in_any_pre_tls_state_is_not_relayed)
{
    {
        harness h(params());
        h.server(server_header("s1") + features_starttls);
        ASSERT_EQ(h.neg.current_state(), negotiator::state::await_proceed);
        h.take_written();
        h.server(injected_error);
        expect_generic_pre_tls_failure(h.take_events(), "await_proceed");
        EXPECT_EQ(h.take_written(), "</stream:stream>");
    }
    {
        harness h(params());
        h.server(server_header("s1"));
        ASSERT_EQ(h.neg.current_state(), negotiator::state::await_features);
        h.server("<stream:error><evil-made-up xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                 "</stream:error>");
        auto ev = h.take_events();
        expect_generic_pre_tls_failure(ev, "await_features");
        EXPECT_NE(ev[0].text.find("(unknown condition)"), std::string::npos) << ev[0].text;
    }
    {
        // A client that sent data early gets none of it written after the failure.
        harness h(params());
        h.neg.client_send("<auth/>");
        h.drain();
        h.server(server_header("s1") + injected_error);
        expect_generic_pre_tls_failure(h.take_events(), "with pending client data");
        EXPECT_EQ(h.written.find("<auth/>"), std::string::npos) << h.written;
    }
}

// SEC-TLS-1 BOSH-RESP-16 WS-RST-2: any other pre-TLS element fails the stream; nothing of it
// reaches the client (the pre-TLS header is never delivered either).
TEST(negotiator, pre_tls_elements_never_reach_the_client)
{
    for (const std::string& injected :
         {std::string("<message from='evil@evil.example'><body>hi</body></message>"),
          std::string("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")}) {
        harness h(params());
        h.server(server_header("s1") + injected);
        auto ev = h.take_events();
        ASSERT_EQ(ev.size(), 1u) << injected;
        EXPECT_EQ(ev[0].kind, "failed");
        EXPECT_EQ(ev[0].text.find("evil"), std::string::npos) << ev[0].text;

        harness p(params());
        p.server(server_header("s1") + features_starttls + injected);
        ev = p.take_events();
        ASSERT_EQ(ev.size(), 1u) << injected;
        EXPECT_EQ(ev[0].kind, "failed");
    }
}

// C2S-TLS-7: with plaintext explicitly allowed the first stream may be the client's, so its
// stream error is relayed as before.
TEST(negotiator, pre_tls_stream_error_relayed_when_plaintext_allowed)
{
    auto p = params();
    p.allow_plaintext = true;
    harness h(p);
    h.take_written();
    h.server(server_header("e1") +
             "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
             "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "stream_error");
    EXPECT_NE(ev[0].text.find("host-unknown"), std::string::npos);
    EXPECT_EQ(ev[1].kind, "closed");
    EXPECT_EQ(h.take_written(), "</stream:stream>");
}

// C2S-ERR-1: stream error on an open stream: relayed whole, we close our side
TEST(negotiator, stream_error_when_open)
{
    harness h(params());
    to_open(h);
    h.server("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
             "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bye</text></stream:error>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "stream_error");
    auto err = parse(ev[0].text);
    EXPECT_NE(err.child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown"), nullptr);
    EXPECT_EQ(err.child("urn:ietf:params:xml:ns:xmpp-streams", "text")->text(), "bye");
    EXPECT_EQ(h.take_written(), "</stream:stream>");
    EXPECT_EQ(h.neg.current_state(), negotiator::state::closing);
    h.neg.client_send("<message/>"); // nothing after our closing tag (C2S-CLOSE-1)
    h.drain();
    EXPECT_EQ(h.take_written(), "");
    h.server("</stream:stream>");
    ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "closed");
    EXPECT_EQ(ev[0].text, "1");
    EXPECT_EQ(h.take_written(), "");
}

// RFC 6120 §4.4: the server closes first; we answer with our closing tag
TEST(negotiator, server_close_answered_with_closing_tag)
{
    harness h(params());
    to_open(h);
    h.server("</stream:stream>");
    EXPECT_EQ(h.take_written(), "</stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "closed");
    EXPECT_EQ(ev[0].text, "1");
}

// C2S-CLOSE-1 BOSH-TERM-3: clean client close
TEST(negotiator, clean_client_close_waits_for_server_tag)
{
    harness h(params());
    to_open(h);
    h.neg.client_close(true);
    h.drain();
    EXPECT_EQ(h.take_written(), "</stream:stream>");
    EXPECT_TRUE(h.take_events().empty());
    EXPECT_TRUE(h.neg.closing_tag_sent());
    h.server("<message from='x@y'/></stream:stream>"); // ignored while closing
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "closed");
    EXPECT_EQ(ev[0].text, "1");
    EXPECT_EQ(h.take_written(), ""); // tag sent once only
}

TEST(negotiator, clean_close_timeout_is_unclean)
{
    harness h(params());
    to_open(h);
    h.neg.client_close(true);
    h.neg.on_close_timeout();
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].text, "0");
}

// SM-friendly drop: no closing tag
TEST(negotiator, unclean_client_close_sends_nothing)
{
    harness h(params());
    to_open(h);
    h.neg.client_close(false);
    h.drain();
    EXPECT_EQ(h.take_written(), "");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "closed");
    EXPECT_EQ(ev[0].text, "0");
}

TEST(negotiator, transport_loss_during_negotiation_fails)
{
    harness h(params());
    h.server(server_header("s1"));
    h.neg.on_transport_closed();
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::connection_failed);
}

TEST(negotiator, transport_loss_when_open_is_unclean_close)
{
    harness h(params());
    to_open(h);
    h.neg.on_transport_closed();
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "closed");
    EXPECT_EQ(ev[0].text, "0");
}

TEST(negotiator, negotiate_timeout_fails_until_open)
{
    harness h(params());
    h.server(server_header("s1"));
    h.neg.on_negotiate_timeout();
    h.drain();
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::connection_failed);

    harness open(params());
    to_open(open);
    open.neg.on_negotiate_timeout();
    open.drain();
    EXPECT_TRUE(open.take_events().empty());
    EXPECT_EQ(open.neg.current_state(), negotiator::state::open);
}

// C2S-XML-1: restricted XML from the server
TEST(negotiator, restricted_xml_from_server)
{
    harness h(params());
    to_open(h);
    h.server("<!-- x -->");
    EXPECT_EQ(h.take_written(),
              "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
              "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, "failed");
    EXPECT_EQ(ev[0].why, failure::protocol_error);
}

// SEC-XML-1: a server element declaring more namespaces than xml.max_namespace_decls is a
// policy violation (RFC 6120 §4.9.3.14), like an oversized or too deep element.
TEST(negotiator, too_many_namespaces_from_server_is_policy_violation)
{
    harness h(params());
    to_open(h);
    std::string el = "<message";
    for (int i = 0; i < 100; ++i) {
        el += " xmlns:p" + std::to_string(i) + "='urn:x:" + std::to_string(i) + "'";
    }
    h.server(el + "/>");
    EXPECT_EQ(h.take_written(),
              "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
              "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].why, failure::protocol_error);
}

TEST(negotiator, garbage_from_server_is_not_well_formed)
{
    harness h(params());
    to_open(h);
    h.server("<message></iq>");
    EXPECT_EQ(h.take_written(),
              "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
              "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].why, failure::protocol_error);
}

// RFC 6120 §4.8.1
TEST(negotiator, wrong_root_namespace_rejected)
{
    harness h(params());
    h.take_written();
    h.server("<stream:stream xmlns:stream='urn:wrong' version='1.0'>");
    EXPECT_EQ(h.take_written(),
              "<stream:error><invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
              "</stream:error></stream:stream>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].why, failure::protocol_error);
}

// C2S-HDR-8: a header without id/from is fine
TEST(negotiator, server_header_without_id_accepted)
{
    auto p = params();
    p.direct_tls = true;
    harness h(p);
    h.server("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
             " version='1.0'>" +
             features_bind);
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "header");
    EXPECT_EQ(ev[0].text, "");
}

// Stanzas pass verbatim (bytes as the framer lifted them).
TEST(negotiator, stanzas_relayed_verbatim)
{
    harness h(params());
    to_open(h);
    h.server("<message xmlns='jabber:client' to='a@b' type='chat'><body>hi &amp; bye</body>"
             "</message>");
    auto ev = h.take_events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].text, "<message xmlns='jabber:client' to='a@b' type='chat'><body>hi &amp; "
                          "bye</body></message>");
}

// ------------------------------------------------------------------ full login transcript

// C2S-TLS-5 C2S-TLS-6 C2S-HDR-1..7 C2S-RST-1 C2S-RST-2 XBOSH-5 XBOSH-11 C2S-CLOSE-1
TEST(negotiator, full_login_transcript_byte_for_byte)
{
    harness h(params());
    h.server(server_header("s1") + features_starttls);
    h.server("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    h.tls_ok();
    h.server(server_header("s2") + features_sasl);
    h.neg.client_send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                      "AGp1bGlldABwYXNz</auth>");
    h.drain();
    h.server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    h.neg.client_send("<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                      "<resource>web</resource></bind></iq>");
    h.drain();
    h.neg.client_restart();
    h.drain();
    h.server(server_header("s3") + features_bind);
    h.server("<iq type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<jid>juliet@example.com/web</jid></bind></iq>");
    h.neg.client_close(true);
    h.drain();
    h.server("</stream:stream>");

    const std::string expected =
        hdr_plain + starttls + hdr_tls +
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABwYXNz</auth>" +
        hdr_tls +
        "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<resource>web</resource></bind></iq>"
        "</stream:stream>";
    EXPECT_EQ(h.written, expected);

    std::vector<std::string> kinds;
    for (const auto& e : h.events) {
        kinds.push_back(e.kind + ":" + (e.kind == "header" ? e.text : e.local));
    }
    EXPECT_EQ(kinds, (std::vector<std::string>{"header:s2", "element:features", "element:success",
                                               "header:s3", "element:features", "element:iq",
                                               "closed:"}));
    EXPECT_EQ(h.events.back().text, "1");
    EXPECT_EQ(h.neg.current_state(), negotiator::state::closed);
}

} // namespace
} // namespace boshgate::upstream
