#include "boshgate/http/cors.hpp"
#include "boshgate/http/static_files.hpp"

#include <gtest/gtest.h>

namespace boshgate::http {

// WEB-1/WEB-3: no Origin -> allowed, no CORS headers; "*" answers "*".
TEST(cors, no_origin_is_allowed_without_headers)
{
    options o;
    auto d = decide_origin(o, std::nullopt);
    EXPECT_TRUE(d.allowed);
    EXPECT_FALSE(d.allow_origin);
}

TEST(cors, wildcard_answers_star)
{
    options o;
    o.cors_origins = {"*"};
    auto d = decide_origin(o, "https://app.example");
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.allow_origin, "*");
    EXPECT_FALSE(d.vary_origin);
}

// WEB-3 / WS-SEC-1: an explicit list echoes the origin with Vary: Origin, refuses others.
TEST(cors, explicit_list_echoes_and_refuses)
{
    options o;
    o.cors_origins = {"https://chat.example.org", "http://localhost:8080"};
    auto ok = decide_origin(o, "HTTPS://chat.example.org");
    EXPECT_TRUE(ok.allowed);
    EXPECT_EQ(ok.allow_origin, "HTTPS://chat.example.org");
    EXPECT_TRUE(ok.vary_origin);
    auto bad = decide_origin(o, "https://evil.test");
    EXPECT_FALSE(bad.allowed);
    EXPECT_FALSE(bad.allow_origin);
    auto empty = options{};
    empty.cors_origins = {};
    EXPECT_FALSE(decide_origin(empty, "https://chat.example.org").allowed);
}

// WEB-1: preflight echoes the requested headers when they are plain tokens.
TEST(cors, preflight_headers)
{
    EXPECT_EQ(preflight_allow_headers(std::nullopt), "Content-Type");
    EXPECT_EQ(preflight_allow_headers("content-type, x-requested-with"), "content-type, x-requested-with");
    EXPECT_EQ(preflight_allow_headers("content-type\r\nx-evil: 1"), "Content-Type");
}

TEST(static_files, maps_and_refuses_traversal)
{
    EXPECT_EQ(static_path("/srv/www", "/"), "/srv/www/index.html");
    EXPECT_EQ(static_path("/srv/www", "/index.html?x=1"), "/srv/www/index.html");
    EXPECT_EQ(static_path("/srv/www", "/vendor/strophe.js"), "/srv/www/vendor/strophe.js");
    EXPECT_EQ(static_path("/srv/www", "/vendor/"), "/srv/www/vendor/index.html");
    EXPECT_FALSE(static_path("/srv/www", "/../etc/passwd"));
    EXPECT_FALSE(static_path("/srv/www", "/a/../../etc/passwd"));
    EXPECT_FALSE(static_path("/srv/www", "/%2e%2e/etc/passwd"));
    EXPECT_FALSE(static_path("/srv/www", "//etc/passwd"));
    EXPECT_FALSE(static_path("/srv/www", "/a\\b"));
    EXPECT_FALSE(static_path("/srv/www", "relative"));
    EXPECT_FALSE(static_path("", "/"));
}

TEST(static_files, mime_types)
{
    EXPECT_EQ(mime_type("/x/index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("a.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type("a.bin"), "application/octet-stream");
}

} // namespace boshgate::http
