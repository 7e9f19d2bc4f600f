// Inactivity, pause, overactivity/polling, termination, error conditions, XEP-0206 restart
// and limits (XEP-0124 §10-13, §17; XEP-0206 §5-6).
#include "engine_driver.hpp"

namespace boshgate::bosh::testing {
namespace {

xml::element sasl_success()
{
    return make_element("urn:ietf:params:xml:ns:xmpp-sasl", "success",
                        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
}

// ------------------------------------------------------------------ inactivity

// BOSH-INACT-1, TERM-4: nothing held for longer than inactivity => silent end: the server
// link is dropped without a closing tag, nobody is answered, later requests are unknown.
TEST(engine_inactivity, silent_end_after_inactivity)
{
    driver d;
    d.start();
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 60s);
    d.advance(59s);
    EXPECT_FALSE(d.ended_action());
    d.advance(1s);
    ASSERT_TRUE(d.ended_action());
    EXPECT_TRUE(d.responses().empty());
    auto close = d.all<action::close_upstream>();
    ASSERT_EQ(close.size(), 1u);
    EXPECT_FALSE(close[0].clean) << "unclean: lets the server keep an SM session";
    EXPECT_NE(d.ended_action()->reason.find("XEP-0124 §10"), std::string::npos);
    EXPECT_EQ(d.eng.next_deadline(), std::nullopt);
    auto id = d.send(d.next());
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
}

// BOSH-INACT-2: the inactivity clock only runs while nothing is held.
TEST(engine_inactivity, held_request_keeps_session_alive)
{
    options o;
    o.inactivity = 30s;
    driver d(o);
    auto c = driver::creation_body();
    c.wait = 50;
    d.start(std::move(c));
    auto id = d.send(d.next());
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 50s) << "wait, not inactivity";
    d.advance(40s);
    EXPECT_FALSE(d.ended_action());
    d.advance(10s);
    EXPECT_TRUE(d.response(id));
    EXPECT_FALSE(d.ended_action());
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 30s) << "inactivity starts at the response";
}

// BOSH-INACT-3, INACT-4: always advertised, default in the 30-60 s range.
TEST(engine_inactivity, default_inactivity_advertised)
{
    driver d;
    auto v = std::stoul(*attr(d.start(), "inactivity"));
    EXPECT_GE(v, 30u);
    EXPECT_LE(v, 60u);
}

// ------------------------------------------------------------------ pause

// BOSH-PAUSE-2, PAUSE-3: all held requests and the pause request are answered at once
// without payloads; inactivity becomes the pause value.
TEST(engine_pause, pause_answers_everything_and_stretches_inactivity)
{
    options o;
    o.max_hold = 2;
    driver d(o);
    auto c = driver::creation_body();
    c.hold = 2;
    d.start(std::move(c));
    auto a = d.send(d.next());
    auto b = d.send(d.next({message()}));
    auto p = d.next();
    p.pause = 100;
    auto pid = d.send(std::move(p));
    for (auto id : {a, b, pid}) {
        auto r = d.response(id);
        ASSERT_TRUE(r) << id;
        EXPECT_EQ(payload(r->body), "");
        EXPECT_EQ(attr(r->body, "type"), std::nullopt);
    }
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 100s);
    d.advance(95s);
    EXPECT_FALSE(d.ended_action());
    d.advance(5s);
    EXPECT_TRUE(d.ended_action());
}

// BOSH-PAUSE-3: server data during the pause waits for the next request.
TEST(engine_pause, data_during_pause_waits_for_next_request)
{
    driver d;
    d.start();
    auto p = d.next();
    p.pause = 60;
    d.send(std::move(p));
    auto m = message("while paused");
    d.element(m);
    EXPECT_TRUE(d.responses().empty());
    d.advance(30s);
    auto id = d.send(d.next());
    EXPECT_EQ(payload(d.response(id)->body), m.xml);
}

// BOSH-PAUSE-4: normal inactivity comes back with the next request.
TEST(engine_pause, normal_inactivity_after_next_request)
{
    driver d;
    d.start();
    auto p = d.next();
    p.pause = 120;
    d.send(std::move(p));
    d.advance(10s);
    auto id = d.send(d.next());
    d.element(message());
    ASSERT_TRUE(d.response(id));
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 60s);
}

