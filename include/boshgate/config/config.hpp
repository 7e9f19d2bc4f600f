#pragma once
// Typed configuration: one TOML file (conf/boshgate.toml) loaded with toml11, validated
// once, every error reported as file:line. Immutable after load; SIGHUP swaps a new
// shared_ptr<const config> in for new sessions.
#include "boshgate/bosh/options.hpp"
#include "boshgate/http/options.hpp"
#include "boshgate/upstream/options.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace boshgate::config {

struct server_options {
    unsigned threads = 0;                  ///< io threads; 0 = number of CPUs
    std::uint64_t nofile = 65536;          ///< RLIMIT_NOFILE to raise to at start-up
    std::string log_level = "info";
    std::chrono::seconds shutdown_grace{5}; ///< drain deadline on SIGTERM
};

struct config {
    server_options server;
    http::options http;
    bosh::options bosh;
    upstream::options upstream;
    xml::limits xml;
};

struct load_error {
    std::string where;   ///< "file:line" (or "file" / "--flag")
    std::string message;
};

using load_result = std::variant<config, std::vector<load_error>>;

/// Load and validate a TOML file.
load_result load_file(const std::string& path);
/// Load and validate TOML text (tests; `name` stands in for the file name in errors).
load_result load_string(const std::string& text, const std::string& name = "<string>");

} // namespace boshgate::config
