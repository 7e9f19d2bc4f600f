// fakexmpp: a fast, minimal XMPP c2s server for the benchmark (bench/README.md, "Both
// cores" and "Capacity"). Not a product component and not a test double for correctness:
// it exists so that the gateway, not the XMPP server, is the slowest part of a run.
//
// What it does (plaintext TCP only, meant for loopback and boshgate's tls = "off"):
//  - stream header -> features: SASL PLAIN before authentication, resource binding after;
//  - <auth mechanism='PLAIN'> -> <success/> for any password (the user is the authcid),
//    then the stream restarts;
//  - <iq type='set'><bind><resource>R</resource></bind></iq> -> the full JID user@domain/R
//    (a resource already bound is replaced, like a server's conflict policy "kick old");
//  - other <iq type='get|set'> -> an empty result; <presence/> is ignored;
//  - <message to='full JID'> -> re-serialized with from = the sender's full JID and
//    delivered to that session (its id, type and <body/> kept); a bare JID picks any bound
//    resource of that user; an unknown recipient is dropped (counted);
//  - </stream:stream> -> </stream:stream> and close.
// XML is read with expat (a SAX parser per connection; the stream restart resets it).
// Concurrency: one io_context run by --threads threads, a strand per connection, and a
// routing table under a shared_mutex; delivery posts to the recipient's strand.
//
// Usage: fakexmpp [--port P] [--address A] [--threads T] [--domain D]
// Prints "fakexmpp listening on A:P" once bound. SIGINT/SIGTERM stop it and print counters.
#include <expat.h>
#include <openssl/evp.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr const char* ns_streams = "http://etherx.jabber.org/streams";
constexpr const char* ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr const char* ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr char ns_sep = '\x01'; // expat's namespace/local separator

struct counters {
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::uint64_t> logins{0};
    std::atomic<std::uint64_t> routed{0};
    std::atomic<std::uint64_t> dropped{0};
};
counters stats;

/// Escapes text for character data or an attribute value in single quotes.
void append_escaped(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
}

/// "ns\x01local" -> {ns, local}; a name without namespace -> {"", name}.
std::pair<std::string_view, std::string_view> split_name(const char* name) {
    std::string_view n(name);
    auto p = n.find(ns_sep);
    if (p == std::string_view::npos) {
        return {{}, n};
    }
    return {n.substr(0, p), n.substr(p + 1)};
}

std::string_view attr(const char** atts, std::string_view name) {
    for (int i = 0; atts[i] != nullptr; i += 2) {
        if (name == atts[i]) {
            return atts[i + 1];
        }
    }
    return {};
}

class session;

/// Bound full JIDs -> sessions, shared by all threads.
class router {
public:
    void bind(const std::string& jid, const std::shared_ptr<session>& s) {
        std::unique_lock lock(mu_);
        full_[jid] = s;
    }
    void unbind(const std::string& jid, const session* s) {
        std::unique_lock lock(mu_);
        auto it = full_.find(jid);
        if (it != full_.end()) {
            auto cur = it->second.lock();
            if (!cur || cur.get() == s) {
                full_.erase(it);
            }
        }
    }
    std::shared_ptr<session> find(std::string_view to) {
        std::shared_lock lock(mu_);
        auto it = full_.find(std::string(to));
        if (it != full_.end()) {
            return it->second.lock();
        }
        if (to.find('/') == std::string_view::npos) {
            // Bare JID: any resource of it.
            std::string prefix = std::string(to) + "/";
            for (auto& [jid, w] : full_) {
                if (jid.compare(0, prefix.size(), prefix) == 0) {
                    if (auto s = w.lock()) {
                        return s;
                    }
                }
            }
        }
        return nullptr;
    }

private:
    std::shared_mutex mu_;
    std::unordered_map<std::string, std::weak_ptr<session>> full_;
};

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket sock, router& r, const std::string& domain)
        : sock_(std::move(sock)), strand_(sock_.get_executor()), router_(r), domain_(domain) {
        new_parser();
    }
    ~session() {
        if (parser_ != nullptr) {
            XML_ParserFree(parser_);
        }
    }

    void start() {
        net::dispatch(strand_, [self = shared_from_this()] { self->read(); });
    }

    /// From any thread: queue bytes for this session's client.
    void deliver(std::string xml) {
        net::post(strand_, [self = shared_from_this(), x = std::move(xml)]() mutable {
            self->send(x);
        });
    }

