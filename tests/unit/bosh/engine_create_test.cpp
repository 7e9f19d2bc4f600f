// Session creation: request handling, creation response, features hold (XEP-0124 §7,
// XEP-0206 §3-4).
#include "engine_driver.hpp"

namespace boshgate::bosh::testing {
namespace {

// BOSH-RESP-2, RESP-6, RESP-9, RESP-10, RESP-13, RESP-14, XML-13, INACT-3, RESP-11, MULTI-1,
// REQ-11, SCHEMA-3
TEST(engine_create, creation_response_carries_all_session_attributes)
{
    driver d;
    auto b = d.start();
    EXPECT_TRUE(is_httpbind_body(b));
    EXPECT_EQ(attr(b, "sid"), std::string(test_sid));
    EXPECT_EQ(attr(b, "wait"), "30");
    EXPECT_EQ(attr(b, "requests"), "2");
    EXPECT_EQ(attr(b, "hold"), "1");
    EXPECT_EQ(attr(b, "ver"), "1.11");
    EXPECT_EQ(attr(b, "polling"), "2");
    EXPECT_EQ(attr(b, "inactivity"), "60");
    EXPECT_EQ(attr(b, "maxpause"), "120");
    EXPECT_EQ(attr(b, "ack"), std::to_string(first_rid));
    EXPECT_EQ(attr(b, "xmlns:xmpp"), "urn:xmpp:xbosh");
    EXPECT_EQ(attr(b, "xmpp:version"), "1.0");
    EXPECT_EQ(attr(b, "xmpp:restartlogic"), "true");
    EXPECT_EQ(attr(b, "authid"), "srv-stream-1");
    EXPECT_EQ(attr(b, "from"), "example.com");
    EXPECT_EQ(attr(b, "secure"), std::nullopt);
    EXPECT_EQ(attr(b, "stream"), std::nullopt);
    EXPECT_EQ(attr(b, "type"), std::nullopt);
}

// BOSH-RESP-12, RESP-15, XML-12: the creation request is held until the features arrive and
// they come on it, with xmlns:stream declared on the body.
TEST(engine_create, creation_held_until_features_then_answered_with_them)
{
    driver d;
    auto id = d.create();
    EXPECT_TRUE(d.responses().empty());
    auto open = d.all<action::open_upstream>();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].to, "example.com");
    EXPECT_EQ(open[0].lang, "en");
    EXPECT_FALSE(open[0].route.has_value());
    d.header();
    EXPECT_TRUE(d.responses().empty());
    d.clock.advance(2s);
    d.features();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(payload(r->body), features_xml);
    EXPECT_EQ(attr(r->body, "xmlns:stream"), std::string(ns_stream));
    EXPECT_TRUE(is_httpbind_body(r->body));
}

// BOSH-REQ-1, REQ-2, REQ-7, REQ-8: to, xml:lang, route and from go to the adapter untouched.
TEST(engine_create, open_upstream_carries_to_lang_route_from)
{
    driver d;
    auto b = driver::creation_body();
    b.lang = "de";
    b.route = "xmpp:xmpp1.example.net:5223";
    b.from = "u@example.com";
    d.create(std::move(b));
    auto open = d.all<action::open_upstream>();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].to, "example.com");
    EXPECT_EQ(open[0].lang, "de");
    EXPECT_EQ(open[0].route, "xmpp:xmpp1.example.net:5223");
    EXPECT_EQ(open[0].from, "u@example.com");
}

// BOSH-RESP-12, RESP-15, RESP-8: wait expiry answers the creation request with the creation
// attributes and no payload; the features and `from` come on the next request.
TEST(engine_create, wait_expiry_answers_creation_then_features_on_next_request)
{
    driver d;
    auto id = d.create();
    ASSERT_EQ(d.eng.next_deadline(), d.clock.now() + 30s);
    d.advance(29s);
    EXPECT_TRUE(d.responses().empty());
    d.advance(1s);
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "sid"), std::string(test_sid));
    EXPECT_EQ(payload(r->body), "");
    EXPECT_EQ(attr(r->body, "from"), std::nullopt);
    EXPECT_EQ(attr(r->body, "authid"), std::nullopt);

    d.header();
    d.features(); // nothing held: queued
    EXPECT_TRUE(d.responses().empty());
    auto id2 = d.send(d.next());
    auto r2 = d.response(id2);
    ASSERT_TRUE(r2);
    EXPECT_EQ(payload(r2->body), features_xml);
    EXPECT_EQ(attr(r2->body, "from"), "example.com");
    EXPECT_EQ(attr(r2->body, "xmlns:stream"), std::string(ns_stream));
    // BOSH-RESP-7: creation-only attributes do not reappear.
    for (auto name : {"sid", "wait", "requests", "polling", "inactivity", "hold", "ver", "maxpause",
                      "accept", "charsets", "authid", "xmpp:restartlogic"}) {
        EXPECT_EQ(attr(r2->body, name), std::nullopt) << name;
    }
}

