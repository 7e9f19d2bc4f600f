#pragma once
#include <cstdint>
#include <string>

namespace boshgate::core {

/// A BOSH session id: 160 bits from OpenSSL's CSPRNG, hex encoded (BOSH-RESP-1).
/// Throws std::runtime_error only if the CSPRNG fails (never on a healthy system).
std::string random_sid();

/// Short, non-secret tag for log lines: "b" + a process-wide serial number. Logs carry
/// this tag, never a full sid (a sid is a bearer credential for the session).
std::string next_session_tag(char kind);

} // namespace boshgate::core
