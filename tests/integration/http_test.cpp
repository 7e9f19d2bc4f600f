// The HTTP front as a browser (or a hostile client) sees it: framing, pipelining,
// keep-alive, CORS, limits, deadlines, error bodies, routing policy, /healthz and
// static files.
#include "integration/harness.hpp"
#include "integration/tls_client.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace boshgate::itest {
namespace {

using http_front = gateway_test;
namespace bhttp = test::bhttp;

std::string message_payload(std::string_view text)
{
    return "<message xmlns='jabber:client' to='bob@xmpp.test' type='chat'><body>" + std::string(text) +
           "</body></message>";
}

// BOSH-HTTP-7, BOSH-HTTP-1, BOSH-HTTP-4: rid N and N+1 (with a payload) pipelined on one
// socket: both answered in order, N released at once (well before its 20 s wait).
TEST_F(http_front, pipelined_requests_answered_in_order)
{
    gateway_options o;
    o.max_wait = "20s";
    start(o);
    script s;
    tls_prefix(s).expect("pipelined-2").send(server_message("pong-pipelined")).read_until_eof();
    fake->add(std::move(s));
    auto created = post(create_body(10, domain, {}, 20));
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;

    http_client c(port(), 8s); // a read timeout well below wait
    c.send(req_body(*sid, 11));
    c.send(req_body(*sid, 12, message_payload("pipelined-2")));
    auto first = c.read();
    auto second = c.read();
    EXPECT_EQ(first.status, 200u);
    EXPECT_EQ(second.status, 200u);
    expect_length_framed(first);
    expect_length_framed(second);
    EXPECT_TRUE(first.keep_alive);
    EXPECT_EQ(first.body.find("pong-pipelined"), std::string::npos) << first.body;
    EXPECT_FALSE(body_attr(first.body, "type").has_value()) << first.body;
    EXPECT_NE(second.body.find("pong-pipelined"), std::string::npos) << second.body;
    EXPECT_TRUE(fake->wait_received(0, "pipelined-2"));
}

// BOSH-HTTP-6: two keep-alive sockets alternately carrying the rids of one sid.
TEST_F(http_front, two_sockets_alternate_rids_of_one_session)
{
    start();
    fake->add(open_session_script());
    const std::string sid = create_session(20);
    ASSERT_FALSE(sid.empty());

    http_client a(port());
    http_client b(port());
    a.send(req_body(sid, 21));             // held on a
    b.send(req_body(sid, 22));             // releases 21, held on b
    auto ra = a.read();
    a.send(req_body(sid, 23));             // releases 22, held on a
    auto rb = b.read();
    b.send(terminate_req(sid, 24));        // releases 23, ends the session
    auto ra2 = a.read();
    auto rb2 = b.read();
    for (const auto* r : {&ra, &rb, &ra2, &rb2}) {
        EXPECT_EQ(r->status, 200u) << r->body;
        EXPECT_TRUE(r->keep_alive);
        expect_length_framed(*r);
    }
    EXPECT_FALSE(body_attr(ra.body, "type").has_value()) << ra.body;
    EXPECT_FALSE(body_attr(rb.body, "type").has_value()) << rb.body;
    // GAP-1: the held request and the terminate request both get an empty type='terminate'
    // body without a condition.
    EXPECT_TRUE(is_terminate(ra2.body, "")) << ra2.body;
    EXPECT_TRUE(is_terminate(rb2.body, "")) << rb2.body;
    // Both sockets still usable.
    EXPECT_TRUE(is_terminate(a.post(req_body(sid, 25)).body, "item-not-found"));
    EXPECT_TRUE(is_terminate(b.post(req_body(sid, 25)).body, "item-not-found"));
}

// A held request whose client connection fails (a reset) is withdrawn from its session (the
// HTTP front tells the session through the pending_request that session_table::handle
// returned): with hold = 2 the server's next stanza goes to the request still open, not to
// the oldest held one, which would write it to a dead connection (lost to the client).
TEST_F(http_front, held_request_whose_connection_closed_gets_no_stanza)
{
    gateway_options o;
    o.bosh_extra = "max_hold = 2\n";
    start(o);
    script s;
    tls_prefix(s).expect("go-ahead").send(
        "<message xmlns='jabber:client' from='bob@xmpp.test' to='alice@xmpp.test/r' type='chat'>"
        "<body>after-close</body></message>");
    s.read_until_eof();
    fake->add(std::move(s));
    auto created = post(create_body(40, domain, {}, 10, 2));
    ASSERT_EQ(created.status, 200u) << created.body;
    ASSERT_EQ(body_attr(created.body, "hold"), std::optional<std::string>("2")) << created.body;
    const std::string sid = body_attr(created.body, "sid").value_or("");
    ASSERT_FALSE(sid.empty()) << created.body;

    raw_conn gone(port());
    gone.send(raw_request("POST", "/http-bind", "HTTP/1.1", {{"Host", "127.0.0.1"}, {"Content-Type", "text/xml; charset=utf-8"}},
                          req_body(sid, 41))); // held
    std::this_thread::sleep_for(200ms);
    gone.reset(); // the connection fails (reset); the gateway withdraws request 41
    // Nothing outside shows the withdrawal; a second is ample for the gateway to see an RST
    // on loopback even under the sanitizers (too short would fail the test, never pass it).
    std::this_thread::sleep_for(1s);

    http_client c(port(), 15s);
    c.send(req_body(sid, 42, message_payload("go-ahead"))); // held too (hold = 2)
    ASSERT_TRUE(fake->wait_received(0, "go-ahead"));
    auto r = c.read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(r.body.find("after-close"), std::string::npos)
        << "the server's stanza went to the request whose connection had closed: " << r.body;
}

// BOSH-HTTP-3: HTTP/1.0 POST without Host creating a session => 200 with Content-Length,
// then the server closes the socket.
TEST_F(http_front, http10_without_host_creates_session_then_closes)
{
    start();
    fake->add(open_session_script());
    http_client c(port());
    c.send_raw(raw_request("POST", "/http-bind", "HTTP/1.0", {{"Content-Type", "text/xml; charset=utf-8"}},
                           create_body(30)));
    auto r = c.read();
    EXPECT_EQ(r.status, 200u);
    expect_length_framed(r);
    EXPECT_TRUE(body_attr(r.body, "sid").has_value()) << r.body;
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(c.closed_by_peer());
}

// BOSH-HTTP-5: a chunked request body is processed like the unchunked one.
TEST_F(http_front, chunked_request_body_accepted)
{
    start();
    const std::string body = req_body("0123456789abcdef0123456789abcdef01234567", 5);
    const std::string half1 = body.substr(0, 20);
    const std::string half2 = body.substr(20);
    auto hex = [](std::size_t n) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%zx", n);
        return std::string(buf);
    };
    const std::string chunked = hex(half1.size()) + "\r\n" + half1 + "\r\n" + hex(half2.size()) + "\r\n" + half2 +
                                "\r\n0\r\n\r\n";
    http_client c(port());
    c.send_raw(raw_request("POST", "/http-bind", "HTTP/1.1",
                           {{"Host", "127.0.0.1"}, {"Transfer-Encoding", "chunked"}, {"Content-Type", "text/xml"}},
                           chunked));
    auto r = c.read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "item-not-found")) << r.body; // parsed: the sid was read
    auto plain = post(body);
    EXPECT_EQ(plain.body, r.body);
}

