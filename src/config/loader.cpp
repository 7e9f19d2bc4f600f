// TOML -> config::config. One pass maps every key of the schema (conf/boshgate.toml) into the
// typed structs and records every problem; cross-field checks run afterwards with the
// locations remembered from that pass. Nothing here throws past load_file/load_string.
#include "boshgate/config/config.hpp"
#include "boshgate/config/values.hpp"
#include "boshgate/core/text.hpp"

#include <toml.hpp>

#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

namespace boshgate::config {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

/// std::map keeps keys sorted, so unknown-key errors come out in a stable order.
using tvalue = toml::basic_value<toml::discard_comments, std::map, std::vector>;

std::string type_name(const tvalue& v)
{
    switch (v.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time: return "a date/time";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: return "nothing";
    }
    return "an unknown type";
}

std::string in_quotes(std::string_view s)
{
    return "\"" + std::string(s) + "\"";
}

std::string lower_ascii(std::string_view s)
{
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

/// Shortest decimal spelling that reads back as the same value ("2", "0.5", "0.1"; "inf", "nan").
std::string format_number(double d)
{
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(d)); // "1000000", not "1e+06"
    }
    for (int precision = 1; precision < std::numeric_limits<double>::max_digits10; ++precision) {
        std::ostringstream out;
        out.precision(precision);
        out << d;
        double back = 0;
        std::istringstream in(out.str());
        if ((in >> back) && back == d) {
            return out.str();
        }
    }
    std::ostringstream out;
    out.precision(std::numeric_limits<double>::max_digits10);
    out << d;
    return out.str();
}

enum class path_kind { file, directory };

/// Collects errors with their line, remembers where each key was, resolves paths.
class context {
public:
    context(std::string file, fs::path base_dir, load_options opt)
        : file_(std::move(file)), base_dir_(std::move(base_dir)), opt_(opt)
    {
    }

    /// Error at a value's line; `at == nullptr` means the whole file.
    void error(const tvalue* at, std::string message)
    {
        std::uint_least32_t line = 0;
        if (at != nullptr) {
            line = at->location().line();
        }
        errors_.push_back({line, std::move(message)});
    }

    void error_at_line(std::uint_least32_t line, std::string message)
    {
        errors_.push_back({line, std::move(message)});
    }

    void remember(const std::string& key, const tvalue* v) { seen_[key] = v; }

    /// Where `key` ("bosh.max_wait") was written, or nullptr when it was not.
    const tvalue* where(const std::string& key) const
    {
        const auto it = seen_.find(key);
        return it == seen_.end() ? nullptr : it->second;
    }

    /// The first of `keys` that was written (a cross-check blames the most specific one).
    const tvalue* where_any(std::initializer_list<std::string> keys) const
    {
        for (const auto& k : keys) {
            if (const auto* v = where(k)) {
                return v;
            }
        }
        return nullptr;
    }

    std::string resolve(const std::string& p) const
    {
        const fs::path path(p);
        if (path.is_absolute() || base_dir_.empty()) {
            return path.lexically_normal().string();
        }
        return (base_dir_ / path).lexically_normal().string();
    }

    bool check_files() const { return opt_.check_files; }

    std::vector<load_error> take_errors()
    {
        std::stable_sort(errors_.begin(), errors_.end(),
                         [](const located& a, const located& b) { return a.line < b.line; });
        std::vector<load_error> out;
        out.reserve(errors_.size());
        for (auto& e : errors_) {
            out.push_back({e.line == 0 ? file_ : file_ + ":" + std::to_string(e.line), std::move(e.message)});
        }
        errors_.clear();
        return out;
    }

    bool ok() const { return errors_.empty(); }

private:
    struct located {
        std::uint_least32_t line;
        std::string message;
    };
    std::string file_;
    fs::path base_dir_;
    load_options opt_;
    std::vector<located> errors_;
    std::map<std::string, const tvalue*> seen_;
};

/// Reads the keys of one table. Each getter marks its key as known, reports wrong types and
/// out-of-range values, and leaves `out` untouched unless the value is valid (returns true
/// then). finish() reports every key no getter asked for.
class table_reader {
public:
    /// `t` must be a table and outlive the reader. `name` is the dotted path ("http.listen[0]").
    table_reader(context& ctx, const tvalue& t, std::string name) : ctx_(ctx), table_(t), name_(std::move(name)) {}

    table_reader(const table_reader&) = delete;
    table_reader& operator=(const table_reader&) = delete;

    const tvalue& table() const { return table_; }
    const std::string& name() const { return name_; }

    /// The value at `key` or nullptr; marks the key known.
    const tvalue* find(const std::string& key)
    {
        known_.insert(key);
        const auto& tbl = table_.as_table();
        const auto it = tbl.find(key);
        if (it == tbl.end()) {
            return nullptr;
        }
        ctx_.remember(qualified(key), &it->second);
        return &it->second;
    }

    std::string qualified(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }

    void error(const tvalue* at, const std::string& key, const std::string& message)
    {
        ctx_.error(at, qualified(key) + ": " + message);
    }

    bool get_bool(const std::string& key, bool& out)
    {
        const auto* v = typed(key, toml::value_t::boolean, "a boolean (true or false)");
        if (v == nullptr) {
            return false;
        }
        out = v->as_boolean();
        return true;
    }

    template <class T>
    bool get_int(const std::string& key, T& out, std::int64_t min, std::int64_t max)
    {
        const auto* v = typed(key, toml::value_t::integer, "an integer");
        if (v == nullptr) {
            return false;
        }
        const std::int64_t n = v->as_integer();
        if (n < min || n > max) {
            error(v, key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                              std::to_string(n) + ")");
            return false;
        }
        out = static_cast<T>(n);
        return true;
    }

    /// An integer or a float, finite, within [min, max].
    bool get_number(const std::string& key, double& out, double min, double max)
    {
        const auto* v = find(key);
        if (v == nullptr) {
            return false;
        }
        double n = 0;
        if (v->is_integer()) {
            n = static_cast<double>(v->as_integer());
        } else if (v->is_floating()) {
            n = v->as_floating();
        } else {
            error(v, key, "expected a number, got " + type_name(*v));
            return false;
        }
        if (!(n >= min && n <= max)) { // also refuses nan
            error(v, key, "must be between " + format_number(min) + " and " + format_number(max) + " (got " +
                              format_number(n) + ")");
            return false;
        }
        out = n;
        return true;
    }

