// Fuzz target: websocket::check_upgrade, the RFC 7395 §3.1 / RFC 6455 §4.2 checks on an
// upgrade request (method, Upgrade, Sec-WebSocket-Protocol offer, Origin against the CORS
// list), all attacker-controlled header values.
// Invariants (abort on violation): an accepted request is a GET upgrade whose offer holds
// the token `xmpp` and gets `xmpp` echoed; a refusal has one of 400/403/405/426 and a reason.
#include "boshgate/websocket/handshake.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace boshgate;
    FuzzedDataProvider in(data, size);
    http::options opt;
    opt.cors_origins.clear();
    for (auto n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) {
        opt.cors_origins.push_back(in.ConsumeBool() ? "*" : in.ConsumeRandomLengthString(32));
    }
    const std::string method = in.ConsumeBool() ? "GET" : in.ConsumeRandomLengthString(8);
    const bool has_protocols = in.ConsumeBool();
    const std::string protocols = in.ConsumeRandomLengthString(64);
    const bool has_origin = in.ConsumeBool();
    const std::string origin = in.ConsumeRandomLengthString(64);
    websocket::upgrade_request req;
    req.method = method;
    req.is_upgrade = in.ConsumeBool();
    if (has_protocols) {
        req.protocols = protocols;
    }
    if (has_origin) {
        req.origin = origin;
    }
    const auto d = websocket::check_upgrade(opt, req);
    if (d.accept) {
        if (method != "GET" || !req.is_upgrade || !has_protocols || d.protocol != "xmpp" ||
            protocols.find("xmpp") == std::string::npos) {
            std::abort();
        }
    } else if ((d.status != 400 && d.status != 403 && d.status != 405 && d.status != 426) || d.reason.empty()) {
        std::abort();
    }
    return 0;
}
