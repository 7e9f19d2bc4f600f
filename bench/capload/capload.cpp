// capload: a lean load generator for the benchmark's capacity phase (bench/fake_phases.js,
// runCapacity). It fills one boshgate gateway with idle sessions, alternately BOSH and
// WebSocket, as fast as the gateway lets it. The Node clients (bench/bosh_load.js,
// bench/ws_load.js) cost about as much CPU per login as the gateway itself, so on a
// 2-core machine they, not the gateway, set the login rate; this tool costs a fraction.
// Not a product component and not a conformance client: it speaks exactly the sequence
// bench/load_session.js speaks, and scans responses with string_view finds, not XML.
//
// Per session (global index i; even = BOSH user cb<i>, odd = WebSocket user cw<i>;
// password x, resource r; each login has a 30 s deadline):
//  - BOSH (XEP-0124/0206), one keep-alive HTTP/1.1 connection: session creation (polls
//    until <mechanisms>), SASL PLAIN, xmpp:restart (polls until <bind>), resource bind;
//    then idle with exactly one empty request held by the gateway at all times.
//  - WebSocket (RFC 7395, subprotocol xmpp, no permessage-deflate): <open/>, SASL PLAIN,
//    the restart <open/>, resource bind; then idle with one read outstanding (Beast
//    answers the gateway's Pings).
// An error while idle (HTTP status, terminate, <close/>, socket error) marks the session
// failed: it is no longer held.
//
// With --transport bosh or ws every session is of that transport and can also send, for the
// benchmark's scaling phase (runScaling), where the Node clients saturate a core before a
// 1-thread gateway does: `throughput` is bench/throughput.js's exchange (pairs of held
// sessions, A sends <message type='headline'/> to B, each pair keeping K outstanding, a new
// one sent when one arrives) with each client behaving like its Node counterpart: one stanza
// per WebSocket frame; for BOSH one stanza per request over a second keep-alive connection
// (hold + 1 = 2 requests), an empty request whenever none is outstanding.
//
// Usage: capload --port P [--host H] [--bosh-path /http-bind] [--ws-path /xmpp-websocket]
//                [--domain D] [--window W] [--wait S] [--transport mixed|bosh|ws]
// Commands on stdin (a pipe), one per line, in order; one reply line each on stdout:
//   login FIRST COUNT -> done OK FAILED SECONDS FIRST-ERROR-or--
//   held              -> held N      (sessions logged in whose idle loop has not failed)
//   throughput P K S  -> tp PAIRS SENT RECEIVED LOST SECONDS P50-MS P99-MS   (bosh / ws only;
//                        the first 2P held sessions; a message unanswered for 10 s is lost)
//   close             -> closed      (every session's sockets closed, no goodbye)
// EOF on stdin closes everything and exits 0. One io_context, one thread.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (a matching
// class-specific new/delete pair), as in src/http/listener.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* ns_httpbind = "http://jabber.org/protocol/httpbind";
constexpr const char* ns_xbosh = "urn:xmpp:xbosh";
constexpr const char* ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr const char* ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr const char* ns_framing = "urn:ietf:params:xml:ns:xmpp-framing";
constexpr auto login_deadline = std::chrono::seconds(30);
constexpr int max_polls = 4;

/// A login step did not get what it expected; the text says what came instead.
struct step_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// `s` on one line (line breaks become spaces), for the one-line `done` reply.
std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return out;
}