// BOSH-PAUSE-5: a pause shorter than inactivity shortens the timeout.
TEST(engine_pause, short_pause_shortens_timeout)
{
    driver d;
    d.start();
    auto p = d.next();
    p.pause = 5;
    d.send(std::move(p));
    d.advance(5s);
    EXPECT_TRUE(d.ended_action());
}

// BOSH-PAUSE-6, GAP-3: pause above maxpause => policy-violation.
TEST(engine_pause, pause_above_maxpause_is_policy_violation)
{
    driver d;
    d.start();
    auto p = d.next();
    p.pause = 121;
    auto id = d.send(std::move(p));
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
    ASSERT_TRUE(d.ended_action());
    EXPECT_NE(d.ended_action()->reason.find("maxpause"), std::string::npos);
}

// BOSH-PAUSE-1: no maxpause advertised => pause is an ordinary request.
TEST(engine_pause, pause_ignored_when_unsupported)
{
    options o;
    o.max_pause = 0s;
    driver d(o);
    d.start();
    auto p = d.next();
    p.pause = 60;
    auto id = d.send(std::move(p));
    EXPECT_FALSE(d.response(id)) << "held like any request";
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 30s);
}

// BOSH-RTX-6, GAP-11: a resent pause rid gets an empty body (pause responses are not
// cached).
TEST(engine_pause, resent_pause_rid_gets_empty_body)
{
    driver d;
    d.start();
    auto p = d.next();
    p.pause = 60;
    auto copy = p;
    d.send(std::move(p));
    auto id = d.send(std::move(copy));
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(attr(r->body, "type"), std::nullopt);
    EXPECT_EQ(payload(r->body), "");
    EXPECT_FALSE(d.eng.ended());
}

// ------------------------------------------------------------------ overactivity / polling

// BOSH-OVER-1: with `requests` outstanding, one extra terminate is honoured.
TEST(engine_over, extra_terminate_request_allowed)
{
    driver d;
    d.start();
    auto a = d.send(d.next());
    body b2 = d.next({message()});
    body t = d.next();
    t.terminate = true;
    auto tid = d.send(std::move(t)); // arrives before b2: 2 outstanding + terminate
    EXPECT_FALSE(d.ended_action());
    auto bid = d.send(std::move(b2));
    ASSERT_TRUE(d.ended_action());
    EXPECT_EQ(d.ended_action()->why, condition::none);
    EXPECT_TRUE(d.response(a));
    EXPECT_TRUE(d.response(bid));
    EXPECT_TRUE(d.response(tid));
}

// BOSH-OVER-2: more than `requests` unanswered requests => policy-violation. With hold=1
// the window already bounds them, so this needs hold=2 (requests=3).
body hold2_creation()
{
    auto c = driver::creation_body();
    c.hold = 2;
    return c;
}

options hold2_options()
{
    options o;
    o.max_hold = 2;
    return o;
}

// BOSH-OVER-2, COND-8
TEST(engine_over, too_many_simultaneous_requests)
{
    driver e(hold2_options());
    e.start(hold2_creation());
    e.send(e.next());                        // N held
    e.send(e.next({message()}));             // N+1 held
    body late = e.next({message()});         // N+2 still in flight
    e.send(e.next({message()}));             // N+3 early: 3 known outstanding
    EXPECT_FALSE(e.ended_action());
    auto last = e.send(e.next({message()})); // N+4: 4 > requests
    ASSERT_TRUE(e.ended_action());
    EXPECT_EQ(attr(e.response(last)->body, "condition"), "policy-violation");
    EXPECT_NE(e.ended_action()->reason.find("XEP-0124 §11"), std::string::npos);
    (void)late;
}

