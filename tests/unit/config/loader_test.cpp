#include "boshgate/config/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace boshgate::config {
namespace {

using namespace std::chrono_literals;

/// The smallest valid file: every session needs a domain.
constexpr const char* minimal = R"([[upstream.domain]]
name = "example.com"
)";

config expect_ok(const std::string& text, const std::string& name = "test.toml")
{
    auto r = load_string(text, name);
    if (auto* errors = std::get_if<std::vector<load_error>>(&r)) {
        std::string all;
        for (const auto& e : *errors) {
            all += e.where + ": " + e.message + "\n";
        }
        ADD_FAILURE() << "unexpected errors:\n" << all;
        return {};
    }
    return std::get<config>(r);
}

std::vector<load_error> expect_errors(const std::string& text, const std::string& name = "test.toml")
{
    auto r = load_string(text, name);
    if (std::holds_alternative<config>(r)) {
        ADD_FAILURE() << "expected errors for:\n" << text;
        return {};
    }
    return std::get<std::vector<load_error>>(r);
}

std::string dump(const std::vector<load_error>& errors)
{
    std::string all;
    for (const auto& e : errors) {
        all += e.where + ": " + e.message + "\n";
    }
    return all;
}

/// Exactly one error, at `where`, whose message contains `part`.
void expect_one_error(const std::string& text, const std::string& where, const std::string& part)
{
    const auto errors = expect_errors(text);
    ASSERT_EQ(errors.size(), 1u) << dump(errors);
    EXPECT_EQ(errors[0].where, where) << dump(errors);
    EXPECT_NE(errors[0].message.find(part), std::string::npos) << dump(errors);
}

// ------------------------------------------------------------------------ full mapping

constexpr const char* full = R"([server]
threads = 3
nofile = 4096
log_level = "debug"
log_format = "json"
shutdown_grace = "7s"
drain_timeout = "2h"
instance_id = "gw-2_b"

[http]
bosh_path = "/bind"
websocket_path = "/ws"
static_dir = "/srv/www"
cors_origins = ["https://a.example", "http://b.example:8080"]
cors_max_age = "2h"
max_body_bytes = 100000
max_header_bytes = 4096
header_timeout = "11s"
idle_timeout = "2m"
max_connections = 300
host_meta = false
public_bosh_url = "https://chat.example.com/xmpp/http-bind"
public_websocket_url = "wss://chat.example.com/xmpp/ws"
trusted_proxies = ["10.0.0.0/8", "::1"]

[[http.listen]]
address = "0.0.0.0"
port = 5281
backlog = 128
tls_cert = "/etc/boshgate/cert.pem"
tls_key = "/etc/boshgate/key.pem"

[[http.listen]]
address = "::1"
port = 0
proxy_protocol = true

[bosh]
max_wait = "40s"
default_wait = "30s"
max_hold = 2
inactivity = "45s"
polling = "3s"
polling_inactivity = "90s"
max_pause = "0s"
enforce_overactivity = false
enforce_polling = false
server_acks = false
max_rid_repeats = 4
max_queued_bytes = 524288
max_cached_responses = 8
legacy_404_for_unknown_sid = true
default_content_type = "text/xml"

[websocket]
enabled = false
ping_interval = "10s"
idle_timeout = "1m"
open_timeout = "12s"
close_timeout = "2s"
max_message_bytes = 65536
legacy_framing = true
see_other_uri = "wss://other.example:5281/xmpp-websocket?node=2"

[xml]
max_stanza_bytes = 65536
max_depth = 32
max_namespace_decls = 16

[upstream]
allow_any_domain = true
allow_private_addresses = true
ca_file = "/etc/ssl/ca.pem"
connect_timeout = "1500ms"
negotiate_timeout = "20s"
close_timeout = "1s"
dns_timeout = "4s"
dns_server = "[::1]:5353"
tcp_keepalive = "2m"
whitespace_keepalive = "0s"
ping_interval = "2m"
ping_timeout = "20s"
max_redirects = 1

[[upstream.domain]]
name = "example.com"
address = "xmpp.example.com:5223"
direct_tls = true
tls = "required"
tls_verify = false
ca_file = "/etc/ssl/example.pem"

[[upstream.domain]]
name = "localhost"
tls = "off"
force_tls_off = true

[[upstream.route]]
host = "xmpp1.example.net"
port = 5269
direct_tls = true

[[upstream.route]]
host = "10.0.0.7"
)";

// Every key of the schema reaches its typed field.
TEST(config_loader, full_file_maps_every_key)
{
    const config c = expect_ok(full);

    EXPECT_EQ(c.server.threads, 3u);
    EXPECT_EQ(c.server.nofile, 4096u);
    EXPECT_EQ(c.server.log_level, "debug");
    EXPECT_EQ(c.server.log_format, "json");
    EXPECT_EQ(c.server.shutdown_grace, 7s);
    EXPECT_EQ(c.server.drain_timeout, 2h);
    EXPECT_EQ(c.server.instance_id, "gw-2_b");

    ASSERT_EQ(c.http.listen.size(), 2u);
    EXPECT_EQ(c.http.listen[0].address, "0.0.0.0");
    EXPECT_EQ(c.http.listen[0].port, 5281);
    EXPECT_EQ(c.http.listen[0].backlog, 128);
    EXPECT_EQ(c.http.listen[0].tls_cert_file, "/etc/boshgate/cert.pem");
    EXPECT_EQ(c.http.listen[0].tls_key_file, "/etc/boshgate/key.pem");
    EXPECT_EQ(c.http.listen[1].address, "::1");
    EXPECT_EQ(c.http.listen[1].port, 0);
    EXPECT_EQ(c.http.listen[1].backlog, 4096);
    EXPECT_FALSE(c.http.listen[1].tls_cert_file.has_value());
    EXPECT_FALSE(c.http.listen[0].proxy_protocol);
    EXPECT_TRUE(c.http.listen[1].proxy_protocol);
    EXPECT_TRUE(c.http.trusted_proxies.contains(boost::asio::ip::make_address("10.2.3.4")));
    EXPECT_TRUE(c.http.trusted_proxies.contains(boost::asio::ip::make_address("::1")));
    EXPECT_FALSE(c.http.trusted_proxies.contains(boost::asio::ip::make_address("192.0.2.1")));
    EXPECT_EQ(c.http.bosh_path, "/bind");
    EXPECT_EQ(c.http.websocket_path, "/ws");
    EXPECT_EQ(c.http.static_dir, "/srv/www");
    EXPECT_EQ(c.http.cors_origins, (std::vector<std::string>{"https://a.example", "http://b.example:8080"}));
    EXPECT_EQ(c.http.cors_max_age, 7200s);
    EXPECT_FALSE(c.http.host_meta);
    EXPECT_EQ(c.http.public_bosh_url, "https://chat.example.com/xmpp/http-bind");
    EXPECT_EQ(c.http.public_websocket_url, "wss://chat.example.com/xmpp/ws");
    EXPECT_EQ(c.http.max_body_bytes, 100000u);
    EXPECT_EQ(c.http.max_header_bytes, 4096u);
    EXPECT_EQ(c.http.header_timeout, 11s);
    EXPECT_EQ(c.http.idle_timeout, 120s);
    EXPECT_EQ(c.http.max_connections, 300u);

    EXPECT_EQ(c.bosh.max_wait, 40s);
    EXPECT_EQ(c.bosh.default_wait, 30s);
    EXPECT_EQ(c.bosh.max_hold, 2u);
    EXPECT_EQ(c.bosh.inactivity, 45s);
    EXPECT_EQ(c.bosh.polling, 3s);
    EXPECT_EQ(c.bosh.polling_inactivity, 90s);
    EXPECT_EQ(c.bosh.max_pause, 0s); // BOSH-PAUSE-1: no maxpause advertised
    EXPECT_FALSE(c.bosh.enforce_overactivity); // GAP-8: configurable
    EXPECT_FALSE(c.bosh.enforce_polling);      // BOSH-POLL-2: must be configurable
    EXPECT_FALSE(c.bosh.server_acks);
    EXPECT_EQ(c.bosh.max_rid_repeats, 4u); // BOSH-RTX-3
    EXPECT_EQ(c.bosh.max_queued_bytes, 524288u);
    EXPECT_EQ(c.bosh.max_cached_responses, 8u);
    EXPECT_TRUE(c.bosh.legacy_404_for_unknown_sid); // GAP-2
    EXPECT_EQ(c.bosh.default_content_type, "text/xml");

    EXPECT_FALSE(c.websocket.enabled);
    EXPECT_EQ(c.websocket.ping_interval, 10s); // WS-KA-2
    EXPECT_EQ(c.websocket.idle_timeout, 60s);  // WS-CLOSE-3
    EXPECT_EQ(c.websocket.open_timeout, 12s);
    EXPECT_EQ(c.websocket.close_timeout, 2s); // WS-CLOSE-2
    EXPECT_EQ(c.websocket.max_message_bytes, 65536u); // WS-SIZE-1
    EXPECT_TRUE(c.websocket.legacy_framing);          // WS-NS-1: explicit opt-in
    // WS-SOU-1; wss:// with the TLS listener above (WS-SOU-2).
    EXPECT_EQ(c.websocket.see_other_uri, "wss://other.example:5281/xmpp-websocket?node=2");

    EXPECT_EQ(c.xml.max_element_bytes, 65536u);
    EXPECT_EQ(c.xml.max_depth, 32u);
    EXPECT_EQ(c.xml.max_namespace_decls, 16u); // SEC-XML-1

    EXPECT_TRUE(c.upstream.allow_any_domain);
    EXPECT_TRUE(c.upstream.allow_private_addresses);
    EXPECT_EQ(c.upstream.ca_file, "/etc/ssl/ca.pem");
    EXPECT_EQ(c.upstream.connect_timeout, 1500ms);
    EXPECT_EQ(c.upstream.negotiate_timeout, 20s);
    EXPECT_EQ(c.upstream.close_timeout, 1s);
    EXPECT_EQ(c.upstream.dns_timeout, 4s);
    EXPECT_EQ(c.upstream.dns_server, "[::1]:5353");
    EXPECT_EQ(c.upstream.tcp_keepalive, 120s); // FAULT-LINK-1
    EXPECT_EQ(c.upstream.whitespace_keepalive, 0s); // C2S-KA-1
    EXPECT_EQ(c.upstream.ping_interval, 120s);      // C2S-PING-1
    EXPECT_EQ(c.upstream.ping_timeout, 20s);
    EXPECT_EQ(c.upstream.max_redirects, 1u);                 // C2S-SOH-2

    ASSERT_EQ(c.upstream.domains.size(), 2u);
    const auto& d0 = c.upstream.domains[0];
    EXPECT_EQ(d0.name, "example.com");
    ASSERT_TRUE(d0.target.has_value());
    EXPECT_EQ(d0.target->host, "xmpp.example.com");
    EXPECT_EQ(d0.target->port, 5223);
    EXPECT_TRUE(d0.target->direct_tls);
    EXPECT_EQ(d0.tls, upstream::tls_mode::required);
    EXPECT_FALSE(d0.tls_verify);
    EXPECT_EQ(d0.ca_file, "/etc/ssl/example.pem");
    const auto& d1 = c.upstream.domains[1];
    EXPECT_EQ(d1.name, "localhost");
    EXPECT_FALSE(d1.target.has_value()); // DNS SRV
    EXPECT_EQ(d1.tls, upstream::tls_mode::off); // C2S-TLS-7: explicit opt-in
    EXPECT_TRUE(d1.force_tls_off);
    EXPECT_TRUE(d1.tls_verify);
    EXPECT_FALSE(d1.ca_file.has_value());

    // BOSH-ROUTE-3: the allow-list, exact host and port.
    ASSERT_EQ(c.upstream.route_allow.size(), 2u);
    EXPECT_EQ(c.upstream.route_allow[0].host, "xmpp1.example.net");
    EXPECT_EQ(c.upstream.route_allow[0].port, 5269);
    EXPECT_TRUE(c.upstream.route_allow[0].direct_tls);
    EXPECT_EQ(c.upstream.route_allow[1].host, "10.0.0.7");
    EXPECT_EQ(c.upstream.route_allow[1].port, 5222);
    EXPECT_FALSE(c.upstream.route_allow[1].direct_tls);
}

