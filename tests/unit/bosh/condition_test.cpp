// Conditions, legacy status codes and table-level terminate bodies (XEP-0124 §17).
#include "boshgate/bosh/engine.hpp"

#include <gtest/gtest.h>

namespace boshgate::bosh {
namespace {

// BOSH-COND-1..13, SCHEMA-6: every §17.2 condition name.
TEST(condition, names_match_xep_0124)
{
    EXPECT_EQ(to_string(condition::none), "");
    EXPECT_EQ(to_string(condition::bad_request), "bad-request");
    EXPECT_EQ(to_string(condition::host_gone), "host-gone");
    EXPECT_EQ(to_string(condition::host_unknown), "host-unknown");
    EXPECT_EQ(to_string(condition::improper_addressing), "improper-addressing");
    EXPECT_EQ(to_string(condition::internal_server_error), "internal-server-error");
    EXPECT_EQ(to_string(condition::item_not_found), "item-not-found");
    EXPECT_EQ(to_string(condition::other_request), "other-request");
    EXPECT_EQ(to_string(condition::policy_violation), "policy-violation");
    EXPECT_EQ(to_string(condition::remote_connection_failed), "remote-connection-failed");
    EXPECT_EQ(to_string(condition::remote_stream_error), "remote-stream-error");
    EXPECT_EQ(to_string(condition::see_other_uri), "see-other-uri");
    EXPECT_EQ(to_string(condition::system_shutdown), "system-shutdown");
    EXPECT_EQ(to_string(condition::undefined_condition), "undefined-condition");
}

// BOSH-STATUS-2: only three conditions have legacy HTTP codes.
TEST(condition, legacy_status_codes)
{
    EXPECT_EQ(legacy_status(condition::bad_request), 400u);
    EXPECT_EQ(legacy_status(condition::policy_violation), 403u);
    EXPECT_EQ(legacy_status(condition::item_not_found), 404u);
    for (auto c : {condition::none, condition::host_gone, condition::host_unknown,
                   condition::improper_addressing, condition::internal_server_error,
                   condition::other_request, condition::remote_connection_failed,
                   condition::remote_stream_error, condition::see_other_uri,
                   condition::system_shutdown, condition::undefined_condition}) {
        EXPECT_EQ(legacy_status(c), 200u) << to_string(c);
    }
}

// BOSH-XML-8, COND-6, STATUS-4, GAP-2: unknown sid body (the table's answer).
TEST(condition, terminate_body_for_unknown_sid)
{
    EXPECT_EQ(terminate_body(condition::item_not_found),
              "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' "
              "condition='item-not-found'/>");
    EXPECT_EQ(terminate_body(condition::none),
              "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate'/>");
}

// BOSH-COND-11: see-other-uri carries an escaped <uri/>; other details never leak.
TEST(condition, terminate_body_details)
{
    EXPECT_EQ(terminate_body(condition::see_other_uri, "https://x.example/b?a=1&b=2"),
              "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' "
              "condition='see-other-uri'><uri>https://x.example/b?a=1&amp;b=2</uri></body>");
    EXPECT_EQ(terminate_body(condition::internal_server_error, "secret internal detail"),
              "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' "
              "condition='internal-server-error'/>");
}

} // namespace
} // namespace boshgate::bosh
