#pragma once
// A response's bytes as Beast writes them, in one buffer (issue 9: CPU per message).
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace boshgate::http {

using string_response = boost::beast::http::response<boost::beast::http::string_body>;

/// Status line and fields from the fields' own writer (what Beast's serializer and its
/// `operator<<` for a header use), walked once, then the body as it is. For a response whose
/// length is its Content-Length (prepare_payload() has run, or a HEAD answer kept the GET's),
/// never chunked: the bytes are then those Beast's serializer writes. The serializer wraps
/// the same sequence in prefix and suffix views that it walks again on every step, some
/// 4,000 instructions per reply. `out` is overwritten.
void serialize(const string_response& res, std::string& out);

} // namespace boshgate::http
