#include "boshgate/xml/stream_parser.hpp"

#include "boshgate/xml/tree.hpp"
#include "expat_support.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace boshgate::xml {

namespace {

/// Input is handed to expat in slices of at most this many bytes, and the size limits are
/// checked between slices. This bounds expat's internal buffer (which holds the unparsed
/// tail of a token) as well as ours, even when one feed() brings megabytes.
constexpr std::size_t slice_bytes = 32 * 1024;

constexpr std::size_t no_pos = std::numeric_limits<std::size_t>::max();

bool is_xml_space(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct ns_binding {
    std::string prefix; ///< "" for the default namespace
    std::string uri;    ///< "" when the default namespace is undeclared (xmlns='')
};

} // namespace

// All byte positions below are document-relative: XML_GetCurrentByteIndex (which expat
// restarts at 0 on XML_ParserReset), shifted back by the primer after release_idle().
struct stream_parser::impl final : detail::expat_base {
    handler& sink;
    limits lim;
    options opt;
    bool document_mode = false;
    /// One of a thread's reused document parsers (parse_document): expat sits inside a
    /// synthetic root that is never reported, and each document is a child of it.
    bool multi_document = false;
    /// Where open_root builds the root it delivers, when set: storage that outlives the
    /// document (the reused document parser's), filled in place so that the strings and the
    /// attribute list keep their capacity from document to document; a handler that swaps
    /// it with storage of its own gets a filled root and gives buffers back. Null: a fresh
    /// root_open per root (a stream has one root; no storage kept per stream).
    root_open* root_storage = nullptr;

    // ---- document state
    unsigned depth = 0; ///< open elements, root included
    bool root_closed = false;
    std::vector<ns_binding> root_ns; ///< declarations on the root start tag, in order
    bool root_has_prefixes = false;
    std::string root_qname; ///< the root's name as written (rebuilds the primer)

    // ---- released parser (release_idle): expat is rebuilt on the next feed() by parsing a
    // primer, a start tag with the root's name and declarations; expat's positions then
    // count the primer's bytes, which primer_len / primer_base map back to the document's.
    bool priming = false;         ///< the primer is being parsed: no events, no limits
    std::size_t primer_len = 0;   ///< bytes of the primer expat parsed first (0: none)
    std::size_t primer_base = 0;  ///< document position of the first byte after the primer

    // ---- top-level element in progress (depth >= 2)
    std::size_t elem_start = 0;
    std::size_t elem_qname_size = 0;
    std::string elem_ns;
    std::string elem_local;
    bool elem_own_default = false;      ///< its start tag has xmlns='...'
    bool pending_own_default = false;   ///< xmlns= seen for the element about to start
    std::vector<std::size_t> needed;    ///< indices into root_ns of prefixes it relies on
    /// Prefixes ("" for a default namespace) declared on the open elements below the root,
    /// innermost last. An entry is pushed when its element starts and popped when it ends,
    /// so this holds only what is in scope now, at most limits::max_namespace_decls minus
    /// root_ns.size() entries (SEC-XML-1).
    std::vector<std::string> inner_decls;

    // ---- bytes
    std::string pending;          ///< bytes [cur_base - pending.size(), cur_base)
    std::string_view cur;         ///< slice being parsed
    std::size_t cur_base = 0;     ///< position of cur[0] (= end of the input seen so far)
    std::size_t feed_base = 0;    ///< position of the first byte of the current feed()
    /// Earliest position still needed (no_pos: none). Never beyond the end of the last event
    /// expat reported: expat may hold unparsed bytes back (reparse deferral) and report
    /// several events later at once, so bytes it has not parsed yet must stay available.
    std::size_t retain_from = 0;
    std::size_t limit_mark = 0;   ///< start of the unit the size limit applies to (no_pos: none)
    std::size_t event_end = 0;    ///< end of the event whose callback is running

