#pragma once
// Admission control: who may open a connection or a session, now. Pure policy (no sockets,
// no clock of its own: every call takes `now`), thread-safe (one mutex, held for map
// operations only), so that the listener, the BOSH session table and the WebSocket hub of
// all io threads share one instance.
//
// Accounting is by RAII tickets: a connection_ticket lives as long as the connection (and
// moves into the WebSocket session on upgrade), a session_ticket as long as the session, so
// a count can never leak or go negative whatever path ends them.
//
// Anchors: nginx limit_conn / limit_req (per-key concurrency and leaky bucket), HAProxy
// stick-table rates, Prosody mod_limits. The client address is the TCP peer today; the
// address_key seam is where a trusted-proxy address will replace it.
#include "boshgate/core/clock.hpp"
#include "boshgate/limits/options.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace boshgate::limits {

/// A client address reduced to its admission group: IPv4 (also IPv4-mapped IPv6) masked to
/// ipv4_prefix, IPv6 masked to ipv6_prefix. Stored as 16 bytes (v4 as ::ffff:a.b.c.d).
struct address_key {
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const address_key&) const = default;
    std::string to_string() const; ///< "203.0.113.7/32", "2001:db8:1:2::/64"
    unsigned prefix = 128;
};

/// `ip` as 4 bytes (IPv4) or 16 bytes (IPv6, mapped v4 recognized) in network order.
/// Returns nullopt for any other size.
std::optional<address_key> make_key(const std::uint8_t* ip, std::size_t size, const options& opt);

enum class refusal {
    none,
    global_connections,   ///< http.max_connections (all connections, WebSocket included)
    address_connections,  ///< max_connections_per_address
    global_sessions,      ///< max_sessions
    address_sessions,     ///< max_sessions_per_address
    address_rate,         ///< session_rate_per_address / session_burst_per_address
};

/// Short English reason for logs and client texts ("too many sessions from this address").
std::string_view describe(refusal r);

class admission;

/// Holds one unit of a count; releases it when destroyed. Empty tickets release nothing.
class ticket {
public:
    ticket() = default;
    ticket(ticket&&) noexcept;
    ticket& operator=(ticket&&) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket();
    explicit operator bool() const noexcept { return owner_ != nullptr; }
    const address_key& key() const noexcept { return key_; }

private:
    friend class admission;
    enum class kind : std::uint8_t { connection, session };
    ticket(std::shared_ptr<admission> owner, address_key key, kind k)
        : owner_(std::move(owner)), key_(key), kind_(k) {}
    std::shared_ptr<admission> owner_;
    address_key key_;
    kind kind_ = kind::connection;
};

/// Result of an admission request: a ticket, or the refusal and when to retry.
struct decision {
    ticket granted;                      ///< non-empty when admitted
    refusal why = refusal::none;
    std::chrono::seconds retry_after{0}; ///< hint for Retry-After (>= 1 s when refused)
};

class admission : public std::enable_shared_from_this<admission> {
public:
    /// `max_connections`: http.max_connections, already reduced to what the open-file
    /// limit allows (see effective_limits).
    static std::shared_ptr<admission> make(const options& opt, std::size_t max_connections);

    /// A new TCP connection from `key`.
    decision open_connection(const address_key& key);
    /// A new BOSH or WebSocket session from `key` at `now` (takes a rate token when admitted).
    decision open_session(const address_key& key, core::time_point now);

    /// SIGHUP: new limits for new admissions; live tickets stay valid.
    void set_options(const options& opt, std::size_t max_connections);

    struct counts {
        std::size_t connections = 0;
        std::size_t sessions = 0;
        std::size_t tracked_addresses = 0; ///< per-address entries held now (bounded)
    };
    counts snapshot() const;
    /// Live connections / sessions of one group (tests, status).
    counts of(const address_key& key) const;

    explicit admission(const options& opt, std::size_t max_connections); // use make()

private:
    friend class ticket;
    struct entry {
        std::size_t connections = 0;
        std::size_t sessions = 0;
        double tokens = 0;                 ///< session-rate bucket
        core::time_point refilled{};       ///< when `tokens` was last brought up to date
    };
    struct key_hash {
        std::size_t operator()(const address_key& k) const noexcept;
    };
    void release(const address_key& key, ticket::kind k) noexcept;
    entry& entry_for(const address_key& key, core::time_point now);
    void refill(entry& e, core::time_point now) const;
    /// No ticket and a bucket that would be full at `now`: forgetting it changes nothing.
    bool idle(const entry& e, core::time_point now) const;
    void forget_if_idle(const address_key& key, core::time_point now);
    void sweep(core::time_point now);

    mutable std::mutex mutex_;
    options opt_;
    std::size_t max_connections_;
    std::size_t connections_ = 0;
    std::size_t sessions_ = 0;
    core::time_point last_seen_{};          ///< latest `now` given (release has none)
    std::size_t sweep_floor_ = 0;           ///< map size below which no sweep runs (2x the last sweep's survivors)
    std::unordered_map<address_key, entry, key_hash> by_address_;
};

/// Limits that the process can honour with `nofile` descriptors: each connection holds one,
/// each session one more upstream, and 64 stay in reserve (listeners, DNS, logs).
struct effective {
    std::size_t max_connections;
    std::size_t max_sessions;
    bool reduced = false; ///< either was lowered from the configured value
};
effective effective_limits(std::size_t max_connections, std::size_t max_sessions, std::uint64_t nofile);

} // namespace boshgate::limits