// BOSH-OVER-2, GAP-8: enforcement is configurable.
TEST(engine_over, overactivity_enforcement_configurable)
{
    auto o = hold2_options();
    o.enforce_overactivity = false;
    driver e(o);
    e.start(hold2_creation());
    e.send(e.next());
    e.send(e.next({message()}));
    body late = e.next({message()});
    e.send(e.next({message()}));
    e.send(e.next({message()}));
    EXPECT_FALSE(e.ended_action());
    e.send(std::move(late));
    EXPECT_FALSE(e.ended_action());
    EXPECT_EQ(e.sent_upstream().size(), 3 * message().xml.size()) << "N+2..N+4 in order";
}

// BOSH-OVER-3: `requests` unanswered, the last empty and within `polling` => violation.
TEST(engine_over, too_frequent_empty_requests)
{
    driver d;
    d.start();
    d.send(d.next());
    d.clock.advance(1s);
    auto id = d.send(d.next());
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
}

// BOSH-OVER-3 negative: a normal long-poll loop never trips it.
TEST(engine_over, normal_long_poll_loop_no_false_positive)
{
    driver d;
    d.start();
    for (int i = 0; i < 20; ++i) {
        auto id = d.send(d.next());
        if (i % 2 == 0) {
            d.element(message()); // data answers the poll at once
        } else {
            d.advance(30s);       // idle poll answered at wait
        }
        ASSERT_TRUE(d.response(id)) << i;
        EXPECT_FALSE(d.eng.ended()) << i;
        // the client sends a message while its next poll is held
        auto held = d.send(d.next());
        auto msg = d.send(d.next({message()}));
        ASSERT_TRUE(d.response(held));
        d.element(message());
        ASSERT_TRUE(d.response(msg));
        EXPECT_FALSE(d.eng.ended()) << i;
        d.clock.advance(100ms);
    }
}

// GAP-8: frequency enforcement (OVER-3 / POLL-2) is configurable.
TEST(engine_over, frequency_enforcement_configurable)
{
    options o;
    o.enforce_polling = false;
    driver d(o);
    d.start();
    d.send(d.next());
    auto id = d.send(d.next());
    EXPECT_FALSE(d.eng.ended());
    (void)id;
}

body polling_creation()
{
    auto b = driver::creation_body();
    b.hold = 0;
    return b;
}

// BOSH-POLL-2: polling session, two empty polls closer than `polling`, the first answered
// empty => policy-violation.
TEST(engine_poll, polling_too_often_is_policy_violation)
{
    driver d;
    d.create(polling_creation());
    d.clock.advance(2s);
    auto a = d.send(d.next());
    ASSERT_TRUE(d.response(a)) << "polling: answered at once";
    d.clock.advance(1s);
    auto b = d.send(d.next());
    EXPECT_EQ(attr(d.response(b)->body, "condition"), "policy-violation");
}

TEST(engine_poll, polling_at_the_interval_is_fine)
{
    driver d;
    d.create(polling_creation());
    for (int i = 0; i < 5; ++i) {
        d.clock.advance(2s);
        auto id = d.send(d.next());
        ASSERT_TRUE(d.response(id));
        EXPECT_EQ(attr(d.response(id)->body, "type"), std::nullopt);
    }
}

// The first poll's answer carried data: the quick second poll is legitimate.
TEST(engine_poll, quick_poll_after_data_is_fine)
{
    driver d;
    d.create(polling_creation());
    d.clock.advance(2s);
    d.features();
    auto a = d.send(d.next());
    EXPECT_EQ(payload(d.response(a)->body), features_xml);
    auto b = d.send(d.next());
    EXPECT_EQ(attr(d.response(b)->body, "type"), std::nullopt);
}

// BOSH-REQ-6 / PAY-9: polling session: every request answered at once with queued data.
TEST(engine_poll, polling_requests_answered_at_once_with_data)
{
    driver d;
    d.create(polling_creation());
    auto m = message();
    d.element(m);
    d.clock.advance(3s);
    auto id = d.send(d.next({message("up")}));
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(payload(r->body), m.xml);
    EXPECT_FALSE(d.sent_upstream().empty());
}

// ------------------------------------------------------------------ termination

