#include "expat_support.hpp"

#include "boshgate/core/ids.hpp"
#include "boshgate/core/text.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

#include <malloc.h>

namespace boshgate::xml::detail {

namespace {

// ---- restriction handlers (RFC 6120 §11.1). Each stops the parse at once.

void XMLCALL on_comment(void* ud, const XML_Char*)
{
    expat_base::from(ud).fail(errc::restricted_xml, why::comment);
}

void XMLCALL on_pi(void* ud, const XML_Char*, const XML_Char*)
{
    expat_base::from(ud).fail(errc::restricted_xml, why::pi);
}

// Called at "<!DOCTYPE name", before any of the internal subset is read, so no entity of a
// billion-laughs DTD is ever declared, let alone expanded (BOSH-XML-4).
void XMLCALL on_doctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int)
{
    expat_base::from(ud).fail(errc::restricted_xml, why::doctype);
}

void XMLCALL on_entity_decl(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                            const XML_Char*, const XML_Char*, const XML_Char*)
{
    expat_base::from(ud).fail(errc::restricted_xml, why::entity_decl);
}

void XMLCALL on_skipped_entity(void* ud, const XML_Char*, int)
{
    expat_base::from(ud).fail(errc::restricted_xml, why::entity_ref);
}

// The XML declaration itself is allowed (RFC 6120 §11.5), but only with UTF-8 (§11.6). The
// parser is created with UTF-8 forced, so a different declared encoding is otherwise ignored.
void XMLCALL on_xml_decl(void* ud, const XML_Char*, const XML_Char* encoding, int)
{
    if (encoding != nullptr && !core::ascii_iequals(encoding, "UTF-8")) {
        expat_base::from(ud).fail(errc::invalid_utf8, why::encoding);
    }
}

/// Reset parsers kept for reuse on this thread. Creating and freeing an expat parser costs
/// dozens of allocations (the parser, its buffers, tag and binding records, hash tables);
/// every BOSH body is a document of its own and an idle stream releases its parser between
/// stanzas (stream_parser::release_idle), so without reuse a message costs several parsers.
/// XML_ParserReset keeps the allocated blocks and clears the state, handlers and user data.
/// At most `parser_pool_size` per thread. Trivially destructible, so that it stays usable
/// while other objects are destroyed at thread or process exit; `pool_closer` empties it.
struct parser_pool {
    std::array<XML_Parser, parser_pool_size> kept{};
    std::size_t count = 0;
    bool closed = false; ///< the thread is ending: parsers given up are freed, not kept
};

thread_local constinit parser_pool kept_parsers{};

struct pool_closer {
    pool_closer() = default;
    pool_closer(const pool_closer&) = delete;
    pool_closer& operator=(const pool_closer&) = delete;
    ~pool_closer()
    {
        parser_pool& p = kept_parsers;
        while (p.count > 0) {
            XML_ParserFree(p.kept[--p.count]);
        }
        p.closed = true;
    }
};

// ---- expat's allocations, counted (expat_heap_bytes)

thread_local constinit std::int64_t expat_heap = 0;
thread_local constinit std::uint64_t expat_allocs = 0;

void* counted_malloc(std::size_t size)
{
    void* block = std::malloc(size);
    if (block != nullptr) {
        ++expat_allocs;
        expat_heap += static_cast<std::int64_t>(malloc_usable_size(block));
    }
    return block;
}

void* counted_realloc(void* block, std::size_t size)
{
    const std::size_t before = block != nullptr ? malloc_usable_size(block) : 0;
    void* moved = std::realloc(block, size);
    if (moved != nullptr) {
        ++expat_allocs;
        expat_heap += static_cast<std::int64_t>(malloc_usable_size(moved)) -
                      static_cast<std::int64_t>(before);
    }
    return moved;
}

void counted_free(void* block)
{
    if (block != nullptr) {
        expat_heap -= static_cast<std::int64_t>(malloc_usable_size(block));
        std::free(block);
    }
}

constexpr XML_Memory_Handling_Suite counted_memory{counted_malloc, counted_realloc, counted_free};

parser_pool& pool() noexcept
{
    // Constructed on this thread's first use; its destructor runs when the thread ends.
    thread_local pool_closer closer;
    (void)closer;
    return kept_parsers;
}

} // namespace

std::size_t pooled_parsers() noexcept
{
    return pool().count;
}

std::int64_t expat_heap_bytes() noexcept
{
    return expat_heap;
}

std::uint64_t expat_allocations() noexcept
{
    return expat_allocs;
}

bool starts_as_utf16(std::size_t at, std::string_view bytes) noexcept
{
    for (std::size_t pos = at; pos < 2 && pos - at < bytes.size(); ++pos) {
        const auto c = static_cast<unsigned char>(bytes[pos - at]);
        if (c == 0x00 || (pos == 0 && (c == 0xFE || c == 0xFF))) {
            return true;
        }
    }
    return false;
}

std::string name_parts::qname() const
{
    std::string out;
    qname_to(out);
    return out;
}

void name_parts::qname_to(std::string& out) const
{
    out.clear();
    out.reserve(qname_size());
    if (!prefix.empty()) {
        out.append(prefix);
        out.push_back(':');
    }
    out.append(local);
}

name_parts split_name(const XML_Char* name) noexcept
{
    std::string_view s(name);
    name_parts parts;
    std::size_t first = s.find(ns_separator);
    if (first == std::string_view::npos) {
        parts.local = s;
        return parts;
    }
    parts.ns = s.substr(0, first);
    std::string_view rest = s.substr(first + 1);
    std::size_t second = rest.find(ns_separator);
    if (second == std::string_view::npos) {
        parts.local = rest;
    } else {
        parts.local = rest.substr(0, second);
        parts.prefix = rest.substr(second + 1);
    }
    return parts;
}

