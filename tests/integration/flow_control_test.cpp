// Flow control through the in-process gateway (SEC-FLOW-1..3): a client that reads slower
// than its server sends, a client that never reads, and a server that stops reading. The
// gateway must hold at most about one high-water mark per direction, lose nothing while it
// pushes back, and cut off a peer that accepts no byte for limits.write_timeout, with a
// clear error to the other side.
#include "integration/harness.hpp"
#include "integration/ws_client.hpp"

#include <map>

namespace boshgate::itest {
namespace {

const std::string ws_open_frame = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='xmpp.test' version='1.0'/>";

/// Small marks so that a few hundred KB exercise them; a short write_timeout (1 s is the
/// loader's minimum).
std::string flow_limits(std::string_view extra = {})
{
    return "[limits]\nclient_send_high_water = 16384\nclient_send_low_water = 4096\n"
           "upstream_send_high_water = 16384\nupstream_send_low_water = 4096\nwrite_timeout = \"1s\"\n" +
           std::string(extra);
}

/// `n` server messages of `size` body bytes, numbered in their id.
std::string numbered_messages(std::size_t n, std::size_t size)
{
    std::string out;
    const std::string filler(size, 'z');
    for (std::size_t i = 0; i < n; ++i) {
        out += "<message from='bob@xmpp.test/x' to='alice@xmpp.test/web' type='chat' id='n" + std::to_string(i) +
               "'><body>" + filler + "</body></message>";
    }
    return out;
}

/// The numbers of the id='nK' messages in `text`, in order of appearance.
std::vector<std::size_t> message_numbers(std::string_view text)
{
    std::vector<std::size_t> out;
    for (auto p = text.find("id='n"); p != std::string_view::npos; p = text.find("id='n", p + 1)) {
        out.push_back(std::stoul(std::string(text.substr(p + 5, text.find('\'', p + 5) - p - 5))));
    }
    return out;
}

void expect_sequence(const std::vector<std::size_t>& got, std::size_t n)
{
    ASSERT_EQ(got.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], i) << "message " << i << " out of order or lost";
    }
}

/// <open/> answered and the features read, on a tls_prefix script.
void ws_open_session(ws_client& c)
{
    ASSERT_TRUE(c.upgraded()) << c.error().message();
    c.send_text(ws_open_frame);
    auto open = c.read();
    ASSERT_EQ(open.rfind("<open", 0), 0u) << open;
    auto features = c.read();
    ASSERT_NE(features.find("features"), std::string::npos) << features;
}

const std::string go_flood = "<message xmlns='jabber:client' to='bob@xmpp.test'><body>go-flood</body></message>";

/// tls_prefix; on the client's "go-flood" the server sends `n` numbered messages of `size`
/// body bytes in one write, then keeps the stream open.
script flood_script(std::size_t n, std::size_t size)
{
    script s;
    tls_prefix(s).expect("go-flood").send(numbered_messages(n, size)).read_until_eof();
    return s;
}

class flow : public gateway_test {
protected:
    /// The fake server runs `s`; the gateway runs with flow_limits() and `o`.
    void start_with(script s, gateway_options o = {})
    {
        fake = std::make_unique<fake_server>();
        fake->add(std::move(s));
        o.tail = flow_limits();
        start(o);
        for (const char* name : {"flow_upstream_write_timeouts", "flow_client_write_timeouts"}) {
            counters_at_start_[name] = metric(admin_port(), name);
        }
    }

    /// How much a timeout counter grew since start_with(): the counters are process-wide,
    /// and a run of several tests in one process (gtest_filter) must not add up.
    std::int64_t counted(const std::string& name) { return metric(admin_port(), name) - counters_at_start_[name]; }
    void ws_stalled_server_case(bool idle_first);
    void ws_never_reading_client_case(bool idle_first);

    /// A WebSocket session with a 4 KB receive buffer that has asked for the flood.
    void ws_ask_flood(ws_client& c)
    {
        ASSERT_NO_FATAL_FAILURE(ws_open_session(c));
        c.send_text(go_flood);
    }

    static ws_connect_options small_receive_buffer()
    {
        ws_connect_options wo;
        wo.recv_buffer = 4096;
        return wo;
    }

private:
    std::map<std::string, std::int64_t> counters_at_start_;
};