// BOSH-TERM-1, TERM-2, TERM-3, GAP-1: terminate forwards its payloads, closes cleanly; the
// held request and the terminate request both get an empty type='terminate' body.
TEST(engine_term, client_terminate_with_held_request)
{
    driver d;
    d.start();
    auto held = d.send(d.next());
    auto presence = make_element("jabber:client", "presence",
                                 "<presence xmlns='jabber:client' type='unavailable'/>");
    auto t = d.next({presence});
    t.terminate = true;
    auto tid = d.send(std::move(t));
    ASSERT_GE(d.acts.size(), 5u);
    // order: forward, close, answers, ended
    ASSERT_TRUE(std::holds_alternative<action::send_upstream>(d.acts[0]));
    EXPECT_EQ(std::get<action::send_upstream>(d.acts[0]).bytes, presence.xml);
    ASSERT_TRUE(std::holds_alternative<action::close_upstream>(d.acts[1]));
    EXPECT_TRUE(std::get<action::close_upstream>(d.acts[1]).clean);
    auto rh = d.response(held);
    ASSERT_TRUE(rh);
    EXPECT_EQ(attr(rh->body, "type"), "terminate");
    EXPECT_EQ(attr(rh->body, "condition"), std::nullopt);
    auto rt = d.response(tid);
    ASSERT_TRUE(rt);
    EXPECT_EQ(rt->status, 200u);
    EXPECT_EQ(attr(rt->body, "type"), "terminate");
    EXPECT_EQ(attr(rt->body, "condition"), std::nullopt);
    EXPECT_EQ(payload(rt->body), "");
    ASSERT_TRUE(std::holds_alternative<action::session_ended>(d.acts.back()));
    EXPECT_TRUE(d.eng.ended());
}

// GAP-1: nothing held => the terminate request itself gets type='terminate'.
TEST(engine_term, client_terminate_alone)
{
    driver d;
    d.start();
    auto t = d.next();
    t.terminate = true;
    auto tid = d.send(std::move(t));
    auto rt = d.response(tid);
    ASSERT_TRUE(rt);
    EXPECT_EQ(attr(rt->body, "type"), "terminate");
    // BOSH-TERM-4
    auto later = d.send(d.next());
    EXPECT_EQ(attr(d.response(later)->body, "condition"), "item-not-found");
}

// GAP-1: with two requests held (hold=2) every answer is an empty type='terminate' body, so a
// client may read them in any order (StanzaJS takes a plain body after the terminate for a
// new stream).
TEST(engine_term, client_terminate_with_two_held_requests)
{
    driver d(hold2_options());
    d.start(hold2_creation());
    auto h1 = d.send(d.next());
    auto h2 = d.send(d.next());
    EXPECT_FALSE(d.response(h1));
    EXPECT_FALSE(d.response(h2));
    auto t = d.next();
    t.terminate = true;
    auto tid = d.send(std::move(t));
    for (auto id : {h1, h2, tid}) {
        auto r = d.response(id);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200u);
        EXPECT_EQ(attr(r->body, "type"), "terminate") << r->body;
        EXPECT_EQ(attr(r->body, "condition"), std::nullopt) << r->body;
        EXPECT_EQ(payload(r->body), "") << r->body;
    }
    EXPECT_TRUE(d.eng.ended());
}

// BOSH-TERM-5, GAP-7: a clean server close ends the session with type='terminate' and no
// condition, on the held request, promptly; we answer with our closing tag.
TEST(engine_term, clean_server_close)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    d.eng.on_upstream_closed(true, d.clock.now());
    d.acts = d.eng.take_actions();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), "terminate");
    EXPECT_EQ(attr(r->body, "condition"), std::nullopt);
    ASSERT_EQ(d.all<action::close_upstream>().size(), 1u);
    EXPECT_TRUE(d.all<action::close_upstream>()[0].clean);
    EXPECT_EQ(d.ended_action()->why, condition::none);
}

// BOSH-TERM-6, COND-9: TCP loss => remote-connection-failed on the held request.
TEST(engine_term, server_connection_lost_on_held_request)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    d.eng.on_upstream_closed(false, d.clock.now());
    d.acts = d.eng.take_actions();
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "remote-connection-failed");
    EXPECT_EQ(d.response(id)->status, 200u);
}

