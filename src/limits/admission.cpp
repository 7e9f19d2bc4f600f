// Admission control (see admission.hpp). One mutex guards the counters and the per-address
// map; no call does more than O(1) work under it except the occasional sweep, which is
// amortized (it runs only when the map has doubled since the last one).
#include "boshgate/limits/admission.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace boshgate::limits {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/// Entries kept before a sweep is considered, beyond twice the live tickets.
constexpr std::size_t sweep_slack = 1024;

/// Retry-After hints for the concurrency limits: a connection frees up quickly (a BOSH
/// request ends within `wait`), a session slot less so.
constexpr std::chrono::seconds connection_retry{1};
constexpr std::chrono::seconds session_retry{5};
/// Upper bound of a rate hint (a tiny configured rate must not produce absurd values).
constexpr std::chrono::seconds max_rate_retry{86400};
/// Refills add up in floating point; a bucket this close to a whole token has it.
constexpr double token_epsilon = 1e-9;

bool is_v4_mapped(const std::array<std::uint8_t, 16>& b)
{
    return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), b.begin());
}

/// Clear every bit after the first `prefix` bits.
void mask(std::array<std::uint8_t, 16>& b, unsigned prefix)
{
    for (unsigned i = 0; i < b.size(); ++i) {
        const unsigned first_bit = i * 8;
        if (prefix >= first_bit + 8) {
            continue;
        }
        const unsigned keep = prefix > first_bit ? prefix - first_bit : 0;
        b[i] = static_cast<std::uint8_t>(b[i] & static_cast<std::uint8_t>(0xff00u >> keep));
    }
}

/// Bucket depth; at least one token, or a non-zero rate could never admit anyone.
double capacity(const options& opt)
{
    return static_cast<double>(std::max<std::size_t>(opt.session_burst_per_address, 1));
}

bool rate_on(const options& opt)
{
    return opt.session_rate_per_address > 0;
}

} // namespace

// ------------------------------------------------------------------------------ address_key

std::string address_key::to_string() const
{
    char text[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(bytes) && prefix >= 96) {
        ::inet_ntop(AF_INET, bytes.data() + 12, text, sizeof text);
        return std::string(text) + "/" + std::to_string(prefix - 96);
    }
    ::inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(prefix);
}

std::optional<address_key> make_key(const std::uint8_t* ip, std::size_t size, const options& opt)
{
    address_key k;
    if (ip == nullptr) {
        return std::nullopt;
    }
    if (size == 4) {
        std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), k.bytes.begin());
        std::memcpy(k.bytes.data() + 12, ip, 4);
    } else if (size == 16) {
        std::memcpy(k.bytes.data(), ip, 16);
    } else {
        return std::nullopt;
    }
    if (is_v4_mapped(k.bytes)) {
        k.prefix = 96 + std::min(opt.ipv4_prefix, 32u);
    } else {
        k.prefix = std::min(opt.ipv6_prefix, 128u);
    }
    mask(k.bytes, k.prefix);
    return k;
}

std::string_view describe(refusal r)
{
    switch (r) {
    case refusal::none: return "admitted";
    case refusal::global_connections: return "too many connections";
    case refusal::address_connections: return "too many connections from this address";
    case refusal::global_sessions: return "too many sessions";
    case refusal::address_sessions: return "too many sessions from this address";
    case refusal::address_rate: return "session creation rate exceeded for this address";
    }
    return "refused";
}

// ------------------------------------------------------------------------------ ticket

ticket::ticket(ticket&& other) noexcept
    : owner_(std::move(other.owner_)), key_(other.key_), kind_(other.kind_)
{
    other.owner_.reset();
}

ticket& ticket::operator=(ticket&& other) noexcept
{
    if (this != &other) {
        if (owner_) {
            owner_->release(key_, kind_);
        }
        owner_ = std::move(other.owner_);
        other.owner_.reset();
        key_ = other.key_;
        kind_ = other.kind_;
    }
    return *this;
}