    // ---- callback state
    bool in_callback = false;
    bool reset_requested = false;
    std::exception_ptr exception;

    impl(handler& h, limits l, options o) : sink(h), lim(l), opt(o) { install(); }

    void install()
    {
        install_restrictions();
        // Deferral stays on while slices of one feed() are parsed; see force_parse().
        set_reparse_deferral(true);
        XML_SetElementHandler(parser, on_start, on_end);
        XML_SetNamespaceDeclHandler(parser, on_ns_start, on_ns_end);
        XML_SetCharacterDataHandler(parser, on_text);
    }

    void fresh_document()
    {
        reset_parser();
        install();
        clear_document(0);
        priming = false;
        reset_requested = false;
        exception = nullptr;
    }

    /// A reused document parser: the previous document ended cleanly (parse_document), so
    /// expat is back inside its synthetic root with nothing held but whitespace. Document
    /// state starts afresh; positions count from the first byte fed next (everything fed
    /// so far is before it).
    void next_document()
    {
        clear_document(parsed_bytes);
        XML_SetCharacterDataHandler(parser, on_text);
    }

    /// Document state as before its first byte; expat's positions from `expat_offset` on
    /// are the document's from 0.
    void clear_document(std::size_t expat_offset)
    {
        depth = 0;
        root_closed = false;
        root_ns.clear();
        root_has_prefixes = false;
        root_qname.clear();
        primer_len = expat_offset;
        primer_base = 0;
        elem_start = 0;
        elem_qname_size = 0;
        elem_ns.clear();
        elem_local.clear();
        elem_own_default = false;
        pending_own_default = false;
        needed.clear();
        inner_decls.clear();
        pending.clear();
        cur = {};
        cur_base = 0;
        feed_base = 0;
        retain_from = 0;
        limit_mark = 0;
        event_end = 0;
    }

    bool halted() const noexcept { return failed() || reset_requested || exception != nullptr; }

    static impl& self(void* ud) noexcept { return static_cast<impl&>(expat_base::from(ud)); }

    std::size_t current_index() const noexcept
    {
        XML_Index i = XML_GetCurrentByteIndex(parser);
        std::size_t at = i < 0 ? 0 : static_cast<std::size_t>(i);
        return at < primer_len ? primer_base : at - primer_len + primer_base;
    }

    std::size_t current_end() const noexcept
    {
        int count = XML_GetCurrentByteCount(parser);
        return current_index() + (count < 0 ? 0 : static_cast<std::size_t>(count));
    }

    /// Append bytes [from, to) of the document; they lie in `pending` and/or `cur`.
    void copy_range(std::string& out, std::size_t from, std::size_t to) const
    {
        if (from < cur_base) {
            std::size_t pending_base = cur_base - pending.size();
            std::size_t stop = std::min(to, cur_base);
            out.append(pending, from - pending_base, stop - from);
            from = stop;
        }
        if (from < to) {
            out.append(cur.data() + (from - cur_base), to - from);
        }
    }

    /// Run a user callback: exceptions are parked and rethrown by feed(); a reset request
    /// stops expat after this event.
    template <class F>
    void deliver(F&& f)
    {
        in_callback = true;
        try {
            std::forward<F>(f)();
        } catch (...) {
            exception = std::current_exception();
        }
        in_callback = false;
        if (exception != nullptr || reset_requested) {
            XML_StopParser(parser, XML_FALSE);
        }
    }

    // ---------------------------------------------------------------- namespace tracking

    /// A declaration inside the current top-level element binds `prefix` (bounded scan).
    bool inner_bound(std::string_view prefix) const noexcept
    {
        return std::find(inner_decls.rbegin(), inner_decls.rend(), prefix) != inner_decls.rend();
    }

