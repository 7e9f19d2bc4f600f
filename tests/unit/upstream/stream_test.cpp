// upstream::stream against the scripted fake server over real loopback sockets.
// Timers here are safety nets only: each test runs the io_context until the awaited event.
#include "boshgate/core/idle_sweep.hpp"
#include "boshgate/limits/options.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/upstream/connector.hpp"
#include "boshgate/upstream/stream.hpp"
#include "boshgate/xml/tree.hpp"
#include "support/fake_upstream_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>

namespace boshgate::upstream {
namespace {

namespace net = boost::asio;
using test::fake_upstream_server;
using script = fake_upstream_server::script;
using namespace std::chrono_literals;

struct recorder final : stream_events {
    std::vector<std::string> header_ids;
    std::vector<xml::element> elements;
    std::vector<std::string> stream_errors;
    std::optional<bool> closed;
    std::optional<failure> failed;
    std::string failed_detail;
    std::vector<std::string> order; ///< event kinds in arrival order

    void on_upstream_header(const xml::root_open& h) override
    {
        header_ids.emplace_back(h.attr("id").value_or(""));
        order.push_back("header");
    }
    void on_upstream_element(xml::element&& el) override
    {
        order.push_back("element:" + el.local);
        elements.push_back(std::move(el));
    }
    void on_upstream_stream_error(std::string xml) override
    {
        order.push_back("stream_error");
        stream_errors.push_back(std::move(xml));
    }
    void on_upstream_closed(bool clean) override
    {
        order.push_back("closed");
        closed = clean;
    }
    void on_upstream_failed(failure f, std::string detail) override
    {
        order.push_back("failed");
        failed = f;
        failed_detail = std::move(detail);
    }
    bool ended() const { return closed.has_value() || failed.has_value(); }
};

class stream_test : public ::testing::Test {
protected:
    /// Run the io_context until `pred` holds; a 20 s timer is the safety net.
    bool run_until(const std::function<bool()>& pred)
    {
        auto expired = std::make_shared<bool>(false);
        ioc.restart(); // a previous run may have run out of work and stopped
        net::steady_timer guard(ioc, 20s);
        guard.async_wait([expired](boost::system::error_code ec) {
            if (!ec) {
                *expired = true;
            }
        });
        while (!pred() && !*expired) {
            if (ioc.run_one() == 0) {
                ioc.restart();
            }
        }
        guard.cancel();
        ioc.poll();
        return pred();
    }

    options opts_for(std::uint16_t port, bool direct_tls = false)
    {
        options o;
        domain_options d;
        d.name = "xmpp.test";
        d.target = static_target{"127.0.0.1", port, direct_tls, {}};
        d.ca_file = test::test_cert_path("ca.pem");
        o.domains.push_back(d);
        o.connect_timeout = 5s;
        o.negotiate_timeout = 10s;
        o.close_timeout = 5s;
        return o;
    }

    std::shared_ptr<stream> start(const options& o, std::string to = "xmpp.test")
    {
        events = std::make_shared<recorder>();
        auto s = make_stream(ioc.get_executor(), make_shared_context(o), events, "t1", {});
        open_params p;
        p.to = std::move(to);
        p.from = "juliet@xmpp.test";
        s->open(p);
        return s;
    }

    /// Open a stream on a given (shared) context, reporting to `ev`.
    std::shared_ptr<stream> open_on(const std::shared_ptr<shared_context>& ctx,
                                    const std::shared_ptr<recorder>& ev)
    {
        auto s = make_stream(ioc.get_executor(), ctx, ev, "t", {});
        open_params p;
        p.to = "xmpp.test";
        s->open(p);
        return s;
    }

    std::shared_ptr<recorder> slot_holder;

