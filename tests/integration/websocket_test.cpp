// XMPP over WebSocket (RFC 7395) through the in-process gateway: the HTTP upgrade on the
// shared listener, the <open/>/<close/> translation against the scripted server, stream
// errors, abrupt loss, size and type limits, keepalive, isolation and graceful shutdown.
#include "integration/harness.hpp"
#include "integration/ws_client.hpp"

namespace boshgate::itest {
namespace {

using WebSocket = gateway_test;

constexpr std::string_view ns_framing = "urn:ietf:params:xml:ns:xmpp-framing";
const std::string open_frame = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='xmpp.test' version='1.0'/>";
const std::string close_frame = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
const std::string auth_frame =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>";

/// Attribute `name` of the frame's first start tag.
std::optional<std::string> attr(std::string_view frame, const std::string& name)
{
    std::string tag(frame.substr(0, frame.find('>') == std::string_view::npos ? frame.size() : frame.find('>')));
    std::regex re("\\s" + name + "=(['\"])([^'\"]*)\\1");
    std::smatch m;
    if (std::regex_search(tag, m, re)) {
        return m[2].str();
    }
    return std::nullopt;
}

bool is_open(std::string_view f)
{
    return f.rfind("<open ", 0) == 0 && attr(f, "xmlns") == std::string(ns_framing);
}
bool is_close(std::string_view f)
{
    return f.rfind("<close", 0) == 0 && attr(f, "xmlns") == std::string(ns_framing);
}
bool is_stream_error(std::string_view f, std::string_view condition)
{
    return f.rfind("<stream:error", 0) == 0 && f.find("<" + std::string(condition) + " ") != std::string_view::npos;
}

ws_connect_options offer(std::optional<std::string> protocol)
{
    ws_connect_options o;
    o.protocol = std::move(protocol);
    return o;
}

ws_connect_options with_origin(std::string origin)
{
    ws_connect_options o;
    o.origin = std::move(origin);
    return o;
}

/// The upgrade request as raw HTTP (for refusals, which never reach Beast's client).
std::string upgrade_request(std::initializer_list<std::pair<std::string_view, std::string_view>> extra,
                            std::string_view method = "GET")
{
    std::string r = std::string(method) +
                    " /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    for (const auto& [k, v] : extra) {
        r += std::string(k) + ": " + std::string(v) + "\r\n";
    }
    return r + "\r\n";
}

http_reply raw_exchange(std::uint16_t port, const std::string& request)
{
    http_client c(port);
    c.send_raw(request);
    return c.read();
}

/// tls_prefix, then SASL PLAIN, the restart and the bind features (post-SASL id "s3").
script& login_script(script& s)
{
    tls_prefix(s)
        .expect("<auth")
        .expect("</auth>")
        .send(fake_upstream_server::sasl_success())
        .expect_header()
        .send(fake_upstream_server::header("s3") + fake_upstream_server::features_bind());
    return s;
}

/// Client side of login_script; every frame read is appended to `seen`.
void ws_login(ws_client& c, std::vector<std::string>& seen)
{
    ASSERT_TRUE(c.upgraded()) << c.error().message();
    c.send_text(open_frame);
    seen.push_back(c.read());
    ASSERT_TRUE(is_open(seen.back())) << seen.back();
    EXPECT_EQ(attr(seen.back(), "id"), "s2");
    seen.push_back(c.read());
    ASSERT_NE(seen.back().find("<mechanism>PLAIN</mechanism>"), std::string::npos) << seen.back();
    c.send_text(auth_frame);
    seen.push_back(c.read());
    ASSERT_EQ(seen.back().rfind("<success", 0), 0u) << seen.back();
    c.send_text(open_frame); // the restart (RFC 7395 §3.7)
    seen.push_back(c.read());
    ASSERT_TRUE(is_open(seen.back())) << seen.back();
    EXPECT_EQ(attr(seen.back(), "id"), "s3");
    seen.push_back(c.read());
    ASSERT_NE(seen.back().find("urn:ietf:params:xml:ns:xmpp-bind"), std::string::npos) << seen.back();
}

/// Open a session on tls_prefix: <open/> answered, features read.
void ws_open(ws_client& c)
{
    ASSERT_TRUE(c.upgraded()) << c.error().message();
    c.send_text(open_frame);
    auto open = c.read();
    ASSERT_TRUE(is_open(open)) << open;
    auto features = c.read();
    ASSERT_NE(features.find("features"), std::string::npos) << features;
}

// ------------------------------------------------------------------------------ handshake

// WS-HS-1: the 101 names `xmpp`, whether offered alone or among others.
TEST_F(WebSocket, handshake_echoes_xmpp_subprotocol)
{
    start();
    const auto upgrades = metric(admin_port(), "ws_upgrades");
    ws_client alone(port(), offer("xmpp"));
    ASSERT_TRUE(alone.upgraded()) << alone.error().message();
    EXPECT_EQ(alone.handshake_response().result_int(), 101u);
    EXPECT_EQ(std::string(alone.handshake_response()[test::bhttp::field::sec_websocket_protocol]), "xmpp");
    EXPECT_EQ(std::string(alone.handshake_response()[test::bhttp::field::server]), "boshgate");

    ws_client among(port(), offer("foo, xmpp"));
    ASSERT_TRUE(among.upgraded()) << among.error().message();
    EXPECT_EQ(std::string(among.handshake_response()[test::bhttp::field::sec_websocket_protocol]), "xmpp");
    // The counter is bumped on the gateway's io thread, possibly after the 101 reached us.
    EXPECT_TRUE(eventually([&] { return metric(admin_port(), "ws_upgrades") == upgrades + 2; }))
        << metric(admin_port(), "ws_upgrades") << " upgrades counted, want " << upgrades + 2;
    EXPECT_TRUE(eventually([&] { return metric(admin_port(), "ws_sessions_active") >= 2; }));

    // Browsers offer permessage-deflate; boshgate's WebSocket stream is built without it
    // (no state for it per session, no compression side channel), so the 101 accepts no
    // extension (RFC 6455 §9.1: the server names only the extensions it accepts).
    auto offered = raw_exchange(port(), upgrade_request({{"Sec-WebSocket-Protocol", "xmpp"},
                                                         {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}}));
    EXPECT_EQ(offered.status, 101u);
    EXPECT_EQ(header_count(offered, "Sec-WebSocket-Extensions"), 0u);
}

// WS-HS-2, GAP-12: without `xmpp` among the offers the handshake is refused with 400 and no
// subprotocol is ever named.
TEST_F(WebSocket, handshake_without_xmpp_is_refused_400)
{
    start();
    const auto refused = metric(admin_port(), "ws_handshakes_refused");
    auto none = raw_exchange(port(), upgrade_request({}));
    EXPECT_EQ(none.status, 400u);
    EXPECT_EQ(header_count(none, "Sec-WebSocket-Protocol"), 0u);
    EXPECT_NE(none.body.find("7395"), std::string::npos) << none.body;

    auto other = raw_exchange(port(), upgrade_request({{"Sec-WebSocket-Protocol", "foo, XMPP"}}));
    EXPECT_EQ(other.status, 400u);
    EXPECT_EQ(header_count(other, "Sec-WebSocket-Protocol"), 0u);

    ws_client c(port(), offer(std::nullopt));
    EXPECT_FALSE(c.upgraded());
    EXPECT_EQ(metric(admin_port(), "ws_handshakes_refused"), refused + 3);
}

// WS-SEC-1: with a restrictive allow-list a foreign Origin is refused with 403 before any
// upgrade; an allowed Origin (and a non-browser client without Origin) is upgraded.
TEST_F(WebSocket, origin_outside_allow_list_is_refused_403)
{
    gateway_options o;
    o.http_extra = "cors_origins = [\"https://good.test\"]\n";
    start(o);
    auto evil = raw_exchange(port(), upgrade_request({{"Sec-WebSocket-Protocol", "xmpp"}, {"Origin", "https://evil.test"}}));
    EXPECT_EQ(evil.status, 403u);
    ws_client evil_ws(port(), with_origin("https://evil.test"));
    EXPECT_FALSE(evil_ws.upgraded());

    ws_client good(port(), with_origin("https://good.test"));
    EXPECT_TRUE(good.upgraded()) << good.error().message();
    ws_client no_origin(port());
    EXPECT_TRUE(no_origin.upgraded()) << no_origin.error().message();
}

// RFC 6455 §4.2.1 / RFC 7231 §6.5.15: a plain GET on the WebSocket path draws 426 with
// Upgrade: websocket; another method draws 405 with Allow: GET.
TEST_F(WebSocket, plain_get_is_426_and_post_is_405)
{
    start();
    http_client c(port());
    c.send({}, "/xmpp-websocket", test::bhttp::verb::get);
    auto r = c.read();
    EXPECT_EQ(r.status, 426u);
    EXPECT_EQ(r.header("Upgrade"), "websocket");
    // The connection stays usable for HTTP.
    c.send({}, "/healthz", test::bhttp::verb::get);
    EXPECT_EQ(c.read().status, 200u);

    auto post = raw_exchange(port(), raw_request("POST", "/xmpp-websocket", "HTTP/1.1", {{"Host", "x"}}, "<x/>"));
    EXPECT_EQ(post.status, 405u);
    EXPECT_EQ(post.header("Allow"), "GET");
}

// websocket.enabled = false: the path is an ordinary unknown path.
TEST_F(WebSocket, disabled_transport_answers_404)
{
    gateway_options o;
    o.websocket_extra = "enabled = false\n";
    start(o);
    auto r = raw_exchange(port(), upgrade_request({{"Sec-WebSocket-Protocol", "xmpp"}}));
    EXPECT_EQ(r.status, 404u);
}

// The upgrade request pipelined behind another request: the earlier response is written
// first, then the 101, and the WebSocket works on the same TCP connection (a Ping frame
// written by hand, with a zero mask key, comes back as a Pong with the same payload).
TEST_F(WebSocket, upgrade_after_pipelined_request_is_answered_in_order)
{
    start();
    raw_conn c(port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade_request({{"Sec-WebSocket-Protocol", "xmpp"}}));
    auto first = c.read_until("ok\n", 10s);
    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
    auto second = c.read_until("\r\n\r\n", 10s);
    EXPECT_EQ(second.rfind("HTTP/1.1 101", 0), 0u) << second;
    EXPECT_NE(second.find("Sec-WebSocket-Protocol: xmpp\r\n"), std::string::npos) << second;
    c.send(std::string("\x89\x84\x00\x00\x00\x00" "abcd", 10));
    auto pong = c.read_until("abcd", 10s);
    EXPECT_EQ(pong, std::string("\x8a\x04" "abcd", 6));
}

// The hand-off of a TLS connection (wss://, WS-TLS-2): the upgraded stream keeps the
// listener's TLS session; the full <open/> exchange works through it.
TEST_F(WebSocket, wss_listener_hands_off_the_tls_stream)
{
    gateway_options o;
    o.listen_extra = "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\ntls_cert = \"" + cert_path("xmpp_test.pem") +
                     "\"\ntls_key = \"" + cert_path("xmpp_test.key") + "\"\n";
    start(o);
    fake->add(open_session_script());
    ws_connect_options wo;
    wo.ca_file = cert_path("ca.pem");
    wss_client c(gw.port(1), wo);
    ASSERT_TRUE(c.upgraded()) << c.error().message();
    EXPECT_EQ(std::string(c.handshake_response()[test::bhttp::field::sec_websocket_protocol]), "xmpp");
    c.send_text(open_frame);
    EXPECT_TRUE(is_open(c.read()));
    EXPECT_NE(c.read().find("<mechanism>PLAIN</mechanism>"), std::string::npos);
    c.ping("tls-ping");
    ASSERT_TRUE(c.wait_pong());
    EXPECT_EQ(c.pongs().at(0), "tls-ping");
    c.send_text(close_frame);
    EXPECT_TRUE(is_close(c.read()));
    ASSERT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1000);
}

