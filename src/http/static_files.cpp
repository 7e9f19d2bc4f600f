#include "boshgate/http/static_files.hpp"

#include <array>
#include <utility>

namespace boshgate::http {

std::optional<std::string> static_path(std::string_view root, std::string_view target)
{
    if (root.empty() || target.empty() || target.front() != '/') {
        return std::nullopt;
    }
    if (auto q = target.find('?'); q != std::string_view::npos) {
        target = target.substr(0, q);
    }
    std::string rel;
    std::size_t pos = 1;
    while (pos <= target.size()) {
        auto next = target.find('/', pos);
        auto seg = target.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
        bool last = next == std::string_view::npos;
        if (seg.empty()) {
            if (!last) {
                return std::nullopt; // "//"
            }
            break;
        }
        if (seg == "." || seg == ".." || seg.find_first_of(std::string_view("\\%\0", 3)) != std::string_view::npos) {
            return std::nullopt;
        }
        rel += '/';
        rel += seg;
        if (last) {
            break;
        }
        pos = next + 1;
    }
    if (rel.empty() || target.back() == '/') {
        rel += "/index.html";
    }
    return std::string(root) + rel;
}

std::string_view mime_type(std::string_view path)
{
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> types{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".wasm", "application/wasm"},
    }};
    for (const auto& [ext, type] : types) {
        if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) {
            return type;
        }
    }
    return "application/octet-stream";
}

} // namespace boshgate::http