    /// A context with max_connecting_per_domain = 1 (breaker after one failure) and a stream
    /// holding that one slot: `srv` accepts it and never sends a header. Null on failure.
    std::pair<std::shared_ptr<shared_context>, std::shared_ptr<stream>>
    hold_the_connecting_slot(fake_upstream_server& srv)
    {
        srv.add(script{}.expect_header().read_until_eof());
        limits::options lim;
        lim.max_connecting_per_domain = 1;
        lim.breaker_failures = 1;
        auto ctx = make_shared_context(opts_for(srv.port()), lim);
        slot_holder = std::make_shared<recorder>(); // the stream only holds it weakly
        auto s1 = open_on(ctx, slot_holder);
        if (!run_until([&] { return srv.connection_count() == 1 && !srv.connection(0).received.empty(); })) {
            return {ctx, nullptr};
        }
        return {ctx, s1};
    }

    /// Script prefix: plaintext header, STARTTLS, TLS, the client's header.
    static script starttls_prefix()
    {
        script s;
        s.expect_header()
            .send(fake_upstream_server::header("s1") + fake_upstream_server::features_starttls())
            .expect("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .send(fake_upstream_server::proceed())
            .start_tls()
            .expect_header();
        return s;
    }

    /// Issue 9: park an idle stream the way the io thread's sweep does (two sweeps: the first
    /// finds it active since the last, the second asks it to release).
    bool sweep_until_parked(std::int64_t parked_before)
    {
        auto& sweep = core::idle_sweep::of(ioc.get_executor());
        for (int i = 0; i < 4 && metrics::global().upstream_streams_parked.load() == parked_before; ++i) {
            sweep.sweep_now();
            ioc.poll(); // the cancelled wait completes; the read loop parks
        }
        return metrics::global().upstream_streams_parked.load() == parked_before + 1;
    }

    // Issue 9: an idle stream parks (no read coroutine), and a parked stream still takes writes,
    // wakes for the server's next element, parks again, and closes cleanly while parked: over
    // STARTTLS (the TLS layer's wait is what parks) and plaintext.
    void park_wake_and_close_while_parked(bool tls)
    {
        fake_upstream_server srv(ioc);
        script sc = tls ? starttls_prefix() : script{}.expect_header();
        srv.add(sc.send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind())
                    .expect("<iq type='get' id='p1'/>")
                    .send("<iq type='result' id='p1'/>")
                    .expect("</stream:stream>")
                    .send("</stream:stream>")
                    .read_until_eof());
        auto o = opts_for(srv.port());
        if (!tls) {
            o.domains[0].tls = tls_mode::plaintext;
        }
        auto s = start(o);
        auto& ev = *events;
        ASSERT_TRUE(run_until([&] { return !ev.elements.empty() || ev.ended(); }));
        ASSERT_FALSE(ev.ended()) << ev.failed_detail;
        const auto parked_before = metrics::global().upstream_streams_parked.load();
        ASSERT_TRUE(sweep_until_parked(parked_before)) << "an idle stream parks";

        s->send("<iq type='get' id='p1'/>"); // written while parked
        ASSERT_TRUE(run_until([&] { return ev.elements.size() == 2 || ev.ended(); }));
        ASSERT_FALSE(ev.ended()) << ev.failed_detail;
        EXPECT_EQ(ev.elements[1].local, "iq");
        EXPECT_EQ(metrics::global().upstream_streams_parked.load(), parked_before) << "woken by the server's element";

        ASSERT_TRUE(sweep_until_parked(parked_before)) << "idle again: parks again";
        const auto seen = ev.order.size();
        s->close(true);
        ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
        const auto& log = srv.connection(0);
        EXPECT_EQ(log.error, "");
        EXPECT_TRUE(log.peer_closed);
        EXPECT_EQ(log.close_notify, tls);
        EXPECT_EQ(log.received.substr(log.received.size() - std::string("</stream:stream>").size()), "</stream:stream>");
        EXPECT_EQ(ev.order.size(), seen);
        run_until([&] { return metrics::global().upstream_streams_parked.load() == parked_before; });
        EXPECT_EQ(metrics::global().upstream_streams_parked.load(), parked_before) << "unparked to finish";
    }

