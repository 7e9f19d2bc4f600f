#pragma once
// In-process integration harness: a real server::gateway on loopback (its own threads), the
// scripted fake XMPP server (tests/support/fake_upstream_server) on its own io thread, and
// small helpers to build BOSH bodies and read their attributes.
//
// Threading: the fake server's state lives on its io thread; the test thread reaches it only
// through fake_server::call(), which posts a function there and waits for its result. The
// gateway is touched only through its public API (start/run/stop/bound_port) and over TCP.
// Waiting: eventually() polls a condition every few milliseconds up to a generous deadline;
// no test asserts a duration other than "before a much longer timer would have fired".
#include "boshgate/config/config.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/server/gateway.hpp"
#include "support/fake_upstream_server.hpp"
#include "support/http_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <variant>

namespace boshgate::itest {

using namespace std::chrono_literals;
using test::fake_upstream_server;
using test::http_client;
using test::http_reply;
using script = fake_upstream_server::script;

inline constexpr std::string_view domain = "xmpp.test";

/// Poll `pred` every 5 ms until it holds or `limit` passes; returns its last value.
template <class Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds limit = 10s)
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

/// Logging level for the gateway under test: $BOSHGATE_TEST_LOG (default "warn").
inline void init_test_logging()
{
    static const bool once = [] {
        const char* lvl = std::getenv("BOSHGATE_TEST_LOG");
        core::init_logging(lvl != nullptr ? lvl : "warn");
        return true;
    }();
    (void)once;
}

/// tests/support/test_certs/<file>, preferring $BOSHGATE_TEST_DATA (set by ctest).
inline std::string cert_path(std::string_view file)
{
    if (const char* data = std::getenv("BOSHGATE_TEST_DATA")) {
        return std::string(data) + "/test_certs/" + std::string(file);
    }
    return test::test_cert_path(file);
}

/// A loopback port with nothing listening on it.
inline std::uint16_t closed_port()
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    auto p = a.local_endpoint().port();
    a.close();
    return p;
}

/// A plain TCP connection with poll()-bounded reads, for byte-level checks (raw framing, EOF).
class raw_conn {
public:
    /// `source`: the local address to connect from (127.0.0.2 plays a second client; Linux
    /// routes all of 127/8 to lo).
    explicit raw_conn(std::uint16_t port, std::string_view source = {}) : sock_(ioc_)
    {
        if (!source.empty()) {
            sock_.open(boost::asio::ip::tcp::v4());
            sock_.bind({boost::asio::ip::make_address(std::string(source)), 0});
        }
        sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }
    void send(std::string_view bytes) { boost::asio::write(sock_, boost::asio::buffer(bytes)); }
    /// Closes with a TCP reset (SO_LINGER 0), as a browser tab that is killed or a network
    /// error looks to the gateway; a plain close is a FIN, which HTTP allows to mean "done
    /// sending" while the reply is still read.
    void reset()
    {
        sock_.set_option(boost::asio::socket_base::linger(true, 0));
        sock_.close();
    }

    struct result {
        std::string bytes; ///< everything read before the end
        bool closed = false; ///< EOF or reset seen (false: `limit` passed first)
    };
    /// Read until `needle` has arrived (returns everything read so far, needle included) or
    /// the peer closes / `limit` passes (returns what was read; the needle is then missing).
    std::string read_until(std::string_view needle, std::chrono::milliseconds limit)
    {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (pending_.find(needle) == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                break;
            }
            pollfd p{sock_.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            char buf[4096];
            auto n = ::recv(sock_.native_handle(), buf, sizeof buf, 0);
            if (n <= 0) {
                break;
            }
            pending_.append(buf, static_cast<std::size_t>(n));
        }
        auto at = pending_.find(needle);
        std::string out;
        if (at == std::string::npos) {
            out = std::move(pending_);
            pending_.clear();
        } else {
            out = pending_.substr(0, at + needle.size());
            pending_.erase(0, at + needle.size());
        }
        return out;
    }

