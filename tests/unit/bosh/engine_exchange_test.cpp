// Payload exchange, hold/wait, rid window, retransmission and acks (XEP-0124 §8, §9, §14).
#include "engine_driver.hpp"

namespace boshgate::bosh::testing {
namespace {

options with_hold(unsigned h)
{
    options o;
    o.max_hold = h;
    return o;
}

body creation_with_hold(unsigned h)
{
    auto b = driver::creation_body();
    b.hold = h;
    return b;
}

// BOSH-PAY-1, PAY-3, XML-6, XML-15: payloads go upstream at once, in document order, with no
// whitespace between them; the request gets 200 later, not a receipt.
TEST(engine_payload, payloads_forwarded_immediately_in_order)
{
    driver d;
    d.start();
    auto m1 = message("one"), m2 = message("two"), m3 = make_element("urn:xmpp:sm:3", "r", "<r xmlns='urn:xmpp:sm:3'/>");
    std::string expect = m1.xml + m2.xml + m3.xml;
    auto id = d.send(d.next({m1, m2, m3}));
    EXPECT_EQ(d.sent_upstream(), expect);
    EXPECT_FALSE(d.response(id)) << "held for server data";
}

// BOSH-PAY-4, PAY-5, PAY-3: an idle request is answered empty at `wait`, not later.
TEST(engine_payload, idle_request_answered_empty_at_wait)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 30s);
    d.advance(29s);
    EXPECT_FALSE(d.response(id));
    d.advance(1s);
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(payload(r->body), "");
    EXPECT_TRUE(is_httpbind_body(r->body));
}

// BOSH-PAY-6, HTTP-7: hold=1, a new request releases the held one at once.
TEST(engine_payload, new_request_releases_oldest_held)
{
    driver d;
    d.start();
    auto a = d.send(d.next());
    auto b = d.send(d.next({message()}));
    auto ra = d.response(a);
    ASSERT_TRUE(ra);
    EXPECT_EQ(payload(ra->body), "");
    EXPECT_FALSE(d.response(b));
}

// BOSH-PAY-7, PAY-8: hold=2, server data goes on the lowest held rid, the other stays held.
TEST(engine_payload, server_data_on_lowest_held_rid)
{
    driver d(with_hold(2));
    d.start(creation_with_hold(2));
    auto a = d.send(d.next());
    auto b = d.send(d.next({message()}));
    EXPECT_TRUE(d.responses().empty()) << "two may be held";
    auto m = message("from server");
    d.element(m);
    auto ra = d.response(a);
    ASSERT_TRUE(ra);
    EXPECT_EQ(payload(ra->body), m.xml);
    EXPECT_FALSE(d.response(b));
    // b and c held (hold=2); the next one releases only the oldest: never more than hold
    auto c = d.send(d.next({message()}));
    EXPECT_TRUE(d.responses().empty());
    auto e = d.send(d.next({message()}));
    EXPECT_TRUE(d.response(b));
    EXPECT_FALSE(d.response(c));
    EXPECT_FALSE(d.response(e));
}

// BOSH-PAY-9, PAY-10: data with no held request is queued in order and delivered whole on
// the next request.
TEST(engine_payload, data_queued_without_held_request)
{
    driver d;
    d.start();
    auto m1 = message("1"), m2 = message("2");
    auto big = message(std::string(200 * 1024, 'x'));
    d.element(m1);
    d.element(m2);
    d.element(big);
    EXPECT_TRUE(d.responses().empty());
    auto id = d.send(d.next());
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(payload(r->body), m1.xml + m2.xml + big.xml);
}

