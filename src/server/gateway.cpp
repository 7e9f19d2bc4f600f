#include "boshgate/server/gateway.hpp"
#include "boshgate/server/build_info.hpp"

#include "boshgate/admin/server.hpp"
#include "boshgate/bosh/session_table.hpp"
#include "boshgate/config/values.hpp"
#include "boshgate/core/io_thread.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/http/listener.hpp"
#include "boshgate/limits/admission.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/server/handover.hpp"
#include "boshgate/upstream/connector.hpp"
#include "boshgate/upstream/stream.hpp"
#include "boshgate/websocket/session.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <system_error>
#include <thread>

namespace boshgate::server {

namespace net = boost::asio;

namespace {

/// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET ('@' = abstract namespace).
void sd_notify(const char* state)
{
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0') {
        return;
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::size_t len = std::strlen(path);
    if (len >= sizeof(addr.sun_path)) {
        ::close(fd);
        return;
    }
    std::memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@') {
        addr.sun_path[0] = '\0';
    }
    auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    (void)::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len);
    ::close(fd);
}

/// http.max_connections and limits.max_sessions as far as the open-file limit (raised by
/// main to server.nofile where allowed) can honour them.
limits::effective effective_limits(const config::config& c)
{
    rlimit lim{};
    std::uint64_t nofile = c.server.nofile;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
        nofile = lim.rlim_cur;
    }
    auto e = limits::effective_limits(c.http.max_connections, c.limits.max_sessions, nofile);
    if (e.reduced) {
        core::log().warn("open-file limit {}: serving at most {} connections and {} sessions "
                         "(configured {} / {})",
                         nofile, e.max_connections, e.max_sessions, c.http.max_connections, c.limits.max_sessions);
    }
    return e;
}

/// The admission options in force for `c` (max_sessions reduced to the open-file limit).
std::pair<limits::options, std::size_t> admission_options(const config::config& c)
{
    auto e = effective_limits(c);
    limits::options o = c.limits;
    o.max_sessions = e.max_sessions;
    return {o, e.max_connections};
}

} // namespace

struct gateway::impl {
    impl(std::shared_ptr<const config::config> c, std::string path, config::overrides o)
        : cfg(std::move(c)), config_path(std::move(path)), ov(std::move(o)), signals(ioc, SIGINT, SIGTERM, SIGHUP), grace(ioc), drain_deadline(ioc)
    {
        signals.add(SIGUSR2);
        signals.add(SIGUSR1);
    }

    // One io_context per io thread (Envoy's and nghttpx's model): a connection, its session
    // and its upstream stream run on the thread whose context accepted it, so relaying needs
    // no hand-off between threads. ioc (run by the thread calling run()) also owns the
    // acceptors, signals and shutdown timers; `workers` are run by the other io threads.
    // Concurrency hint 1: each context is run by one thread (posting from others is safe).
    net::io_context ioc{1};
    std::vector<std::unique_ptr<net::io_context>> workers;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> worker_guards;
    std::atomic<std::size_t> next_context{0};
    std::shared_ptr<const config::config> cfg;
    std::string config_path;
    config::overrides ov;
    core::steady_clock clock;
    std::shared_ptr<upstream::shared_context> upstream_ctx;
    std::shared_ptr<bosh::session_table> table;
    std::shared_ptr<websocket::hub> ws_hub;
    std::shared_ptr<limits::admission> admission;
    std::vector<std::shared_ptr<http::listener>> listeners;
    std::unique_ptr<admin::server> admin_listener; ///< stays up while draining (/readyz says so)
    net::signal_set signals;
    net::steady_timer grace;
    net::steady_timer drain_deadline;
    bool stopping = false;
    bool draining = false; ///< SIGUSR2 or POST /drain: no new sessions, exit when none is left
    std::chrono::steady_clock::time_point drain_started;

