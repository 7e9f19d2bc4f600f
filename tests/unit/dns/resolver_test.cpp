// dns::resolver against a tiny scripted UDP DNS server on 127.0.0.1:0, in the same io_context.
// The only real waits are the two timeout cases (300 ms each).
#include "boshgate/dns/resolver.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace net = boost::asio;
using boost::system::error_code;
using boshgate::dns::resolver;
using boshgate::dns::resolver_options;
using boshgate::dns::selection;
using net::ip::udp;

constexpr std::uint16_t type_a = 1;
constexpr std::uint16_t type_aaaa = 28;
constexpr std::uint16_t type_srv = 33;
constexpr std::uint8_t rcode_servfail = 2;
constexpr std::uint8_t rcode_nxdomain = 3;

/// What the fake server does for one (name, type).
struct answer {
    enum class kind { records, nxdomain, servfail, silent } what = kind::records;
    std::vector<std::vector<std::uint8_t>> rdata; ///< empty with kind::records = NODATA
};

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_name(std::vector<std::uint8_t>& out, const std::string& name) {
    std::size_t start = 0;
    while (start < name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string::npos) {
            dot = name.size();
        }
        out.push_back(static_cast<std::uint8_t>(dot - start));
        out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
                   name.begin() + static_cast<std::ptrdiff_t>(dot));
        start = dot + 1;
    }
    out.push_back(0); // root; "." and "" both encode as just this byte
}

std::vector<std::uint8_t> srv_rdata(std::uint16_t prio, std::uint16_t weight, std::uint16_t port,
                                    const std::string& target) {
    std::vector<std::uint8_t> r;
    put16(r, prio);
    put16(r, weight);
    put16(r, port);
    put_name(r, target == "." ? "" : target);
    return r;
}

std::vector<std::uint8_t> a_rdata(const std::string& ip) {
    const auto b = net::ip::make_address_v4(ip).to_bytes();
    return {b.begin(), b.end()};
}

std::vector<std::uint8_t> aaaa_rdata(const std::string& ip) {
    const auto b = net::ip::make_address_v6(ip).to_bytes();
    return {b.begin(), b.end()};
}

/// Hand-written responder: parses the question, answers from a table, NXDOMAIN otherwise.
/// Runs on the test's io_context; counts the questions it saw.
class fake_dns_server {
public:
    explicit fake_dns_server(net::io_context& ioc)
        : socket_(ioc, udp::endpoint(net::ip::make_address_v4("127.0.0.1"), 0)) {
        receive();
    }

    std::string address() const {
        return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port());
    }

    void set(const std::string& name, std::uint16_t type, answer a) {
        table_[{name, type}] = std::move(a);
    }

    int queries_for(const std::string& name) const {
        const auto it = seen_.find(name);
        return it == seen_.end() ? 0 : it->second;
    }
    int total_queries() const { return total_; }