    bool get_string(const std::string& key, std::string& out)
    {
        const auto* v = typed(key, toml::value_t::string, "a string");
        if (v == nullptr) {
            return false;
        }
        out = v->as_string().str;
        return true;
    }

    /// A string that must be one of `allowed`.
    bool get_choice(const std::string& key, std::string& out, std::initializer_list<std::string_view> allowed)
    {
        std::string s;
        if (!get_string(key, s)) {
            return false;
        }
        for (const auto a : allowed) {
            if (s == a) {
                out = s;
                return true;
            }
        }
        std::string list;
        for (const auto a : allowed) {
            list += (list.empty() ? "" : ", ") + in_quotes(a);
        }
        error(find(key), key, "must be one of " + list + " (got " + in_quotes(s) + ")");
        return false;
    }

    bool get_duration(const std::string& key, milliseconds& out, milliseconds min, milliseconds max)
    {
        const auto* v = find(key);
        if (v == nullptr) {
            return false;
        }
        if (!v->is_string()) {
            error(v, key, "expected a duration string such as \"5s\" (units ms, s, m, h, d), got " + type_name(*v));
            return false;
        }
        auto d = parse_duration(v->as_string().str);
        if (!d) {
            error(v, key, d.error().message);
            return false;
        }
        if (*d < min || *d > max) {
            error(v, key, "must be between " + format_duration(min) + " and " + format_duration(max) + " (got " +
                              v->as_string().str + ")");
            return false;
        }
        out = *d;
        return true;
    }

    /// A duration held in whole seconds: "1500ms" is refused rather than silently truncated.
    bool get_seconds(const std::string& key, seconds& out, seconds min, seconds max)
    {
        milliseconds ms{};
        if (!get_duration(key, ms, min, max)) {
            return false;
        }
        if (ms.count() % 1000 != 0) {
            error(find(key), key, "must be a whole number of seconds (got " + find(key)->as_string().str + ")");
            return false;
        }
        out = std::chrono::duration_cast<seconds>(ms);
        return true;
    }

    bool get_string_array(const std::string& key, std::vector<std::string>& out)
    {
        const auto* v = typed(key, toml::value_t::array, "an array of strings");
        if (v == nullptr) {
            return false;
        }
        std::vector<std::string> items;
        bool ok = true;
        for (const auto& item : v->as_array()) {
            if (!item.is_string()) {
                error(&item, key, "expected an array of strings, found " + type_name(item));
                ok = false;
                continue;
            }
            items.push_back(item.as_string().str);
        }
        if (ok) {
            out = std::move(items);
        }
        return ok;
    }

    /// A file or directory name, resolved against the config file's folder. An empty string
    /// is refused ("omit the key instead") unless `empty_ok`, in which case it is kept empty.
    bool get_path(const std::string& key, std::string& out, path_kind kind, bool empty_ok = false)
    {
        std::string s;
        if (!get_string(key, s)) {
            return false;
        }
        if (s.empty()) {
            if (empty_ok) {
                out.clear();
                return true;
            }
            error(find(key), key, "must not be empty (remove the key to use the default)");
            return false;
        }
        const std::string resolved = ctx_.resolve(s);
        if (ctx_.check_files()) {
            std::error_code ec;
            if (kind == path_kind::directory) {
                if (!fs::is_directory(resolved, ec)) {
                    error(find(key), key, in_quotes(resolved) + " is not a directory");
                    return false;
                }
            } else {
                const bool regular = fs::is_regular_file(resolved, ec);
                if (!regular || !std::ifstream(resolved).is_open()) {
                    error(find(key), key,
                          in_quotes(resolved) + (regular ? " cannot be opened for reading" : " is not a readable file"));
                    return false;
                }
            }
        }
        out = resolved;
        return true;
    }

    void get_path(const std::string& key, std::optional<std::string>& out, path_kind kind)
    {
        std::string s;
        if (get_path(key, s, kind)) {
            out = std::move(s);
        }
    }

    /// A sub-table; reports a type error and returns nullptr when the key holds something else.
    const tvalue* get_table(const std::string& key)
    {
        return typed(key, toml::value_t::table, "a table ([" + qualified(key) + "])");
    }

    /// An array of tables ([[key]]); nullptr when absent or wrong (reported).
    const tvalue* get_table_array(const std::string& key)
    {
        const auto* v = typed(key, toml::value_t::array, "an array of tables ([[" + qualified(key) + "]])");
        if (v == nullptr) {
            return nullptr;
        }
        bool ok = true;
        for (const auto& item : v->as_array()) {
            if (!item.is_table()) {
                error(&item, key, "expected an array of tables ([[" + qualified(key) + "]]), found " + type_name(item));
                ok = false;
            }
        }
        return ok ? v : nullptr;
    }

    /// Report every key that no getter asked for: a typo must never be silent.
    void finish()
    {
        for (const auto& [key, value] : table_.as_table()) {
            if (known_.count(key) == 0) {
                std::string msg = "unknown key " + in_quotes(key);
                if (!name_.empty()) {
                    msg += " in [" + section_name() + "]";
                }
                if (const auto hint = closest_known(key); !hint.empty()) {
                    msg += " (did you mean " + in_quotes(hint) + "?)";
                }
                ctx_.error(&value, qualified(key) + ": " + msg);
            }
        }
    }

private:
    const tvalue* typed(const std::string& key, toml::value_t type, const std::string& expected)
    {
        const auto* v = find(key);
        if (v == nullptr) {
            return nullptr;
        }
        if (v->type() != type) {
            error(v, key, "expected " + expected + ", got " + type_name(*v));
            return nullptr;
        }
        return v;
    }

