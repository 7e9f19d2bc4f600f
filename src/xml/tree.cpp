#include "boshgate/xml/tree.hpp"

#include "expat_support.hpp"

#include <climits>

namespace boshgate::xml {

namespace {

/// Builds a tree from expat events. Pointers on the stack stay valid: a vector of children
/// only grows while none of its elements is open.
struct tree_builder final : detail::expat_base {
    tree& root;
    limits lim;
    std::vector<tree*> stack;
    bool started = false;
    std::size_t ns_in_scope = 0; ///< namespace declarations in scope (SEC-XML-1)

    tree_builder(tree& out, limits l) : root(out), lim(l)
    {
        install_restrictions();
        XML_SetElementHandler(parser, on_start, on_end);
        XML_SetCharacterDataHandler(parser, on_text);
        XML_SetNamespaceDeclHandler(parser, on_ns_start, on_ns_end);
    }

    static tree_builder& self(void* ud) noexcept
    {
        return static_cast<tree_builder&>(expat_base::from(ud));
    }

    // Same bound as the framer's (limits::max_namespace_decls, SEC-XML-1).
    static void XMLCALL on_ns_start(void* ud, const XML_Char*, const XML_Char*)
    {
        tree_builder& s = self(ud);
        if (s.failed()) {
            return;
        }
        if (s.ns_in_scope >= s.lim.max_namespace_decls) {
            s.fail(errc::too_many_namespaces, detail::why::too_many_namespaces);
            return;
        }
        ++s.ns_in_scope;
    }

    static void XMLCALL on_ns_end(void* ud, const XML_Char*)
    {
        tree_builder& s = self(ud);
        if (!s.failed() && s.ns_in_scope > 0) {
            --s.ns_in_scope;
        }
    }

    static void XMLCALL on_start(void* ud, const XML_Char* name, const XML_Char** atts)
    {
        tree_builder& s = self(ud);
        if (s.failed()) {
            return;
        }
        if (s.stack.size() + 1 > s.lim.max_depth) {
            s.fail(errc::too_deep, detail::why::too_deep);
            return;
        }
        tree* t = nullptr;
        if (s.stack.empty()) {
            t = &s.root;
            *t = tree{};
            s.started = true;
        } else {
            auto& kids = s.stack.back()->children;
            kids.push_back(node{tree{}});
            t = &std::get<tree>(kids.back().value);
        }
        detail::name_parts parts = detail::split_name(name);
        t->ns = parts.ns;
        t->local = parts.local;
        t->prefix = parts.prefix;
        for (const XML_Char** a = atts; *a != nullptr; a += 2) {
            detail::name_parts an = detail::split_name(a[0]);
            t->attrs.push_back({an.qname(), a[1], std::string(an.ns)});
        }
        s.stack.push_back(t);
    }

    static void XMLCALL on_end(void* ud, const XML_Char*)
    {
        tree_builder& s = self(ud);
        if (!s.failed() && !s.stack.empty()) {
            s.stack.pop_back();
        }
    }

    static void XMLCALL on_text(void* ud, const XML_Char* text, int len)
    {
        tree_builder& s = self(ud);
        if (s.failed() || s.stack.empty() || len <= 0) {
            return;
        }
        auto& kids = s.stack.back()->children;
        if (kids.empty() || !std::holds_alternative<std::string>(kids.back().value)) {
            kids.push_back(node{std::string()});
        }
        std::get<std::string>(kids.back().value).append(text, static_cast<std::size_t>(len));
    }
};

/// Namespace bindings already declared by enclosing output elements.
struct scope {
    std::string_view default_ns;
    std::vector<std::pair<std::string_view, std::string_view>> prefixes;