// SEC-FLOW-1 (WebSocket): a client that reads slower than the server sends. Above
// client_send_high_water the gateway stops reading the server (the data waits in the
// server's socket), resumes below the low mark, and every message arrives, in order.
TEST_F(flow, ws_slow_reader_pauses_server_reads_and_loses_nothing)
{
    constexpr std::size_t n = 256;
    start_with(flood_script(n, 16 * 1024));
    ws_client c(port(), small_receive_buffer());
    ASSERT_NO_FATAL_FAILURE(ws_ask_flood(c));
    // The client reads nothing now: its socket and the gateway's fill, then the queue.
    ASSERT_TRUE(eventually([&] { return metric(admin_port(), "flow_upstream_read_pauses") >= 1; }))
        << "the gateway never stopped reading the server";

    std::string all;
    for (std::size_t i = 0; i < n; ++i) {
        auto m = c.read();
        ASSERT_FALSE(m.empty()) << "message " << i << " never arrived";
        all += m;
    }
    expect_sequence(message_numbers(all), n);
    EXPECT_EQ(counted("flow_client_write_timeouts"), 0);
    EXPECT_EQ(metric(admin_port(), "ws_sessions_active"), 1); // still up: slow is not dead
}

// SEC-FLOW-3 (WebSocket): a client that never reads is cut off once a write makes no
// progress for write_timeout; its server link is dropped (WS-CLOSE-3) and counted.
// With `idle_first`, the session first sits idle past the sweep (which frees the write
// guard, issue 9; the parked upstream stream shows the sweep has been by).
void flow::ws_never_reading_client_case(bool idle_first)
{
    // 16 MB: more than the kernel buffers on both sides of the client link can hold.
    start_with(flood_script(1024, 16 * 1024));
    ws_client c(port(), small_receive_buffer());
    ASSERT_NO_FATAL_FAILURE(ws_open_session(c));
    if (idle_first) {
        ASSERT_TRUE(eventually([&] { return metric(admin_port(), "upstream_streams_parked") == 1; }))
            << "the idle session was never swept";
    }
    c.send_text(go_flood);
    // Never read again. The gateway gives up on the client and drops the server link (the
    // server, still writing, sees the reset or the FIN).
    ASSERT_TRUE(fake->wait_done(0, 15s)) << "the server link outlived a client that reads nothing";
    EXPECT_EQ(counted("flow_client_write_timeouts"), 1);
    EXPECT_GE(metric(admin_port(), "flow_upstream_read_pauses"), 1);
    EXPECT_TRUE(eventually([&] { return metric(admin_port(), "ws_sessions_active") == 0; }));
}

TEST_F(flow, ws_client_that_never_reads_is_cut_after_write_timeout)
{
    ws_never_reading_client_case(false);
}

TEST_F(flow, ws_client_that_never_reads_after_idle_sweep_is_still_cut)
{
    ws_never_reading_client_case(true);
}

// SEC-FLOW-2 (WebSocket): a server that stops reading. Above upstream_send_high_water the
// gateway stops reading the client; when the server accepts nothing for write_timeout
// the link is cut and the client gets <remote-connection-failed/> and a normal close.
// With `idle_first`, the stream first sits idle until the sweep has parked it (and freed
// its write timers, issue 9): the next writes must arm a working guard again.
void flow::ws_stalled_server_case(bool idle_first)
{
    script s;
    tls_prefix(s).stall();
    start_with(std::move(s));
    ws_client c(port());
    ASSERT_NO_FATAL_FAILURE(ws_open_session(c));
    if (idle_first) {
        ASSERT_TRUE(eventually([&] { return metric(admin_port(), "upstream_streams_parked") == 1; }))
            << "the idle stream was never parked by the sweep";
    }
    const std::string stanza =
        "<message xmlns='jabber:client' to='bob@xmpp.test'><body>" + std::string(64 * 1024, 'y') + "</body></message>";
    std::size_t sent = 0;
    // Push until the gateway stops taking data (at most 32 MB: far beyond every buffer). A
    // write blocked for 500 ms means the gateway is not reading (it cuts the server at 1 s).
    while (sent < 512 && c.try_send_text(stanza, 500ms)) {
        ++sent;
    }
    EXPECT_LT(sent, 512u) << "the gateway kept reading a client whose server reads nothing";
    auto frames = c.drain(15s);
    ASSERT_TRUE(c.ended());
    ASSERT_FALSE(frames.empty());
    bool error_seen = false;
    for (const auto& f : frames) {
        error_seen = error_seen || (f.find("<stream:error") != std::string::npos &&
                                    f.find("<remote-connection-failed") != std::string::npos);
    }
    EXPECT_TRUE(error_seen) << frames.back();
    EXPECT_EQ(counted("flow_upstream_write_timeouts"), 1);
    EXPECT_GE(metric(admin_port(), "flow_client_read_pauses"), 1);
    EXPECT_TRUE(fake->wait_for(0, [](const auto& l) { return l.peer_closed; }));
}