// Issue 9: server elements that arrive together (one read) leave together: inside a batch
// they are queued, and its end answers the lowest held request with all of them; outside a
// batch each element is delivered at once (as above). A request arriving during a batch
// takes what is queued so far.
TEST(engine_payload, elements_of_one_batch_share_one_body)
{
    driver d(with_hold(2));
    d.start(creation_with_hold(2));
    auto a = d.send(d.next());
    auto b = d.send(d.next());
    auto m1 = message("1"), m2 = message("2"), m3 = message("3");
    d.begin_batch();
    d.element(m1);
    d.element(m2);
    d.element(m3);
    EXPECT_TRUE(d.responses().empty()) << "nothing leaves before the batch ends";
    d.end_batch();
    auto ra = d.response(a);
    ASSERT_TRUE(ra);
    EXPECT_EQ(payload(ra->body), m1.xml + m2.xml + m3.xml);
    EXPECT_FALSE(d.response(b)) << "one body for the whole batch; b stays held";
    d.end_batch(); // no batch open: nothing happens
    EXPECT_FALSE(d.response(b));

    // A request during a batch takes what is queued; the end delivers the rest.
    d.begin_batch();
    auto m4 = message("4"), m5 = message("5");
    d.element(m4);
    auto c = d.send(d.next()); // hold=2 with b and c: releases b with m4
    auto rb = d.response(b);
    ASSERT_TRUE(rb);
    EXPECT_EQ(payload(rb->body), m4.xml);
    d.element(m5);
    EXPECT_FALSE(d.response(c));
    d.end_batch();
    auto rc = d.response(c);
    ASSERT_TRUE(rc);
    EXPECT_EQ(payload(rc->body), m5.xml);
}

// XBOSH-1 / BOSH-XML-10: bytes of server elements are relayed verbatim.
TEST(engine_payload, element_bytes_verbatim)
{
    driver d;
    d.start();
    auto id = d.send(d.next());
    auto m = make_element("jabber:client", "iq", "<iq xmlns='jabber:client' type='result' id='x&amp;y'/>");
    d.element(m);
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(payload(r->body), "<iq xmlns='jabber:client' type='result' id='x&amp;y'/>");
    EXPECT_EQ(attr(r->body, "xmlns:stream"), std::nullopt) << "only for stream-namespace payloads";
}

// BOSH-RID-1, PAY-2: out-of-order arrivals are queued and processed in rid order.
TEST(engine_rid, out_of_order_processed_in_rid_order)
{
    driver d;
    d.start();
    auto b1 = d.next({message("A")});
    auto b2 = d.next({message("B")});
    auto a_xml = b1.payloads[0].xml, b_xml = b2.payloads[0].xml;
    auto second = d.send(std::move(b2));
    EXPECT_TRUE(d.acts.empty()) << "N+2 waits for N+1";
    auto first = d.send(std::move(b1));
    EXPECT_EQ(d.sent_upstream(), a_xml + b_xml);
    // hold=1: N+1 was released by N+2, N+2 is held
    EXPECT_TRUE(d.response(first));
    EXPECT_FALSE(d.response(second));
}

// BOSH-RID-2, COND-6, COND-7: a rid above the window ends the session with item-not-found;
// the held request gets other-request; later requests are for an unknown session.
TEST(engine_rid, rid_above_window_is_item_not_found)
{
    driver d;
    d.start();
    auto held = d.send(d.next());
    // last processed = first_rid+1, requests = 2: first_rid+4 is beyond the window
    body b;
    b.rid = first_rid + 4;
    auto bad = d.send(std::move(b));
    auto r = d.response(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), "terminate");
    EXPECT_EQ(attr(r->body, "condition"), "item-not-found");
    EXPECT_EQ(r->status, 200u) << "ver client: always 200 (BOSH-STATUS-1)";
    auto rh = d.response(held);
    ASSERT_TRUE(rh);
    EXPECT_EQ(attr(rh->body, "condition"), "other-request");
    ASSERT_TRUE(d.ended_action());
    EXPECT_NE(d.ended_action()->reason.find("XEP-0124 §14.2"), std::string::npos);
    EXPECT_TRUE(d.has<action::close_upstream>());
    // BOSH-TERM-4 on the engine itself
    auto later = d.send(d.next());
    EXPECT_EQ(attr(d.response(later)->body, "condition"), "item-not-found");
}