/// Up to 200 characters of `s` on one line, for error texts.
std::string snippet(std::string_view s) {
    return one_line(s.substr(0, 200));
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

/// A bind (or other iq) answered with type='error' or type="error".
bool has_error_type(std::string_view s) {
    return contains(s, "type='error'") || contains(s, "type=\"error\"");
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The value of attribute `name` in a start tag's attribute text (either quote), or empty.
std::string_view attr_value(std::string_view tag, std::string_view name) {
    for (std::size_t at = tag.find(name); at != std::string_view::npos; at = tag.find(name, at + 1)) {
        if (at == 0 || !is_space(tag[at - 1])) {
            continue;
        }
        std::size_t p = at + name.size();
        while (p < tag.size() && is_space(tag[p])) {
            ++p;
        }
        if (p >= tag.size() || tag[p] != '=') {
            continue;
        }
        ++p;
        while (p < tag.size() && is_space(tag[p])) {
            ++p;
        }
        if (p >= tag.size() || (tag[p] != '\'' && tag[p] != '"')) {
            continue;
        }
        auto end = tag.find(tag[p], p + 1);
        if (end == std::string_view::npos) {
            return {};
        }
        return tag.substr(p + 1, end - p - 1);
    }
    return {};
}

/// A BOSH response split into its <body>'s attribute text and the XML of its children.
struct bosh_body {
    bool found = false;
    std::string_view attrs;
    std::string_view inner;
};

bosh_body split_body(std::string_view text) {
    bosh_body b;
    auto open = text.find("<body");
    if (open == std::string_view::npos || open + 5 >= text.size()) {
        return b;
    }
    char after = text[open + 5];
    auto gt = text.find('>', open);
    if (gt == std::string_view::npos || !(is_space(after) || after == '>' || after == '/')) {
        return b;
    }
    b.found = true;
    b.attrs = text.substr(open + 5, gt - open - 5);
    if (!b.attrs.empty() && b.attrs.back() == '/') {
        b.attrs.remove_suffix(1);
        return b;
    }
    auto end = text.rfind("</body>");
    b.inner = end != std::string_view::npos && end > gt ? text.substr(gt + 1, end - gt - 1)
                                                        : text.substr(gt + 1);
    return b;
}

/// SASL PLAIN (RFC 4616) initial response: base64("\0user\0password").
std::string plain_credentials(const std::string& user, std::string_view password) {
    std::string raw;
    raw += '\0';
    raw += user;
    raw += '\0';
    raw += password;
    std::string out(beast::detail::base64::encoded_size(raw.size()), '\0');
    out.resize(beast::detail::base64::encode(out.data(), raw.data(), raw.size()));
    return out;
}

std::string auth_stanza(const std::string& user) {
    return std::string("<auth xmlns='") + ns_sasl + "' mechanism='PLAIN'>" + plain_credentials(user, "x")
           + "</auth>";
}

std::string bind_stanza() {
    return std::string("<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='") + ns_bind
           + "'><resource>r</resource></bind></iq>";
}

enum class transport_mode { mixed, bosh, ws };

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string bosh_path = "/http-bind";
    std::string ws_path = "/xmpp-websocket";
    std::string domain = "bench.test";
    std::size_t window = 400;
    unsigned wait = 50;
    transport_mode transport = transport_mode::mixed;
};

/// What every session shares: the options, the gateway's endpoint, prebuilt texts.
struct shared {
    options opt;
    tcp::endpoint endpoint;
    std::string host_header; // "host:port"
    std::string open_frame;  // the RFC 7395 <open/>
    std::string bind_iq;
    std::mt19937_64 rng{std::random_device{}()};

    /// Sessions that can send (--transport bosh or ws) run a second loop while idle.
    bool duplex() const { return opt.transport != transport_mode::mixed; }
};

/// One session of either transport. Owned by its coroutine (and by the held list once
/// logged in); close() drops its connection without a goodbye.
class session : public std::enable_shared_from_this<session> {
public:
    session(net::io_context& ioc, shared& sh, std::string user) : sh_(sh), user_(std::move(user)), wake_(ioc) {
        // Waits on wake_ end only by cancel(): the expiry is never moved, so that
        // re-arming one waiter cannot cancel another's wait.
        wake_.expires_at(net::steady_timer::time_point::max());
    }
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    virtual ~session() = default;

    /// The transport's opening, SASL PLAIN, the restart and the bind; throws on failure.
    virtual net::awaitable<void> login() = 0;

    /// Returns or throws once the idle session fails (then it is closed). A duplex
    /// session's second loop runs next to the first and closes the session when it fails.
    net::awaitable<void> idle() {
        step_ = "idle";
        if (sh_.duplex()) {
            net::co_spawn(co_await net::this_coro::executor, second_loop(shared_from_this()), net::detached);
        }
        try {
            co_await first_loop();
        } catch (...) {
            close();
            throw;
        }
    }

    /// Queues one stanza for sending (duplex sessions, once idle).
    void send(std::string stanza) {
        queue_.push_back(std::move(stanza));
        wake();
    }

    void close() {
        closed_ = true;
        wake();
        close_transport();
    }

    const std::string& user() const { return user_; }
    const std::string& jid() const { return jid_; }
    const char* step() const { return step_; }

    bool login_done = false;
    bool timed_out = false;
    bool held = false; // counted in tool::held_
    /// While set, called with the id of each <message/> the session receives.
    std::function<void(std::string_view id, steady::time_point at)> on_message;

protected:
    virtual net::awaitable<void> first_loop() = 0;
    virtual net::awaitable<void> second_loop_body() = 0;
    virtual void close_transport() = 0;

    /// Waits until wake_ is cancelled (send(), close(), a BOSH response).
    net::awaitable<void> wait_for_wake() {
        error_code ec;
        co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }

    void wake() { wake_.cancel(); }

    /// Throws once close() was called (the loops' way out).
    void throw_if_closed() const {
        if (closed_) {
            throw step_error("closed");
        }
    }

    /// The full JID of the bind result in acc_.
    void take_jid() {
        auto open = acc_.find("<jid>");
        auto close = acc_.find("</jid>");
        if (open == std::string::npos || close == std::string::npos || close < open) {
            throw step_error("no <jid/> in the bind result: " + snippet(acc_));
        }
        jid_ = acc_.substr(open + 5, close - open - 5);
    }

    /// Hands each <message/>'s id in `xml` to on_message.
    void deliver(std::string_view xml, steady::time_point at) const {
        if (!on_message) {
            return;
        }
        constexpr std::string_view open = "<message";
        for (auto p = xml.find(open); p != std::string_view::npos; p = xml.find(open, p + open.size())) {
            auto gt = xml.find('>', p);
            if (gt == std::string_view::npos) {
                return;
            }
            auto tag = xml.substr(p + open.size(), gt - p - open.size());
            if (tag.empty() || !is_space(tag.front())) {
                continue; // another name with this prefix, or a bare <message>
            }
            if (auto id = attr_value(tag, "id"); !id.empty()) {
                on_message(id, at);
            }
        }
    }

    shared& sh_;
    std::string user_;
    std::string jid_;
    const char* step_ = "connect";
    std::string acc_; // what the current login step has received so far
    std::deque<std::string> queue_; // stanzas waiting to be sent
    bool closed_ = false;

private:
    static net::awaitable<void> second_loop(std::shared_ptr<session> self) {
        try {
            co_await self->second_loop_body();
        } catch (const std::exception&) {
            // The session failed or was closed.
        }
        self->close();
    }

    net::steady_timer wake_;
};

/// BOSH over one keep-alive connection (hold = 1, so one request is held while idle); a
/// duplex session has a second connection for the stanzas it sends (hold + 1 requests).
class bosh_session final : public session {
public:
    bosh_session(net::io_context& ioc, shared& sh, std::string user)
        : session(ioc, sh, std::move(user)), c0_(ioc), c1_(ioc) {
        for (conn* c : {&c0_, &c1_}) {
            c->req.method(http::verb::post);
            c->req.target(sh_.opt.bosh_path);
            c->req.version(11);
            c->req.set(http::field::host, sh_.host_header);
            c->req.set(http::field::content_type, "text/xml; charset=utf-8");
        }
        rid_ = 1000000 + sh_.rng() % 1000000000;
    }

    net::awaitable<void> login() override {
        co_await connect(c0_);

        step_ = "session creation";
        xbosh_body(" content='text/xml; charset=utf-8' hold='1' to='" + sh_.opt.domain +
                   "' ver='1.6' wait='" + std::to_string(sh_.opt.wait) +
                   "' xml:lang='en' xmpp:version='1.0'");
        co_await exchange(true, "<mechanisms", nullptr, "no stream features with mechanisms: ");
        if (!contains(acc_, "PLAIN")) {
            throw step_error("PLAIN not offered: " + snippet(acc_));
        }

        step_ = "SASL PLAIN";
        acc_.clear();
        wrap(c0_, auth_stanza(user_));
        co_await exchange(false, "success", "failure", "SASL failed: ");

        step_ = "restart";
        acc_.clear();
        xbosh_body(" sid='" + sid_ + "' to='" + sh_.opt.domain +
                   "' xml:lang='en' xmpp:restart='true'");
        co_await exchange(false, "<bind", nullptr, "no <bind/> offered: ");

        step_ = "bind";
        acc_.clear();
        wrap(c0_, sh_.bind_iq);
        co_await exchange(false, "<jid>", nullptr, "bind failed: ");
        take_jid();
        acc_ = std::string();
        if (sh_.duplex()) {
            step_ = "second connection";
            co_await connect(c1_);
        }
    }

protected:
    net::awaitable<void> first_loop() override { return pump(c0_); }
    net::awaitable<void> second_loop_body() override { return pump(c1_); }

    void close_transport() override {
        error_code ignored;
        c0_.sock.close(ignored);
        c1_.sock.close(ignored);
    }

private:
    struct conn {
        explicit conn(net::io_context& ioc) : sock(ioc) {}
        tcp::socket sock;
        beast::flat_buffer buf;
        http::request<http::string_body> req;
        http::response<http::string_body> res;
    };

    net::awaitable<void> connect(conn& c) {
        co_await c.sock.async_connect(sh_.endpoint, net::use_awaitable);
        c.sock.set_option(tcp::no_delay(true));
    }

    /// One connection's share of the idle loop: sends the next queued stanza in its own
    /// request, or an empty request when no request is outstanding, and waits otherwise;
    /// every response's messages are delivered.
    net::awaitable<void> pump(conn& c) {
        for (;;) {
            while (!closed_ && queue_.empty() && outstanding_ > 0) {
                co_await wait_for_wake();
            }
            throw_if_closed();
            std::string stanza;
            if (!queue_.empty()) {
                stanza = std::move(queue_.front());
                queue_.pop_front();
            }
            wrap(c, stanza);
            ++outstanding_;
            std::string_view inner;
            try {
                inner = co_await post(c, false);
            } catch (...) {
                --outstanding_;
                throw;
            }
            --outstanding_;
            deliver(inner, steady::now());
            wake(); // the other connection may have to send the empty request now
        }
    }

    /// Clears the request body (keeping its capacity) and returns it.
    static std::string& begin_request(conn& c) {
        c.req.body().clear();
        return c.req.body();
    }

    /// An empty request body with the next rid, `attrs` (each with a leading space) and both
    /// namespaces: the session creation and the restart (XEP-0206). Login only: connection 0.
    void xbosh_body(std::string_view attrs) {
        std::string& b = begin_request(c0_);
        b = "<body rid='";
        b += std::to_string(rid_++);
        b += '\'';
        b += attrs;
        b += " xmlns='";
        b += ns_httpbind;
        b += "' xmlns:xmpp='";
        b += ns_xbosh;
        b += "'/>";
    }

    /// The request body of `c`: `payload` (empty: none) in a <body rid sid/> wrapper.
    void wrap(conn& c, std::string_view payload) {
        std::string& b = begin_request(c);
        b = "<body rid='";
        b += std::to_string(rid_++);
        b += "' sid='";
        b += sid_;
        b += "' xmlns='";
        b += ns_httpbind;
        if (payload.empty()) {
            b += "'/>";
            return;
        }
        b += "'>";
        b += payload;
        b += "</body>";
    }

    /// Sends `c`'s request body, reads the response and returns its children (valid until
    /// the next post on `c`). Throws on a transport error, a status other than 200, a
    /// terminate body or (take_sid) no sid.
    net::awaitable<std::string_view> post(conn& c, bool take_sid) {
        c.req.prepare_payload();
        co_await http::async_write(c.sock, c.req, net::use_awaitable);
        c.res = {};
        co_await http::async_read(c.sock, c.buf, c.res, net::use_awaitable);
        std::string_view text = c.res.body();
        if (c.res.result_int() != 200) {
            throw step_error("HTTP " + std::to_string(c.res.result_int()) + " " + std::string(c.res.reason())
                             + ": " + snippet(text));
        }
        auto body = split_body(text);
        if (!body.found) {
            throw step_error("response is not a BOSH <body/>: " + snippet(text));
        }
        if (attr_value(body.attrs, "type") == "terminate") {
            throw step_error("session terminated by the gateway: condition="
                             + std::string(attr_value(body.attrs, "condition")) + " " + snippet(body.inner));
        }
        if (take_sid) {
            sid_ = attr_value(body.attrs, "sid");
            if (sid_.empty()) {
                throw step_error("no sid in the session creation response: " + snippet(text));
            }
        }
        co_return body.inner;
    }

    /// One login step on connection 0: sends the request body, polls until `want` (or
    /// `alt`) arrived, and throws `failed` plus what arrived unless it was `want`.
    net::awaitable<void> exchange(bool take_sid, const char* want, const char* alt, const char* failed) {
        acc_ += co_await post(c0_, take_sid);
        co_await poll_until(want, alt);
        if (!contains(acc_, want)) {
            throw step_error(failed + snippet(acc_));
        }
    }

    /// Empty polls (at most max_polls) until acc_ has `want`, `alt` (unless null) or an
    /// error type (a bind error). acc_ keeps what came, for the caller to check.
    net::awaitable<void> poll_until(const char* want, const char* alt) {
        for (int i = 0;; ++i) {
            if (contains(acc_, want) || (alt != nullptr && contains(acc_, alt)) || has_error_type(acc_)) {
                co_return;
            }
            if (i >= max_polls) {
                throw step_error(std::string("no ") + want + " after " + std::to_string(max_polls)
                                 + " polls; got: " + snippet(acc_));
            }
            wrap(c0_, {});
            acc_ += co_await post(c0_, false);
        }
    }

    conn c0_; // the login's and the held requests'
    conn c1_; // duplex only: the second of hold + 1 requests
    std::string sid_;
    std::uint64_t rid_ = 0;
    int outstanding_ = 0; // requests written and not yet answered, over both connections
};

/// XMPP over WebSocket (RFC 7395): one stanza per text frame. A duplex session's second
/// loop writes the queued stanzas while the first reads.
class ws_session final : public session {
public:
    ws_session(net::io_context& ioc, shared& sh, std::string user) : session(ioc, sh, std::move(user)), ws_(ioc) {}

    net::awaitable<void> login() override {
        co_await ws_.next_layer().async_connect(sh_.endpoint, net::use_awaitable);
        ws_.next_layer().set_option(tcp::no_delay(true));

        step_ = "WebSocket upgrade";
        ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
            req.set(http::field::sec_websocket_protocol, "xmpp");
        }));
        websocket::response_type res;
        co_await ws_.async_handshake(res, sh_.host_header, sh_.opt.ws_path, net::use_awaitable);
        if (res[http::field::sec_websocket_protocol] != "xmpp") {
            throw step_error("subprotocol \"" + std::string(res[http::field::sec_websocket_protocol])
                             + "\" instead of \"xmpp\"");
        }
        ws_.text(true);

        step_ = "open";
        co_await exchange(sh_.open_frame, "<mechanisms", nullptr);
        if (!contains(acc_, "PLAIN")) {
            throw step_error("PLAIN not offered: " + snippet(acc_));
        }

        step_ = "SASL PLAIN";
        co_await exchange(auth_stanza(user_), "success", "failure");
        if (!contains(acc_, "success")) {
            throw step_error("SASL failed: " + snippet(acc_));
        }

        step_ = "restart";
        co_await exchange(sh_.open_frame, "<bind", nullptr);
        if (!contains(acc_, "<bind")) {
            throw step_error("no <bind/> offered: " + snippet(acc_));
        }

        step_ = "bind";
        co_await exchange(sh_.bind_iq, "<jid>", nullptr);
        if (!contains(acc_, "<jid>")) {
            throw step_error("bind failed: " + snippet(acc_));
        }
        take_jid();
        acc_ = std::string();
    }