// Absent keys keep the documented defaults; C2S-TLS-7: TLS is required unless opted out.
TEST(config_loader, absent_keys_keep_defaults)
{
    const config c = expect_ok(minimal);
    const config d{};
    EXPECT_EQ(c.server.threads, d.server.threads);
    EXPECT_EQ(c.server.log_level, "info");
    ASSERT_EQ(c.http.listen.size(), 1u);
    EXPECT_EQ(c.http.listen[0].address, "127.0.0.1");
    EXPECT_EQ(c.http.listen[0].port, 5280);
    EXPECT_EQ(c.bosh.max_wait, 50s);       // WEB-7: below common 60 s proxy timeouts
    EXPECT_EQ(c.bosh.inactivity, 60s);     // BOSH-INACT-4: 30-60 s range
    EXPECT_EQ(c.bosh.max_hold, 1u);        // WEB-6, GAP-5
    EXPECT_TRUE(c.upstream.route_allow.empty()); // BOSH-ROUTE-1: route ignored
    EXPECT_FALSE(c.upstream.allow_any_domain);
    EXPECT_EQ(c.upstream.tcp_keepalive, 60s); // FAULT-LINK-1: a cut server link is found when idle
    ASSERT_EQ(c.upstream.domains.size(), 1u);
    EXPECT_EQ(c.upstream.domains[0].tls, upstream::tls_mode::required);
    EXPECT_TRUE(c.upstream.domains[0].tls_verify);
    EXPECT_TRUE(c.websocket.enabled);
    EXPECT_EQ(c.websocket.ping_interval, 25s); // WS-KA-3: below common 60 s proxy timeouts
    EXPECT_EQ(c.websocket.idle_timeout, 75s);
    EXPECT_EQ(c.websocket.open_timeout, 30s);
    EXPECT_EQ(c.websocket.close_timeout, 5s);
    EXPECT_EQ(c.websocket.max_message_bytes, 256u * 1024u);
    EXPECT_FALSE(c.websocket.legacy_framing); // WS-NS-1: RFC framing only
    EXPECT_EQ(c.websocket.see_other_uri, ""); // WS-SOU-1: off
}

// [admin]: on by default on loopback, its own port; a non-loopback address needs an
// allow-list; it may not share a listener's address and port.
TEST(config_loader, admin_listener)
{
    const config d = expect_ok(minimal);
    EXPECT_TRUE(d.admin.enabled);
    EXPECT_EQ(d.admin.address, "127.0.0.1");
    EXPECT_EQ(d.admin.port, 9280);
    EXPECT_TRUE(d.admin.allow.empty());

    const config c = expect_ok(std::string(minimal) +
                               "[admin]\naddress = \"0.0.0.0\"\nport = 9100\nallow = [\"10.0.0.0/8\", \"::1\"]\n");
    EXPECT_EQ(c.admin.address, "0.0.0.0");
    EXPECT_EQ(c.admin.port, 9100);
    EXPECT_TRUE(c.admin.allow.contains(boost::asio::ip::make_address("10.1.2.3")));
    EXPECT_FALSE(c.admin.allow.contains(boost::asio::ip::make_address("192.0.2.1")));
    EXPECT_FALSE(expect_ok(std::string(minimal) + "[admin]\nenabled = false\n").admin.enabled);
    // Off: the address does not matter.
    expect_ok(std::string(minimal) + "[admin]\nenabled = false\naddress = \"0.0.0.0\"\n");

    expect_one_error(std::string(minimal) + "[admin]\naddress = \"0.0.0.0\"\n", "test.toml:4",
                     "admin.address: 0.0.0.0 is not a loopback address: list the networks allowed");
    expect_one_error(std::string(minimal) + "[admin]\naddress = \"localhost\"\n", "test.toml:4",
                     "is not a numeric IP address");
    expect_one_error(std::string(minimal) + "[admin]\nallow = [\"10.0.0.0/40\"]\n", "test.toml:4", "admin.allow");
    expect_one_error(std::string(minimal) + "[admin]\nport = 5280\n", "test.toml:4",
                     "admin.port: 127.0.0.1:5280 is also http.listen[0]");
    expect_one_error(std::string(minimal) + "[admin]\nprt = 1\n", "test.toml:4", "admin.prt: unknown key");
}

// TOML 1.0 allows [http] after [[http.listen]], toml11 3.7 does not: the message says what to do.
TEST(config_loader, syntax_error_has_line_and_hint)
{
    expect_one_error("[[http.listen]]\nport = 1\n[http]\nbosh_path = \"/b\"\n", "test.toml:3",
                     "write a [section] before its [[section.sub]] arrays");
    expect_one_error("[server]\nthreads = \n", "test.toml:2", "TOML syntax error: missing value");
    expect_one_error("[server]\nthreads = 1\nthreads = 2\n", "test.toml:3", "TOML syntax error");
}

// ------------------------------------------------------------------------ unknown keys

