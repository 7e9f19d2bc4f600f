#pragma once
// Upstream protection, per XMPP domain: a cap on concurrent connection attempts and a
// circuit breaker after repeated failures, so that a server that is down or restarting
// never gets a thundering herd from the gateway. Pure policy (every call takes `now`),
// thread-safe (one mutex). Anchors: nghttpx ConnectBlocker, Envoy's circuit breakers
// (max_pending_requests) and outlier ejection.
//
// States per domain: closed (attempts allowed up to the cap) -> after breaker_failures
// consecutive failures: open for breaker_open (doubling per re-open up to
// breaker_open_max) -> half-open: exactly one probe attempt; its success closes the
// breaker, its failure re-opens it.
#include "boshgate/core/clock.hpp"
#include "boshgate/limits/options.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace boshgate::limits {

class upstream_guard;

/// One admitted connection attempt. Report its outcome with succeeded()/failed(); an
/// attempt destroyed without either (cancelled: the client went away) counts as neither.
class attempt {
public:
    attempt() = default;
    attempt(attempt&&) noexcept;
    attempt& operator=(attempt&&) noexcept;
    attempt(const attempt&) = delete;
    attempt& operator=(const attempt&) = delete;
    ~attempt();
    explicit operator bool() const noexcept { return owner_ != nullptr; }
    void succeeded(core::time_point now);
    void failed(core::time_point now);

private:
    friend class upstream_guard;
    attempt(std::shared_ptr<upstream_guard> owner, std::string domain, bool probe)
        : owner_(std::move(owner)), domain_(std::move(domain)), probe_(probe) {}
    void finish(int outcome, core::time_point now); // -1 cancelled, 0 failed, 1 succeeded
    std::shared_ptr<upstream_guard> owner_;
    std::string domain_;
    bool probe_ = false;
};

enum class guard_refusal {
    none,
    too_many_connecting, ///< max_connecting_per_domain attempts already under way
    breaker_open,        ///< recent repeated failures; retry after the open period
};

struct guard_decision {
    attempt granted;                   ///< non-empty when the attempt may start
    guard_refusal why = guard_refusal::none;
    std::chrono::milliseconds retry_after{0};
};

std::string_view describe(guard_refusal r);

class upstream_guard : public std::enable_shared_from_this<upstream_guard> {
public:
    static std::shared_ptr<upstream_guard> make(const options& opt);
    explicit upstream_guard(const options& opt); // use make()

    /// May a new connection attempt to `domain` start now?
    guard_decision try_connect(std::string_view domain, core::time_point now);
    void set_options(const options& opt);

    enum class state { closed, open, half_open };
    state state_of(std::string_view domain, core::time_point now) const;
    std::size_t connecting(std::string_view domain) const;
    std::size_t tracked_domains() const;

private:
    friend class attempt;
    struct entry {
        std::size_t connecting = 0;
        unsigned consecutive_failures = 0;
        unsigned opened_times = 0;          ///< re-opens since the last success (doubling)
        core::time_point open_until{};      ///< while now < open_until: open
        bool probing = false;               ///< half-open: the single probe is under way
        bool tripped = false;               ///< the breaker has opened and not closed since
    };
    void finish(const std::string& domain, bool probe, int outcome, core::time_point now);
    /// Forget entries that no attempt needs and no open breaker protects (called when the
    /// map reaches sweep_at_, so the cost is amortized).
    void sweep(core::time_point now);

    /// Entries with nothing connecting, the breaker closed and no failure are erased at once;
    /// the rest (a few failures, open or half-open breakers) are swept from this size on.
    static constexpr std::size_t max_tracked_domains = 4096;

    mutable std::mutex mutex_;
    options opt_;
    std::unordered_map<std::string, entry> domains_;
    std::size_t sweep_at_ = max_tracked_domains;
};

} // namespace boshgate::limits