protected:
    net::awaitable<void> first_loop() override {
        for (;;) {
            co_await ws_.async_read(buf_, net::use_awaitable);
            auto f = frame();
            check_frame(f);
            deliver(f, steady::now());
            buf_.consume(buf_.size());
        }
    }

    net::awaitable<void> second_loop_body() override {
        for (;;) {
            while (!closed_ && queue_.empty()) {
                co_await wait_for_wake();
            }
            throw_if_closed();
            std::string stanza = std::move(queue_.front());
            queue_.pop_front();
            co_await ws_.async_write(net::buffer(stanza), net::use_awaitable);
        }
    }

    void close_transport() override {
        error_code ignored;
        ws_.next_layer().close(ignored);
    }

private:
    std::string_view frame() const {
        return {static_cast<const char*>(buf_.data().data()), buf_.size()};
    }

    /// Throws if the frame ends the stream (<close/>, a stream error).
    static void check_frame(std::string_view f) {
        if (f.starts_with("<close") || f.starts_with("<error") || f.starts_with("<stream:error")) {
            throw step_error("the gateway closed the stream: " + snippet(f));
        }
    }

    /// Sends `text` in one frame, then reads frames (accumulated in acc_) until they
    /// contain `want`, `alt` (unless null) or a bind error.
    net::awaitable<void> exchange(const std::string& text, const char* want, const char* alt) {
        acc_.clear();
        co_await ws_.async_write(net::buffer(text), net::use_awaitable);
        for (;;) {
            co_await ws_.async_read(buf_, net::use_awaitable);
            auto f = frame();
            check_frame(f);
            acc_ += f;
            buf_.consume(buf_.size());
            if (contains(acc_, want) || (alt != nullptr && contains(acc_, alt)) || has_error_type(acc_)) {
                co_return;
            }
        }
    }

    websocket::stream<tcp::socket> ws_;
    beast::flat_buffer buf_;
};