// ------------------------------------------------------------------------------ sessions

// WS-OPEN-2, WS-OPEN-3, WS-RST-1, WS-RST-2, WS-RST-3, WS-TLS-1, WS-FRM-1, WS-FRM-3,
// WS-FRM-4, WS-FRM-5, WS-NS-2, WS-KA-1, WS-CLOSE-1: a whole login, stanzas, whitespace from
// the server and the client's <close/>.
TEST_F(WebSocket, full_login_through_scripted_server)
{
    start();
    script s;
    login_script(s)
        .expect("hello-from-client")
        .expect("</message>")
        // Three stanzas in one write (WS-FRM-4), then whitespace keepalives (WS-KA-1).
        .send(server_message("one") + server_message("two") + server_message("three"))
        .send("  \n ")
        .send(" ")
        .send(server_message("after-space"))
        .expect("</stream:stream>")
        .send("</stream:stream>")
        .read_until_eof();
    fake->add(std::move(s));

    ws_client c(port());
    std::vector<std::string> seen;
    ASSERT_NO_FATAL_FAILURE(ws_login(c, seen));
    // WS-OPEN-2: the server's post-TLS header, translated attribute by attribute.
    EXPECT_EQ(attr(seen[0], "from"), "xmpp.test");
    EXPECT_EQ(attr(seen[0], "version"), "1.0");
    EXPECT_EQ(attr(seen[0], "xml:lang"), "en");
    // WS-RST-2, WS-TLS-1: the first features the client sees are the post-TLS ones.
    EXPECT_EQ(seen[1].find("starttls"), std::string::npos) << seen[1];
    // WS-NS-2: the features frame declares the stream prefix itself.
    EXPECT_NE(seen[1].find("xmlns:stream='http://etherx.jabber.org/streams'"), std::string::npos) << seen[1];
    EXPECT_EQ(attr(seen[3], "from"), "xmpp.test");

    c.send_text(chat("hello-from-client"));
    for (const char* text : {"one", "two", "three", "after-space"}) {
        auto f = c.read();
        seen.push_back(f);
        EXPECT_EQ(f.rfind("<message", 0), 0u) << f;                                // one stanza per frame
        EXPECT_NE(f.find(std::string("<body>") + text + "</body>"), std::string::npos) << f;
        EXPECT_EQ(count(f, "<message"), 1u) << f;
        EXPECT_NE(f.find("xmlns='jabber:client'"), std::string::npos) << f;        // WS-FRM-1
    }

    // WS-CLOSE-1: the client's <close/> closes the server stream and is answered.
    c.send_text(close_frame);
    auto answer = c.read();
    EXPECT_TRUE(is_close(answer)) << answer;
    ASSERT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1000);

    for (const auto& f : seen) {
        EXPECT_EQ(f.rfind("<", 0), 0u) << f;                                        // WS-FRM-3
        EXPECT_EQ(f.find("<?xml"), std::string::npos) << f;                         // WS-RST-3
        EXPECT_EQ(f.find("<stream:stream"), std::string::npos) << f;                // WS-FRM-5
        EXPECT_EQ(f.find("urn:ietf:params:xml:ns:xmpp-tls"), std::string::npos) << f; // WS-TLS-1
    }

    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_EQ(log.error, "");
    EXPECT_TRUE(log.tls);
    // WS-OPEN-3: the client's <open/> became an RFC 6120 header.
    const auto header0 = log.received.substr(0, log.received.find('>', log.received.find("<stream:stream")) + 1);
    EXPECT_NE(header0.find("to='xmpp.test'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("version='1.0'"), std::string::npos) << header0;
    EXPECT_NE(header0.find("xmlns='jabber:client'"), std::string::npos) << header0;
    EXPECT_EQ(header0.find(std::string(ns_framing)), std::string::npos) << header0;
    // WS-RST-1: three headers on one connection (plain, post-TLS, post-SASL), no closing
    // tag before the last; the SASL payload and the stanza arrived as sent.
    EXPECT_EQ(count(log.received, "<stream:stream"), 3u) << log.received;
    EXPECT_NE(log.received.find(auth_frame), std::string::npos) << log.received;
    EXPECT_NE(log.received.find("<body>hello-from-client</body>"), std::string::npos) << log.received;
    ASSERT_NE(log.closing_tag_at, std::string::npos);
    EXPECT_LT(log.received.rfind("<stream:stream"), log.closing_tag_at);
    EXPECT_EQ(log.received.find(std::string(ns_framing)), std::string::npos) << "framing never reaches the server";
    EXPECT_TRUE(eventually([&] { return metric(admin_port(), "ws_sessions_active") == 0; }));
}

// WS-ERR-1, WS-CLOSE-2: a server stream error reaches the client whole in one message,
// followed by <close/>; after the client's <close/> the WebSocket closes normally.
TEST_F(WebSocket, server_stream_error_is_relayed_then_closed)
{
    start();
    script s;
    tls_prefix(s).send(fake_upstream_server::stream_error("conflict")).read_until_eof();
    fake->add(std::move(s));

    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    auto err = c.read();
    EXPECT_TRUE(is_stream_error(err, "conflict")) << err;
    EXPECT_NE(err.find("xmlns:stream='http://etherx.jabber.org/streams'"), std::string::npos) << err; // WS-NS-2
    auto close = c.read();
    EXPECT_TRUE(is_close(close)) << close;
    c.send_text(close_frame);
    ASSERT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1000);
    EXPECT_TRUE(fake->wait_done(0));
}