    /// A prefix used inside the current top-level element: if no declaration inside the
    /// element binds it, the binding comes from the root and must be copied (BOSH-XML-14).
    void note_prefix(std::string_view prefix)
    {
        if (prefix.empty() || prefix == "xml") {
            return;
        }
        if (inner_bound(prefix)) {
            return;
        }
        for (std::size_t i = 0; i < root_ns.size(); ++i) {
            if (root_ns[i].prefix == prefix) {
                if (std::find(needed.begin(), needed.end(), i) == needed.end()) {
                    needed.push_back(i);
                }
                return;
            }
        }
    }

    void note_prefixes(const detail::name_parts& name, const XML_Char** atts)
    {
        if (!root_has_prefixes) {
            return;
        }
        note_prefix(name.prefix);
        for (const XML_Char** a = atts; *a != nullptr; a += 2) {
            note_prefix(detail::split_name(*a).prefix);
        }
    }

    static void XMLCALL on_ns_start(void* ud, const XML_Char* prefix, const XML_Char* uri)
    {
        impl& s = self(ud);
        if (s.halted() || s.priming) {
            return; // the primer re-declares what root_ns already holds
        }
        // SEC-XML-1: bound what is in scope (and so every scan of it), whatever the stream.
        if (s.root_ns.size() + s.inner_decls.size() >= s.lim.max_namespace_decls) {
            s.fail(errc::too_many_namespaces, detail::why::too_many_namespaces);
            return;
        }
        // Declarations arrive before the start handler of the element carrying them, so
        // `depth` is still the parent's depth here.
        if (s.depth == 0) {
            s.root_ns.push_back({prefix != nullptr ? prefix : "", uri != nullptr ? uri : ""});
            s.root_has_prefixes = s.root_has_prefixes || prefix != nullptr;
            return;
        }
        if (prefix == nullptr && s.depth == 1) {
            s.pending_own_default = true;
        }
        s.inner_decls.emplace_back(prefix != nullptr ? prefix : "");
    }

    /// expat reports the end of each declaration right after the end handler of the element
    /// carrying it (so `depth` is the parent's again). The innermost binding of the prefix
    /// is that element's. The root's declarations (depth 0 by then) stay until reset.
    static void XMLCALL on_ns_end(void* ud, const XML_Char* prefix)
    {
        impl& s = self(ud);
        if (s.halted() || s.depth == 0) {
            return;
        }
        std::string_view p = prefix != nullptr ? prefix : "";
        auto it = std::find(s.inner_decls.rbegin(), s.inner_decls.rend(), p);
        if (it != s.inner_decls.rend()) {
            s.inner_decls.erase(std::next(it).base());
        }
    }

    // ---------------------------------------------------------------- elements

    static void XMLCALL on_start(void* ud, const XML_Char* name, const XML_Char** atts)
    {
        impl& s = self(ud);
        if (s.halted()) {
            return;
        }
        if (s.depth + 1 > s.lim.max_depth) {
            s.fail(errc::too_deep, detail::why::too_deep);
            return;
        }
        detail::name_parts parts = detail::split_name(name);
        if (s.priming) {
            // The primer's root: already reported when the stream began. A reused document
            // parser's synthetic root is never reported; documents start at depth 0 in it.
            s.depth = s.multi_document ? 0 : 1;
        } else if (s.depth == 0) {
            if (s.root_closed) {
                // Only a reused document parser gets here: a second root element.
                s.fail(errc::trailing_content, reason(errc::trailing_content));
                return;
            }
            s.open_root(parts, atts);
        } else if (s.depth == 1) {
            s.open_top_level(parts, atts);
        } else {
            if (s.limit_mark != no_pos &&
                s.current_index() - s.limit_mark > s.lim.max_element_bytes) {
                s.fail(errc::element_too_large, detail::why::too_large);
                return;
            }
            s.note_prefixes(parts, atts);
            ++s.depth;
        }
    }