// BOSH-HTTP-10: every response of a session carries the creation request's `content` as
// Content-Type, terminate and error bodies included.
TEST_F(http_front, content_type_from_creation_on_every_response)
{
    start();
    fake->add(open_session_script());
    fake->add(open_session_script());
    fake->add(open_session_script());
    const std::string chosen = "application/xml; charset=utf-8";
    const std::string fallback = "text/xml; charset=utf-8";

    auto c1 = post(create_body(40, domain, "content='application/xml; charset=utf-8'"));
    EXPECT_EQ(c1.header("Content-Type"), chosen);
    EXPECT_EQ(c1.header("X-Content-Type-Options"), "nosniff");
    const auto sid1 = body_attr(c1.body, "sid");
    ASSERT_TRUE(sid1.has_value()) << c1.body;
    auto t1 = post(terminate_req(*sid1, 41));
    EXPECT_TRUE(is_terminate(t1.body, "")) << t1.body;
    EXPECT_EQ(t1.header("Content-Type"), chosen);

    auto c2 = post(create_body(50, domain, "content='application/xml; charset=utf-8'"));
    const auto sid2 = body_attr(c2.body, "sid");
    ASSERT_TRUE(sid2.has_value()) << c2.body;
    auto bad = post(req_body(*sid2, 5000)); // far outside the rid window: item-not-found
    EXPECT_TRUE(is_terminate(bad.body, "item-not-found")) << bad.body;
    EXPECT_EQ(bad.header("Content-Type"), chosen);

    // A session that never existed: the configured default.
    auto unknown = post(req_body(*sid2, 5001));
    EXPECT_EQ(unknown.header("Content-Type"), fallback);

    // SEC-INJ-1: an active type is dropped; the session continues with the default type.
    auto c3 = post(create_body(70, domain, "content='text/html'"));
    EXPECT_EQ(c3.header("Content-Type"), fallback);
    EXPECT_EQ(c3.header("X-Content-Type-Options"), "nosniff");
    const auto sid3 = body_attr(c3.body, "sid");
    ASSERT_TRUE(sid3.has_value()) << c3.body;
    auto t3 = post(terminate_req(*sid3, 71));
    EXPECT_EQ(t3.header("Content-Type"), fallback);
}