    /// Read until the peer closes the connection or `limit` passes.
    result read_until_closed(std::chrono::milliseconds limit)
    {
        result r;
        r.bytes = std::move(pending_);
        pending_.clear();
        const auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return r;
            }
            pollfd p{sock_.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            char buf[4096];
            auto n = ::recv(sock_.native_handle(), buf, sizeof buf, 0);
            if (n <= 0) {
                r.closed = true;
                return r;
            }
            r.bytes.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket sock_;
    std::string pending_; ///< bytes read past read_until's needle
};

// ------------------------------------------------------------------------------ fake server

/// The fake XMPP server on its own io thread. Scripts may be added before or after
/// connections arrive (add() posts to the io thread).
class fake_server {
public:
    explicit fake_server(fake_upstream_server::config cfg = {})
        : work_(boost::asio::make_work_guard(ioc_)), srv_(std::make_unique<fake_upstream_server>(ioc_, std::move(cfg)))
    {
        port_ = srv_->port();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~fake_server() { stop(); }
    fake_server(const fake_server&) = delete;
    fake_server& operator=(const fake_server&) = delete;

    std::uint16_t port() const { return port_; }

    /// Run `f(server)` on the io thread and return its result.
    template <class F>
    auto call(F f) -> std::invoke_result_t<F, fake_upstream_server&>
    {
        using R = std::invoke_result_t<F, fake_upstream_server&>;
        std::promise<R> p;
        auto fut = p.get_future();
        boost::asio::post(ioc_, [&] {
            if constexpr (std::is_void_v<R>) {
                f(*srv_);
                p.set_value();
            } else {
                p.set_value(f(*srv_));
            }
        });
        return fut.get();
    }

    void add(script s)
    {
        call([&](fake_upstream_server& srv) { srv.add(std::move(s)); });
    }
    std::size_t connection_count()
    {
        return call([](fake_upstream_server& srv) { return srv.connection_count(); });
    }
    /// A copy of connection i's log (empty log if it does not exist yet).
    fake_upstream_server::connection_log log(std::size_t i)
    {
        return call([i](fake_upstream_server& srv) {
            return i < srv.connection_count() ? srv.connection(i) : fake_upstream_server::connection_log{};
        });
    }
    /// Wait until connection i exists and `pred(log)` holds.
    template <class Pred>
    bool wait_for(std::size_t i, Pred pred, std::chrono::milliseconds limit = 10s)
    {
        return eventually([&] { return connection_count() > i && pred(log(i)); }, limit);
    }
    bool wait_received(std::size_t i, std::string_view needle, std::chrono::milliseconds limit = 10s)
    {
        return wait_for(
            i, [&](const auto& l) { return l.received.find(needle) != std::string::npos; }, limit);
    }
    bool wait_done(std::size_t i, std::chrono::milliseconds limit = 10s)
    {
        return wait_for(i, [](const auto& l) { return l.done; }, limit);
    }

    void stop()
    {
        if (!thread_.joinable()) {
            return;
        }
        // The server's destructor closes its sockets: run it on the io thread, let the
        // aborted operations complete, then stop (a script in a bounded TLS shutdown must
        // not delay the test; leftover coroutine frames die with the io_context).
        boost::asio::post(ioc_, [this] {
            srv_.reset();
            boost::asio::post(ioc_, [this] { ioc_.stop(); });
        });
        work_.reset();
        thread_.join();
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::unique_ptr<fake_upstream_server> srv_;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

// ------------------------------------------------------------------------------ config

/// Inline TOML for the gateway under test, loaded by the real loader (conventions rule 11).
/// Each *_extra string is appended inside its section.
struct gateway_options {
    std::uint16_t upstream_port = 1;     ///< fake server port for xmpp.test
    std::string max_wait = "10s";
    std::string negotiate_timeout = "15s";
    std::string server_extra;
    std::string admin_extra;             ///< keys of the [admin] section (port = 0 is set)
    std::string http_extra;
    std::string listen_extra;            ///< more [[http.listen]] blocks (listener 1, 2, ...)
    std::string bosh_extra;
    std::string xml_extra;
    std::string upstream_extra;
    std::string websocket_extra;         ///< keys of the [websocket] section
    std::string domain_extra;            ///< more keys of the xmpp.test domain
    std::string tail;                    ///< more [[upstream.domain]] / [[upstream.route]] blocks
};

inline std::string gateway_toml(const gateway_options& o)
{
    std::string t;
    t += "[server]\nthreads = 2\nshutdown_grace = \"3s\"\n" + o.server_extra + "\n";
    // The admin listener on a port of its own choosing (tests run in parallel).
    t += "[admin]\nport = 0\n" + o.admin_extra + "\n";
    t += "[http]\n" + o.http_extra + "\n";
    t += "[[http.listen]]\naddress = \"127.0.0.1\"\nport = 0\n\n" + o.listen_extra + "\n";
    t += "[bosh]\nmax_wait = \"" + o.max_wait + "\"\ndefault_wait = \"" + o.max_wait + "\"\n";
    // Tests release held requests with new ones in quick succession; §11 frequency
    // enforcement is covered by unit tests (BOSH-OVER-3) and stays out of the way here.
    t += "enforce_polling = false\n" + o.bosh_extra + "\n";
    t += "[xml]\n" + o.xml_extra + "\n";
    t += "[websocket]\n" + o.websocket_extra + "\n";
    t += "[upstream]\nconnect_timeout = \"2s\"\nnegotiate_timeout = \"" + o.negotiate_timeout +
         "\"\nclose_timeout = \"1s\"\n" + o.upstream_extra + "\n";
    t += "[[upstream.domain]]\nname = \"xmpp.test\"\naddress = \"127.0.0.1:" + std::to_string(o.upstream_port) +
         "\"\ntls = \"required\"\ntls_verify = true\nca_file = \"" + cert_path("ca.pem") + "\"\n" + o.domain_extra +
         "\n";
    t += o.tail;
    return t;
}

// ------------------------------------------------------------------------------ gateway

/// A server::gateway running on its own thread (plus the gateway's own io threads).
class gateway_runner {
public:
    gateway_runner() = default;
    ~gateway_runner() { stop(); }
    gateway_runner(const gateway_runner&) = delete;
    gateway_runner& operator=(const gateway_runner&) = delete;

    /// Load `toml` with the real loader, start and run the gateway. Fails the test (fatal)
    /// on a config error.
    void start(const std::string& toml)
    {
        init_test_logging();
        auto res = config::load_string(toml, "integration.toml");
        if (auto* errs = std::get_if<std::vector<config::load_error>>(&res)) {
            std::string all;
            for (const auto& e : *errs) {
                all += e.where + ": " + e.message + "\n";
            }
            FAIL() << "config refused:\n" << all << "---\n" << toml;
        }
        cfg_ = std::make_shared<const config::config>(std::get<config::config>(std::move(res)));
        gw_ = std::make_unique<server::gateway>(cfg_);
        gw_->start();
        port_ = gw_->bound_port(0);
        admin_port_ = gw_->admin_port();
        thread_ = std::thread([this] {
            exit_code_ = gw_->run();
            exited_ = true;
        });
    }

    std::uint16_t port(std::size_t listener = 0) const { return listener == 0 ? port_ : gw_->bound_port(listener); }
    /// The admin listener's port (/metrics, /readyz, /status).
    std::uint16_t admin_port() const { return admin_port_; }
    bool running() const { return thread_.joinable(); }

    /// Graceful stop (system-shutdown to BOSH clients) and join.
    void stop()
    {
        if (!thread_.joinable()) {
            return;
        }
        gw_->stop();
        thread_.join();
        gw_.reset();
    }

    /// Begin a graceful stop without waiting (the test then observes the drain).
    void begin_stop()
    {
        if (gw_) {
            gw_->stop();
        }
    }

    /// Start a drain (as SIGUSR2) without waiting.
    void drain()
    {
        if (gw_) {
            gw_->drain();
        }
    }

    /// Whether run() returned by itself within `limit` (polled; the test then joins).
    bool wait_exited(std::chrono::milliseconds limit)
    {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (!exited_ && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return exited_;
    }
    bool exited() const { return exited_; }
    int exit_code() const { return exit_code_; }

private:
    std::shared_ptr<const config::config> cfg_;
    std::unique_ptr<server::gateway> gw_;
    std::thread thread_;
    std::uint16_t port_ = 0;
    std::uint16_t admin_port_ = 0;
    std::atomic<int> exit_code_{-1};
    std::atomic<bool> exited_{false};
};

// ------------------------------------------------------------------------------ BOSH bodies

/// A chat message to bob carrying `text` (a marker the fake server can wait for).
inline std::string chat(std::string_view text)
{
    return "<message xmlns='jabber:client' to='bob@xmpp.test' type='chat'><body>" + std::string(text) +
           "</body></message>";
}

inline constexpr std::string_view ns_httpbind = "http://jabber.org/protocol/httpbind";

/// Session creation body (XEP-0124 §7.1, XEP-0206 §3).
inline std::string create_body(std::uint64_t rid, std::string_view to = domain, std::string_view extra = {},
                               unsigned wait = 10, unsigned hold = 1)
{
    std::string b = "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='" +
                    std::to_string(rid) + "'";
    if (!to.empty()) {
        b += " to='" + std::string(to) + "'";
    }
    b += " xml:lang='en' wait='" + std::to_string(wait) + "' hold='" + std::to_string(hold) +
         "' ver='1.11' xmpp:version='1.0'";
    if (!extra.empty()) {
        b += " " + std::string(extra);
    }
    b += "/>";
    return b;
}

/// A later request body for `sid`, with payload elements and extra attributes.
inline std::string req_body(std::string_view sid, std::uint64_t rid, std::string_view payload = {},
                            std::string_view extra = {})
{
    std::string b = "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='" +
                    std::to_string(rid) + "' sid='" + std::string(sid) + "'";
    if (!extra.empty()) {
        b += " " + std::string(extra);
    }
    if (payload.empty()) {
        return b + "/>";
    }
    return b + ">" + std::string(payload) + "</body>";
}

inline std::string restart_body(std::string_view sid, std::uint64_t rid)
{
    return req_body(sid, rid, {}, "to='xmpp.test' xml:lang='en' xmpp:restart='true'");
}

inline std::string terminate_req(std::string_view sid, std::uint64_t rid, std::string_view payload = {})
{
    return req_body(sid, rid, payload, "type='terminate'");
}

/// The start tag of the response's <body/> element ("" if there is none).
inline std::string body_start_tag(std::string_view body)
{
    auto b = body.find("<body");
    if (b == std::string_view::npos) {
        return {};
    }
    auto e = body.find('>', b);
    return std::string(body.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b + 1));
}

/// Attribute `name` of the response's <body/> start tag.
inline std::optional<std::string> body_attr(std::string_view body, const std::string& name)
{
    std::string tag = body_start_tag(body);
    std::regex re("\\s" + name + "=(['\"])([^'\"]*)\\1");
    std::smatch m;
    if (std::regex_search(tag, m, re)) {
        return m[2].str();
    }
    return std::nullopt;
}

/// True if the response body is `<body ... type='terminate' condition='cond'>` (cond "" =
/// terminate without a condition).
inline bool is_terminate(std::string_view body, std::string_view cond)
{
    if (body_attr(body, "type") != "terminate") {
        return false;
    }
    auto c = body_attr(body, "condition");
    return cond.empty() ? !c.has_value() : c == std::string(cond);
}

inline std::size_t count(std::string_view hay, std::string_view needle)
{
    std::size_t n = 0;
    for (auto p = hay.find(needle); p != std::string_view::npos; p = hay.find(needle, p + needle.size())) {
        ++n;
    }
    return n;
}

/// Value of one metric from GET /metrics on the admin listener at `port` (counters carry the
/// _total suffix), -1 if absent.
inline std::int64_t metric(std::uint16_t port, std::string_view name)
{
    http_client c(port);
    c.send({}, "/metrics", test::bhttp::verb::get);
    auto r = c.read();
    std::string key = "\nboshgate_" + std::string(name) + " ";
    auto p = r.body.find(key);
    if (p == std::string::npos) {
        key = "\nboshgate_" + std::string(name) + "_total ";
        p = r.body.find(key);
    }
    if (p == std::string::npos) {
        return -1;
    }
    return std::stoll(r.body.substr(p + key.size()));
}

/// A raw HTTP/1.x request with Content-Length (unless a Transfer-Encoding header is given).
inline std::string raw_request(std::string_view method, std::string_view target, std::string_view version,
                               std::initializer_list<std::pair<std::string_view, std::string_view>> headers,
                               std::string_view body = {})
{
    std::string r = std::string(method) + " " + std::string(target) + " " + std::string(version) + "\r\n";
    bool chunked = false;
    for (const auto& [k, v] : headers) {
        r += std::string(k) + ": " + std::string(v) + "\r\n";
        chunked = chunked || k == "Transfer-Encoding";
    }
    if (!chunked && (method == "POST" || !body.empty())) {
        r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    r += "\r\n";
    r += body;
    return r;
}

/// BOSH-HTTP-1, BOSH-HTTP-4: a response framed by Content-Length equal to the body size,
/// never chunked.
inline void expect_length_framed(const http_reply& r)
{
    EXPECT_EQ(r.header("Transfer-Encoding"), "");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

/// How many header fields named `name` the reply carries.
inline std::size_t header_count(const http_reply& r, std::string_view name)
{
    auto range = r.headers.equal_range(name);
    return static_cast<std::size_t>(std::distance(range.first, range.second));
}

// ------------------------------------------------------------------------------ scripts

/// Canned server-to-client stanzas.
inline std::string server_message(std::string_view text)
{
    return "<message from='bob@xmpp.test/x' to='alice@xmpp.test/web' type='chat' id='m1'><body>" +
           std::string(text) + "</body></message>";
}

/// STARTTLS with the server's certificate, up to the client's header on the protected stream.
inline script& starttls_prefix(script& s)
{
    return s.expect_header()
        .send(fake_upstream_server::header("s1") + fake_upstream_server::features_starttls())
        .expect("<starttls")
        .expect(">")
        .send(fake_upstream_server::proceed())
        .start_tls()
        .expect_header();
}

/// STARTTLS with the server's certificate, then the TLS-protected stream with SASL
/// features (SCRAM-SHA-1-PLUS, SCRAM-SHA-1, PLAIN, compression). After this prefix the
/// gateway answers the creation request with the (filtered) features.
inline script& tls_prefix(script& s)
{
    return starttls_prefix(s).send(fake_upstream_server::header("s2") + fake_upstream_server::features_sasl());
}

/// tls_prefix, then keep the stream open (recording) until the gateway closes it.
inline script open_session_script()
{
    script s;
    tls_prefix(s).read_until_eof();
    return s;
}

// ------------------------------------------------------------------------------ fixture

/// One gateway + one fake server per test. Tests call start() with their options (the
/// upstream port is filled in).
class gateway_test : public ::testing::Test {
protected:
    /// No test may hang the suite: client reads are bounded, and as a last line of defence a
    /// watchdog ends the process if one test runs for more than 90 s.
    void SetUp() override
    {
        watchdog_ = std::thread([this] {
            std::unique_lock lock(watchdog_mutex_);
            if (!watchdog_cv_.wait_for(lock, 90s, [this] { return watchdog_done_; })) {
                const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
                std::fprintf(stderr, "integration watchdog: %s.%s hangs; aborting\n",
                             info != nullptr ? info->test_suite_name() : "?", info != nullptr ? info->name() : "?");
                std::fflush(stderr);
                std::abort();
            }
        });
    }

    void TearDown() override
    {
        gw.stop();
        if (fake) {
            fake->stop();
        }
        {
            std::lock_guard lock(watchdog_mutex_);
            watchdog_done_ = true;
        }
        watchdog_cv_.notify_all();
        watchdog_.join();
    }

    /// Start the fake server (if not yet) and the gateway in front of it.
    void start(gateway_options o = {}, fake_upstream_server::config fc = {})
    {
        if (!fake) {
            fake = std::make_unique<fake_server>(std::move(fc));
        }
        o.upstream_port = fake->port();
        gw.start(gateway_toml(o));
    }

    std::uint16_t port() const { return gw.port(); }
    std::uint16_t admin_port() const { return gw.admin_port(); }

    /// POST on a fresh connection.
    http_reply post(const std::string& body)
    {
        http_client c(port());
        return c.post(body);
    }

    /// Create a session through tls_prefix (the script must already be queued) and return
    /// the sid. Fails the test if the creation response is not a session.
    std::string create_session(std::uint64_t rid)
    {
        auto r = post(create_body(rid));
        EXPECT_EQ(r.status, 200u);
        auto sid = body_attr(r.body, "sid");
        EXPECT_TRUE(sid.has_value()) << r.body;
        return sid.value_or("");
    }

    /// A BOSH session whose server (the next fake connection, after tls_prefix) waits for
    /// `marker` and then only reads; returns the client whose request carrying a chat with
    /// `marker` the session now holds (the server has the payload), or null on failure.
    std::unique_ptr<http_client> hold_request(std::string_view marker)
    {
        script s;
        tls_prefix(s).expect(std::string(marker)).read_until_eof();
        fake->add(std::move(s));
        const std::string sid = create_session(1);
        if (sid.empty()) {
            return nullptr;
        }
        auto held = std::make_unique<http_client>(port(), 15s);
        held->send(req_body(sid, 2, chat(marker)));
        const auto index = fake->connection_count() == 0 ? 0 : fake->connection_count() - 1;
        if (!fake->wait_received(index, std::string(marker))) {
            ADD_FAILURE() << "the server never received " << marker;
            return nullptr;
        }
        return held;
    }

    gateway_runner gw;
    std::unique_ptr<fake_server> fake;

private:
    std::thread watchdog_;
    std::mutex watchdog_mutex_;
    std::condition_variable watchdog_cv_;
    bool watchdog_done_ = false;
};

} // namespace boshgate::itest