/// The command interpreter and the sessions it holds.
class tool {
public:
    tool(net::io_context& ioc, shared& sh) : ioc_(ioc), sh_(sh), wake_(ioc) {}

    /// Reads commands from stdin until EOF, then closes everything.
    net::awaitable<void> command_loop(net::posix::stream_descriptor& in) {
        std::string pending;
        for (;;) {
            error_code ec;
            auto n = co_await net::async_read_until(in, net::dynamic_buffer(pending), '\n',
                                                    net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                break; // EOF (a last line without a newline is ignored)
            }
            std::string line = pending.substr(0, n - 1);
            pending.erase(0, n);
            co_await command(line);
        }
        close_all();
    }

private:
    net::awaitable<void> command(const std::string& line) {
        std::istringstream in(line);
        std::string verb;
        in >> verb;
        if (verb == "login") {
            std::uint64_t first = 0;
            std::uint64_t count = 0;
            if (in >> first >> count) {
                co_await ramp(first, count);
            } else {
                reply("error usage: login FIRST COUNT");
            }
        } else if (verb == "held") {
            reply("held " + std::to_string(held_));
        } else if (verb == "throughput") {
            std::size_t pairs = 0;
            std::size_t in_flight = 0;
            double seconds = 0;
            if (!(in >> pairs >> in_flight >> seconds) || pairs == 0 || in_flight == 0 || !(seconds > 0)) {
                reply("error usage: throughput PAIRS IN-FLIGHT SECONDS (each > 0)");
            } else if (!sh_.duplex()) {
                reply("error throughput needs --transport bosh or ws");
            } else {
                co_await throughput(pairs, in_flight, seconds);
            }
        } else if (verb == "close") {
            close_all();
            reply("closed");
        } else if (!verb.empty()) {
            reply("error unknown command: " + verb);
        }
    }

