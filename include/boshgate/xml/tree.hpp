#pragma once
// A small element tree for the few places that must look inside an element (stream
// features filtering, SASL state). Stanzas themselves are relayed as bytes, never as trees.
#include "boshgate/xml/stream_parser.hpp"

#include <string>
#include <variant>
#include <vector>

namespace boshgate::xml {

struct node;

/// Namespace-resolved element. Serialization re-declares xmlns where an element's
/// namespace differs from its parent's, and prefixed attributes' namespaces as needed.
struct tree {
    std::string ns;
    std::string local;
    std::vector<attribute> attrs; ///< non-namespace-declaration attributes, qname as written
    std::vector<node> children;

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

/// Parse one standalone element (e.g. element::xml). Same restrictions as the framer.
boost::system::error_code parse_tree(std::string_view xml, tree& out, limits lim = {});

/// Serialize; `parent_ns` is the namespace in scope (omit xmlns when equal).
std::string serialize(const tree& t, std::string_view parent_ns = {});

/// Escaping for character data and attribute values (apostrophe-quoted attributes).
std::string escape_text(std::string_view s);
std::string escape_attr(std::string_view s);

} // namespace boshgate::xml
