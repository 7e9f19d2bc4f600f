// upstream::connect to a Unix domain socket target (issue 9): a full listen queue, a missing
// socket, and cancellation, against real AF_UNIX sockets of this process.
#include "boshgate/upstream/connector.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace boshgate::upstream {
namespace {

namespace net = boost::asio;
using local = net::local::stream_protocol;
using namespace std::chrono_literals;
using result_type = std::variant<connected, connect_failure>;

struct unix_connect : ::testing::Test {
    std::string path = "/tmp/boshgate-unix-connect-" + std::to_string(::getpid()) + ".sock";
    net::io_context ioc;
    local::acceptor acceptor{ioc};
    std::vector<local::socket> fillers; ///< connections queued on the acceptor, never accepted
    std::optional<result_type> result;

    void TearDown() override { ::unlink(path.c_str()); }

    /// Listen with a backlog of 0 (the kernel queues one connection, then refuses with EAGAIN).
    void listen_tiny()
    {
        ::unlink(path.c_str());
        acceptor.open(local());
        acceptor.bind(local::endpoint(path));
        acceptor.listen(0);
    }

    /// Queue connections until the kernel says EAGAIN; true if it did.
    bool fill_queue()
    {
        const local::endpoint ep(path);
        for (int i = 0; i < 64; ++i) {
            local::socket s(ioc);
            s.open(local());
            s.native_non_blocking(true);
            if (::connect(s.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
                return errno == EAGAIN;
            }
            fillers.push_back(std::move(s));
        }
        return false;
    }

    void start(std::chrono::milliseconds timeout)
    {
        connect_request req;
        req.domain = "xmpp.test";
        req.unix_path = path;
        req.connect_timeout = timeout;
        net::co_spawn(
            ioc,
            [this, req]() -> net::awaitable<void> {
                co_await net::this_coro::throw_if_cancelled(false);
                result = co_await connect(req, dns::resolver_options{}, "[t]");
            },
            net::detached);
    }

    bool run_until_result()
    {
        ioc.restart();
        for (int i = 0; i < 2000 && !result; ++i) {
            ioc.run_for(10ms);
        }
        return result.has_value();
    }
};

// A full listen queue is waited out (connect(2) is retried), and the socket it returns is
// really connected: bytes written on it reach the server.
TEST_F(unix_connect, waits_out_a_full_listen_queue)
{
    listen_tiny();
    ASSERT_TRUE(fill_queue()) << "the kernel never refused a connection with EAGAIN";
    start(10s);
    ioc.run_for(50ms); // several tries, all EAGAIN
    EXPECT_FALSE(result.has_value());
    for (std::size_t i = 0; i < fillers.size(); ++i) {
        local::socket taken(ioc);
        acceptor.accept(taken); // room in the queue
    }
    ASSERT_TRUE(run_until_result());
    ASSERT_TRUE(std::holds_alternative<connected>(*result)) << std::get<connect_failure>(*result).reason;
    auto& c = std::get<connected>(*result);
    EXPECT_EQ(c.target.host, "unix:" + path);
    EXPECT_FALSE(c.target.direct_tls);
    local::socket server(ioc);
    acceptor.accept(server);
    net::write(c.socket, net::buffer(std::string("<stream:stream>")));
    std::string got(15, '\0');
    net::read(server, net::buffer(got));
    EXPECT_EQ(got, "<stream:stream>");
}

// A queue that stays full ends at connect_timeout with a reason that says so.
TEST_F(unix_connect, full_listen_queue_times_out)
{
    listen_tiny();
    ASSERT_TRUE(fill_queue());
    start(100ms);
    ASSERT_TRUE(run_until_result());
    ASSERT_TRUE(std::holds_alternative<connect_failure>(*result));
    const auto& f = std::get<connect_failure>(*result);
    EXPECT_EQ(f.why, failure::connection_failed);
    EXPECT_NE(f.reason.find("listen queue stayed full"), std::string::npos) << f.reason;
    EXPECT_NE(f.reason.find("unix:" + path), std::string::npos) << f.reason;
}

// No socket at the path: an immediate failure naming the path and the system error.
TEST_F(unix_connect, missing_socket_fails_at_once)
{
    ::unlink(path.c_str());
    start(10s);
    ASSERT_TRUE(run_until_result());
    ASSERT_TRUE(std::holds_alternative<connect_failure>(*result));
    const auto& f = std::get<connect_failure>(*result);
    EXPECT_EQ(f.why, failure::connection_failed);
    EXPECT_EQ(f.reason, "connect to unix:" + path + ": No such file or directory");
}

// A socket file nobody listens on any more (server gone, file left): refused.
TEST_F(unix_connect, stale_socket_file_is_refused)
{
    listen_tiny();
    acceptor.close(); // the file stays
    start(10s);
    ASSERT_TRUE(run_until_result());
    ASSERT_TRUE(std::holds_alternative<connect_failure>(*result));
    EXPECT_EQ(std::get<connect_failure>(*result).reason, "connect to unix:" + path + ": Connection refused");
}

} // namespace
} // namespace boshgate::upstream
