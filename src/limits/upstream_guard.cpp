// Upstream protection per XMPP domain (see upstream_guard.hpp). Pure: no sockets, no clock.
#include "boshgate/limits/upstream_guard.hpp"

#include <algorithm>
#include <utility>

namespace boshgate::limits {

namespace {

/// Open period after the breaker has opened `times` times in a row (1 = first opening):
/// breaker_open doubled per re-open, capped at breaker_open_max.
core::duration open_period(const options& opt, unsigned times)
{
    const core::duration cap = std::max(opt.breaker_open_max, opt.breaker_open);
    core::duration d = opt.breaker_open;
    for (unsigned i = 1; i < times && d < cap; ++i) {
        d *= 2;
    }
    return std::min(d, cap);
}

/// A retry hint in whole milliseconds, rounded up, at least 1 ms.
std::chrono::milliseconds retry_hint(core::duration d)
{
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
    return std::max(ms, std::chrono::milliseconds(1));
}

} // namespace

// ------------------------------------------------------------------------------- attempt

attempt::attempt(attempt&& other) noexcept
    : owner_(std::move(other.owner_)), domain_(std::move(other.domain_)), probe_(other.probe_)
{
    other.owner_.reset();
}

attempt& attempt::operator=(attempt&& other) noexcept
{
    if (this != &other) {
        finish(-1, core::time_point{});
        owner_ = std::move(other.owner_);
        other.owner_.reset();
        domain_ = std::move(other.domain_);
        probe_ = other.probe_;
    }
    return *this;
}

attempt::~attempt()
{
    finish(-1, core::time_point{});
}

void attempt::succeeded(core::time_point now)
{
    finish(1, now);
}

void attempt::failed(core::time_point now)
{
    finish(0, now);
}

void attempt::finish(int outcome, core::time_point now)
{
    if (!owner_) {
        return;
    }
    auto owner = std::move(owner_);
    owner_.reset();
    const auto domain = std::move(domain_); // a finished attempt holds nothing (issue 9)
    owner->finish(domain, probe_, outcome, now);
}

// ------------------------------------------------------------------------ upstream_guard

std::string_view describe(guard_refusal r)
{
    switch (r) {
    case guard_refusal::none:
        return "admitted";
    case guard_refusal::too_many_connecting:
        return "too many connection attempts to this domain under way "
               "(limits.max_connecting_per_domain)";
    case guard_refusal::breaker_open:
        return "recent connection attempts to this domain failed; circuit breaker open "
               "(limits.breaker_failures)";
    }
    return "refused";
}

std::shared_ptr<upstream_guard> upstream_guard::make(const options& opt)
{
    return std::make_shared<upstream_guard>(opt);
}

upstream_guard::upstream_guard(const options& opt) : opt_(opt) {}

void upstream_guard::set_options(const options& opt)
{
    std::lock_guard lock(mutex_);
    opt_ = opt;
}

guard_decision upstream_guard::try_connect(std::string_view domain, core::time_point now)
{
    std::lock_guard lock(mutex_);
    auto it = domains_.find(std::string(domain));
    if (it == domains_.end()) {
        if (domains_.size() >= sweep_at_) {
            sweep(now);
        }
        it = domains_.emplace(std::string(domain), entry{}).first;
    }
    entry& e = it->second;

    guard_decision d;
    bool probe = false;
    if (e.tripped) {
        if (now < e.open_until) {
            d.why = guard_refusal::breaker_open;
            d.retry_after = retry_hint(e.open_until - now);
            return d;
        }
        // Half-open: exactly one probe at a time; everyone else waits for its outcome.
        if (e.probing) {
            d.why = guard_refusal::breaker_open;
            d.retry_after = retry_hint(opt_.breaker_open);
            return d;
        }
        probe = true;
    }
    if (opt_.max_connecting_per_domain != 0 && e.connecting >= opt_.max_connecting_per_domain) {
        d.why = guard_refusal::too_many_connecting;
        d.retry_after = std::chrono::seconds(1);
        return d; // the entry has connecting > 0, so it is not idle: nothing to forget
    }
    ++e.connecting;
    e.probing = e.probing || probe;
    d.granted = attempt(shared_from_this(), it->first, probe);
    return d;
}

void upstream_guard::finish(const std::string& domain, bool probe, int outcome, core::time_point now)
{
    std::lock_guard lock(mutex_);
    auto it = domains_.find(domain);
    if (it == domains_.end()) {
        return; // cannot happen: an entry with attempts under way is never forgotten
    }
    entry& e = it->second;
    if (e.connecting > 0) {
        --e.connecting;
    }
    if (probe) {
        e.probing = false;
    }
    if (outcome > 0) {
        // Any success proves the domain reachable: close and forget the history.
        e.consecutive_failures = 0;
        e.opened_times = 0;
        e.open_until = {};
        e.tripped = false;
    } else if (outcome == 0) {
        ++e.consecutive_failures;
        if (probe) {
            // The half-open probe failed: re-open for a doubled period.
            ++e.opened_times;
            e.open_until = now + open_period(opt_, e.opened_times);
        } else if (!e.tripped && opt_.breaker_failures != 0 &&
                   e.consecutive_failures >= opt_.breaker_failures) {
            e.tripped = true;
            e.opened_times = 1;
            e.open_until = now + open_period(opt_, e.opened_times);
        }
        // Failures of attempts that started before the breaker opened only count: the
        // open period and the probe decide what happens next.
    }
    // outcome < 0: cancelled, counts as nothing.
    if (e.connecting == 0 && !e.probing && !e.tripped && e.consecutive_failures == 0) {
        domains_.erase(it);
    }
}

void upstream_guard::sweep(core::time_point now)
{
    // Forget what no attempt needs and no open breaker protects: closed entries with a few
    // failures, and tripped entries whose open period has passed (their doubling memory is
    // lost, which is the price of a bounded map). Open breakers stay.
    std::erase_if(domains_, [now](const auto& kv) {
        const entry& e = kv.second;
        return e.connecting == 0 && !e.probing && now >= e.open_until;
    });
    sweep_at_ = std::max(max_tracked_domains, 2 * domains_.size());
}

upstream_guard::state upstream_guard::state_of(std::string_view domain, core::time_point now) const
{
    std::lock_guard lock(mutex_);
    auto it = domains_.find(std::string(domain));
    if (it == domains_.end() || !it->second.tripped) {
        return state::closed;
    }
    return now < it->second.open_until ? state::open : state::half_open;
}

std::size_t upstream_guard::connecting(std::string_view domain) const
{
    std::lock_guard lock(mutex_);
    auto it = domains_.find(std::string(domain));
    return it == domains_.end() ? 0 : it->second.connecting;
}

std::size_t upstream_guard::tracked_domains() const
{
    std::lock_guard lock(mutex_);
    return domains_.size();
}

} // namespace boshgate::limits