private:
    void receive() {
        socket_.async_receive_from(net::buffer(buf_), peer_, [this](error_code ec, std::size_t n) {
            if (ec) {
                return;
            }
            respond(n);
            receive();
        });
    }

    void respond(std::size_t n) {
        if (n < 12) {
            return;
        }
        // Question: labels from offset 12, then qtype, qclass.
        std::size_t pos = 12;
        std::string name;
        while (pos < n && buf_[pos] != 0) {
            const std::size_t len = buf_[pos];
            if (!name.empty()) {
                name += '.';
            }
            for (std::size_t i = 1; i <= len && pos + i < n; ++i) {
                name += static_cast<char>(std::tolower(buf_[pos + i]));
            }
            pos += len + 1;
        }
        const std::size_t question_end = pos + 1 + 4;
        if (question_end > n) {
            return;
        }
        const auto qtype = static_cast<std::uint16_t>((buf_[pos + 1] << 8) | buf_[pos + 2]);
        ++seen_[name];
        ++total_;

        answer a;
        a.what = answer::kind::nxdomain;
        if (const auto it = table_.find({name, qtype}); it != table_.end()) {
            a = it->second;
        } else if (known_name(name)) {
            a = answer{}; // NODATA: the name exists, not this type
        }
        if (a.what == answer::kind::silent) {
            return;
        }
        std::vector<std::uint8_t> out;
        out.push_back(buf_[0]);
        out.push_back(buf_[1]);
        std::uint8_t rcode = 0;
        if (a.what == answer::kind::nxdomain) {
            rcode = rcode_nxdomain;
        } else if (a.what == answer::kind::servfail) {
            rcode = rcode_servfail;
        }
        out.push_back(static_cast<std::uint8_t>(0x80 | (buf_[2] & 0x01))); // QR, copy RD
        out.push_back(static_cast<std::uint8_t>(0x80 | rcode));            // RA, rcode
        put16(out, 1);
        put16(out,
              static_cast<std::uint16_t>(a.what == answer::kind::records ? a.rdata.size() : 0));
        put16(out, 0);
        put16(out, 0);
        out.insert(out.end(), buf_.begin() + 12,
                   buf_.begin() + static_cast<std::ptrdiff_t>(question_end));
        if (a.what == answer::kind::records) {
            for (const auto& rd : a.rdata) {
                put16(out, 0xC00C); // pointer to the question name
                put16(out, qtype);
                put16(out, 1); // IN
                put16(out, 0); // TTL 60
                put16(out, 60);
                put16(out, static_cast<std::uint16_t>(rd.size()));
                out.insert(out.end(), rd.begin(), rd.end());
            }
        }
        socket_.send_to(net::buffer(out), peer_);
    }

    bool known_name(const std::string& name) const {
        for (const auto& [key, a] : table_) {
            if (key.first == name) {
                return true;
            }
        }
        return false;
    }

    udp::socket socket_;
    udp::endpoint peer_;
    std::array<std::uint8_t, 1500> buf_{};
    std::map<std::pair<std::string, std::uint16_t>, answer> table_;
    std::map<std::string, int> seen_;
    int total_ = 0;
};

answer records(std::vector<std::vector<std::uint8_t>> rd) {
    answer a;
    a.rdata = std::move(rd);
    return a;
}
answer of(answer::kind k) {
    answer a;
    a.what = k;
    return a;
}

class resolver_test : public ::testing::Test {
protected:
    resolver_test() {
        using k = answer::kind;
        // example.test: xmpps prio 5, xmpp prio 10 and 20.
        dns_.set("_xmpps-client._tcp.example.test", type_srv,
                 records({srv_rdata(5, 0, 5223, "tls.example.test")}));
        dns_.set("_xmpp-client._tcp.example.test", type_srv,
                 records({srv_rdata(20, 0, 5222, "xmpp2.example.test"),
                          srv_rdata(10, 0, 5222, "xmpp1.example.test")}));
        // dot.test: '.' xmpp-client record (C2S-DNS-2), xmpps NXDOMAIN.
        dns_.set("_xmpp-client._tcp.dot.test", type_srv, records({srv_rdata(0, 0, 0, ".")}));
        // xdot.test: '.' xmpps record and NXDOMAIN xmpp-client (C2S-DNS-6).
        dns_.set("_xmpps-client._tcp.xdot.test", type_srv, records({srv_rdata(0, 0, 0, ".")}));
        // xdot2.test: '.' xmpps record and a real xmpp-client record (C2S-DNS-6).
        dns_.set("_xmpps-client._tcp.xdot2.test", type_srv, records({srv_rdata(0, 0, 0, ".")}));
        dns_.set("_xmpp-client._tcp.xdot2.test", type_srv,
                 records({srv_rdata(10, 0, 5222, "plain.xdot2.test")}));
        // nodata.test: both names exist without SRV data.
        dns_.set("_xmpps-client._tcp.nodata.test", type_a, records({a_rdata("192.0.2.99")}));
        dns_.set("_xmpp-client._tcp.nodata.test", type_a, records({a_rdata("192.0.2.99")}));
        // half.test: xmpps SERVFAIL, xmpp-client fine.
        dns_.set("_xmpps-client._tcp.half.test", type_srv, of(k::servfail));
        dns_.set("_xmpp-client._tcp.half.test", type_srv,
                 records({srv_rdata(10, 0, 5222, "xmpp.half.test")}));
        // broken.test: SERVFAIL everywhere.
        dns_.set("_xmpps-client._tcp.broken.test", type_srv, of(k::servfail));
        dns_.set("_xmpp-client._tcp.broken.test", type_srv, of(k::servfail));
        // silent.test: never answered.
        dns_.set("_xmpps-client._tcp.silent.test", type_srv, of(k::silent));
        dns_.set("_xmpp-client._tcp.silent.test", type_srv, of(k::silent));
        dns_.set("silent.example.test", type_a, of(k::silent));
        dns_.set("silent.example.test", type_aaaa, of(k::silent));
        // Hosts.
        dns_.set("xmpp1.example.test", type_a, records({a_rdata("192.0.2.10")}));
        dns_.set("xmpp1.example.test", type_aaaa, records({aaaa_rdata("2001:db8::10")}));
        dns_.set("v4only.example.test", type_a,
                 records({a_rdata("192.0.2.20"), a_rdata("192.0.2.21")}));
    }

