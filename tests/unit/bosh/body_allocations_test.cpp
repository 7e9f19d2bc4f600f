// Heap allocations of parse_body (issue 9, CPU per BOSH message): a BOSH message costs two
// request bodies, and each body's root used to cost an allocation per long attribute, for
// its namespace and for its attribute list. Once a thread has parsed a body, the root's
// storage is reused (xml::stream_parser's reused documents, bosh::parse_body's collector):
// what a body's root carries costs no allocation; only what the body hands on (the sid, the
// payloads) is copied out. Counted with a replacement of the global operator new in this
// test executable, switched on only around the call measured.
#include "boshgate/bosh/body.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <variant>

namespace {

thread_local bool counting = false;
thread_local std::uint64_t allocations = 0;

} // namespace

// Replacements of the global allocation functions (C++20 [replacement.functions]): malloc
// and free underneath, so the sanitizers still see every block. The array and nothrow forms
// of libstdc++ call these.
void* operator new(std::size_t n)
{
    if (counting) {
        ++allocations;
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept
{
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}

namespace boshgate::bosh {
namespace {

/// Heap allocations on this thread while parse_body(doc) runs; the body is checked to parse.
std::uint64_t allocations_of(const std::string& doc)
{
    const xml::limits lim;
    allocations = 0;
    counting = true;
    auto parsed = parse_body(doc, lim);
    counting = false;
    EXPECT_TRUE(std::holds_alternative<body>(parsed)) << doc;
    return allocations;
}

/// A body as a client sends it with a message, plus `extra` attributes on the root.
std::string body_with(const std::string& extra)
{
    return "<body rid='1573741820' sid='gw1.SOZrdf0I2gVrbFUT0HDUiZhKQ2o' "
           "xmlns='http://jabber.org/protocol/httpbind'" +
           extra +
           "><message to='b@example.com/phone' type='chat' xmlns='jabber:client'><body>hi</body>"
           "</message></body>";
}

// The counter counts: a first parse on this thread allocates.
TEST(parse_body_allocations, the_counter_sees_allocations)
{
    std::thread([] {
        EXPECT_GT(allocations_of(body_with("")), 3U);
    }).join();
}

/// Allocations of parsing `doc` once this thread has parsed bodies of its shape.
std::uint64_t warm_allocations_of(const std::string& doc)
{
    for (int i = 0; i < 3; ++i) {
        allocations_of(doc);
    }
    return allocations_of(doc);
}

// A warm thread (bodies of one shape, as a session's polls and messages are): long
// attributes and declarations on the root cost nothing unless parse_body hands them on; the
// sid, the payload and the list of payloads cost the same for both bodies.
TEST(parse_body_allocations, a_warm_root_costs_no_allocation)
{
    const std::string plain = body_with("");
    const std::string rich = body_with(
        " xml:lang='en-GB-oxendict-with-a-long-tag' xmlns:xmpp='urn:xmpp:xbosh'"
        " xmpp:version='1.0.0.0.0.0.0.0.0.0.0.0' route='xmpp:example.com:5222/some/long/route'"
        " ignored-by-the-gateway='a value well beyond any short-string buffer'");
    const std::uint64_t base = warm_allocations_of(plain);
    // rich hands on xml:lang, route and xmpp:version: three copies, nothing else.
    EXPECT_EQ(warm_allocations_of(rich), base + 3);
    EXPECT_EQ(warm_allocations_of(plain), base);
}

} // namespace
} // namespace boshgate::bosh