    /// The known key within edit distance 2 of `key` (a typo), or "".
    std::string closest_known(const std::string& key) const
    {
        std::string best;
        std::size_t best_distance = 3;
        for (const auto& k : known_) {
            const auto d = edit_distance(key, k);
            if (d < best_distance) {
                best_distance = d;
                best = k;
            }
        }
        return best;
    }

    /// Levenshtein distance with adjacent transpositions counted once ("wiat" -> "wait").
    static std::size_t edit_distance(std::string_view a, std::string_view b)
    {
        std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
        for (std::size_t i = 0; i <= a.size(); ++i) {
            d[i][0] = i;
        }
        for (std::size_t j = 0; j <= b.size(); ++j) {
            d[0][j] = j;
        }
        for (std::size_t i = 1; i <= a.size(); ++i) {
            for (std::size_t j = 1; j <= b.size(); ++j) {
                const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                    d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.size()][b.size()];
    }

    /// "http.listen[1]" -> "[http.listen]" style name without the index.
    std::string section_name() const
    {
        std::string s = name_;
        const auto bracket = s.find('[');
        if (bracket != std::string::npos) {
            s.erase(bracket);
        }
        return s;
    }

    context& ctx_;
    const tvalue& table_;
    std::string name_;
    std::set<std::string> known_;
};

// ------------------------------------------------------------------------------- sections

void read_server(context& ctx, const tvalue& t, server_options& out)
{
    table_reader r(ctx, t, "server");
    r.get_int("threads", out.threads, 0, 1024);
    r.get_int("nofile", out.nofile, 64, std::int64_t{1} << 30);
    r.get_choice("log_level", out.log_level, {"trace", "debug", "info", "warn", "error", "off"});
    r.get_choice("log_format", out.log_format, {"text", "json"});
    r.get_seconds("shutdown_grace", out.shutdown_grace, seconds(0), seconds(3600));
    r.get_seconds("drain_timeout", out.drain_timeout, seconds(0), seconds(7 * 24 * 3600));
    std::string id;
    if (r.get_string("instance_id", id)) {
        const bool ok = id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        });
        if (ok) {
            out.instance_id = id;
        } else {
            r.error(r.find("instance_id"), "instance_id",
                    "must be at most 32 letters, digits, '_' or '-' (a load balancer's server name; got " +
                        in_quotes(id) + ")");
        }
    }
    r.finish();
}

/// `address` (a numeric IP; `examples` for the message) and `port` of a listening socket.
void read_socket_address(table_reader& r, std::string& address, std::uint16_t& port, std::string_view examples)
{
    std::string a;
    if (r.get_string("address", a)) {
        if (is_ip_literal(a)) {
            address = a;
        } else {
            r.error(r.find("address"), "address",
                    in_quotes(a) + " is not a numeric IP address (use e.g. " + std::string(examples) + ")");
        }
    }
    r.get_int("port", port, 0, 65535);
}

/// A list of networks ("10.0.0.0/8", "::1") under `key`.
void read_networks(table_reader& r, const char* key, http::trusted_networks& out)
{
    std::vector<std::string> cidrs;
    if (r.get_string_array(key, cidrs)) {
        std::string why;
        if (auto nets = http::trusted_networks::parse(cidrs, why)) {
            out = std::move(*nets);
        } else {
            r.error(r.find(key), key, why);
        }
    }
}

void read_admin(context& ctx, const tvalue& t, admin::options& out)
{
    table_reader r(ctx, t, "admin");
    r.get_bool("enabled", out.enabled);
    read_socket_address(r, out.address, out.port, "\"127.0.0.1\" or \"::1\"");
    read_networks(r, "allow", out.allow);
    if (out.enabled && is_non_loopback_ip_literal(out.address) && out.allow.empty()) {
        r.error(r.find("address"), "address",
                out.address + " is not a loopback address: list the networks allowed to reach the admin "
                              "listener in admin.allow (e.g. [\"10.0.0.0/8\"]); it serves metrics and "
                              "the status page");
    }
    r.finish();
}

/// The authority of a URI as used here: "host[:port]" with a host name, an IPv4 literal or
/// a bracketed IPv6 literal; no user info.
bool valid_authority(std::string_view a)
{
    if (a.empty()) {
        return false;
    }
    if (a.front() == '[' || a.find(':') != std::string_view::npos) {
        return parse_host_port(a, host_kind::name_or_ip).has_value() ||
               (a.front() == '[' && a.back() == ']' && is_ipv6_literal(a.substr(1, a.size() - 2)));
    }
    return is_host_name(a) || is_ip_literal(a);
}

/// What follows "scheme://" when `uri` has one of `schemes` (exact, lower case), else nullopt.
std::optional<std::string_view> after_scheme(std::string_view uri, std::initializer_list<std::string_view> schemes)
{
    for (const auto scheme : schemes) {
        if (uri.starts_with(scheme) && uri.substr(scheme.size()).starts_with("://")) {
            return uri.substr(scheme.size() + 3);
        }
    }
    return std::nullopt;
}

/// Origins as browsers send them: "scheme://host[:port]", no path; or "*".
bool valid_origin(std::string_view o)
{
    if (o == "*") {
        return true;
    }
    const auto rest = after_scheme(o, {"http", "https"});
    return rest && rest->find('/') == std::string_view::npos && valid_authority(*rest);
}

/// Characters no URI or path in the config may hold: space, controls and the fragment mark.
bool is_space_control_or_hash(char c)
{
    return c == '#' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
}

/// An absolute request path for a route: "/..." without query, fragment or spaces.
bool valid_url_path(std::string_view p)
{
    if (p.empty() || p.front() != '/') {
        return false;
    }
    return std::none_of(p.begin(), p.end(), [](char c) { return c == '?' || is_space_control_or_hash(c); });
}

/// An absolute WebSocket URI (RFC 6455 §3): "ws://" or "wss://" (lower case), host[:port],
/// then an optional path and query; no fragment (RFC 6455 §3 forbids it), no spaces.
bool valid_websocket_uri(std::string_view u)
{
    const auto rest = after_scheme(u, {"ws", "wss"});
    return rest && std::none_of(u.begin(), u.end(), is_space_control_or_hash) &&
           valid_authority(rest->substr(0, rest->find_first_of("/?")));
}