// BOSH-RID-1: the window edge itself is accepted.
TEST(engine_rid, rid_at_window_edge_accepted)
{
    driver d;
    d.start();
    body b;
    b.rid = first_rid + 2; // last processed + requests
    d.send(std::move(b));
    EXPECT_FALSE(d.ended_action());
}

// BOSH-RID-3: a too-low rid without a cached response is item-not-found.
TEST(engine_rid, low_rid_without_cache_is_item_not_found)
{
    driver d;
    d.start();
    for (int i = 0; i < 5; ++i) {
        d.send(d.next({message()}));
    }
    body b;
    b.rid = first_rid;
    auto id = d.send(std::move(b));
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
    ASSERT_TRUE(d.ended_action());
    EXPECT_NE(d.ended_action()->reason.find("§14.3"), std::string::npos);
}

// BOSH-RID-4: a permanently missing rid does not stall the session forever: the early
// request gets a recoverable error at `wait`, then inactivity ends the session.
TEST(engine_rid, missing_rid_bounded_by_wait_then_inactivity)
{
    driver d;
    d.start();
    body b;
    b.rid = first_rid + 2; // first_rid + 1 never comes
    auto id = d.send(std::move(b));
    EXPECT_EQ(d.eng.next_deadline(), d.clock.now() + 30s);
    d.advance(30s);
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), "error");
    EXPECT_FALSE(d.ended_action());
    d.advance(60s);
    ASSERT_TRUE(d.ended_action());
    EXPECT_TRUE(d.responses().empty()) << "inactivity end is silent";
}

// BOSH-RTX-1, RTX-5: a resent answered rid gets the same body; payloads not forwarded twice.
TEST(engine_rtx, resent_answered_rid_gets_cached_copy)
{
    driver d;
    d.start();
    auto b1 = d.next({message("once")});
    auto again = b1;
    auto id = d.send(std::move(b1));
    EXPECT_FALSE(d.sent_upstream().empty());
    auto m = message("reply");
    d.element(m);
    auto original = d.response(id);
    ASSERT_TRUE(original);
    EXPECT_EQ(payload(original->body), m.xml);

    auto id2 = d.send(std::move(again));
    auto replay = d.response(id2);
    ASSERT_TRUE(replay);
    EXPECT_EQ(replay->status, 200u);
    EXPECT_EQ(replay->body, original->body);
    EXPECT_EQ(d.sent_upstream(), "") << "BOSH-RTX-5";
}

// BOSH-RTX-2, REC-1: a resent held rid: the original gets type='error', the copy is held and
// answered normally; nothing is forwarded twice and the session stays.
TEST(engine_rtx, resent_held_rid_errors_original_and_holds_copy)
{
    driver d;
    d.start();
    auto b1 = d.next({message("x")});
    auto copy = b1;
    auto a = d.send(std::move(b1));
    auto b = d.send(std::move(copy));
    auto ra = d.response(a);
    ASSERT_TRUE(ra);
    EXPECT_EQ(ra->status, 200u);
    EXPECT_EQ(attr(ra->body, "type"), "error");
    EXPECT_EQ(attr(ra->body, "condition"), std::nullopt);
    EXPECT_FALSE(d.response(b));
    EXPECT_EQ(d.sent_upstream(), "");
    auto m = message("later");
    d.element(m);
    auto rb = d.response(b);
    ASSERT_TRUE(rb);
    EXPECT_EQ(payload(rb->body), m.xml);
    EXPECT_FALSE(d.eng.ended());
}

