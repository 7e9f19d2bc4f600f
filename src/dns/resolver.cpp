// c-ares driven by Asio (see resolver.hpp). I/O adapter: listed in BOSHGATE_IO_SOURCES.
//
// How the pieces fit:
//  - One ares channel per resolver. c-ares owns its sockets; ARES_OPT_SOCK_STATE_CB tells us
//    which fds to watch. Each fd gets a non-owning posix::stream_descriptor that is
//    release()d (never closed) when c-ares stops watching it.
//  - Readiness: descriptor async_wait -> ares_process_fd. Asio registers descriptors
//    edge-triggered and a wait does not test readiness itself, so before arming a wait we
//    poll() the fd once; if it is already ready we post the handler instead of waiting.
//  - c-ares' own retransmission timeouts: one steady_timer re-armed from ares_timeout()
//    after every call into c-ares.
//  - A lookup is a shared `lookup` block: c-ares callbacks (always called exactly once,
//    ARES_EDESTRUCTION included) record results into it and, when the last one is in,
//    cancel its `wake` timer; the awaiting coroutine waits on that timer, whose expiry is the
//    overall lookup deadline. Callbacks never run user code, so no user code can re-enter or
//    destroy the channel from inside c-ares.
//  - The coroutine keeps the impl alive (shared_ptr); ~resolver destroys the channel, which
//    completes every pending lookup with ARES_EDESTRUCTION (=> operation_aborted).
#include "boshgate/dns/resolver.hpp"

#include <ares.h>
#include <openssl/rand.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

namespace boshgate::dns {

namespace net = boost::asio;
using boost::system::error_code;

namespace {

constexpr int dns_class_in = 1;  // RFC 1035 §3.2.4
constexpr int dns_type_srv = 33; // RFC 2782

/// ares_library_init is process-global and not thread-safe: run it once.
int library_status() {
    static std::once_flag once;
    static int status = ARES_SUCCESS;
    std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
    return status;
}

/// c-ares status -> the error codes promised by resolver.hpp.
error_code map_status(int status) {
    switch (status) {
    case ARES_SUCCESS:
        return {};
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_EBADNAME:
        return net::error::host_not_found;
    case ARES_ETIMEOUT:
        return net::error::timed_out;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return net::error::operation_aborted;
    default:
        return boost::system::errc::make_error_code(boost::system::errc::io_error);
    }
}

/// True when `fd` is readable (or writable) right now; errors count as ready so that
/// c-ares gets to see them.
bool ready_now(int fd, bool read) {
    pollfd p{};
    p.fd = fd;
    p.events = read ? POLLIN : POLLOUT;
    return ::poll(&p, 1, 0) > 0;
}

/// Shared state of one resolve_srv / resolve_host call. Lives until both the awaiting
/// coroutine and every c-ares callback for it are done.
struct lookup {
    explicit lookup(const net::any_io_executor& ex) : wake(ex) {}

    net::steady_timer wake; ///< expires at the overall deadline; cancelled when complete
    int pending = 0;        ///< c-ares callbacks still outstanding

    // resolve_srv: index 0 = _xmpps-client, 1 = _xmpp-client.
    std::array<int, 2> srv_status{ARES_SUCCESS, ARES_SUCCESS};
    std::array<std::vector<srv_record>, 2> srv;

    // resolve_host
    int addr_status = ARES_SUCCESS;
    std::vector<net::ip::address> addrs;

    void finish_one() {
        if (--pending == 0) {
            wake.cancel();
        }
    }
};

/// The `arg` of one c-ares query; deleted by its callback.
struct query_arg {
    std::shared_ptr<lookup> owner;
    std::size_t index = 0;
};

void on_srv_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<query_arg> q(static_cast<query_arg*>(arg));
    lookup& l = *q->owner;
    if (status == ARES_SUCCESS) {
        ares_srv_reply* reply = nullptr;
        status = ares_parse_srv_reply(abuf, alen, &reply);
        if (status == ARES_SUCCESS) {
            for (const ares_srv_reply* r = reply; r != nullptr; r = r->next) {
                l.srv[q->index].push_back(
                    srv_record{r->priority, r->weight, r->port, r->host != nullptr ? r->host : ""});
            }
            ares_free_data(reply);
        }
    }
    l.srv_status[q->index] = status;
    l.finish_one();
}

void on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
    std::unique_ptr<query_arg> q(static_cast<query_arg*>(arg));
    lookup& l = *q->owner;
    if (status == ARES_SUCCESS && res != nullptr) {
        for (const ares_addrinfo_node* n = res->nodes; n != nullptr; n = n->ai_next) {
            if (n->ai_family == AF_INET6 && n->ai_addr != nullptr) {
                sockaddr_in6 sa{};
                std::memcpy(&sa, n->ai_addr, sizeof sa);
                net::ip::address_v6::bytes_type b{};
                std::memcpy(b.data(), &sa.sin6_addr, b.size());
                l.addrs.emplace_back(net::ip::address_v6(b, sa.sin6_scope_id));
            } else if (n->ai_family == AF_INET && n->ai_addr != nullptr) {
                sockaddr_in sa{};
                std::memcpy(&sa, n->ai_addr, sizeof sa);
                net::ip::address_v4::bytes_type b{};
                std::memcpy(b.data(), &sa.sin_addr, b.size());
                l.addrs.emplace_back(net::ip::address_v4(b));
            }
        }
    }
    if (res != nullptr) {
        ares_freeaddrinfo(res);
    }
    l.addr_status = status;
    l.finish_one();
}

} // namespace