    void open_root(const detail::name_parts& parts, const XML_Char** atts)
    {
        std::size_t end = current_end();
        if (end > lim.max_element_bytes) {
            fail(errc::element_too_large, detail::why::too_large);
            return;
        }
        root_open fresh;
        root_open& root = root_storage != nullptr ? *root_storage : fresh;
        parts.qname_to(root.qname);
        root_qname = root.qname;
        root.ns.assign(parts.ns);
        root.local.assign(parts.local);
        std::size_t n_attrs = root_ns.size();
        for (const XML_Char** a = atts; *a != nullptr; a += 2) {
            ++n_attrs;
        }
        // Assigned in place: existing entries keep their strings' capacity, and a fresh
        // list is allocated once, not once per doubling.
        root.attrs.resize(n_attrs);
        auto out = root.attrs.begin();
        for (const ns_binding& b : root_ns) {
            out->qname.assign(b.prefix.empty() ? "xmlns" : "xmlns:");
            out->qname.append(b.prefix);
            out->value.assign(b.uri);
            out->ns.clear();
            ++out;
        }
        for (const XML_Char** a = atts; *a != nullptr; a += 2) {
            detail::name_parts an = detail::split_name(a[0]);
            an.qname_to(out->qname);
            out->value.assign(a[1]);
            out->ns.assign(an.ns);
            ++out;
        }
        depth = 1;
        retain_from = end;
        limit_mark = end;
        event_end = end;
        deliver([&] { sink.on_open(std::move(root)); });
    }

    void open_top_level(const detail::name_parts& parts, const XML_Char** atts)
    {
        elem_start = current_index();
        retain_from = elem_start;
        limit_mark = elem_start;
        elem_qname_size = parts.qname_size();
        elem_ns.assign(parts.ns);
        elem_local.assign(parts.local);
        elem_own_default = pending_own_default;
        pending_own_default = false;
        needed.clear();
        note_prefixes(parts, atts);
        // Character data inside stanzas is relayed as bytes; no need to see it.
        XML_SetCharacterDataHandler(parser, nullptr);
        depth = 2;
    }

    static void XMLCALL on_end(void* ud, const XML_Char*)
    {
        impl& s = self(ud);
        if (s.halted()) {
            return;
        }
        if (s.depth == 1) {
            s.depth = 0;
            s.root_closed = true;
            s.retain_from = no_pos;
            s.limit_mark = no_pos;
            s.event_end = s.current_end();
            s.deliver([&] { s.sink.on_close(); });
        } else if (s.depth == 2) {
            s.close_top_level();
        } else {
            --s.depth;
        }
    }

    void close_top_level()
    {
        std::size_t end = current_end();
        if (end - elem_start > lim.max_element_bytes) {
            fail(errc::element_too_large, detail::why::too_large);
            return;
        }
        element el;
        el.ns = std::move(elem_ns);
        el.local = std::move(elem_local);
        elem_ns.clear();
        elem_local.clear();

        // Namespace declarations the element relied on from the root, inserted right after
        // its name (BOSH-XML-10, BOSH-XML-14, RFC 6120 §4.8.5).
        std::string decls;
        if (opt.redeclare_default_ns && !elem_own_default) {
            for (const ns_binding& b : root_ns) {
                if (b.prefix.empty() && !b.uri.empty()) {
                    decls += " xmlns='";
                    decls += escape_attr(b.uri);
                    decls += '\'';
                }
            }
        }
        std::sort(needed.begin(), needed.end());
        for (std::size_t i : needed) {
            decls += " xmlns:";
            decls += root_ns[i].prefix;
            decls += "='";
            decls += escape_attr(root_ns[i].uri);
            decls += '\'';
        }
        std::size_t name_end = elem_start + 1 + elem_qname_size;
        el.xml.reserve(end - elem_start + decls.size());
        copy_range(el.xml, elem_start, name_end);
        el.xml += decls;
        copy_range(el.xml, name_end, end);

        depth = 1;
        elem_own_default = false;
        retain_from = end;
        limit_mark = end;
        event_end = end;
        XML_SetCharacterDataHandler(parser, on_text);
        deliver([&] { sink.on_element(std::move(el)); });
    }