// Found by tests/fuzz/config_loader: toml11 3.7 read past its buffer on the invalid UTF-8
// in `'\x8b\xa4'` (an ASan heap-buffer-overflow). TOML 1.0 files are UTF-8: refused first.
TEST(config_loader, invalid_utf8_is_refused_before_parsing)
{
    expect_one_error(std::string("'\x8b\xa4'"), "test.toml:1", "TOML 1.0 requires UTF-8: byte 1");
    expect_one_error(std::string("[server]\nthreads = 1 # caf\xc3\n"), "test.toml:2", "byte 26 is not valid UTF-8");
    expect_one_error(std::string("[server]\n# \xed\xa0\x80 surrogate\n"), "test.toml:2", "not valid UTF-8");
    // Valid UTF-8 in comments and strings is fine.
    auto ok = load_string("# café ☕\n[server]\nthreads = 1 # ünïcode\n[upstream]\nallow_any_domain = true\n",
                          "test.toml");
    EXPECT_TRUE(std::holds_alternative<config>(ok));
}

TEST(config_loader, unknown_keys_are_errors_everywhere)
{
    expect_one_error(std::string(minimal) + "[servr]\nthreads = 1\n", "test.toml:3", "servr: unknown key \"servr\" (did you mean \"server\"?)");
    expect_one_error(std::string(minimal) + "[bosh]\nmax_wiat = \"10s\"\n", "test.toml:4",
                     "bosh.max_wiat: unknown key \"max_wiat\" in [bosh] (did you mean \"max_wait\"?)");
    expect_one_error(std::string(minimal) + "[[http.listen]]\nport = 1\nadress = \"::1\"\n", "test.toml:5",
                     "http.listen[0].adress: unknown key \"adress\" in [http.listen]");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\ntls_verfy = false\n", "test.toml:3",
                     "upstream.domain[0].tls_verfy: unknown key");
    expect_one_error(std::string(minimal) + "[[upstream.route]]\nhost = \"h.example\"\nprt = 1\n", "test.toml:5",
                     "upstream.route[0].prt: unknown key");
    expect_one_error("top_level = 1\n" + std::string(minimal), "test.toml:1", "unknown key \"top_level\"");
    expect_one_error(std::string(minimal) + "[websocket]\nping_intervall = \"10s\"\n", "test.toml:4",
                     "websocket.ping_intervall: unknown key \"ping_intervall\" in [websocket] (did you mean "
                     "\"ping_interval\"?)");
    expect_one_error(std::string(minimal) + "[websocket]\npath = \"/ws\"\n", "test.toml:4",
                     "websocket.path: unknown key \"path\" in [websocket]");
    expect_one_error(std::string(minimal) + "[websockets]\nenabled = true\n", "test.toml:3",
                     "websockets: unknown key \"websockets\" (did you mean \"websocket\"?)");
    // No hint when nothing is close.
    const auto errors = expect_errors(std::string(minimal) + "[bosh]\ncompletely_different = 1\n");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].message, "bosh.completely_different: unknown key \"completely_different\" in [bosh]");
}

// ------------------------------------------------------------------------ types

TEST(config_loader, wrong_types_are_reported_with_the_expected_type)
{
    expect_one_error(std::string(minimal) + "[server]\nthreads = \"4\"\n", "test.toml:4",
                     "server.threads: expected an integer, got a string");
    expect_one_error(std::string(minimal) + "[bosh]\nserver_acks = 1\n", "test.toml:4",
                     "bosh.server_acks: expected a boolean");
    expect_one_error(std::string(minimal) + "[bosh]\nmax_wait = 50\n", "test.toml:4",
                     "bosh.max_wait: expected a duration string such as \"5s\"");
    expect_one_error(std::string(minimal) + "[http]\ncors_origins = \"*\"\n", "test.toml:4",
                     "http.cors_origins: expected an array of strings, got a string");
    expect_one_error(std::string(minimal) + "[http]\ncors_origins = [\"*\", 3]\n", "test.toml:4",
                     "found an integer");
    expect_one_error("server = 3\n" + std::string(minimal), "test.toml:1", "server: expected a table");
    expect_one_error(std::string(minimal) + "[http]\nlisten = 5\n", "test.toml:4",
                     "http.listen: expected an array of tables");
    expect_one_error(std::string(minimal) + "[xml]\nmax_depth = 8.5\n", "test.toml:4", "got a float");
    expect_one_error(std::string(minimal) + "[websocket]\nenabled = \"yes\"\n", "test.toml:4",
                     "websocket.enabled: expected a boolean (true or false), got a string");
    expect_one_error(std::string(minimal) + "[websocket]\nlegacy_framing = 1\n", "test.toml:4",
                     "websocket.legacy_framing: expected a boolean (true or false), got an integer");
    expect_one_error(std::string(minimal) + "[websocket]\nping_interval = 25\n", "test.toml:4",
                     "websocket.ping_interval: expected a duration string such as \"5s\"");
    expect_one_error(std::string(minimal) + "[websocket]\nmax_message_bytes = \"1MiB\"\n", "test.toml:4",
                     "websocket.max_message_bytes: expected an integer, got a string");
    expect_one_error(std::string(minimal) + "[websocket]\nsee_other_uri = false\n", "test.toml:4",
                     "websocket.see_other_uri: expected a string, got a boolean");
    expect_one_error("websocket = true\n" + std::string(minimal), "test.toml:1",
                     "websocket: expected a table ([websocket]), got a boolean");
}

// ------------------------------------------------------------------------ ranges

struct range_case {
    const char* section_and_key; // followed by the minimal domain
    const char* where;
    const char* message;
};

void PrintTo(const range_case& c, std::ostream* os)
{
    *os << c.section_and_key;
}

class config_range : public ::testing::TestWithParam<range_case> {};

TEST_P(config_range, out_of_range_value_is_reported_at_its_line)
{
    const auto& p = GetParam();
    expect_one_error(std::string(p.section_and_key) + minimal, p.where, p.message);
}

