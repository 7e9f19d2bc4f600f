#include "boshgate/http/wire.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/fields.hpp>

namespace boshgate::http {

void serialize(const string_response& res, std::string& out)
{
    namespace net = boost::asio;
    out.clear();
    boost::beast::http::fields::writer header(res.base(), res.version(), res.result_int());
    const auto buffers = header.get();
    out.reserve(net::buffer_size(buffers) + res.body().size()); // one allocation
    for (auto it = net::buffer_sequence_begin(buffers), end = net::buffer_sequence_end(buffers); it != end; ++it) {
        const net::const_buffer b = *it;
        out.append(static_cast<const char*>(b.data()), b.size());
    }
    out += res.body();
}

} // namespace boshgate::http