    static void reply(const std::string& line) {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }

    /// Logs in sessions first..first+count-1, at most `window` at once, and replies `done`.
    net::awaitable<void> ramp(std::uint64_t first, std::uint64_t count) {
        ok_ = 0;
        failed_ = 0;
        first_error_.clear();
        auto t0 = std::chrono::steady_clock::now();
        std::uint64_t next = 0;
        while (next < count || in_progress_ > 0) {
            while (next < count && in_progress_ < sh_.opt.window) {
                start_session(first + next++);
            }
            // Each finished login cancels this wait; the loop then reads the counters.
            wake_.expires_at(net::steady_timer::time_point::max());
            error_code ec;
            co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - t0;
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.3f", seconds.count());
        reply("done " + std::to_string(ok_) + " " + std::to_string(failed_) + " " + secs + " "
              + (first_error_.empty() ? std::string("-") : first_error_));
    }

    void start_session(std::uint64_t index) {
        std::shared_ptr<session> s;
        bool bosh = sh_.opt.transport == transport_mode::mixed ? index % 2 == 0
                                                                : sh_.opt.transport == transport_mode::bosh;
        if (bosh) {
            s = std::make_shared<bosh_session>(ioc_, sh_, "cb" + std::to_string(index));
        } else {
            s = std::make_shared<ws_session>(ioc_, sh_, "cw" + std::to_string(index));
        }
        ++in_progress_;
        net::co_spawn(ioc_, run_session(std::move(s)), net::detached);
    }

    /// One session's life: the login under its deadline, then idle until it fails.
    net::awaitable<void> run_session(std::shared_ptr<session> s) {
        net::steady_timer deadline(ioc_);
        deadline.expires_after(login_deadline);
        deadline.async_wait([s](error_code ec) {
            if (!ec && !s->login_done) {
                s->timed_out = true;
                s->close();
            }
        });
        std::string error = co_await guarded_login(*s);
        s->login_done = true;
        deadline.cancel();
        if (s->timed_out) {
            error = "login exceeded 30 s (" + error + ")";
        }
        login_finished(s, error);
        if (!error.empty()) {
            co_return;
        }
        try {
            co_await s->idle();
        } catch (const std::exception&) {
            // Failed while idle (or closed by close_all): it is no longer held.
        }
        if (s->held) {
            s->held = false;
            --held_;
        }
    }

    /// The login; returns "" or why it failed ("user step: text").
    static net::awaitable<std::string> guarded_login(session& s) {
        std::string why;
        try {
            co_await s.login();
            co_return std::string();
        } catch (const boost::system::system_error& e) {
            why = e.code().message();
        } catch (const std::exception& e) {
            why = e.what();
        }
        co_return s.user() + " " + s.step() + ": " + why;
    }

    void login_finished(const std::shared_ptr<session>& s, const std::string& error) {
        --in_progress_;
        if (error.empty()) {
            ++ok_;
            s->held = true;
            ++held_;
            held_sessions_.push_back(s);
        } else {
            ++failed_;
            if (first_error_.empty()) {
                first_error_ = one_line(error);
            }
            s->close();
        }
        wake_.cancel();
    }

    /// One pair's lane: `from` keeps one <message/> to `to` outstanding (seq 0: none).
    struct lane {
        session* from;
        session* to;
        std::uint64_t seq = 0;
        steady::time_point sent_at;
    };

    /// The state of the running `throughput` command.
    struct exchange_run {
        std::vector<lane> lanes;
        steady::time_point end;
        steady::time_point last_stop; // when the last lane went quiet
        std::uint64_t sent = 0;
        std::uint64_t received = 0;
        std::uint64_t lost = 0;
        std::vector<double> rtt_ms;
    };

    static constexpr auto lost_after = std::chrono::seconds(10);

    /// bench/throughput.js's exchange over the first 2 × pairs held sessions; replies `tp`.
    net::awaitable<void> throughput(std::size_t pairs, std::size_t in_flight, double seconds) {
        std::vector<std::shared_ptr<session>> used;
        for (const auto& s : held_sessions_) {
            if (s->held && used.size() < 2 * pairs) {
                used.push_back(s);
            }
        }
        std::size_t n = used.size() / 2;
        if (n == 0) {
            reply("error throughput: " + std::to_string(used.size()) + " session(s) held, 2 needed");
            co_return;
        }
        exchange_run run;
        run_ = &run;
        for (std::size_t p = 0; p < n; ++p) {
            for (std::size_t k = 0; k < in_flight; ++k) {
                run.lanes.push_back(lane{used[2 * p].get(), used[2 * p + 1].get(), 0, {}});
            }
        }
        for (std::size_t i = 0; i < 2 * n; ++i) {
            used[i]->on_message = [this](std::string_view id, steady::time_point at) { arrived(id, at); };
        }
        auto t0 = steady::now();
        run.end = t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
        run.last_stop = t0;
        for (std::size_t i = 0; i < run.lanes.size(); ++i) {
            send_next(i, t0);
        }
        // Arrivals drive the lanes; this loop only finds lost messages and the end.
        net::steady_timer tick(ioc_);
        for (bool busy = true; busy;) {
            tick.expires_after(std::chrono::milliseconds(50));
            co_await tick.async_wait(net::use_awaitable);
            auto now = steady::now();
            busy = false;
            for (std::size_t i = 0; i < run.lanes.size(); ++i) {
                lane& l = run.lanes[i];
                if (l.seq != 0 && now - l.sent_at > lost_after) {
                    l.seq = 0;
                    ++run.lost;
                    send_next(i, now);
                }
                busy = busy || l.seq != 0;
            }
        }
        for (std::size_t i = 0; i < 2 * n; ++i) {
            used[i]->on_message = nullptr;
        }
        run_ = nullptr;
        std::chrono::duration<double> elapsed = run.last_stop - t0;
        char line[160];
        std::snprintf(line, sizeof line, "tp %zu %llu %llu %llu %.3f %s %s", n, static_cast<unsigned long long>(run.sent),
                      static_cast<unsigned long long>(run.received), static_cast<unsigned long long>(run.lost),
                      elapsed.count(), percentile(run.rtt_ms, 50).c_str(), percentile(run.rtt_ms, 99).c_str());
        reply(line);
    }

    /// Nearest-rank percentile in ms with 3 decimals (as bench/proc_stats.js's), "-" for none.
    static std::string percentile(std::vector<double>& v, double p) {
        if (v.empty()) {
            return "-";
        }
        std::sort(v.begin(), v.end());
        auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()))));
        char out[32];
        std::snprintf(out, sizeof out, "%.3f", v[std::min(rank, v.size()) - 1]);
        return out;
    }

    /// Lane i sends its next message, unless the run is over or one of its sessions failed.
    void send_next(std::size_t i, steady::time_point now) {
        lane& l = run_->lanes[i];
        if (now >= run_->end || !l.from->held || !l.to->held) {
            run_->last_stop = std::max(run_->last_stop, now);
            return;
        }
        l.seq = ++seq_;
        l.sent_at = steady::now();
        ++run_->sent;
        std::string m = "<message to='";
        m += l.to->jid();
        m += "' type='headline' id='tp";
        m += std::to_string(i);
        m += '.';
        m += std::to_string(l.seq);
        m += "' xmlns='jabber:client'><body>tp</body></message>";
        l.from->send(std::move(m));
    }

    /// A session received message `id` ("tp<lane>.<seq>") at `at`: that lane's round trip
    /// ends and its next starts, unless the message was already counted lost.
    void arrived(std::string_view id, steady::time_point at) {
        std::size_t i = 0;
        std::uint64_t seq = 0;
        const char* end = id.data() + id.size();
        if (run_ == nullptr || !id.starts_with("tp")) {
            return;
        }
        auto [dot, ec] = std::from_chars(id.data() + 2, end, i);
        if (ec != std::errc() || dot == end || *dot != '.' || std::from_chars(dot + 1, end, seq).ec != std::errc()
            || i >= run_->lanes.size() || run_->lanes[i].seq != seq || seq == 0) {
            return;
        }
        lane& l = run_->lanes[i];
        l.seq = 0;
        ++run_->received;
        run_->rtt_ms.push_back(std::chrono::duration<double, std::milli>(at - l.sent_at).count());
        send_next(i, at);
    }

    /// Closes every held session's connection; their idle loops then end.
    void close_all() {
        for (auto& s : held_sessions_) {
            if (s->held) {
                s->held = false;
                --held_;
            }
            s->close();
        }
        held_sessions_.clear();
    }

    net::io_context& ioc_;
    shared& sh_;
    net::steady_timer wake_;
    std::vector<std::shared_ptr<session>> held_sessions_;
    std::size_t in_progress_ = 0;
    std::size_t held_ = 0;
    std::uint64_t ok_ = 0;
    std::uint64_t failed_ = 0;
    std::string first_error_;
    exchange_run* run_ = nullptr; // while `throughput` runs
    std::uint64_t seq_ = 0;       // the last message sequence number sent ("tp<lane>.<seq>")
};