private:
    void new_parser() {
        if (parser_ != nullptr) {
            XML_ParserFree(parser_);
        }
        parser_ = XML_ParserCreateNS(nullptr, ns_sep);
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, &session::on_start, &session::on_end);
        XML_SetCharacterDataHandler(parser_, &session::on_text);
        depth_ = 0;
    }

    void read() {
        sock_.async_read_some(net::buffer(rbuf_), net::bind_executor(strand_,
            [self = shared_from_this()](error_code ec, std::size_t n) {
                if (ec) {
                    self->shutdown();
                    return;
                }
                self->feed(n);
                if (!self->closed_) {
                    self->read();
                }
            }));
    }

    void feed(std::size_t n) {
        if (XML_Parse(parser_, rbuf_.data(), static_cast<int>(n), XML_FALSE) == XML_STATUS_ERROR) {
            send("<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                 "</stream:error></stream:stream>");
            closed_ = true;
            return;
        }
        if (restart_) {
            // The client waits for <success/> before restarting: nothing follows </auth>.
            restart_ = false;
            new_parser();
        }
    }

    static void on_start(void* ud, const char* name, const char** atts) {
        static_cast<session*>(ud)->start_element(name, atts);
    }
    static void on_end(void* ud, const char* name) {
        static_cast<session*>(ud)->end_element(name);
    }
    static void on_text(void* ud, const char* s, int len) {
        auto* self = static_cast<session*>(ud);
        if (self->capture_ != nullptr) {
            self->capture_->append(s, static_cast<std::size_t>(len));
        }
    }

    void start_element(const char* name, const char** atts) {
        auto [ns, local] = split_name(name);
        ++depth_;
        if (depth_ == 1) {
            if (ns == ns_streams && local == "stream") {
                open_stream();
            }
            return;
        }
        if (depth_ == 2) {
            st_ = {};
            st_.local = local;
            st_.ns = ns;
            st_.to = attr(atts, "to");
            st_.id = attr(atts, "id");
            st_.type = attr(atts, "type");
            if (ns == ns_sasl && local == "auth") {
                capture_ = &st_.text;
            }
            return;
        }
        if (depth_ == 3 && st_.local == "iq" && ns == ns_bind && local == "bind") {
            st_.bind = true;
        } else if (depth_ == 3 && st_.local == "message" && local == "body") {
            capture_ = &st_.text;
            st_.has_body = true;
        } else if (depth_ == 4 && st_.bind && local == "resource") {
            capture_ = &st_.text;
        }
    }

    void end_element(const char* /*name*/) {
        if (depth_ == 2) {
            capture_ = nullptr;
            stanza();
        } else if (depth_ == 1) {
            send("</stream:stream>");
            closed_ = true;
        } else {
            capture_ = nullptr;
        }
        --depth_;
    }

    void open_stream() {
        std::string out = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='";
        out += std::to_string(++stream_ids_) + "-" + std::to_string(stats.connections.load());
        out += "' from='";
        append_escaped(out, domain_);
        out += "'><stream:features>";
        if (user_.empty()) {
            out += "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                   "<mechanism>PLAIN</mechanism></mechanisms>";
        } else {
            out += "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>";
        }
        out += "</stream:features>";
        send(out);
    }

    void stanza() {
        if (st_.ns == ns_sasl && st_.local == "auth") {
            auth();
        } else if (st_.local == "iq") {
            iq();
        } else if (st_.local == "message") {
            message();
        }
    }

    void auth() {
        // SASL PLAIN (RFC 4616): authzid NUL authcid NUL password, base64.
        std::string b64;
        for (char c : st_.text) {
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                b64 += c;
            }
        }
        std::string raw(b64.size(), '\0');
        int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
        std::string user;
        if (n > 0) {
            raw.resize(static_cast<std::size_t>(n));
            auto a = raw.find('\0');
            auto b = a == std::string::npos ? std::string::npos : raw.find('\0', a + 1);
            if (b != std::string::npos) {
                user = raw.substr(a + 1, b - a - 1);
            }
        }
        if (user.empty()) {
            send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>");
            return;
        }
        user_ = user;
        send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        restart_ = true;
        ++stats.logins;
    }

    void iq() {
        if (st_.type != "get" && st_.type != "set") {
            return;
        }
        std::string out = "<iq type='result' id='";
        append_escaped(out, st_.id);
        out += "'";
        if (st_.bind && !user_.empty()) {
            std::string resource = st_.text.empty() ? "r" + std::to_string(stream_ids_) : st_.text;
            if (!jid_.empty()) {
                router_.unbind(jid_, this);
            }
            jid_ = user_ + "@" + domain_ + "/" + resource;
            router_.bind(jid_, shared_from_this());
            out += "><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>";
            append_escaped(out, jid_);
            out += "</jid></bind></iq>";
        } else {
            out += "/>";
        }
        send(out);
    }

    void message() {
        auto to = router_.find(st_.to);
        if (!to) {
            ++stats.dropped;
            return;
        }
        std::string out = "<message from='";
        append_escaped(out, jid_);
        out += "' to='";
        append_escaped(out, st_.to);
        out += "'";
        if (!st_.id.empty()) {
            out += " id='";
            append_escaped(out, st_.id);
            out += "'";
        }
        if (!st_.type.empty()) {
            out += " type='";
            append_escaped(out, st_.type);
            out += "'";
        }
        out += ">";
        if (st_.has_body) {
            out += "<body>";
            append_escaped(out, st_.text);
            out += "</body>";
        }
        out += "</message>";
        ++stats.routed;
        if (to.get() == this) {
            send(out);
        } else {
            to->deliver(std::move(out));
        }
    }

    /// On the strand: append to the output and start a write unless one is in progress.
    void send(std::string_view bytes) {
        if (sock_closed_) {
            return;
        }
        pending_.append(bytes);
        if (!writing_) {
            flush();
        }
    }

    void flush() {
        if (pending_.empty()) {
            if (closed_) {
                shutdown();
            }
            return;
        }
        writing_ = true;
        out_.swap(pending_);
        pending_.clear();
        net::async_write(sock_, net::buffer(out_), net::bind_executor(strand_,
            [self = shared_from_this()](error_code ec, std::size_t) {
                self->writing_ = false;
                self->out_.clear();
                if (ec) {
                    self->shutdown();
                    return;
                }
                self->flush();
            }));
    }

    void shutdown() {
        if (!jid_.empty()) {
            router_.unbind(jid_, this);
            jid_.clear();
        }
        if (!sock_closed_) {
            sock_closed_ = true;
            error_code ignored;
            sock_.shutdown(tcp::socket::shutdown_both, ignored);
            sock_.close(ignored);
        }
    }

    struct stanza_state {
        std::string local;
        std::string ns;
        std::string to, id, type, text;
        bool bind = false;
        bool has_body = false;
    };

    tcp::socket sock_;
    net::strand<tcp::socket::executor_type> strand_;
    router& router_;
    const std::string& domain_;
    XML_Parser parser_ = nullptr;
    int depth_ = 0;
    stanza_state st_;
    std::string* capture_ = nullptr;
    std::string user_;
    std::string jid_;
    std::uint64_t stream_ids_ = 0;
    bool restart_ = false;
    bool closed_ = false;
    bool sock_closed_ = false;
    bool writing_ = false;
    std::string pending_;
    std::string out_;
    std::array<char, 16384> rbuf_{};
};