/// An absolute HTTP(S) URL: "http://" or "https://" (lower case), host[:port], then an
/// optional path and query; no fragment, no spaces.
bool valid_http_url(std::string_view u)
{
    const auto rest = after_scheme(u, {"http", "https"});
    return rest && std::none_of(u.begin(), u.end(), is_space_control_or_hash) &&
           valid_authority(rest->substr(0, rest->find_first_of("/?")));
}

void read_listener(context& ctx, const tvalue& t, const std::string& name, http::listen_options& out)
{
    table_reader r(ctx, t, name);
    read_socket_address(r, out.address, out.port, "\"127.0.0.1\", \"0.0.0.0\" or \"::\"");
    r.get_int("backlog", out.backlog, 1, 65535);
    r.get_bool("proxy_protocol", out.proxy_protocol);
    r.get_path("tls_cert", out.tls_cert_file, path_kind::file);
    r.get_path("tls_key", out.tls_key_file, path_kind::file);
    const auto* cert = r.find("tls_cert");
    const auto* key = r.find("tls_key");
    if ((cert == nullptr) != (key == nullptr)) {
        // Report at the key that is present.
        r.error(cert != nullptr ? cert : key, cert != nullptr ? "tls_cert" : "tls_key",
                "HTTPS needs both tls_cert and tls_key on the same listener");
    }
    r.finish();
}

void read_http(context& ctx, const tvalue& t, http::options& out)
{
    table_reader r(ctx, t, "http");
    std::vector<std::pair<std::size_t, std::uint_least32_t>> proxy_listeners; // index, line
    if (const auto* listen = r.get_table_array("listen")) {
        const auto& arr = listen->as_array();
        if (arr.empty()) {
            r.error(listen, "listen", "at least one [[http.listen]] is needed");
        } else {
            std::vector<http::listen_options> listeners;
            std::map<std::string, std::uint_least32_t> bound;
            for (std::size_t i = 0; i < arr.size(); ++i) {
                http::listen_options l;
                read_listener(ctx, arr[i], "http.listen[" + std::to_string(i) + "]", l);
                const auto key = format_host_port(l.address, l.port);
                const auto line = arr[i].location().line();
                if (l.port != 0) {
                    if (const auto it = bound.find(key); it != bound.end()) {
                        ctx.error_at_line(line, "http.listen[" + std::to_string(i) + "]: " + key +
                                                    " is already a listener (line " + std::to_string(it->second) +
                                                    ")");
                    } else {
                        bound.emplace(key, line);
                    }
                }
                if (l.proxy_protocol) {
                    proxy_listeners.emplace_back(i, line);
                }
                listeners.push_back(std::move(l));
            }
            out.listen = std::move(listeners);
        }
    }
    std::string p;
    if (r.get_string("bosh_path", p)) {
        if (valid_url_path(p)) {
            out.bosh_path = p;
        } else {
            r.error(r.find("bosh_path"), "bosh_path", "must be an absolute path such as \"/http-bind\" (got " +
                                                          in_quotes(p) + ")");
        }
    }
    if (r.get_string("websocket_path", p)) {
        if (valid_url_path(p)) {
            out.websocket_path = p;
        } else {
            r.error(r.find("websocket_path"), "websocket_path",
                    "must be an absolute path such as \"/xmpp-websocket\" (got " + in_quotes(p) + ")");
        }
    }
    if (out.bosh_path == out.websocket_path) {
        const auto* at = ctx.where_any({"http.websocket_path", "http.bosh_path"});
        ctx.error(at, "http.websocket_path: must differ from http.bosh_path (both are " + in_quotes(out.bosh_path) + ")");
    }
    r.get_path("static_dir", out.static_dir, path_kind::directory, /*empty_ok=*/true);
    std::vector<std::string> origins;
    if (r.get_string_array("cors_origins", origins)) {
        bool ok = true;
        for (std::size_t i = 0; i < origins.size(); ++i) {
            if (!valid_origin(origins[i])) {
                r.error(&r.find("cors_origins")->as_array()[i], "cors_origins",
                        in_quotes(origins[i]) + " is not \"*\" or an origin such as \"https://example.com\" "
                                             "(scheme://host[:port], no path or trailing slash)");
                ok = false;
            }
        }
        if (ok) {
            out.cors_origins = std::move(origins);
        }
    }
    r.get_seconds("cors_max_age", out.cors_max_age, seconds(0), seconds(7 * 86400));
    r.get_int("max_body_bytes", out.max_body_bytes, 1024, std::int64_t{64} << 20);
    r.get_int("max_header_bytes", out.max_header_bytes, 1024, std::int64_t{1} << 20);
    r.get_seconds("header_timeout", out.header_timeout, seconds(1), seconds(3600));
    r.get_seconds("idle_timeout", out.idle_timeout, seconds(1), seconds(3600));
    r.get_int("max_connections", out.max_connections, 1, 10'000'000);
    r.get_bool("host_meta", out.host_meta);
    read_networks(r, "trusted_proxies", out.trusted_proxies);
    if (out.trusted_proxies.empty()) {
        for (const auto& [i, line] : proxy_listeners) {
            ctx.error_at_line(line, "http.listen[" + std::to_string(i) +
                                        "].proxy_protocol: needs http.trusted_proxies (the proxies allowed to send it)");
        }
    }
    // DISC-3 (XEP-0156 §2.2): only https:// and wss:// links are advertised.
    const auto secure_url = [&](const char* key, std::string_view scheme, bool (*valid)(std::string_view),
                                std::string_view example, std::string& out_url) {
        if (!r.get_string(key, p)) {
            return;
        }
        if (p.empty() || (p.starts_with(scheme) && valid(p))) {
            out_url = p;
        } else {
            r.error(r.find(key), key,
                    "must be an absolute " + std::string(scheme) + " URL such as \"" + std::string(example) +
                        "\" (XEP-0156 advertises secure URLs only; got " + in_quotes(p) + ")");
        }
    };
    secure_url("public_bosh_url", "https://", valid_http_url, "https://chat.example.com/http-bind",
               out.public_bosh_url);
    secure_url("public_websocket_url", "wss://", valid_websocket_uri, "wss://chat.example.com/xmpp-websocket",
               out.public_websocket_url);
    r.finish();
}

