#include "boshgate/xml/stream_parser.hpp"

#include <string>

namespace boshgate::xml {

namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "boshgate.xml"; }
    std::string message(int ev) const override
    {
        return std::string(reason(static_cast<errc>(ev)));
    }
};

} // namespace

std::string_view reason(errc e) noexcept
{
    switch (e) {
    case errc::not_well_formed:
        return "RFC 6120 §11.3, XEP-0124 §6: not well-formed or not namespace-well-formed XML";
    case errc::restricted_xml:
        return "RFC 6120 §11.1: comments, processing instructions, DTDs and entity references "
               "other than the five predefined ones are not allowed";
    case errc::invalid_utf8:
        return "RFC 6120 §11.6: input is not UTF-8";
    case errc::too_deep:
        return "RFC 6120 §13.12: element nesting exceeds the configured depth limit";
    case errc::element_too_large:
        return "RFC 6120 §13.12: element exceeds the configured size limit";
    case errc::text_at_top_level:
        return "XEP-0124 §6, RFC 6120 §11.7: only whitespace may appear between top-level "
               "elements";
    case errc::incomplete_document:
        return "XEP-0124 §6: the body is not a complete XML document";
    case errc::trailing_content:
        return "XEP-0124 §6: content follows the end of the root element";
    case errc::too_many_namespaces:
        return "RFC 6120 §13.12: namespace declarations in scope exceed the configured limit";
    }
    return "unknown boshgate.xml error";
}

const boost::system::error_category& error_category() noexcept
{
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

} // namespace boshgate::xml
