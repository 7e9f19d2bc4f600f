#pragma once
// The admin listener (I/O shell): plain HTTP/1.1 on [admin] address:port, peers limited to
// admin.allow, GET/HEAD, and POST /drain. Serves /metrics (Prometheus text), /healthz (alive),
// /readyz (200 ready, 503 while draining), /status (the live page) and /status.json; samples
// the counters every interval_s for the page's charts. Runs on one io_context (no strand).
#include "boshgate/admin/options.hpp"
#include "boshgate/config/config.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace boshgate::admin {

struct hooks {
    std::function<bool()> ready;                                  ///< false while draining
    /// POST /drain: starts a drain (idempotent); returns the text to report.
    std::function<std::string()> drain;
    std::function<std::shared_ptr<const config::config>()> config; ///< the config in force
    unsigned threads = 1;
};

class server {
public:
    /// Binds, or takes over `inherited_fd` (listening already, from the process this one
    /// replaces). Throws std::system_error on failure: start-up only.
    server(boost::asio::io_context& ioc, const options& opt, hooks h, int inherited_fd = -1);
    ~server();
    void start();
    /// Closes the acceptor and stops sampling; connections end with their current request.
    void stop();
    std::uint16_t port() const;
    int native_handle();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace boshgate::admin
