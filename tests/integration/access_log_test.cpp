// One access line per ended session (issue 10): client, domain, duration, elements and bytes
// each way, end condition; for BOSH and for WebSocket, through the real gateway.
#include "integration/harness.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <regex>
#include <sstream>

namespace boshgate::itest {
namespace {

/// Captures the gateway's info-level log lines for one test (each test is its own process).
class access_log : public gateway_test {
protected:
    void SetUp() override
    {
        gateway_test::SetUp();
        init_test_logging();
        sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_);
        sink_->set_pattern("%v");
        core::log().sinks().push_back(sink_);
        core::log().set_level(spdlog::level::info);
    }
    void TearDown() override
    {
        gw.stop();
        auto& sinks = core::log().sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
        gateway_test::TearDown();
    }
    /// The first access line logged so far (empty if none).
    std::string access_line()
    {
        core::log().flush();
        std::istringstream in(lines_.str());
        for (std::string l; std::getline(in, l);) {
            if (l.find(" access transport=") != std::string::npos) {
                return l;
            }
        }
        return {};
    }
    std::ostringstream lines_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// A BOSH session: one message, then a terminate carrying unavailable presence: up=2 elements
// with their exact bytes, down = the server's features, end=terminate.
TEST_F(access_log, bosh_session_end)
{
    start();
    fake->add(open_session_script());
    const auto sid = create_session(500);
    ASSERT_FALSE(sid.empty());
    const std::string msg = "<message xmlns='jabber:client' to='bob@xmpp.test'><body>x</body></message>";
    const std::string pres = "<presence xmlns='jabber:client' type='unavailable'/>";
    http_client held(port());
    held.send(req_body(sid, 501, msg));
    auto t = post(terminate_req(sid, 502, pres));
    EXPECT_TRUE(is_terminate(t.body, "")) << t.body;
    held.read();
    ASSERT_TRUE(eventually([&] { return !access_line().empty(); }));
    const auto line = access_line();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(^b\d+ access transport=bosh client=127\.0\.0\.1 domain=xmpp\.test duration=\d+\.\d{3}s up=2/(\d+) down=(\d+)/\d+ end=terminate$)")))
        << line;
    EXPECT_EQ(std::stoul(m[1]), msg.size() + pres.size());
    EXPECT_GE(std::stoul(m[2]), 1u); // the stream features at least
}

// A WebSocket session the client drops: end=client-gone.
TEST_F(access_log, websocket_session_end)
{
    start();
    fake->add(open_session_script());
    {
        raw_conn c(port());
        c.send("GET /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: xmpp\r\n\r\n");
        ASSERT_TRUE(eventually([&] { return metric(admin_port(), "ws_upgrades") == 1; }));
    } // closed without a Close frame
    ASSERT_TRUE(eventually([&] { return !access_line().empty(); }));
    EXPECT_TRUE(std::regex_search(access_line(),
                                  std::regex(R"(^w\d+ access transport=websocket client=127\.0\.0\.1 domain=- duration=\d+\.\d{3}s up=0/0 down=0/0 end=client-gone$)")))
        << access_line();
}

} // namespace
} // namespace boshgate::itest