INSTANTIATE_TEST_SUITE_P(
    config_loader, config_range,
    ::testing::Values(
        range_case{"[server]\nthreads = -1\n", "test.toml:2", "server.threads: must be between 0 and 1024 (got -1)"},
        range_case{"[server]\nnofile = 10\n", "test.toml:2", "server.nofile: must be between 64 and"},
        range_case{"[server]\nlog_level = \"verbose\"\n", "test.toml:2",
                   "server.log_level: must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\" "
                   "(got \"verbose\")"},
        range_case{"[server]\nshutdown_grace = \"2h\"\n", "test.toml:2",
                   "server.shutdown_grace: must be between 0s and 1h (got 2h)"},
        range_case{"[server]\ndrain_timeout = \"8d\"\n", "test.toml:2",
                   "server.drain_timeout: must be between 0s and 7d (got 8d)"},
        // An instance id goes into BOSH sids and HAProxy's server names: no '.', no spaces.
        range_case{"[server]\ninstance_id = \"gw.1\"\n", "test.toml:2",
                   "server.instance_id: must be at most 32 letters, digits, '_' or '-' (a load balancer's server "
                   "name; got \"gw.1\")"},
        range_case{"[server]\ninstance_id = \"abcdefghijklmnopqrstuvwxyz0123456\"\n", "test.toml:2",
                   "server.instance_id: must be at most 32 letters"},
        // BOSH-RESP-5 / WEB-6: hold is bounded.
        range_case{"[bosh]\nmax_hold = 0\n", "test.toml:2", "bosh.max_hold: must be between 1 and 16 (got 0)"},
        range_case{"[bosh]\nmax_hold = 17\n", "test.toml:2", "bosh.max_hold: must be between 1 and 16 (got 17)"},
        // BOSH-RESP-3: the wait cap.
        range_case{"[bosh]\nmax_wait = \"0s\"\n", "test.toml:2", "bosh.max_wait: must be between 1s and 1h (got 0s)"},
        range_case{"[bosh]\nmax_wait = \"3601s\"\n", "test.toml:2", "bosh.max_wait: must be between 1s and 1h"},
        range_case{"[bosh]\nmax_wait = \"1500ms\"\n", "test.toml:2",
                   "bosh.max_wait: must be a whole number of seconds (got 1500ms)"},
        range_case{"[bosh]\nmax_wait = \"5 s\"\n", "test.toml:2", "bosh.max_wait: invalid duration \"5 s\""},
        // BOSH-INACT-3/4: an inactivity is always advertised and never absurdly small.
        range_case{"[bosh]\ninactivity = \"4s\"\n", "test.toml:2", "bosh.inactivity: must be between 5s and"},
        range_case{"[bosh]\nmax_pause = \"65536s\"\n", "test.toml:2", "bosh.max_pause: must be between 0s and 65535s"},
        range_case{"[bosh]\nmax_rid_repeats = 0\n", "test.toml:2", "bosh.max_rid_repeats: must be between 1 and 1000"},
        range_case{"[bosh]\ndefault_content_type = \"text/xml\\r\\nX: y\"\n", "test.toml:2",
                   "bosh.default_content_type: must be a non-empty header value without control characters"},
        range_case{"[xml]\nmax_depth = 3\n", "test.toml:2", "xml.max_depth: must be between 4 and 1024"},
        range_case{"[xml]\nmax_stanza_bytes = 100\n", "test.toml:2", "xml.max_stanza_bytes: must be between 1024"},
        range_case{"[http]\nmax_body_bytes = 0\n", "test.toml:2", "http.max_body_bytes: must be between 1024"},
        range_case{"[http]\nmax_connections = 0\n", "test.toml:2", "http.max_connections: must be between 1"},
        range_case{"[http]\nheader_timeout = \"0s\"\n", "test.toml:2", "http.header_timeout: must be between 1s"},
        range_case{"[http]\nbosh_path = \"http-bind\"\n", "test.toml:2",
                   "http.bosh_path: must be an absolute path such as \"/http-bind\""},
        range_case{"[http]\nwebsocket_path = \"/ws?x=1\"\n", "test.toml:2", "http.websocket_path: must be an absolute"},
        range_case{"[http]\nwebsocket_path = \"/http-bind\"\n", "test.toml:2",
                   "http.websocket_path: must differ from http.bosh_path"},
        // XEP-0156: advertised URLs must be absolute URLs of the right scheme.
        range_case{"[server]\nlog_format = \"xml\"\n", "test.toml:2",
                   "server.log_format: must be one of \"text\", \"json\""},
        range_case{"[http]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", "test.toml:2",
                   "http.trusted_proxies: \"10.0.0.0/33\" is not an address or network"},
        range_case{"[[http.listen]]\nproxy_protocol = true\n", "test.toml:1",
                   "http.listen[0].proxy_protocol: needs http.trusted_proxies"},
        // DISC-3: secure URLs only.
        range_case{"[http]\npublic_bosh_url = \"/http-bind\"\n", "test.toml:2",
                   "http.public_bosh_url: must be an absolute https:// URL"},
        range_case{"[http]\npublic_bosh_url = \"http://a.example/x\"\n", "test.toml:2",
                   "http.public_bosh_url: must be an absolute https:// URL"},
        range_case{"[http]\npublic_bosh_url = \"wss://a.example/x\"\n", "test.toml:2",
                   "http.public_bosh_url: must be an absolute https:// URL"},
        range_case{"[http]\npublic_websocket_url = \"ws://a.example/ws\"\n", "test.toml:2",
                   "http.public_websocket_url: must be an absolute wss:// URL"},
        range_case{"[http]\npublic_websocket_url = \"wss://a example/ws\"\n", "test.toml:2",
                   "http.public_websocket_url: must be an absolute wss:// URL"},
        // WEB-1 / WS-SEC-1: allow-listed origins must be origins.
        range_case{"[http]\ncors_origins = [\"https://a.example/\"]\n", "test.toml:2",
                   "\"https://a.example/\" is not \"*\" or an origin"},
        range_case{"[http]\ncors_origins = [\"a.example\"]\n", "test.toml:2", "is not \"*\" or an origin"},
        range_case{"[[http.listen]]\nport = 65536\n", "test.toml:2",
                   "http.listen[0].port: must be between 0 and 65535 (got 65536)"},
        range_case{"[[http.listen]]\nbacklog = 0\n", "test.toml:2", "http.listen[0].backlog: must be between 1"},
        range_case{"[[http.listen]]\naddress = \"localhost\"\n", "test.toml:2",
                   "http.listen[0].address: \"localhost\" is not a numeric IP address"},
        range_case{"[[http.listen]]\ntls_cert = \"c.pem\"\n", "test.toml:2",
                   "http.listen[0].tls_cert: HTTPS needs both tls_cert and tls_key"},
        range_case{"[[http.listen]]\ntls_key = \"k.pem\"\n", "test.toml:2",
                   "http.listen[0].tls_key: HTTPS needs both tls_cert and tls_key"},
        range_case{"[[http.listen]]\ntls_key = \"\"\ntls_cert = \"c.pem\"\n", "test.toml:2",
                   "http.listen[0].tls_key: must not be empty"},
        range_case{"[upstream]\nconnect_timeout = \"50ms\"\n", "test.toml:2",
                   "upstream.connect_timeout: must be between 100ms and 1h (got 50ms)"},
        range_case{"[upstream]\ndns_timeout = \"soon\"\n", "test.toml:2", "upstream.dns_timeout: invalid duration"},
        range_case{"[upstream]\ndns_server = \"resolver.example:53\"\n", "test.toml:2",
                   "upstream.dns_server: invalid address \"resolver.example:53\""},
        range_case{"[upstream]\ntcp_keepalive = \"3h\"\n", "test.toml:2",
                   "upstream.tcp_keepalive: must be between 0s and 2h"},
        range_case{"[upstream]\nwhitespace_keepalive = \"2h\"\n", "test.toml:2",
                   "upstream.whitespace_keepalive: must be between 0s and 1h"},
        // C2S-KA-1: off, or at least 5 s.
        range_case{"[upstream]\nwhitespace_keepalive = \"2s\"\n", "test.toml:2",
                   "upstream.whitespace_keepalive: must be \"0s\" (off) or between 5s and 1h (got 2s)"},
        range_case{"[upstream]\nping_interval = \"1s\"\n", "test.toml:2",
                   "upstream.ping_interval: must be \"0s\" (off) or between 5s and 1h (got 1s)"},
        range_case{"[upstream]\nping_timeout = \"0s\"\n", "test.toml:2", "upstream.ping_timeout: must be between 1s and"},
        range_case{"[upstream]\nmax_redirects = 6\n", "test.toml:2", "upstream.max_redirects: must be between 0 and 5"},
        range_case{"[[upstream.route]]\nhost = \"h.example\"\nport = 0\n", "test.toml:3",
                   "upstream.route[0].port: must be between 1 and 65535 (got 0)"},
        range_case{"[[upstream.route]]\nhost = \"h.example:5222\"\n", "test.toml:2",
                   "upstream.route[0].host: \"h.example:5222\" is not a host name or IP address"},
        range_case{"[[upstream.route]]\nport = 5222\n", "test.toml:1", "upstream.route[0]: missing required key \"host\""},
        // WS-KA-2/3: the ping interval.
        range_case{"[websocket]\nping_interval = \"0s\"\n", "test.toml:2",
                   "websocket.ping_interval: must be between 1s and 1h (got 0s)"},
        range_case{"[websocket]\nping_interval = \"3601s\"\n", "test.toml:2",
                   "websocket.ping_interval: must be between 1s and 1h (got 3601s)"},
        range_case{"[websocket]\nping_interval = \"1500ms\"\n", "test.toml:2",
                   "websocket.ping_interval: must be a whole number of seconds (got 1500ms)"},
        range_case{"[websocket]\nping_interval = \"25\"\n", "test.toml:2", "websocket.ping_interval: invalid duration"},
        // WS-CLOSE-3: the idle timeout.
        range_case{"[websocket]\nidle_timeout = \"86401s\"\n", "test.toml:2",
                   "websocket.idle_timeout: must be between 1s and 1d (got 86401s)"},
        range_case{"[websocket]\nidle_timeout = \"0s\"\n", "test.toml:2",
                   "websocket.idle_timeout: must be between 1s and 1d (got 0s)"},
        // WS-OPEN-1: the slow-client guard.
        range_case{"[websocket]\nopen_timeout = \"0s\"\n", "test.toml:2",
                   "websocket.open_timeout: must be between 1s and 10m (got 0s)"},
        range_case{"[websocket]\nopen_timeout = \"601s\"\n", "test.toml:2",
                   "websocket.open_timeout: must be between 1s and 10m (got 601s)"},
        // WS-CLOSE-2: waiting for the client's <close/>.
        range_case{"[websocket]\nclose_timeout = \"0s\"\n", "test.toml:2",
                   "websocket.close_timeout: must be between 1s and 2m (got 0s)"},
        range_case{"[websocket]\nclose_timeout = \"121s\"\n", "test.toml:2",
                   "websocket.close_timeout: must be between 1s and 2m (got 121s)"},
        // WS-SIZE-1: the message size limit.
        range_case{"[websocket]\nmax_message_bytes = 1023\n", "test.toml:2",
                   "websocket.max_message_bytes: must be between 1024 and 16777216 (got 1023)"},
        range_case{"[websocket]\nmax_message_bytes = 16777217\n", "test.toml:2",
                   "websocket.max_message_bytes: must be between 1024 and 16777216 (got 16777217)"},
        // WS-SOU-1: only absolute WebSocket URIs.
        range_case{"[websocket]\nsee_other_uri = \"https://other.example/http-bind\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute ws:// or wss:// URI such as "
                   "\"wss://xmpp.example.com/xmpp-websocket\" (RFC 7395 §3.6.1; no spaces or fragment) "
                   "(got \"https://other.example/http-bind\")"},
        range_case{"[websocket]\nsee_other_uri = \"/xmpp-websocket\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute ws:// or wss:// URI"},
        range_case{"[websocket]\nsee_other_uri = \"wss://\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute ws:// or wss:// URI"},
        range_case{"[websocket]\nsee_other_uri = \"wss:///xmpp-websocket\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"wss://other example/ws\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"wss://other.example/ws \"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"wss://other.example/ws#x\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"wss://user@other.example/ws\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"wss://other.example:0/ws\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"},
        range_case{"[websocket]\nsee_other_uri = \"WSS://other.example/ws\"\n", "test.toml:2",
                   "websocket.see_other_uri: must be empty or an absolute"}));

// ------------------------------------------------------------------------ domains

TEST(config_loader, domain_validation)
{
    expect_one_error("[[upstream.domain]]\ntls = \"required\"\n", "test.toml:1",
                     "upstream.domain[0]: missing required key \"name\"");
    expect_one_error("[[upstream.domain]]\nname = \"bad domain\"\n", "test.toml:2",
                     "upstream.domain[0].name: \"bad domain\" is not a valid XMPP domain name");
    // C2S-TLS-7 / BOSH-SEC-1: only the explicit modes exist.
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\ntls = \"optional\"\n", "test.toml:3",
                     "upstream.domain[0].tls: must be one of \"required\", \"plaintext\", \"off\" (got \"optional\")");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"a.example\"\n", "test.toml:3",
                     "upstream.domain[0].address: invalid address \"a.example\": expected \"HOST:PORT\"");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"a.example:0\"\n", "test.toml:3",
                     "port must be between 1 and 65535");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\ndirect_tls = true\n", "test.toml:3",
                     "upstream.domain[0].direct_tls: needs a static address");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"[::1]:5223\"\ndirect_tls = true\n"
                     "tls = \"plaintext\"\n",
                     "test.toml:5", "\"plaintext\" contradicts direct_tls = true");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"[::1]:5223\"\ndirect_tls = true\n"
                     "tls = \"off\"\n",
                     "test.toml:5", "\"off\" contradicts direct_tls = true");
}

