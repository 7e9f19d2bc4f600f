// Asio, Asio-SSL and Beast compiled once for the whole project
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION, conventions rule 12).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

#include "boshgate/core/io_thread.hpp"

namespace boshgate::core {

namespace {
thread_local boost::asio::io_context* current_io_context = nullptr;
}

boost::asio::io_context* this_thread_io_context() noexcept
{
    return current_io_context;
}

void set_this_thread_io_context(boost::asio::io_context* ioc) noexcept
{
    current_io_context = ioc;
}

} // namespace boshgate::core