void read_bosh(context& ctx, const tvalue& t, bosh::options& out)
{
    table_reader r(ctx, t, "bosh");
    // wait/inactivity/polling/maxpause travel as XEP-0124 §22 unsignedShort seconds.
    constexpr seconds wire_max(65535);
    r.get_seconds("max_wait", out.max_wait, seconds(1), seconds(3600));
    r.get_seconds("default_wait", out.default_wait, seconds(1), seconds(3600));
    r.get_int("max_hold", out.max_hold, 1, 16);
    r.get_seconds("inactivity", out.inactivity, seconds(5), wire_max);
    r.get_seconds("polling", out.polling, seconds(0), wire_max);
    r.get_seconds("polling_inactivity", out.polling_inactivity, seconds(5), wire_max);
    r.get_seconds("max_pause", out.max_pause, seconds(0), wire_max);
    r.get_bool("enforce_overactivity", out.enforce_overactivity);
    r.get_bool("enforce_polling", out.enforce_polling);
    r.get_bool("server_acks", out.server_acks);
    r.get_int("max_rid_repeats", out.max_rid_repeats, 1, 1000);
    r.get_int("max_queued_bytes", out.max_queued_bytes, 1024, std::int64_t{1} << 30);
    r.get_int("max_cached_responses", out.max_cached_responses, 1, 1024);
    r.get_bool("legacy_404_for_unknown_sid", out.legacy_404_for_unknown_sid);
    std::string ct;
    if (r.get_string("default_content_type", ct)) {
        const bool printable = !ct.empty() && std::all_of(ct.begin(), ct.end(), [](char c) {
            return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
        });
        if (printable) {
            out.default_content_type = ct;
        } else {
            r.error(r.find("default_content_type"), "default_content_type",
                    "must be a non-empty header value without control characters");
        }
    }
    r.finish();
}

void read_websocket(context& ctx, const tvalue& t, websocket::options& out)
{
    table_reader r(ctx, t, "websocket");
    r.get_bool("enabled", out.enabled);
    r.get_seconds("ping_interval", out.ping_interval, seconds(1), seconds(3600));
    // Must also exceed ping_interval (cross_check).
    r.get_seconds("idle_timeout", out.idle_timeout, seconds(1), seconds(86400));
    r.get_seconds("open_timeout", out.open_timeout, seconds(1), seconds(600));
    r.get_seconds("close_timeout", out.close_timeout, seconds(1), seconds(120));
    r.get_int("max_message_bytes", out.max_message_bytes, 1024, std::int64_t{16} << 20);
    r.get_bool("legacy_framing", out.legacy_framing);
    std::string uri;
    if (r.get_string("see_other_uri", uri)) {
        if (uri.empty() || valid_websocket_uri(uri)) {
            out.see_other_uri = uri;
        } else {
            r.error(r.find("see_other_uri"), "see_other_uri",
                    "must be empty or an absolute ws:// or wss:// URI such as \"wss://xmpp.example.com/xmpp-websocket\" "
                    "(RFC 7395 §3.6.1; no spaces or fragment) (got " + in_quotes(uri) + ")");
        }
    }
    r.finish();
}

void read_xml(context& ctx, const tvalue& t, xml::limits& out)
{
    table_reader r(ctx, t, "xml");
    r.get_int("max_stanza_bytes", out.max_element_bytes, 1024, std::int64_t{64} << 20);
    r.get_int("max_depth", out.max_depth, 4, 1024);
    r.get_int("max_namespace_decls", out.max_namespace_decls, 4, 4096);
    r.finish();
}