// tls = "off" (never TLS): a loopback address, or forced; SRV or host names are checked at
// connect time (target_policy.tls_off_permits_only_loopback_addresses).
TEST(config_loader, tls_off_needs_loopback_or_force)
{
    for (const char* addr : {"127.0.0.1:5222", "127.3.4.5:5222", "[::1]:5222", "[::ffff:127.0.0.1]:5222",
                             "localhost:5222"}) {
        const auto c = expect_ok(std::string("[[upstream.domain]]\nname = \"a.example\"\naddress = \"") + addr +
                                 "\"\ntls = \"off\"\n");
        EXPECT_EQ(c.upstream.domains[0].tls, upstream::tls_mode::off) << addr;
        EXPECT_FALSE(c.upstream.domains[0].force_tls_off);
    }
    const auto srv = expect_ok("[[upstream.domain]]\nname = \"a.example\"\ntls = \"off\"\n");
    EXPECT_EQ(srv.upstream.domains[0].tls, upstream::tls_mode::off);
    for (const char* addr : {"10.0.0.5:5222", "[2001:db8::1]:5222", "[::ffff:10.0.0.1]:5222"}) {
        expect_one_error(std::string("[[upstream.domain]]\nname = \"a.example\"\naddress = \"") + addr +
                             "\"\ntls = \"off\"\n",
                         "test.toml:4", "upstream.domain[0].tls: \"off\" sends credentials in the clear");
    }
    const auto forced = expect_ok("[[upstream.domain]]\nname = \"a.example\"\naddress = \"10.0.0.5:5222\"\n"
                                  "tls = \"off\"\nforce_tls_off = true\n");
    EXPECT_EQ(forced.upstream.domains[0].tls, upstream::tls_mode::off);
    EXPECT_TRUE(forced.upstream.domains[0].force_tls_off);
}

// Issue 9: a server on this host over a Unix domain socket; tls = "off" needs no
// force_tls_off there (nothing goes on a wire).
TEST(config_loader, domain_unix_socket_address)
{
    const auto c = expect_ok("[[upstream.domain]]\nname = \"a.example\"\naddress = \"unix:/run/ejabberd/c2s.sock\"\n"
                             "tls = \"off\"\n");
    ASSERT_TRUE(c.upstream.domains[0].target.has_value());
    EXPECT_EQ(c.upstream.domains[0].target->unix_path, "/run/ejabberd/c2s.sock");
    EXPECT_TRUE(c.upstream.domains[0].target->host.empty());
    EXPECT_EQ(c.upstream.domains[0].tls, upstream::tls_mode::off);
    EXPECT_FALSE(c.upstream.domains[0].force_tls_off);
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"unix:c2s.sock\"\n", "test.toml:3",
                     "upstream.domain[0].address: \"unix:c2s.sock\": a Unix socket address is \"unix:\" and an "
                     "absolute path");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"unix:\"\n", "test.toml:3",
                     "a Unix socket address is");
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"unix:/" + std::string(120, 'x') +
                         "\"\n",
                     "test.toml:3", "the socket path is longer than the system allows (107 bytes)");
    // Not silently ignored: the connector has no direct-TLS path for a Unix socket.
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\naddress = \"unix:/run/x.sock\"\ndirect_tls = true\n",
                     "test.toml:4", "upstream.domain[0].direct_tls: is not supported with a Unix socket address");
}

TEST(config_loader, domain_ipv6_static_address)
{
    const auto c = expect_ok("[[upstream.domain]]\nname = \"a.example\"\naddress = \"[::1]:5223\"\n");
    ASSERT_EQ(c.upstream.domains.size(), 1u);
    ASSERT_TRUE(c.upstream.domains[0].target.has_value());
    EXPECT_EQ(c.upstream.domains[0].target->host, "::1");
    EXPECT_EQ(c.upstream.domains[0].target->port, 5223);
    EXPECT_FALSE(c.upstream.domains[0].target->direct_tls);
}

TEST(config_loader, duplicate_domains_compare_case_insensitively)
{
    expect_one_error("[[upstream.domain]]\nname = \"a.example\"\n\n[[upstream.domain]]\nname = \"A.Example\"\n",
                     "test.toml:5",
                     "upstream.domain[1].name: duplicate domain \"A.Example\" (first defined at line 2)");
}

TEST(config_loader, duplicate_routes_and_listeners)
{
    expect_one_error(std::string(minimal) +
                         "[[upstream.route]]\nhost = \"h.example\"\n[[upstream.route]]\nhost = \"H.example\"\nport = 5222\n",
                     "test.toml:5", "upstream.route[1]: duplicate route H.example:5222 (first defined at line 3)");
    expect_one_error(std::string(minimal) + "[[http.listen]]\nport = 5280\n[[http.listen]]\nport = 5280\n",
                     "test.toml:5", "http.listen[1]: 127.0.0.1:5280 is already a listener (line 3)");
    // Port 0 = any free port: two of them never collide.
    const auto c = expect_ok(std::string(minimal) + "[[http.listen]]\nport = 0\n[[http.listen]]\nport = 0\n");
    EXPECT_EQ(c.http.listen.size(), 2u);
}

TEST(config_loader, empty_listener_array_is_an_error)
{
    expect_one_error(std::string(minimal) + "[http]\nlisten = []\n", "test.toml:4",
                     "http.listen: at least one [[http.listen]] is needed");
}

// BOSH-ROUTE-3: a gateway with no domain and no allow_any_domain would refuse everyone.
TEST(config_loader, no_domain_without_allow_any_domain)
{
    expect_one_error("", "test.toml", "no [[upstream.domain]] and allow_any_domain = false");
    expect_one_error("[upstream]\nallow_any_domain = false\n", "test.toml:2", "no [[upstream.domain]]");
    const auto c = expect_ok("[upstream]\nallow_any_domain = true\n");
    EXPECT_TRUE(c.upstream.domains.empty());
}

// ------------------------------------------------------------------------ cross-field checks

