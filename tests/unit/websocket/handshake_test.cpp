// websocket::check_upgrade: RFC 7395 §3.1 subprotocol, RFC 6455 §4 request shape, Origin.
#include "boshgate/websocket/handshake.hpp"

#include <gtest/gtest.h>

namespace boshgate::websocket {
namespace {

upgrade_request good(std::optional<std::string_view> protocols = "xmpp")
{
    upgrade_request r;
    r.method = "GET";
    r.is_upgrade = true;
    r.protocols = protocols;
    return r;
}

// WS-HS-1: `xmpp` offered -> accepted, echoed.
TEST(handshake, xmpp_accepted)
{
    http::options o;
    auto d = check_upgrade(o, good());
    EXPECT_TRUE(d.accept);
    EXPECT_EQ(d.protocol, "xmpp");
}

// WS-HS-1: `xmpp` among other offers (spaces and tabs around tokens) -> `xmpp`.
TEST(handshake, xmpp_among_others)
{
    http::options o;
    for (std::string_view p : {"foo, xmpp", "foo,xmpp", "xmpp, foo", " \txmpp\t ,bar", "a,,xmpp"}) {
        auto d = check_upgrade(o, good(p));
        EXPECT_TRUE(d.accept) << p;
        EXPECT_EQ(d.protocol, "xmpp") << p;
    }
}

// WS-HS-2, GAP-12: no Sec-WebSocket-Protocol, or no exact `xmpp` token -> 400 citing §3.1.
TEST(handshake, missing_xmpp_is_400)
{
    http::options o;
    for (std::optional<std::string_view> p :
         {std::optional<std::string_view>{}, std::optional<std::string_view>{""},
          std::optional<std::string_view>{"xmpp-framing"}, std::optional<std::string_view>{"XMPP"},
          std::optional<std::string_view>{"Xmpp, foo"}, std::optional<std::string_view>{"xmp"},
          std::optional<std::string_view>{"foo xmpp"}, std::optional<std::string_view>{"chat"}}) {
        auto d = check_upgrade(o, good(p));
        EXPECT_FALSE(d.accept) << p.value_or("<none>");
        EXPECT_EQ(d.status, 400u) << p.value_or("<none>");
        EXPECT_NE(d.reason.find("RFC 7395 §3.1"), std::string::npos);
        EXPECT_NE(d.reason.find("GAP-12"), std::string::npos);
        EXPECT_TRUE(d.protocol.empty());
    }
}

// RFC 6455 §4.1: not GET -> 405 (checked first).
TEST(handshake, not_get_is_405)
{
    http::options o;
    auto r = good(std::nullopt);
    r.method = "POST";
    r.is_upgrade = false;
    r.origin = "https://evil.test";
    o.cors_origins = {"https://good.test"};
    auto d = check_upgrade(o, r);
    EXPECT_FALSE(d.accept);
    EXPECT_EQ(d.status, 405u);
    EXPECT_NE(d.reason.find("RFC 6455 §4.1"), std::string::npos);
}

// GET without Upgrade -> 426 (before Origin and subprotocol).
TEST(handshake, no_upgrade_is_426)
{
    http::options o;
    o.cors_origins = {"https://good.test"};
    auto r = good(std::nullopt);
    r.is_upgrade = false;
    r.origin = "https://evil.test";
    auto d = check_upgrade(o, r);
    EXPECT_FALSE(d.accept);
    EXPECT_EQ(d.status, 426u);
    EXPECT_NE(d.reason.find("RFC 7395 §3.1"), std::string::npos);
}

// WS-SEC-1: Origin not on the list -> 403 (before the subprotocol check).
TEST(handshake, foreign_origin_is_403)
{
    http::options o;
    o.cors_origins = {"https://chat.example.org"};
    auto r = good(std::nullopt);
    r.origin = "https://evil.test";
    auto d = check_upgrade(o, r);
    EXPECT_FALSE(d.accept);
    EXPECT_EQ(d.status, 403u);
    EXPECT_NE(d.reason.find("RFC 6455 §10.2"), std::string::npos);
}

// WS-SEC-1: a listed Origin (ASCII case-insensitive), "*" and no Origin are allowed.
TEST(handshake, allowed_origins)
{
    http::options o;
    o.cors_origins = {"https://chat.example.org"};
    auto r = good();
    r.origin = "HTTPS://chat.example.org";
    EXPECT_TRUE(check_upgrade(o, r).accept);
    r.origin = std::nullopt;
    EXPECT_TRUE(check_upgrade(o, r).accept) << "non-browser clients send no Origin";
    o.cors_origins = {"*"};
    r.origin = "https://anything.test";
    EXPECT_TRUE(check_upgrade(o, r).accept);
    o.cors_origins = {};
    EXPECT_EQ(check_upgrade(o, r).status, 403u) << "empty list allows no browser origin";
}

} // namespace
} // namespace boshgate::websocket