    // In-place restart (SIGUSR1; server/handover.hpp).
    std::string restart_exe;                ///< the binary on disk (main: /proc/self/exe at start)
    std::vector<std::string> restart_argv;  ///< this process's command line, for the successor
    std::shared_ptr<http::context> http_ctx;
    bool restarting = false;                ///< a successor was started and has not taken over
    bool handed_over = false;               ///< the successor accepts: we only serve our sessions
    int successor_pid = -1;
    std::chrono::steady_clock::time_point restart_started;
    std::unique_ptr<hop_server> hop;        ///< the other process forwards our sids here
    std::unique_ptr<net::posix::stream_descriptor> ready_pipe;
    std::unique_ptr<net::steady_timer> restart_timer;
    int ready_fd = -1;                      ///< successor: tell the predecessor we accept
    std::optional<std::chrono::steady_clock::time_point> idle_since; ///< handed over, no session

    /// Round-robin over the io threads' contexts, for new connections.
    net::io_context& pick_context()
    {
        const std::size_t i = next_context.fetch_add(1, std::memory_order_relaxed) % (workers.size() + 1);
        return i == 0 ? ioc : *workers[i - 1];
    }

    /// Stops every io thread (the end of a drain, or its deadline).
    void stop_all()
    {
        ioc.stop();
        worker_guards.clear();
        for (auto& w : workers) {
            w->stop();
        }
    }

    void wait_signal()
    {
        signals.async_wait([this](boost::system::error_code ec, int sig) {
            if (ec) {
                return;
            }
            if (sig == SIGHUP) {
                reload();
                wait_signal();
                return;
            }
            if (sig == SIGUSR2) {
                begin_drain("signal SIGUSR2");
                wait_signal();
                return;
            }
            if (sig == SIGUSR1) {
                begin_restart();
                wait_signal();
                return;
            }
            core::log().info("signal {}: graceful shutdown", sig);
            begin_stop();
        });
    }

    void reload()
    {
        if (config_path.empty()) {
            return;
        }
        sd_notify("RELOADING=1");
        auto res = config::load(config_path, ov);
        if (auto* errs = std::get_if<std::vector<config::load_error>>(&res)) {
            for (const auto& e : *errs) {
                core::log().error("reload refused: {}: {}", e.where, e.message);
            }
        } else {
            // Listener addresses are fixed for the process lifetime; everything a new
            // session reads (bosh, upstream, xml limits) takes effect for new sessions.
            auto next = std::make_shared<const config::config>(std::get<config::config>(std::move(res)));
            table->set_config(next);
            ws_hub->set_config(next);
            auto [admit_opt, max_conn] = admission_options(*next);
            admission->set_options(admit_opt, max_conn);
            upstream_ctx->guard().set_options(next->limits);
            cfg = next;
            core::log().info("configuration reloaded from {} (applies to new sessions)", config_path);
        }
        sd_notify("READY=1");
    }

