#pragma once
// Pure helpers for the static demo/file handler.
#include <optional>
#include <string>
#include <string_view>

namespace boshgate::http {

/// Map a request target to a path below `root`, or nullopt when it must be refused
/// (not absolute, "..", "." or empty segments, backslashes, NUL, percent-encoding).
/// "/" and paths ending in "/" map to index.html.
std::optional<std::string> static_path(std::string_view root, std::string_view target);

/// Content-Type by file extension (html, js, mjs, css, svg, png, ico, json, txt, map).
std::string_view mime_type(std::string_view path);

} // namespace boshgate::http