    /// An unclean close (after parking the idle stream first, when `parked`): no closing
    /// tag, no close_notify, the link dropped.
    void unclean_close_drops_the_link(bool parked)
    {
        fake_upstream_server srv(ioc);
        srv.add(starttls_prefix()
                    .send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind())
                    .read_until_eof());
        auto s = start(opts_for(srv.port()));
        ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
        const auto parked_before = metrics::global().upstream_streams_parked.load();
        if (parked) {
            ASSERT_TRUE(sweep_until_parked(parked_before));
        }
        s->close(false);
        ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
        EXPECT_EQ(srv.connection(0).closing_tag_at, std::string::npos);
        EXPECT_FALSE(srv.connection(0).close_notify);
        EXPECT_EQ(metrics::global().upstream_streams_parked.load(), parked_before) << "nothing left parked";
    }

    net::io_context ioc;
    std::shared_ptr<recorder> events;
};

const std::string first_header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                                 "xmlns:stream='http://etherx.jabber.org/streams' "
                                 "to='xmpp.test' version='1.0' xml:lang='en'>";
const std::string tls_header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                               "xmlns:stream='http://etherx.jabber.org/streams' "
                               "from='juliet@xmpp.test' to='xmpp.test' version='1.0' "
                               "xml:lang='en'>";

// C2S-TLS-1 C2S-TLS-4 C2S-TLS-5 C2S-TLS-6 BOSH-RESP-16 BOSH-RESP-17 XBOSH-14 C2S-HDR-5
TEST_F(stream_test, starttls_with_good_certificate)
{
    fake_upstream_server srv(ioc, {.cert = "xmpp_test"});
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_sasl())
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 1 || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"s2"}); // pre-TLS s1 hidden
    ASSERT_EQ(events->elements.size(), 1u);
    const auto& features = events->elements[0].xml;
    EXPECT_EQ(features.find("starttls"), std::string::npos);
    EXPECT_EQ(features.find("compress"), std::string::npos);
    EXPECT_EQ(features.find("-PLUS"), std::string::npos);
    EXPECT_NE(features.find(">SCRAM-SHA-1<"), std::string::npos);

    const auto& log = srv.connection(0);
    EXPECT_TRUE(log.tls);
    EXPECT_EQ(log.sni, "xmpp.test");
    EXPECT_TRUE(log.alpn_offered.empty()); // ALPN is for direct TLS only
    EXPECT_EQ(log.received, first_header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" +
                                tls_header);
    s->close(false);
    run_until([&] { return srv.connection(0).done; });
}

// C2S-TLS-4: certificate valid for another name => refused
TEST_F(stream_test, starttls_with_wrong_name_certificate_fails)
{
    fake_upstream_server srv(ioc, {.cert = "other"});
    srv.add(starttls_prefix());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::connection_failed);
    EXPECT_NE(events->failed_detail.find("C2S-TLS-4"), std::string::npos) << events->failed_detail;
    EXPECT_TRUE(events->header_ids.empty());
    EXPECT_TRUE(events->elements.empty());
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_TRUE(srv.connection(0).tls_failed);
}

// C2S-TLS-4: verification can be switched off for one configured domain only
TEST_F(stream_test, wrong_name_accepted_when_verification_disabled_for_domain)
{
    fake_upstream_server srv(ioc, {.cert = "other"});
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind())
                .read_until_eof());
    auto o = opts_for(srv.port());
    o.domains[0].tls_verify = false;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"s2"});
    s->close(false);
}

// C2S-DNS-5 C2S-TLS-2 C2S-TLS-3 C2S-HDR-5
TEST_F(stream_test, direct_tls_offers_alpn_and_ignores_starttls)
{
    fake_upstream_server srv(ioc, {.cert = "xmpp_test", .direct_tls = true});
    srv.add(script{}
                .expect_header()
                .send(fake_upstream_server::header("d1") + fake_upstream_server::features_starttls())
                .read_until_eof());
    auto s = start(opts_for(srv.port(), true));
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"d1"});
    EXPECT_EQ(events->elements[0].xml.find("starttls"), std::string::npos);
    const auto& log = srv.connection(0);
    EXPECT_EQ(log.alpn_offered, std::vector<std::string>{"xmpp-client"});
    EXPECT_EQ(log.sni, "xmpp.test");
    EXPECT_EQ(log.received, tls_header); // from at once, no <starttls/>
    s->close(false);
}