[[noreturn]] void usage() {
    std::cerr << "usage: capload --port P [--host H] [--bosh-path PATH] [--ws-path PATH] [--domain D]"
                 " [--window W] [--wait S] [--transport mixed|bosh|ws]\n";
    std::exit(2);
}

options parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        std::string v = argv[++i];
        try {
            if (a == "--host") {
                o.host = v;
            } else if (a == "--port") {
                o.port = static_cast<unsigned short>(std::stoul(v));
            } else if (a == "--bosh-path") {
                o.bosh_path = v;
            } else if (a == "--ws-path") {
                o.ws_path = v;
            } else if (a == "--domain") {
                o.domain = v;
            } else if (a == "--window") {
                o.window = std::max<std::size_t>(1, std::stoul(v));
            } else if (a == "--wait") {
                o.wait = static_cast<unsigned>(std::stoul(v));
            } else if (a == "--transport") {
                if (v == "mixed") {
                    o.transport = transport_mode::mixed;
                } else if (v == "bosh") {
                    o.transport = transport_mode::bosh;
                } else if (v == "ws") {
                    o.transport = transport_mode::ws;
                } else {
                    usage();
                }
            } else {
                usage();
            }
        } catch (const std::exception&) {
            usage();
        }
    }
    if (o.port == 0) {
        usage();
    }
    return o;
}

