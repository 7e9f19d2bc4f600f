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

/// A secret drawn once per process from OpenSSL's CSPRNG (never 0): the hash salt of every
/// expat parser (hash-flooding defence, CVE-2012-0876). Expat would otherwise draw its own
/// salt from getrandom(2) for each parser, a system call per BOSH body and per idle-stream
/// rebuild (issue 9). Throws like random_sid() if the CSPRNG fails.
unsigned long process_hash_salt();

} // namespace boshgate::core