void accept_loop(tcp::acceptor& acc, net::io_context& ioc, router& r, const std::string& domain) {
    acc.async_accept(net::make_strand(ioc), [&acc, &ioc, &r, &domain](error_code ec, tcp::socket s) {
        if (!ec) {
            ++stats.connections;
            error_code ignored;
            s.set_option(tcp::no_delay(true), ignored);
            std::make_shared<session>(std::move(s), r, domain)->start();
        } else if (ec == net::error::operation_aborted) {
            return;
        }
        accept_loop(acc, ioc, r, domain);
    });
}

} // namespace

int main(int argc, char** argv) {
    std::string address = "127.0.0.1";
    unsigned short port = 0;
    unsigned threads = 1;
    std::string domain = "bench.test";
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "fakexmpp: " << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--port") {
            port = static_cast<unsigned short>(std::stoul(value()));
        } else if (a == "--address") {
            address = value();
        } else if (a == "--threads") {
            threads = static_cast<unsigned>(std::max(1ul, std::stoul(value())));
        } else if (a == "--domain") {
            domain = value();
        } else {
            std::cerr << "usage: fakexmpp [--port P] [--address A] [--threads T] [--domain D]\n";
            return 2;
        }
    }
    net::io_context ioc(static_cast<int>(threads));
    router r;
    tcp::acceptor acc(ioc);
    tcp::endpoint ep(net::ip::make_address(address), port);
    acc.open(ep.protocol());
    acc.set_option(tcp::acceptor::reuse_address(true));
    acc.bind(ep);
    acc.listen(4096);
    std::cout << "fakexmpp listening on " << address << ":" << acc.local_endpoint().port()
              << std::endl;
    accept_loop(acc, ioc, r, domain);
    net::signal_set sigs(ioc, SIGINT, SIGTERM);
    sigs.async_wait([&](error_code, int) {
        error_code ignored;
        acc.close(ignored);
        ioc.stop();
    });
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
        pool.emplace_back([&ioc] { ioc.run(); });
    }
    ioc.run();
    for (auto& t : pool) {
        t.join();
    }
    std::cout << "fakexmpp: connections " << stats.connections << ", logins " << stats.logins
              << ", messages routed " << stats.routed << ", dropped " << stats.dropped
              << std::endl;
    return 0;
}