void read_domain(context& ctx, const tvalue& t, const std::string& name, upstream::domain_options& out)
{
    table_reader r(ctx, t, name);
    const auto* name_v = r.find("name");
    if (name_v == nullptr) {
        ctx.error(&t, name + ": missing required key \"name\" (the XMPP domain)");
    } else {
        std::string n;
        if (r.get_string("name", n)) {
            if (is_host_name(n) && n.back() != '.') {
                out.name = n;
            } else {
                r.error(name_v, "name", in_quotes(n) + " is not a valid XMPP domain name");
            }
        }
    }
    bool direct_tls = false;
    const bool has_direct = r.get_bool("direct_tls", direct_tls);
    std::string address;
    const bool has_address = r.get_string("address", address);
    if (has_address && address.starts_with("unix:")) {
        // A server on this host over a Unix domain socket (issue 9).
        const std::string path = address.substr(5);
        if (path.empty() || path.front() != '/') {
            r.error(r.find("address"), "address",
                    in_quotes(address) + ": a Unix socket address is \"unix:\" and an absolute path");
        } else if (path.size() >= sizeof(sockaddr_un::sun_path)) {
            r.error(r.find("address"), "address",
                    in_quotes(address) + ": the socket path is longer than the system allows (" +
                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
        } else if (direct_tls) {
            r.error(r.find("direct_tls"), "direct_tls",
                    "is not supported with a Unix socket address (STARTTLS is, with tls = \"required\")");
        } else {
            out.target = upstream::static_target{};
            out.target->unix_path = path;
        }
    } else if (has_address) {
        auto hp = parse_host_port(address, host_kind::name_or_ip);
        if (hp) {
            out.target = upstream::static_target{hp->host, hp->port, direct_tls, {}};
        } else {
            r.error(r.find("address"), "address", hp.error().message);
        }
    } else if (has_direct && direct_tls && r.find("address") == nullptr) {
        r.error(r.find("direct_tls"), "direct_tls",
                "needs a static address; without one, direct TLS comes from _xmpps-client SRV records (XEP-0368)");
    }
    std::string tls;
    if (r.get_choice("tls", tls, {"required", "plaintext", "off"})) {
        out.tls = tls == "plaintext" ? upstream::tls_mode::plaintext
                  : tls == "off"     ? upstream::tls_mode::off
                                     : upstream::tls_mode::required;
        if (out.tls != upstream::tls_mode::required && direct_tls) {
            r.error(r.find("tls"), "tls", in_quotes(tls) + " contradicts direct_tls = true");
        }
    }
    r.get_bool("force_tls_off", out.force_tls_off);
    if (out.tls == upstream::tls_mode::off && !out.force_tls_off && out.target) {
        // The same rule is applied to every resolved address when connecting; a literal
        // is refused here, at load time.
        if (out.target->unix_path.empty() && is_non_loopback_ip_literal(out.target->host)) {
            r.error(r.find("tls"), "tls",
                    "\"off\" sends credentials in the clear: only for a loopback address "
                    "(127.0.0.0/8, ::1, localhost), got " + out.target->host +
                        "; force_tls_off = true overrides");
        }
    }
    r.get_bool("tls_verify", out.tls_verify);
    r.get_bool("proxy_protocol", out.proxy_protocol);
    r.get_path("ca_file", out.ca_file, path_kind::file);
    r.finish();
}

void read_route(context& ctx, const tvalue& t, const std::string& name, upstream::route_rule& out)
{
    table_reader r(ctx, t, name);
    const auto* host_v = r.find("host");
    if (host_v == nullptr) {
        ctx.error(&t, name + ": missing required key \"host\"");
    } else {
        std::string h;
        if (r.get_string("host", h)) {
            if (is_host_name(h) || is_ip_literal(h)) {
                out.host = h;
            } else {
                r.error(host_v, "host", in_quotes(h) + " is not a host name or IP address (no brackets, no port)");
            }
        }
    }
    r.get_int("port", out.port, 1, 65535);
    r.get_bool("direct_tls", out.direct_tls);
    r.finish();
}

void read_upstream(context& ctx, const tvalue& t, upstream::options& out)
{
    table_reader r(ctx, t, "upstream");
    r.get_bool("allow_any_domain", out.allow_any_domain);
    r.get_bool("allow_private_addresses", out.allow_private_addresses);
    r.get_path("ca_file", out.ca_file, path_kind::file);
    constexpr milliseconds hour(3600 * 1000);
    r.get_duration("connect_timeout", out.connect_timeout, milliseconds(100), hour);
    r.get_duration("negotiate_timeout", out.negotiate_timeout, milliseconds(100), hour);
    r.get_duration("close_timeout", out.close_timeout, milliseconds(0), hour);
    r.get_duration("dns_timeout", out.dns_timeout, milliseconds(100), hour);
    std::string dns;
    if (r.get_string("dns_server", dns)) {
        auto hp = parse_host_port(dns, host_kind::ip_only);
        if (hp) {
            out.dns_server = format_host_port(hp->host, hp->port);
        } else {
            r.error(r.find("dns_server"), "dns_server", hp.error().message);
        }
    }
    r.get_seconds("tcp_keepalive", out.tcp_keepalive, seconds(0), seconds(7200));
    // C2S-KA-1: 0 = off; RFC 6120 §4.6.4 suggests no more often than every 5 minutes unless a
    // NAT or firewall in between needs it, so at least 5 s here.
    r.get_seconds("whitespace_keepalive", out.whitespace_keepalive, seconds(0), seconds(3600));
    if (out.whitespace_keepalive.count() != 0 && out.whitespace_keepalive < seconds(5)) {
        r.error(r.find("whitespace_keepalive"), "whitespace_keepalive",
                "must be \"0s\" (off) or between 5s and 1h (got " + format_duration(out.whitespace_keepalive) + ")");
    }
    // C2S-PING-1: XEP-0199 pings; 0 = off.
    r.get_seconds("ping_interval", out.ping_interval, seconds(0), seconds(3600));
    if (out.ping_interval.count() != 0 && out.ping_interval < seconds(5)) {
        r.error(r.find("ping_interval"), "ping_interval",
                "must be \"0s\" (off) or between 5s and 1h (got " + format_duration(out.ping_interval) + ")");
    }
    r.get_seconds("ping_timeout", out.ping_timeout, seconds(1), seconds(600));
    r.get_int("max_redirects", out.max_redirects, 0, 5);

    if (const auto* domains = r.get_table_array("domain")) {
        std::map<std::string, std::uint_least32_t> names; // lower-case name -> line
        const auto& arr = domains->as_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const std::string name = "upstream.domain[" + std::to_string(i) + "]";
            upstream::domain_options d;
            read_domain(ctx, arr[i], name, d);
            if (d.name.empty()) {
                continue; // already reported
            }
            // XMPP domains compare case-insensitively (RFC 7622 §3.2).
            const auto key = lower_ascii(d.name);
            const auto* at = ctx.where(name + ".name");
            if (const auto it = names.find(key); it != names.end()) {
                ctx.error(at, name + ".name: duplicate domain " + in_quotes(d.name) + " (first defined at line " +
                                  std::to_string(it->second) + ")");
                continue;
            }
            names.emplace(key, at != nullptr ? at->location().line() : 0);
            out.domains.push_back(std::move(d));
        }
    }
    if (const auto* routes = r.get_table_array("route")) {
        std::map<std::pair<std::string, std::uint16_t>, std::uint_least32_t> seen;
        const auto& arr = routes->as_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const std::string name = "upstream.route[" + std::to_string(i) + "]";
            upstream::route_rule rule;
            read_route(ctx, arr[i], name, rule);
            if (rule.host.empty()) {
                continue;
            }
            const auto line = arr[i].location().line();
            const auto key = std::make_pair(lower_ascii(rule.host), rule.port);
            if (const auto it = seen.find(key); it != seen.end()) {
                ctx.error_at_line(line, name + ": duplicate route " + format_host_port(rule.host, rule.port) +
                                            " (first defined at line " + std::to_string(it->second) + ")");
                continue;
            }
            seen.emplace(key, line);
            out.route_allow.push_back(std::move(rule));
        }
    }
    r.finish();
}

