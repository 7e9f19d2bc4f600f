// One HTTP/1.x connection. Requests are read continuously, even while a BOSH request on
// this connection is held (BOSH-HTTP-7: a pipelined request is processed at once, which
// releases the held one), and responses are written strictly in request order through one
// write queue of response slots (conventions rule 4).
//
// WebSocket upgrade (RFC 7395 on websocket_path): an accepted upgrade request is the last
// request read on the connection. The writer first writes the responses of any requests
// pipelined before it, in order, then hands the stream to websocket::run_session on this
// strand and the connection object goes away without touching the socket again. Bytes the
// client sent after the upgrade request, before the 101, are discarded: RFC 6455 §4.1 has
// the client wait for the server's handshake before it sends any frame.
#include "boshgate/core/clock.hpp"
#include "boshgate/core/fifo.hpp"
#include "boshgate/core/idle_sweep.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/core/timer.hpp"
#include "boshgate/http/cors.hpp"
#include "boshgate/http/listener.hpp"
#include "boshgate/http/discovery.hpp"
#include "boshgate/http/forwarded.hpp"
#include "boshgate/http/static_files.hpp"
#include "boshgate/http/wire.hpp"
#include "boshgate/limits/metrics.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/websocket/handshake.hpp"
#include "boshgate/websocket/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <fstream>
#include <sstream>

namespace boshgate::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using net::as_tuple;
using net::use_awaitable;

namespace {

constexpr std::size_t max_pipelined = 8;               // slots per connection before reads pause
constexpr std::chrono::seconds held_backstop{300};     // beyond idle_timeout while a reply is held
constexpr std::size_t first_read_bytes = 4096;         // TLS: first read of a next request
const auto never = core::time_point::max();
const char* static_csp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

using response = bhttp::response<bhttp::string_body>;

struct slot {
    std::optional<response> res;
    unsigned version = 11;
    bool keep_alive = true;
    bool close_after = false;  // close the connection after writing this response
    bool drop = false;         // close the connection without writing anything
    origin_decision cors;
    bosh::pending_request abort; // tells the BOSH session the request went away
    // An accepted WebSocket upgrade: when this slot reaches the front of the queue the
    // writer hands the stream off instead of writing a response. On the heap: every BOSH
    // request's slot (a held one lives as long as its wait) would carry ~200 unused bytes.
    struct upgrade_data {
        websocket::request req;
        std::string protocol;
        limits::ticket session; ///< the upgrade's session admission
    };
    std::unique_ptr<upgrade_data> upgrade;
    limits::address_key client;  ///< who the request speaks for (see request_client)
    tcp::endpoint client_address; ///< its address (port 0 when a forwarding header named it)
};

const char* info_page =
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>boshgate</title></head><body>"
    "<h1>boshgate BOSH endpoint</h1><p>This URL accepts XMPP over BOSH (XEP-0124, XEP-0206): "
    "POST <code>&lt;body/&gt;</code> documents here with an XMPP client library.</p></body></html>";

template <class Stream>
class connection : public core::idle_sweep::client, public std::enable_shared_from_this<connection<Stream>> {
    static constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

public:
    /// Issue 9: asked by the io thread's sweep once a plain connection has waited a whole
    /// sweep period for its next request (a BOSH client's held request sits on such a
    /// connection for up to `wait` seconds), the reader coroutine gives way to a callback
    /// wait: it cancels its socket wait, unless a reply is being written (a cancel would
    /// abort that too; asked again at the next sweep).
    bool release_idle() noexcept override
    {
        if (!reader_idle_ || closed_ || park_requested_) {
            return true;
        }
        if (writer_running_) {
            return false;
        }
        park_requested_ = true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream_).cancel(ignored); // see reader(): it parks
        return true;
    }

    /// `client_address`: the TCP peer or what a PROXY header named (nullopt: the TCP peer,
    /// read from the socket).
    connection(Stream&& stream, std::shared_ptr<const context> ctx, limits::ticket admitted,
               std::optional<tcp::endpoint> client_address)
        : admitted_(std::move(admitted)),
          stream_(std::move(stream)),
          ctx_(std::move(ctx)),
          watchdog_(stream_.get_executor())
    {
        ++metrics::global().http_connections_active;
        boost::system::error_code ec;
        peer_ = client_address ? *client_address : beast::get_lowest_layer(stream_).remote_endpoint(ec);
        client_ = admitted_ ? admitted_.key() : client_key(peer_.address(), *ctx_->limits_opt);
    }