struct resolver::impl : std::enable_shared_from_this<impl> {
    /// One fd c-ares asked us to watch. `generation` tells a live watch from an earlier one
    /// on a reused fd number.
    struct watch {
        explicit watch(const net::any_io_executor& ex) : desc(ex) {}
        net::posix::stream_descriptor desc;
        std::uint64_t generation = 0;
        bool want_read = false;
        bool want_write = false;
        bool reading = false; ///< a read wait (or posted read) is outstanding
        bool writing = false;
    };

    impl(net::any_io_executor ex, resolver_options opt)
        : ex_(std::move(ex)), opt_(std::move(opt)), timer_(ex_) {
        seed_rng();
    }

    ~impl() { shutdown(); }

    /// Creates the channel. The channel keeps a raw `this` for sock_state_cb: valid because
    /// shutdown() (from ~resolver or ~impl) destroys the channel before the impl goes away.
    void init() {
        if (library_status() != ARES_SUCCESS) {
            init_error_ = boost::system::errc::make_error_code(boost::system::errc::io_error);
            return;
        }
        // c-ares retries once per server with a doubled timeout (t + 2t); fit both tries in
        // the overall deadline so that a dead server is reported as timed_out rather than
        // only by our own deadline.
        const auto per_try = std::max<long long>(50, opt_.timeout.count() / 3);
        ares_options o{};
        o.sock_state_cb = &impl::on_sock_state;
        o.sock_state_cb_data = this;
        o.timeout = static_cast<int>(std::min<long long>(per_try, 60000));
        o.tries = 2;
        // XMPP domains are fully qualified: never append resolv.conf search domains.
        o.domains = nullptr;
        o.ndomains = 0;
        const int mask =
            ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
        if (ares_init_options(&channel_, &o, mask) != ARES_SUCCESS) {
            channel_ = nullptr;
            init_error_ = boost::system::errc::make_error_code(boost::system::errc::io_error);
            return;
        }
        if (opt_.server) {
            if (ares_set_servers_ports_csv(channel_, opt_.server->c_str()) != ARES_SUCCESS) {
                init_error_ =
                    boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
                shutdown();
            }
        }
    }

    /// Destroys the channel: pending c-ares callbacks run now with ARES_EDESTRUCTION and
    /// every watched fd is released (c-ares closes them). Idempotent.
    void shutdown() {
        if (channel_ != nullptr) {
            ares_channel ch = channel_;
            channel_ = nullptr; // handlers queued from now on see a closed resolver
            ares_destroy(ch);
        }
        for (auto& [fd, w] : watches_) {
            w->desc.release();
        }
        watches_.clear();
        timer_.cancel();
    }

