#pragma once
// Test driver for bosh::engine: creates a session on a fake clock, feeds upstream events and
// exposes the produced actions. Keeps the engine tests short; no sleeping, no wall clock.
#include "boshgate/bosh/body.hpp"
#include "boshgate/bosh/engine.hpp"
#include "boshgate/bosh/options.hpp"
#include "boshgate/xml/stream_parser.hpp"
#include "support/fake_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace boshgate::bosh::testing {

using namespace std::chrono_literals;

inline constexpr std::uint64_t first_rid = 1000;
inline constexpr std::string_view test_sid = "0123456789abcdef0123456789abcdef01234567";
inline constexpr std::string_view features_xml =
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "</mechanisms></stream:features>";

/// Value of attribute `name` on the response's <body> start tag, or nullopt.
inline std::optional<std::string> attr(const std::string& b, std::string_view name)
{
    auto end = b.find('>');
    std::string needle = " " + std::string(name) + "='";
    auto pos = b.find(needle);
    if (pos == std::string::npos || pos > end) {
        return std::nullopt;
    }
    pos += needle.size();
    return b.substr(pos, b.find('\'', pos) - pos);
}

/// The payload bytes between <body ...> and </body> ("" for a self-closed body).
inline std::string payload(const std::string& b)
{
    auto end = b.find('>');
    if (end == std::string::npos || b[end - 1] == '/') {
        return {};
    }
    auto close = b.rfind("</body>");
    return b.substr(end + 1, close - end - 1);
}

/// Every response must be exactly one well-formed httpbind <body/> (BOSH-XML-1).
inline ::testing::AssertionResult is_httpbind_body(const std::string& b)
{
    struct h final : xml::handler {
        std::string ns, local;
        void on_open(xml::root_open&& r) override
        {
            ns = r.ns;
            local = r.local;
        }
        void on_element(xml::element&&) override {}
        void on_close() override {}
    } hh;
    auto ec = xml::parse_document(b, hh, xml::limits{});
    if (ec) {
        return ::testing::AssertionFailure() << "not well-formed (" << ec.message() << "): " << b;
    }
    if (hh.local != "body" || hh.ns != ns_httpbind) {
        return ::testing::AssertionFailure() << "root is not an httpbind body: " << b;
    }
    return ::testing::AssertionSuccess();
}

inline xml::element make_element(std::string ns, std::string local, std::string text)
{
    return xml::element{std::move(ns), std::move(local), std::move(text)};
}

inline xml::element message(std::string_view body_text = "hi")
{
    return make_element("jabber:client", "message",
                        "<message xmlns='jabber:client' to='a@b'><body>" + std::string(body_text) +
                            "</body></message>");
}

class driver {
public:
    explicit driver(options o = {}) : opt(std::move(o)), eng(std::string(test_sid), opt) {}

    test::fake_clock clock;
    options opt;
    engine eng;
    std::vector<action_t> acts; ///< actions produced by the last call
    std::uint64_t next_rid = first_rid + 1;
    request_id next_id = 1;

    /// A creation request as a well-behaved 1.11 client sends it.
    static body creation_body()
    {
        body b;
        b.rid = first_rid;
        b.to = "example.com";
        b.lang = "en";
        b.ver = "1.11";
        b.wait = 30;
        b.hold = 1;
        b.xmpp_version = "1.0";
        return b;
    }

    /// A later request with the next rid (not sent yet).
    body next(std::vector<xml::element> payloads = {})
    {
        body b;
        b.rid = next_rid++;
        b.sid = std::string(test_sid);
        b.payloads = std::move(payloads);
        return b;
    }

    request_id create(body b = creation_body())
    {
        request_id id = next_id++;
        eng.on_create(id, std::move(b), clock.now());
        acts = eng.take_actions();
        return id;
    }

    request_id send(body b)
    {
        request_id id = next_id++;
        eng.on_request(id, std::move(b), clock.now());
        acts = eng.take_actions();
        return id;
    }

    void element(xml::element el)
    {
        eng.on_upstream_element(std::move(el), clock.now());
        acts = eng.take_actions();
    }

    /// engine::begin_upstream_batch / end_upstream_batch (the end's actions are kept).
    void begin_batch()
    {
        eng.begin_upstream_batch();
        acts = eng.take_actions();
    }
    void end_batch()
    {
        eng.end_upstream_batch(clock.now());
        acts = eng.take_actions();
    }

    void features() { element(make_element(std::string(ns_stream), "features", std::string(features_xml))); }

    void header(std::optional<std::string> id = "srv-stream-1",
                std::optional<std::string> from = "example.com")
    {
        eng.on_upstream_header(upstream_header{std::move(id), std::move(from), "1.0"}, clock.now());
        acts = eng.take_actions();
    }

    /// Advance the fake clock and fire the timer if it is due (the adapter's job).
    void advance(core::duration d)
    {
        clock.advance(d);
        acts.clear();
        auto dl = eng.next_deadline();
        if (dl && *dl <= clock.now()) {
            eng.on_timer(clock.now());
            acts = eng.take_actions();
        }
    }

    /// Creation + header + features: a ready session with nothing held.
    /// Returns the creation response body.
    std::string start(body b = creation_body())
    {
        auto id = create(std::move(b));
        header();
        features();
        auto r = response(id);
        EXPECT_TRUE(r.has_value()) << "creation not answered by features";
        return r ? r->body : std::string{};
    }

    // ----------------------------------------------------------------- inspection

    std::vector<action::respond> responses() const
    {
        std::vector<action::respond> out;
        for (const auto& a : acts) {
            if (const auto* r = std::get_if<action::respond>(&a)) {
                out.push_back(*r);
            }
        }
        return out;
    }

    std::optional<action::respond> response(request_id id) const
    {
        for (const auto& a : acts) {
            if (const auto* r = std::get_if<action::respond>(&a); r && r->id == id) {
                return *r;
            }
        }
        return std::nullopt;
    }

    template <class A>
    std::vector<A> all() const
    {
        std::vector<A> out;
        for (const auto& a : acts) {
            if (const auto* x = std::get_if<A>(&a)) {
                out.push_back(*x);
            }
        }
        return out;
    }

    template <class A>
    bool has() const
    {
        return !all<A>().empty();
    }

    /// Concatenated bytes of every send_upstream in the last call.
    std::string sent_upstream() const
    {
        std::string s;
        for (const auto& a : all<action::send_upstream>()) {
            s += a.bytes;
        }
        return s;
    }

    std::optional<action::session_ended> ended_action() const
    {
        auto v = all<action::session_ended>();
        if (v.empty()) {
            return std::nullopt;
        }
        return v.front();
    }
};

} // namespace boshgate::bosh::testing