// C2S-TLS-7
TEST_F(stream_test, plaintext_backend_refused_unless_configured)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}
                .expect_header()
                .send(fake_upstream_server::header("p1") + fake_upstream_server::features_bind())
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::connection_failed);
    EXPECT_NE(events->failed_detail.find("C2S-TLS-7"), std::string::npos);
    EXPECT_TRUE(events->header_ids.empty());
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_EQ(srv.connection(0).received, first_header + "</stream:stream>");
}

TEST_F(stream_test, plaintext_backend_allowed_when_configured)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}
                .expect_header()
                .send(fake_upstream_server::header("p1") + fake_upstream_server::features_bind())
                .read_until_eof());
    auto o = opts_for(srv.port());
    o.domains[0].tls = tls_mode::plaintext;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"p1"});
    EXPECT_EQ(events->elements[0].local, "features");
    s->close(false);
}

/// A Unix socket path unique to this test process, removed when the test ends.
struct unix_socket_path {
    std::string path = "/tmp/boshgate-stream-test-" + std::to_string(::getpid()) + ".sock";
    ~unix_socket_path() { ::unlink(path.c_str()); }
};

// Issue 9: a server on this host over a Unix domain socket (ejabberd's "unix:" listener):
// tls = "off" needs no force_tls_off (nothing on a wire), no TCP options are set, and the
// stream is relayed as over TCP.
TEST_F(stream_test, unix_socket_target_without_tls)
{
    unix_socket_path where;
    fake_upstream_server srv(ioc, {}, where.path);
    srv.add(script{}
                .expect_header()
                .send(fake_upstream_server::header("u1") + fake_upstream_server::features_sasl())
                .expect("</auth>")
                .send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
                .expect("</stream:stream>")
                .send("</stream:stream>")
                .read_until_eof());
    auto o = opts_for(0);
    o.domains[0].target = static_target{};
    o.domains[0].target->unix_path = where.path;
    o.domains[0].tls = tls_mode::off;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"u1"});
    s->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 2 || events->ended(); }));
    EXPECT_EQ(events->elements[1].local, "failure");
    s->close(true);
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_FALSE(srv.connection(0).tls);
    EXPECT_TRUE(srv.connection(0).peer_closed);
    EXPECT_EQ(srv.connection(0).received,
              first_header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>"
                             "</stream:stream>");
}

// Issue 9, C2S-TLS-1: over a Unix socket STARTTLS still runs when tls is not "off" (the
// certificate is checked for the domain, as over TCP).
TEST_F(stream_test, unix_socket_target_with_starttls)
{
    unix_socket_path where;
    fake_upstream_server srv(ioc, {.cert = "xmpp_test", .direct_tls = false}, where.path);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("u2") + fake_upstream_server::features_sasl())
                .read_until_eof());
    auto o = opts_for(0);
    o.domains[0].target = static_target{};
    o.domains[0].target->unix_path = where.path;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 1 || events->ended(); }));
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, std::vector<std::string>{"u2"});
    EXPECT_TRUE(srv.connection(0).tls);
    EXPECT_EQ(srv.connection(0).sni, "xmpp.test");
    s->close(false);
    run_until([&] { return srv.connection(0).done; });
}

// Issue 9: nobody listening on the socket path is a connection failure naming the path.
TEST_F(stream_test, unix_socket_target_missing_fails)
{
    unix_socket_path where;
    auto o = opts_for(0);
    o.domains[0].target = static_target{};
    o.domains[0].target->unix_path = where.path;
    o.domains[0].tls = tls_mode::off;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::connection_failed);
    EXPECT_NE(events->failed_detail.find("unix:" + where.path), std::string::npos) << events->failed_detail;
}

