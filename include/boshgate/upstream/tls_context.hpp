#pragma once
// OpenSSL 3 client contexts for upstream XMPP links (STARTTLS and direct TLS). I/O side:
// compiled into boshgate_core (BOSHGATE_IO_SOURCES).
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace boshgate::upstream {

/// A client context: TLS 1.2 or later, peer verification on, trust anchors from `ca_file`
/// (PEM bundle) or, when empty, OpenSSL's default paths (the system store). Fails with the
/// OpenSSL error when the CA file cannot be loaded.
boost::system::result<std::shared_ptr<boost::asio::ssl::context>>
make_client_tls_context(const std::optional<std::string>& ca_file);

/// Client contexts keyed by CA file, created on first use and shared by every stream.
/// Thread-safety: get() may be called from any thread; an ssl::context is itself safe to
/// share between connections once configured.
class tls_context_cache {
public:
    boost::system::result<std::shared_ptr<boost::asio::ssl::context>>
    get(const std::optional<std::string>& ca_file);

private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_; ///< "" = system
};

/// Prepare one connection (a native SSL*) before its handshake:
///  - SNI = the XMPP domain, never the SRV target (C2S-TLS-1; omitted for IP literals,
///    RFC 6066 §3);
///  - certificate identity checked against the XMPP domain (C2S-TLS-4, RFC 6125 DNS-ID via
///    SSL_set1_host, no partial wildcards) unless `verify` is false (per-domain opt-out);
///  - ALPN "xmpp-client" when `alpn` (direct TLS, C2S-TLS-2, XEP-0368 §3).
boost::system::error_code prepare_client_ssl(void* native_ssl, const std::string& domain,
                                             bool verify, bool alpn);

/// Short reason for a failed handshake: the X.509 verification error when there is one
/// ("certificate verify failed: Hostname mismatch"), else the error message.
std::string describe_tls_failure(void* native_ssl, const boost::system::error_code& ec);

} // namespace boshgate::upstream
