// Fuzz target: upstream::negotiator, the client side of an RFC 6120 c2s stream, against a
// hostile server transcript (fed through the real xml::stream_parser at fuzzed split
// points, exactly as upstream::stream drives it) interleaved with client sends, restarts,
// closes, TLS outcomes and timeouts.
// Invariants (abort on violation):
//  - SEC-TLS-1 / C2S-TLS-*: when TLS is required (allow_plaintext false) nothing the server
//    sent before TLS was established reaches the client (no deliver_* action);
//  - no client byte is written to the server before TLS when TLS is required, nor between
//    SASL success and the client's restart (held instead, XBOSH-11);
//  - with never_starttls (tls = "off") TLS never starts (a <starttls/> answered with
//    <proceed/>, which the canned transcripts offer, would start it);
//  - one terminal event (closed or failed) at most, and nothing delivered after it;
//  - every write is non-empty; a stream error delivered to the client is well-formed XML.
#include "boshgate/upstream/negotiator.hpp"
#include "boshgate/xml/tree.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using namespace boshgate;
using namespace boshgate::upstream;

const std::array<const char*, 9> canned_server = {
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='s1' from='example.com' version='1.0' xml:lang='en'>",
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
    "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "<mechanism>SCRAM-SHA-1-PLUS</mechanism></mechanisms><compression xmlns='http://jabber.org/features/compress'>"
    "<method>zlib</method></compression></stream:features>",
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>evil.example</see-other-host>"
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>click here</text></stream:error>",
    "<message from='bob@example.com' to='alice@example.com'><body>hi</body></message>",
    "</stream:stream>",
};

const std::string_view client_marker = "CLIENTDATA";

struct adapter final : xml::handler {
    negotiator neg;
    std::unique_ptr<xml::stream_parser> parser;
    xml::limits lim;
    bool in_feed = false;
    bool tls_pending = false;
    bool tls_up = false;
    bool require_tls = false;
    bool never_tls = false;
    bool terminal = false;
    bool parser_dead = false;

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

    void delivered()
    {
        if (terminal || (require_tls && !tls_up)) {
            std::abort(); // SEC-TLS-1: pre-TLS server data reached the client, or data after the end
        }
    }

    void drain()
    {
        for (auto& a : neg.take_actions()) {
            if (auto* w = std::get_if<neg_action::write>(&a)) {
                if (w->bytes.empty()) {
                    std::abort();
                }
                // Client data may be pipelined on the stream the client sees (after the
                // restart header too), but never in the clear when TLS is required, and
                // never between SASL success and the client's restart (XBOSH-11).
                if (w->bytes.find(client_marker) != std::string::npos &&
                    ((require_tls && !tls_up) || neg.awaiting_client_restart())) {
                    std::abort();
                }
            } else if (std::get_if<neg_action::reset_parser>(&a)) {
                if (in_feed) {
                    parser->request_reset();
                } else {
                    parser->reset();
                }
            } else if (std::get_if<neg_action::start_tls>(&a)) {
                if (never_tls) {
                    std::abort();
                }
                tls_pending = true;
            } else if (std::get_if<neg_action::deliver_header>(&a)) {
                delivered();
            } else if (std::get_if<neg_action::deliver_element>(&a)) {
                delivered();
            } else if (auto* e = std::get_if<neg_action::deliver_stream_error>(&a)) {
                delivered();
                xml::tree t;
                if (xml::parse_tree(e->xml, t)) {
                    std::abort();
                }
            } else if (std::get_if<neg_action::closed>(&a) || std::get_if<neg_action::failed>(&a)) {
                if (terminal) {
                    std::abort(); // two endings
                }
                terminal = true;
            }
        }
    }

    void server(std::string_view bytes)
    {
        while (!bytes.empty() && !parser_dead && !terminal) {
            boost::system::error_code ec;
            in_feed = true;
            std::size_t n = parser->feed(bytes, ec);
            in_feed = false;
            if (ec) {
                parser_dead = true;
                neg.on_xml_error(ec.category() == xml::error_category() ? static_cast<xml::errc>(ec.value())
                                                                         : xml::errc::not_well_formed);
                drain();
                return;
            }
            bytes.remove_prefix(n);
            if (tls_pending) {
                return; // plaintext after <proceed/> is discarded (conventions rule 8)
            }
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    adapter a;
    a.lim.max_element_bytes = 8192;
    a.parser = std::make_unique<xml::stream_parser>(a, a.lim);
    negotiator_params p;
    p.to = "example.com";
    p.direct_tls = in.ConsumeBool();
    p.allow_plaintext = in.ConsumeBool();
    p.never_starttls = !p.direct_tls && in.ConsumeBool();
    p.max_pending_bytes = 4096;
    if (in.ConsumeBool()) {
        p.from = "alice@example.com";
    }
    a.require_tls = !p.allow_plaintext && !p.never_starttls;
    a.never_tls = p.never_starttls;
    a.tls_up = p.direct_tls;
    a.neg.start(p);
    a.drain();

    while (in.remaining_bytes() > 0 && !a.terminal) {
        switch (in.ConsumeIntegralInRange<int>(0, 9)) {
        case 0:
            a.server(canned_server[in.ConsumeIntegralInRange<std::size_t>(0, canned_server.size() - 1)]);
            break;
        case 1:
            a.server(in.ConsumeRandomLengthString(256));
            break;
        case 2:
            if (a.tls_pending) {
                a.tls_pending = false;
                if (in.ConsumeBool()) {
                    a.tls_up = true;
                    a.parser_dead = false;
                    a.neg.on_tls_established();
                } else {
                    a.neg.on_tls_failed("handshake failure");
                }
                a.drain();
            }
            break;
        case 3:
            a.neg.client_send("<message xmlns='jabber:client'><body>" + std::string(client_marker) + "</body></message>");
            a.drain();
            break;
        case 4:
            a.neg.client_restart();
            a.drain();
            break;
        case 5:
            a.neg.client_close(in.ConsumeBool());
            a.drain();
            break;
        case 6:
            a.neg.on_negotiate_timeout();
            a.drain();
            break;
        case 7:
            a.neg.on_close_timeout();
            a.drain();
            break;
        case 8:
            a.neg.on_transport_closed();
            a.drain();
            break;
        case 9:
            a.neg.client_send(in.ConsumeRandomLengthString(64));
            a.drain();
            break;
        }
    }
    return 0;
}
