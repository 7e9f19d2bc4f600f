#pragma once
// Giving back what an idle object holds, once it has been idle for a while, instead of after
// every event. An upstream stream's XML framer can free expat's state between stanzas
// (xml::stream_parser::release_idle, ~12 KiB per idle session), but doing it before every
// wait for the server costs a parser reset and a rebuild per message on a busy stream. With
// the sweep, a stream marks itself active on each read; once per period the sweep asks every
// object that was not active since the last sweep to release, so a busy stream keeps its
// parser and an idle one gives it back within one to two periods.
//
// One sweep per io_context (an Asio service: each io thread runs its own io_context, and an
// object registers with the one it runs on); only that thread uses it. Its timer runs only
// while some object is watched. I/O adapter support.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace boshgate::core {

class idle_sweep final : public boost::asio::execution_context::service {
public:
    /// What an object registers. `release_idle` gives back what it can; false when it cannot
    /// now (it stays watched and is asked again at the next idle sweep).
    class client {
    public:
        virtual bool release_idle() noexcept = 0;

    protected:
        client() = default;
        client(const client&) = default;
        client& operator=(const client&) = default;
        ~client() = default;

    private:
        friend class idle_sweep;
        bool active_ = false;  ///< touched since the last sweep
        bool watched_ = false; ///< in the sweep's list
    };

    static constexpr std::chrono::milliseconds default_period{100};

    using key_type = idle_sweep;
    static inline boost::asio::execution_context::id id;

    explicit idle_sweep(boost::asio::execution_context& ctx);

    /// The sweep of the io_context that runs `ex`.
    static idle_sweep& of(const boost::asio::any_io_executor& ex);

    /// Marks `c` active, watching it from now on if it was not. `self` must own `c` (an
    /// expired pointer just leaves the list). `ex`: an executor of this io_context, for the
    /// timer.
    /// `self()` is called only when `c` is not watched yet (it makes a std::weak_ptr).
    template <class SelfFn>
    void touch(client& c, SelfFn&& self, const boost::asio::any_io_executor& ex)
    {
        c.active_ = true;
        if (!c.watched_) {
            watch(c, std::forward<SelfFn>(self)(), ex);
        }
    }

    /// Objects watched now (tests, metrics).
    std::size_t watched() const noexcept { return watched_.size(); }
    /// One sweep now (what the timer does each period). Returns how many released.
    std::size_t sweep_now();
    /// Period between sweeps (tests shorten it); applies from the next arming.
    void set_period(std::chrono::steady_clock::duration p) noexcept { period_ = p; }

private:
    void shutdown() override;
    void watch(client& c, std::weak_ptr<client> self, const boost::asio::any_io_executor& ex);
    void arm();

    std::vector<std::weak_ptr<client>> watched_;
    std::optional<boost::asio::steady_timer> timer_;
    bool armed_ = false;
    std::chrono::steady_clock::duration period_ = default_period;
};

} // namespace boshgate::core
