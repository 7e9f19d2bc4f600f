// The operator-facing log formats: JSON lines for log shippers and the per-session access
// line.
#include "boshgate/core/access_log.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/core/text.hpp"

#include <gtest/gtest.h>

namespace boshgate::core {
namespace {

using namespace std::chrono_literals;

TEST(log_format, json_quote_escapes_and_repairs)
{
    EXPECT_EQ(json_quote("plain"), "\"plain\"");
    EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(json_quote(std::string("t\tn\nz\0", 6)), "\"t\\u0009n\\u000az\\u0000\"");
    EXPECT_EQ(json_quote("\x7f"), "\"\\u007f\"");
    EXPECT_EQ(json_quote("caf\xc3\xa9 \xe2\x9c\x93"), "\"caf\xc3\xa9 \xe2\x9c\x93\""); // UTF-8 kept
    EXPECT_EQ(json_quote("bad\xff\xc3"), "\"bad\xef\xbf\xbd\xef\xbf\xbd\"");        // each bad byte -> U+FFFD
    EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); // surrogate
}

TEST(log_format, json_line)
{
    const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'849'600'123)); // 2025-12-04T12:00:00.123Z
    EXPECT_EQ(json_log_line(when, spdlog::level::info, "b7 session ended (terminate)"),
              "{\"time\":\"2025-12-04T12:00:00.123Z\",\"level\":\"info\",\"msg\":\"b7 session ended (terminate)\"}");
    EXPECT_EQ(json_log_line(when, spdlog::level::warn, "x\"y"),
              "{\"time\":\"2025-12-04T12:00:00.123Z\",\"level\":\"warning\",\"msg\":\"x\\\"y\"}");
}

TEST(log_format, unknown_format_is_refused)
{
    EXPECT_THROW(init_logging("info", "xml"), std::invalid_argument);
    EXPECT_NO_THROW(init_logging("info", "json"));
    EXPECT_NO_THROW(init_logging("info", "text"));
}

TEST(log_format, access_line)
{
    session_totals t;
    t.up(2, 300);
    t.up(1, 12);
    t.down(100);
    t.down(50);
    EXPECT_EQ(access_line("b3", "bosh", "198.51.100.7", "example.com", 12'345ms, t, "terminate"),
              "b3 access transport=bosh client=198.51.100.7 domain=example.com duration=12.345s up=3/312 "
              "down=2/150 end=terminate");
    EXPECT_EQ(access_line("w1", "websocket", "", "", 5ms, session_totals{}, "client-gone"),
              "w1 access transport=websocket client=- domain=- duration=0.005s up=0/0 down=0/0 end=client-gone");
}

} // namespace
} // namespace boshgate::core