// BOSH-TERM-6, TERM-7: nothing held => the terminal body (with queued stanzas first) goes on
// the next request, whatever its rid.
TEST(engine_term, server_connection_lost_on_next_request)
{
    driver d;
    d.start();
    auto m = message("last words");
    d.element(m);
    d.eng.on_upstream_closed(false, d.clock.now());
    d.acts = d.eng.take_actions();
    EXPECT_TRUE(d.responses().empty());
    EXPECT_FALSE(d.ended_action());
    EXPECT_FALSE(d.eng.ended());
    auto id = d.send(d.next());
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "condition"), "remote-connection-failed");
    EXPECT_EQ(payload(r->body), m.xml);
    ASSERT_TRUE(d.ended_action());
}

// A parked terminal body is dropped silently after inactivity.
TEST(engine_term, parked_terminal_body_expires_with_inactivity)
{
    driver d;
    d.start();
    d.eng.on_upstream_closed(false, d.clock.now());
    d.acts = d.eng.take_actions();
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 60s);
    d.advance(60s);
    ASSERT_TRUE(d.ended_action());
    EXPECT_EQ(d.ended_action()->why, condition::remote_connection_failed);
    EXPECT_TRUE(d.responses().empty());
}

// XBOSH-9, TERM-7, XML-12, COND-10: stream error => remote-stream-error, queued stanzas then
// the whole <stream:error/>, xmlns:stream on the body.
TEST(engine_term, stream_error_is_remote_stream_error)
{
    driver d;
    d.start();
    auto m = message("before error");
    d.element(m);
    std::string err =
        "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
        "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>";
    d.eng.on_upstream_stream_error(err, d.clock.now());
    d.acts = d.eng.take_actions();
    auto id = d.send(d.next());
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), "terminate");
    EXPECT_EQ(attr(r->body, "condition"), "remote-stream-error");
    EXPECT_EQ(attr(r->body, "xmlns:stream"), std::string(ns_stream));
    EXPECT_EQ(payload(r->body), m.xml + err);
    EXPECT_TRUE(is_httpbind_body(r->body));
}

TEST(engine_term, stream_error_on_held_request)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    std::string err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
                      "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    d.eng.on_upstream_stream_error(err, d.clock.now());
    d.acts = d.eng.take_actions();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(payload(r->body), err);
    EXPECT_TRUE(d.all<action::close_upstream>().at(0).clean);
    EXPECT_EQ(d.ended_action()->why, condition::remote_stream_error);
    // later upstream input is ignored
    d.eng.on_upstream_closed(true, d.clock.now());
    EXPECT_TRUE(d.eng.take_actions().empty());
}

// BOSH-COND-12: shutdown terminates with system-shutdown.
TEST(engine_term, shutdown_is_system_shutdown)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    d.eng.shutdown(d.clock.now());
    d.acts = d.eng.take_actions();
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "system-shutdown");
    EXPECT_TRUE(d.eng.ended());
}

// BOSH-COND-12: with no request open, shutdown ends the session at once (the process is
// going away, nothing could collect a deferred terminal body) and closes upstream cleanly.
TEST(engine_term, shutdown_with_nothing_held_ends_now)
{
    driver d;
    d.start();
    d.eng.shutdown(d.clock.now());
    d.acts = d.eng.take_actions();
    ASSERT_TRUE(d.ended_action());
    EXPECT_EQ(d.ended_action()->why, condition::system_shutdown);
    EXPECT_TRUE(d.all<action::close_upstream>().at(0).clean);
    EXPECT_TRUE(d.eng.ended());
}

// BOSH-COND-11: see-other-uri carries <uri/>.
TEST(engine_term, see_other_uri_carries_uri)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    d.eng.on_upstream_failed(condition::see_other_uri, "https://gw.example.com/http-bind", d.clock.now());
    d.acts = d.eng.take_actions();
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "condition"), "see-other-uri");
    EXPECT_EQ(payload(r->body), "<uri>https://gw.example.com/http-bind</uri>");
    EXPECT_TRUE(is_httpbind_body(r->body));
}