// XBOSH-5 XBOSH-11 C2S-RST-1 C2S-RST-2: SASL success, held data, restart on the same socket
TEST_F(stream_test, sasl_restart_on_same_connection)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_sasl())
                .expect("</auth>")
                .send(fake_upstream_server::sasl_success())
                .expect_header()
                .send(fake_upstream_server::header("s3") + fake_upstream_server::features_bind())
                .expect("id='b1'/>")
                .send("<iq type='result' id='b1'/>")
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 1 || events->ended(); }));
    s->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth>");
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 2 || events->ended(); }));
    EXPECT_EQ(events->elements[1].local, "success");
    s->send("<iq type='set' id='b1'/>"); // held until the restart (XBOSH-11)
    s->restart();
    ASSERT_TRUE(run_until([&] { return events->elements.size() == 4 || events->ended(); }))
        << srv.connection(0).received << "\n"
        << srv.connection(0).error;
    EXPECT_FALSE(events->ended()) << events->failed_detail;
    EXPECT_EQ(events->header_ids, (std::vector<std::string>{"s2", "s3"}));
    EXPECT_EQ(events->elements[2].local, "features");
    EXPECT_EQ(events->elements[3].local, "iq");
    EXPECT_EQ(srv.connection_count(), 1u);
    const auto& rx = srv.connection(0).received;
    auto auth = rx.find("</auth>");
    ASSERT_NE(auth, std::string::npos);
    EXPECT_EQ(rx.substr(auth + 7), tls_header + "<iq type='set' id='b1'/>");
    s->close(false);
}

TEST_F(stream_test, idle_stream_parks_wakes_and_closes_over_starttls)
{
    park_wake_and_close_while_parked(true);
}

TEST_F(stream_test, idle_stream_parks_wakes_and_closes_over_plaintext)
{
    park_wake_and_close_while_parked(false);
}

// An unclean close while parked: nothing comes from the server to wake the stream, so the
// close itself must (request_finish() cancels the parked wait), and the link is dropped.
TEST_F(stream_test, unclean_close_while_parked_drops_the_link)
{
    unclean_close_drops_the_link(true);
}

// A parked stream whose server goes away reports the loss.
TEST_F(stream_test, parked_stream_reports_the_server_going_away)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind())
                .expect("<iq type='get' id='bye'/>")
                .close());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    const auto parked_before = metrics::global().upstream_streams_parked.load();
    ASSERT_TRUE(sweep_until_parked(parked_before));
    s->send("<iq type='get' id='bye'/>");
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    EXPECT_TRUE(events->closed.has_value() || events->failed.has_value());
    EXPECT_EQ(metrics::global().upstream_streams_parked.load(), parked_before);
}

// Server resets the TCP connection in the middle of a stanza
TEST_F(stream_test, server_reset_mid_stanza)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind() +
                      "<message to='juliet@xmpp.test'><body>hal")
                .reset());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    EXPECT_TRUE((events->closed.has_value() && !*events->closed) || events->failed.has_value());
    ASSERT_EQ(events->elements.size(), 1u); // features only; the partial message never
    EXPECT_EQ(events->elements[0].local, "features");
}

// C2S-ERR-1 C2S-ERR-2 XBOSH-9: header + error + close in one packet
TEST_F(stream_test, stream_error_delivered_whole)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") +
                      "<stream:error><system-shutdown "
                      "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
                      "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>maintenance</text>"
                      "</stream:error></stream:stream>")
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    EXPECT_EQ(events->order, (std::vector<std::string>{"header", "stream_error", "closed"}));
    EXPECT_TRUE(*events->closed);
    xml::tree t;
    ASSERT_FALSE(xml::parse_tree(events->stream_errors.at(0), t));
    EXPECT_EQ(t.ns, "http://etherx.jabber.org/streams");
    EXPECT_EQ(t.local, "error");
    EXPECT_NE(t.child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown"), nullptr);
    EXPECT_EQ(t.child("urn:ietf:params:xml:ns:xmpp-streams", "text")->text(), "maintenance");
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_NE(srv.connection(0).closing_tag_at, std::string::npos); // we closed our side
    EXPECT_TRUE(srv.connection(0).close_notify);
}

