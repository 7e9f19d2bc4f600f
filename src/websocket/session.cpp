// WebSocket I/O shell (RFC 6455 transport for RFC 7395): the hub, one session template for
// plain and TLS connections, and the hand-off entry points the HTTP connection calls.
//
// The session is deliberately thin (conventions rule 1): websocket::framing decides every
// protocol question; this file only moves messages, arms one timer at
// framing.next_deadline(), bounds memory and time, and owns the upstream::stream.
//
// Thread: the session runs on the executor of the socket it took over: the io_context of
// one io thread, run by that thread alone (gateway: one io_context per io thread), so no
// strand is needed. The upstream::stream shares it. Nothing here is touched from another
// thread except through post_shutdown() (net::post).
//
// Lifetime: the session is a shared_ptr kept alive by the handshake coroutine (run()), by
// the writer coroutine while it runs (each owning it through a parameter), and by pending
// handlers: after the handshake the read loop is a chain of completion handlers (read_next,
// on_read), each read's handler holding a shared_ptr. The hub keeps only a weak_ptr; the
// upstream::stream keeps only a weak_ptr to its events sink. When the reader has finished and
// the writing side is done (no writer runs and nothing more can be written), maybe_finish()
// unregisters the session and the last handler lets it go.
#include "boshgate/websocket/session.hpp"

#include "boshgate/core/fifo.hpp"
#include "boshgate/core/ids.hpp"
#include "boshgate/core/idle_sweep.hpp"
#include "boshgate/core/access_log.hpp"
#include "boshgate/core/log.hpp"
#include "boshgate/core/timer.hpp"
#include "boshgate/limits/watermark.hpp"
#include "boshgate/metrics/registry.hpp"
#include "boshgate/websocket/framing.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <string_view>
#include <type_traits>