// BOSH-COND-2, COND-3, COND-5, COND-9, COND-12, COND-13, GAP-10: conditions reported by the
// adapter reach the client unchanged; with two held requests the lowest carries the queued
// data (none here) and the other gets a bare terminate with the same condition.
TEST(engine_term, every_outside_condition_reaches_the_client)
{
    for (auto c : {condition::host_gone, condition::host_unknown, condition::internal_server_error,
                   condition::remote_connection_failed, condition::system_shutdown,
                   condition::undefined_condition}) {
        options o;
        o.max_hold = 2;
        driver d(o);
        auto cb = driver::creation_body();
        cb.hold = 2;
        d.start(std::move(cb));
        auto a = d.send(d.next());
        auto b = d.send(d.next({message()}));
        d.eng.on_upstream_failed(c, "detail", d.clock.now());
        d.acts = d.eng.take_actions();
        ASSERT_TRUE(d.response(a)) << to_string(c);
        ASSERT_TRUE(d.response(b)) << to_string(c);
        EXPECT_EQ(attr(d.response(a)->body, "condition"), std::string(to_string(c)));
        EXPECT_EQ(attr(d.response(b)->body, "condition"), std::string(to_string(c)));
        EXPECT_EQ(d.responses().front().id, a) << "rid order";
        ASSERT_TRUE(d.ended_action());
        EXPECT_EQ(d.ended_action()->why, c);
        EXPECT_NE(d.ended_action()->reason.find("detail"), std::string::npos);
        EXPECT_EQ(d.eng.next_deadline(), std::nullopt);
    }
}

// BOSH-COND-1, STATUS-4: a body the parser refused ends the session with bad-request.
TEST(engine_term, request_error_is_bad_request)
{
    driver d;
    d.start();
    auto held = d.send(d.next());
    request_id bad = 99;
    d.eng.on_request_error(bad, body_error{"XEP-0124 §6: body is not acceptable XML"}, d.clock.now());
    d.acts = d.eng.take_actions();
    EXPECT_EQ(attr(d.response(bad)->body, "condition"), "bad-request");
    EXPECT_EQ(attr(d.response(held)->body, "condition"), "other-request");
    EXPECT_EQ(d.ended_action()->reason, "XEP-0124 §6: body is not acceptable XML");
}

// BOSH-STATUS-2, STATUS-3: legacy clients get 400/403/404 and the session really ends;
// other conditions stay 200.
TEST(engine_status, legacy_status_codes)
{
    auto legacy = [] {
        auto b = driver::creation_body();
        b.ver.reset();
        return b;
    };
    {
        driver d;
        d.start(legacy());
        body b;
        b.rid = first_rid + 10;
        auto id = d.send(std::move(b));
        EXPECT_EQ(d.response(id)->status, 404u);
        EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
        EXPECT_TRUE(d.eng.ended());
        auto again = d.send(d.next());
        EXPECT_EQ(d.response(again)->status, 404u);
    }
    {
        driver d;
        d.start(legacy());
        d.eng.on_request_error(7, body_error{"x"}, d.clock.now());
        d.acts = d.eng.take_actions();
        EXPECT_EQ(d.response(7)->status, 400u);
    }
    {
        driver d;
        d.start(legacy());
        d.send(d.next());
        auto id = d.send(d.next());
        EXPECT_EQ(d.response(id)->status, 403u);
        EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
    }
    {
        driver d;
        d.start(legacy());
        auto id = d.send(d.next());
        d.eng.on_upstream_closed(false, d.clock.now());
        d.acts = d.eng.take_actions();
        EXPECT_EQ(d.response(id)->status, 200u);
    }
}

// BOSH-STATUS-1: ver clients always get 200 with the condition.
TEST(engine_status, ver_client_always_200)
{
    driver d;
    d.start();
    d.send(d.next());
    auto id = d.send(d.next());
    EXPECT_EQ(d.response(id)->status, 200u);
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
}

// ------------------------------------------------------------------ XEP-0206 restart