    // Only registered while no top-level element is open.
    static void XMLCALL on_text(void* ud, const XML_Char* text, int len)
    {
        impl& s = self(ud);
        if (s.halted() || s.depth != 1) {
            return;
        }
        for (int i = 0; i < len; ++i) {
            if (!is_xml_space(text[i])) {
                s.fail(errc::text_at_top_level, reason(errc::text_at_top_level));
                return;
            }
        }
        // Whitespace between elements is dropped (RFC 6120 §11.7, C2S-XML-3).
        s.retain_from = s.current_end();
        s.limit_mark = s.retain_from;
    }

    // ---------------------------------------------------------------- driving

    std::size_t feed(std::string_view bytes, boost::system::error_code& ec)
    {
        ec = {};
        if (failed()) {
            ec = make_error_code(error);
            return 0;
        }
        if (cur_base < 2 && detail::starts_as_utf16(cur_base, bytes)) {
            fail(errc::invalid_utf8, detail::why::utf16);
            return stop_with_error(bytes.size(), ec);
        }
        if (parser == nullptr && !bytes.empty()) {
            rebuild();
        }
        feed_base = cur_base;
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            std::size_t n = std::min(slice_bytes, bytes.size() - offset);
            cur = bytes.substr(offset, n);
            XML_Status status = parse(cur.data(), n, false);
            if (std::optional<std::size_t> stop = after_parse(status, bytes.size(), ec)) {
                return *stop;
            }
            keep_tail(n);
            offset += n;
            if (over_limit()) {
                // expat may still hold a complete token back (reparse deferral); make sure
                // before refusing.
                if (std::optional<std::size_t> stop = force_parse(bytes.size(), ec)) {
                    return *stop;
                }
                if (over_limit()) {
                    fail(errc::element_too_large, detail::why::too_large);
                    return stop_with_error(bytes.size(), ec);
                }
            }
        }
        // Make expat parse everything it has now, so that nothing complete is held back
        // waiting for bytes a request/response peer will not send (see force_parse).
        if (!document_mode && !bytes.empty()) {
            if (std::optional<std::size_t> stop = force_parse(bytes.size(), ec)) {
                return *stop;
            }
            // SEC-XML-1: names expat interned are only freed with its state.
            if (parsed_bytes > detail::stream_parser_rebuild_after) {
                release_idle();
            }
        }
        return bytes.size();
    }

    /// Between top-level elements with no partial token held, everything expat knows is in
    /// root_qname and root_ns: free it (about 12 KiB per stream with a stream header) and
    /// rebuild it on the next feed(). Not in document mode, not after the root closed, not
    /// while a callback runs.
    bool between_elements() const noexcept
    {
        return !failed() && !root_closed && depth == 1 && retain_from >= cur_base && pending.empty();
    }

    bool release_idle() noexcept
    {
        if (parser == nullptr) {
            return true;
        }
        const bool between_elements = depth == 1 && retain_from >= cur_base && pending.empty();
        const bool nothing_fed = depth == 0 && !root_closed && cur_base == 0;
        if (document_mode || in_callback || halted() || !(between_elements || nothing_fed)) {
            return false;
        }
        free_parser();
        std::string().swap(pending);
        std::vector<std::size_t>().swap(needed);
        std::vector<std::string>().swap(inner_decls);
        return true;
    }