// WS-CLOSE-3: the client vanishes without <close/>: the server link is dropped without a
// closing tag (a XEP-0198 session may be resumed), and the session is gone.
TEST_F(WebSocket, client_vanishing_drops_server_link_without_closing_tag)
{
    start();
    fake->add(open_session_script());
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    c.vanish();
    ASSERT_TRUE(fake->wait_done(0));
    auto log = fake->log(0);
    EXPECT_TRUE(log.peer_closed);
    EXPECT_EQ(log.closing_tag_at, std::string::npos) << log.received;
    ASSERT_TRUE(eventually([&] { return metric(admin_port(), "ws_sessions_active") == 0; }));
    // The session also left the hub, so a graceful stop has nothing to wait for. (With the
    // writers started on demand, a session that died before its writing side was settled
    // kept its hub entry, and the drain ran to shutdown_grace, 3 s here.)
    const auto t0 = std::chrono::steady_clock::now();
    gw.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500))
        << "the drain waited for a session that was gone";
}

// WS-MSG-1: a binary message draws a stream error, <close/> and close code 1003; the
// server stream is closed cleanly.
TEST_F(WebSocket, binary_message_is_refused_with_1003)
{
    start();
    fake->add(open_session_script());
    const auto errors = metric(admin_port(), "ws_client_errors");
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    c.send_binary(chat("binary"));
    auto frames = c.drain();
    ASSERT_EQ(frames.size(), 2u) << c.read_error().message();
    EXPECT_TRUE(is_stream_error(frames[0], "bad-format")) << frames[0];
    EXPECT_NE(frames[0].find("7395"), std::string::npos) << frames[0];
    EXPECT_TRUE(is_close(frames[1])) << frames[1];
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1003);
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_NE(fake->log(0).closing_tag_at, std::string::npos);
    EXPECT_EQ(fake->log(0).received.find("binary"), std::string::npos);
    EXPECT_EQ(metric(admin_port(), "ws_client_errors"), errors + 1);
}