// BOSH-HTTP-9, WEB-5, BOSH-HTTP-8, WEB-10: text/plain and form-urlencoded request types,
// unknown extra headers and an unrelated Host are handled like text/xml; BOSH-HTTP-11,
// BOSH-HTTP-12: no compression either way.
TEST_F(http_front, request_content_type_and_extra_headers_ignored)
{
    start();
    fake->add(open_session_script());
    http_client c(port());
    c.send_raw(raw_request("POST", "/http-bind", "HTTP/1.1",
                           {{"Host", "chat.example.net"}, {"Content-Type", "text/plain;charset=UTF-8"},
                            {"X-Foo", "bar"}, {"Cookie", "a=b"}, {"Referer", "https://chat.example/"}},
                           create_body(60)));
    auto created = c.read();
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;
    EXPECT_EQ(created.header("Content-Type"), "text/xml; charset=utf-8");
    c.send_raw(raw_request("POST", "/http-bind", "HTTP/1.1",
                           {{"Host", "127.0.0.1"}, {"Content-Type", "application/x-www-form-urlencoded"},
                            {"Accept-Encoding", "gzip, deflate"}},
                           terminate_req(*sid, 61)));
    auto term = c.read();
    EXPECT_TRUE(is_terminate(term.body, "")) << term.body;
    // BOSH-HTTP-11: responses are never compressed; BOSH-HTTP-12: no `accept` advertised.
    EXPECT_EQ(term.header("Content-Encoding"), "");
    EXPECT_FALSE(body_attr(created.body, "accept").has_value()) << created.body;
}

// BOSH-HTTP-2: GET on the BOSH path is an informational page and creates nothing; other
// methods get 405.
TEST_F(http_front, get_is_informational_and_creates_no_session)
{
    start();
    const auto created_before = metric(admin_port(), "bosh_sessions_created");
    http_client c(port());
    c.send({}, "/http-bind", bhttp::verb::get);
    auto r = c.read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.body.find("sid"), std::string::npos);
    expect_length_framed(r);
    c.send_raw(raw_request("PUT", "/http-bind", "HTTP/1.1", {{"Host", "x"}}, create_body(1)));
    auto put = c.read();
    EXPECT_EQ(put.status, 405u);
    EXPECT_NE(put.header("Allow").find("POST"), std::string::npos);
    EXPECT_EQ(metric(admin_port(), "bosh_sessions_created"), created_before);
    EXPECT_EQ(fake->connection_count(), 0u);
}

