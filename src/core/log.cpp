#include "boshgate/core/log.hpp"

#include "boshgate/core/text.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <ctime>
#include <stdexcept>

namespace boshgate::core {

namespace {
std::shared_ptr<spdlog::logger> make_logger()
{
    auto l = spdlog::stderr_color_mt("boshgate");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    l->set_level(spdlog::level::info);
    return l;
}

/// One JSON object per record (json_log_line).
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override
    {
        const auto line = json_log_line(msg.time, msg.level, std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(line.data(), line.data() + line.size());
        dest.push_back('\n');
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};
} // namespace

spdlog::logger& log()
{
    static std::shared_ptr<spdlog::logger> logger = make_logger();
    return *logger;
}

std::string json_log_line(std::chrono::system_clock::time_point when, spdlog::level::level_enum level,
                          std::string_view msg)
{
    const auto t = std::chrono::system_clock::to_time_t(when);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    const auto lv = spdlog::level::to_string_view(level);
    std::string out = "{\"time\":\"";
    out += stamp;
    out += "\",\"level\":\"";
    out.append(lv.data(), lv.size());
    out += "\",\"msg\":";
    out += json_quote(msg);
    out += '}';
    return out;
}

void init_logging(std::string_view level, std::string_view format)
{
    auto lvl = spdlog::level::from_str(std::string(level));
    if (lvl == spdlog::level::off && level != "off") {
        throw std::invalid_argument("unknown log level '" + std::string(level) + "'");
    }
    if (format == "json") {
        log().set_formatter(std::make_unique<json_formatter>());
    } else if (format == "text") {
        log().set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    } else {
        throw std::invalid_argument("unknown log format '" + std::string(format) + "' (text or json)");
    }
    log().set_level(lvl);
    log().flush_on(spdlog::level::warn);
}

} // namespace boshgate::core