expat_base::expat_base()
{
    create_parser();
}

expat_base::~expat_base()
{
    free_parser();
}

void expat_base::create_parser()
{
    parser_pool& p = pool();
    parser = nullptr;
    while (p.count > 0 && parser == nullptr) {
        // Reset when it was kept (free_parser), without an encoding: UTF-8 is forced again
        // here (RFC 6120 §11.6). XML_SetEncoding reports a failed allocation of the name,
        // which XML_ParserReset does not (expat would then detect the encoding itself).
        XML_Parser kept = p.kept[--p.count];
        if (XML_SetEncoding(kept, "UTF-8") == XML_STATUS_OK) {
            parser = kept;
        } else {
            XML_ParserFree(kept);
        }
    }
    if (parser == nullptr) {
        // Forcing "UTF-8" overrides any encoding the document declares (RFC 6120 §11.6).
        parser = XML_ParserCreate_MM("UTF-8", &counted_memory, &ns_separator);
        if (parser == nullptr) {
            throw std::bad_alloc();
        }
    }
    parsed_bytes = 0;
    // A secret salt of our own: spares expat's getrandom(2) per parser (core/ids.hpp).
    XML_SetHashSalt(parser, core::process_hash_salt());
}

void expat_base::free_parser() noexcept
{
    if (parser == nullptr) {
        return;
    }
    // A parser that has read much may hold grown buffers and pools: it is not kept.
    parser_pool& p = pool();
    if (!p.closed && p.count < p.kept.size() && parsed_bytes <= parser_pool_max_parsed &&
        XML_ParserReset(parser, nullptr) == XML_TRUE) {
        p.kept[p.count++] = parser;
    } else {
        XML_ParserFree(parser);
    }
    parser = nullptr;
}

XML_Status expat_base::parse(const char* data, std::size_t size, bool final)
{
    parsed_bytes += size;
    return XML_Parse(parser, data, static_cast<int>(size), final ? XML_TRUE : XML_FALSE);
}

void expat_base::fail(errc e, std::string_view why_text)
{
    if (failed()) {
        return;
    }
    error = e;
    detail.assign(why_text);
    if (parser != nullptr) {
        XML_StopParser(parser, XML_FALSE);
    }
}

void expat_base::reset_parser()
{
    if (parser == nullptr) {
        create_parser();
    } else {
        // Only fails for external-entity child parsers, which we never create.
        XML_ParserReset(parser, nullptr);
        if (XML_SetEncoding(parser, "UTF-8") != XML_STATUS_OK) {
            // As in create_parser: never parse with the encoding left to detection.
            XML_ParserFree(parser);
            parser = nullptr;
            create_parser();
        } else {
            XML_SetHashSalt(parser, core::process_hash_salt()); // the reset cleared it
            parsed_bytes = 0;
        }
    }
    error = errc{};
    detail.clear();
}

void expat_base::install_restrictions()
{
    XML_SetUserData(parser, this);
    XML_SetReturnNSTriplet(parser, 1);
    XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetCommentHandler(parser, on_comment);
    XML_SetProcessingInstructionHandler(parser, on_pi);
    XML_SetStartDoctypeDeclHandler(parser, on_doctype);
    XML_SetEntityDeclHandler(parser, on_entity_decl);
    XML_SetSkippedEntityHandler(parser, on_skipped_entity);
    XML_SetXmlDeclHandler(parser, on_xml_decl);
}

void expat_base::take_expat_error(bool document)
{
    if (failed()) {
        return;
    }
    XML_Error code = XML_GetErrorCode(parser);
    auto set = [this](errc e, std::string_view text) {
        error = e;
        detail.assign(text);
    };
    switch (code) {
    case XML_ERROR_INVALID_TOKEN: {
        // expat points at the offending byte. Bad UTF-8 there is §11.6; a valid character
        // that XML forbids (a control character, U+FFFE) or misplaced markup is §11.3.
        int offset = 0;
        int size = 0;
        const char* ctx = XML_GetInputContext(parser, &offset, &size);
        if (ctx != nullptr && offset >= 0 && offset < size &&
            core::utf8_scalar_length(reinterpret_cast<const unsigned char*>(ctx) + offset,
                                     static_cast<std::size_t>(size - offset)) == 0) {
            set(errc::invalid_utf8, "RFC 6120 §11.6: input is not valid UTF-8");
            return;
        }
        break;
    }
    case XML_ERROR_PARTIAL_CHAR:
        set(errc::invalid_utf8, "RFC 6120 §11.6: input ends inside a UTF-8 sequence");
        return;
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
        set(errc::invalid_utf8, why::encoding);
        return;
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_PARAM_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
    case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
        set(errc::restricted_xml, why::entity_ref);
        return;
    case XML_ERROR_NO_ELEMENTS:
    case XML_ERROR_UNCLOSED_TOKEN:
    case XML_ERROR_UNCLOSED_CDATA_SECTION:
        if (document) {
            set(errc::incomplete_document,
                "XEP-0124 §6: the body is not a complete XML document");
            return;
        }
        break;
    case XML_ERROR_JUNK_AFTER_DOC_ELEMENT:
        if (document) {
            set(errc::trailing_content,
                "XEP-0124 §6: content follows the end of the root element");
            return;
        }
        break;
    case XML_ERROR_UNBOUND_PREFIX:
        set(errc::not_well_formed,
            "RFC 6120 §11.2, §4.9.3.2: element or attribute uses an undeclared namespace prefix");
        return;
    default:
        break;
    }
    std::string text = "RFC 6120 §11.3: not well-formed XML (";
    text += XML_ErrorString(code);
    text += ')';
    set(errc::not_well_formed, text);
}

} // namespace boshgate::xml::detail