// WEB-1: CORS preflight.
TEST_F(http_front, options_preflight)
{
    start();
    const auto created_before = metric(admin_port(), "bosh_sessions_created");
    http_client c(port());
    c.send({}, "/http-bind", bhttp::verb::options, 11,
           {{"Origin", "https://chat.example"},
            {"Access-Control-Request-Method", "POST"},
            {"Access-Control-Request-Headers", "content-type"}});
    auto r = c.read();
    EXPECT_EQ(r.status, 204u);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
    EXPECT_NE(r.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    EXPECT_NE(r.header("Access-Control-Allow-Methods").find("OPTIONS"), std::string::npos);
    EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "content-type");
    EXPECT_EQ(r.header("Access-Control-Max-Age"), "86400");
    EXPECT_EQ(header_count(r, "Access-Control-Allow-Origin"), 1u);
    EXPECT_EQ(metric(admin_port(), "bosh_sessions_created"), created_before);
}

// WEB-2, WEB-4: exactly one Access-Control-Allow-Origin on POST replies, errors included.
TEST_F(http_front, cors_header_once_on_every_post_reply)
{
    gateway_options o;
    o.http_extra = "max_body_bytes = 2048\n";
    start(o);
    fake->add(open_session_script());
    auto origin_post = [&](const std::string& body) {
        http_client c(port());
        c.send(body, "/http-bind", bhttp::verb::post, 11, {{"Origin", "https://chat.example"}});
        return c.read();
    };
    auto created = origin_post(create_body(70));
    auto unknown = origin_post(req_body("nope", 1));
    auto bad = origin_post("not xml at all");
    auto big = origin_post(std::string(4096, ' ') + create_body(1));
    const auto sid = body_attr(created.body, "sid");
    ASSERT_TRUE(sid.has_value()) << created.body;
    auto term = origin_post(terminate_req(*sid, 71));
    for (const auto* r : {&created, &unknown, &bad, &big, &term}) {
        EXPECT_EQ(header_count(*r, "Access-Control-Allow-Origin"), 1u) << r->body;
        EXPECT_EQ(r->header("Access-Control-Allow-Origin"), "*");
    }
    EXPECT_TRUE(is_terminate(big.body, "policy-violation")) << big.body;
    EXPECT_TRUE(is_terminate(term.body, "")) << term.body;
}

// WEB-1, WEB-3: with an origin list, a listed Origin is echoed (with Vary), others get 403
// and nothing is created.
TEST_F(http_front, origin_allow_list)
{
    gateway_options o;
    o.http_extra = "cors_origins = [\"https://chat.example\"]\n";
    start(o);
    http_client ok(port());
    ok.send(req_body("nope", 1), "/http-bind", bhttp::verb::post, 11, {{"Origin", "https://chat.example"}});
    auto r = ok.read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://chat.example");
    EXPECT_EQ(r.header("Vary"), "Origin");

    const auto created_before = metric(admin_port(), "bosh_sessions_created");
    http_client evil(port());
    evil.send(create_body(1), "/http-bind", bhttp::verb::post, 11, {{"Origin", "https://evil.example"}});
    auto refused = evil.read();
    EXPECT_EQ(refused.status, 403u);
    EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), "");
    evil.send({}, "/http-bind", bhttp::verb::options, 11,
              {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(evil.read().status, 403u);
    EXPECT_EQ(metric(admin_port(), "bosh_sessions_created"), created_before);
    EXPECT_EQ(fake->connection_count(), 0u);
}

// BOSH-COND-8: an oversized body is a policy violation and the connection closes.
TEST_F(http_front, oversized_body_is_policy_violation_and_closes)
{
    gateway_options o;
    o.http_extra = "max_body_bytes = 2048\n";
    start(o);
    http_client c(port());
    c.send("<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='xmpp.test'>" + std::string(4000, ' ') +
           "</body>");
    auto r = c.read();
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "policy-violation")) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "text/xml; charset=utf-8");
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(fake->connection_count(), 0u);
}

