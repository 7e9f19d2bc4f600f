#pragma once
#include "boshgate/config/config.hpp"

#include <memory>
#include <string>
#include <vector>

namespace boshgate::server {

/// The process: io_context with N threads, HTTP listeners, BOSH session table, WebSocket
/// hub, upstream shared context, signals (SIGTERM/SIGINT: graceful stop with
/// system-shutdown to BOSH and WebSocket clients; SIGHUP: reload config for new sessions;
/// SIGUSR2: drain, i.e. no new sessions and exit once the open ones have ended or at
/// server.drain_timeout), sd_notify readiness.
class gateway {
public:
    /// `ov`: the command-line overrides, re-applied on every SIGHUP reload.
    explicit gateway(std::shared_ptr<const config::config> cfg, std::string config_path = {},
                     config::overrides ov = {});
    ~gateway();
    /// Bind listeners; throws std::system_error on failure (start-up only).
    void start();
    /// Run until stopped by a signal or stop(). Returns the process exit code.
    int run();
    void stop();
    /// As SIGUSR2 (thread-safe: posted to the main io_context).
    void drain();
    /// SIGUSR1 then restarts in place: `exe` (the binary on disk) with `argv` takes over the
    /// listening sockets (server/handover.hpp). Without this call SIGUSR1 is refused.
    void enable_restart(std::string exe, std::vector<std::string> argv);
    /// Bound TCP port of listener i (tests bind port 0).
    std::uint16_t bound_port(std::size_t i = 0) const;
    /// Bound port of the admin listener (0: [admin] enabled = false).
    std::uint16_t admin_port() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace boshgate::server