// BOSH-REQ-3: integer minor comparison, capped at 1.11.
TEST(engine_create, ver_negotiation_uses_integer_minor)
{
    struct {
        const char* client;
        const char* expect;
    } cases[] = {{"1.6", "1.6"}, {"1.10", "1.10"}, {"1.11", "1.11"}, {"1.20", "1.11"},
                 {"2.0", "1.11"}, {"0.9", "0.9"}};
    for (auto c : cases) {
        driver d;
        auto b = driver::creation_body();
        b.ver = c.client;
        auto resp = d.start(std::move(b));
        EXPECT_EQ(attr(resp, "ver"), c.expect) << c.client;
    }
}

TEST(engine_create, malformed_ver_is_bad_request)
{
    driver d;
    auto b = driver::creation_body();
    b.ver = "1.x";
    auto id = d.create(std::move(b));
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "condition"), "bad-request");
    EXPECT_EQ(r->status, 200u);
    ASSERT_TRUE(d.ended_action());
    EXPECT_NE(d.ended_action()->reason.find("XEP-0124 §7.1"), std::string::npos);
    EXPECT_FALSE(d.has<action::open_upstream>());
}

// GAP-4, BOSH-STATUS-2: a client without `ver` is legacy; we still send ver (our highest).
TEST(engine_create, legacy_client_gets_our_version)
{
    driver d;
    auto b = driver::creation_body();
    b.ver.reset();
    auto resp = d.start(std::move(b));
    EXPECT_EQ(attr(resp, "ver"), "1.11");
    EXPECT_TRUE(d.eng.legacy());
}

// BOSH-RESP-3, RESP-4, RESP-5, REQ-4, REQ-5, GAP-5: clamping to the client and to our caps.
TEST(engine_create, wait_and_hold_are_clamped)
{
    {
        options o;
        o.max_wait = 50s;
        o.max_hold = 2;
        driver d(o);
        auto b = driver::creation_body();
        b.wait = 3600;
        b.hold = 5;
        auto resp = d.start(std::move(b));
        EXPECT_EQ(attr(resp, "wait"), "50");
        EXPECT_EQ(attr(resp, "hold"), "2");
        EXPECT_EQ(attr(resp, "requests"), "3");
    }
    {
        driver d;
        auto b = driver::creation_body();
        b.wait = 10;
        b.hold = 1;
        auto resp = d.start(std::move(b));
        EXPECT_EQ(attr(resp, "wait"), "10");
        EXPECT_EQ(attr(resp, "hold"), "1");
        EXPECT_EQ(attr(resp, "requests"), "2");
    }
    {
        // no wait / hold given: defaults, still within caps
        options o;
        o.default_wait = 45s;
        driver d(o);
        auto b = driver::creation_body();
        b.wait.reset();
        b.hold.reset();
        auto resp = d.start(std::move(b));
        EXPECT_EQ(attr(resp, "wait"), "45");
        EXPECT_EQ(attr(resp, "hold"), "1");
        EXPECT_EQ(attr(resp, "requests"), "2");
    }
}

// BOSH-REQ-6, POLL-1, POLL-3: hold=0 asks for polling: answered at once, requests=1,
// inactivity larger than normal and than polling. A normal creation has requests >= 2.
TEST(engine_create, hold_zero_makes_a_polling_session)
{
    driver d;
    auto b = driver::creation_body();
    b.hold = 0;
    auto id = d.create(std::move(b));
    auto r = d.response(id);
    ASSERT_TRUE(r) << "polling creation must be answered at once";
    EXPECT_EQ(attr(r->body, "hold"), "0");
    EXPECT_EQ(attr(r->body, "requests"), "1");
    EXPECT_EQ(attr(r->body, "polling"), "2");
    EXPECT_EQ(attr(r->body, "inactivity"), "120");
    EXPECT_GT(std::stoul(*attr(r->body, "inactivity")), std::stoul(*attr(r->body, "polling")));

    driver n;
    EXPECT_GE(std::stoul(*attr(n.start(), "requests")), 2u);
}