void read_limits(context& ctx, const tvalue& t, limits::options& out)
{
    table_reader r(ctx, t, "limits");
    constexpr std::int64_t ten_million = 10'000'000;
    // Admission (SEC-LIMIT-1..6). 0 switches a per-address limit off.
    r.get_int("max_sessions", out.max_sessions, 1, ten_million);
    r.get_int("max_sessions_per_address", out.max_sessions_per_address, 0, ten_million);
    r.get_number("session_rate_per_address", out.session_rate_per_address, 0, 1'000'000);
    r.get_int("session_burst_per_address", out.session_burst_per_address, 0, 1'000'000);
    r.get_int("max_connections_per_address", out.max_connections_per_address, 0, ten_million);
    r.get_int("ipv6_prefix", out.ipv6_prefix, 1, 128);
    r.get_int("ipv4_prefix", out.ipv4_prefix, 1, 32);
    // Upstream protection, per XMPP domain. 0 switches the cap / the breaker off.
    r.get_int("max_connecting_per_domain", out.max_connecting_per_domain, 0, ten_million);
    r.get_int("breaker_failures", out.breaker_failures, 0, 1000);
    constexpr milliseconds hour(3600 * 1000);
    r.get_duration("breaker_open", out.breaker_open, milliseconds(100), hour);
    r.get_duration("breaker_open_max", out.breaker_open_max, milliseconds(100), 24 * hour);
    // Flow control, per session (low < high: cross_check).
    constexpr std::int64_t gib = std::int64_t{1} << 30;
    r.get_int("client_send_high_water", out.client_send_high_water, 1024, gib);
    r.get_int("client_send_low_water", out.client_send_low_water, 0, gib);
    r.get_int("upstream_send_high_water", out.upstream_send_high_water, 1024, gib);
    r.get_int("upstream_send_low_water", out.upstream_send_low_water, 0, gib);
    r.get_seconds("write_timeout", out.write_timeout, seconds(1), seconds(3600));
    r.finish();
}

/// Relations between keys, checked once every key has its final value. Each error is
/// reported at the key most likely to be wrong, falling back to its partner, then the file.
void cross_check(context& ctx, const config& c)
{
    if (c.admin.enabled && c.admin.port != 0) {
        for (std::size_t i = 0; i < c.http.listen.size(); ++i) {
            const auto& l = c.http.listen[i];
            if (l.port == c.admin.port && l.address == c.admin.address) {
                ctx.error(ctx.where_any({"admin.port", "admin.address"}),
                          "admin.port: " + format_host_port(c.admin.address, c.admin.port) +
                              " is also http.listen[" + std::to_string(i) +
                              "]; the admin listener needs an address or port of its own");
            }
        }
    }
    if (c.bosh.default_wait > c.bosh.max_wait) {
        ctx.error(ctx.where_any({"bosh.default_wait", "bosh.max_wait"}),
                  "bosh.default_wait: " + format_duration(c.bosh.default_wait) + " exceeds bosh.max_wait " +
                      format_duration(c.bosh.max_wait) + " (XEP-0124 §7.2: wait is capped by max_wait)");
    }
    // XEP-0124 §12 / BOSH-POLL-1: polling sessions get a longer inactivity than both
    // `polling` and the normal inactivity.
    if (c.bosh.polling_inactivity <= c.bosh.polling) {
        ctx.error(ctx.where_any({"bosh.polling_inactivity", "bosh.polling"}),
                  "bosh.polling_inactivity: must be greater than bosh.polling (XEP-0124 §12)");
    }
    if (c.bosh.polling_inactivity < c.bosh.inactivity) {
        ctx.error(ctx.where_any({"bosh.polling_inactivity", "bosh.inactivity"}),
                  "bosh.polling_inactivity: must be at least bosh.inactivity (XEP-0124 §12: polling sessions "
                  "get a longer inactivity)");
    }
    // The client may have `requests` = hold + 1 responses in flight (BOSH-RESP-4, GAP-5), each
    // of which it may ask to have retransmitted (XEP-0124 §14.3).
    if (c.bosh.max_cached_responses < static_cast<std::size_t>(c.bosh.max_hold) + 1) {
        ctx.error(ctx.where_any({"bosh.max_cached_responses", "bosh.max_hold"}),
                  "bosh.max_cached_responses: must be at least bosh.max_hold + 1 (" +
                      std::to_string(c.bosh.max_hold + 1) + "), the number of requests a client may have open");
    }
    // One maximal stanza from the server must fit in a session's queue, or it could never be
    // delivered.
    if (c.bosh.max_queued_bytes < c.xml.max_element_bytes) {
        ctx.error(ctx.where_any({"bosh.max_queued_bytes", "xml.max_stanza_bytes"}),
                  "bosh.max_queued_bytes: must be at least xml.max_stanza_bytes (" +
                      std::to_string(c.xml.max_element_bytes) + ")");
    }
    // WS-KA-2/3: the connection is declared dead only after a Ping has had time to be answered.
    if (c.websocket.idle_timeout <= c.websocket.ping_interval) {
        ctx.error(ctx.where_any({"websocket.idle_timeout", "websocket.ping_interval"}),
                  "websocket.idle_timeout: " + format_duration(c.websocket.idle_timeout) +
                      " must be greater than websocket.ping_interval " + format_duration(c.websocket.ping_interval) +
                      " (a Ping needs time to be answered)");
    }
    // WS-SOU-2: a client reached over TLS must never be sent to a plaintext endpoint.
    if (c.websocket.see_other_uri.starts_with("ws://")) {
        const auto& ls = c.http.listen;
        const auto tls = std::find_if(ls.begin(), ls.end(), [](const auto& l) { return l.tls_cert_file.has_value(); });
        if (tls != ls.end()) {
            ctx.error(ctx.where("websocket.see_other_uri"),
                      "websocket.see_other_uri: must be wss:// because http.listen[" +
                          std::to_string(tls - ls.begin()) +
                          "] uses TLS (RFC 7395 §3.6.1: never send a client to a weaker transport)");
        }
    }
    // SEC-LIMIT-3: with a rate, the bucket must hold at least one session or none would start.
    const auto& lim = c.limits;
    if (lim.session_rate_per_address > 0 && lim.session_burst_per_address < 1) {
        ctx.error(ctx.where_any({"limits.session_burst_per_address", "limits.session_rate_per_address"}),
                  "limits.session_burst_per_address: must be at least 1 when limits.session_rate_per_address is "
                  "above 0 (set session_rate_per_address = 0 to switch the rate limit off)");
    }
    // Hysteresis: reading resumes below the low water mark, which must sit under the high one.
    const auto water = [&](std::string_view side, std::size_t low, std::size_t high) {
        if (low >= high) {
            const std::string prefix = "limits." + std::string(side) + "_send_";
            ctx.error(ctx.where_any({prefix + "low_water", prefix + "high_water"}),
                      prefix + "low_water: " + std::to_string(low) + " must be less than " + prefix + "high_water " +
                          std::to_string(high));
        }
    };
    water("client", lim.client_send_low_water, lim.client_send_high_water);
    water("upstream", lim.upstream_send_low_water, lim.upstream_send_high_water);
    if (lim.breaker_open > lim.breaker_open_max) {
        ctx.error(ctx.where_any({"limits.breaker_open", "limits.breaker_open_max"}),
                  "limits.breaker_open: " + format_duration(lim.breaker_open) + " exceeds limits.breaker_open_max " +
                      format_duration(lim.breaker_open_max) + " (the open period doubles up to the maximum)");
    }
    // Only when no domain was written at all (or `domain = []`): a domain that failed
    // validation has its own error already.
    const auto* domain_array = ctx.where("upstream.domain");
    const bool none_written =
        domain_array == nullptr || !domain_array->is_array() || domain_array->as_array().empty();
    if (c.upstream.domains.empty() && !c.upstream.allow_any_domain && none_written) {
        const auto* at = ctx.where_any({"upstream.domain", "upstream.allow_any_domain"});
        ctx.error(at, "upstream: no [[upstream.domain]] and allow_any_domain = false: every session would be "
                      "refused; add a domain");
    }
}