TEST(config_loader, default_wait_must_not_exceed_max_wait)
{
    // BOSH-RESP-3
    expect_one_error(std::string(minimal) + "[bosh]\nmax_wait = \"30s\"\ndefault_wait = \"40s\"\n", "test.toml:5",
                     "bosh.default_wait: 40s exceeds bosh.max_wait 30s");
    // Only max_wait written: blamed there.
    expect_one_error(std::string(minimal) + "[bosh]\nmax_wait = \"30s\"\n", "test.toml:4",
                     "bosh.default_wait: 50s exceeds bosh.max_wait 30s");
    const auto c = expect_ok(std::string(minimal) + "[bosh]\nmax_wait = \"30s\"\ndefault_wait = \"30s\"\n");
    EXPECT_EQ(c.bosh.default_wait, 30s);
}

TEST(config_loader, polling_inactivity_relations)
{
    // BOSH-POLL-1: polling sessions get an inactivity larger than `polling` and than normal.
    expect_one_error(std::string(minimal) + "[bosh]\npolling = \"200s\"\n", "test.toml:4",
                     "bosh.polling_inactivity: must be greater than bosh.polling");
    expect_one_error(std::string(minimal) + "[bosh]\npolling_inactivity = \"30s\"\n", "test.toml:4",
                     "bosh.polling_inactivity: must be at least bosh.inactivity");
}

TEST(config_loader, cache_and_queue_relations)
{
    // BOSH-RESP-4 / GAP-5: requests = hold + 1 responses may need retransmission.
    expect_one_error(std::string(minimal) + "[bosh]\nmax_hold = 4\nmax_cached_responses = 4\n", "test.toml:5",
                     "bosh.max_cached_responses: must be at least bosh.max_hold + 1 (5)");
    expect_one_error(std::string(minimal) + "[bosh]\nmax_queued_bytes = 2048\n", "test.toml:4",
                     "bosh.max_queued_bytes: must be at least xml.max_stanza_bytes (262144)");
}

// ------------------------------------------------------------------------ limits

constexpr const char* limits_full = R"([limits]
max_sessions = 500
max_sessions_per_address = 7
session_rate_per_address = 0.5
session_burst_per_address = 3
max_connections_per_address = 40
ipv6_prefix = 48
ipv4_prefix = 24
max_connecting_per_domain = 12
breaker_failures = 9
breaker_open = "1500ms"
breaker_open_max = "5m"
client_send_high_water = 131072
client_send_low_water = 4096
upstream_send_high_water = 65536
upstream_send_low_water = 0
write_timeout = "45s"
)";

// Every key of [limits] reaches its field (SEC-LIMIT-1..6 and the upstream/flow bounds).
TEST(config_loader, limits_section_maps_every_key)
{
    const config c = expect_ok(std::string(minimal) + limits_full);
    const auto& l = c.limits;
    EXPECT_EQ(l.max_sessions, 500u);                // SEC-LIMIT-1
    EXPECT_EQ(l.max_sessions_per_address, 7u);      // SEC-LIMIT-2
    EXPECT_EQ(l.session_rate_per_address, 0.5);     // SEC-LIMIT-3
    EXPECT_EQ(l.session_burst_per_address, 3u);
    EXPECT_EQ(l.max_connections_per_address, 40u);  // SEC-LIMIT-4
    EXPECT_EQ(l.ipv6_prefix, 48u);                  // SEC-LIMIT-6
    EXPECT_EQ(l.ipv4_prefix, 24u);
    EXPECT_EQ(l.max_connecting_per_domain, 12u);
    EXPECT_EQ(l.breaker_failures, 9u);
    EXPECT_EQ(l.breaker_open, 1500ms);
    EXPECT_EQ(l.breaker_open_max, 300s);
    EXPECT_EQ(l.client_send_high_water, 131072u);
    EXPECT_EQ(l.client_send_low_water, 4096u);
    EXPECT_EQ(l.upstream_send_high_water, 65536u);
    EXPECT_EQ(l.upstream_send_low_water, 0u);
    EXPECT_EQ(l.write_timeout, 45s);
}

TEST(config_loader, limits_defaults_are_on)
{
    const config c = expect_ok(minimal);
    const limits::options d{};
    const auto& l = c.limits;
    EXPECT_EQ(l.max_sessions, d.max_sessions);
    EXPECT_EQ(l.max_sessions_per_address, d.max_sessions_per_address);
    EXPECT_EQ(l.session_rate_per_address, d.session_rate_per_address);
    EXPECT_EQ(l.session_burst_per_address, d.session_burst_per_address);
    EXPECT_EQ(l.max_connections_per_address, d.max_connections_per_address);
    EXPECT_EQ(l.ipv6_prefix, 64u); // SEC-LIMIT-6
    EXPECT_EQ(l.ipv4_prefix, 32u);
    EXPECT_EQ(l.write_timeout, 30s);
    // Safe for a public deployment: every per-address limit is on.
    EXPECT_GT(l.max_sessions_per_address, 0u);
    EXPECT_GT(l.session_rate_per_address, 0.0);
    EXPECT_GT(l.max_connections_per_address, 0u);
}

// 0 switches a per-address limit off (behind a same-host reverse proxy); a rate may be an
// integer or a float.
TEST(config_loader, limits_zero_is_off_and_rate_accepts_integers)
{
    auto c = expect_ok(std::string(minimal) + R"([limits]
max_sessions_per_address = 0
session_rate_per_address = 0
session_burst_per_address = 0
max_connections_per_address = 0
max_connecting_per_domain = 0
breaker_failures = 0
)");
    EXPECT_EQ(c.limits.max_sessions_per_address, 0u);
    EXPECT_EQ(c.limits.session_rate_per_address, 0.0);
    EXPECT_EQ(c.limits.session_burst_per_address, 0u);
    EXPECT_EQ(c.limits.max_connections_per_address, 0u);
    EXPECT_EQ(c.limits.max_connecting_per_domain, 0u);
    EXPECT_EQ(c.limits.breaker_failures, 0u);
    c = expect_ok(std::string(minimal) + "[limits]\nsession_rate_per_address = 5\n");
    EXPECT_EQ(c.limits.session_rate_per_address, 5.0);
    // Edges of the ranges.
    c = expect_ok(std::string(minimal) + R"([limits]
ipv6_prefix = 1
ipv4_prefix = 1
breaker_open = "100ms"
breaker_open_max = "100ms"
client_send_high_water = 1024
client_send_low_water = 1023
write_timeout = "1s"
)");
    EXPECT_EQ(c.limits.ipv6_prefix, 1u);
    EXPECT_EQ(c.limits.ipv4_prefix, 1u);
    EXPECT_EQ(c.limits.breaker_open, 100ms);
    EXPECT_EQ(c.limits.breaker_open_max, 100ms);
    EXPECT_EQ(c.limits.client_send_low_water, 1023u);
    EXPECT_EQ(c.limits.write_timeout, 1s);
    c = expect_ok(std::string(minimal) + "[limits]\nipv6_prefix = 128\nipv4_prefix = 32\n");
    EXPECT_EQ(c.limits.ipv6_prefix, 128u);
    EXPECT_EQ(c.limits.ipv4_prefix, 32u);
}

