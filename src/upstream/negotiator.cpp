#include "boshgate/upstream/negotiator.hpp"

#include "boshgate/core/host.hpp"
#include "boshgate/xml/tree.hpp"

#include <algorithm>
#include <utility>
#include <variant>

namespace boshgate::upstream {

namespace {

constexpr std::string_view starttls_request = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

bool is(const xml::element& el, std::string_view ns, std::string_view local)
{
    return el.ns == ns && el.local == local;
}

bool is(const xml::tree& t, std::string_view ns, std::string_view local)
{
    return t.ns == ns && t.local == local;
}

std::string_view trim(std::string_view s)
{
    constexpr std::string_view ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) {
        return {};
    }
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

bool ends_with_plus(std::string_view mech)
{
    constexpr std::string_view suffix = "-PLUS";
    return mech.size() >= suffix.size() && mech.substr(mech.size() - suffix.size()) == suffix;
}

/// Stream error condition we send for a framer error (RFC 6120 §4.9.3).
std::string_view condition_for(xml::errc e)
{
    switch (e) {
    case xml::errc::restricted_xml:
        return "restricted-xml"; // RFC 6120 §4.9.3.18, §11.1
    case xml::errc::too_deep:
    case xml::errc::element_too_large:
    case xml::errc::too_many_namespaces:
        return "policy-violation"; // RFC 6120 §4.9.3.14
    default:
        return "not-well-formed"; // RFC 6120 §4.9.3.13
    }
}

/// The defined condition of a <stream:error/> if it is one of RFC 6120 §4.9.3's names
/// (returned as our own constant, never the peer's bytes), else "unknown condition".
std::string_view known_condition(const xml::element& error)
{
    static constexpr std::string_view conditions[] = {
        "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
        "host-unknown", "improper-addressing", "internal-server-error", "invalid-from",
        "invalid-namespace", "invalid-xml", "not-authorized", "not-well-formed",
        "policy-violation", "remote-connection-failed", "reset", "resource-constraint",
        "restricted-xml", "see-other-host", "system-shutdown", "undefined-condition",
        "unsupported-encoding", "unsupported-feature", "unsupported-stanza-type",
        "unsupported-version",
    };
    xml::tree t;
    if (!xml::parse_tree(error.xml, t)) {
        for (const auto& n : t.children) {
            const auto* c = std::get_if<xml::tree>(&n.value);
            if (c == nullptr || c->ns != ns_stream_errors) {
                continue;
            }
            for (std::string_view known : conditions) {
                if (c->local == known) {
                    return known;
                }
            }
        }
    }
    return "unknown condition";
}

std::string stream_error_xml(std::string_view condition)
{
    std::string out = "<stream:error><";
    out += condition;
    out += " xmlns='";
    out += ns_stream_errors;
    out += "'/></stream:error>";
    return out;
}

} // namespace

std::string negotiator::header() const
{
    std::string h = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='";
    h += ns_streams;
    h += "'";
    if (tls_ && params_.from) {
        h += " from='" + xml::escape_attr(*params_.from) + "'";
    }
    h += " to='" + xml::escape_attr(params_.to) + "' version='1.0' xml:lang='" +
         xml::escape_attr(params_.lang) + "'>";
    return h;
}

void negotiator::start(negotiator_params params)
{
    if (state_ != state::idle) {
        return;
    }
    params_ = std::move(params);
    tls_ = params_.direct_tls;
    // On a direct-TLS link the very first stream is the one the client sees.
    visible_ = tls_;
    state_ = state::await_header;
    write(header());
    flush_pending();
}

void negotiator::on_open(xml::root_open root)
{
    if (terminal() || state_ == state::closing) {
        return;
    }
    if (state_ != state::await_header) {
        fail(failure::protocol_error, "RFC 6120 §4.2: unexpected stream header");
        return;
    }
    if (root.ns != ns_streams || root.local != "stream") {
        write(stream_error_xml("invalid-namespace"));
        send_closing_tag();
        fail(failure::protocol_error,
             "RFC 6120 §4.8.1: server root is not <stream> in the streams namespace");
        return;
    }
    auto version = root.attr("version");
    if (!version || !version->starts_with("1.")) {
        write(stream_error_xml("unsupported-version"));
        send_closing_tag();
        fail(failure::protocol_error, "RFC 6120 §4.7.5: server stream version is not 1.x");
        return;
    }
    state_ = state::await_features;
    if (visible_ && params_.follow_redirect && !header_seen_) {
        held_header_ = std::make_unique<xml::root_open>(std::move(root)); // C2S-SOH-1: until the features come
    } else if (visible_) {
        header_seen_ = true;
        actions_.emplace_back(neg_action::deliver_header{std::move(root)});
    } else {
        // Pre-TLS header: never shown to the client (BOSH-RESP-16, WS-RST-2); kept in case
        // plaintext turns out to be allowed and this is the client's stream after all.
        held_header_ = std::make_unique<xml::root_open>(std::move(root));
    }
}

void negotiator::on_element(xml::element&& el)
{
    if (terminal()) {
        return;
    }
    if (is(el, ns_streams, "error")) {
        if (!tls_ && !params_.allow_plaintext && !params_.never_starttls) {
            // SEC-TLS-1: with TLS required, nothing from before the handshake reaches the
            // client: an on-path attacker could have written it (RFC 6120 §13.9.5, §5.3.1).
            // The stream is over all the same (a stream error is fatal, RFC 6120 §4.9.1.1);
            // the client sees a generic connection failure, the condition goes to the log.
            // The reason is built from our constants only: the WebSocket side shows it to
            // the client as the error text.
            std::string reason = "SEC-TLS-1: the server sent <stream:error/> (";
            reason += known_condition(el);
            reason += ") before TLS was established; not relayed (XEP-0124 §19.2)";
            send_closing_tag();
            fail(failure::connection_failed, std::move(reason));
            return;
        }
        if (auto target = redirect_target(el)) {
            // C2S-SOH-1: nothing of this stream reached the client; the server closes.
            state_ = state::closed;
            pending_.clear();
            actions_.emplace_back(std::move(*target));
            return;
        }
        // C2S-ERR-1: fatal; relay it whole, close our side, wait for the server's close.
        release_header();
        stream_error_seen_ = true;
        actions_.emplace_back(neg_action::deliver_stream_error{std::move(el.xml)});
        send_closing_tag();
        state_ = state::closing;
        pending_.clear();
        return;
    }
    switch (state_) {
    case state::await_features:
        if (!is(el, ns_streams, "features")) {
            write(stream_error_xml("invalid-xml"));
            send_closing_tag();
            fail(failure::protocol_error,
                 "RFC 6120 §4.3.2: expected <stream:features/> after the stream header");
            return;
        }
        handle_features(std::move(el));
        return;
    case state::await_proceed:
        if (is(el, ns_tls, "proceed")) {
            // Deferred restart (conventions rule 8): the framer stops after this element and
            // the adapter discards whatever plaintext followed <proceed/>.
            actions_.emplace_back(neg_action::reset_parser{});
            actions_.emplace_back(neg_action::start_tls{});
            state_ = state::tls_handshake;
            return;
        }
        if (is(el, ns_tls, "failure")) {
            fail(failure::connection_failed,
                 "C2S-TLS-5: server answered <starttls/> with <failure/> (RFC 6120 §5.4.2.2)");
            return;
        }
        write(stream_error_xml("invalid-xml"));
        send_closing_tag();
        fail(failure::protocol_error,
             "RFC 6120 §5.4.2: expected <proceed/> or <failure/> after <starttls/>");
        return;
    case state::open:
        if (is(el, ns_streams, "features")) {
            actions_.emplace_back(neg_action::deliver_element{filter_features(std::move(el))});
            return;
        }
        if (is(el, ns_sasl, "success")) {
            // XBOSH-11, C2S-RST-2: nothing but the client's restart may follow.
            sasl_restart_pending_ = true;
            authenticated_ = true;
        }
        if (el.local == "iq" && el.ns == ns_client && (!bound_ || !ping_id_.empty()) && watch_iq(el)) {
            return; // our ping's answer
        }
        if ((el.local == "enabled" || el.local == "resumed") && el.ns.starts_with(ns_sm_prefix)) {
            sm_enabled_ = true;
        }
        actions_.emplace_back(neg_action::deliver_element{std::move(el)});
        return;
    case state::tls_handshake: // bytes after <proceed/> are discarded by the adapter
    case state::closing:       // we are leaving; RFC 6120 §4.4 lets us ignore the rest
        return;
    default:
        fail(failure::protocol_error, "RFC 6120 §4.2: element before the stream header");
        return;
    }
}

void negotiator::handle_features(xml::element&& el)
{
    if (visible_) {
        // Direct TLS (C2S-TLS-3: a <starttls/> here is ignored and stripped), after STARTTLS,
        // after a client restart, or an allowed plaintext stream.
        release_header();
        state_ = state::open;
        actions_.emplace_back(neg_action::deliver_element{filter_features(std::move(el))});
        return;
    }
    xml::tree t;
    if (xml::parse_tree(el.xml, t)) {
        fail(failure::protocol_error, "RFC 6120 §4.3.2: unparseable <stream:features/>");
        return;
    }
    const xml::tree* offer = t.child(ns_tls, "starttls");
    if (offer != nullptr && params_.never_starttls) {
        // tls = "off": the operator's choice for a server on this host. Declining an offer
        // is allowed (RFC 6120 §5.3.1) unless the server made it mandatory.
        const bool only_feature = std::count_if(t.children.begin(), t.children.end(), [](const auto& n) {
                                      return std::holds_alternative<xml::tree>(n.value);
                                  }) == 1;
        if (offer->child(ns_tls, "required") != nullptr || only_feature) {
            send_closing_tag();
            fail(failure::connection_failed,
                 "C2S-TLS-5: the server requires STARTTLS (RFC 6120 §5.3.1) but tls = \"off\" "
                 "for this domain");
            return;
        }
        offer = nullptr;
    }
    if (offer != nullptr) {
        // C2S-TLS-5, C2S-TLS-6: exactly this, no whitespace before the <proceed/>.
        write(std::string(starttls_request));
        state_ = state::await_proceed;
        return;
    }
    if (!params_.allow_plaintext && !params_.never_starttls) {
        send_closing_tag();
        fail(failure::connection_failed,
             "C2S-TLS-7: server offers no STARTTLS and plaintext is not allowed for this "
             "domain (XEP-0124 §19.2)");
        return;
    }
    visible_ = true;
    state_ = state::open;
    release_header();
    actions_.emplace_back(neg_action::deliver_element{filter_features(std::move(el))});
    flush_pending();
}

void negotiator::on_close()
{
    if (terminal()) {
        return;
    }
    bool was_usable = state_ == state::open || state_ == state::closing || stream_error_seen_ ||
                      (visible_ && state_ != state::tls_handshake);
    send_closing_tag();
    pending_.clear();
    if (was_usable) {
        release_header();
    }
    if (!was_usable) {
        fail(failure::connection_failed,
             "server closed the stream during negotiation (RFC 6120 §4.4)");
        return;
    }
    state_ = state::closed;
    actions_.emplace_back(neg_action::closed{true});
}

void negotiator::on_xml_error(xml::errc e)
{
    if (terminal()) {
        return;
    }
    if (!closing_sent_ && state_ != state::tls_handshake) {
        write(stream_error_xml(condition_for(e)));
        send_closing_tag();
    }
    std::string reason = "server sent bad XML: ";
    reason += xml::reason(e);
    fail(failure::protocol_error, std::move(reason));
}

void negotiator::on_tls_established()
{
    if (state_ != state::tls_handshake) {
        return;
    }
    tls_ = true;
    visible_ = true;
    held_header_.reset(); // the pre-TLS header is never the client's
    state_ = state::await_header;
    // RFC 6120 §5.4.3.3: a fresh stream over the protected link; `from` is sent now (C2S-HDR-5).
    write(header());
    flush_pending();
}

void negotiator::on_tls_failed(std::string_view detail)
{
    if (terminal()) {
        return;
    }
    std::string reason = "C2S-TLS-4: TLS handshake failed: ";
    reason += detail;
    fail(failure::connection_failed, std::move(reason));
}

void negotiator::on_transport_closed()
{
    if (terminal()) {
        return;
    }
    if (state_ == state::open || state_ == state::closing || stream_error_seen_ ||
        (visible_ && state_ != state::tls_handshake)) {
        release_header();
        state_ = state::closed;
        pending_.clear();
        actions_.emplace_back(neg_action::closed{false});
        return;
    }
    fail(failure::connection_failed, "connection closed during stream negotiation");
}

void negotiator::client_send(std::string bytes)
{
    if (terminal() || state_ == state::closing || bytes.empty()) {
        return;
    }
    if (ready()) {
        client_wrote_ = true;
        write(std::move(bytes));
        return;
    }
    if (pending_.size() + bytes.size() > params_.max_pending_bytes) {
        fail(failure::protocol_error,
             "client data held before the stream is ready exceeds " +
                 std::to_string(params_.max_pending_bytes) + " bytes");
        return;
    }
    pending_ += bytes;
}

void negotiator::client_restart()
{
    if (state_ != state::open) {
        return;
    }
    // XBOSH-5, C2S-RST-1: same connection, no closing tag, fresh header, fresh parser.
    actions_.emplace_back(neg_action::reset_parser{});
    sasl_restart_pending_ = false;
    state_ = state::await_header;
    write(header());
    flush_pending();
}

void negotiator::client_close(bool clean)
{
    if (terminal()) {
        return;
    }
    pending_.clear();
    if (!clean || state_ == state::idle || state_ == state::tls_handshake) {
        state_ = state::closed;
        actions_.emplace_back(neg_action::closed{false});
        return;
    }
    send_closing_tag();
    state_ = state::closing;
}

void negotiator::on_close_timeout()
{
    if (state_ != state::closing) {
        return;
    }
    state_ = state::closed;
    actions_.emplace_back(neg_action::closed{false});
}

void negotiator::on_negotiate_timeout()
{
    if (terminal() || state_ == state::open || state_ == state::closing) {
        return;
    }
    fail(failure::connection_failed,
         "stream negotiation (header, features, TLS) timed out (negotiate_timeout)");
}

std::vector<negotiator_action> negotiator::take_actions()
{
    std::vector<negotiator_action> out;
    out.swap(actions_);
    return out;
}

bool negotiator::on_keepalive_due()
{
    if (!authenticated_ || state_ != state::open || !ready() || closing_sent_) {
        return false;
    }
    write(" ");
    return true;
}

void negotiator::release_header()
{
    if (visible_ && held_header_) {
        header_seen_ = true;
        actions_.emplace_back(neg_action::deliver_header{std::move(*held_header_)});
        held_header_.reset();
    }
}

std::optional<neg_action::redirect> negotiator::redirect_target(const xml::element& error) const
{
    // RFC 6120 §4.9.3.19 (errata 3651): follow only a server we have authenticated (TLS), or
    // where the domain's policy accepts plaintext anyway; and only while the client has
    // neither seen nor sent anything of this stream.
    if (!params_.follow_redirect || header_seen_ || client_wrote_ ||
        (state_ != state::await_header && state_ != state::await_features) ||
        (!tls_ && !params_.allow_plaintext && !params_.never_starttls)) {
        return std::nullopt;
    }
    xml::tree t;
    if (xml::parse_tree(error.xml, t)) {
        return std::nullopt;
    }
    const xml::tree* soh = t.child(ns_stream_errors, "see-other-host");
    if (soh == nullptr) {
        return std::nullopt;
    }
    std::string text;
    for (const auto& n : soh->children) {
        if (const auto* s = std::get_if<std::string>(&n.value)) {
            text += *s;
        }
    }
    const std::string_view v = trim(text);
    std::string_view host = v;
    std::string_view port_text;
    if (v.starts_with('[')) { // "[v6]" or "[v6]:port"
        const auto close = v.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = v.substr(1, close - 1);
        const auto rest = v.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return std::nullopt;
            }
            port_text = rest.substr(1);
        }
    } else if (const auto colon = v.find(':'); colon != std::string_view::npos) {
        if (v.find(':', colon + 1) != std::string_view::npos) {
            return std::nullopt; // a bare IPv6 literal must be bracketed
        }
        host = v.substr(0, colon);
        port_text = v.substr(colon + 1);
    }
    if (!core::is_host_name(host) && !core::is_ip_literal(host)) {
        return std::nullopt;
    }
    neg_action::redirect r{std::string(host), 5222};
    if (!port_text.empty()) {
        unsigned port = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9' || port > 65535) {
                return std::nullopt;
            }
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port == 0 || port > 65535 || port_text.size() > 5) {
            return std::nullopt;
        }
        r.port = static_cast<std::uint16_t>(port);
    }
    return r;
}

