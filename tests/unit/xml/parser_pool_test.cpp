// Unit tests for the per-thread pool of reset expat parsers (issue 9, CPU per message): a
// parser given up by a document parse or an idle stream is reset and reused on the same
// thread, keeps nothing of what it parsed, and the pool stays bounded.
#include "boshgate/xml/stream_parser.hpp"
#include "boshgate/xml/tree.hpp"

#include "xml_test_support.hpp"

// The pool is internal to the xml module; its count is what these tests observe.
#include "../../../src/xml/expat_support.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace boshgate::xml {
namespace {

using detail::parser_pool_max_parsed;
using detail::parser_pool_size;
using detail::pooled_parsers;

const std::string body_doc =
    "<body rid='1' sid='s' xmlns='http://jabber.org/protocol/httpbind'>"
    "<message xmlns='jabber:client' to='a@b'><body>hi</body></message></body>";

boost::system::error_code parse_body_doc(std::string_view doc, limits lim = {})
{
    test::setup s;
    test::recorder rec(s);
    // The per-document path: parse_document itself first tries a thread's reused document
    // parser (reused_documents_test.cpp), which is not one of the pool's.
    return parse_document_alone(doc, rec, lim, options{false});
}

TEST(parser_pool, a_document_parse_gives_its_parser_back_for_the_next)
{
    ASSERT_FALSE(parse_body_doc(body_doc));
    const std::size_t after_one = pooled_parsers();
    EXPECT_GE(after_one, 1U);
    for (int i = 0; i < 100; ++i) {
        ASSERT_FALSE(parse_body_doc(body_doc));
    }
    EXPECT_EQ(pooled_parsers(), after_one) << "reused, not one more per document";
}

// A reused parser knows nothing of the previous document: not its namespace bindings, not
// its failure; and the RFC 6120 §11 restrictions apply to it as to a new one.
TEST(parser_pool, a_reused_parser_starts_clean)
{
    ASSERT_FALSE(parse_body_doc("<body xmlns='http://jabber.org/protocol/httpbind' "
                                "xmlns:p='urn:x'><p:q/></body>"));
    EXPECT_EQ(parse_body_doc("<body xmlns='http://jabber.org/protocol/httpbind'><p:q/></body>"),
              make_error_code(errc::not_well_formed))
        << "the prefix was bound only in the previous document";
    EXPECT_EQ(parse_body_doc("<body xmlns='http://jabber.org/protocol/httpbind'><a>"),
              make_error_code(errc::incomplete_document));
    ASSERT_FALSE(parse_body_doc(body_doc)) << "a failed parse leaves no error behind";
    EXPECT_EQ(parse_body_doc("<!DOCTYPE body><body/>"), make_error_code(errc::restricted_xml));
    EXPECT_EQ(parse_body_doc("<body xmlns='http://jabber.org/protocol/httpbind'><!-- c --></body>"),
              make_error_code(errc::restricted_xml));
    tree t;
    ASSERT_FALSE(parse_tree("<a xmlns='urn:y'><b/></a>", t));
    EXPECT_EQ(parse_tree("<p:a/>", t), make_error_code(errc::not_well_formed));
}

// C2S-XML-2, RFC 6120 §11.6: a reused parser still reads UTF-8 only.
TEST(parser_pool, a_reused_parser_still_forces_utf8)
{
    const std::string utf16le("\xFF\xFE<\0a\0/\0>\0", 10);
    for (int i = 0; i < 3; ++i) {
        ASSERT_FALSE(parse_body_doc(body_doc));
        ASSERT_GE(pooled_parsers(), 1U);
        tree t;
        EXPECT_EQ(parse_tree(utf16le, t), make_error_code(errc::invalid_utf8)) << "round " << i;
        EXPECT_EQ(parse_body_doc(utf16le), make_error_code(errc::invalid_utf8)) << "round " << i;
        EXPECT_EQ(parse_body_doc("<?xml version='1.0' encoding='ISO-8859-1'?><body/>"),
                  make_error_code(errc::invalid_utf8));
    }
}

TEST(parser_pool, a_parser_that_read_much_is_freed_not_kept)
{
    ASSERT_FALSE(parse_body_doc(body_doc));
    const std::size_t before = pooled_parsers();
    ASSERT_GE(before, 1U);
    std::string big = "<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>";
    big.append(parser_pool_max_parsed, 'x');
    big += "</body></message></body>";
    limits lim;
    lim.max_element_bytes = 2 * parser_pool_max_parsed;
    ASSERT_FALSE(parse_body_doc(big, lim));
    EXPECT_EQ(pooled_parsers(), before - 1) << "taken from the pool and not given back";
}

TEST(parser_pool, holds_at_most_its_size)
{
    test::setup s;
    test::recorder rec(s);
    std::vector<std::unique_ptr<stream_parser>> open;
    boost::system::error_code ec;
    for (std::size_t i = 0; i < 3 * parser_pool_size; ++i) {
        open.push_back(std::make_unique<stream_parser>(rec, limits{}));
        open.back()->feed("<stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams'>",
                          ec);
        ASSERT_FALSE(ec);
    }
    EXPECT_EQ(pooled_parsers(), 0U) << "every kept parser is in use";
    open.clear();
    EXPECT_EQ(pooled_parsers(), parser_pool_size);
}

// An idle stream gives its parser to the pool (release_idle) and takes one back on the next
// feed: the stream's state survives in its saved root context, not in the parser.
TEST(parser_pool, idle_streams_share_parsers)
{
    test::setup s;
    test::recorder rec_a(s);
    test::recorder rec_b(s);
    stream_parser a(rec_a, limits{});
    stream_parser b(rec_b, limits{});
    boost::system::error_code ec;
    a.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", ec);
    b.feed("<stream xmlns='urn:other' xmlns:x='urn:x'>", ec);
    ASSERT_FALSE(ec);
    ASSERT_TRUE(a.release_idle());
    ASSERT_TRUE(b.release_idle());
    const std::size_t idle = pooled_parsers();
    for (int i = 0; i < 50; ++i) {
        a.feed("<presence/>", ec);
        ASSERT_FALSE(ec);
        ASSERT_TRUE(a.release_idle());
        b.feed("<x:y/>", ec);
        ASSERT_FALSE(ec);
        ASSERT_TRUE(b.release_idle());
    }
    EXPECT_EQ(pooled_parsers(), idle);
    a.feed("<x:y/>", ec);
    EXPECT_EQ(ec, make_error_code(errc::not_well_formed)) << "x: is bound on b's stream only";
    ASSERT_EQ(rec_b.events.size(), 51U);
    EXPECT_EQ(rec_b.events.back(), rec_b.events[1]) << "b's prefix still resolves to urn:x";
}

// A thread's pool is emptied when the thread ends (LeakSanitizer checks the rest); a parser
// given up afterwards on that thread is freed, not kept.
TEST(parser_pool, a_thread_that_ends_frees_its_parsers)
{
    std::size_t inside = 0;
    std::thread t([&] {
        for (int i = 0; i < 3; ++i) {
            EXPECT_FALSE(parse_body_doc(body_doc));
        }
        inside = pooled_parsers();
    });
    t.join();
    EXPECT_EQ(inside, 1U);
}

} // namespace
} // namespace boshgate::xml