// Malformed HTTP => 400 and close; a header block above max_header_bytes => 431.
TEST_F(http_front, malformed_http_and_oversized_header)
{
    start();
    const auto bad_before = metric(admin_port(), "http_bad_requests");
    http_client c(port());
    c.send_raw("THIS IS NOT HTTP\r\n\r\n");
    auto r = c.read();
    EXPECT_EQ(r.status, 400u);
    EXPECT_TRUE(c.closed_by_peer());

    http_client big(port());
    big.send_raw("POST /http-bind HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
    auto h = big.read();
    EXPECT_EQ(h.status, 431u);
    EXPECT_TRUE(big.closed_by_peer());
    EXPECT_EQ(metric(admin_port(), "http_bad_requests"), bad_before + 2); // is counted
}

// BOSH-XML-8, GAP-2, BOSH-STATUS-1, BOSH-COND-6: unknown sid => 200 + item-not-found,
// counted in bosh_unknown_sid.
TEST_F(http_front, unknown_sid_is_item_not_found_and_counted)
{
    start();
    const auto before = metric(admin_port(), "bosh_unknown_sid");
    ASSERT_GE(before, 0);
    auto r = post(req_body("0000000000000000000000000000000000000000", 7));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "item-not-found")) << r.body;
    expect_length_framed(r);
    EXPECT_EQ(metric(admin_port(), "bosh_unknown_sid"), before + 1);
}

// GAP-2: legacy_404_for_unknown_sid = true => HTTP 404 (still an httpbind body).
TEST_F(http_front, unknown_sid_legacy_404)
{
    gateway_options o;
    o.bosh_extra = "legacy_404_for_unknown_sid = true\n";
    start(o);
    auto r = post(req_body("0000000000000000000000000000000000000000", 7));
    EXPECT_EQ(r.status, 404u);
    EXPECT_TRUE(is_terminate(r.body, "item-not-found")) << r.body;
}

// BOSH-COND-1, BOSH-STATUS-4: non-XML and empty bodies get an httpbind bad-request body
// (never an HTML page) and do not touch a live session.
TEST_F(http_front, non_xml_body_is_bad_request_without_touching_sessions)
{
    start();
    script s;
    tls_prefix(s).expect("still-alive").send(server_message("alive-ack")).read_until_eof();
    fake->add(std::move(s));
    const std::string sid = create_session(80);
    ASSERT_FALSE(sid.empty());

    for (const std::string& body : {std::string("hello, not xml"), std::string(), std::string("<body rid='x'"),
                                   std::string("<html><body>x</body></html>")}) {
        auto r = post(body);
        EXPECT_EQ(r.status, 200u) << body;
        EXPECT_EQ(r.header("Content-Type"), "text/xml; charset=utf-8");
        EXPECT_EQ(body_attr(r.body, "xmlns"), std::string(ns_httpbind)) << r.body;
        EXPECT_TRUE(is_terminate(r.body, "bad-request")) << r.body;
    }
    auto ok = post(req_body(sid, 81, message_payload("still-alive")));
    EXPECT_NE(ok.body.find("alive-ack"), std::string::npos) << ok.body;
}

// BOSH-COND-1, BOSH-STATUS-3: a body naming a live sid but invalid ends that session with
// bad-request, and the server stream is closed cleanly.
TEST_F(http_front, invalid_body_for_live_sid_ends_it)
{
    start();
    fake->add(open_session_script());
    const std::string sid = create_session(90);
    ASSERT_FALSE(sid.empty());
    auto r = post("<body xmlns='http://jabber.org/protocol/httpbind' rid='not-a-number' sid='" + sid + "'/>");
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "bad-request")) << r.body;
    auto later = post(req_body(sid, 91));
    EXPECT_TRUE(is_terminate(later.body, "item-not-found")) << later.body;
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_NE(fake->log(0).closing_tag_at, std::string::npos);
}