    const std::string_view* lookup(std::string_view prefix) const noexcept
    {
        for (auto it = prefixes.rbegin(); it != prefixes.rend(); ++it) {
            if (it->first == prefix) {
                return &it->second;
            }
        }
        return nullptr;
    }
};

void declare_prefix(std::string& out, scope& sc, std::string_view prefix, std::string_view uri)
{
    if (prefix.empty() || prefix == "xml" || prefix == "xmlns") {
        return;
    }
    if (const std::string_view* bound = sc.lookup(prefix); bound != nullptr && *bound == uri) {
        return;
    }
    out += " xmlns:";
    out += prefix;
    out += "='";
    out += escape_attr(uri);
    out += '\'';
    sc.prefixes.emplace_back(prefix, uri);
}

void write(std::string& out, const tree& t, scope sc)
{
    out += '<';
    if (!t.prefix.empty()) {
        out += t.prefix;
        out += ':';
    }
    out += t.local;
    if (t.prefix.empty()) {
        if (t.ns != sc.default_ns) {
            out += " xmlns='";
            out += escape_attr(t.ns);
            out += '\'';
            sc.default_ns = t.ns;
        }
    } else {
        declare_prefix(out, sc, t.prefix, t.ns);
    }
    for (const attribute& a : t.attrs) {
        std::size_t colon = a.qname.find(':');
        if (colon != std::string::npos && !a.ns.empty()) {
            declare_prefix(out, sc, std::string_view(a.qname).substr(0, colon), a.ns);
        }
    }
    for (const attribute& a : t.attrs) {
        out += ' ';
        out += a.qname;
        out += "='";
        out += escape_attr(a.value);
        out += '\'';
    }
    if (t.children.empty()) {
        out += "/>";
        return;
    }
    out += '>';
    for (const node& n : t.children) {
        if (const auto* text = std::get_if<std::string>(&n.value)) {
            out += escape_text(*text);
        } else {
            write(out, std::get<tree>(n.value), sc);
        }
    }
    out += "</";
    if (!t.prefix.empty()) {
        out += t.prefix;
        out += ':';
    }
    out += t.local;
    out += '>';
}

} // namespace

const tree* tree::child(std::string_view ns_uri, std::string_view local_name) const
{
    for (const node& n : children) {
        const auto* t = std::get_if<tree>(&n.value);
        if (t != nullptr && t->ns == ns_uri && t->local == local_name) {
            return t;
        }
    }
    return nullptr;
}

std::string tree::text() const
{
    std::string out;
    for (const node& n : children) {
        if (const auto* s = std::get_if<std::string>(&n.value)) {
            out += *s;
        }
    }
    return out;
}

std::optional<std::string_view> tree::attr(std::string_view qname) const
{
    for (const attribute& a : attrs) {
        if (a.qname == qname) {
            return std::string_view(a.value);
        }
    }
    return std::nullopt;
}

boost::system::error_code parse_tree(std::string_view xml, tree& out, limits lim)
{
    if (xml.size() > lim.max_element_bytes || xml.size() > static_cast<std::size_t>(INT_MAX)) {
        return make_error_code(errc::element_too_large);
    }
    if (detail::starts_as_utf16(0, xml)) {
        return make_error_code(errc::invalid_utf8);
    }
    tree_builder b(out, lim);
    if (b.parse(xml.data(), xml.size(), true) != XML_STATUS_OK) {
        b.take_expat_error(true);
    } else if (!b.started || !b.stack.empty()) {
        b.fail(errc::incomplete_document, reason(errc::incomplete_document));
    }
    return b.failed() ? make_error_code(b.error) : boost::system::error_code{};
}

std::string serialize(const tree& t, std::string_view parent_ns)
{
    std::string out;
    scope sc;
    sc.default_ns = parent_ns;
    write(out, t, std::move(sc));
    return out;
}

std::string escape_text(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break; // keeps "]]>" out of character data
        case '\r': out += "&#13;"; break; // would be normalized away on parse
        default: out += c; break;
        }
    }
    return out;
}

std::string escape_attr(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        // Attribute-value normalization would turn these into spaces.
        case '\t': out += "&#9;"; break;
        case '\n': out += "&#10;"; break;
        case '\r': out += "&#13;"; break;
        default: out += c; break;
        }
    }
    return out;
}

} // namespace boshgate::xml