    /// A new expat parser in the released state: for a stream not yet begun, just a fresh
    /// parser; inside the root, one that has parsed the primer (the root start tag rebuilt
    /// from root_qname and root_ns, with deferral off so it is reported at once).
    void rebuild()
    {
        create_parser();
        install();
        primer_len = 0;
        primer_base = 0;
        if (depth == 0) {
            return;
        }
        std::string primer = "<" + root_qname;
        for (const ns_binding& b : root_ns) {
            primer += b.prefix.empty() ? " xmlns='" : " xmlns:" + b.prefix + "='";
            primer += escape_attr(b.uri);
            primer += '\'';
        }
        primer += '>';
        priming = true;
        depth = 0;
        set_reparse_deferral(false);
        XML_Status status = parse(primer.data(), primer.size(), false);
        set_reparse_deferral(true);
        priming = false;
        if (status != XML_STATUS_OK || depth != 1) {
            // Cannot happen: the primer is built from what expat accepted before.
            depth = 1;
            fail(errc::not_well_formed, "internal: the saved stream header did not re-parse");
            return;
        }
        primer_len = primer.size();
        primer_base = cur_base;
        XML_SetCharacterDataHandler(parser, on_text);
    }

    bool over_limit() const noexcept
    {
        return limit_mark != no_pos && cur_base - limit_mark > lim.max_element_bytes;
    }

    /// An expat without reparse deferral (older than 2.6 / Debian's 2.5.0-1+deb12u2) always
    /// parses eagerly, which is the behaviour force_parse() restores: nothing to switch.
    void set_reparse_deferral([[maybe_unused]] bool on) noexcept
    {
#if defined(BOSHGATE_HAVE_XML_REPARSE_DEFERRAL)
        XML_SetReparseDeferralEnabled(parser, on ? XML_TRUE : XML_FALSE);
#endif
    }

    /// Since expat 2.6 (and Debian's 2.5.0-1+deb12u*), expat defers re-parsing a partial
    /// token until the buffered input has doubled, to avoid quadratic work on large tokens
    /// (CVE-2023-52425). A stream cannot wait for input that may never come, so at the end
    /// of a read we re-parse once with deferral off, as the expat maintainers suggest for
    /// streams (deferral still spares re-parses between the slices of one large read). The
    /// cost left is one re-scan of the pending partial token per read: a partial token is
    /// small except for a huge start tag, which is bounded by max_element_bytes; dribbling
    /// one byte per read of such a tag needs a hostile upstream server.
    std::optional<std::size_t> force_parse(std::size_t fed, boost::system::error_code& ec)
    {
        cur = {};
        set_reparse_deferral(false);
        XML_Status status = XML_Parse(parser, "", 0, XML_FALSE);
        set_reparse_deferral(true);
        if (std::optional<std::size_t> stop = after_parse(status, fed, ec)) {
            return stop;
        }
        keep_tail(0);
        return std::nullopt;
    }

    /// Common handling after XML_Parse returned: a parked exception, a reset request or an
    /// error ends this feed() call (with the value it returns); otherwise nullopt.
    std::optional<std::size_t> after_parse(XML_Status status, std::size_t fed,
                                           boost::system::error_code& ec)
    {
        if (exception != nullptr) {
            std::exception_ptr e = exception;
            fresh_document();
            std::rethrow_exception(e);
        }
        if (reset_requested) {
            std::size_t used = event_end > feed_base ? std::min(event_end - feed_base, fed) : 0;
            fresh_document();
            return used;
        }
        if (status != XML_STATUS_OK) {
            take_expat_error(document_mode);
            return stop_with_error(fed, ec);
        }
        return std::nullopt;
    }

    std::size_t stop_with_error(std::size_t consumed, boost::system::error_code& ec)
    {
        pending.clear();
        pending.shrink_to_fit();
        cur = {};
        ec = make_error_code(error);
        return consumed;
    }

    /// After a slice was parsed: keep only the bytes from retain_from on.
    void keep_tail(std::size_t n)
    {
        std::size_t end = cur_base + n;
        if (retain_from >= end) {
            pending.clear();
            // Give back the memory of a large element once it is done; a session keeps
            // at most one slice's worth between elements.
            if (pending.capacity() > slice_bytes) {
                pending.shrink_to_fit();
            }
        } else {
            std::size_t pending_base = cur_base - pending.size();
            if (retain_from > pending_base) {
                pending.erase(0, std::min(retain_from - pending_base, pending.size()));
            }
            std::size_t from = std::max(retain_from, cur_base);
            if (end > from) {
                pending.append(cur.data() + (from - cur_base), end - from);
            }
        }
        cur_base = end;
        cur = {};
    }