    /// Rolling upgrades (README "Scaling out and upgrading"): /readyz turns 503 so that the
    /// balancer sends new sessions elsewhere, and session creations that still arrive get
    /// HTTP 503 (retried elsewhere); the listeners stay open for the open sessions' requests.
    /// The process exits when the last session has ended, or at server.drain_timeout with a
    /// graceful stop of what is left. Returns what the admin endpoint reports.
    std::string begin_drain(std::string_view why, bool refuse_new = true)
    {
        const auto open = [this] {
            return std::to_string(table->size()) + " BOSH and " + std::to_string(ws_hub->size()) +
                   " WebSocket sessions open";
        };
        if (stopping) {
            return "stopping already (" + open() + ")";
        }
        if (draining) {
            return "draining already, since " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::steady_clock::now() - drain_started)
                                      .count()) +
                   " s (" + open() + ")";
        }
        draining = true;
        drain_started = std::chrono::steady_clock::now();
        metrics::global().draining = 1;
        if (refuse_new) {
            table->set_draining(true);
            ws_hub->set_draining(true);
            sd_notify("STATUS=draining: no new sessions; exits when the open ones have ended");
        }
        const auto timeout = cfg->server.drain_timeout;
        std::string what = "draining: " + open() + (refuse_new ? "; new sessions get 503" : "") +
                           "; exit when they have ended, at most " + std::to_string(timeout.count()) +
                           " s (server.drain_timeout)";
        core::log().info("{}: {}", why, what);
        drain_deadline.expires_after(timeout);
        drain_deadline.async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) {
                return;
            }
            core::log().warn("drain_timeout reached with {} BOSH and {} WebSocket sessions open: ending them "
                             "(system-shutdown)",
                             table->size(), ws_hub->size());
            begin_stop();
        });
        poll_drain();
        return what;
    }

    void poll_drain()
    {
        auto t = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(100));
        t->async_wait([this, t](boost::system::error_code) {
            if (stopping) {
                return;
            }
            if (table->size() == 0 && ws_hub->size() == 0 && handed_over &&
                admission->snapshot().connections != 0) {
                // After an in-place restart a client may still send a request on a keep-alive
                // connection to us; give those connections a moment to end (each response
                // closes its connection now), at most 5 s.
                const auto now = std::chrono::steady_clock::now();
                if (!idle_since) {
                    idle_since = now;
                }
                if (now - *idle_since < std::chrono::seconds(5)) {
                    poll_drain();
                    return;
                }
            }
            if (table->size() == 0 && ws_hub->size() == 0) {
                const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - drain_started);
                core::log().info("drained in {:.1f} s: no session left; exiting", static_cast<double>(took.count()) / 1000.0);
                begin_stop();
                return;
            }
            poll_drain();
        });
    }

    /// SIGUSR1: start the binary on disk again with our listening sockets (no connection is
    /// ever refused: the sockets stay open throughout) and a hop for our sids; once it
    /// accepts, stop accepting and serve our sessions until they end (hand_over()). If it
    /// fails to come up, carry on as before.
    void begin_restart()
    {
        if (restart_exe.empty()) {
            core::log().warn("SIGUSR1: in-place restart is not available in this process");
            return;
        }
        if (stopping || draining || restarting) {
            core::log().warn("SIGUSR1 ignored: {}", stopping ? "stopping" : draining ? "draining" : "a restart is under way");
            return;
        }
        restarting = true;
        restart_started = std::chrono::steady_clock::now();
        int pipe_fds[2] = {-1, -1};
        try {
            hop = std::make_unique<hop_server>(ioc, table, cfg->http.max_body_bytes);
            hop->start();
            std::map<std::string, int> fds;
            for (std::size_t i = 0; i < listeners.size(); ++i) {
                fds["http" + std::to_string(i)] = listeners[i]->native_handle();
            }
            if (admin_listener) {
                fds["admin"] = admin_listener->native_handle();
            }
            if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
                throw std::system_error(errno, std::generic_category(), "pipe2");
            }
            successor_pid = spawn_successor(restart_exe, restart_argv, fds, pipe_fds[1], {{env_predecessor, hop->address()}});
            ::close(pipe_fds[1]);
            pipe_fds[1] = -1;
        } catch (const std::exception& e) {
            core::log().error("SIGUSR1: in-place restart failed: {}; carrying on", e.what());
            for (int fd : pipe_fds) {
                if (fd >= 0) {
                    ::close(fd);
                }
            }
            if (hop) {
                hop->stop();
                hop.reset();
            }
            restarting = false;
            return;
        }
        core::log().info("SIGUSR1: in-place restart: started {} (pid {}) on the listening sockets; waiting for it "
                         "to accept",
                         restart_exe, successor_pid);
        ready_pipe = std::make_unique<net::posix::stream_descriptor>(ioc, pipe_fds[0]);
        restart_timer = std::make_unique<net::steady_timer>(ioc, std::chrono::seconds(30));
        restart_timer->async_wait([this](boost::system::error_code ec) {
            if (!ec && restarting && !handed_over) {
                core::log().error("in-place restart: pid {} did not take over within 30 s: stopping it", successor_pid);
                ::kill(successor_pid, SIGKILL);
                ready_pipe->close();
            }
        });
        auto buf = std::make_shared<std::array<char, 256>>();
        auto got = std::make_shared<std::string>();
        read_ready(buf, got);
    }

    /// The successor writes "R <its hop address>\n" once it accepts; EOF before: it failed.
    void read_ready(std::shared_ptr<std::array<char, 256>> buf, std::shared_ptr<std::string> got)
    {
        ready_pipe->async_read_some(net::buffer(*buf), [this, buf, got](boost::system::error_code ec, std::size_t n) {
            if (!ec) {
                got->append(buf->data(), n);
                if (got->find('\n') == std::string::npos && got->size() < 1024) {
                    read_ready(buf, got);
                    return;
                }
            }
            restart_timer->cancel();
            if (got->size() > 2 && got->rfind("R ", 0) == 0 && got->back() == '\n') {
                hand_over(got->substr(2, got->size() - 3));
                return;
            }
            // The pipe closes as the successor exits: give it a moment to become waitable.
            int status = 0;
            std::string how = "still running: stopped";
            pid_t waited = 0;
            for (int i = 0; i < 100 && waited == 0; ++i) {
                waited = ::waitpid(successor_pid, &status, WNOHANG);
                if (waited == 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                }
            }
            if (waited == successor_pid) {
                how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
            } else {
                ::kill(successor_pid, SIGKILL);
                ::waitpid(successor_pid, &status, 0);
            }
            core::log().error("in-place restart failed: pid {} did not take over ({}; its log lines are above); this "
                              "process carries on",
                              successor_pid, how);
            ready_pipe.reset();
            hop->stop();
            hop.reset();
            successor_pid = -1;
            restarting = false;
        });
    }

    /// The successor accepts on the sockets: close our copies (the sockets stay open), answer
    /// our own requests with Connection: close, hand unknown sids to it, and leave when our
    /// last session has ended (or at server.drain_timeout).
    void hand_over(const std::string& successor_hop)
    {
        handed_over = true;
        ready_pipe.reset();
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                restart_started);
        for (auto& l : listeners) {
            l->stop();
        }
        if (admin_listener) {
            admin_listener->stop();
        }
        http_ctx->closing->store(true);
        if (!successor_hop.empty()) {
            connect_hop(successor_hop);
        }
        // systemd: the successor is the service's main process from now on.
        const std::string notify = "MAINPID=" + std::to_string(successor_pid) + "\nREADY=1";
        sd_notify(notify.c_str());
        core::log().info("in-place restart: pid {} accepts on the listening sockets ({} ms after the signal); this "
                         "process stops accepting",
                         successor_pid, took.count());
        begin_drain("in-place restart", false);
    }

    /// Requests for sids we do not know go to the other process of an in-place restart.
    void connect_hop(const std::string& address)
    {
        // The table holds the handler, which holds the client: the client's reference back
        // to the table must be weak.
        std::weak_ptr<bosh::session_table> weak = table;
        auto client = std::make_shared<hop_client>(address, cfg->bosh.max_wait * 2 + std::chrono::seconds(10), [weak] {
            auto t = weak.lock();
            return t ? t->unknown_sid_reply() : bosh::reply{0, {}, {}, true};
        });
        table->set_unknown_sid_handler([client, this](std::string_view body, bool secure,
                                                      const std::optional<net::ip::tcp::endpoint>& client_address,
                                                      bosh::responder& r) {
            if (client->gone()) {
                return false;
            }
            net::io_context* here = core::this_thread_io_context();
            client->forward(here != nullptr ? *here : ioc, hop_request{std::string(body), secure, client_address},
                            std::move(r));
            return true;
        });
    }

    void begin_stop()
    {
        if (stopping) {
            return;
        }
        stopping = true;
        drain_deadline.cancel();
        if (restarting && !handed_over && successor_pid > 0) {
            ::kill(successor_pid, SIGTERM); // it never took over: it goes with us
        }
        sd_notify("STOPPING=1");
        for (auto& l : listeners) {
            l->stop();
        }
        table->shutdown_all();
        ws_hub->shutdown_all();
        signals.cancel();
        // Drain: give held BOSH requests their system-shutdown reply, WebSocket clients their
        // system-shutdown error and closing handshake, and upstream streams their closing
        // handshake, then stop whatever is left.
        grace.expires_after(cfg->server.shutdown_grace);
        grace.async_wait([this](boost::system::error_code) { stop_all(); });
        poll_drained();
    }

    void poll_drained()
    {
        auto t = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(200));
        t->async_wait([this, t](boost::system::error_code) {
            if (table->size() == 0 && ws_hub->size() == 0) {
                // Let the last replies and closing tags reach the wire.
                auto last = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(300));
                last->async_wait([this, last](boost::system::error_code) { stop_all(); });
                return;
            }
            poll_drained();
        });
    }
};