// WS-SIZE-1: a message beyond max_message_bytes draws <policy-violation/>, <close/> and
// close code 1009; nothing of it reaches the server.
TEST_F(WebSocket, oversized_message_is_policy_violation_1009)
{
    gateway_options o;
    o.websocket_extra = "max_message_bytes = 4096\n";
    start(o);
    fake->add(open_session_script());
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    // Just at the limit: accepted and forwarded.
    std::string fits = chat("fits");
    fits.insert(fits.find("</body>"), 4096 - fits.size(), 'f');
    ASSERT_EQ(fits.size(), 4096u);
    c.send_text(fits);
    ASSERT_TRUE(fake->wait_received(0, "ffff</body></message>"));

    c.send_text(chat(std::string(100000, 'x')));
    auto frames = c.drain();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_TRUE(is_stream_error(frames[0], "policy-violation")) << frames[0];
    EXPECT_TRUE(is_close(frames[1])) << frames[1];
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1009);
    ASSERT_TRUE(fake->wait_done(0));
    EXPECT_EQ(fake->log(0).received.find("xxxx"), std::string::npos);
}

// WS-FRM-4: a client message reaches the server whole and unchanged whatever its size
// (around the gateway's first-read buffer of 512 bytes) and however it is split into frames,
// even with pauses between frames longer than the idle sweep period, which frees the
// reassembly buffer only between messages (issue 9).
TEST_F(WebSocket, messages_of_any_size_and_split_into_frames_arrive_whole)
{
    start();
    fake->add(open_session_script());
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    const auto sized = [](std::string tag, std::size_t size) {
        std::string m = chat(tag + "-");
        m.insert(m.find("</body>"), size - m.size(), static_cast<char>('a' + size % 26));
        return m;
    };
    for (std::size_t size : {100, 511, 512, 513, 1500, 20000}) {
        const auto m = sized("whole" + std::to_string(size), size);
        ASSERT_EQ(m.size(), size);
        c.send_text(m);
        ASSERT_TRUE(fake->wait_received(0, m)) << size;
    }
    // Split at: inside the first 512 bytes, just past them, and well past them; the pause
    // lets the gateway's idle sweep (100 ms) run while the message is half-read.
    for (std::size_t first : {10, 513, 900}) {
        const auto m = sized("split" + std::to_string(first), 1400);
        c.send_text_frame(std::string_view(m).substr(0, first), false);
        std::this_thread::sleep_for(std::chrono::milliseconds(350));
        c.send_text_frame(std::string_view(m).substr(first, 100), false);
        std::this_thread::sleep_for(std::chrono::milliseconds(350));
        c.send_text_frame(std::string_view(m).substr(first + 100), true);
        ASSERT_TRUE(fake->wait_received(0, m)) << first;
    }
    // Still one session, nothing dropped: the next message goes through as well.
    c.send_text(chat("last"));
    ASSERT_TRUE(fake->wait_received(0, chat("last")));
    EXPECT_EQ(fake->log(0).error, "");
}