// BOSH-COND-3: a `to` that is not configured => host-unknown, no connection to anything.
TEST_F(http_front, unconfigured_to_is_host_unknown)
{
    start();
    auto r = post(create_body(1, "elsewhere.test"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "host-unknown")) << r.body;
    EXPECT_EQ(fake->connection_count(), 0u);
}

// BOSH-COND-4: no `to` => improper-addressing.
TEST_F(http_front, missing_to_is_improper_addressing)
{
    start();
    auto r = post(create_body(1, ""));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "improper-addressing")) << r.body;
    EXPECT_EQ(fake->connection_count(), 0u);
}

// BOSH-ROUTE-3: with a route allow-list, a route off the list => host-unknown and the
// named listener sees no connection.
TEST_F(http_front, route_off_allow_list_is_host_unknown)
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor trap(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    trap.non_blocking(true);
    const auto trap_port = trap.local_endpoint().port();

    gateway_options o;
    o.tail = "[[upstream.route]]\nhost = \"127.0.0.1\"\nport = 1\n";
    start(o);
    auto r = post(create_body(1, domain, "route='xmpp:127.0.0.1:" + std::to_string(trap_port) + "'"));
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_terminate(r.body, "host-unknown")) << r.body;
    boost::asio::ip::tcp::socket peer(ioc);
    boost::system::error_code ec;
    trap.accept(peer, ec);
    EXPECT_EQ(ec, boost::asio::error::would_block) << "the gateway connected to the route target";
    EXPECT_EQ(fake->connection_count(), 0u);
}

// BOSH-ROUTE-1: without a route allow-list, `route` is ignored and the configured backend
// is used.
TEST_F(http_front, route_ignored_without_allow_list)
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor trap(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    trap.non_blocking(true);
    start();
    fake->add(open_session_script());
    auto r = post(create_body(1, domain, "route='xmpp:127.0.0.1:" + std::to_string(trap.local_endpoint().port()) + "'"));
    EXPECT_TRUE(body_attr(r.body, "sid").has_value()) << r.body;
    EXPECT_EQ(fake->connection_count(), 1u);
    boost::asio::ip::tcp::socket peer(ioc);
    boost::system::error_code ec;
    trap.accept(peer, ec);
    EXPECT_EQ(ec, boost::asio::error::would_block);
}

// A keep-alive connection with no request is closed after idle_timeout (once its last
// reply is out).
TEST_F(http_front, idle_connection_closed)
{
    gateway_options o;
    o.http_extra = "idle_timeout = \"3s\"\n";
    start(o);
    const auto parked_before = metric(admin_port(), "http_readers_parked");
    raw_conn c(port());
    c.send(raw_request("GET", "/healthz", "HTTP/1.1", {{"Host", "x"}}));
    // Issue 9: idle for a sweep period, the reader parks; the deadline still applies.
    EXPECT_TRUE(eventually([&] { return metric(admin_port(), "http_readers_parked") == parked_before + 1; }, 2500ms));
    auto r = c.read_until_closed(12s); // closed by the gateway long before this limit
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.bytes.rfind("HTTP/1.1 200", 0), 0u) << r.bytes;
    EXPECT_NE(r.bytes.find("\r\n\r\nok\n"), std::string::npos) << r.bytes;
}

// Issue 9: a keep-alive connection idle for a sweep period parks its reader (no coroutine,
// one socket wait); parked, it serves its next request, parks again, and a client that goes
// away takes the parked wait with it.
TEST_F(http_front, idle_keep_alive_connection_parks_and_serves_the_next_request)
{
    start();
    const auto parked_before = metric(admin_port(), "http_readers_parked");
    const auto open_before = metric(admin_port(), "http_connections_active");
    {
        http_client c(port());
        for (int i = 0; i < 3; ++i) {
            c.send({}, "/healthz", bhttp::verb::get);
            auto h = c.read();
            EXPECT_EQ(h.status, 200u);
            EXPECT_EQ(h.body, "ok\n");
            EXPECT_TRUE(h.keep_alive);
            ASSERT_TRUE(eventually([&] { return metric(admin_port(), "http_readers_parked") == parked_before + 1; }))
                << "request " << i;
        }
    } // the client closes its end while the reader is parked
    EXPECT_TRUE(eventually([&] {
        return metric(admin_port(), "http_readers_parked") == parked_before &&
               metric(admin_port(), "http_connections_active") == open_before;
    }));
}