// BOSH-RTX-3, COND-8: too many repeats of one rid => policy-violation, bounded memory.
TEST(engine_rtx, too_many_repeats_is_policy_violation)
{
    options o;
    o.max_rid_repeats = 3;
    driver d(o);
    d.start();
    auto b = d.next();
    auto copy = b;
    d.send(std::move(b));
    d.element(message());
    for (unsigned i = 0; i < 3; ++i) {
        auto id = d.send(copy);
        ASSERT_TRUE(d.response(id));
        EXPECT_EQ(attr(d.response(id)->body, "type"), std::nullopt);
    }
    auto id = d.send(copy);
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
    ASSERT_TRUE(d.ended_action());
    EXPECT_EQ(d.ended_action()->why, condition::policy_violation);
}

TEST(engine_rtx, too_many_repeats_of_held_rid_is_policy_violation)
{
    options o;
    o.max_rid_repeats = 2;
    driver d(o);
    d.start();
    auto b = d.next();
    d.send(b);
    d.send(b);
    d.send(b);
    EXPECT_FALSE(d.ended_action());
    auto id = d.send(b);
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "policy-violation");
}

// BOSH-RTX-4: the original response is gone from the cache (requests=2).
TEST(engine_rtx, evicted_response_is_item_not_found)
{
    driver d;
    d.start();
    auto first = d.next();
    auto copy = first;
    d.send(std::move(first));        // N
    d.send(d.next({message()}));     // N+1 releases N
    d.send(d.next({message()}));     // N+2 releases N+1
    d.send(d.next({message()}));     // N+3 releases N+2; cache holds N+1, N+2
    auto id = d.send(std::move(copy));
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
}

// BOSH-RTX-1: the creation response is cached too (client resends the first poll's rid).
TEST(engine_rtx, creation_response_replayed)
{
    driver d;
    auto created = d.start();
    body b;
    b.rid = first_rid;
    b.sid = std::string(test_sid);
    auto id = d.send(std::move(b));
    EXPECT_EQ(d.response(id)->body, created);
}

// Aborted held request: its rid counts as answered empty; a resend replays that and data
// arriving meanwhile is kept for the next request.
TEST(engine_rtx, aborted_held_request_replays_empty_and_keeps_data)
{
    driver d;
    d.start();
    auto b = d.next();
    auto copy = b;
    auto id = d.send(std::move(b));
    d.eng.on_request_aborted(id, d.clock.now());
    EXPECT_TRUE(d.eng.take_actions().empty());
    auto m = message("kept");
    d.element(m);
    EXPECT_TRUE(d.responses().empty());
    auto id2 = d.send(std::move(copy));
    auto r2 = d.response(id2);
    ASSERT_TRUE(r2);
    EXPECT_EQ(payload(r2->body), "");
    auto id3 = d.send(d.next());
    EXPECT_EQ(payload(d.response(id3)->body), m.xml);
}

// BOSH-ACK-1, ACK-3: ack only when it differs from the rid answered.
TEST(engine_ack, ack_only_when_not_equal_to_answered_rid)
{
    driver d;
    d.start();
    auto a = d.send(d.next());
    d.element(message());
    auto ra = d.response(a);
    ASSERT_TRUE(ra);
    EXPECT_EQ(attr(ra->body, "ack"), std::nullopt) << "strictly sequential: no ack";

    auto b = d.send(d.next());
    auto c = d.send(d.next({message()})); // releases b while c is already received
    auto rb = d.response(b);
    ASSERT_TRUE(rb);
    EXPECT_EQ(attr(rb->body, "ack"), std::to_string(first_rid + 3));
    (void)c;
}

// BOSH-ACK-2: consistent all session: acks off => never an ack.
TEST(engine_ack, no_ack_anywhere_when_off)
{
    options o;
    o.server_acks = false;
    driver d(o);
    d.start();
    auto b = d.send(d.next());
    d.send(d.next({message()}));
    EXPECT_EQ(attr(d.response(b)->body, "ack"), std::nullopt);
}

body client_ack_creation()
{
    auto b = driver::creation_body();
    b.ack = 1;
    return b;
}