    boost::system::error_code finish_document()
    {
        if (!failed()) {
            if (XML_Parse(parser, "", 0, XML_TRUE) != XML_STATUS_OK) {
                if (exception != nullptr) {
                    std::rethrow_exception(exception);
                }
                take_expat_error(true);
            } else if (!root_closed) {
                fail(errc::incomplete_document, reason(errc::incomplete_document));
            }
        }
        return failed() ? make_error_code(error) : boost::system::error_code{};
    }
};

std::optional<std::string_view> root_open::attr(std::string_view name) const
{
    for (const attribute& a : attrs) {
        if (a.qname == name) {
            return std::string_view(a.value);
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> root_open::attr_ns(std::string_view ns_uri,
                                                   std::string_view local_name) const
{
    constexpr std::string_view xml_ns = "http://www.w3.org/XML/1998/namespace";
    for (const attribute& a : attrs) {
        std::string_view q = a.qname;
        if (q == "xmlns" || q.starts_with("xmlns:")) {
            continue;
        }
        std::size_t colon = q.find(':');
        if (colon == std::string_view::npos) {
            if (ns_uri.empty() && q == local_name) {
                return std::string_view(a.value);
            }
            continue;
        }
        if (q.substr(colon + 1) != local_name) {
            continue;
        }
        std::string_view prefix = q.substr(0, colon);
        std::optional<std::string_view> uri;
        if (!a.ns.empty()) {
            uri = a.ns;
        } else if (prefix == "xml") {
            uri = xml_ns;
        } else {
            for (const attribute& d : attrs) {
                std::string_view dq = d.qname;
                if (dq.size() == prefix.size() + 6 && dq.starts_with("xmlns:") &&
                    dq.substr(6) == prefix) {
                    uri = d.value;
                }
            }
        }
        if (uri == ns_uri) {
            return std::string_view(a.value);
        }
    }
    return std::nullopt;
}

stream_parser::stream_parser(handler& h, limits lim, options opt)
    : impl_(std::make_unique<impl>(h, lim, opt))
{
}

stream_parser::~stream_parser() = default;

std::size_t stream_parser::feed(std::string_view bytes, boost::system::error_code& ec)
{
    return impl_->feed(bytes, ec);
}

bool stream_parser::between_elements() const noexcept
{
    return impl_->between_elements();
}

bool stream_parser::release_idle() noexcept
{
    return impl_->release_idle();
}

void stream_parser::request_reset()
{
    if (impl_->document_mode) {
        return;
    }
    if (impl_->in_callback) {
        impl_->reset_requested = true;
    } else {
        impl_->fresh_document();
    }
}

void stream_parser::reset()
{
    request_reset();
}

std::string_view stream_parser::error_reason() const noexcept
{
    return impl_->detail;
}

std::size_t stream_parser::buffered_bytes() const noexcept
{
    return impl_->pending.size();
}

std::size_t stream_parser::namespace_decls_in_scope() const noexcept
{
    return impl_->root_ns.size() + impl_->inner_decls.size();
}

namespace {

/// A document's events, held until it is known to have parsed cleanly. The root is
/// swapped in, not moved: the parser's root storage gets this one's buffers back.
struct held_events final : handler {
    root_open root;
    bool has_root = false;
    std::vector<element> elements;
    bool closed = false;

    void on_open(root_open&& r) override
    {
        std::swap(root, r);
        has_root = true;
    }
    void on_element(element&& el) override { elements.push_back(std::move(el)); }
    void on_close() override { closed = true; }
    void clear()
    {
        has_root = false;
        elements.clear();
        closed = false;
    }
};

bool xml_space_only(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), is_xml_space);
}

} // namespace

/// Documents parsed one after another on a thread share one expat parser, which sits inside
/// a synthetic root (`<w>`, never reported) and takes each document as a child of it: no
/// expat reset and set-up per document, and the names it has interned are found again
/// (issue 9: a BOSH message costs two bodies, and expat's per-document set-up was about a
/// third of each). Only a document that parses cleanly this way and starts with its root's
/// start tag is taken; anything else (an error, a declaration, a comment, text after the
/// root, an incomplete document) is parsed again on its own, exactly as before, and the
/// shared parser is dropped. So events and errors are those of a document parsed alone.
/// The parser is rebuilt every detail::stream_parser_rebuild_after bytes (SEC-XML-1).
struct stream_parser::reused_documents {
    held_events events;
    /// The framer's impl::root_storage. It, events.root and parse_body's collector keep the
    /// capacity of the largest root met on this thread: at most three roots of
    /// about limits::max_element_bytes each (a larger root start tag is refused unbuilt).
    root_open root_storage;
    std::unique_ptr<impl> framer;
    bool busy = false; ///< a handler of a document being delivered parses another

    static reused_documents& of_this_thread()
    {
        thread_local reused_documents r;
        return r;
    }

    bool ready(const limits& lim, const options& opt)
    {
        if (framer == nullptr) {
            framer = std::make_unique<impl>(events, lim, opt);
            impl& f = *framer;
            f.multi_document = true;
            f.root_storage = &root_storage;
            f.priming = true;
            f.set_reparse_deferral(false);
            const XML_Status status = f.parse("<w>", 3, false);
            f.set_reparse_deferral(true);
            f.priming = false;
            if (status != XML_STATUS_OK || f.failed()) {
                framer.reset();
                return false;
            }
        }
        framer->lim = lim;
        framer->opt = opt;
        framer->next_document();
        events.clear();
        return true;
    }

    /// Parses `doc` and delivers its events to `h` if it parses cleanly; false (nothing
    /// delivered) when it must be parsed on its own.
    bool parse(std::string_view doc, handler& h, const limits& lim, const options& opt)
    {
        if (busy || doc.size() < 2 || doc[0] != '<' || doc[1] == '?' || doc[1] == '!' ||
            doc[1] == '/' || detail::starts_as_utf16(0, doc)) {
            return false;
        }
        busy = true;
        struct done {
            reused_documents& r;
            ~done() { r.busy = false; }
        } guard{*this};
        try {
            if (!ready(lim, opt)) {
                return false;
            }
            boost::system::error_code ec;
            framer->feed(doc, ec);
            const impl& f = *framer;
            const bool clean = !ec && !f.failed() && f.root_closed && events.has_root && events.closed &&
                               f.event_end <= doc.size() &&
                               xml_space_only(doc.substr(f.event_end));
            if (!clean || f.parsed_bytes > detail::stream_parser_rebuild_after) {
                framer.reset(); // reset into this thread's pool, or freed
            }
            if (!clean) {
                return false;
            }
        } catch (...) {
            framer.reset();
            throw;
        }
        h.on_open(std::move(events.root));
        for (element& el : events.elements) {
            h.on_element(std::move(el));
        }
        h.on_close();
        return true;
    }
};

boost::system::error_code parse_document(std::string_view doc, handler& h, limits lim, options opt)
{
    if (stream_parser::reused_documents::of_this_thread().parse(doc, h, lim, opt)) {
        return {};
    }
    return parse_document_alone(doc, h, lim, opt);
}

boost::system::error_code parse_document_alone(std::string_view doc, handler& h, limits lim,
                                               options opt)
{
    stream_parser p(h, lim, opt);
    p.impl_->document_mode = true;
    boost::system::error_code ec;
    p.impl_->feed(doc, ec);
    if (ec) {
        return ec;
    }
    return p.impl_->finish_document();
}

} // namespace boshgate::xml
