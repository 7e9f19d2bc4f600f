#include "boshgate/http/wire.hpp"

#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <sstream>

namespace boshgate::http {
namespace {

namespace bhttp = boost::beast::http;

/// What Beast's serializer writes for `res` (its operator<< runs the serializer).
std::string beast_bytes(const string_response& res)
{
    std::ostringstream os;
    os << res;
    return os.str();
}

string_response bosh_like(unsigned version, std::string body)
{
    string_response res{bhttp::status::ok, version};
    res.set(bhttp::field::content_type, "text/xml; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::access_control_allow_origin, "https://app.example");
    res.set(bhttp::field::vary, "Origin");
    res.set(bhttp::field::server, "boshgate");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox");
    res.body() = std::move(body);
    res.keep_alive(true);
    res.prepare_payload();
    return res;
}

// Issue 9: the one-buffer bytes are exactly those of Beast's serializer, for the replies
// the connection writes: keep-alive and close, HTTP/1.0 and 1.1, empty and long bodies.
TEST(wire, bytes_are_those_of_beasts_serializer)
{
    std::string out = "left over from an earlier reply";
    for (unsigned version : {10u, 11u}) {
        for (bool keep : {true, false}) {
            for (const std::string& body :
                 {std::string(), std::string("<body xmlns='http://jabber.org/protocol/httpbind'/>"),
                  std::string(200'000, 'x')}) {
                auto res = bosh_like(version, body);
                res.keep_alive(keep);
                serialize(res, out);
                EXPECT_EQ(out, beast_bytes(res)) << "HTTP/1." << version % 10 << " keep " << keep;
                EXPECT_EQ(out.size() - out.find("\r\n\r\n") - 4, body.size());
            }
        }
    }
}

// Issue 9: a fresh buffer gets the reply in one allocation of its size, not grown in steps
// (each step a copy and a block the allocator must find).
TEST(wire, a_fresh_buffer_is_allocated_once_at_the_replys_size)
{
    for (std::size_t n : {0u, 300u, 5'000u}) {
        std::string out;
        serialize(bosh_like(11, std::string(n, 'x')), out);
        EXPECT_EQ(out.capacity(), out.size()) << n;
    }
}

// A HEAD answer keeps the GET's Content-Length and sends no body; errors carry their
// status and a reason phrase, standard or the one set.
TEST(wire, head_answers_and_reason_phrases)
{
    auto head = bosh_like(11, "<XRD/>");
    head.body().clear(); // as the host-meta and static-file answers to HEAD do
    std::string out;
    serialize(head, out);
    EXPECT_EQ(out, beast_bytes(head));
    EXPECT_NE(out.find("Content-Length: 6\r\n"), std::string::npos) << out;
    EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;

    string_response too_large{bhttp::status::payload_too_large, 11};
    too_large.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    too_large.body() = "request body too large\n";
    too_large.prepare_payload();
    serialize(too_large, out);
    EXPECT_EQ(out, beast_bytes(too_large));
    EXPECT_TRUE(out.starts_with("HTTP/1.1 413 Payload Too Large\r\n")) << out;

    too_large.reason("Too Much");
    serialize(too_large, out);
    EXPECT_EQ(out, beast_bytes(too_large));
    EXPECT_TRUE(out.starts_with("HTTP/1.1 413 Too Much\r\n")) << out;
}

} // namespace
} // namespace boshgate::http