// XBOSH-3, XBOSH-5, XBOSH-6, XBOSH-7, XBOSH-10: after <success/>, xmpp:restart restarts the
// upstream stream, ignores payloads and is held until the new features arrive.
TEST(engine_restart, restart_after_success)
{
    driver d;
    d.start();
    auto auth = make_element("urn:ietf:params:xml:ns:xmpp-sasl", "auth",
                             "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
    auto a = d.send(d.next({auth}));
    EXPECT_EQ(d.sent_upstream(), auth.xml);
    d.element(sasl_success());
    EXPECT_EQ(payload(d.response(a)->body), sasl_success().xml);

    auto r = d.next({message("ignored")});
    r.restart = true;
    auto rid = d.send(std::move(r));
    EXPECT_TRUE(d.has<action::restart_upstream>());
    EXPECT_FALSE(d.has<action::send_upstream>()) << "XBOSH-7";
    EXPECT_FALSE(d.response(rid));
    auto bind_features = make_element(std::string(ns_stream), "features",
                                      "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
                                      "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
    d.header("srv-stream-2");
    d.element(bind_features);
    auto resp = d.response(rid);
    ASSERT_TRUE(resp);
    EXPECT_EQ(payload(resp->body), bind_features.xml);
    EXPECT_EQ(attr(resp->body, "xmlns:stream"), std::string(ns_stream));
    EXPECT_EQ(attr(resp->body, "authid"), std::nullopt);
}

// XBOSH-11: data in the request after the restart reaches the server after the new header,
// even when it arrives first.
TEST(engine_restart, data_after_restart_ordered_behind_it)
{
    driver d;
    d.start();
    d.send(d.next());
    d.element(sasl_success());
    auto r = d.next();
    r.restart = true;
    auto iq = make_element("jabber:client", "iq", "<iq xmlns='jabber:client' type='set' id='b'/>");
    auto after = d.next({iq});
    d.send(std::move(after)); // early
    EXPECT_TRUE(d.acts.empty());
    d.send(std::move(r));
    ASSERT_GE(d.acts.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<action::restart_upstream>(d.acts[0]));
    ASSERT_TRUE(std::holds_alternative<action::send_upstream>(d.acts[1]));
    EXPECT_EQ(std::get<action::send_upstream>(d.acts[1]).bytes, iq.xml);
}

// The session makes its upstream stream from open_upstream and has the arguments for it only
// once (bosh::session::stream_args_): over a whole lifetime (creation, restart, pause,
// retransmission, a second creation body on the same engine, terminate) the engine asks
// for exactly one stream, on the first creation.
TEST(engine_restart, one_open_upstream_per_engine_lifetime)
{
    driver d;
    std::size_t opens = 0;
    const auto count = [&] { opens += d.all<action::open_upstream>().size(); };
    d.create();
    count();
    ASSERT_EQ(opens, 1u);
    d.header();
    count();
    d.features();
    count();
    auto again = d.create(); // a second creation body on a live engine
    count();
    ASSERT_TRUE(d.response(again));
    EXPECT_EQ(attr(d.response(again)->body, "condition"), "bad-request");
    d.send(d.next());
    count();
    d.element(sasl_success());
    count();
    auto r = d.next();
    r.restart = true;
    d.send(std::move(r));
    count();
    EXPECT_EQ(d.all<action::restart_upstream>().size(), 1u);
    d.header("srv-stream-2");
    count();
    d.features();
    count();
    auto resend = d.next({message("once")});
    const auto resend_rid = resend.rid;
    d.send(std::move(resend));
    count();
    auto dup = d.next();
    dup.rid = resend_rid; // retransmission
    --d.next_rid;
    d.send(std::move(dup));
    count();
    auto p = d.next();
    p.pause = 60;
    d.send(std::move(p));
    count();
    d.send(d.next());
    count();
    auto t = d.next();
    t.terminate = true;
    d.send(std::move(t));
    count();
    EXPECT_TRUE(d.ended_action());
    EXPECT_EQ(opens, 1u);
}

// XBOSH-8: a restart before SASL success is bad-request; the server stream is untouched.
TEST(engine_restart, restart_before_success_is_bad_request)
{
    driver d;
    d.start();
    auto r = d.next();
    r.restart = true;
    auto id = d.send(std::move(r));
    EXPECT_FALSE(d.has<action::restart_upstream>());
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "bad-request");
    EXPECT_NE(d.ended_action()->reason.find("XEP-0206 §5"), std::string::npos);
}

// XBOSH-8: one success allows one restart.
TEST(engine_restart, second_restart_is_bad_request)
{
    driver d;
    d.start();
    d.send(d.next());
    d.element(sasl_success());
    auto r = d.next();
    r.restart = true;
    d.send(std::move(r));
    d.features();
    auto r2 = d.next();
    r2.restart = true;
    auto id = d.send(std::move(r2));
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "bad-request");
}

