#pragma once
// A small element tree for the few places that must look inside an element (stream
// features filtering, SASL state). Stanzas themselves are relayed as bytes, never as trees.
#include "boshgate/xml/stream_parser.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boshgate::xml {

struct node;

/// Namespace-resolved element. Serialization re-declares xmlns where an element's
/// namespace differs from its parent's, and prefixed attributes' namespaces as needed.
/// A plain value type: no parser state, no references into the parsed text.
struct tree {
    std::string ns;
    std::string local;
    /// Non-namespace-declaration attributes, qname as written; attribute::ns holds the
    /// namespace of prefixed ones (serialize declares it, except for the xml: prefix).
    std::vector<attribute> attrs;
    std::vector<node> children;
    /// Prefix the element was written with ("stream" for <stream:features>); "" means the
    /// default namespace. serialize keeps it, so <stream:features/> stays prefixed.
    std::string prefix = {};

    const tree* child(std::string_view ns_uri, std::string_view local_name) const;
    /// Remove every direct child matching the predicate; returns how many were removed.
    template <class Pred>
    std::size_t remove_children_if(Pred pred);
    std::string text() const; ///< concatenated direct character data
    std::optional<std::string_view> attr(std::string_view qname) const;
};

struct node {
    std::variant<tree, std::string> value; ///< element or character data
};

template <class Pred>
std::size_t tree::remove_children_if(Pred pred)
{
    std::size_t before = children.size();
    std::erase_if(children, [&](const node& n) {
        const auto* t = std::get_if<tree>(&n.value);
        return t != nullptr && pred(*t);
    });
    return before - children.size();
}

/// Parse one standalone element (e.g. element::xml). Same restrictions as the framer
/// (RFC 6120 §11.1, UTF-8 only, limits); whitespace around the element is allowed, anything
/// else after it is trailing_content, an empty or truncated input incomplete_document.
/// On error `out` is left in an unspecified (but valid) state.
boost::system::error_code parse_tree(std::string_view xml, tree& out, limits lim = {});

/// Serialize; `parent_ns` is the default namespace in scope (omit xmlns when equal).
/// The output is namespace-complete standing alone: xmlns / xmlns:p are declared wherever
/// an element or attribute needs them and no enclosing output element declared them.
/// Empty elements are written as <x/>, attribute values apostrophe-quoted.
std::string serialize(const tree& t, std::string_view parent_ns = {});

/// Escaping for character data and attribute values (apostrophe-quoted attributes).
/// Both also escape CR (and escape_attr TAB and LF) as character references, so that
/// parsing the output gives back exactly the input string.
std::string escape_text(std::string_view s);
std::string escape_attr(std::string_view s);

} // namespace boshgate::xml