    static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
        static_cast<impl*>(data)->sock_state(fd, readable != 0, writable != 0);
    }

    /// Called from inside c-ares: only bookkeeping and arming waits, never a call back into
    /// c-ares (the waits complete later, from the executor).
    void sock_state(ares_socket_t fd, bool readable, bool writable) {
        auto it = watches_.find(fd);
        if (!readable && !writable) {
            if (it != watches_.end()) {
                // Aborts outstanding waits (their handlers see a stale generation) and leaves
                // the fd to c-ares, which closes it right after this callback.
                it->second->desc.release();
                watches_.erase(it);
            }
            return;
        }
        if (it == watches_.end()) {
            auto w = std::make_unique<watch>(ex_);
            error_code ec;
            w->desc.assign(fd, ec);
            if (ec) {
                // Cannot watch it: c-ares' timeout handling will fail the query.
                return;
            }
            w->generation = ++generation_;
            it = watches_.emplace(fd, std::move(w)).first;
        }
        watch& w = *it->second;
        w.want_read = readable;
        w.want_write = writable;
        arm(fd, w);
    }

    /// Starts the waits c-ares wants that are not already outstanding.
    void arm(ares_socket_t fd, watch& w) {
        if (w.want_read && !w.reading) {
            start_wait(fd, w, true);
        }
        if (w.want_write && !w.writing) {
            start_wait(fd, w, false);
        }
    }

    void start_wait(ares_socket_t fd, watch& w, bool read) {
        (read ? w.reading : w.writing) = true;
        auto handler = [self = weak_from_this(), fd, gen = w.generation, read](error_code ec) {
            if (auto s = self.lock()) {
                s->on_ready(fd, gen, read, ec);
            }
        };
        if (ready_now(fd, read)) {
            net::post(ex_, [h = std::move(handler)]() mutable { h(error_code{}); });
        } else {
            w.desc.async_wait(read ? net::posix::stream_descriptor::wait_read
                                   : net::posix::stream_descriptor::wait_write,
                              std::move(handler));
        }
    }

    void on_ready(ares_socket_t fd, std::uint64_t gen, bool read, error_code ec) {
        auto it = watches_.find(fd);
        if (it == watches_.end() || it->second->generation != gen) {
            return; // released meanwhile (maybe a new socket with the same number)
        }
        watch& w = *it->second;
        (read ? w.reading : w.writing) = false;
        if (channel_ == nullptr || ec == net::error::operation_aborted) {
            return;
        }
        if (!(read ? w.want_read : w.want_write)) {
            return;
        }
        // Other wait errors: let c-ares read/write and discover the socket error itself.
        ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
        // c-ares may have closed (and released) the fd, or even reopened the same number.
        it = watches_.find(fd);
        if (it != watches_.end() && it->second->generation == gen) {
            arm(fd, *it->second);
        }
        reschedule_timer();
    }

    /// Re-arms the one timer at c-ares' next retransmission / query timeout.
    void reschedule_timer() {
        if (channel_ == nullptr) {
            return;
        }
        timeval tv{};
        const timeval* next = ares_timeout(channel_, nullptr, &tv);
        const std::uint64_t gen = ++timer_generation_;
        if (next == nullptr) {
            timer_.cancel();
            return;
        }
        timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                             std::chrono::microseconds(next->tv_usec));
        timer_.async_wait([self = weak_from_this(), gen](error_code ec) {
            auto s = self.lock();
            if (!s || ec || s->channel_ == nullptr || gen != s->timer_generation_) {
                return;
            }
            ares_process_fd(s->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            s->reschedule_timer();
        });
    }

    /// Waits for `l` to complete or its deadline. Returns {} when complete, timed_out, or
    /// operation_aborted when the awaiting coroutine was cancelled.
    net::awaitable<error_code> wait(std::shared_ptr<lookup> l) {
        if (l->pending > 0) {
            auto [ec] = co_await l->wake.async_wait(net::as_tuple(net::use_awaitable));
            if (l->pending > 0) {
                co_return ec ? error_code(net::error::operation_aborted)
                             : error_code(net::error::timed_out);
            }
        }
        co_return error_code{};
    }

    std::shared_ptr<lookup> make_lookup(int pending) {
        auto l = std::make_shared<lookup>(ex_);
        l->pending = pending;
        l->wake.expires_after(opt_.timeout);
        return l;
    }

    void start_srv(const std::shared_ptr<lookup>& l, std::size_t index, const std::string& name) {
        ares_query(channel_, name.c_str(), dns_class_in, dns_type_srv, &on_srv_reply,
                   new query_arg{l, index});
    }

    void start_addrinfo(const std::shared_ptr<lookup>& l, const std::string& host) {
        ares_addrinfo_hints hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = ARES_AI_NOSORT; // we order ourselves; skips c-ares' probe sockets
        ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &on_addrinfo,
                         new query_arg{l, 0});
    }

    void seed_rng() {
        std::array<std::uint32_t, 8> seed{};
        if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()),
                       static_cast<int>(sizeof seed)) != 1) {
            // OpenSSL's CSPRNG failing is not a healthy system; the SRV weights only spread
            // load, so the OS entropy source is an acceptable stand-in.
            std::random_device rd;
            for (auto& s : seed) {
                s = rd();
            }
        }
        std::seed_seq seq(seed.begin(), seed.end());
        rng_.seed(seq);
    }

    std::uint32_t draw(std::uint32_t bound) {
        return std::uniform_int_distribution<std::uint32_t>(0, bound)(rng_);
    }

    net::any_io_executor ex_;
    resolver_options opt_;
    ares_channel channel_ = nullptr;
    error_code init_error_;
    std::map<ares_socket_t, std::unique_ptr<watch>> watches_;
    std::uint64_t generation_ = 0;
    net::steady_timer timer_;
    std::uint64_t timer_generation_ = 0;
    std::mt19937_64 rng_;
};

