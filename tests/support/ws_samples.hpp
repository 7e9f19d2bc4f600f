#pragma once
// Shared by the WebSocket framing's unit tests and fuzz targets (header-only, no gtest):
// sample client messages and the small limits the fuzz targets use.
#include "boshgate/websocket/framing.hpp"
#include "boshgate/xml/stream_parser.hpp"

#include <string>
#include <vector>

namespace boshgate::test {

/// Well-formed client messages of the kinds a session sends after <open/>: stanzas with and
/// without their own default namespace, an inner prefix, CDATA, an entity, surrounding
/// whitespace, a nonza.
inline const std::vector<std::string> well_formed_client_messages = {
    "<presence xmlns='jabber:client'/>",
    "<message xmlns='jabber:client' to='a@example.com'><body>hi &amp; bye</body></message>",
    "<message xmlns='jabber:client' xmlns:x='urn:x'><x:y/><body><![CDATA[<b>]]></body></message>",
    "<r xmlns='urn:xmpp:sm:3'/>",
    " <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>\n",
    "<x:y xmlns:x='urn:x' x:a='1'/>",
};

/// Framing options for fuzzing: 4 KiB messages, so that the size limit is within reach.
inline websocket::options small_framing_options(bool legacy_framing)
{
    websocket::options opt;
    opt.max_message_bytes = 4096;
    opt.legacy_framing = legacy_framing;
    return opt;
}

/// XML limits matching small_framing_options.
inline xml::limits small_xml_limits()
{
    xml::limits lim;
    lim.max_element_bytes = 4096;
    return lim;
}

} // namespace boshgate::test