INSTANTIATE_TEST_SUITE_P(
    config_limits, config_range,
    ::testing::Values(
        range_case{"[limits]\nmax_sessions = 0\n", "test.toml:2", "limits.max_sessions: must be between 1 and"},
        range_case{"[limits]\nmax_sessions_per_address = -1\n", "test.toml:2",
                   "limits.max_sessions_per_address: must be between 0 and"},
        range_case{"[limits]\nmax_connections_per_address = -3\n", "test.toml:2",
                   "limits.max_connections_per_address: must be between 0 and"},
        range_case{"[limits]\nsession_rate_per_address = -0.5\n", "test.toml:2",
                   "limits.session_rate_per_address: must be between 0 and 1000000 (got -0.5)"},
        range_case{"[limits]\nsession_rate_per_address = nan\n", "test.toml:2",
                   "limits.session_rate_per_address: must be between 0 and 1000000"},
        range_case{"[limits]\nsession_rate_per_address = inf\n", "test.toml:2",
                   "limits.session_rate_per_address: must be between 0 and 1000000 (got inf)"},
        range_case{"[limits]\nsession_rate_per_address = \"2/s\"\n", "test.toml:2",
                   "limits.session_rate_per_address: expected a number, got a string"},
        range_case{"[limits]\nsession_burst_per_address = -1\n", "test.toml:2",
                   "limits.session_burst_per_address: must be between 0 and"},
        // SEC-LIMIT-6: prefixes in range.
        range_case{"[limits]\nipv6_prefix = 0\n", "test.toml:2", "limits.ipv6_prefix: must be between 1 and 128 (got 0)"},
        range_case{"[limits]\nipv6_prefix = 129\n", "test.toml:2",
                   "limits.ipv6_prefix: must be between 1 and 128 (got 129)"},
        range_case{"[limits]\nipv6_prefix = 64.0\n", "test.toml:2", "limits.ipv6_prefix: expected an integer, got a float"},
        range_case{"[limits]\nipv4_prefix = 0\n", "test.toml:2", "limits.ipv4_prefix: must be between 1 and 32 (got 0)"},
        range_case{"[limits]\nipv4_prefix = 33\n", "test.toml:2", "limits.ipv4_prefix: must be between 1 and 32 (got 33)"},
        range_case{"[limits]\nmax_connecting_per_domain = -1\n", "test.toml:2",
                   "limits.max_connecting_per_domain: must be between 0 and"},
        range_case{"[limits]\nbreaker_failures = 1001\n", "test.toml:2",
                   "limits.breaker_failures: must be between 0 and 1000 (got 1001)"},
        range_case{"[limits]\nbreaker_open = \"50ms\"\n", "test.toml:2",
                   "limits.breaker_open: must be between 100ms and 1h (got 50ms)"},
        range_case{"[limits]\nbreaker_open = 2\n", "test.toml:2",
                   "limits.breaker_open: expected a duration string such as \"5s\""},
        range_case{"[limits]\nbreaker_open_max = \"2d\"\n", "test.toml:2",
                   "limits.breaker_open_max: must be between 100ms and 1d (got 2d)"},
        range_case{"[limits]\nclient_send_high_water = 1000\n", "test.toml:2",
                   "limits.client_send_high_water: must be between 1024 and 1073741824 (got 1000)"},
        range_case{"[limits]\nupstream_send_high_water = 1073741825\n", "test.toml:2",
                   "limits.upstream_send_high_water: must be between 1024 and 1073741824"},
        range_case{"[limits]\nupstream_send_low_water = -1\n", "test.toml:2",
                   "limits.upstream_send_low_water: must be between 0 and"},
        range_case{"[limits]\nwrite_timeout = \"0s\"\n", "test.toml:2",
                   "limits.write_timeout: must be between 1s and 1h (got 0s)"},
        range_case{"[limits]\nwrite_timeout = \"1500ms\"\n", "test.toml:2",
                   "limits.write_timeout: must be a whole number of seconds (got 1500ms)"},
        range_case{"[limits]\nmax_session = 10\n", "test.toml:2",
                   "limits.max_session: unknown key \"max_session\" in [limits] (did you mean \"max_sessions\"?)"},
        range_case{"limits = 3\n", "test.toml:1", "limits: expected a table ([limits]), got an integer"}));

TEST(config_loader, limits_cross_checks)
{
    // SEC-LIMIT-3: a rate without a bucket would refuse every session.
    expect_one_error(std::string(minimal) + "[limits]\nsession_rate_per_address = 1\nsession_burst_per_address = 0\n",
                     "test.toml:5",
                     "limits.session_burst_per_address: must be at least 1 when limits.session_rate_per_address is "
                     "above 0");
    const auto off = expect_ok(std::string(minimal) +
                               "[limits]\nsession_rate_per_address = 0\nsession_burst_per_address = 0\n");
    EXPECT_EQ(off.limits.session_burst_per_address, 0u);

    // Low water below high water, for both directions; blamed at low water when written.
    expect_one_error(std::string(minimal) + "[limits]\nclient_send_high_water = 4096\nclient_send_low_water = 4096\n",
                     "test.toml:5",
                     "limits.client_send_low_water: 4096 must be less than limits.client_send_high_water 4096");
    // Only high water written, below the default low water 65536: blamed there.
    expect_one_error(std::string(minimal) + "[limits]\nclient_send_high_water = 8192\n", "test.toml:4",
                     "limits.client_send_low_water: 65536 must be less than limits.client_send_high_water 8192");
    expect_one_error(std::string(minimal) + "[limits]\nupstream_send_low_water = 300000\n", "test.toml:4",
                     "limits.upstream_send_low_water: 300000 must be less than limits.upstream_send_high_water 262144");
    expect_one_error(std::string(minimal) + "[limits]\nupstream_send_high_water = 2048\n", "test.toml:4",
                     "limits.upstream_send_low_water: 65536 must be less than limits.upstream_send_high_water 2048");

    // The breaker's first open period is at most its cap.
    expect_one_error(std::string(minimal) + "[limits]\nbreaker_open = \"2m\"\nbreaker_open_max = \"1m\"\n",
                     "test.toml:4", "limits.breaker_open: 2m exceeds limits.breaker_open_max 1m");
    expect_one_error(std::string(minimal) + "[limits]\nbreaker_open_max = \"1s\"\n", "test.toml:4",
                     "limits.breaker_open: 2s exceeds limits.breaker_open_max 1s");
    const auto equal = expect_ok(std::string(minimal) + "[limits]\nbreaker_open = \"1m\"\nbreaker_open_max = \"1m\"\n");
    EXPECT_EQ(equal.limits.breaker_open, 60s);
}

// Several [limits] problems at once, each at its own line.
TEST(config_loader, limits_errors_are_all_collected)
{
    const auto errors = expect_errors(std::string(minimal) + R"([limits]
ipv4_prefix = 40
session_rate_per_address = 2
session_burst_per_address = 0
write_timeout = "0s"
)");
    ASSERT_EQ(errors.size(), 3u) << dump(errors);
    EXPECT_EQ(errors[0].where, "test.toml:4");
    EXPECT_NE(errors[0].message.find("limits.ipv4_prefix"), std::string::npos);
    EXPECT_EQ(errors[1].where, "test.toml:6");
    EXPECT_NE(errors[1].message.find("limits.session_burst_per_address: must be at least 1"), std::string::npos);
    EXPECT_EQ(errors[2].where, "test.toml:7");
    EXPECT_NE(errors[2].message.find("limits.write_timeout"), std::string::npos);
}

// ------------------------------------------------------------------------ websocket

// Every bound of [websocket] itself is accepted (the errors just past them are above).
TEST(config_loader, websocket_range_edges_are_accepted)
{
    auto c = expect_ok(std::string(minimal) + R"([websocket]
ping_interval = "1s"
idle_timeout = "2s"
open_timeout = "1s"
close_timeout = "1s"
max_message_bytes = 1024
)");
    EXPECT_EQ(c.websocket.ping_interval, 1s);
    EXPECT_EQ(c.websocket.idle_timeout, 2s);
    EXPECT_EQ(c.websocket.open_timeout, 1s);
    EXPECT_EQ(c.websocket.close_timeout, 1s);
    EXPECT_EQ(c.websocket.max_message_bytes, 1024u);
    c = expect_ok(std::string(minimal) + R"([websocket]
ping_interval = "1h"
idle_timeout = "1d"
open_timeout = "10m"
close_timeout = "2m"
max_message_bytes = 16777216
)");
    EXPECT_EQ(c.websocket.ping_interval, 3600s);
    EXPECT_EQ(c.websocket.idle_timeout, 86400s);
    EXPECT_EQ(c.websocket.open_timeout, 600s);
    EXPECT_EQ(c.websocket.close_timeout, 120s);
    EXPECT_EQ(c.websocket.max_message_bytes, 16u * 1024u * 1024u);
}

// WS-KA-2/3, WS-CLOSE-3: the client is declared gone only after a Ping had time to be answered.
TEST(config_loader, websocket_idle_timeout_must_exceed_ping_interval)
{
    expect_one_error(std::string(minimal) + "[websocket]\nping_interval = \"30s\"\nidle_timeout = \"30s\"\n",
                     "test.toml:5",
                     "websocket.idle_timeout: 30s must be greater than websocket.ping_interval 30s (a Ping needs "
                     "time to be answered)");
    // Only ping_interval written (above the default idle_timeout 75s): blamed there.
    expect_one_error(std::string(minimal) + "[websocket]\nping_interval = \"2m\"\n", "test.toml:4",
                     "websocket.idle_timeout: 75s must be greater than websocket.ping_interval 2m");
    // Only idle_timeout written (below the default ping_interval 25s).
    expect_one_error(std::string(minimal) + "[websocket]\nidle_timeout = \"20s\"\n", "test.toml:4",
                     "websocket.idle_timeout: 20s must be greater than websocket.ping_interval 25s");
    const auto c = expect_ok(std::string(minimal) + "[websocket]\nping_interval = \"30s\"\nidle_timeout = \"31s\"\n");
    EXPECT_EQ(c.websocket.idle_timeout, 31s);
}