// ------------------------------------------------------------------ limits and timers

// Queued server data beyond max_queued_bytes ends the session (internal-server-error).
TEST(engine_limits, queue_overflow_terminates)
{
    options o;
    o.max_queued_bytes = 1000;
    driver d(o);
    d.start();
    d.element(message(std::string(600, 'a')));
    EXPECT_FALSE(d.has<action::close_upstream>());
    d.element(message(std::string(600, 'b')));
    ASSERT_EQ(d.all<action::close_upstream>().size(), 1u);
    auto id = d.send(d.next());
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "condition"), "internal-server-error");
    EXPECT_EQ(payload(r->body), "") << "the overflowing queue is dropped";
}

// SEC-FLOW-1: queued_bytes() reports the queue the I/O shell watches to pause the server:
// it grows while no request is held and is back to zero once a request carries it away.
TEST(engine_limits, queued_bytes_tracks_the_queue)
{
    options o;
    driver d(o);
    d.start();
    EXPECT_EQ(d.eng.queued_bytes(), 0u);
    auto a = message(std::string(300, 'a'));
    auto b = message(std::string(200, 'b'));
    d.element(a);
    EXPECT_EQ(d.eng.queued_bytes(), a.xml.size());
    d.element(b);
    EXPECT_EQ(d.eng.queued_bytes(), a.xml.size() + b.xml.size());
    auto id = d.send(d.next());
    EXPECT_EQ(payload(d.response(id)->body), a.xml + b.xml);
    EXPECT_EQ(d.eng.queued_bytes(), 0u);
}

// With a held request the data does not queue, so no limit applies to it.
TEST(engine_limits, large_element_delivered_to_held_request)
{
    options o;
    o.max_queued_bytes = 1000;
    driver d(o);
    d.start();
    auto id = d.send(d.next());
    auto big = message(std::string(5000, 'x'));
    d.element(big);
    EXPECT_EQ(payload(d.response(id)->body), big.xml);
}

// next_deadline() is the earliest of held wait expiry, inactivity and pause end.
TEST(engine_timer, next_deadline_tracks_state)
{
    driver d;
    EXPECT_EQ(d.eng.next_deadline(), std::nullopt) << "before creation";
    d.create();
    auto t0 = d.clock.now();
    EXPECT_EQ(d.eng.next_deadline(), t0 + 30s);
    d.clock.advance(10s);
    d.features();
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 60s) << "inactivity";
    d.clock.advance(1s);
    d.send(d.next());
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 30s) << "wait";
    // on_timer before the deadline does nothing
    d.eng.on_timer(d.clock.now() + 29s);
    EXPECT_TRUE(d.eng.take_actions().empty());
}

// Every response the engine produces is a single httpbind body (BOSH-XML-1, STATUS-4).
TEST(engine_timer, all_responses_are_httpbind_bodies)
{
    driver d;
    std::vector<std::string> bodies;
    auto collect = [&] {
        for (auto& r : d.responses()) {
            bodies.push_back(r.body);
        }
    };
    d.create();
    d.header();
    d.features();
    collect();
    d.send(d.next());
    d.element(message());
    collect();
    auto r1 = d.next();
    auto r1c = r1;
    d.send(std::move(r1));
    d.send(std::move(r1c));
    collect();
    auto t = d.next({message()});
    t.terminate = true;
    d.send(std::move(t));
    collect();
    ASSERT_GE(bodies.size(), 5u);
    for (const auto& b : bodies) {
        EXPECT_TRUE(is_httpbind_body(b));
    }
}

} // namespace
} // namespace boshgate::bosh::testing