// Slowloris: a partial header followed by silence is cut off after header_timeout, with
// no reply.
TEST_F(http_front, partial_header_closed_after_header_timeout)
{
    gateway_options o;
    o.http_extra = "header_timeout = \"1s\"\n";
    start(o);
    raw_conn c(port());
    c.send("POST /http-bind HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    auto r = c.read_until_closed(12s);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.bytes, "");
}

// /healthz stays on the public listener (load balancers, container health checks); /metrics
// is served by the admin listener only (admin_test.cpp).
TEST_F(http_front, healthz_public_metrics_admin_only)
{
    start();
    const auto before = metric(admin_port(), "http_requests");
    http_client c(port());
    c.send({}, "/healthz", bhttp::verb::get);
    auto h = c.read();
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.body, "ok\n");
    c.send({}, "/metrics", bhttp::verb::get);
    EXPECT_EQ(c.read().status, 404u);
    // Counted: /healthz and /metrics on the public listener; admin requests are not.
    EXPECT_EQ(metric(admin_port(), "http_requests"), before + 2);
}

/// One plain listener (0) and one HTTPS listener (1) with the test certificate.
gateway_options with_https_listener()
{
    gateway_options o;
    o.listen_extra = "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\ntls_cert = \"" + cert_path("xmpp_test.pem") +
                     "\"\ntls_key = \"" + cert_path("xmpp_test.key") + "\"\n";
    return o;
}

