// boshgate entry point: parse flags, load and validate the config, raise the open-file limit,
// run the gateway. The only code outside boshgate_core; everything testable lives in
// src/config (load_file, apply_overrides). Exit codes: 0 success / config OK, 1 invalid
// config or start-up failure, 2 bad command line.
#include "boshgate/config/config.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/server/build_info.hpp"
#include "boshgate/server/gateway.hpp"

#include <boost/program_options.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace po = boost::program_options;
namespace config = boshgate::config;

constexpr const char* default_config_path = "/etc/boshgate/boshgate.toml";

void print_errors(const std::vector<config::load_error>& errors)
{
    for (const auto& e : errors) {
        std::cerr << e.where << ": " << e.message << '\n';
    }
}

/// Raise RLIMIT_NOFILE's soft limit toward `wanted`, never above the hard limit (raising the
/// hard limit needs CAP_SYS_RESOURCE; under systemd LimitNOFILE= sets both). Logs the result.
void raise_nofile(std::uint64_t wanted)
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        boshgate::core::log().warn("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno));
        return;
    }
    const rlim_t target = lim.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(wanted)
                                                         : std::min(static_cast<rlim_t>(wanted), lim.rlim_max);
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < target) {
        rlimit next = lim;
        next.rlim_cur = target;
        if (::setrlimit(RLIMIT_NOFILE, &next) != 0) {
            boshgate::core::log().warn("setrlimit(RLIMIT_NOFILE, {}): {}", static_cast<std::uint64_t>(target),
                                       std::strerror(errno));
        } else {
            lim = next;
        }
    }
    const auto got = static_cast<std::uint64_t>(lim.rlim_cur);
    if (lim.rlim_cur != RLIM_INFINITY && got < wanted) {
        boshgate::core::log().warn("open-file limit {} (server.nofile = {}, hard limit {}): fewer concurrent "
                                   "sessions than configured; raise LimitNOFILE / ulimit -Hn",
                                   got, wanted, static_cast<std::uint64_t>(lim.rlim_max));
    } else {
        boshgate::core::log().info("open-file limit {} (server.nofile = {})", got, wanted);
    }
}

} // namespace

int main(int argc, char** argv)
{
    // glibc returns free memory at the top of a heap to the kernel once it exceeds 128 KiB
    // (brk/madvise, then a TLB shootdown on every CPU of a threaded process). Relaying,
    // which frees and reallocates read buffers and parser state all the time, crossed
    // that line back and forth: ~2 % of the gateway's CPU in brk(2) under load (perf,
    // bench/README.md, issue 9). A fixed 2 MiB threshold keeps that much at most.
    mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
    mallopt(M_TOP_PAD, 256 * 1024);
    std::string config_path;
    config::overrides ov;
    bool check_only = false;

    po::options_description desc("Usage: boshgate [options]\n\nBOSH / XMPP-over-WebSocket gateway to XMPP "
                                 "servers.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "print this help and exit")
        ("version", "print the version and exit")
        ("config,c", po::value<std::string>(&config_path)->default_value(default_config_path), "configuration file (TOML)")
        ("check-config", po::bool_switch(&check_only), "validate the configuration, print \"config OK\" or each error, and exit 0/1")
        ("listen", po::value<std::vector<std::string>>()->composing(), "ADDR:PORT to listen on ([v6]:PORT); repeatable; replaces the file's [[http.listen]]")
        ("log-level", po::value<std::string>(), "trace|debug|info|warn|error|off; overrides server.log_level")
        ("threads", po::value<std::int64_t>(), "I/O threads, 0 = one per CPU; overrides server.threads");
    // clang-format on

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "boshgate: " << e.what() << "\nTry 'boshgate --help'.\n";
        return 2;
    }
    if (vm.count("help") != 0) {
        std::cout << desc << "\nSignals:\n"
                             "  SIGHUP   reload the file (applies to new sessions)\n"
                             "  SIGUSR2  drain: no new sessions; exit once the open ones have ended\n"
                             "           (at most server.drain_timeout)\n"
                             "  SIGUSR1  restart in place: the binary on disk takes over the listening\n"
                             "           sockets; this process keeps its sessions until they end\n"
                             "  SIGTERM  stop gracefully (open sessions get system-shutdown)\n"
                             "Every option of the file: the commented boshgate.toml; more: man boshgate.\n";
        return 0;
    }
    if (vm.count("version") != 0) {
        std::cout << boshgate::server::build_info();
        return 0;
    }
    if (vm.count("listen") != 0) {
        ov.listen = vm["listen"].as<std::vector<std::string>>();
    }
    if (vm.count("log-level") != 0) {
        ov.log_level = vm["log-level"].as<std::string>();
    }
    if (vm.count("threads") != 0) {
        ov.threads = vm["threads"].as<std::int64_t>();
    }

    auto loaded = config::load(config_path, ov);
    if (auto* errors = std::get_if<std::vector<config::load_error>>(&loaded)) {
        print_errors(*errors);
        return 1;
    }
    if (check_only) {
        std::cout << "config OK\n";
        return 0;
    }
    auto cfg = std::make_shared<const config::config>(std::get<config::config>(std::move(loaded)));

    try {
        boshgate::core::init_logging(cfg->server.log_level, cfg->server.log_format);
        raise_nofile(cfg->server.nofile);
        // SIGHUP re-reads this path; make it independent of the working directory.
        std::error_code ec;
        auto abs = std::filesystem::absolute(config_path, ec);
        boshgate::server::gateway gw(cfg, ec ? config_path : abs.string(), ov);
        // SIGUSR1 (in-place restart) starts the binary found at this path then, with this
        // command line: after a package upgrade, the new one.
        auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        if (!ec) {
            gw.enable_restart(exe.string(), std::vector<std::string>(argv, argv + argc));
        }
        try {
            gw.start();
        } catch (const std::exception& e) {
            // The process logger writes to stderr (the journal under systemd).
            boshgate::core::log().critical("start-up failed: {}", e.what());
            return 1;
        }
        return gw.run();
    } catch (const std::exception& e) {
        std::cerr << "boshgate: fatal: " << e.what() << '\n';
        return 1;
    }
}