    resolver_options opts(std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
        resolver_options o;
        o.server = dns_.address();
        o.timeout = timeout;
        return o;
    }

    /// Runs one awaitable to completion on the io_context (bounded, as a guard only).
    template <typename T>
    T run(net::awaitable<T> aw) {
        std::optional<T> out;
        std::exception_ptr failure;
        net::co_spawn(ioc_, std::move(aw), [&](std::exception_ptr e, T v) {
            failure = e;
            out.emplace(std::move(v));
            ioc_.stop();
        });
        ioc_.restart();
        ioc_.run_for(std::chrono::seconds(10));
        if (failure) {
            std::rethrow_exception(failure);
        }
        if (!out) {
            ADD_FAILURE() << "lookup did not complete";
            return T{};
        }
        return std::move(*out);
    }

    /// Runs the io_context until the fake server saw `n` questions in total (bounded).
    void run_until_queries(int n) {
        ioc_.restart();
        for (int i = 0; i < 10000 && dns_.total_queries() < n; ++i) {
            ioc_.run_one_for(std::chrono::milliseconds(100));
        }
        ASSERT_GE(dns_.total_queries(), n);
    }

    net::io_context ioc_;
    fake_dns_server dns_{ioc_};
};

std::vector<std::string> hosts(const selection& s) {
    std::vector<std::string> out;
    for (const auto& c : s.candidates) {
        out.push_back(c.host + ":" + std::to_string(c.port) + (c.direct_tls ? "/tls" : ""));
    }
    return out;
}