// WS-KA-2: a Ping is answered with a Pong carrying the same payload.
TEST_F(WebSocket, ping_is_answered_with_same_payload)
{
    start();
    ws_client c(port());
    ASSERT_TRUE(c.upgraded());
    c.ping("hello-ping");
    ASSERT_TRUE(c.wait_pong());
    ASSERT_EQ(c.pongs().size(), 1u);
    EXPECT_EQ(c.pongs()[0], "hello-ping");
}

// WS-KA-2/3: a silent client is pinged after ping_interval; answering (Beast's client
// answers automatically) keeps the session up.
TEST_F(WebSocket, silent_client_is_pinged)
{
    gateway_options o;
    o.websocket_extra = "ping_interval = \"1s\"\nidle_timeout = \"30s\"\n";
    start(o);
    fake->add(open_session_script());
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    ASSERT_TRUE(c.wait_ping());
    EXPECT_FALSE(c.ended());
    c.send_text(chat("still-here"));
    EXPECT_TRUE(fake->wait_received(0, "still-here"));
}

// WS-OPEN-4: the backend is unreachable: <open/> from boshgate itself, the stream error,
// <close/>, then the WebSocket close; exactly those three frames.
TEST_F(WebSocket, backend_down_is_open_error_close)
{
    gateway_options o;
    o.upstream_port = closed_port();
    gw.start(gateway_toml(o));
    ws_client c(port());
    ASSERT_TRUE(c.upgraded());
    c.send_text(open_frame);
    auto frames = c.drain();
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_TRUE(is_open(frames[0])) << frames[0];
    EXPECT_EQ(attr(frames[0], "from"), "xmpp.test");
    EXPECT_TRUE(attr(frames[0], "id").has_value()) << frames[0];
    EXPECT_EQ(attr(frames[0], "version"), "1.0");
    EXPECT_TRUE(is_stream_error(frames[1], "remote-connection-failed")) << frames[1];
    EXPECT_TRUE(is_close(frames[2])) << frames[2];
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1000);
}

