#pragma once
#include "boshgate/http/forwarded.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace boshgate::http {

struct listen_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 5280;
    int backlog = 4096;                ///< explicit listen backlog (every session costs sockets)
    std::optional<std::string> tls_cert_file; ///< PEM chain; with key: HTTPS on this listener
    std::optional<std::string> tls_key_file;
    /// Every connection starts with a PROXY protocol v1 or v2 header (HAProxy `send-proxy`,
    /// `send-proxy-v2`) giving the client's address; accepted from trusted_proxies only.
    bool proxy_protocol = false;
};

struct options {
    std::vector<listen_options> listen{listen_options{}};
    std::string bosh_path = "/http-bind";
    std::string websocket_path = "/xmpp-websocket";
    std::string static_dir;            ///< serve files (demo page) under "/" from here; empty = off
    std::vector<std::string> cors_origins{"*"}; ///< allowed Origins; "*" = any (WEB-1)
    std::chrono::seconds cors_max_age{86400};
    std::size_t max_body_bytes = 256 * 1024;      ///< request body limit (BOSH-COND-8)
    std::size_t max_header_bytes = 8 * 1024;
    std::chrono::seconds header_timeout{10};      ///< time to read a request header
    std::chrono::seconds idle_timeout{120};       ///< keep-alive connection with no request
    std::size_t max_connections = 20000;
    /// XEP-0156: serve /.well-known/host-meta and host-meta.json listing the endpoints
    /// (over HTTPS; over plain HTTP only when public URLs are configured, see discovery.hpp).
    bool host_meta = true;
    /// https:// and wss:// URLs to advertise there; empty = built from the request (Host
    /// header, path) on an HTTPS listener. Behind a TLS-terminating proxy set both.
    std::string public_bosh_url;
    std::string public_websocket_url;
    /// Networks whose connections may name the client (PROXY protocol; Forwarded /
    /// X-Forwarded-For on each request). Empty: nobody is believed.
    trusted_networks trusted_proxies;
};

} // namespace boshgate::http
