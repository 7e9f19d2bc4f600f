-- Prosody in conf/compose/compose.yaml: the XMPP domain "localhost" behind boshgate.
-- c2s without TLS, on the compose project's private network only (not published): the
-- gateway is the only client and runs on the same host (see boshgate.toml there).
-- Never publish port 5222 with this configuration.

pidfile = "/var/lib/prosody/prosody.pid"
log = { { levels = { min = "info" }, to = "console" } }
daemonize = false

interfaces = { "*" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }

c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"

modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "smacks"; "carbons" }
modules_disabled = { "s2s"; "offline"; "tls" }

VirtualHost "localhost"