/// toml11's messages start "[error] toml::parse_xxx: "; keep what follows.
std::string syntax_message(const toml::syntax_error& e)
{
    std::string first(e.what());
    first = first.substr(0, first.find('\n'));
    if (first.starts_with("[error] ")) {
        first.erase(0, 8);
    }
    if (first.starts_with("toml::")) {
        if (const auto colon = first.find(": "); colon != std::string::npos) {
            first.erase(0, colon + 2);
        }
    }
    std::string msg = "TOML syntax error: " + first;
    if (first.find("table (") != std::string::npos && first.find("already exists") != std::string::npos) {
        // toml11 3.7 refuses [http] after [[http.listen]] although TOML 1.0 allows it.
        msg += " (write a [section] before its [[section.sub]] arrays)";
    }
    return msg;
}

load_result load_stream(std::istream& in, const std::string& name, fs::path base_dir, const load_options& opt)
{
    context ctx(name, std::move(base_dir), opt);
    // TOML 1.0: "A TOML file must be a valid UTF-8 encoded Unicode document." Checked before
    // toml11 sees the text: toml11 3.7 reads past its buffer on some invalid sequences
    // (found by tests/fuzz/config_loader).
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (const auto bad = core::first_invalid_utf8(text); bad != std::string::npos) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
        ctx.error_at_line(static_cast<std::uint_least32_t>(line),
                          "TOML 1.0 requires UTF-8: byte " + std::to_string(bad) + " is not valid UTF-8");
        return ctx.take_errors();
    }
    std::istringstream utf8_in(text);
    tvalue root;
    try {
        root = toml::parse<toml::discard_comments, std::map, std::vector>(utf8_in, name);
    } catch (const toml::syntax_error& e) {
        ctx.error_at_line(e.location().line(), syntax_message(e));
        return ctx.take_errors();
    } catch (const std::exception& e) {
        ctx.error(nullptr, std::string("cannot parse: ") + e.what());
        return ctx.take_errors();
    }

    config c;
    try {
        table_reader top(ctx, root, "");
        if (const auto* t = top.get_table("server")) {
            read_server(ctx, *t, c.server);
        }
        if (const auto* t = top.get_table("http")) {
            read_http(ctx, *t, c.http);
        }
        if (const auto* t = top.get_table("bosh")) {
            read_bosh(ctx, *t, c.bosh);
        }
        if (const auto* t = top.get_table("websocket")) {
            read_websocket(ctx, *t, c.websocket);
        }
        if (const auto* t = top.get_table("xml")) {
            read_xml(ctx, *t, c.xml);
        }
        if (const auto* t = top.get_table("upstream")) {
            read_upstream(ctx, *t, c.upstream);
        }
        if (const auto* t = top.get_table("limits")) {
            read_limits(ctx, *t, c.limits);
        }
        if (const auto* t = top.get_table("admin")) {
            read_admin(ctx, *t, c.admin);
        }
        top.finish();
        cross_check(ctx, c);
    } catch (const std::exception& e) {
        // Defensive: toml11 accessors throw on type mismatches we failed to guard.
        ctx.error(nullptr, std::string("internal error while reading the configuration: ") + e.what());
    }
    if (!ctx.ok()) {
        return ctx.take_errors();
    }
    return c;
}

} // namespace

load_result load_file(const std::string& path, const load_options& opt)
{
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
        std::error_code ec;
        const bool exists = fs::exists(path, ec);
        return std::vector<load_error>{
            {path, exists ? "cannot open the configuration file for reading" : "configuration file not found"}};
    }
    std::error_code ec;
    const auto abs = fs::absolute(path, ec);
    fs::path base = ec ? fs::path(path).parent_path() : abs.parent_path();
    return load_stream(in, path, std::move(base), opt);
}

load_result load_string(const std::string& text, const std::string& name, const load_options& opt)
{
    std::istringstream in(text);
    return load_stream(in, name, fs::path(name).parent_path(), opt);
}

load_result load(const std::string& path, const overrides& ov, const load_options& opt)
{
    auto r = load_file(path, opt);
    if (auto* c = std::get_if<config>(&r)) {
        auto errors = apply_overrides(*c, ov);
        if (!errors.empty()) {
            return errors;
        }
    }
    return r;
}

} // namespace boshgate::config
