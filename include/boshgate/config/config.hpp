#pragma once
// Typed configuration: one TOML file (conf/boshgate.toml) loaded with toml11, validated
// once, every error reported as file:line. Immutable after load; SIGHUP swaps a new
// shared_ptr<const config> in for new sessions.
#include "boshgate/admin/options.hpp"
#include "boshgate/bosh/options.hpp"
#include "boshgate/http/options.hpp"
#include "boshgate/limits/options.hpp"
#include "boshgate/upstream/options.hpp"
#include "boshgate/websocket/options.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace boshgate::config {

struct server_options {
    unsigned threads = 0;                  ///< io threads; 0 = number of CPUs
    std::uint64_t nofile = 65536;          ///< RLIMIT_NOFILE to raise to at start-up
    std::string log_level = "info";
    std::string log_format = "text"; ///< "text" or "json" (one JSON object per line)
    std::chrono::seconds shutdown_grace{5}; ///< drain deadline on SIGTERM
    /// A drain (SIGUSR2 or admin POST /drain: no new sessions, open ones served until they
    /// end) lasts at most this long; then the sessions left end as on SIGTERM.
    std::chrono::seconds drain_timeout{600};
    /// "" or 1..32 of [A-Za-z0-9_-]: this instance's name among several behind a load
    /// balancer. BOSH sids then read "<instance_id>.<40 hex digits>", so that the balancer
    /// sends every request of a session to the instance that owns it (conf/haproxy/).
    std::string instance_id;
};

struct config {
    server_options server;
    http::options http;
    bosh::options bosh;
    upstream::options upstream;
    websocket::options websocket;
    xml::limits xml;
    limits::options limits;
    admin::options admin;
};

struct load_error {
    std::string where;   ///< "file:line" (or "file" / "--flag")
    std::string message;
};

using load_result = std::variant<config, std::vector<load_error>>;

/// How much of the environment the loader may look at.
struct load_options {
    /// Check that tls_cert/tls_key/ca_file name readable regular files and that static_dir
    /// names a directory (reported at the key's line). Off for inline test configs.
    bool check_files = true;
};

/// Load and validate a TOML file (schema: conf/boshgate.toml). Every problem is collected:
/// TOML syntax (toml11 stops at the first one), unknown keys, wrong types, out-of-range and
/// inconsistent values; `where` is "path:line" as the path was given. Relative paths in the
/// file (static_dir, ca_file, tls_cert, tls_key) are resolved against the file's folder.
/// The returned config is complete: keys absent from the file keep the struct defaults.
/// Thread-safe (no shared state); reads the file system only.
load_result load_file(const std::string& path, const load_options& opt = {});

/// Load and validate TOML text (tests; `name` stands in for the file name in errors, and its
/// folder, if any, anchors relative paths). Files are not checked unless `opt` asks for it.
load_result load_string(const std::string& text, const std::string& name = "<string>",
                        const load_options& opt = {.check_files = false});

/// Command-line values that replace what the file says (main.cpp parses the flags).
struct overrides {
    std::vector<std::string> listen;     ///< "ADDR:PORT" each ("[v6]:PORT"); non-empty: replaces all listeners
    std::optional<std::string> log_level; ///< trace|debug|info|warn|error|off
    std::optional<std::int64_t> threads;  ///< 0..1024, 0 = number of CPUs
};

/// Validate `ov` and apply it to `cfg`. Returns the errors (where = "--flag"); `cfg` is
/// modified only when the result is empty. A --listen listener is plain HTTP (no TLS
/// certificate is carried over from the file) with the default backlog.
std::vector<load_error> apply_overrides(config& cfg, const overrides& ov);

/// load_file + apply_overrides: what main does at start-up, and what a SIGHUP reload must do
/// too so that flags keep overriding the file.
load_result load(const std::string& path, const overrides& ov, const load_options& opt = {});

} // namespace boshgate::config