// C2S-CLOSE-1 BOSH-TERM-3: closing tag, wait for the server's, close_notify, FIN
TEST_F(stream_test, clean_close_sends_closing_tag_then_close_notify)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + fake_upstream_server::features_bind())
                .expect("</stream:stream>")
                .send("</stream:stream>")
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return !events->elements.empty() || events->ended(); }));
    ASSERT_FALSE(events->ended()) << events->failed_detail;
    auto seen = events->order.size();
    s->close(true);
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    const auto& log = srv.connection(0);
    EXPECT_TRUE(log.peer_closed);
    EXPECT_TRUE(log.close_notify);
    EXPECT_EQ(log.closing_tag_at, log.received.size() - std::string("</stream:stream>").size());
    EXPECT_EQ(log.error, "");
    EXPECT_EQ(events->order.size(), seen); // nothing delivered after close()
}

// Unclean close: no closing tag, no close_notify (lets the server keep an SM session)
TEST_F(stream_test, unclean_close_drops_tcp)
{
    unclean_close_drops_the_link(false);
}

// C2S-XML-1: garbage from the server
TEST_F(stream_test, garbage_from_server_is_protocol_error)
{
    fake_upstream_server srv(ioc);
    srv.add(starttls_prefix()
                .send(fake_upstream_server::header("s2") + "<<garbage")
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::protocol_error);
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_NE(srv.connection(0).received.find("<stream:error><not-well-formed "
                                              "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                              "</stream:error></stream:stream>"),
              std::string::npos);
}

// negotiate_timeout covers header..features
TEST_F(stream_test, stalled_server_times_out)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}.read_until_eof());
    auto o = opts_for(srv.port());
    o.negotiate_timeout = 300ms;
    auto s = start(o);
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::connection_failed);
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
}

// Static target override: the configured host:port is dialled, identity stays the domain
TEST_F(stream_test, static_target_override_and_policy_refusal)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}.expect_header().close());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return srv.connection_count() == 1 && srv.connection(0).done; }));
    EXPECT_EQ(srv.connection(0).received, first_header);
    ASSERT_TRUE(run_until([&] { return events->ended(); }));

    // A domain that is not configured (allow_any_domain off) is refused before any I/O.
    auto s2 = start(opts_for(srv.port()), "elsewhere.test");
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::host_unknown);
    EXPECT_EQ(srv.connection_count(), 1u);
}

TEST_F(stream_test, connection_refused_fails)
{
    std::uint16_t dead_port = 0;
    {
        fake_upstream_server srv(ioc);
        dead_port = srv.port();
    }
    ioc.poll();
    auto s = start(opts_for(dead_port));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    ASSERT_TRUE(events->failed.has_value());
    EXPECT_EQ(*events->failed, failure::connection_failed);
}

// close() before the connection is up: nothing delivered, nothing leaks
TEST_F(stream_test, close_while_connecting_delivers_nothing)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}.read_until_eof());
    auto s = start(opts_for(srv.port()));
    s->close(true);
    for (int i = 0; i < 50; ++i) {
        ioc.restart();
        ioc.poll();
    }
    EXPECT_TRUE(events->order.empty());
    EXPECT_EQ(srv.connection_count(), 0u); // the run never dialled
}

