// Terminal binding conditions (XEP-0124 §17.2) and table-level terminate bodies.
#include "body_writer.hpp"
#include "boshgate/bosh/engine.hpp"

namespace boshgate::bosh {

std::string_view to_string(condition c) noexcept
{
    switch (c) {
    case condition::none: return "";
    case condition::bad_request: return "bad-request";
    case condition::host_gone: return "host-gone";
    case condition::host_unknown: return "host-unknown";
    case condition::improper_addressing: return "improper-addressing";
    case condition::internal_server_error: return "internal-server-error";
    case condition::item_not_found: return "item-not-found";
    case condition::other_request: return "other-request";
    case condition::policy_violation: return "policy-violation";
    case condition::remote_connection_failed: return "remote-connection-failed";
    case condition::remote_stream_error: return "remote-stream-error";
    case condition::see_other_uri: return "see-other-uri";
    case condition::system_shutdown: return "system-shutdown";
    case condition::undefined_condition: return "undefined-condition";
    }
    return "undefined-condition";
}

unsigned legacy_status(condition c) noexcept
{
    // XEP-0124 §17.1: only these three had HTTP codes before `ver` existed (BOSH-STATUS-2).
    switch (c) {
    case condition::bad_request: return 400;
    case condition::policy_violation: return 403;
    case condition::item_not_found: return 404;
    default: return 200;
    }
}

std::string terminate_body(condition c, std::string_view text)
{
    detail::body_writer w;
    w.attr("type", "terminate");
    if (c != condition::none) {
        w.attr("condition", to_string(c));
    }
    if (c == condition::see_other_uri && !text.empty()) {
        // XEP-0124 §17.2: see-other-uri carries the new address in a <uri/> child (httpbind
        // namespace, inherited from the body).
        std::string uri = "<uri>";
        detail::append_escaped(uri, text);
        uri += "</uri>";
        return std::move(w).finish(uri);
    }
    // Other details are for logs only: they may name internal hosts or errors.
    return std::move(w).finish();
}

} // namespace boshgate::bosh
