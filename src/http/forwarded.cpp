// Client address behind trusted proxies (see forwarded.hpp).
#include "boshgate/http/forwarded.hpp"

#include "boshgate/core/text.hpp"

namespace boshgate::http {

namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

/// Splits `s` at `sep` outside double quotes.
std::vector<std::string_view> split_unquoted(std::string_view s, char sep)
{
    std::vector<std::string_view> out;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') {
            quoted = !quoted;
        } else if (s[i] == '\\' && quoted) {
            ++i;
        } else if (s[i] == sep && !quoted) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    out.push_back(s.substr(start));
    return out;
}

std::optional<ip::address> make(std::string_view text)
{
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(text), ec);
    if (ec) {
        return std::nullopt;
    }
    return a;
}

} // namespace

std::optional<trusted_networks> trusted_networks::parse(const std::vector<std::string>& cidrs, std::string& error)
{
    trusted_networks t;
    for (const auto& c : cidrs) {
        const auto slash = c.find('/');
        const auto addr = make(std::string_view(c).substr(0, slash));
        bool ok = addr.has_value();
        unsigned prefix = 0;
        if (ok && slash != std::string::npos) {
            const auto digits = std::string_view(c).substr(slash + 1);
            ok = !digits.empty() && digits.size() <= 3 &&
                 digits.find_first_not_of("0123456789") == std::string_view::npos;
            prefix = ok ? static_cast<unsigned>(std::stoul(std::string(digits))) : 0;
        } else if (ok) {
            prefix = addr->is_v4() ? 32 : 128;
        }
        if (ok && addr->is_v4() && prefix <= 32) {
            t.v4_.push_back(ip::network_v4(addr->to_v4(), static_cast<unsigned short>(prefix)).canonical());
        } else if (ok && addr->is_v6() && prefix <= 128) {
            t.v6_.push_back(ip::network_v6(addr->to_v6(), static_cast<unsigned short>(prefix)).canonical());
        } else {
            error = "\"" + c + "\" is not an address or network such as \"10.0.0.0/8\" or \"2001:db8::/32\"";
            return std::nullopt;
        }
    }
    return t;
}

bool trusted_networks::contains(const ip::address& a) const
{
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return contains(ip::make_address_v4(ip::v4_mapped, a.to_v6()));
    }
    if (a.is_v4()) {
        const ip::network_v4 host(a.to_v4(), 32);
        for (const auto& n : v4_) {
            if (host == n || host.is_subnet_of(n)) {
                return true;
            }
        }
        return false;
    }
    const ip::network_v6 host(a.to_v6(), 128);
    for (const auto& n : v6_) {
        if (host == n || host.is_subnet_of(n)) {
            return true;
        }
    }
    return false;
}

std::optional<ip::address> parse_forwarded_node(std::string_view s)
{
    s = trim(s);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
        s = s.substr(1, s.size() - 2);
    }
    if (s.starts_with('[')) {
        const auto close = s.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        const auto rest = s.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || rest.size() == 1)) {
            return std::nullopt;
        }
        auto a = make(s.substr(1, close - 1));
        return a && a->is_v6() ? a : std::nullopt;
    }
    if (s.find(':') != s.rfind(':')) {
        return make(s); // bare IPv6 (X-Forwarded-For writes it so)
    }
    auto a = make(s.substr(0, s.find(':')));
    return a && a->is_v4() ? a : std::nullopt;
}

ip::address forwarded_client(const ip::address& peer, std::optional<std::string_view> forwarded,
                             std::optional<std::string_view> x_forwarded_for, const trusted_networks& trusted)
{
    if (!trusted.contains(peer) || (!forwarded && !x_forwarded_for)) {
        return peer;
    }
    std::vector<std::string_view> hops;
    if (forwarded) {
        for (const auto element : split_unquoted(*forwarded, ',')) {
            std::string_view node = "unknown"; // an element without for= hides its hop
            for (const auto pair : split_unquoted(element, ';')) {
                const auto p = trim(pair);
                if (p.size() > 4 && core::ascii_iequals(p.substr(0, 4), "for=")) {
                    node = p.substr(4);
                }
            }
            hops.push_back(node);
        }
    } else {
        hops = split_unquoted(*x_forwarded_for, ',');
    }
    ip::address client = peer;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        const auto a = parse_forwarded_node(*it);
        if (!a) {
            return client;
        }
        client = *a;
        if (!trusted.contains(client)) {
            return client;
        }
    }
    return client;
}

} // namespace boshgate::http