// WS-OPEN-4 with a refusal that happens at once (the breaker is open, nothing is dialled):
// the upstream fails inside the session's own <open/> handling. Each client still gets
// <open/>, the stream error, <close/> and close 1000, and the gateway keeps serving. (The
// use-after-free this path once had under a login burst is pinned, deterministically, by
// stream_test.owner_may_drop_the_stream_inside_an_immediate_failure.)
TEST_F(WebSocket, immediate_upstream_refusal_is_open_error_close)
{
    gateway_options o;
    o.upstream_port = closed_port();
    o.tail = "[limits]\nbreaker_failures = 1\nbreaker_open = \"60s\"\n"
             "session_rate_per_address = 0\nmax_sessions_per_address = 0\n";
    gw.start(gateway_toml(o));
    {
        ws_client first(port()); // its failure opens the breaker
        ASSERT_TRUE(first.upgraded());
        first.send_text(open_frame);
        first.drain();
    }
    for (int round = 0; round < 3; ++round) {
        std::vector<std::unique_ptr<ws_client>> clients;
        for (int i = 0; i < 8; ++i) {
            clients.push_back(std::make_unique<ws_client>(port()));
            ASSERT_TRUE(clients.back()->upgraded());
            clients.back()->send_text(open_frame);
        }
        for (auto& c : clients) {
            auto frames = c->drain();
            ASSERT_EQ(frames.size(), 3u);
            EXPECT_TRUE(is_open(frames[0])) << frames[0];
            EXPECT_TRUE(is_stream_error(frames[1], "remote-connection-failed")) << frames[1];
            EXPECT_TRUE(is_close(frames[2])) << frames[2];
            EXPECT_EQ(c->close_code(), 1000);
        }
    }
    EXPECT_GE(metric(admin_port(), "upstream_breaker_refused"), 24);
}