ticket::~ticket()
{
    if (owner_) {
        owner_->release(key_, kind_);
    }
}

// ------------------------------------------------------------------------------ admission

std::size_t admission::key_hash::operator()(const address_key& k) const noexcept
{
    // FNV-1a over the 16 bytes and the prefix; keys are already masked.
    std::uint64_t h = 1469598103934665603ull;
    for (const auto b : k.bytes) {
        h = (h ^ b) * 1099511628211ull;
    }
    h = (h ^ k.prefix) * 1099511628211ull;
    return static_cast<std::size_t>(h);
}

std::shared_ptr<admission> admission::make(const options& opt, std::size_t max_connections)
{
    return std::make_shared<admission>(opt, max_connections);
}

admission::admission(const options& opt, std::size_t max_connections) : opt_(opt), max_connections_(max_connections)
{
}

decision admission::open_connection(const address_key& key)
{
    decision d;
    std::lock_guard lock(mutex_);
    // SEC-LIMIT-5: every connection counts, whether it stays HTTP or becomes a WebSocket.
    if (connections_ >= max_connections_) {
        d.why = refusal::global_connections;
        d.retry_after = connection_retry;
        return d;
    }
    // SEC-LIMIT-4
    if (opt_.max_connections_per_address != 0) {
        const auto it = by_address_.find(key);
        if (it != by_address_.end() && it->second.connections >= opt_.max_connections_per_address) {
            d.why = refusal::address_connections;
            d.retry_after = connection_retry;
            return d;
        }
    }
    entry& e = entry_for(key, last_seen_);
    ++e.connections;
    ++connections_;
    d.granted = ticket(shared_from_this(), key, ticket::kind::connection);
    return d;
}

decision admission::open_session(const address_key& key, core::time_point now)
{
    decision d;
    std::lock_guard lock(mutex_);
    last_seen_ = std::max(last_seen_, now);
    // SEC-LIMIT-1
    if (sessions_ >= opt_.max_sessions) {
        d.why = refusal::global_sessions;
        d.retry_after = session_retry;
        return d;
    }
    const auto it = by_address_.find(key);
    // SEC-LIMIT-2
    if (opt_.max_sessions_per_address != 0 && it != by_address_.end() &&
        it->second.sessions >= opt_.max_sessions_per_address) {
        d.why = refusal::address_sessions;
        d.retry_after = session_retry;
        return d;
    }
    // SEC-LIMIT-3: token bucket, one token per admitted session. A new address starts with
    // a full bucket, so refusal needs an existing entry.
    if (rate_on(opt_) && it != by_address_.end()) {
        entry& e = it->second;
        refill(e, now);
        if (e.tokens < 1.0 - token_epsilon) {
            const double wait = (1.0 - e.tokens) / opt_.session_rate_per_address;
            // ceil(wait) in whole seconds, at least 1 s, capped.
            const double whole = std::ceil(wait);
            d.why = refusal::address_rate;
            d.retry_after = whole >= static_cast<double>(max_rate_retry.count())
                                ? max_rate_retry
                                : std::max(std::chrono::seconds(static_cast<std::int64_t>(whole)),
                                           std::chrono::seconds(1));
            return d;
        }
    }
    entry& e = it != by_address_.end() ? it->second : entry_for(key, now);
    if (rate_on(opt_)) {
        refill(e, now);
        e.tokens -= 1.0;
    }
    ++e.sessions;
    ++sessions_;
    d.granted = ticket(shared_from_this(), key, ticket::kind::session);
    return d;
}

void admission::set_options(const options& opt, std::size_t max_connections)
{
    std::lock_guard lock(mutex_);
    opt_ = opt;
    max_connections_ = max_connections;
}

admission::counts admission::snapshot() const
{
    std::lock_guard lock(mutex_);
    return {connections_, sessions_, by_address_.size()};
}