bool negotiator::watch_iq(const xml::element& el)
{
    // Only while a bind result is awaited or a ping is out: a few iqs per session.
    xml::tree t;
    if (xml::parse_tree(el.xml, t)) {
        return false;
    }
    const auto type = t.attr("type").value_or("");
    if (!ping_id_.empty() && t.attr("id") == std::optional<std::string_view>(ping_id_) &&
        (type == "result" || type == "error")) {
        ping_id_.clear(); // C2S-PING-2: answered (an error answer still proves a live server)
        return true;
    }
    if (!bound_ && type == "result" && t.child(ns_bind, "bind") != nullptr) {
        bound_ = true;
    }
    return false;
}

bool negotiator::on_ping_due(std::string_view id)
{
    if (!authenticated_ || !bound_ || sm_enabled_ || !ping_id_.empty() || state_ != state::open || !ready() ||
        closing_sent_ || id.empty()) {
        return false;
    }
    ping_id_.assign(id);
    std::string iq = "<iq xmlns='jabber:client' type='get' to='";
    iq += xml::escape_attr(params_.to);
    iq += "' id='";
    iq += xml::escape_attr(id);
    iq += "'><ping xmlns='urn:xmpp:ping'/></iq>";
    write(std::move(iq));
    return true;
}

void negotiator::on_ping_timeout()
{
    if (ping_id_.empty() || terminal()) {
        return;
    }
    ping_id_.clear();
    fail(failure::connection_failed, "C2S-PING-3: the server did not answer a XEP-0199 ping within ping_timeout");
}

