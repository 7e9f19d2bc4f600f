#pragma once
// What `boshgate --version` prints: the gateway's version and build type, and the version of
// each library it was built against and, where the library can say, runs with.
#include <string>

namespace boshgate::server {

/// The gateway version (CMake project version).
const char* version();
/// The CMake build type ("Release", "Debug", ...).
const char* build_type();

/// Several lines: "boshgate <version> (<build type>)", then one line per dependency.
std::string build_info();

} // namespace boshgate::server