admission::counts admission::of(const address_key& key) const
{
    std::lock_guard lock(mutex_);
    const auto it = by_address_.find(key);
    if (it == by_address_.end()) {
        return {};
    }
    return {it->second.connections, it->second.sessions, 1};
}

void admission::release(const address_key& key, ticket::kind k) noexcept
{
    std::lock_guard lock(mutex_);
    std::size_t& total = k == ticket::kind::connection ? connections_ : sessions_;
    if (total > 0) {
        --total;
    }
    const auto it = by_address_.find(key);
    if (it == by_address_.end()) {
        return; // cannot happen: an entry with a live ticket is never forgotten
    }
    std::size_t& count = k == ticket::kind::connection ? it->second.connections : it->second.sessions;
    if (count > 0) {
        --count;
    }
    forget_if_idle(key, last_seen_);
}

admission::entry& admission::entry_for(const address_key& key, core::time_point now)
{
    if (const auto it = by_address_.find(key); it != by_address_.end()) {
        return it->second;
    }
    // Bounded map: idle entries (no ticket, full bucket) are dropped on release; entries
    // whose bucket is still refilling are swept here once the map outgrows the live tickets.
    // The sweep runs again only after the map has doubled, so a burst of busy addresses
    // cannot make every admission scan the whole map.
    const std::size_t limit = std::max(2 * (connections_ + sessions_) + sweep_slack, sweep_floor_);
    if (by_address_.size() >= limit) {
        sweep(now);
        sweep_floor_ = 2 * by_address_.size();
    }
    entry& e = by_address_[key];
    e.tokens = capacity(opt_);
    e.refilled = now;
    return e;
}

void admission::refill(entry& e, core::time_point now) const
{
    const double cap = capacity(opt_);
    if (!rate_on(opt_)) {
        e.tokens = cap; // no bucket: whenever the rate is switched on, it starts full
        e.refilled = now;
        return;
    }
    if (now > e.refilled) {
        const double elapsed = std::chrono::duration<double>(now - e.refilled).count();
        e.tokens = std::min(cap, e.tokens + elapsed * opt_.session_rate_per_address);
        e.refilled = now;
    }
    e.tokens = std::min(cap, e.tokens); // a smaller burst after set_options
}

bool admission::idle(const entry& e, core::time_point now) const
{
    if (e.connections != 0 || e.sessions != 0) {
        return false;
    }
    if (!rate_on(opt_)) {
        return true;
    }
    double tokens = e.tokens;
    if (now > e.refilled) {
        tokens += std::chrono::duration<double>(now - e.refilled).count() * opt_.session_rate_per_address;
    }
    // A forgotten address comes back with a full bucket: only forget it once it has one.
    return tokens >= capacity(opt_) - token_epsilon;
}

void admission::forget_if_idle(const address_key& key, core::time_point now)
{
    const auto it = by_address_.find(key);
    if (it != by_address_.end() && idle(it->second, now)) {
        by_address_.erase(it);
    }
}

void admission::sweep(core::time_point now)
{
    std::erase_if(by_address_, [&](const auto& kv) { return idle(kv.second, now); });
}

// ------------------------------------------------------------------------------ effective_limits

effective effective_limits(std::size_t max_connections, std::size_t max_sessions, std::uint64_t nofile)
{
    const std::uint64_t available = nofile > 64 ? nofile - 64 : 1;
    const std::uint64_t half = std::max<std::uint64_t>(available / 2, 1);
    effective e{};
    e.max_connections = static_cast<std::size_t>(std::min<std::uint64_t>(max_connections, half));
    e.max_sessions = static_cast<std::size_t>(std::min<std::uint64_t>(max_sessions, half));
    e.reduced = e.max_connections < max_connections || e.max_sessions < max_sessions;
    e.max_connections = std::max<std::size_t>(e.max_connections, 1);
    e.max_sessions = std::max<std::size_t>(e.max_sessions, 1);
    return e;
}

} // namespace boshgate::limits
