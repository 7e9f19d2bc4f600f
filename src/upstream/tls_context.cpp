#include "boshgate/upstream/tls_context.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace boshgate::upstream {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

error_code last_openssl_error()
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        return boost::system::errc::make_error_code(boost::system::errc::io_error);
    }
    return error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
}

} // namespace

boost::system::result<std::shared_ptr<ssl::context>>
make_client_tls_context(const std::optional<std::string>& ca_file)
{
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
        return last_openssl_error();
    }
    // Every SSL made from this context frees its record buffers while idle (tls_socket sets
    // the same per connection; here it also covers any other user of the context).
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
    if (ec) {
        return ec;
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (ec) {
        return ec;
    }
    if (ca_file && !ca_file->empty()) {
        ctx->load_verify_file(*ca_file, ec);
    } else {
        ctx->set_default_verify_paths(ec);
    }
    if (ec) {
        return ec;
    }
    return ctx;
}

boost::system::result<std::shared_ptr<ssl::context>>
tls_context_cache::get(const std::optional<std::string>& ca_file)
{
    std::string key = ca_file.value_or("");
    std::lock_guard lock(mutex_);
    if (auto it = contexts_.find(key); it != contexts_.end()) {
        return it->second;
    }
    auto made = make_client_tls_context(ca_file);
    if (!made) {
        return made.error();
    }
    contexts_.emplace(key, *made);
    return *made;
}

error_code prepare_client_ssl(void* native_ssl, const std::string& domain, bool verify, bool alpn)
{
    SSL* s = static_cast<SSL*>(native_ssl);
    ERR_clear_error();
    error_code ip_ec;
    (void)boost::asio::ip::make_address(domain, ip_ec);
    bool is_ip = !ip_ec;
    if (!is_ip && SSL_set_tlsext_host_name(s, domain.c_str()) != 1) {
        return last_openssl_error();
    }
    if (verify) {
        SSL_set_verify(s, SSL_VERIFY_PEER, nullptr);
        if (is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), domain.c_str()) != 1) {
                return last_openssl_error();
            }
        } else {
            SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(s, domain.c_str()) != 1) {
                return last_openssl_error();
            }
        }
    } else {
        SSL_set_verify(s, SSL_VERIFY_NONE, nullptr);
    }
    if (alpn) {
        static constexpr unsigned char protos[] = {11, 'x', 'm', 'p', 'p', '-', 'c',
                                                   'l', 'i', 'e', 'n', 't'};
        // SSL_set_alpn_protos returns 0 on success.
        if (SSL_set_alpn_protos(s, protos, sizeof(protos)) != 0) {
            return last_openssl_error();
        }
    }
    return {};
}

std::string describe_tls_failure(void* native_ssl, const error_code& ec)
{
    SSL* s = static_cast<SSL*>(native_ssl);
    long v = s != nullptr ? SSL_get_verify_result(s) : X509_V_OK;
    if (v != X509_V_OK) {
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
    }
    return ec.message();
}

} // namespace boshgate::upstream