// SEC-TLS-1 C2S-ERR-2: with TLS required, a stream error sent before STARTTLS (by the server
// or anyone on the path) never reaches the client: the stream fails as a connection failure.
TEST_F(stream_test, pre_tls_stream_error_is_a_connection_failure)
{
    fake_upstream_server srv(ioc);
    srv.add(script{}
                .expect_header()
                .send(fake_upstream_server::header("s1") +
                      "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
                      "evil.example</see-other-host></stream:error></stream:stream>")
                .read_until_eof());
    auto s = start(opts_for(srv.port()));
    ASSERT_TRUE(run_until([&] { return events->ended(); }));
    EXPECT_EQ(events->order, std::vector<std::string>{"failed"});
    EXPECT_EQ(*events->failed, failure::connection_failed);
    EXPECT_EQ(events->failed_detail.rfind("SEC-TLS-1", 0), 0u) << events->failed_detail;
    EXPECT_EQ(events->failed_detail.find("evil"), std::string::npos) << events->failed_detail;
    EXPECT_TRUE(events->stream_errors.empty());
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    EXPECT_NE(srv.connection(0).closing_tag_at, std::string::npos);
}

// Upstream protection: after breaker_failures failed connects the breaker refuses the next
// stream at once, without a TCP connection, and counts it.
TEST_F(stream_test, open_breaker_fails_without_dialling)
{
    fake_upstream_server srv(ioc); // no scripts: every connection is closed at once
    limits::options lim;
    lim.breaker_failures = 2;
    lim.breaker_open = 60s; // stays open for the whole test
    auto ctx = make_shared_context(opts_for(srv.port()), lim);
    for (int i = 0; i < 2; ++i) {
        auto ev = std::make_shared<recorder>();
        auto s = open_on(ctx, ev);
        ASSERT_TRUE(run_until([&] { return ev->ended(); }));
        ASSERT_TRUE(ev->failed.has_value());
        EXPECT_EQ(*ev->failed, failure::connection_failed);
    }
    ASSERT_EQ(srv.connection_count(), 2u);
    EXPECT_EQ(ctx->guard().state_of("xmpp.test via 127.0.0.1:" + std::to_string(srv.port()), ctx->now()),
              limits::upstream_guard::state::open);

    const auto refused_before = metrics::global().upstream_breaker_refused.load();
    auto ev = std::make_shared<recorder>();
    auto s = open_on(ctx, ev);
    ASSERT_TRUE(run_until([&] { return ev->ended(); }));
    EXPECT_EQ(*ev->failed, failure::connection_failed);
    EXPECT_NE(ev->failed_detail.find("circuit breaker"), std::string::npos) << ev->failed_detail;
    EXPECT_EQ(metrics::global().upstream_breaker_refused.load(), refused_before + 1);
    for (int i = 0; i < 20; ++i) {
        ioc.restart();
        ioc.poll();
    }
    EXPECT_EQ(srv.connection_count(), 2u); // no TCP connection for the refused stream
}

// Upstream protection: at most max_connecting_per_domain streams between DNS and features;
// a stream closed by its owner while connecting frees its slot and counts as no failure.
TEST_F(stream_test, connecting_cap_refuses_extra_streams)
{
    fake_upstream_server srv(ioc);
    auto [ctx, s1] = hold_the_connecting_slot(srv);
    ASSERT_TRUE(s1);
    srv.add(script{}.read_until_eof());

    const auto refused_before = metrics::global().upstream_connecting_refused.load();
    auto ev2 = std::make_shared<recorder>();
    auto s2 = open_on(ctx, ev2);
    ASSERT_TRUE(run_until([&] { return ev2->ended(); }));
    EXPECT_EQ(*ev2->failed, failure::connection_failed);
    EXPECT_NE(ev2->failed_detail.find("too many connection attempts"), std::string::npos)
        << ev2->failed_detail;
    EXPECT_EQ(metrics::global().upstream_connecting_refused.load(), refused_before + 1);

    s1->close(false); // cancelled: frees the slot, is not a failure (breaker_failures = 1)
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
    const std::string key = "xmpp.test via 127.0.0.1:" + std::to_string(srv.port());
    EXPECT_EQ(ctx->guard().connecting(key), 0u);
    EXPECT_EQ(ctx->guard().state_of(key, ctx->now()), limits::upstream_guard::state::closed);

    auto ev3 = std::make_shared<recorder>();
    auto s3 = open_on(ctx, ev3);
    ASSERT_TRUE(run_until([&] { return srv.connection_count() == 2; }));
    s3->close(false);
}