    ~connection() { --metrics::global().http_connections_active; }

    void start()
    {
        // Each coroutine owns the connection through its `self` parameter: coroutines start
        // lazily, so a shared_from_this() inside the body would run after the caller's
        // temporary is gone.
        auto ex = stream_.get_executor();
        auto self = this->shared_from_this();
        net::co_spawn(ex, reader(self), net::detached);
        // The writer starts when there is something to write (kick_writer); the watchdog is
        // a timer wait armed for the nearer deadline (arm_watchdog).
    }

private:
    // ------------------------------------------------------------------ deadlines
    void set_read_deadline(core::time_point t)
    {
        read_deadline_ = t;
        arm_watchdog();
    }
    void set_write_deadline(core::time_point t)
    {
        write_deadline_ = t;
        arm_watchdog();
    }

    /// The watchdog: a core::deadline_timer for the nearer deadline (a callback, not a
    /// coroutine: an idle connection keeps no frame for it; issue 9). Its wait owns the
    /// connection until it ends, as the coroutine did. A deadline pushed later leaves the
    /// wait as it is, so the usual request (deadlines pushed later several times each) makes
    /// no timer-queue operation at all (issue 9: CPU per message).
    void arm_watchdog()
    {
        if (closed_) {
            return;
        }
        const auto due = std::min(read_deadline_, write_deadline_);
        watchdog_.arm(due == never ? std::nullopt : std::optional(due), this->shared_from_this(),
                      [](connection& self) { self.on_watchdog(); });
    }

    void on_watchdog()
    {
        if (closed_) {
            return;
        }
        if (core::clock_type::now() >= write_deadline_) {
            // The client accepts nothing: reset, do not leave the reply in the kernel.
            boost::system::error_code ignored;
            beast::get_lowest_layer(stream_).set_option(net::socket_base::linger(true, 0), ignored);
        }
        abort_pending();
        close();
    }