TEST(engine_create, wait_zero_makes_a_polling_session)
{
    driver d;
    auto b = driver::creation_body();
    b.wait = 0;
    auto id = d.create(std::move(b));
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "wait"), "0");
    EXPECT_EQ(attr(r->body, "hold"), "0");
}

// BOSH-COND-4: missing or empty `to` => improper-addressing, nobody is contacted.
TEST(engine_create, missing_or_empty_to_is_improper_addressing)
{
    for (auto to : {std::optional<std::string>{}, std::optional<std::string>{""}}) {
        driver d;
        auto b = driver::creation_body();
        b.to = to;
        auto id = d.create(std::move(b));
        EXPECT_FALSE(d.has<action::open_upstream>());
        auto r = d.response(id);
        ASSERT_TRUE(r);
        EXPECT_EQ(attr(r->body, "type"), "terminate");
        EXPECT_EQ(attr(r->body, "condition"), "improper-addressing");
        EXPECT_EQ(r->status, 200u);
        ASSERT_TRUE(d.ended_action());
        EXPECT_EQ(d.ended_action()->why, condition::improper_addressing);
        EXPECT_TRUE(d.eng.ended());
        EXPECT_EQ(d.eng.next_deadline(), std::nullopt);
    }
}

// BOSH-HTTP-10: content-type comes from `content`, default text/xml; charset=utf-8.
TEST(engine_create, content_type_from_creation_request)
{
    driver d;
    EXPECT_EQ(d.eng.content_type(), "text/xml; charset=utf-8");
    auto b = driver::creation_body();
    b.content = "application/xml; charset=utf-8";
    d.create(std::move(b));
    EXPECT_EQ(d.eng.content_type(), "application/xml; charset=utf-8");
}

// BOSH-HTTP-10 also covers error bodies: the type is set before the session is refused.
TEST(engine_create, content_type_applies_to_refused_creation)
{
    driver d;
    auto b = driver::creation_body();
    b.content = "application/xml; charset=utf-8";
    b.to.reset();
    d.create(std::move(b));
    EXPECT_EQ(d.eng.content_type(), "application/xml; charset=utf-8");
}

// SEC-INJ-1, BOSH-HTTP-10: a non-XML `content` (text/html would let a page render
// attacker-chosen XML as HTML on the gateway's origin) keeps the configured default, and
// the session is created normally.
TEST(engine_create, unsafe_content_type_falls_back_to_default)
{
    for (const char* ct : {"text/html", "text/html; charset=utf-8", "text/plain",
                           "application/javascript", "text/xml\r\nX-Evil: 1",
                           "text/xml; charset=utf-7"}) {
        options o;
        o.default_content_type = "application/xml; charset=utf-8";
        driver d(o);
        auto b = driver::creation_body();
        b.content = ct;
        d.create(std::move(b));
        EXPECT_EQ(d.eng.content_type(), "application/xml; charset=utf-8") << ct;
        EXPECT_FALSE(d.eng.ended()) << ct;
        EXPECT_FALSE(d.ended_action()) << ct;
    }
}

// BOSH-RESP-9, PAUSE-1: no maxpause when pause is unsupported.
TEST(engine_create, no_maxpause_when_pause_unsupported)
{
    options o;
    o.max_pause = 0s;
    driver d(o);
    EXPECT_EQ(attr(d.start(), "maxpause"), std::nullopt);
}

// BOSH-ACK-2: without server acks no `ack` at creation (and none later).
TEST(engine_create, no_ack_when_server_acks_off)
{
    options o;
    o.server_acks = false;
    driver d(o);
    EXPECT_EQ(attr(d.start(), "ack"), std::nullopt);
}