// An owner may drop its only reference to the stream inside on_upstream_failed, also when
// the failure comes while open() still runs on the owner's executor (a connecting-cap or
// breaker refusal happens before anything is awaited), as the WebSocket and BOSH sessions
// do. Regression (found by the issue 9 bench, a WebSocket login burst): the stream, and the
// cancellation signal bound to its coroutine, were freed before Asio's coroutine thread was
// done with that signal: a use-after-free that crashed the gateway.
struct dropping_owner final : stream_events {
    std::shared_ptr<stream> s;
    bool failed = false;
    std::string detail;
    void on_upstream_header(const xml::root_open&) override {}
    void on_upstream_element(xml::element&&) override {}
    void on_upstream_stream_error(std::string) override {}
    void on_upstream_closed(bool) override { s.reset(); }
    void on_upstream_failed(failure, std::string d) override
    {
        failed = true;
        detail = std::move(d);
        s.reset(); // the last reference, from inside the callback
    }
};

TEST_F(stream_test, owner_may_drop_the_stream_inside_an_immediate_failure)
{
    fake_upstream_server srv(ioc);
    auto [ctx, s1] = hold_the_connecting_slot(srv);
    ASSERT_TRUE(s1);

    for (int i = 0; i < 50; ++i) {
        auto owner = std::make_shared<dropping_owner>();
        net::post(ioc, [&] {
            // On the executor, like a session's run_actions(): open() starts run() inline.
            owner->s = make_stream(ioc.get_executor(), ctx, owner, "t", {});
            open_params p;
            p.to = "xmpp.test";
            owner->s->open(p);
        });
        ASSERT_TRUE(run_until([&] { return owner->failed; }));
        EXPECT_NE(owner->detail.find("too many connection attempts"), std::string::npos) << owner->detail;
        EXPECT_EQ(owner->s, nullptr);
        for (int k = 0; k < 5; ++k) {
            ioc.restart();
            ioc.poll(); // let the coroutine threads finish
        }
    }
    s1->close(false);
    ASSERT_TRUE(run_until([&] { return srv.connection(0).done; }));
}

// A hostile DNS answer cannot make one connect dial without bound: at most
// max_connect_targets candidates and max_connect_addresses addresses are considered.
TEST_F(stream_test, connect_considers_bounded_targets_and_addresses)
{
    const auto run_connect = [&](connect_request req) {
        std::optional<std::variant<connected, connect_failure>> result;
        net::co_spawn(
            ioc,
            [&]() -> net::awaitable<void> {
                co_await net::this_coro::throw_if_cancelled(false);
                result = co_await connect(std::move(req), dns::resolver_options{}, "t");
            },
            net::detached);
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return result;
    };
    const auto many = [] {
        std::vector<dns::candidate> c;
        for (std::uint16_t i = 0; i < 40; ++i) {
            c.push_back(dns::candidate{"192.0.2." + std::to_string(i + 1), 5222, false});
        }
        return c;
    };

    std::size_t asked = 0;
    connect_request req;
    req.domain = "hostile.example";
    req.candidates = many();
    req.permitted = [&](const net::ip::address&) {
        ++asked;
        return false; // refuse everything: counts what would have been dialled
    };
    auto r = run_connect(req);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(asked, max_connect_targets);
    EXPECT_EQ(std::get<connect_failure>(*r).why, failure::host_unknown);

    asked = 0;
    req.candidates = many();
    req.max_targets = 40;
    r = run_connect(req);
    EXPECT_EQ(asked, max_connect_addresses);

    asked = 0;
    req.candidates = many();
    req.max_addresses = 5;
    r = run_connect(req);
    EXPECT_EQ(asked, 5u);
}

} // namespace
} // namespace boshgate::upstream