// Isolation: clients breaking RFC 6455 or RFC 7395 in various ways do not disturb another
// WebSocket session nor a BOSH session on the same listener, and BOSH keeps working after
// WebSocket traffic (BOSH-COND-5 in spirit: the gateway keeps serving).
TEST_F(WebSocket, misbehaving_clients_leave_other_sessions_alone)
{
    start();
    script a;
    tls_prefix(a)
        .expect("a-1")
        .send(server_message("reply-1"))
        .expect("a-2")
        .send(server_message("reply-2"))
        .read_until_eof();
    fake->add(std::move(a));
    ws_client good(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(good));

    script b;
    tls_prefix(b).expect("b-1").send(server_message("b-reply")).read_until_eof();
    fake->add(std::move(b));
    const std::string sid = create_session(7000);
    ASSERT_FALSE(sid.empty());

    // Garbage instead of <open/>: a stream error (no backend connection is made).
    {
        ws_client bad(port());
        ASSERT_TRUE(bad.upgraded());
        bad.send_text("<<<not xml");
        auto frames = bad.drain();
        ASSERT_FALSE(frames.empty());
        EXPECT_TRUE(is_close(frames.back())) << frames.back();
        EXPECT_TRUE(bad.closed_by_peer());
    }
    // Invalid UTF-8 in a text frame: Beast closes with 1007 (WS-MSG-1).
    {
        ws_client bad(port());
        ASSERT_TRUE(bad.upgraded());
        bad.send_text(std::string("<message>\xff\xfe</message>"));
        ASSERT_TRUE(bad.wait_closed());
        EXPECT_TRUE(bad.closed_by_peer());
        EXPECT_EQ(bad.close_code(), 1007);
    }
    // A client that vanishes right after the upgrade, and one that never completes it.
    {
        ws_client gone(port());
        ASSERT_TRUE(gone.upgraded());
        gone.vanish();
        raw_conn half(port());
        half.send("GET /xmpp-websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
    }

    good.send_text(chat("a-1"));
    auto r1 = good.read();
    EXPECT_NE(r1.find("reply-1"), std::string::npos) << r1;

    auto bosh = post(req_body(sid, 7001, chat("b-1")));
    EXPECT_EQ(bosh.status, 200u);
    EXPECT_NE(bosh.body.find("b-reply"), std::string::npos) << bosh.body;

    good.send_text(chat("a-2"));
    auto r2 = good.read();
    EXPECT_NE(r2.find("reply-2"), std::string::npos) << r2;
    EXPECT_EQ(fake->connection_count(), 2u) << "the misbehaving clients opened no server stream";
}

// Graceful shutdown: a live WebSocket session gets <stream:error><system-shutdown/>,
// <close/> and close code 1001; the server stream is closed with a closing tag; the drain
// waits for the WebSocket closing handshake (the hub must be empty before the process
// stops, or the client would see a reset instead of a Close frame).
TEST_F(WebSocket, graceful_shutdown_sends_system_shutdown)
{
    start();
    fake->add(open_session_script());
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open(c));
    gw.begin_stop();
    auto frames = c.drain();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_TRUE(is_stream_error(frames[0], "system-shutdown")) << frames[0];
    EXPECT_TRUE(is_close(frames[1])) << frames[1];
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(c.close_code(), 1001);
    // C2S-ERR-1 side: the server stream gets its closing tag (then the process stops).
    ASSERT_TRUE(fake->wait_for(0, [](const auto& l) { return l.closing_tag_at != std::string::npos; }));
    gw.stop();
    EXPECT_TRUE(fake->wait_done(0));
    EXPECT_TRUE(fake->log(0).peer_closed);
}

} // namespace
} // namespace boshgate::itest
