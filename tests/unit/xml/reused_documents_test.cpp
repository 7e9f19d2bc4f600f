// Unit tests for parse_document's reused parser (issue 9, CPU per BOSH message): documents
// parsed one after another on a thread share one expat parser, inside a synthetic root, as
// long as they parse cleanly; anything else is parsed again on its own. Each document must
// be judged exactly as parse_document_alone judges it (events, error), whatever came before
// it on the thread. BOSH-XML-1..5, BOSH-XML-9..11, SEC-XML-1..2 rest on this.
#include "boshgate/xml/stream_parser.hpp"

#include "xml_test_support.hpp"

// The allocation counters and the rebuild threshold are internal to the xml module.
#include "../../../src/xml/expat_support.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace boshgate::xml {
namespace {

struct judged {
    std::vector<std::string> events;
    boost::system::error_code ec;
    bool operator==(const judged&) const = default;
};

void PrintTo(const judged& j, std::ostream* os)
{
    *os << "{ec=" << j.ec.message() << " events=[";
    for (const auto& e : j.events) {
        *os << "\n  " << e;
    }
    *os << "]}";
}

judged run(bool reused, std::string_view doc, limits lim = {}, options opt = {false})
{
    test::setup s;
    test::recorder rec(s);
    judged j;
    j.ec = reused ? parse_document(doc, rec, lim, opt) : parse_document_alone(doc, rec, lim, opt);
    j.events = rec.events;
    return j;
}

const std::string body = "<body rid='1' sid='s1' xmlns='http://jabber.org/protocol/httpbind'>"
                         "<message xmlns='jabber:client' to='a@b'><body>hi</body></message>"
                         "</body>";

/// Documents of every kind a BOSH client may send, and many it must not.
const std::vector<std::string> corpus = {
    body,
    "<body rid='2' sid='s1' xmlns='http://jabber.org/protocol/httpbind'/>",
    "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' "
    "xmpp:version='1.0' xmpp:restart='true' rid='3' sid='s1'/>",
    "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:x='urn:x' rid='4'><x:q/><presence/></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><x:q/></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'/>  \r\n",
    "<body xmlns='http://jabber.org/protocol/httpbind'/><body/>",
    "<body xmlns='http://jabber.org/protocol/httpbind'/>x",
    "<body xmlns='http://jabber.org/protocol/httpbind'/><!-- c -->",
    "<body xmlns='http://jabber.org/protocol/httpbind'/><?pi?>",
    "<body xmlns='http://jabber.org/protocol/httpbind'/></w>",
    "<body xmlns='http://jabber.org/protocol/httpbind'/></w><w>",
    "<body xmlns='http://jabber.org/protocol/httpbind'/><",
    "<body xmlns='http://jabber.org/protocol/httpbind'>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a>",
    "<body xmlns='http://jabber.org/protocol/httpbind'>text</body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'> <presence/> </body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><![CDATA[x]]></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a>&amp;&lt;&#233;</a></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a>&nbsp;</a></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a></b></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind' a='1' a='2'/>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a xmlns:p=''/></body>",
    "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xml='urn:wrong'/>",
    "<body xmlns='http://jabber.org/protocol/httpbind'>\xC3\xA9</body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'>\xFF</body>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><a>\xC3</a></body>",
    "<?xml version='1.0'?><body xmlns='http://jabber.org/protocol/httpbind'/>",
    "<?xml version='1.0' encoding='ISO-8859-1'?><body/>",
    "<!DOCTYPE body [<!ENTITY a 'b'>]><body>&a;</body>",
    "<!-- c --><body/>",
    " <body/>",
    "\xEF\xBB\xBF<body/>",
    std::string("<\0b\0/\0>\0", 8),
    "\xFF\xFE<\0b\0/\0>\0",
    "</body>",
    "<w/>",
    "<w>",
    "<",
    "",
    "x",
    "<p:body xmlns:p='http://jabber.org/protocol/httpbind'/>",
    "<body/>",
    "<body xmlns='http://jabber.org/protocol/httpbind'><message><body>deep<a><b><c/></b></a></body></message></body>",
};

// Each document after a clean one (so the reused parser is live), in both orders.
TEST(reused_documents, each_document_judged_as_if_parsed_alone)
{
    for (const std::string& doc : corpus) {
        ASSERT_FALSE(run(true, body).ec);
        EXPECT_EQ(run(true, doc), run(false, doc)) << "document '" << doc << "'";
        EXPECT_EQ(run(true, body), run(false, body)) << "after '" << doc << "'";
    }
}

// Limits and options are those of each call, not of the call that built the parser.
TEST(reused_documents, limits_and_options_are_per_call)
{
    limits tight;
    tight.max_depth = 3;
    tight.max_namespace_decls = 2;
    tight.max_element_bytes = 60;
    for (const std::string& doc : corpus) {
        ASSERT_FALSE(run(true, body).ec);
        EXPECT_EQ(run(true, doc, tight), run(false, doc, tight)) << "tight: '" << doc << "'";
        EXPECT_EQ(run(true, doc, {}, options{true}), run(false, doc, {}, options{true}))
            << "redeclaring: '" << doc << "'";
    }
}

// A prefix bound in one document is not bound in the next: each document is scoped.
TEST(reused_documents, nothing_carries_over_between_documents)
{
    const std::string binds = "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:x='urn:x'><x:q/></body>";
    const std::string uses = "<body xmlns='http://jabber.org/protocol/httpbind'><x:q/></body>";
    ASSERT_FALSE(run(true, binds).ec);
    EXPECT_EQ(run(true, uses).ec, make_error_code(errc::not_well_formed));
    ASSERT_FALSE(run(true, binds).ec);
    const judged plain = run(true, "<body xmlns='http://jabber.org/protocol/httpbind'><q/></body>");
    ASSERT_FALSE(plain.ec);
    EXPECT_EQ(plain, run(false, "<body xmlns='http://jabber.org/protocol/httpbind'><q/></body>"));
}

// Random sequences from parts of documents: whatever one document leaves in the shared
// parser meets the next.
TEST(reused_documents, random_sequences_judged_as_if_parsed_alone)
{
    const std::vector<std::string> parts = {
        "<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>", "</body>", "<body/>",
        "<presence/>", "<message xmlns='jabber:client'>", "</message>", "<x:q xmlns:x='urn:x'/>",
        "<x:q/>", "hi", " ", "\n", "<![CDATA[", "]]>", "<!-- c -->", "<?pi?>", "&amp;", "&nbsp;",
        "</w>", "<w>", "<", ">", "/>", "'", "\xC3\xA9", "\xFF", "<?xml version='1.0'?>",
        "<!DOCTYPE a>", " xmlns:p='urn:p'", "<p:a/>",
    };
    std::mt19937 rng(20261205);
    std::size_t clean = 0;
    for (int i = 0; i < 4000; ++i) {
        std::string doc;
        if (rng() % 3 == 0) {
            doc = corpus[rng() % corpus.size()];
        } else {
            doc = parts[rng() % 3];
            for (auto n = rng() % 5; n > 0; --n) {
                doc += parts[rng() % parts.size()];
            }
            if (rng() % 2 == 0) {
                doc += "</body>";
            }
        }
        const judged reused = run(true, doc);
        ASSERT_EQ(reused, run(false, doc)) << "document " << i << ": '" << doc << "'";
        clean += reused.ec ? 0 : 1;
    }
    EXPECT_GT(clean, 500U) << "enough clean documents to keep the shared parser in use";
}

// A handler that swaps the root with storage of its own, as bosh::parse_body's does, hands
// the parser buffers that still hold an earlier root (more, fewer or other attributes,
// qualified or not): each root it gets is still exactly the document's.
TEST(reused_documents, a_handler_that_swaps_the_root_gets_each_root_whole)
{
    struct swapping final : handler {
        root_open kept; // outlives the documents, as the collector's per-thread storage
        std::vector<std::string> events;
        void on_open(root_open&& r) override
        {
            std::swap(kept, r);
            events.push_back(test::describe(kept));
        }
        void on_element(element&& el) override { events.push_back(test::describe(el)); }
        void on_close() override { events.push_back("close"); }
    } swapper;
    std::mt19937 rng(20261206);
    for (int i = 0; i < 2000; ++i) {
        const std::string& doc = corpus[rng() % corpus.size()];
        swapper.events.clear();
        const auto ec = parse_document(doc, swapper, {}, options{false});
        // run()'s recorder describes the events the same way ("close" for on_close too).
        ASSERT_EQ((judged{swapper.events, ec}), run(false, doc)) << "document " << i << ": '" << doc << "'";
    }
}

// What the reuse is for: a document of a shape seen before costs expat no allocation and
// no reset, where a parser of its own costs several.
TEST(reused_documents, a_repeated_document_costs_expat_no_allocation)
{
    ASSERT_FALSE(run(true, body).ec);
    const std::uint64_t before = detail::expat_allocations();
    for (int i = 0; i < 100; ++i) {
        ASSERT_FALSE(run(true, body).ec);
    }
    EXPECT_EQ(detail::expat_allocations() - before, 0U);

    const std::uint64_t alone = detail::expat_allocations();
    for (int i = 0; i < 100; ++i) {
        ASSERT_FALSE(run(false, body).ec);
    }
    EXPECT_GT(detail::expat_allocations() - alone, 100U) << "the per-document path allocates";
}

// SEC-XML-1: documents with ever new names do not make the shared parser grow.
TEST(reused_documents, new_names_do_not_accumulate)
{
    const std::int64_t before = detail::expat_heap_bytes();
    std::int64_t peak = 0;
    for (int i = 0; i < 20000; ++i) {
        const std::string n = std::to_string(i);
        const std::string doc = "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:p" + n +
                                "='urn:" + n + "' p" + n + ":a='v'><m" + n + "/></body>";
        ASSERT_FALSE(run(true, doc).ec);
        peak = std::max(peak, detail::expat_heap_bytes() - before);
    }
    EXPECT_LT(peak, 256 * 1024) << "expat held " << peak << " bytes at its peak";
}

// A handler may parse another document while one is delivered (it gets a parser of its
// own), and an exception from a handler leaves the thread's parser usable.
TEST(reused_documents, nested_parses_and_exceptions)
{
    struct nesting final : handler {
        judged inner;
        void on_open(root_open&&) override
        {
            test::setup s;
            test::recorder rec(s);
            inner.ec = parse_document(body, rec, limits{}, options{false});
            inner.events = rec.events;
        }
        void on_element(element&&) override {}
        void on_close() override {}
    } outer;
    ASSERT_FALSE(parse_document(body, outer, limits{}, options{false}));
    EXPECT_EQ(outer.inner, run(false, body));

    struct throwing final : handler {
        void on_open(root_open&&) override {}
        void on_element(element&&) override { throw std::runtime_error("handler failed"); }
        void on_close() override {}
    } thrower;
    EXPECT_THROW(parse_document(body, thrower, limits{}, options{false}), std::runtime_error);
    EXPECT_EQ(run(true, body), run(false, body));
}

// Each thread has its own; a thread that ends frees it (LeakSanitizer checks).
TEST(reused_documents, per_thread)
{
    judged a;
    judged b;
    std::thread t1([&] {
        for (int i = 0; i < 50; ++i) {
            a = run(true, body);
        }
    });
    std::thread t2([&] {
        for (int i = 0; i < 50; ++i) {
            b = run(true, corpus[3]);
        }
    });
    t1.join();
    t2.join();
    EXPECT_EQ(a, run(false, body));
    EXPECT_EQ(b, run(false, corpus[3]));
}

} // namespace
} // namespace boshgate::xml