resolver::resolver(net::any_io_executor ex, resolver_options opt)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opt))) {
    impl_->init();
}

resolver::~resolver() {
    // Pending lookups complete (with operation_aborted) when their coroutines next run;
    // their frames keep the impl alive, not the channel.
    impl_->shutdown();
}

net::awaitable<boost::system::result<selection>> resolver::resolve_srv(std::string domain) {
    // `this` may be destroyed while we are suspended: only `self` is used below.
    std::shared_ptr<impl> self = impl_;
    if (self->init_error_) {
        co_return self->init_error_;
    }
    if (self->channel_ == nullptr) {
        co_return error_code(net::error::operation_aborted);
    }
    // C2S-DNS-4: both lookups in parallel.
    auto l = self->make_lookup(2);
    self->start_srv(l, 0, "_xmpps-client._tcp." + domain);
    self->start_srv(l, 1, "_xmpp-client._tcp." + domain);
    self->reschedule_timer();
    if (const error_code ec = co_await self->wait(l)) {
        co_return ec;
    }

    // NXDOMAIN and NODATA mean "no records of this kind"; other failures are errors. An
    // xmpps failure only costs the direct-TLS option (XEP-0368 is optional); an xmpp-client
    // failure is fatal unless xmpps answered with real targets, because we cannot tell
    // "no records" (=> fallback, C2S-DNS-3) from "a '.' record" (=> no service, C2S-DNS-2).
    const auto outcome = [&](std::size_t i) -> error_code {
        const int st = l->srv_status[i];
        if (st == ARES_SUCCESS || st == ARES_ENOTFOUND || st == ARES_ENODATA) {
            return {};
        }
        l->srv[i].clear();
        return map_status(st);
    };
    const error_code xmpps_ec = outcome(0);
    const error_code xmpp_ec = outcome(1);
    if (xmpps_ec == net::error::operation_aborted || xmpp_ec == net::error::operation_aborted) {
        co_return error_code(net::error::operation_aborted);
    }
    const auto random = [&self](std::uint32_t bound) { return self->draw(bound); };
    if (xmpp_ec) {
        const bool usable_xmpps =
            std::any_of(l->srv[0].begin(), l->srv[0].end(),
                        [](const srv_record& r) { return !r.target.empty() && r.target != "."; });
        if (!usable_xmpps) {
            co_return xmpp_ec;
        }
        selection sel = select(domain, l->srv[0], {}, random);
        co_return sel;
    }
    selection sel = select(domain, l->srv[0], l->srv[1], random);
    co_return sel;
}

net::awaitable<boost::system::result<std::vector<net::ip::address>>>
resolver::resolve_host(std::string host) {
    std::shared_ptr<impl> self = impl_;
    // Literal addresses (an IPv6 literal may come bracketed from a route or static target).
    std::string literal = host;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
        literal = literal.substr(1, literal.size() - 2);
    }
    error_code parse_ec;
    const net::ip::address literal_addr = net::ip::make_address(literal, parse_ec);
    if (!parse_ec) {
        co_return std::vector<net::ip::address>{literal_addr};
    }
    if (self->init_error_) {
        co_return self->init_error_;
    }
    if (self->channel_ == nullptr) {
        co_return error_code(net::error::operation_aborted);
    }
    auto l = self->make_lookup(1);
    self->start_addrinfo(l, host);
    self->reschedule_timer();
    if (const error_code ec = co_await self->wait(l)) {
        co_return ec;
    }
    if (l->addr_status != ARES_SUCCESS) {
        co_return map_status(l->addr_status);
    }
    // IPv6 first, each family in answer order, duplicates removed.
    std::vector<net::ip::address> out;
    for (const bool want_v6 : {true, false}) {
        for (const net::ip::address& a : l->addrs) {
            if (a.is_v6() == want_v6 && std::find(out.begin(), out.end(), a) == out.end()) {
                out.push_back(a);
            }
        }
    }
    if (out.empty()) {
        co_return error_code(net::error::host_not_found);
    }
    co_return out;
}

} // namespace boshgate::dns