/// One fd per session: the soft open-file limit goes up to the hard one.
void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

} // namespace

int main(int argc, char** argv) {
    shared sh;
    sh.opt = parse_args(argc, argv);
    raise_nofile();
    error_code ec;
    auto address = net::ip::make_address(sh.opt.host, ec);
    if (ec) {
        std::cerr << "capload: --host must be an IP address: " << sh.opt.host << "\n";
        return 2;
    }
    sh.endpoint = tcp::endpoint(address, sh.opt.port);
    sh.host_header = sh.opt.host + ":" + std::to_string(sh.opt.port);
    sh.open_frame = std::string("<open xmlns='") + ns_framing + "' to='" + sh.opt.domain + "' version='1.0'/>";
    sh.bind_iq = bind_stanza();

    net::io_context ioc(1);
    net::posix::stream_descriptor in(ioc);
    in.assign(::dup(0), ec);
    if (ec) {
        std::cerr << "capload: stdin must be a pipe or a terminal: " << ec.message() << "\n";
        return 2;
    }
    tool t(ioc, sh);
    // After EOF every socket is closed: the idle loops end and run() returns.
    net::co_spawn(ioc, t.command_loop(in), [&ioc](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "capload: " << x.what() << "\n";
            }
            ioc.stop();
        }
    });
    ioc.run();
    return 0;
}
