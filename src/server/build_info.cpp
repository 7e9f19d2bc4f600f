// `boshgate --version` (see build_info.hpp).
#include "boshgate/server/build_info.hpp"

#include <ares.h>
#include <boost/version.hpp>
#include <expat.h>
#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <spdlog/version.h>
#include <toml.hpp>

#ifndef BOSHGATE_VERSION
#define BOSHGATE_VERSION "unknown"
#endif
#ifndef BOSHGATE_BUILD_TYPE
#define BOSHGATE_BUILD_TYPE "unknown"
#endif

namespace boshgate::server {

const char* version()
{
    return BOSHGATE_VERSION;
}

const char* build_type()
{
    return BOSHGATE_BUILD_TYPE;
}

std::string build_info()
{
    std::string out = fmt::format("boshgate {} ({} build, g++ {}.{}, C++{})\n", BOSHGATE_VERSION,
                                  BOSHGATE_BUILD_TYPE, __GNUC__, __GNUC_MINOR__, __cplusplus / 100 % 100);
    out += fmt::format("  Boost {}.{}.{} (Asio, Beast)\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                       BOOST_VERSION % 100);
    out += fmt::format("  OpenSSL: built with {}, running {}\n", OPENSSL_VERSION_TEXT, OpenSSL_version(OPENSSL_VERSION));
    out += fmt::format("  expat: built with {}.{}.{}, running {}\n", XML_MAJOR_VERSION, XML_MINOR_VERSION,
                       XML_MICRO_VERSION, XML_ExpatVersion());
    out += fmt::format("  c-ares: built with {}, running {}\n", ARES_VERSION_STR, ares_version(nullptr));
    out += fmt::format("  spdlog {}.{}.{}, fmt {}.{}.{}, toml11 {}.{}.{}\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR,
                       SPDLOG_VER_PATCH, FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100,
                       TOML11_VERSION_MAJOR, TOML11_VERSION_MINOR, TOML11_VERSION_PATCH);
    return out;
}

} // namespace boshgate::server
