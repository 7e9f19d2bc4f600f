// In-place restart (server/handover.hpp): what the successor's environment says it inherits,
// and recognising an inherited listening socket by its address. The restart itself runs with
// the real executable: tests/restart_test.sh and interop/test/inplace_restart.test.js.
#include "boshgate/server/handover.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

namespace boshgate::server {
namespace {

TEST(handover, inherited_sockets_are_named_by_role)
{
    const auto m = parse_inherited("3:http0,4:http1,5:admin");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->size(), 3u);
    EXPECT_EQ(m->at("http0"), 3);
    EXPECT_EQ(m->at("http1"), 4);
    EXPECT_EQ(m->at("admin"), 5);
    EXPECT_EQ(format_inherited(*m), "5:admin,3:http0,4:http1");
    EXPECT_EQ(parse_inherited(format_inherited(*m)), m);
    const auto none = parse_inherited("");
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->empty());
}

TEST(handover, malformed_inheritance_is_refused_whole)
{
    for (const char* bad : {"3", "3:", ":http0", "x:http0", "-1:http0", "3:http0,", "3:http0,3:http1",
                            "3:http0,4:http0", "3:http0;4:admin", "3 :http0"}) {
        EXPECT_FALSE(parse_inherited(bad).has_value()) << bad;
    }
}

TEST(handover, an_inherited_socket_is_recognised_by_its_address)
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const int fd = a.native_handle();
    const auto port = a.local_endpoint().port();
    EXPECT_TRUE(socket_bound_to(fd, "127.0.0.1", port));
    EXPECT_TRUE(socket_bound_to(fd, "127.0.0.1", 0)); // port 0 in the file: any port
    EXPECT_FALSE(socket_bound_to(fd, "127.0.0.1", static_cast<std::uint16_t>(port == 65535 ? 1 : port + 1)));
    EXPECT_FALSE(socket_bound_to(fd, "127.0.0.2", port));
    EXPECT_FALSE(socket_bound_to(fd, "::1", port));
    EXPECT_FALSE(socket_bound_to(fd, "not an address", port));
    EXPECT_FALSE(socket_bound_to(-1, "127.0.0.1", port));
}

} // namespace
} // namespace boshgate::server