    // ------------------------------------------------------------------ reading
    net::awaitable<void> reader([[maybe_unused]] std::shared_ptr<connection> self)
    {
        const auto& opt = ctx_->opt;
        if constexpr (is_tls) {
            set_read_deadline(core::clock_type::now() + opt.header_timeout);
            auto [ec] = co_await stream_.async_handshake(net::ssl::stream_base::server,
                                                         as_tuple(use_awaitable));
            if (ec) {
                close();
                co_return;
            }
        }
        for (;;) {
            while (slots_.size() >= max_pipelined && !closed_) {
                auto& wake = read_wake_.use(stream_.get_executor());
                wake.expires_at(never);
                co_await wake.async_wait(as_tuple(use_awaitable));
            }
            if (closed_) {
                co_return;
            }
            if (buffer_.size() == 0) {
                // SEC-DL-1: a deadline is armed at every moment, plain and TLS alike.
                // Before the first request: header_timeout (a fresh connection must speak
                // at once). Between requests: idle_timeout; while a BOSH reply is held for
                // this client it is not idle, and the held request ends within its `wait`,
                // so a longer backstop applies. If a reply is still queued, the writer
                // re-arms the idle deadline once the last one is out (idle_wait_).
                idle_wait_ = true;
                auto now = core::clock_type::now();
                set_read_deadline(first_request_ ? now + opt.header_timeout
                                  : slots_.empty() ? now + opt.idle_timeout
                                                   : now + opt.idle_timeout + held_backstop);
                if constexpr (!is_tls) {
                    // Once a plain connection is idle for a sweep period, it holds no
                    // coroutine and no read buffer (release_idle(), park()).
                    auto& lowest = beast::get_lowest_layer(stream_);
                    core::idle_sweep::of(lowest.get_executor())
                        .touch(*this, [this] { return this->weak_from_this(); }, lowest.get_executor());
                    reader_idle_ = true;
                    auto [ec] = co_await lowest.async_wait(tcp::socket::wait_read, as_tuple(use_awaitable));
                    reader_idle_ = false;
                    if (std::exchange(park_requested_, false) && ec == net::error::operation_aborted && !closed_) {
                        park(); // idle_wait_ stays set: the deadline logic is unchanged
                        co_return;
                    }
                    idle_wait_ = false;
                    if (ec || closed_) {
                        on_read_failed(ec);
                        co_return;
                    }
                } else {
                    // TLS: readable socket bytes may be a record that holds no request byte,
                    // and bytes may sit decrypted in OpenSSL; read at least one byte of the
                    // next request under the idle deadline.
                    auto [ec, got] = co_await stream_.async_read_some(buffer_.prepare(first_read_bytes),
                                                                      as_tuple(use_awaitable));
                    idle_wait_ = false;
                    buffer_.commit(got);
                    if (ec || closed_) {
                        on_read_failed(got == 0 && ec == net::error::eof ? bhttp::error::end_of_stream
                                                                        : ec);
                        co_return;
                    }
                }
            }
            // Bytes of a request are here: the whole request must follow within
            // header_timeout, however the previous one ended (extra bytes pipelined in the
            // same TLS record included).
            first_request_ = false;
            set_read_deadline(core::clock_type::now() + opt.header_timeout);
            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
            parser.body_limit(opt.max_body_bytes);
            auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, parser, as_tuple(use_awaitable));
            idle_wait_ = false;
            set_read_deadline(never);
            if (ec) {
                // body_limit is only ever reported once the fields are parsed, but Beast
                // reports a Content-Length above the limit before is_header_done() turns true.
                if (ec == bhttp::error::body_limit) {
                    reject_oversize(parser.get());
                    co_return;
                }
                on_read_failed(ec);
                co_return;
            }
            ++metrics::global().http_requests;
            auto req = parser.release();
            bool keep = req.keep_alive();
            handle(std::move(req));
            if (upgrading_ || !keep) {
                reading_done_ = true;
                kick_writer();
                co_return;
            }
        }
    }

    /// The parked reader: one callback wait on the socket. Readable (or an error) starts
    /// reader() again, which finds the request (or the error) at once; close() ends the wait
    /// with the socket. The handler owns the connection, as the reader did.
    void park()
    {
        ++metrics::global().http_readers_parked;
        // The read buffer is empty (the reader parks only between requests), but keeps the
        // capacity of the last request read into it: give it back while the client is quiet.
        buffer_.shrink_to_fit();
        beast::get_lowest_layer(stream_).async_wait(
            tcp::socket::wait_read, core::exact_alloc([self = this->shared_from_this()](boost::system::error_code) {
                --metrics::global().http_readers_parked;
                if (self->closed_) {
                    return;
                }
                net::co_spawn(self->stream_.get_executor(), self->reader(self), net::detached);
            }));
    }

    void on_read_failed(boost::system::error_code ec)
    {
        if (closed_) {
            return;
        }
        if (ec == bhttp::error::end_of_stream) {
            // Clean end between requests: finish what is queued, then close.
            reading_done_ = true;
            kick_writer();
            return;
        }
        if (ec == bhttp::error::partial_message) {
            abort_pending();
            close();
            return;
        }
        if (ec.category() == bhttp::make_error_code(bhttp::error::header_limit).category()) {
            ++metrics::global().http_bad_requests;
            unsigned status = ec == bhttp::error::header_limit ? 431 : 400;
            auto s = std::make_shared<slot>();
            s->close_after = true;
            s->keep_alive = false;
            s->res = plain_response(*s, static_cast<bhttp::status>(status),
                                    ec == bhttp::error::header_limit ? "request header too large\n"
                                                                     : "malformed HTTP request\n");
            slots_.push_back(s);
            reading_done_ = true;
            kick_writer();
            return;
        }
        // Reset, timeout (watchdog closed the socket), TLS failure: nothing more to say.
        abort_pending();
        close();
    }

    void reject_oversize(const bhttp::request<bhttp::string_body>& req)
    {
        ++metrics::global().http_bad_requests;
        auto s = std::make_shared<slot>();
        s->version = req.version();
        s->keep_alive = false;
        s->close_after = true;
        s->cors = decide_origin(ctx_->opt, header(req, bhttp::field::origin));
        if (target_path(req) == ctx_->opt.bosh_path && req.method() == bhttp::verb::post) {
            // BOSH-COND-8: an oversized body is a policy violation. Legacy-ness is unknown
            // without the body, so HTTP 200 (GAP-2).
            s->res = bosh_response(*s, bosh::reply{200, ctx_->bosh_content_type,
                                                   bosh::terminate_body(bosh::condition::policy_violation,
                                                                        "XEP-0124 17.2: request body too large"),
                                                   false});
        } else {
            s->res = plain_response(*s, bhttp::status::payload_too_large, "request body too large\n");
        }
        slots_.push_back(s);
        reading_done_ = true;
        kick_writer();
    }

    // ------------------------------------------------------------------ routing
    static std::optional<std::string_view> header(const bhttp::request<bhttp::string_body>& req,
                                                  bhttp::field f)
    {
        auto it = req.find(f);
        if (it == req.end()) {
            return std::nullopt;
        }
        return std::string_view(it->value().data(), it->value().size());
    }

    static std::string_view target_path(const bhttp::request<bhttp::string_body>& req)
    {
        std::string_view t(req.target().data(), req.target().size());
        return t.substr(0, t.find('?'));
    }

    /// The client this request speaks for (admission group and address): the connection's
    /// client, or, when that is a trusted proxy, the address its Forwarded / X-Forwarded-For
    /// names.
    void set_request_client(slot& s, const bhttp::request<bhttp::string_body>& req) const
    {
        s.client = client_;
        s.client_address = peer_;
        const auto& trusted = ctx_->opt.trusted_proxies;
        if (trusted.empty() || !trusted.contains(peer_.address())) {
            return;
        }
        const auto joined = [&](auto field) -> std::optional<std::string> {
            auto range = req.equal_range(field);
            if (range.first == range.second) {
                return std::nullopt;
            }
            std::string all;
            for (auto it = range.first; it != range.second; ++it) {
                all += all.empty() ? "" : ",";
                all.append(it->value().data(), it->value().size());
            }
            return all;
        };
        const auto fwd = joined(bhttp::field::forwarded);
        const auto xff = joined("X-Forwarded-For");
        if (!fwd && !xff) {
            return;
        }
        const auto a = forwarded_client(peer_.address(), fwd, xff, trusted);
        if (a != peer_.address()) {
            s.client = client_key(a, *ctx_->limits_opt);
            s.client_address = tcp::endpoint(a, 0);
        }
    }

    void handle(bhttp::request<bhttp::string_body>&& req)
    {
        const auto& opt = ctx_->opt;
        auto s = std::make_shared<slot>();
        set_request_client(*s, req);
        s->version = req.version();
        s->keep_alive = req.keep_alive();
        slots_.push_back(s);
        auto path = target_path(req);
        auto origin = header(req, bhttp::field::origin);
        s->cors = decide_origin(opt, origin);

        if (path == opt.websocket_path) {
            route_websocket(*s, std::move(req));
        } else if (path == opt.bosh_path) {
            switch (req.method()) {
            case bhttp::verb::options: {
                // WEB-1: preflight. No session side effects.
                if (!s->cors.allowed) {
                    ++metrics::global().http_cors_refused;
                    s->res = plain_response(*s, bhttp::status::forbidden, "origin not allowed\n");
                    break;
                }
                response res{bhttp::status::no_content, s->version};
                apply_cors(res, s->cors);
                if (s->cors.allow_origin) {
                    res.set(bhttp::field::access_control_allow_methods, "POST, GET, OPTIONS");
                    res.set(bhttp::field::access_control_allow_headers,
                            preflight_allow_headers(header(req, bhttp::field::access_control_request_headers)));
                    res.set(bhttp::field::access_control_max_age, std::to_string(opt.cors_max_age.count()));
                }
                finish(*s, res);
                s->res = std::move(res);
                break;
            }
            case bhttp::verb::post:
                if (!s->cors.allowed) {
                    ++metrics::global().http_cors_refused;
                    s->res = plain_response(*s, bhttp::status::forbidden, "origin not allowed\n");
                    break;
                }
                dispatch_bosh(s, std::move(req.body()));
                break;
            case bhttp::verb::get:
            case bhttp::verb::head: {
                // BOSH-HTTP-2: GET never creates or touches a session.
                s->res = text_response(*s, bhttp::status::ok, "text/html; charset=utf-8", info_page);
                if (req.method() == bhttp::verb::head) {
                    s->res->body().clear();
                }
                break;
            }
            default: {
                auto res = plain_response(*s, bhttp::status::method_not_allowed, "method not allowed\n");
                res.set(bhttp::field::allow, "GET, HEAD, POST, OPTIONS");
                s->res = std::move(res);
            }
            }
        } else if (path == "/healthz" && is_read(req.method())) {
            s->res = plain_response(*s, bhttp::status::ok, "ok\n");
        } else if (opt.host_meta && (path == host_meta_path || path == host_meta_json_path)) {
            serve_host_meta(*s, req, path == host_meta_json_path);
        } else if (!opt.static_dir.empty() && is_read(req.method())) {
            serve_static(*s, req);
        } else {
            s->res = plain_response(*s, bhttp::status::not_found, "not found\n");
        }
        if (s->res) {
            kick_writer();
        }
    }

    static bool is_read(bhttp::verb v) { return v == bhttp::verb::get || v == bhttp::verb::head; }

    /// RFC 7395 §3.1 upgrade on websocket_path: refused with a plain-text response, or
    /// accepted (the slot carries the request and the reader stops after it).
    void route_websocket(slot& s, bhttp::request<bhttp::string_body>&& req)
    {
        if (!ctx_->ws || !ctx_->ws->config()->websocket.enabled) {
            s.res = plain_response(s, bhttp::status::not_found, "not found\n");
            return;
        }
        // Sec-WebSocket-Protocol may be repeated; the offers form one comma-separated list.
        std::string protocols;
        bool has_protocols = false;
        auto offers = req.equal_range(bhttp::field::sec_websocket_protocol);
        for (auto it = offers.first; it != offers.second; ++it) {
            if (has_protocols) {
                protocols += ", ";
            }
            protocols.append(it->value().data(), it->value().size());
            has_protocols = true;
        }
        websocket::upgrade_request u;
        u.method = std::string_view(req.method_string().data(), req.method_string().size());
        u.is_upgrade = boost::beast::websocket::is_upgrade(req);
        if (has_protocols) {
            u.protocols = protocols;
        }
        u.origin = header(req, bhttp::field::origin);
        auto d = websocket::check_upgrade(ctx_->opt, u);
        if (!d.accept) {
            ++metrics::global().ws_handshakes_refused;
            auto res = plain_response(s, static_cast<bhttp::status>(d.status), d.reason + "\n");
            if (d.status == 426) {
                res.set(bhttp::field::upgrade, "websocket"); // RFC 7231 §6.5.15
            } else if (d.status == 405) {
                res.set(bhttp::field::allow, "GET");
            }
            s.res = std::move(res);
            return;
        }
        if (!ctx_->ws->accepting()) {
            ++metrics::global().ws_handshakes_refused;
            s.res = plain_response(s, bhttp::status::service_unavailable, "shutting down\n");
            return;
        }
        if (ctx_->ws->draining()) {
            // As for a BOSH session creation (bosh::session_table): 503, which a balancer
            // retries on another instance; no WebSocket exists yet.
            ++metrics::global().ws_handshakes_refused;
            ++metrics::global().drain_refused_sessions;
            auto res = plain_response(s, bhttp::status::service_unavailable,
                                      "503 draining: this instance takes no new sessions; try again (another instance)\n");
            res.set(bhttp::field::retry_after, "1");
            s.res = std::move(res);
            return;
        }
        // SEC-LIMIT-1..3: the session limits apply before the upgrade; a refusal is HTTP 503
        // with Retry-After (RFC 9110 §15.6.4, §10.2.3), so the client learns it before any
        // WebSocket exists.
        limits::decision adm = ctx_->admission->open_session(s.client, core::clock_type::now());
        if (!adm.granted) {
            ++metrics::global().ws_handshakes_refused;
            limits::record_refusal(adm.why);
            core::log().info("WebSocket session refused for {}: {}", s.client.to_string(), limits::describe(adm.why));
            auto res = plain_response(s, bhttp::status::service_unavailable,
                                      std::string(limits::describe(adm.why)) + "\n");
            res.set(bhttp::field::retry_after, std::to_string(std::max<std::int64_t>(1, adm.retry_after.count())));
            s.res = std::move(res);
            return;
        }
        s.upgrade = std::make_unique<slot::upgrade_data>(
            slot::upgrade_data{std::move(req), std::move(d.protocol), std::move(adm.granted)});
        s.res.emplace(); // ready: the writer hands off when it reaches this slot
        upgrading_ = true;
    }

    /// XEP-0156 §3: the endpoints as XRD or JRD, readable from any page (CORS `*`: the
    /// document is public and carries no credentials).
    void serve_host_meta(slot& s, const bhttp::request<bhttp::string_body>& req, bool json)
    {
        const auto public_cors = [](response& res) {
            res.set(bhttp::field::access_control_allow_origin, "*");
            res.erase(bhttp::field::vary);
        };
        if (req.method() == bhttp::verb::options) {
            response res{bhttp::status::no_content, s.version};
            public_cors(res);
            res.set(bhttp::field::access_control_allow_methods, "GET, HEAD, OPTIONS");
            res.set(bhttp::field::access_control_allow_headers,
                    preflight_allow_headers(header(req, bhttp::field::access_control_request_headers)));
            res.set(bhttp::field::access_control_max_age, std::to_string(ctx_->opt.cors_max_age.count()));
            finish(s, res);
            s.res = std::move(res);
            return;
        }
        if (!is_read(req.method())) {
            auto res = plain_response(s, bhttp::status::method_not_allowed, "method not allowed\n");
            res.set(bhttp::field::allow, "GET, HEAD, OPTIONS");
            s.res = std::move(res);
            return;
        }
        discovery_request d;
        d.tls = is_tls;
        d.host = header(req, bhttp::field::host);
        d.websocket_enabled = ctx_->ws && ctx_->ws->config()->websocket.enabled;
        const auto a = answer_host_meta(ctx_->opt, d);
        if (a.what == discovery_answer::kind::bad_host) {
            s.res = plain_response(s, bhttp::status::bad_request,
                                   "XEP-0156 host-meta: the Host header is missing or not a valid host[:port]\n");
            return;
        }
        if (a.what == discovery_answer::kind::not_served) {
            s.res = plain_response(s, bhttp::status::not_found,
                                   "XEP-0156 host-meta is served over HTTPS only (or set http.public_bosh_url / "
                                   "public_websocket_url)\n");
            return;
        }
        auto res = json ? text_response(s, bhttp::status::ok, "application/json", host_meta_jrd(a.links))
                        : text_response(s, bhttp::status::ok, "application/xrd+xml; charset=utf-8", host_meta_xrd(a.links));
        public_cors(res);
        res.set(bhttp::field::cache_control, "max-age=3600");
        if (req.method() == bhttp::verb::head) {
            res.body().clear(); // Content-Length stays that of the GET (set by finish)
        }
        s.res = std::move(res);
    }

    void serve_static(slot& s, const bhttp::request<bhttp::string_body>& req)
    {
        std::string_view target(req.target().data(), req.target().size());
        auto path = static_path(ctx_->opt.static_dir, target);
        std::ifstream in;
        if (path) {
            in.open(*path, std::ios::binary);
        }
        if (!path || !in) {
            s.res = plain_response(s, bhttp::status::not_found, "not found\n");
            return;
        }
        std::ostringstream data;
        data << in.rdbuf();
        response res{bhttp::status::ok, s.version};
        res.set(bhttp::field::content_type, mime_type(*path));
        // SEC-INJ-3: the demo client may load only its own files and talk only to this
        // origin (BOSH by XHR, WebSocket by ws:/wss: to the same host).
        res.set("Content-Security-Policy", static_csp);
        res.set("Referrer-Policy", "no-referrer");
        res.body() = data.str();
        apply_cors(res, s.cors);
        finish(s, res);
        s.res = std::move(res);
        if (req.method() == bhttp::verb::head) {
            s.res->body().clear();
        }
    }

    void dispatch_bosh(const std::shared_ptr<slot>& s, std::string&& body_text)
    {
        auto weak = this->weak_from_this();
        auto ex = stream_.get_executor();
        s->abort = ctx_->bosh->handle(body_text, is_tls, s->client, s->client_address, [weak, s, ex](bosh::reply&& r) {
            net::post(ex, [weak, s, r = std::move(r)]() mutable {
                if (auto self = weak.lock()) {
                    self->fill_bosh(s, std::move(r));
                }
            });
        });
    }

    void fill_bosh(const std::shared_ptr<slot>& s, bosh::reply&& r)
    {
        s->abort = {};
        if (r.close_connection) {
            s->drop = true;
            s->res.emplace();
        } else {
            s->res = bosh_response(*s, std::move(r));
        }
        kick_writer(true); // dispatch_bosh posted this: a handler of its own
    }

    // ------------------------------------------------------------------ responses
    static void apply_cors(response& res, const origin_decision& d)
    {
        if (d.allow_origin) {
            // WEB-4: exactly one Access-Control-Allow-Origin (set, not insert).
            res.set(bhttp::field::access_control_allow_origin, *d.allow_origin);
            if (d.vary_origin) {
                res.set(bhttp::field::vary, "Origin");
            }
        }
    }

    static void finish(const slot& s, response& res)
    {
        res.set(bhttp::field::server, "boshgate");
        // SEC-INJ-3: no response is ever content-sniffed into something else, and nothing
        // but the static files (which set their own policy) may run or frame anything.
        res.set("X-Content-Type-Options", "nosniff");
        if (res.find("Content-Security-Policy") == res.end()) {
            res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox");
        }
        res.keep_alive(s.keep_alive && !s.close_after);
        res.prepare_payload(); // Content-Length, never chunked (BOSH-HTTP-4)
    }

    static response text_response(const slot& s, bhttp::status st, std::string_view type, std::string body)
    {
        response res{st, s.version};
        res.set(bhttp::field::content_type, type);
        res.body() = std::move(body);
        apply_cors(res, s.cors);
        finish(s, res);
        return res;
    }

    static response plain_response(const slot& s, bhttp::status st, std::string_view text)
    {
        return text_response(s, st, "text/plain; charset=utf-8", std::string(text));
    }

    static response bosh_response(const slot& s, bosh::reply&& r)
    {
        response res{static_cast<bhttp::status>(r.status), s.version};
        res.set(bhttp::field::content_type, r.content_type);   // BOSH-HTTP-10
        res.set(bhttp::field::cache_control, "no-store");
        if (r.retry_after != 0) {
            res.set(bhttp::field::retry_after, std::to_string(r.retry_after)); // RFC 9110 §10.2.3
        }
        res.body() = std::move(r.body);
        apply_cors(res, s.cors);                                 // WEB-2: on every response
        finish(s, res);
        return res;
    }

    // ------------------------------------------------------------------ writing
    /// The only writer (conventions rule 4): writes the replies at the front of the queue
    /// while they are ready, one at a time, each from the completion of the one before. As
    /// callbacks, not a coroutine started per reply (issue 9: CPU per message), and an idle
    /// connection (a held BOSH request) holds nothing for it; see kick_writer().
    void write_next()
    {
        if (!closed_ && !slots_.empty() && slots_.front()->res) {
            auto s = slots_.front();
            if (s->drop) {
                abort_pending();
                close();
                return;
            }
            if (s->upgrade) {
                hand_off(*s);
                return;
            }
            if (slots_.size() == 1 && ctx_->closing->load(std::memory_order_relaxed)) {
                // In-place restart: another process accepts now; the client's next
                // request goes there on a new connection.
                s->res->keep_alive(false);
            }
            // SEC-FLOW-3: a client that accepts no byte for limits.write_timeout is cut off.
            const auto write_deadline = core::clock_type::now() + ctx_->limits_opt->write_timeout;
            set_write_deadline(write_deadline);
            // One buffer (wire.hpp), owned by the write's handler: an idle connection holds
            // no reply bytes.
            auto wire = std::make_unique<std::string>();
            serialize(*s->res, *wire);
            const auto bytes = net::buffer(*wire);
            net::async_write(stream_, bytes,
                             [self = this->shared_from_this(), s = std::move(s), write_deadline,
                              wire = std::move(wire)](boost::system::error_code ec, std::size_t) {
                                 self->on_written(s, write_deadline, ec);
                             });
            return;
        }
        if (closed_) {
            return;
        }
        if (reading_done_ && slots_.empty()) {
            shutdown();
            return;
        }
        // Nothing ready: end here; kick_writer() starts the writer again when something is.
        writer_running_ = false;
    }

    void on_written(const std::shared_ptr<slot>& s, core::time_point write_deadline, boost::system::error_code ec)
    {
        set_write_deadline(never);
        if (ec && core::clock_type::now() >= write_deadline) {
            ++metrics::global().flow_client_write_timeouts;
        }
        if (!slots_.empty() && slots_.front() == s) {
            slots_.pop_front();
        }
        if (idle_wait_ && slots_.empty()) {
            // The last reply is out and nothing new has arrived: idle from now on.
            set_read_deadline(core::clock_type::now() + ctx_->opt.idle_timeout);
        }
        read_wake_.cancel();
        if (ec) {
            abort_pending();
            close();
            return;
        }
        if (s->close_after || !s->res->keep_alive()) {
            shutdown();
            return;
        }
        write_next();
    }

    /// A reply became ready or the reading side ended: run the writer unless it runs. It
    /// starts from a handler of its own, so callers deep in the reader never see it run
    /// inline; `in_own_handler`: the caller is such a handler (a BOSH reply, posted to this
    /// connection), and the writer starts at once, without a second post.
    void kick_writer(bool in_own_handler = false)
    {
        if (writer_running_ || closed_) {
            return;
        }
        writer_running_ = true;
        if (in_own_handler) {
            write_next();
            return;
        }
        net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->write_next(); });
    }

    /// The last reply is out (or none will come): end the connection, TLS with close_notify
    /// under a short write deadline.
    void shutdown()
    {
        if (closed_) {
            return;
        }
        abort_pending();
        if constexpr (is_tls) {
            set_write_deadline(core::clock_type::now() + std::chrono::seconds(2));
            stream_.async_shutdown([self = this->shared_from_this()](boost::system::error_code) { self->close(); });
        } else {
            boost::system::error_code ignored;
            stream_.shutdown(tcp::socket::shutdown_send, ignored);
            close();
        }
    }

    /// Give the stream to a WebSocket session (on this strand) and retire: from now on
    /// neither the watchdog nor close() touch the socket, and every timer wait ends.
    void hand_off(slot& s)
    {
        closed_ = true;
        handed_off_ = true;
        watchdog_.disarm();
        read_wake_.cancel();
        auto up = std::move(s.upgrade);
        const auto client_address = s.client_address;
        slots_.clear();
        websocket::run_session(std::move(stream_), std::move(up->req), std::move(up->protocol), ctx_->ws,
                               websocket::admitted{std::move(admitted_), std::move(up->session), client_address});
    }

    void abort_pending()
    {
        for (auto& s : slots_) {
            s->abort.abort();
        }
    }

    void close()
    {
        if (closed_ || handed_off_) {
            return; // after a hand-off the socket is no longer ours
        }
        closed_ = true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream_).close(ignored);
        watchdog_.disarm();
        read_wake_.cancel();
    }

    limits::ticket admitted_; ///< counts this connection (SEC-LIMIT-4/5); moves to a WebSocket
    Stream stream_;
    std::shared_ptr<const context> ctx_;
    beast::flat_buffer buffer_;
    core::deadline_timer watchdog_; ///< the nearer of read_deadline_ and write_deadline_
    core::optional_timer read_wake_; ///< the reader waits on it while max_pipelined replies are pending
    core::fifo<std::shared_ptr<slot>> slots_; ///< empty: no storage (issue 9)
    core::time_point read_deadline_ = never;
    core::time_point write_deadline_ = never;
    tcp::endpoint peer_;
    limits::address_key client_; ///< the peer's admission group
    bool first_request_ = true;
    bool reading_done_ = false;
    bool idle_wait_ = false; ///< the reader waits for the first byte of a next request
    bool closed_ = false;
    bool upgrading_ = false;  ///< an accepted WebSocket upgrade was the last request read
    bool handed_off_ = false; ///< the stream now belongs to a websocket session
    bool writer_running_ = false; ///< a reply is being written, or write_next() is about to run
    bool reader_idle_ = false;    ///< the reader waits for the next request (plain only)
    bool park_requested_ = false; ///< release_idle() cancelled that wait: park()
};

} // namespace

void run_connection(tcp::socket socket, std::shared_ptr<const context> ctx,
                    std::shared_ptr<net::ssl::context> tls, limits::ticket admitted,
                    std::optional<tcp::endpoint> client)
{
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls) {
        using tls_stream = net::ssl::stream<tcp::socket>;
        std::make_shared<connection<tls_stream>>(tls_stream(std::move(socket), *tls), std::move(ctx),
                                                 std::move(admitted), client)->start();
    } else {
        std::make_shared<connection<tcp::socket>>(std::move(socket), std::move(ctx), std::move(admitted), client)
            ->start();
    }
}

} // namespace boshgate::http