gateway::gateway(std::shared_ptr<const config::config> cfg, std::string config_path, config::overrides ov)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(config_path), std::move(ov)))
{
}

gateway::~gateway() = default;

void gateway::start()
{
    auto& g = *impl_;
    g.upstream_ctx = upstream::make_shared_context(g.cfg->upstream, g.cfg->limits);
    auto [admit_opt, max_conn] = admission_options(*g.cfg);
    g.admission = limits::admission::make(admit_opt, max_conn);
    g.table = std::make_shared<bosh::session_table>(g.ioc.get_executor(), g.cfg, g.upstream_ctx, g.clock,
                                                    g.admission);
    auto ctx = std::make_shared<http::context>();
    ctx->admission = g.admission;
    // Address grouping is fixed for the listeners' lifetime (a reload changes the limits,
    // not how addresses are grouped).
    ctx->limits_opt = std::make_shared<const limits::options>(g.cfg->limits);
    ctx->opt = g.cfg->http;
    ctx->bosh_content_type = g.cfg->bosh.default_content_type;
    ctx->bosh = g.table;
    g.ws_hub = std::make_shared<websocket::hub>(g.cfg, g.upstream_ctx, g.clock);
    ctx->ws = g.ws_hub;
    const unsigned n = g.cfg->server.threads != 0 ? g.cfg->server.threads
                                                  : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < n; ++i) {
        g.workers.push_back(std::make_unique<net::io_context>(1));
        g.worker_guards.push_back(net::make_work_guard(*g.workers.back()));
        // Create the thread's reactor now (epoll, eventfd, timerfd; a timer is the cheapest
        // I/O object that needs it): the process's fd count is then fixed from start-up
        // instead of growing with the first connection each thread serves, and a failure
        // to create them shows here, not at a client.
        net::steady_timer reactor_now(*g.workers.back());
    }
    g.http_ctx = ctx;
    // Started by a predecessor's in-place restart (SIGUSR1): take over its listening sockets
    // where the configuration still names them, and keep a hop to it for its sessions.
    std::map<std::string, int> inherited;
    std::string predecessor;
    if (const char* v = std::getenv(env_listen_fds)) {
        auto parsed = parse_inherited(v);
        if (parsed) {
            inherited = std::move(*parsed);
        } else {
            core::log().warn("{}={}: not understood; binding every listener afresh", env_listen_fds, v);
        }
    }
    if (const char* v = std::getenv(env_ready_fd)) {
        g.ready_fd = std::atoi(v);
    }
    if (const char* v = std::getenv(env_predecessor)) {
        predecessor = v;
    }
    for (const char* name : {env_listen_fds, env_ready_fd, env_predecessor}) {
        ::unsetenv(name);
    }
    const auto take = [&inherited](const std::string& role, const std::string& address, std::uint16_t port) {
        auto it = inherited.find(role);
        if (it == inherited.end()) {
            return -1;
        }
        const int fd = it->second;
        inherited.erase(it);
        if (!socket_bound_to(fd, address, port)) {
            core::log().info("the previous process's {} socket is not on {} any more: closed, binding afresh", role,
                             config::format_host_port(address, port));
            ::close(fd);
            return -1;
        }
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    };
    for (std::size_t i = 0; i < g.cfg->http.listen.size(); ++i) {
        const auto& lo = g.cfg->http.listen[i];
        const int fd = take("http" + std::to_string(i), lo.address, lo.port);
        g.listeners.push_back(std::make_shared<http::listener>(
            g.ioc, [&g]() -> net::io_context& { return g.pick_context(); }, lo, ctx, fd));
    }
    if (g.cfg->admin.enabled) {
        admin::hooks h;
        // Both read on ioc's thread, where signals, reloads and the drain run too.
        h.ready = [&g] { return !g.stopping && !g.draining; };
        h.drain = [&g] { return g.begin_drain("admin POST /drain"); };
        h.config = [&g] { return g.cfg; };
        h.threads = n;
        const int fd = take("admin", g.cfg->admin.address, g.cfg->admin.port);
        g.admin_listener = std::make_unique<admin::server>(g.ioc, g.cfg->admin, std::move(h), fd);
    }
    for (const auto& [role, fd] : inherited) {
        ::close(fd); // a listener the configuration no longer has
    }
    if (!predecessor.empty()) {
        // Our own hop, for the predecessor's requests that name our sids (its clients'
        // keep-alive connections), and one to it for its sids that reach us.
        g.hop = std::make_unique<hop_server>(g.ioc, g.table, g.cfg->http.max_body_bytes);
        g.connect_hop(predecessor);
    }
    for (auto& l : g.listeners) {
        l->start();
    }
    if (g.admin_listener) {
        g.admin_listener->start();
    }
    g.wait_signal();
}