bool negotiator::ready() const noexcept
{
    return visible_ && !sasl_restart_pending_ &&
           (state_ == state::await_header || state_ == state::await_features ||
            state_ == state::open);
}

void negotiator::fail(failure why, std::string reason)
{
    state_ = state::failed;
    pending_.clear();
    actions_.emplace_back(neg_action::failed{why, std::move(reason)});
}

void negotiator::write(std::string bytes)
{
    if (closing_sent_) {
        return; // C2S-CLOSE-1: nothing after the closing tag
    }
    // Coalesce adjacent writes so one flush is one write.
    if (!actions_.empty()) {
        if (auto* w = std::get_if<neg_action::write>(&actions_.back())) {
            w->bytes += bytes;
            return;
        }
    }
    actions_.emplace_back(neg_action::write{std::move(bytes)});
}

void negotiator::send_closing_tag()
{
    if (closing_sent_ || state_ == state::idle) {
        return;
    }
    write(std::string(closing_tag));
    closing_sent_ = true;
}

void negotiator::flush_pending()
{
    if (!pending_.empty() && ready()) {
        client_wrote_ = true;
        std::string p;
        p.swap(pending_);
        write(std::move(p));
    }
}

xml::element filter_features(xml::element&& features)
{
    xml::tree t;
    if (xml::parse_tree(features.xml, t)) {
        return std::move(features);
    }
    std::size_t removed = t.remove_children_if([](const xml::tree& c) {
        return is(c, ns_tls, "starttls") || is(c, ns_compress_feature, "compression");
    });
    for (auto& n : t.children) {
        auto* c = std::get_if<xml::tree>(&n.value);
        if (c != nullptr && is(*c, ns_sasl, "mechanisms")) {
            removed += c->remove_children_if([](const xml::tree& m) {
                return is(m, ns_sasl, "mechanism") && ends_with_plus(trim(m.text()));
            });
        }
    }
    if (removed == 0) {
        return std::move(features);
    }
    std::string out = "<stream:features xmlns:stream='";
    out += ns_streams;
    out += "'";
    for (const auto& a : t.attrs) {
        out += " " + a.qname + "='" + xml::escape_attr(a.value) + "'";
    }
    out += ">";
    for (const auto& n : t.children) {
        if (const auto* c = std::get_if<xml::tree>(&n.value)) {
            out += xml::serialize(*c);
        } else {
            out += xml::escape_text(std::get<std::string>(n.value));
        }
    }
    out += "</stream:features>";
    features.xml = std::move(out);
    return std::move(features);
}

} // namespace boshgate::upstream
