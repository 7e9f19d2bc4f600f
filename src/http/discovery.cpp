// XEP-0156 host-meta documents (see discovery.hpp).
#include "boshgate/http/discovery.hpp"

#include "boshgate/core/host.hpp"
#include "boshgate/core/text.hpp"
#include "boshgate/http/options.hpp"
#include "boshgate/xml/tree.hpp"

#include <algorithm>

namespace boshgate::http {

namespace {

/// ":port" with 1..5 digits and a value of at most 65535, or nothing at all.
bool valid_port_suffix(std::string_view rest)
{
    if (rest.empty()) {
        return true;
    }
    const auto digits = rest.substr(1);
    if (rest.front() != ':' || digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
    }
    unsigned long v = 0;
    for (const char c : digits) {
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    return v <= 65535;
}

} // namespace

bool valid_host_header(std::string_view host)
{
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        return close != std::string_view::npos && core::is_ipv6_literal(host.substr(1, close - 1)) &&
               valid_port_suffix(host.substr(close + 1));
    }
    const auto colon = host.find(':');
    const auto name = host.substr(0, colon);
    const auto rest = colon == std::string_view::npos ? std::string_view{} : host.substr(colon);
    return !name.empty() && (core::is_host_name(name) || core::is_ip_literal(name)) && valid_port_suffix(rest);
}

discovery_answer answer_host_meta(const options& opt, const discovery_request& req)
{
    using kind = discovery_answer::kind;
    discovery_answer a;
    const auto pick = [&](const std::string& configured, std::string_view scheme,
                          const std::string& path) -> std::optional<std::string> {
        if (!configured.empty()) {
            return configured;
        }
        if (!req.tls) {
            return std::nullopt;
        }
        if (!req.host || !valid_host_header(*req.host)) {
            a.what = kind::bad_host;
            return std::nullopt;
        }
        return std::string(scheme) + "://" + std::string(*req.host) + path;
    };
    a.links.bosh = pick(opt.public_bosh_url, "https", opt.bosh_path);
    if (req.websocket_enabled) {
        a.links.websocket = pick(opt.public_websocket_url, "wss", opt.websocket_path);
    }
    if (a.what != kind::bad_host) {
        a.what = a.links.bosh || a.links.websocket ? kind::document : kind::not_served;
    }
    return a;
}

std::string host_meta_xrd(const discovery_links& links)
{
    std::string x = "<?xml version='1.0' encoding='utf-8'?>\n"
                    "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n";
    const auto link = [&](std::string_view rel, const std::optional<std::string>& href) {
        if (href) {
            x += "  <Link rel='";
            x += rel;
            x += "' href='";
            x += xml::escape_attr(*href);
            x += "'/>\n";
        }
    };
    link(rel_xbosh, links.bosh);
    link(rel_websocket, links.websocket);
    x += "</XRD>\n";
    return x;
}

std::string host_meta_jrd(const discovery_links& links)
{
    std::string j = "{\"links\":[";
    bool first = true;
    const auto link = [&](std::string_view rel, const std::optional<std::string>& href) {
        if (href) {
            j += first ? "" : ",";
            j += "{\"rel\":" + core::json_quote(rel) + ",\"href\":" + core::json_quote(*href) + "}";
            first = false;
        }
    };
    link(rel_xbosh, links.bosh);
    link(rel_websocket, links.websocket);
    j += "]}\n";
    return j;
}

} // namespace boshgate::http
