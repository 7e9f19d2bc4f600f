// XEP-0156 §3 host-meta documents: which links, built from what, and how they are written.
#include "boshgate/http/discovery.hpp"
#include "boshgate/http/options.hpp"

#include <gtest/gtest.h>

namespace boshgate::http {
namespace {

TEST(discovery, host_header_values)
{
    for (const char* ok : {"chat.example.com", "chat.example.com:5281", "127.0.0.1", "127.0.0.1:80", "[::1]",
                           "[::1]:5280", "localhost", "xn--bcher-kva.example:443"}) {
        EXPECT_TRUE(valid_host_header(ok)) << ok;
    }
    for (const char* bad : {"", ":80", "a.example:", "a.example:65536", "a.example:12a", "a.example:123456", "::1",
                            "[::1", "[nope]:80", "[::1]80", "a b", "a.example/x", "a.example?x", "a'.example",
                            "<x>", "a.example:80:80", "user@a.example"}) {
        EXPECT_FALSE(valid_host_header(bad)) << bad;
    }
}

using kind = discovery_answer::kind;

// DISC-1, DISC-2: over HTTPS the links are built from the Host header and the paths.
TEST(discovery, links_built_from_the_request_over_https)
{
    options o;
    discovery_request r;
    r.tls = true;
    r.host = "chat.example.com:5281";
    auto a = answer_host_meta(o, r);
    ASSERT_EQ(a.what, kind::document);
    EXPECT_EQ(a.links.bosh, "https://chat.example.com:5281/http-bind");
    EXPECT_EQ(a.links.websocket, "wss://chat.example.com:5281/xmpp-websocket");
    o.bosh_path = "/bind";
    o.websocket_path = "/ws";
    a = answer_host_meta(o, r);
    EXPECT_EQ(a.links.bosh, "https://chat.example.com:5281/bind");
    EXPECT_EQ(a.links.websocket, "wss://chat.example.com:5281/ws");
}

// DISC-3: never an http:// or ws:// link; plain HTTP serves configured (secure) URLs only.
TEST(discovery, plain_http_serves_configured_urls_only)
{
    options o;
    discovery_request r;
    r.host = "chat.example.com";
    EXPECT_EQ(answer_host_meta(o, r).what, kind::not_served);
    o.public_websocket_url = "wss://chat.example.com/xmpp/ws";
    auto a = answer_host_meta(o, r);
    ASSERT_EQ(a.what, kind::document);
    EXPECT_FALSE(a.links.bosh);
    EXPECT_EQ(a.links.websocket, "wss://chat.example.com/xmpp/ws");
}

TEST(discovery, websocket_left_out_when_disabled)
{
    options o;
    discovery_request r;
    r.tls = true;
    r.host = "a.example";
    r.websocket_enabled = false;
    auto a = answer_host_meta(o, r);
    ASSERT_EQ(a.what, kind::document);
    EXPECT_EQ(a.links.bosh, "https://a.example/http-bind");
    EXPECT_FALSE(a.links.websocket);
    EXPECT_EQ(host_meta_jrd(a.links), "{\"links\":[{\"rel\":\"urn:xmpp:alt-connections:xbosh\",\"href\":"
                                      "\"https://a.example/http-bind\"}]}\n");
}

TEST(discovery, configured_urls_need_no_host_header)
{
    options o;
    o.public_bosh_url = "https://chat.example.com/xmpp/http-bind";
    o.public_websocket_url = "wss://chat.example.com/xmpp/ws";
    discovery_request r; // no Host at all (HTTP/1.0)
    for (bool tls : {false, true}) {
        r.tls = tls;
        auto a = answer_host_meta(o, r);
        ASSERT_EQ(a.what, kind::document);
        EXPECT_EQ(a.links.bosh, o.public_bosh_url);
        EXPECT_EQ(a.links.websocket, o.public_websocket_url);
    }
    r.host = "evil.example"; // a Host header changes nothing then
    EXPECT_EQ(answer_host_meta(o, r).links.bosh, o.public_bosh_url);
}

TEST(discovery, missing_or_bad_host_header_is_refused_over_https)
{
    options o;
    discovery_request r;
    r.tls = true;
    EXPECT_EQ(answer_host_meta(o, r).what, kind::bad_host);
    r.host = "a.example\"><script>";
    EXPECT_EQ(answer_host_meta(o, r).what, kind::bad_host);
    // Only the WebSocket URL configured: the BOSH one still needs the Host header.
    o.public_websocket_url = "wss://a.example/ws";
    r.host = std::nullopt;
    EXPECT_EQ(answer_host_meta(o, r).what, kind::bad_host);
}

TEST(discovery, xrd_document)
{
    discovery_links l{"https://a.example/http-bind?x=1&y='2'", "wss://a.example/ws"};
    EXPECT_EQ(host_meta_xrd(l), "<?xml version='1.0' encoding='utf-8'?>\n"
                                "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
                                "  <Link rel='urn:xmpp:alt-connections:xbosh' "
                                "href='https://a.example/http-bind?x=1&amp;y=&apos;2&apos;'/>\n"
                                "  <Link rel='urn:xmpp:alt-connections:websocket' href='wss://a.example/ws'/>\n"
                                "</XRD>\n");
}

TEST(discovery, jrd_document_escapes_json)
{
    discovery_links l{"https://a.example/b\"c\\d", "wss://a.example/ws"};
    EXPECT_EQ(host_meta_jrd(l), "{\"links\":[{\"rel\":\"urn:xmpp:alt-connections:xbosh\",\"href\":"
                                "\"https://a.example/b\\\"c\\\\d\"},{\"rel\":\"urn:xmpp:alt-connections:websocket\","
                                "\"href\":\"wss://a.example/ws\"}]}\n");
    EXPECT_EQ(host_meta_jrd(discovery_links{}), "{\"links\":[]}\n");
}

} // namespace
} // namespace boshgate::http