// WS-SOU-1: ws:// and wss:// targets, with host names, IPv4 and IPv6 literals, ports, query.
TEST(config_loader, websocket_see_other_uri_forms)
{
    for (const std::string uri : {"ws://other.example/xmpp-websocket", "wss://other.example", "ws://10.0.0.7:5280/ws",
                                  "wss://[2001:db8::1]:5281/ws?node=2", "wss://[::1]/"}) {
        const auto c = expect_ok(std::string(minimal) + "[websocket]\nsee_other_uri = \"" + uri + "\"\n");
        EXPECT_EQ(c.websocket.see_other_uri, uri);
    }
    const auto c = expect_ok(std::string(minimal) + "[websocket]\nsee_other_uri = \"\"\n");
    EXPECT_EQ(c.websocket.see_other_uri, "");
}

// WS-SOU-2 (RFC 7395 §3.6.1): with a TLS listener the alternate must be wss://, reported at the
// see_other_uri line wherever the listener is written.
TEST(config_loader, websocket_see_other_uri_must_be_wss_with_a_tls_listener)
{
    const std::string tls_listener = "[[http.listen]]\nport = 5281\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";
    const std::string plain_listener = "[[http.listen]]\nport = 5280\n";
    const std::string ws_uri = "[websocket]\nsee_other_uri = \"ws://other.example/ws\"\n";

    // Second listener has TLS; [websocket] after it: line 10.
    expect_one_error(std::string(minimal) + plain_listener + tls_listener + ws_uri, "test.toml:10",
                     "websocket.see_other_uri: must be wss:// because http.listen[1] uses TLS (RFC 7395 §3.6.1: "
                     "never send a client to a weaker transport)");
    // [websocket] before the listener: still its own line.
    expect_one_error(std::string(minimal) + ws_uri + tls_listener, "test.toml:4",
                     "websocket.see_other_uri: must be wss:// because http.listen[0] uses TLS");

    // wss:// or empty with TLS, ws:// without TLS: fine.
    auto c = expect_ok(std::string(minimal) + tls_listener + "[websocket]\nsee_other_uri = \"wss://o.example/ws\"\n");
    EXPECT_EQ(c.websocket.see_other_uri, "wss://o.example/ws");
    c = expect_ok(std::string(minimal) + tls_listener + "[websocket]\nsee_other_uri = \"\"\n");
    EXPECT_EQ(c.websocket.see_other_uri, "");
    c = expect_ok(std::string(minimal) + plain_listener + ws_uri);
    EXPECT_EQ(c.websocket.see_other_uri, "ws://other.example/ws");
}

// ------------------------------------------------------------------------ all errors at once

TEST(config_loader, every_error_is_collected_in_line_order)
{
    const std::string text = R"([upstream]
allow_any_domain = "yes"
[bosh]
max_hold = 99
unknown = 1
[server]
log_level = "loud"
threads = 2
)";
    const auto errors = expect_errors(text);
    ASSERT_EQ(errors.size(), 5u) << dump(errors);
    EXPECT_EQ(errors[0].where, "test.toml:2"); // wrong type
    EXPECT_NE(errors[0].message.find("upstream.allow_any_domain: expected a boolean"), std::string::npos);
    EXPECT_EQ(errors[1].where, "test.toml:2"); // consequently no domain at all
    EXPECT_NE(errors[1].message.find("no [[upstream.domain]]"), std::string::npos);
    EXPECT_EQ(errors[2].where, "test.toml:4");
    EXPECT_NE(errors[2].message.find("bosh.max_hold"), std::string::npos);
    EXPECT_EQ(errors[3].where, "test.toml:5");
    EXPECT_NE(errors[3].message.find("unknown key \"unknown\""), std::string::npos);
    EXPECT_EQ(errors[4].where, "test.toml:7");
    EXPECT_NE(errors[4].message.find("server.log_level"), std::string::npos);
}

// ------------------------------------------------------------------------ paths

TEST(config_loader, relative_paths_resolve_against_the_config_folder)
{
    const std::string text = R"([upstream]
ca_file = "./ca.pem"
[[upstream.domain]]
name = "example.com"
ca_file = "certs/example.pem"
[http]
static_dir = "www"
[[http.listen]]
tls_cert = "../tls/cert.pem"
tls_key = "/abs/key.pem"
)";
    const auto c = expect_ok(text, "/etc/boshgate/boshgate.toml");
    EXPECT_EQ(c.http.static_dir, "/etc/boshgate/www");
    EXPECT_EQ(c.http.listen.at(0).tls_cert_file, "/etc/tls/cert.pem");
    EXPECT_EQ(c.http.listen.at(0).tls_key_file, "/abs/key.pem");
    EXPECT_EQ(c.upstream.ca_file, "/etc/boshgate/ca.pem");
    EXPECT_EQ(c.upstream.domains.at(0).ca_file, "/etc/boshgate/certs/example.pem");
}

TEST(config_loader, empty_static_dir_means_off)
{
    const auto c = expect_ok(std::string(minimal) + "[http]\nstatic_dir = \"\"\n", "/etc/boshgate/b.toml");
    EXPECT_EQ(c.http.static_dir, "");
}

/// A private scratch folder under the system temp dir, removed at the end of the test.
class scratch_dir {
public:
    scratch_dir()
    {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() / ("boshgate-config-test-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~scratch_dir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    void write(const std::string& name, const std::string& text) const
    {
        std::ofstream(path_ / name) << text;
    }

private:
    std::filesystem::path path_;
};

TEST(config_loader, file_checks_report_missing_files_at_their_lines)
{
    scratch_dir dir;
    dir.write("cert.pem", "x");
    std::filesystem::create_directories(dir.path() / "www");
    const std::string text = R"([http]
static_dir = "missing-www"
[[http.listen]]
tls_cert = "cert.pem"
tls_key = "key.pem"
[[upstream.domain]]
name = "a.example"
ca_file = "www"
)";
    const std::string name = (dir.path() / "boshgate.toml").string();
    auto r = load_string(text, name, load_options{.check_files = true});
    ASSERT_TRUE(std::holds_alternative<std::vector<load_error>>(r));
    const auto& errors = std::get<std::vector<load_error>>(r);
    ASSERT_EQ(errors.size(), 3u) << dump(errors);
    EXPECT_EQ(errors[0].where, name + ":2");
    EXPECT_NE(errors[0].message.find("missing-www\" is not a directory"), std::string::npos) << dump(errors);
    EXPECT_EQ(errors[1].where, name + ":5");
    EXPECT_NE(errors[1].message.find("key.pem\" is not a readable file"), std::string::npos) << dump(errors);
    EXPECT_EQ(errors[2].where, name + ":8"); // a directory is not a CA file
    EXPECT_NE(errors[2].message.find("www\" is not a readable file"), std::string::npos) << dump(errors);

    // Fixed: all present.
    dir.write("key.pem", "y");
    dir.write("ca.pem", "z");
    std::filesystem::create_directories(dir.path() / "missing-www");
    std::string fixed = text;
    fixed.replace(fixed.find("ca_file = \"www\""), 15, "ca_file = \"ca.pem\"");
    auto ok = load_string(fixed, name, load_options{.check_files = true});
    ASSERT_TRUE(std::holds_alternative<config>(ok)) << dump(std::get<std::vector<load_error>>(ok));
    EXPECT_EQ(std::get<config>(ok).http.static_dir, (dir.path() / "missing-www").string());
}

TEST(config_loader, load_file_reports_missing_file_and_uses_its_name)
{
    auto r = load_file("/nonexistent/boshgate.toml");
    ASSERT_TRUE(std::holds_alternative<std::vector<load_error>>(r));
    const auto& errors = std::get<std::vector<load_error>>(r);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].where, "/nonexistent/boshgate.toml");
    EXPECT_EQ(errors[0].message, "configuration file not found");

    scratch_dir dir;
    dir.write("b.toml", "[[upstream.domain]]\nname = \"a.example\"\n[bosh]\nmax_hold = 0\n");
    const auto path = (dir.path() / "b.toml").string();
    auto bad = load_file(path);
    ASSERT_TRUE(std::holds_alternative<std::vector<load_error>>(bad));
    ASSERT_EQ(std::get<std::vector<load_error>>(bad).size(), 1u);
    EXPECT_EQ(std::get<std::vector<load_error>>(bad)[0].where, path + ":4");

    dir.write("g.toml", "[[upstream.domain]]\nname = \"a.example\"\n[http]\nstatic_dir = \".\"\n");
    auto good = load_file((dir.path() / "g.toml").string());
    ASSERT_TRUE(std::holds_alternative<config>(good));
    EXPECT_EQ(std::get<config>(good).http.static_dir, (dir.path() / "").string());
}

} // namespace
} // namespace boshgate::config
