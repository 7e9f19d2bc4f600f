#pragma once
// Test helpers for the xml module: an event recorder and the byte-split matrix driver
// (conventions rule 11: every input split at every offset and fed byte by byte).
#include "boshgate/xml/stream_parser.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace boshgate::xml::test {

/// What the simulated caller does after a callback asked for a reset.
enum class after_reset {
    discard, ///< STARTTLS <proceed/>: the rest belongs to TLS; stop feeding
    refeed,  ///< stream restart: the rest is the new stream; feed it again
};

struct setup {
    limits lim{};
    options opt{};
    std::set<std::string> reset_on{}; ///< local names whose on_element requests a reset
    after_reset then = after_reset::refeed;
};

/// Everything observable from one run, compared across all splits.
struct outcome {
    std::vector<std::string> events;
    boost::system::error_code ec;
    std::string reason;
    /// Absolute input offset where the caller stopped feeding (0 after an error).
    std::size_t stopped_at = 0;

    bool operator==(const outcome&) const = default;
};

inline void PrintTo(const outcome& o, std::ostream* os)
{
    *os << "{ec=" << o.ec.message() << " reason=" << o.reason << " stopped_at=" << o.stopped_at
        << " events=[";
    for (const auto& e : o.events) {
        *os << "\n  " << e;
    }
    *os << "]}";
}

inline std::string describe(const root_open& r)
{
    std::string s = "open " + r.qname + " {" + r.ns + "}" + r.local;
    for (const attribute& a : r.attrs) {
        s += " " + a.qname + "=" + a.value;
        if (!a.ns.empty()) {
            s += "{" + a.ns + "}";
        }
    }
    return s;
}

inline std::string describe(const element& e)
{
    return "element {" + e.ns + "}" + e.local + " " + e.xml;
}

class recorder final : public handler {
public:
    explicit recorder(const setup& s) : setup_(s) {}
    void attach(stream_parser* p) { parser_ = p; }

    void on_open(root_open&& root) override { events.push_back(describe(root)); }
    void on_element(element&& el) override
    {
        bool reset = setup_.reset_on.count(el.local) != 0;
        events.push_back(describe(el));
        if (reset && parser_ != nullptr) {
            events.push_back("reset");
            reset_requested = true;
            parser_->request_reset();
        }
    }
    void on_close() override { events.push_back("close"); }

    std::vector<std::string> events;
    bool reset_requested = false;

private:
    const setup& setup_;
    stream_parser* parser_ = nullptr;
};

/// Feed `input` cut at the given offsets (ascending), acting on resets like a real caller.
/// With `release`, stream_parser::release_idle() is called after every feed(), as the
/// upstream stream does before it waits for the next read.
inline outcome run_chunks(std::string_view input, const std::vector<std::size_t>& cuts,
                          const setup& s, bool release = false)
{
    recorder rec(s);
    stream_parser parser(rec, s.lim, s.opt);
    rec.attach(&parser);
    outcome out;
    std::size_t prev = 0;
    std::vector<std::size_t> bounds = cuts;
    bounds.push_back(input.size());
    for (std::size_t b : bounds) {
        std::string_view chunk = input.substr(prev, b - prev);
        std::size_t chunk_start = prev;
        prev = b;
        while (!chunk.empty()) {
            boost::system::error_code ec;
            rec.reset_requested = false;
            std::size_t used = parser.feed(chunk, ec);
            if (ec) {
                out.ec = ec;
                out.reason = std::string(parser.error_reason());
                out.events = rec.events;
                out.stopped_at = 0; // where the error is found depends on the chunking
                return out;
            }
            EXPECT_LE(used, chunk.size());
            if (used < chunk.size()) {
                EXPECT_TRUE(rec.reset_requested) << "early stop without a reset request";
            }
            if (rec.reset_requested) {
                rec.events.push_back("@" + std::to_string(chunk_start + used));
                if (s.then == after_reset::discard) {
                    out.events = rec.events;
                    out.stopped_at = chunk_start + used;
                    return out;
                }
            }
            chunk_start += used;
            chunk.remove_prefix(used);
            if (release) {
                parser.release_idle();
            }
        }
    }
    out.events = rec.events;
    out.stopped_at = input.size();
    return out;
}

inline outcome run_whole(std::string_view input, const setup& s)
{
    return run_chunks(input, {}, s);
}

/// The byte-split matrix: whole, every two-chunk split, and byte by byte must all give
/// `expected` exactly, each also with the parser released (release_idle) after every feed.
inline void expect_matrix(std::string_view input, const setup& s, const outcome& expected)
{
    EXPECT_EQ(run_whole(input, s), expected) << "whole input";
    for (bool release : {false, true}) {
        for (std::size_t cut = 0; cut <= input.size(); ++cut) {
            outcome got = run_chunks(input, {cut}, s, release);
            if (!(got == expected)) {
                ADD_FAILURE() << "split at " << cut << (release ? " (released after each feed)" : "")
                              << ": " << ::testing::PrintToString(got) << "\nexpected "
                              << ::testing::PrintToString(expected);
                return; // one report is enough
            }
        }
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < input.size(); ++i) {
            every.push_back(i);
        }
        EXPECT_EQ(run_chunks(input, every, s, release), expected)
            << "byte by byte" << (release ? ", released after each feed" : "");
    }
}

} // namespace boshgate::xml::test
