// upstream::set_link_liveness: the socket options that let a silently cut server link end
// its session (FAULT-LINK-1/2). Read back with getsockopt on a real (unconnected) TCP socket;
// the end-to-end behaviour (nft drop inside a network namespace) is interop/fault's
// FAULT-LINK-1/2.
#include "boshgate/upstream/connector.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

using namespace std::chrono_literals;
using boost::asio::ip::tcp;

namespace {

int get_option(tcp::socket& s, int level, int name)
{
    int value = -1;
    socklen_t len = sizeof value;
    EXPECT_EQ(::getsockopt(s.native_handle(), level, name, &value, &len), 0);
    return value;
}

struct link_liveness : ::testing::Test {
    boost::asio::io_context io;
    tcp::socket sock{io, tcp::v4()};
};

} // namespace

// FAULT-LINK-1: keepalive probes after the configured idle time, then every third of it,
// three unanswered probes end the connection.
TEST_F(link_liveness, keepalive_idle_interval_and_count)
{
    boshgate::upstream::set_link_liveness(sock.native_handle(), 60s, 0s, "[t]");
    EXPECT_EQ(get_option(sock, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_KEEPIDLE), 60);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_KEEPINTVL), 20);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_KEEPCNT), 3);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_USER_TIMEOUT), 0); // unacked 0: kernel default kept
}

// The probe interval never rounds down to zero (the kernel refuses 0).
TEST_F(link_liveness, short_keepalive_keeps_a_one_second_interval)
{
    boshgate::upstream::set_link_liveness(sock.native_handle(), 2s, 0s, "[t]");
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_KEEPIDLE), 2);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_KEEPINTVL), 1);
}

// FAULT-LINK-2: bytes the server does not acknowledge for write_timeout abort the link.
TEST_F(link_liveness, user_timeout_is_the_write_timeout_in_milliseconds)
{
    boshgate::upstream::set_link_liveness(sock.native_handle(), 60s, 30s, "[t]");
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
}

// The kernel's bound is longer than write_timeout, so that a write the server does not take
// is always reported by the write guard first (flow_upstream_write_timeouts; regression: a
// flaky flow test saw the two race under load), and 0 stays off.
TEST(link_liveness_bound, unacked_timeout_outlasts_the_write_timeout)
{
    using boshgate::upstream::unacked_timeout_for;
    EXPECT_EQ(unacked_timeout_for(0s), 0s);
    EXPECT_EQ(unacked_timeout_for(1s), 2s);
    EXPECT_EQ(unacked_timeout_for(2s), 3s);
    EXPECT_EQ(unacked_timeout_for(3s), 4s);
    EXPECT_EQ(unacked_timeout_for(30s), 45s);
}

// tcp_keepalive = "0s": no keepalive at all (an operator's explicit choice).
TEST_F(link_liveness, zero_turns_both_off)
{
    boshgate::upstream::set_link_liveness(sock.native_handle(), 0s, 0s, "[t]");
    EXPECT_EQ(get_option(sock, SOL_SOCKET, SO_KEEPALIVE), 0);
    EXPECT_EQ(get_option(sock, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
}
