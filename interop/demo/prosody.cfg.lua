-- Private Prosody for the boshgate demo (interop/demo.sh fills in @...@).
-- Same-host demo only: c2s listens on 127.0.0.1:5222 WITHOUT TLS, because
-- boshgate connects to it over loopback on this machine
-- (conf/boshgate.toml: domain "localhost", tls = "plaintext").
-- Never expose this configuration on a non-loopback interface.

run_as_root = true
pidfile = "@PID_FILE@"
data_path = "@DATA_DIR@"
certificates = "@DATA_DIR@" -- no certificates: plaintext demo
log = { { levels = { min = "info" }, to = "file", filename = "@LOG_FILE@" } }

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }

-- Plaintext on loopback (see above).
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"

modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "smacks"; "carbons" }
modules_disabled = { "s2s"; "offline"; "tls" }

VirtualHost "localhost"