// BOSH-COND-9, TERM-6: upstream failure while the creation request waits.
TEST(engine_create, upstream_failure_during_creation_terminates_it)
{
    driver d;
    auto id = d.create();
    d.eng.on_upstream_failed(condition::remote_connection_failed, "connect refused", d.clock.now());
    d.acts = d.eng.take_actions();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), "terminate");
    EXPECT_EQ(attr(r->body, "condition"), "remote-connection-failed");
    EXPECT_EQ(payload(r->body), "") << "internal details never reach the client";
    ASSERT_TRUE(d.ended_action());
    EXPECT_EQ(d.ended_action()->why, condition::remote_connection_failed);
}

// SEC-INJ-2, BOSH-COND-9: the terminate body carries no connect details (addresses, ports,
// SRV target names): a client must not be able to probe the gateway's network through
// `to`/`route`. The detail still reaches session_ended::reason, i.e. the log.
TEST(engine_create, upstream_failure_details_stay_in_the_log)
{
    const std::string detail =
        "connect to xmpp-internal.corp.example [10.1.2.3]:5269 failed: Connection refused; "
        "SRV _xmpp-client._tcp.example.com -> db.corp.example:3306 timed out";
    for (condition c : {condition::remote_connection_failed, condition::host_unknown,
                        condition::host_gone, condition::improper_addressing,
                        condition::internal_server_error, condition::policy_violation,
                        condition::undefined_condition}) {
        driver d;
        auto id = d.create();
        d.eng.on_upstream_failed(c, detail, d.clock.now());
        d.acts = d.eng.take_actions();
        auto r = d.response(id);
        ASSERT_TRUE(r) << to_string(c);
        EXPECT_EQ(attr(r->body, "condition"), std::string(to_string(c)));
        for (const char* leak : {"10.1.2.3", "5269", "3306", "corp.example", "refused",
                                 "_xmpp-client", "timed out"}) {
            EXPECT_EQ(r->body.find(leak), std::string::npos) << to_string(c) << ": " << r->body;
        }
        ASSERT_TRUE(d.ended_action());
        EXPECT_NE(d.ended_action()->reason.find("10.1.2.3]:5269"), std::string::npos)
            << "the detail is for the log";
    }
}

// BOSH-COND-3, ROUTE-3 (policy in the adapter): the adapter reports host-unknown.
TEST(engine_create, host_unknown_from_adapter_policy)
{
    driver d;
    auto b = driver::creation_body();
    b.ver.reset(); // legacy: host-unknown has no legacy code => 200 (BOSH-STATUS-2)
    auto id = d.create(std::move(b));
    d.eng.on_upstream_failed(condition::host_unknown, "not allowed", d.clock.now());
    d.acts = d.eng.take_actions();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(attr(r->body, "condition"), "host-unknown");
}

// BOSH-REQ-12: xmpp:version of the server header is reported.
TEST(engine_create, xmpp_version_from_server_header)
{
    driver d;
    auto id = d.create();
    d.eng.on_upstream_header(upstream_header{"x", "example.com", "1.0"}, d.clock.now());
    d.features();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "xmpp:version"), "1.0");
}

// Attribute values from the server are escaped.
TEST(engine_create, server_values_are_escaped)
{
    driver d;
    auto id = d.create();
    d.eng.on_upstream_header(upstream_header{"a'b<c", "example.com", "1.0"}, d.clock.now());
    d.features();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_TRUE(is_httpbind_body(r->body));
    EXPECT_NE(r->body.find("authid='a&apos;b&lt;c'"), std::string::npos);
}

// BOSH-REQ-13, MULTI-2: creation-only attributes on later requests are ignored; a request
// with `to` (an add-stream request) is an ordinary poll, no second upstream is opened.
TEST(engine_create, creation_only_attributes_ignored_later)
{
    driver d;
    d.start();
    auto b = d.next();
    b.wait = 5;
    b.hold = 3;
    b.to = "other.example";
    b.ver = "1.6";
    auto id = d.send(std::move(b));
    EXPECT_TRUE(d.responses().empty()) << "held as usual";
    EXPECT_FALSE(d.has<action::open_upstream>());
    d.advance(5s);
    EXPECT_FALSE(d.response(id)) << "wait unchanged by a later wait='5'";
    d.advance(25s);
    EXPECT_TRUE(d.response(id));
}

} // namespace
} // namespace boshgate::bosh::testing
