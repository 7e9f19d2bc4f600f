#include "boshgate/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

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
} // namespace

spdlog::logger& log()
{
    static std::shared_ptr<spdlog::logger> logger = make_logger();
    return *logger;
}

void init_logging(std::string_view level)
{
    auto lvl = spdlog::level::from_str(std::string(level));
    if (lvl == spdlog::level::off && level != "off") {
        throw std::invalid_argument("unknown log level '" + std::string(level) + "'");
    }
    log().set_level(lvl);
    log().flush_on(spdlog::level::warn);
}

} // namespace boshgate::core