// DISC-1, DISC-2, DISC-4: over HTTPS, host-meta as XRD and JRD with both endpoints' URLs
// built from the Host header, readable cross-origin (ACAO *); HEAD; a Host that is no
// host[:port] is refused with 400.
TEST_F(http_front, host_meta_over_https_lists_both_endpoints)
{
    start(with_https_listener());
    const std::string host = "localhost:" + std::to_string(gw.port(1));
    https_client c(gw.port(1));
    auto x = c.get("/.well-known/host-meta", host);
    EXPECT_EQ(x.status, 200u);
    EXPECT_EQ(x.header("Content-Type"), "application/xrd+xml; charset=utf-8");
    EXPECT_EQ(x.header("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(x.body, "<?xml version='1.0' encoding='utf-8'?>\n"
                      "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
                      "  <Link rel='urn:xmpp:alt-connections:xbosh' href='https://" + host + "/http-bind'/>\n"
                      "  <Link rel='urn:xmpp:alt-connections:websocket' href='wss://" + host + "/xmpp-websocket'/>\n"
                      "</XRD>\n");
    auto j = c.get("/.well-known/host-meta.json", host);
    EXPECT_EQ(j.status, 200u);
    EXPECT_EQ(j.header("Content-Type"), "application/json");
    EXPECT_EQ(j.header("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(j.body, "{\"links\":[{\"rel\":\"urn:xmpp:alt-connections:xbosh\",\"href\":\"https://" + host +
                          "/http-bind\"},{\"rel\":\"urn:xmpp:alt-connections:websocket\",\"href\":\"wss://" + host +
                          "/xmpp-websocket\"}]}\n");
    auto h = c.get("/.well-known/host-meta", host, bhttp::verb::head);
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.header("Content-Length"), std::to_string(x.body.size()));
    EXPECT_EQ(h.body, "");
    auto bad = c.get("/.well-known/host-meta", "a.example'><x y='");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_NE(bad.body.find("Host header"), std::string::npos) << bad.body;
}

// DISC-3: over plain HTTP host-meta is not served unless https/wss URLs are configured (a
// TLS-terminating proxy in front); the preflight and a wrong method still get their answers.
TEST_F(http_front, host_meta_over_plain_http_only_with_public_urls)
{
    start();
    http_client c(port());
    c.send({}, "/.well-known/host-meta", bhttp::verb::get);
    auto r = c.read();
    EXPECT_EQ(r.status, 404u);
    EXPECT_NE(r.body.find("HTTPS only"), std::string::npos) << r.body;
    c.send({}, "/.well-known/host-meta", bhttp::verb::options, 11,
           {{"Origin", "https://other.example"}, {"Access-Control-Request-Method", "GET"}});
    auto p = c.read();
    EXPECT_EQ(p.status, 204u);
    EXPECT_EQ(p.header("Access-Control-Allow-Origin"), "*");
    c.send("x", "/.well-known/host-meta", bhttp::verb::post);
    EXPECT_EQ(c.read().status, 405u);
    gw.stop();

    gateway_options o;
    o.http_extra = "public_bosh_url = \"https://chat.example.com/xmpp/bind\"\n"
                   "public_websocket_url = \"wss://chat.example.com/xmpp/ws\"\n";
    start(o);
    http_client d(port());
    d.send({}, "/.well-known/host-meta.json", bhttp::verb::get, 10); // HTTP/1.0: no Host needed
    auto j = d.read();
    EXPECT_EQ(j.status, 200u);
    EXPECT_EQ(j.body, "{\"links\":[{\"rel\":\"urn:xmpp:alt-connections:xbosh\",\"href\":"
                      "\"https://chat.example.com/xmpp/bind\"},{\"rel\":\"urn:xmpp:alt-connections:websocket\","
                      "\"href\":\"wss://chat.example.com/xmpp/ws\"}]}\n");
}

// host_meta = false: not served, not even over HTTPS.
TEST_F(http_front, host_meta_can_be_switched_off)
{
    auto o = with_https_listener();
    o.http_extra = "host_meta = false\n";
    start(o);
    https_client c(gw.port(1));
    EXPECT_EQ(c.get("/.well-known/host-meta", "localhost").status, 404u);
}

/// A static root with index.html and a file next to (outside) it.
struct static_tree {
    static_tree()
    {
        char tmpl[] = "/tmp/boshgate_static_XXXXXX";
        base = ::mkdtemp(tmpl);
        std::filesystem::create_directories(base / "www");
        std::ofstream(base / "www" / "index.html") << "<p>static-index</p>";
        std::ofstream(base / "www" / "app.js") << "console.log('x');";
        std::ofstream(base / "secret.txt") << "top-secret";
    }
    ~static_tree()
    {
        std::error_code ec;
        std::filesystem::remove_all(base, ec);
    }
    std::filesystem::path base;
};

// Static files are served from static_dir; traversal out of it is refused.
TEST_F(http_front, static_files_and_traversal)
{
    static_tree tree;
    gateway_options o;
    o.http_extra = "static_dir = \"" + (tree.base / "www").string() + "\"\n";
    start(o);
    http_client c(port());
    c.send({}, "/", bhttp::verb::get);
    auto index = c.read();
    EXPECT_EQ(index.status, 200u);
    EXPECT_EQ(index.body, "<p>static-index</p>");
    EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
    c.send({}, "/app.js", bhttp::verb::get);
    auto js = c.read();
    EXPECT_EQ(js.status, 200u);
    EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
    for (const char* evil : {"/../secret.txt", "/%2e%2e/secret.txt", "/a/../../secret.txt", "/..%2fsecret.txt"}) {
        http_client e(port());
        e.send_raw(raw_request("GET", evil, "HTTP/1.1", {{"Host", "x"}}));
        auto r = e.read();
        EXPECT_EQ(r.status, 404u) << evil;
        EXPECT_EQ(r.body.find("top-secret"), std::string::npos) << evil;
    }
}

} // namespace
} // namespace boshgate::itest