TEST_F(flow, ws_stalled_server_pauses_client_then_stream_error)
{
    ws_stalled_server_case(false);
}

TEST_F(flow, ws_stalled_server_after_idle_park_still_cut_after_write_timeout)
{
    ws_stalled_server_case(true);
}

// SEC-FLOW-1 (BOSH): server data arriving while the client holds no request is queued by
// the engine; above client_send_high_water the gateway stops reading the server instead of
// growing the queue to max_queued_bytes (which would end the session). Polls then collect
// every message in order.
TEST_F(flow, bosh_client_not_polling_pauses_server_reads_and_loses_nothing)
{
    constexpr std::size_t n = 64;
    gateway_options o;
    o.bosh_extra = "max_queued_bytes = 65536\n";
    o.xml_extra = "max_stanza_bytes = 65536\n";
    start_with(flood_script(n, 8 * 1024), o);

    const auto sid = create_session(1000);
    ASSERT_FALSE(sid.empty());
    std::uint64_t rid = 1001;
    std::string all = post(req_body(sid, rid++, go_flood)).body;
    // 512 KB sent by the server, the queue bounded by 64 KB: only pausing keeps it alive.
    ASSERT_TRUE(eventually([&] { return metric(admin_port(), "flow_upstream_read_pauses") >= 1; }))
        << "the gateway never stopped reading the server";
    while (message_numbers(all).size() < n) {
        auto r = post(req_body(sid, rid++));
        ASSERT_EQ(r.status, 200u);
        ASSERT_NE(body_attr(r.body, "type"), std::optional<std::string>("terminate")) << r.body.substr(0, 300);
        all += r.body;
    }
    expect_sequence(message_numbers(all), n);
}

// Issue 9: the elements of one server read leave in one BOSH body (the held request gets all
// five), not one element per request with the rest waiting for the next poll.
TEST_F(flow, bosh_one_server_read_is_one_body)
{
    start_with(flood_script(5, 10));
    const auto sid = create_session(2000);
    ASSERT_FALSE(sid.empty());
    auto r = post(req_body(sid, 2001, go_flood)); // held until the server answers
    ASSERT_EQ(r.status, 200u);
    expect_sequence(message_numbers(r.body), 5);
    EXPECT_EQ(r.body.rfind("<body", 0), 0u) << r.body;
}

// SEC-FLOW-2 (BOSH): a server that stops reading. Requests that arrive while more than
// upstream_send_high_water bytes wait for it are parked (their connections wait); when
// the server accepts nothing for write_timeout the session ends remote-connection-failed
// and the parked requests are answered.
TEST_F(flow, bosh_stalled_server_parks_requests_then_terminates)
{
    script s;
    tls_prefix(s).stall();
    start_with(std::move(s));
    const auto sid = create_session(2000);
    ASSERT_FALSE(sid.empty());
    const std::string stanza =
        "<message xmlns='jabber:client' to='bob@xmpp.test'><body>" + std::string(200 * 1024, 'y') + "</body></message>";
    // hold=1: each new request releases the previous one at once, until the session parks
    // one (server not reading): it waits until the link is cut, then the session ends and
    // the last request is answered with the condition.
    std::uint64_t rid = 2001;
    auto prev = std::make_unique<http_client>(port(), 10s);
    prev->send(req_body(sid, rid++, stanza));
    std::optional<http_reply> last;
    int sent = 1;
    for (; sent < 200 && !last; ++sent) {
        auto next = std::make_unique<http_client>(port(), 10s);
        next->send(req_body(sid, rid++, stanza));
        boost::system::error_code ec;
        auto r = prev->read(ec);
        ASSERT_FALSE(ec) << "a request was never answered: " << ec.message();
        if (body_attr(r.body, "type") == std::optional<std::string>("terminate")) {
            last = std::move(r);
        }
        prev = std::move(next);
    }
    ASSERT_TRUE(last.has_value()) << "40 MB accepted for a server that reads nothing";
    EXPECT_LT(sent, 200);
    EXPECT_TRUE(is_terminate(last->body, "remote-connection-failed")) << last->body.substr(0, 300);
    EXPECT_GE(metric(admin_port(), "flow_client_read_pauses"), 1);
    EXPECT_EQ(counted("flow_upstream_write_timeouts"), 1);
    EXPECT_TRUE(fake->wait_for(0, [](const auto& l) { return l.peer_closed; }));
}

} // namespace
} // namespace boshgate::itest
