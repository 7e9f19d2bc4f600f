// Unit tests for the bound on a long-lived stream's expat state (SEC-XML-1). expat interns
// every element, attribute and prefix name it meets and frees them only with the parser or
// at a reset. A server stream, and a WebSocket session's framer, parse for as long as the
// session lives, so a peer that keeps sending new names must not make that state grow: the
// framer rebuilds its parser between top-level elements every
// detail::stream_parser_rebuild_after bytes. What is measured is expat's own heap (its
// allocations are counted), not a proxy for it.
#include "boshgate/xml/stream_parser.hpp"

#include "xml_test_support.hpp"

// The counter and the rebuild threshold are internal to the xml module.
#include "../../../src/xml/expat_support.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace boshgate::xml {
namespace {

using detail::expat_heap_bytes;
using detail::stream_parser_rebuild_after;

const std::string stream_header = "<stream:stream xmlns='jabber:client' "
                                  "xmlns:stream='http://etherx.jabber.org/streams' "
                                  "to='example.com' version='1.0'>";

struct counting_sink : handler {
    std::vector<std::string> elements;
    void on_open(root_open&&) override {}
    void on_element(element&& el) override { elements.push_back(std::move(el.xml)); }
    void on_close() override {}
};

struct fresh_names {
    const char* what;
    std::function<std::string(int)> stanza;
};

class interned_names : public ::testing::TestWithParam<fresh_names> {};

// 30,000 stanzas, each bringing names expat has not seen: about 1 MB of input. Without the
// rebuild expat's heap grows by 60 to 150 bytes per stanza (2 to 4 MB here); with it, it
// stays within a few parsers' worth of what one rebuild period interns.
TEST_P(interned_names, a_stream_of_new_names_keeps_expat_bounded)
{
    counting_sink sink;
    const std::int64_t before = expat_heap_bytes();
    {
        stream_parser p(sink, limits{});
        boost::system::error_code ec;
        ASSERT_EQ(p.feed(stream_header, ec), stream_header.size());
        ASSERT_FALSE(ec);
        std::int64_t peak = 0;
        constexpr int stanzas = 30000;
        for (int i = 0; i < stanzas; ++i) {
            const std::string s = GetParam().stanza(i);
            ASSERT_EQ(p.feed(s, ec), s.size());
            ASSERT_FALSE(ec) << ec.message() << " at " << s;
            peak = std::max(peak, expat_heap_bytes() - before);
        }
        ASSERT_EQ(sink.elements.size(), static_cast<std::size_t>(stanzas));
        EXPECT_EQ(sink.elements.back(), GetParam().stanza(stanzas - 1))
            << "the last stanza, parsed after many rebuilds, is reported byte for byte";
        EXPECT_LT(peak, 256 * 1024) << GetParam().what << ": expat held " << peak
                                    << " bytes at its peak";
    }
    // Parsers given up stay in this thread's pool (reset, at most parser_pool_size); nothing
    // else of the stream is left in expat.
    EXPECT_LT(expat_heap_bytes() - before, 256 * 1024);
}

INSTANTIATE_TEST_SUITE_P(
    each_kind_of_name, interned_names,
    ::testing::Values(
        fresh_names{"element names",
                    [](int i) {
                        return "<x" + std::to_string(i) + " xmlns='urn:test:names'/>";
                    }},
        fresh_names{"attribute names",
                    [](int i) {
                        return "<message xmlns='jabber:client' a" + std::to_string(i) +
                               "='v'/>";
                    }},
        fresh_names{"prefixes and namespaces",
                    [](int i) {
                        const std::string n = std::to_string(i);
                        return "<message xmlns='jabber:client' xmlns:p" + n + "='urn:n" + n +
                               "' p" + n + ":a='v'/>";
                    }}),
    [](const ::testing::TestParamInfo<fresh_names>& param_info) {
        std::string name = param_info.param.what;
        for (char& c : name) {
            if (c == ' ') {
                c = '_';
            }
        }
        return name;
    });

// The rebuild happens only between top-level elements: a stanza split across many feeds is
// delivered whole, and a root prefix it uses (declared only on the stream header) still
// resolves after the parser it was declared to has been replaced.
TEST(interned_names, a_rebuild_keeps_the_stream_context)
{
    counting_sink sink;
    stream_parser p(sink, limits{});
    boost::system::error_code ec;
    ASSERT_EQ(p.feed(stream_header, ec), stream_header.size());
    const std::string filler = "<message xmlns='jabber:client' to='a@b'><body>" +
                               std::string(1000, 'x') + "</body></message>";
    std::size_t fed = 0;
    while (fed <= 2 * stream_parser_rebuild_after) {
        ASSERT_EQ(p.feed(filler, ec), filler.size());
        fed += filler.size();
    }
    const std::string split = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                              "</stream:features>";
    for (char c : split) {
        ASSERT_EQ(p.feed(std::string_view(&c, 1), ec), 1U);
        ASSERT_FALSE(ec) << ec.message();
    }
    ASSERT_FALSE(sink.elements.empty());

    counting_sink fresh_sink; // the same stanza on a stream whose parser was never rebuilt
    stream_parser fresh(fresh_sink, limits{});
    ASSERT_EQ(fresh.feed(stream_header + split, ec), stream_header.size() + split.size());
    ASSERT_EQ(fresh_sink.elements.size(), 1U);
    EXPECT_NE(fresh_sink.elements[0].find("xmlns:stream="), std::string::npos);
    EXPECT_EQ(sink.elements.back(), fresh_sink.elements[0]);
}

} // namespace
} // namespace boshgate::xml