int gateway::run()
{
    auto& g = *impl_;
    std::vector<std::thread> threads;
    for (auto& w : g.workers) {
        threads.emplace_back([ctx = w.get()] {
            core::set_this_thread_io_context(ctx);
            ctx->run();
        });
    }
    core::log().info("boshgate {} ready ({} io threads, one io_context each)", version(), g.workers.size() + 1);
    sd_notify("READY=1");
    if (g.hop) {
        g.hop->start();
    }
    if (g.ready_fd >= 0) {
        // In-place restart: our listeners accept (started in start()); tell the predecessor,
        // which then stops accepting, and where our hop is.
        const std::string msg = "R " + (g.hop ? g.hop->address() : std::string()) + "\n";
        if (::write(g.ready_fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
            core::log().warn("could not tell the previous process that this one accepts: {}", std::strerror(errno));
        }
        ::close(g.ready_fd);
        g.ready_fd = -1;
        core::log().info("in-place restart: took over the listening sockets from pid {}", ::getppid());
    }
    core::set_this_thread_io_context(&g.ioc);
    g.ioc.run();
    core::set_this_thread_io_context(nullptr);
    g.stop_all(); // ioc ran out of work: the others stop too
    for (auto& t : threads) {
        t.join();
    }
    core::log().info("boshgate stopped");
    return 0;
}

void gateway::stop()
{
    net::post(impl_->ioc, [this] { impl_->begin_stop(); });
}

void gateway::enable_restart(std::string exe, std::vector<std::string> argv)
{
    impl_->restart_exe = std::move(exe);
    impl_->restart_argv = std::move(argv);
}

void gateway::drain()
{
    net::post(impl_->ioc, [this] { impl_->begin_drain("drain()"); });
}

std::uint16_t gateway::bound_port(std::size_t i) const
{
    return impl_->listeners.at(i)->port();
}

std::uint16_t gateway::admin_port() const
{
    return impl_->admin_listener ? impl_->admin_listener->port() : 0;
}

} // namespace boshgate::server