namespace boshgate::websocket {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bws = boost::beast::websocket;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using net::as_tuple;
using net::use_awaitable;

// ------------------------------------------------------------------------------------ hub

hub::hub(std::shared_ptr<const config::config> cfg, std::shared_ptr<upstream::shared_context> upstream_ctx,
         const core::clock& clock)
    : upstream_ctx_(std::move(upstream_ctx)), clock_(clock), cfg_(std::move(cfg))
{
}

void hub::set_config(std::shared_ptr<const config::config> cfg)
{
    std::lock_guard lock(mutex_);
    cfg_ = std::move(cfg);
}

std::shared_ptr<const config::config> hub::config() const
{
    std::lock_guard lock(mutex_);
    return cfg_;
}

void hub::shutdown_all()
{
    std::vector<std::weak_ptr<session_base>> live;
    {
        std::lock_guard lock(mutex_);
        shutting_down_ = true;
        live.reserve(sessions_.size());
        for (const auto& [id, w] : sessions_) {
            live.push_back(w);
        }
    }
    // Outside the lock: post_shutdown only posts, but a session's strand may be this thread.
    for (auto& w : live) {
        if (auto s = w.lock()) {
            s->post_shutdown();
        }
    }
}

bool hub::accepting() const
{
    std::lock_guard lock(mutex_);
    return !shutting_down_;
}

std::size_t hub::size() const
{
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

void hub::add(std::uint64_t id, std::weak_ptr<session_base> s)
{
    std::lock_guard lock(mutex_);
    sessions_.emplace(id, std::move(s));
}

void hub::remove(std::uint64_t id)
{
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

// -------------------------------------------------------------------------------- session

namespace {

/// Bytes asked from Beast per read; a message is reassembled from such chunks so that the
/// size check happens before the whole of an oversized message is buffered (WS-SIZE-1).
constexpr std::size_t read_chunk = 16 * 1024;
/// A next message is first read into a buffer of this size inside the session: most client
/// stanzas fit, and nothing else is held while the session waits (issue 9).
constexpr std::size_t first_read_bytes = 512;

std::atomic<std::uint64_t> next_session_id{1};

/// One queued outbound item. The writer sends them strictly in order, one at a time, so
/// Beast never sees two writes (or a ping and a write, or a write and the close) at once.
struct outbound {
    enum class kind { text, ping, close };
    kind what = kind::text;
    std::string text;                 ///< text message, or the close reason
    close_code code = close_code::normal;
    std::chrono::steady_clock::time_point queued{}; ///< for the relay latency histogram
};

/// A read error that is an RFC 6455 violation by the client (Beast already answered with
/// Close 1002/1007), as opposed to a Close frame, EOF or reset: both end the session the
/// same way, only ws_client_errors differs.
bool is_client_protocol_error(const boost::system::error_code& ec)
{
    return ec.category() == bws::make_error_code(bws::error::bad_opcode).category() &&
           ec != bws::error::closed;
}

/// Single-threaded WebSocket session (see the file comment for strand and lifetime).
template <class Stream>
class session final : public session_base,
                      public upstream::stream_events,
                      public core::idle_sweep::client,
                      public std::enable_shared_from_this<session<Stream>> {
public:
    /// Called by the io thread's sweep once no message came for a sweep period: the
    /// framing's message parser gives expat's state back, and an empty reassembly buffer is
    /// freed: the reader reads into message_ only once a message's first bytes are in it, so
    /// empty it is not in use; and the write guard and the outbox's storage, while no
    /// writer runs (issue 9).
    bool release_idle() noexcept override
    {
        if (message_.size() == 0) {
            message_.shrink_to_fit();
        }
        if (!writer_running_) {
            write_guard_.release(); // made by the next write; a queued wait ends aborted
            outbox_.release_if_empty();
        }
        return !framing_ || framing_->release_idle();
    }

    session(Stream&& stream, std::shared_ptr<hub> h, std::string protocol, admitted tickets)
        : tickets_(std::move(tickets)),
          ws_(std::move(stream)),
          hub_(std::move(h)),
          cfg_(hub_->config()),
          protocol_(std::move(protocol)),
          tag_(core::next_session_tag('w')),
          id_(next_session_id.fetch_add(1, std::memory_order_relaxed)),
          timer_(ws_.get_executor()),
          out_mark_(cfg_->limits.client_send_high_water, cfg_->limits.client_send_low_water)
    {
        ++metrics::global().ws_sessions_active;
    }

    ~session() override
    {
        --metrics::global().ws_sessions_active;
        if (framing_) { // an upgraded session that got as far as its first event
            core::log().info(core::access_line(
                tag_, "websocket", tickets_.client_address ? tickets_.client_address->address().to_string() : "",
                domain_, std::chrono::duration_cast<std::chrono::milliseconds>(core::clock_type::now() - started_),
                totals_, end_ != nullptr ? end_ : "closed"));
        }
    }

    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Start the handshake with the upgrade request the HTTP connection read. Must run on
    /// the socket's io thread.
    void start(request&& req)
    {
        net::co_spawn(ws_.get_executor(), run(this->shared_from_this(), std::move(req)), net::detached);
    }

    // ---------------------------------------------------------------- session_base
    void post_shutdown() override
    {
        net::post(ws_.get_executor(), [self = this->shared_from_this()] {
            if (!self->framing_ || self->framing_->ended()) {
                return;
            }
            core::log().debug("{} gateway shutdown", self->tag_);
            self->framing_->shutdown(self->now());
            self->run_actions();
        });
    }

    // ---------------------------------------------------------------- upstream::stream_events
    // Called on the strand by upstream_; the stream keeps itself alive during the callback.
    void on_upstream_header(const xml::root_open& header) override
    {
        if (!framing_) {
            return;
        }
        framing_->on_upstream_header(header, now());
        run_actions();
    }

    void on_upstream_element(xml::element&& el) override
    {
        if (!framing_) {
            return;
        }
        totals_.down(el.xml.size());
        framing_->on_upstream_element(std::move(el), now());
        run_actions();
    }

    void on_upstream_stream_error(std::string error_xml) override
    {
        if (!framing_) {
            return;
        }
        ended_by("server-stream-error");
        core::log().info("{} server sent a stream error", tag_);
        framing_->on_upstream_stream_error(std::move(error_xml), now());
        run_actions();
    }

    void on_upstream_closed(bool clean) override
    {
        ended_by(clean ? "server-closed" : "server-lost");
        core::log().info("{} server stream closed ({})", tag_, clean ? "clean" : "connection lost");
        upstream_.reset();
        read_resume_.cancel();
        if (!framing_) {
            return;
        }
        framing_->on_upstream_closed(clean, now());
        run_actions();
    }

    void on_upstream_failed(upstream::failure f, std::string detail) override
    {
        ended_by("upstream-failed");
        core::log().info("{} upstream failed: {}", tag_, detail);
        upstream_.reset();
        read_resume_.cancel();
        if (!framing_) {
            return;
        }
        framing_->on_upstream_failed(f, detail, now());
        run_actions();
    }

    void on_upstream_writable() override { read_resume_.cancel(); }

private:
    core::time_point now() const { return hub_->clock().now(); }

    // ---------------------------------------------------------------- handshake + reading
    /// The RFC 6455 handshake, then the read loop. Owns the session through `self`
    /// (coroutines start lazily; see http::connection::start).
    net::awaitable<void> run([[maybe_unused]] std::shared_ptr<session> self, request req)
    {
        configure();
        auto [ec] = co_await ws_.async_accept(req, as_tuple(use_awaitable));
        // The upgrade request's fields (~0.5 KiB) would otherwise live in this frame for the
        // whole session (issue 9).
        req = request{};
        if (ec) {
            // Beast has answered with an HTTP error (bad Sec-WebSocket-Key/Version) or the
            // client vanished during the handshake.
            ++metrics::global().ws_handshakes_refused;
            core::log().debug("{} WebSocket handshake failed: {}", tag_, ec.message());
            close_transport();
            co_return;
        }
        ++metrics::global().ws_upgrades;
        const auto& opt = cfg_->websocket;
        // A short random id is enough: it only names a stream boshgate had to open itself
        // (backend unreachable, WS-OPEN-4), never a credential. 15 characters stay in the
        // string's inline storage: no allocation per session.
        framing_.emplace(opt, cfg_->xml, core::random_sid().substr(0, 15), now());
        hub_->add(id_, this->weak_from_this());
        core::log().debug("{} WebSocket session open ({}, client {})", tag_, is_tls ? "wss" : "ws",
                          tickets_.session.key().to_string());
        if (!hub_->accepting()) {
            // shutdown_all() ran between the HTTP check and add(): it could not see us.
            framing_->shutdown(now());
        }
        run_actions();
        settle_writer();
        read_next(); // this coroutine ends here: the read loop runs on callbacks
    }

    void configure()
    {
        bws::stream_base::timeout t;
        // Bounds the opening handshake's 101 write and the whole closing handshake.
        t.handshake_timeout = cfg_->http.header_timeout;
        // Keepalive and idle detection belong to the framing (WS-KA-2/3), which sees every
        // frame through on_client_activity and asks for Pings itself.
        t.idle_timeout = bws::stream_base::none();
        t.keep_alive_pings = false;
        ws_.set_option(t);
        ws_.set_option(bws::stream_base::decorator([proto = protocol_](bws::response_type& res) {
            res.set(bhttp::field::sec_websocket_protocol, proto); // WS-HS-1
            res.set(bhttp::field::server, "boshgate");
        }));
        // No Beast limit: the read loop enforces max_message_bytes itself, chunk by chunk,
        // so that it can answer with <policy-violation/> and 1009 (WS-SIZE-1).
        ws_.read_message_max(0);
        ws_.auto_fragment(false);
        ws_.control_callback([this](bws::frame_type, std::string_view) {
            // Ping (Beast answers with a Pong itself, WS-KA-2), Pong, Close: the client is
            // alive. Runs inside Beast's read operation: only feed the framing here; actions
            // (which may close the socket) run once that operation has returned.
            if (!framing_ || framing_->ended()) {
                return;
            }
            framing_->on_client_activity(now());
            net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->run_actions(); });
        });
    }

    // The read loop, as completion handlers rather than a coroutine: while the client is
    // silent the session holds one pending Beast read and no coroutine frames (issue 9).

    /// Ask Beast for the next bytes. Between messages they go into first_chunk_, the
    /// session's own small buffer: an idle session then holds no reassembly buffer (the sweep
    /// frees it), where a dynamic-buffer read would have prepared (allocated) Beast's read
    /// size hint before waiting. A message that fits is handled from there; a longer one
    /// moves to message_, which is read into only while it holds bytes.
    void read_next()
    {
        const std::size_t max = cfg_->websocket.max_message_bytes;
        // Never ask for more than one byte beyond the limit: a message that crosses it is
        // detected with at most max + 1 bytes buffered.
        const std::size_t room = max + 1 - std::min(message_.size(), max);
        if (message_.size() == 0) {
            ws_.async_read_some(net::buffer(first_chunk_.data(), std::min(first_chunk_.size(), room)),
                                [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
        } else {
            ws_.async_read_some(message_, std::min(read_chunk, room),
                                [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                    self->on_read(ec, 0);
                                });
        }
    }

    /// A read completed; `in_first`: bytes it put in first_chunk_ (0: it read into message_).
    void on_read(const boost::system::error_code& ec, std::size_t in_first)
    {
        const std::size_t max = cfg_->websocket.max_message_bytes;
        if (!ec && in_first > 0 && !ws_.is_message_done() && in_first <= max) {
            message_.commit(net::buffer_copy(message_.prepare(in_first), net::buffer(first_chunk_.data(), in_first)));
            in_first = 0;
        }
        if (ec) {
            on_read_error(ec);
            reader_ended();
            return;
        }
        if (!framing_ || framing_->ended()) {
            // We are closing (our Close frame is queued or sent): discard until Beast
            // reports the client's Close.
            message_.clear();
            read_next();
            return;
        }
        const auto t = now();
        framing_->on_client_activity(t);
        if (std::max(in_first, message_.size()) > max) {
            core::log().info("{} client message beyond {} bytes", tag_, max);
            message_.clear();
            message_.shrink_to_fit();
            framing_->on_message_too_big(t);
            run_actions(true);
            // Stop reading: async_close drains (and discards) the rest of the message
            // while it waits for the client's Close frame.
            reader_ended();
            return;
        }
        if (!ws_.is_message_done()) {
            run_actions();
            read_next();
            return;
        }
        ++metrics::global().ws_messages_in;
        const auto kind = ws_.got_binary() ? message_kind::binary : message_kind::text;
        const auto data = message_.cdata();
        framing_->on_message(kind,
                             in_first > 0 ? std::string_view(first_chunk_.data(), in_first)
                                          : std::string_view(static_cast<const char*>(data.data()), data.size()),
                             t);
        if (sweep_ == nullptr) {
            sweep_ = &core::idle_sweep::of(ws_.get_executor());
        }
        sweep_->touch(
            *this, [this] { return std::weak_ptr<core::idle_sweep::client>(this->weak_from_this()); },
            ws_.get_executor());
        message_.clear();
        if (message_.capacity() > read_chunk * 4) {
            message_.shrink_to_fit(); // one large message does not pin its buffer
        }
        run_actions(true);
        read_when_upstream_writable(false);
    }

    /// SEC-FLOW-2: while the server has more than upstream_send_high_water bytes of ours
    /// waiting, read nothing more from the client: its data stays in its socket (TCP flow
    /// control). Ends when the stream drains, goes away, or is cut off by write_timeout.
    void read_when_upstream_writable(bool waited)
    {
        if (upstream_ && upstream_->send_blocked() && !transport_closed_) {
            if (!waited) {
                ++metrics::global().flow_client_read_pauses;
                core::log().debug("{} server not reading: client reads paused", tag_);
            }
            auto& resume = read_resume_.use(ws_.get_executor());
            resume.expires_at(core::time_point::max());
            resume.async_wait([self = this->shared_from_this()](const boost::system::error_code&) {
                self->read_when_upstream_writable(true);
            });
            return;
        }
        read_next();
    }

    void reader_ended()
    {
        reader_done_ = true;
        maybe_finish();
    }

    void on_read_error(const boost::system::error_code& ec)
    {
        if (framing_ && !framing_->ended()) {
            // The client went away (Close frame, EOF, reset) or broke RFC 6455, in which case
            // Beast has already sent Close 1002/1007: WS-CLOSE-3, the upstream is dropped
            // without a closing tag.
            if (is_client_protocol_error(ec)) {
                ++metrics::global().ws_client_errors;
            }
            ended_by("client-gone");
            core::log().info("{} WebSocket gone: {}", tag_, ec.message());
            framing_->on_client_gone(now());
            client_gone_ = true;
            clear_outbox();
            run_actions();
        } else {
            core::log().debug("{} read ended: {}", tag_, ec.message());
        }
        close_transport_unless_closing();
    }

    // ---------------------------------------------------------------- writing
    /// The only writer (conventions rule 4), started by queue() when there is something to
    /// send and none runs; it returns once the queue is empty, so that an idle session holds
    /// no writer coroutine (issue 9: its frames and timer wait were ~1.5 KiB per session).
    /// Owns the session through `self`.
    net::awaitable<void> writer([[maybe_unused]] std::shared_ptr<session> self)
    {
        while (!transport_closed_ && !outbox_.empty()) {
            auto item = std::move(outbox_.front());
            outbox_.pop_front();
            const std::size_t item_bytes = item.text.size();
            arm_write_guard();
            boost::system::error_code ec;
            if (item.what == outbound::kind::text) {
                ws_.text(true);
                auto [e, n] = co_await ws_.async_write(net::buffer(item.text), as_tuple(use_awaitable));
                ec = e;
                if (!ec) {
                    auto& m = metrics::global();
                    ++m.ws_messages_out;
                    m.relay_to_client.observe(std::chrono::steady_clock::now() - item.queued);
                }
            } else if (item.what == outbound::kind::ping) {
                auto [e] = co_await ws_.async_ping({}, as_tuple(use_awaitable));
                ec = e;
            } else {
                // The closing handshake: our Close, then (through the reader, or Beast's own
                // drain when the reader stopped) the client's Close, then TCP teardown; all
                // bounded by handshake_timeout.
                bws::close_reason cr(static_cast<bws::close_code>(static_cast<std::uint16_t>(item.code)),
                                     std::string_view(item.text).substr(0, 123));
                auto [e] = co_await ws_.async_close(cr, as_tuple(use_awaitable));
                disarm_write_guard();
                core::log().debug("{} closing handshake done: {}", tag_, e ? e.message() : "ok");
                close_transport();
                break;
            }
            disarm_write_guard();
            if (ec) {
                // The reader sees the same broken transport and reports the client gone.
                core::log().debug("{} write failed: {}", tag_, ec.message());
                close_transport();
                break;
            }
            account_written(item_bytes);
        }
        writer_running_ = false;
        settle_writer();
    }

    /// With no writer running: start one for queued items, or, once nothing more can be
    /// written (transport closed, client gone, framing ended), mark the writing side done.
    void settle_writer()
    {
        if (writer_running_ || writer_done_) {
            return;
        }
        if (!outbox_.empty() && !transport_closed_) {
            writer_running_ = true;
            net::co_spawn(ws_.get_executor(), writer(this->shared_from_this()), net::detached);
            return;
        }
        if (transport_closed_ || client_gone_ || (framing_ && framing_->ended())) {
            writer_done_ = true;
            maybe_finish();
        }
    }

    /// settle_writer() from a handler of its own (the callers are deep in run_actions() or
    /// teardown; the waiting writer used to be woken the same way). The handler owns the
    /// session, as that writer did: when the reader has already returned, it is what keeps
    /// the session alive until maybe_finish() has closed the upstream stream and left the hub.
    void post_settle_writer()
    {
        net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->settle_writer(); });
    }

    void queue(outbound&& o)
    {
        if (client_gone_ || transport_closed_) {
            return;
        }
        const auto added = o.text.size();
        o.queued = std::chrono::steady_clock::now();
        outbox_.push_back(std::move(o));
        if (framing_) { // after the handshake: the writer may start
            settle_writer();
        }
        if (out_mark_.add(added) == limits::watermark::change::pause && upstream_) {
            // SEC-FLOW-1: the client reads slower than the server sends; stop reading the
            // server until the queue is down to client_send_low_water.
            core::log().debug("{} client not reading: server reads paused", tag_);
            upstream_->pause_reading(true);
        }
    }

    void account_written(std::size_t n)
    {
        if (out_mark_.remove(n) == limits::watermark::change::resume && upstream_) {
            upstream_->pause_reading(false);
        }
    }

    void clear_outbox()
    {
        outbox_.clear();
        account_written(out_mark_.bytes());
    }

    void arm_write_guard()
    {
        write_guard_.arm(ws_.get_executor(), cfg_->limits.write_timeout, this->weak_from_this(), [](session& self) {
            core::log().info("{} client accepted nothing for {} s: dropped", self.tag_,
                             self.cfg_->limits.write_timeout.count());
            ++metrics::global().flow_client_write_timeouts;
            // Abortive close (RST): the unsent bytes are dropped instead of lingering in the
            // kernel for a peer that does not read.
            boost::system::error_code ignored;
            beast::get_lowest_layer(self.ws_).set_option(net::socket_base::linger(true, 0), ignored);
            self.close_transport();
        });
    }

    void disarm_write_guard() { write_guard_.disarm(); }

    // ---------------------------------------------------------------- actions + timer
    /// Execute what the framing asked for. `client_input`: the input was a client message;
    /// a stream error it draws is the client's fault (ws_client_errors).
    void run_actions(bool client_input = false)
    {
        if (!framing_) {
            return;
        }
        for (;;) {
            auto actions = framing_->take_actions();
            if (actions.empty()) {
                break;
            }
            for (auto& a : actions) {
                if (client_input) {
                    // Either stream error form (WS-NS-2): prefixed or unprefixed.
                    if (auto* t = std::get_if<action::send_text>(&a);
                        t != nullptr && (t->text.rfind("<stream:error", 0) == 0 || t->text.rfind("<error", 0) == 0)) {
                        ++metrics::global().ws_client_errors;
                        client_input = false; // once per input
                    }
                }
                std::visit([this](auto& act) { execute(act); }, a);
            }
        }
        if (framing_->ended()) {
            timer_.disarm();
            post_settle_writer(); // the writing side may end once the queue is empty
            return;
        }
        arm_timer();
    }

    void execute(action::send_text& a)
    {
        core::log().debug("{} -> client: {} bytes", tag_, a.text.size());
        queue(outbound{outbound::kind::text, std::move(a.text), close_code::normal});
    }

    void execute(action::send_ping&) { queue(outbound{outbound::kind::ping, {}, close_code::normal}); }

    void execute(action::open_upstream& a)
    {
        domain_ = a.to;
        core::log().info("{} new stream to {}", tag_, a.to);
        upstream_ = upstream::make_stream(ws_.get_executor(), hub_->upstream_context(), this->weak_from_this(),
                                          tag_, cfg_->xml, cfg_->limits);
        upstream::open_params p;
        p.to = a.to;
        p.lang = a.lang;
        p.client = tickets_.client_address;
        upstream_->open(p);
    }

    void execute(action::send_upstream& a)
    {
        totals_.up(1, a.bytes.size());
        ++metrics::global().elements_to_servers;
        if (upstream_) {
            upstream_->send(std::move(a.bytes));
        }
    }

    void execute(action::restart_upstream&)
    {
        core::log().debug("{} stream restart", tag_);
        if (upstream_) {
            upstream_->restart();
        }
    }

    void execute(action::close_upstream& a)
    {
        if (upstream_) {
            upstream_->close(a.clean);
            upstream_.reset();
        }
    }

    void execute(action::close_websocket& a)
    {
        ended_by(static_cast<unsigned>(a.code) == 1000 ? "closed" : "closed-with-error");
        core::log().info("{} closing WebSocket ({}: {})", tag_, static_cast<unsigned>(a.code), a.reason);
        closing_ = true;
        queue(outbound{outbound::kind::close, std::move(a.reason), a.code});
    }

    void execute(action::drop_websocket&)
    {
        ended_by("client-idle");
        core::log().info("{} client idle: connection dropped", tag_);
        ++metrics::global().ws_idle_drops;
        closing_ = true;
        clear_outbox();
        close_transport();
    }

    void arm_timer()
    {
        timer_.arm(framing_->next_deadline(), this->shared_from_this(), [](session& self) {
            if (!self.framing_ || self.framing_->ended()) {
                return;
            }
            self.framing_->on_timer(self.now());
            self.run_actions();
        });
    }

    // ---------------------------------------------------------------- teardown
    void close_transport()
    {
        if (transport_closed_) {
            return;
        }
        transport_closed_ = true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(ws_).close(ignored);
        post_settle_writer();
        read_resume_.cancel();
    }

    /// After a read error: close TCP unless our closing handshake is still running (the
    /// writer's async_close finishes the teardown itself).
    void close_transport_unless_closing()
    {
        if (!closing_) {
            close_transport();
        }
    }

    void maybe_finish()
    {
        if (!reader_done_ || !writer_done_ || finished_) {
            return;
        }
        finished_ = true;
        close_transport();
        timer_.disarm();
        disarm_write_guard();
        if (upstream_) {
            // Defensive: the framing always closes the upstream before it ends.
            upstream_->close(false);
            upstream_.reset();
        }
        hub_->remove(id_);
        core::log().debug("{} WebSocket session closed", tag_);
    }

    static constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

    admitted tickets_; ///< counted against the connection and session limits while alive
    core::session_totals totals_;                 ///< for the access line at the end
    std::string domain_;                          ///< the stream's `to`
    const char* end_ = nullptr;                   ///< the first reason the session ended
    core::time_point started_ = core::clock_type::now();

    void ended_by(const char* why)
    {
        if (end_ == nullptr) {
            end_ = why;
        }
    }
    bws::stream<Stream, false> ws_; ///< no permessage-deflate (never offered): no state for it
    std::shared_ptr<hub> hub_;
    std::shared_ptr<const config::config> cfg_; ///< the config this session was born with
    std::string protocol_;
    std::string tag_;
    std::uint64_t id_;
    std::optional<framing> framing_;            ///< engaged once the 101 is out
    core::idle_sweep* sweep_ = nullptr;         ///< this io thread's sweep (first message)
    std::shared_ptr<upstream::stream> upstream_;
    beast::flat_buffer message_;                ///< the client message being reassembled
    std::array<char, first_read_bytes> first_chunk_; ///< a message's first bytes are read here
    core::fifo<outbound> outbox_;                ///< empty: no storage (issue 9)
    core::deadline_timer timer_;                ///< framing.next_deadline()
    core::guard_timer write_guard_;             ///< bounds one write (write_timeout); freed when idle
    core::optional_timer read_resume_;          ///< the reader waits on it while the server is not reading
    limits::watermark out_mark_;                ///< bytes in outbox_ (SEC-FLOW-1)
    bool closing_ = false;          ///< we queued our Close (or dropped): read errors are expected
    bool client_gone_ = false;      ///< the reader saw the client go; nothing more is written
    bool transport_closed_ = false; ///< the TCP socket is closed
    bool reader_done_ = false;
    bool writer_done_ = false;    ///< no writer runs and none will be needed
    bool writer_running_ = false; ///< a writer() coroutine is running
    bool finished_ = false;
};

template <class Stream>
void start_session(Stream&& stream, request&& req, std::string protocol, std::shared_ptr<hub> h,
                   admitted tickets)
{
    auto s = std::make_shared<session<Stream>>(std::move(stream), std::move(h), std::move(protocol),
                                               std::move(tickets));
    s->start(std::move(req));
}

} // namespace

void run_session(tcp::socket&& socket, request&& req, std::string protocol, std::shared_ptr<hub> h,
                 admitted tickets)
{
    start_session(std::move(socket), std::move(req), std::move(protocol), std::move(h), std::move(tickets));
}

void run_session(net::ssl::stream<tcp::socket>&& socket, request&& req, std::string protocol, std::shared_ptr<hub> h,
                 admitted tickets)
{
    start_session(std::move(socket), std::move(req), std::move(protocol), std::move(h), std::move(tickets));
}

} // namespace boshgate::websocket
