#include "boshgate/core/idle_sweep.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>

namespace boshgate::core {

namespace net = boost::asio;

idle_sweep::idle_sweep(net::execution_context& ctx) : net::execution_context::service(ctx) {}

idle_sweep& idle_sweep::of(const net::any_io_executor& ex)
{
    return net::use_service<idle_sweep>(net::query(ex, net::execution::context));
}

void idle_sweep::watch(client& c, std::weak_ptr<client> self, const net::any_io_executor& ex)
{
    c.watched_ = true;
    watched_.push_back(std::move(self));
    if (!timer_) {
        timer_.emplace(ex);
    }
    if (!armed_) {
        arm();
    }
}

std::size_t idle_sweep::sweep_now()
{
    std::size_t released = 0;
    std::erase_if(watched_, [&released](const std::weak_ptr<client>& w) {
        const std::shared_ptr<client> c = w.lock();
        if (!c) {
            return true;
        }
        if (c->active_) {
            c->active_ = false; // busy since the last sweep: ask again next time
            return false;
        }
        if (!c->release_idle()) {
            return false;
        }
        c->watched_ = false;
        ++released;
        return true;
    });
    return released;
}

void idle_sweep::arm()
{
    armed_ = true;
    timer_->expires_after(period_);
    // The handler holds no object: at io_context shutdown it is destroyed uncalled, before
    // this service.
    timer_->async_wait([this](boost::system::error_code ec) {
        armed_ = false;
        if (ec) {
            return;
        }
        sweep_now();
        if (!watched_.empty()) {
            arm();
        }
    });
}

void idle_sweep::shutdown()
{
    watched_.clear();
    timer_.reset();
    armed_ = false;
}

} // namespace boshgate::core
