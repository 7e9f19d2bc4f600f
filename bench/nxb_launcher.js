'use strict';
// Child-process entry that runs node-xmpp-bosh 0.7.10 (npm) for the bench.
// Usage: node nxb_launcher.js '{"port":N,"dnsServer":"127.0.0.1:P","logging":"INFO"}'
//
// Shims for Node APIs it was written against, all outside node-xmpp-bosh's own code:
//  * crypto.createCredentials was removed from Node (DEP0010, "use
//    tls.createSecureContext() instead"); its STARTTLS helper still calls it,
//    so it is mapped to tls.createSecureContext. The helper never checks the
//    certificate (it records `authorized` but nothing reads it).
//  * npm 0.7.10 ignores the BOSH `route` attribute and always resolves
//    _xmpp-client._tcp.<to> (then <to>:5222). The process's c-ares resolver is
//    pointed at the bench's dnsmasq, which answers that SRV record with the
//    private Prosody's c2s port; IPv4 first so `localhost` is 127.0.0.1.

const dns = require('node:dns');
const crypto = require('node:crypto');
const tls = require('node:tls');

const opts = JSON.parse(process.argv[2] || '{}');
if (opts.dnsServer) {
  dns.setServers([opts.dnsServer]);
}
if (typeof dns.setDefaultResultOrder === 'function') {
  dns.setDefaultResultOrder('ipv4first');
}
if (typeof crypto.createCredentials !== 'function') {
  crypto.createCredentials = (options) => tls.createSecureContext(options || {});
}
// tls.createSecurePair (DEP0064) still exists but no longer starts a client
// handshake by itself, and the pair has no `ssl` handle any more (its STARTTLS
// helper calls pair.ssl.verifyError() once secure). Restore both behaviours.
const legacyCreateSecurePair = tls.createSecurePair;
tls.createSecurePair = function createSecurePair(context, isServer, ...rest) {
  const pair = legacyCreateSecurePair.call(tls, context, isServer, ...rest);
  if (!pair.ssl) {
    pair.ssl = { verifyError: () => (pair.cleartext.ssl ? pair.cleartext.ssl.verifyError() : null) };
  }
  if (!isServer) {
    process.nextTick(() => pair.cleartext._start());
  }
  return pair;
};
// createSecurePair prints a one-time deprecation warning; keep the log readable.
process.noDeprecation = true;

const nxb = require('node-xmpp-bosh');

nxb.start_bosh({
  host: '127.0.0.1',
  port: opts.port,
  path: /^\/http-bind(\/+)?$/,
  logging: opts.logging || 'INFO',
  max_bosh_connections: 2,
  window_size: 2,
  default_inactivity: 70,
  max_inactivity: 160,
  no_tls_domains: [],
  firewall: { deny: [] },
});
process.stdout.write(`nxb_launcher: node-xmpp-bosh starting on 127.0.0.1:${opts.port}, DNS ${opts.dnsServer}\n`);
