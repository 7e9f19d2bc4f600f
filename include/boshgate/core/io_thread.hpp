#pragma once
// Which io_context the calling thread runs. server::gateway runs one io_context per io
// thread (each connection, its session and its upstream stream stay on one thread: no
// cross-thread hand-off per event); code that creates a session on behalf of the current
// connection uses this to keep the session on the same thread. I/O adapter support only.
namespace boost::asio {
class io_context;
}

namespace boshgate::core {

/// The io_context this thread runs (set by the thread that runs it); null if none was set.
boost::asio::io_context* this_thread_io_context() noexcept;
/// Set (or clear with nullptr) the calling thread's io_context.
void set_this_thread_io_context(boost::asio::io_context* ioc) noexcept;

} // namespace boshgate::core