// BOSH-ACK-4, REQ-9: with client acks, unacknowledged responses stay replayable beyond
// `requests`.
TEST(engine_ack, client_acks_keep_unacked_responses)
{
    driver d;
    d.start(client_ack_creation());
    auto first = d.next();
    auto copy = first;
    d.send(std::move(first));
    for (int i = 0; i < 4; ++i) {
        d.send(d.next({message()}));
    }
    auto id = d.send(copy);
    auto r = d.response(id);
    ASSERT_TRUE(r);
    EXPECT_EQ(attr(r->body, "type"), std::nullopt) << "still cached: " << r->body;
}

// BOSH-ACK-4: an acknowledged response leaves the cache.
TEST(engine_ack, acked_responses_leave_the_cache)
{
    driver d;
    d.start(client_ack_creation());
    auto first = d.next();
    auto copy = first;
    d.send(std::move(first));
    auto b = d.next({message()});
    b.ack = first_rid + 1;
    d.send(std::move(b));
    auto id = d.send(copy);
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
}

// BOSH-ACK-6: ack='0' at creation means no client acks: the normal cache bound applies.
TEST(engine_ack, ack_zero_means_acks_off)
{
    driver d;
    auto c = driver::creation_body();
    c.ack = 0;
    d.start(std::move(c));
    auto first = d.next();
    auto copy = first;
    d.send(std::move(first));
    for (int i = 0; i < 3; ++i) {
        d.send(d.next({message()}));
    }
    auto id = d.send(copy);
    EXPECT_EQ(attr(d.response(id)->body, "condition"), "item-not-found");
}

// BOSH-ACK-5, ACK-6, SCHEMA-4: the client's ack is below the last answered rid: the next
// request is answered at once with report = ack+1 and time in ms (capped at 65535).
TEST(engine_ack, report_and_time_for_missing_response)
{
    driver d;
    d.start(client_ack_creation());
    auto n = d.next();
    auto n_copy = n;
    d.send(std::move(n));                 // N
    auto n1 = d.next({message("up")});
    auto n1_copy = n1;
    d.send(std::move(n1));                // N+1 answers N
    d.element(message());                 // answers N+1
    d.clock.advance(1500ms);
    auto b = d.next();
    b.ack = first_rid + 1;                // has N's response, lacks N+1's
    auto id = d.send(std::move(b));
    auto r = d.response(id);
    ASSERT_TRUE(r) << "answered at once";
    EXPECT_EQ(attr(r->body, "report"), std::to_string(first_rid + 2));
    EXPECT_EQ(attr(r->body, "time"), "1500");
    // the client then resends N+1 and gets the cached copy
    auto id2 = d.send(std::move(n1_copy));
    auto r2 = d.response(id2);
    ASSERT_TRUE(r2);
    EXPECT_EQ(attr(r2->body, "type"), std::nullopt);
    EXPECT_EQ(payload(r2->body), message().xml);
    (void)n_copy;
}

TEST(engine_ack, report_time_capped)
{
    options o;
    o.inactivity = 600s;
    driver d(o);
    d.start(client_ack_creation());
    d.send(d.next());
    d.send(d.next({message()}));
    d.element(message());
    d.clock.advance(100s);
    auto b = d.next();
    b.ack = first_rid + 1;
    auto id = d.send(std::move(b));
    EXPECT_EQ(attr(d.response(id)->body, "time"), "65535");
}

// No report for the ordinary race (response just sent, client's ack not yet updated).
TEST(engine_ack, no_report_within_grace)
{
    driver d;
    d.start(client_ack_creation());
    d.send(d.next());
    d.send(d.next({message()}));
    d.element(message());
    auto b = d.next({message()});
    b.ack = first_rid + 1;
    auto id = d.send(std::move(b));
    EXPECT_FALSE(d.response(id)) << "held normally";
}

} // namespace
} // namespace boshgate::bosh::testing