TEST_F(resolver_test, srv_records_of_both_kinds_are_merged) {
    // C2S-DNS-1, C2S-DNS-4, C2S-DNS-5
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("example.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_FALSE(res->no_service);
    EXPECT_EQ(hosts(*res),
              (std::vector<std::string>{"tls.example.test:5223/tls", "xmpp1.example.test:5222",
                                        "xmpp2.example.test:5222"}));
    // Both SRV names were asked, once each.
    EXPECT_EQ(dns_.queries_for("_xmpps-client._tcp.example.test"), 1);
    EXPECT_EQ(dns_.queries_for("_xmpp-client._tcp.example.test"), 1);
}

TEST_F(resolver_test, nxdomain_means_no_records_and_falls_back_to_domain) {
    // C2S-DNS-3
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("nx.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_FALSE(res->no_service);
    EXPECT_EQ(hosts(*res), (std::vector<std::string>{"nx.test:5222"}));
}

TEST_F(resolver_test, nodata_means_no_records_and_falls_back_to_domain) {
    // C2S-DNS-3
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("nodata.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(hosts(*res), (std::vector<std::string>{"nodata.test:5222"}));
}

TEST_F(resolver_test, dot_xmpp_client_record_is_no_service) {
    // C2S-DNS-2
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("dot.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_TRUE(res->no_service);
    EXPECT_TRUE(res->candidates.empty());
}

TEST_F(resolver_test, dot_xmpps_record_without_xmpp_records_is_no_service) {
    // C2S-DNS-6
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("xdot.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_TRUE(res->no_service);
    EXPECT_TRUE(res->candidates.empty());
}

TEST_F(resolver_test, dot_xmpps_record_keeps_xmpp_client_records) {
    // C2S-DNS-6
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("xdot2.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_FALSE(res->no_service);
    EXPECT_EQ(hosts(*res), (std::vector<std::string>{"plain.xdot2.test:5222"}));
}

TEST_F(resolver_test, xmpps_failure_only_drops_direct_tls) {
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("half.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(hosts(*res), (std::vector<std::string>{"xmpp.half.test:5222"}));
}

TEST_F(resolver_test, servfail_is_an_error_not_a_fallback) {
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_srv("broken.test"));
    ASSERT_TRUE(res.has_error());
    EXPECT_EQ(res.error(), boost::system::errc::make_error_code(boost::system::errc::io_error));
}

TEST_F(resolver_test, unanswered_srv_lookup_times_out) {
    resolver r(ioc_.get_executor(), opts(std::chrono::milliseconds(300)));
    const auto res = run(r.resolve_srv("silent.test"));
    ASSERT_TRUE(res.has_error());
    EXPECT_EQ(res.error(), net::error::timed_out);
}

TEST_F(resolver_test, host_lookup_returns_ipv6_first) {
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_host("xmpp1.example.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    ASSERT_EQ(res->size(), 2u);
    EXPECT_EQ((*res)[0], net::ip::make_address("2001:db8::10"));
    EXPECT_EQ((*res)[1], net::ip::make_address("192.0.2.10"));
}

TEST_F(resolver_test, host_lookup_with_ipv4_only) {
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_host("v4only.example.test"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(*res, (std::vector<net::ip::address>{net::ip::make_address("192.0.2.20"),
                                                   net::ip::make_address("192.0.2.21")}));
}

TEST_F(resolver_test, unknown_host_is_host_not_found) {
    resolver r(ioc_.get_executor(), opts());
    const auto res = run(r.resolve_host("nohost.example.test"));
    ASSERT_TRUE(res.has_error());
    EXPECT_EQ(res.error(), net::error::host_not_found);
}

TEST_F(resolver_test, unanswered_host_lookup_times_out) {
    resolver r(ioc_.get_executor(), opts(std::chrono::milliseconds(300)));
    const auto res = run(r.resolve_host("silent.example.test"));
    ASSERT_TRUE(res.has_error());
    EXPECT_EQ(res.error(), net::error::timed_out);
}

TEST_F(resolver_test, literal_addresses_need_no_query) {
    resolver r(ioc_.get_executor(), opts());
    const auto v4 = run(r.resolve_host("192.0.2.7"));
    ASSERT_TRUE(v4.has_value());
    EXPECT_EQ(*v4, (std::vector<net::ip::address>{net::ip::make_address("192.0.2.7")}));
    const auto v6 = run(r.resolve_host("[2001:db8::7]"));
    ASSERT_TRUE(v6.has_value());
    EXPECT_EQ(*v6, (std::vector<net::ip::address>{net::ip::make_address("2001:db8::7")}));
    EXPECT_EQ(dns_.total_queries(), 0);
}

TEST_F(resolver_test, sequential_lookups_reuse_the_channel) {
    resolver r(ioc_.get_executor(), opts());
    for (int i = 0; i < 3; ++i) {
        const auto res = run(r.resolve_srv("example.test"));
        ASSERT_TRUE(res.has_value()) << res.error().message();
        EXPECT_EQ(res->candidates.size(), 3u);
    }
    EXPECT_EQ(dns_.queries_for("_xmpp-client._tcp.example.test"), 3);
}

TEST_F(resolver_test, two_resolvers_work_concurrently) {
    resolver a(ioc_.get_executor(), opts());
    resolver b(ioc_.get_executor(), opts());
    std::optional<boost::system::result<selection>> ra;
    std::optional<boost::system::result<std::vector<net::ip::address>>> rb;
    int done = 0;
    net::co_spawn(ioc_, a.resolve_srv("example.test"), [&](std::exception_ptr, auto v) {
        ra.emplace(std::move(v));
        if (++done == 2) {
            ioc_.stop();
        }
    });
    net::co_spawn(ioc_, b.resolve_host("xmpp1.example.test"), [&](std::exception_ptr, auto v) {
        rb.emplace(std::move(v));
        if (++done == 2) {
            ioc_.stop();
        }
    });
    ioc_.run_for(std::chrono::seconds(10));
    ASSERT_TRUE(ra && ra->has_value());
    ASSERT_TRUE(rb && rb->has_value());
    EXPECT_EQ((*ra)->candidates.size(), 3u);
    EXPECT_EQ((*rb)->size(), 2u);
}

TEST_F(resolver_test, resolvers_on_separate_strands_run_in_parallel_threads) {
    // One resolver per upstream stream, each on its own strand, io_context on two threads.
    constexpr int n = 8;
    std::vector<std::unique_ptr<resolver>> resolvers;
    std::array<std::optional<boost::system::result<selection>>, n> results;
    std::atomic<int> done{0};
    for (int i = 0; i < n; ++i) {
        auto strand = net::make_strand(ioc_);
        resolvers.push_back(std::make_unique<resolver>(strand, opts()));
        net::co_spawn(strand, resolvers.back()->resolve_srv("example.test"),
                      [&, i](std::exception_ptr, auto v) {
                          results[static_cast<std::size_t>(i)].emplace(std::move(v));
                          if (++done == n) {
                              ioc_.stop();
                          }
                      });
    }
    std::thread other([this] { ioc_.run_for(std::chrono::seconds(10)); });
    ioc_.run_for(std::chrono::seconds(10));
    other.join();
    ASSERT_EQ(done.load(), n);
    for (const auto& r : results) {
        ASSERT_TRUE(r && r->has_value());
        EXPECT_EQ((*r)->candidates.size(), 3u);
    }
    EXPECT_EQ(dns_.queries_for("_xmpp-client._tcp.example.test"), n);
    resolvers.clear(); // no thread runs the io_context any more
}

TEST_F(resolver_test, cancellation_completes_with_operation_aborted) {
    resolver r(ioc_.get_executor(), opts(std::chrono::seconds(30)));
    net::cancellation_signal cancel;
    std::optional<boost::system::result<selection>> res;
    net::co_spawn(ioc_, r.resolve_srv("silent.test"),
                  net::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, auto v) {
                      EXPECT_FALSE(e);
                      res.emplace(std::move(v));
                  }));
    run_until_queries(2);
    ASSERT_FALSE(res);
    cancel.emit(net::cancellation_type::terminal);
    for (int i = 0; i < 100 && !res; ++i) {
        ioc_.run_one_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(res);
    ASSERT_TRUE(res->has_error());
    EXPECT_EQ(res->error(), net::error::operation_aborted);
    // The resolver still works afterwards.
    const auto again = run(r.resolve_srv("example.test"));
    EXPECT_TRUE(again.has_value());
}

TEST_F(resolver_test, destroying_the_resolver_aborts_pending_lookups) {
    auto r = std::make_unique<resolver>(ioc_.get_executor(), opts(std::chrono::seconds(30)));
    std::optional<boost::system::result<selection>> srv;
    std::optional<boost::system::result<std::vector<net::ip::address>>> host;
    net::co_spawn(ioc_, r->resolve_srv("silent.test"),
                  [&](std::exception_ptr, auto v) { srv.emplace(std::move(v)); });
    net::co_spawn(ioc_, r->resolve_host("silent.example.test"),
                  [&](std::exception_ptr, auto v) { host.emplace(std::move(v)); });
    run_until_queries(3);
    r.reset(); // ares_destroy: callbacks with ARES_EDESTRUCTION while coroutines are suspended
    for (int i = 0; i < 100 && !(srv && host); ++i) {
        ioc_.run_one_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(srv && host);
    ASSERT_TRUE(srv->has_error());
    EXPECT_EQ(srv->error(), net::error::operation_aborted);
    ASSERT_TRUE(host->has_error());
    EXPECT_EQ(host->error(), net::error::operation_aborted);
}

TEST_F(resolver_test, invalid_server_option_fails_lookups) {
    resolver_options o;
    o.server = "not an address";
    resolver r(ioc_.get_executor(), o);
    const auto res = run(r.resolve_srv("example.test"));
    ASSERT_TRUE(res.has_error());
    EXPECT_EQ(res.error(),
              boost::system::errc::make_error_code(boost::system::errc::invalid_argument));
    EXPECT_EQ(dns_.total_queries(), 0);
}

} // namespace
