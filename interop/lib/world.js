'use strict';
// One test world per XMPP server: CA + certificate, the server, and (with
// BOSHGATE_BIN set) dnsmasq + boshgate in front of it. Started once per test
// file and shared by its scenarios.
//
// Modes:
//   BOSHGATE_BIN=/path/to/boshgate  -> clients speak BOSH (world.url) or
//                                      WebSocket (world.wsUrl) to boshgate,
//                                      which resolves the domain via SRV
//                                      (dnsmasq) and connects upstream (the
//                                      real suite).
//   INTEROP_DIRECT=1                -> development aid: clients use the
//                                      server's own BOSH and WebSocket
//                                      endpoints.
//
// What callers (scenarios, the browser tests) rely on: world.url (BOSH),
// world.wsUrl (RFC 7395, subprotocol xmpp), world.domain, world.users,
// world.tcpService and world.caFile (plain XMPP/TCP users), world.mode, and
// world.gateway (null in direct mode) with its log file.

const path = require('node:path');
const { makeWorkDir, worldTeardown } = require('./util');
const { makeCerts } = require('./certs');
const { startProsody } = require('./prosody');
const { startEjabberd } = require('./ejabberd');
const { startDnsmasq } = require('./dnsmasq');
const { startBoshgate } = require('./boshgate');

const USERS = [
  { user: 'alice', password: 'alice-Pw-1' },
  { user: 'bob', password: 'bob-Pw-2' },
  { user: 'carol', password: 'carol-Pw-3' },
];

/** 'boshgate' or 'direct'; throws when neither is configured. */
function mode() {
  if (process.env.BOSHGATE_BIN) {
    return 'boshgate';
  }
  if (process.env.INTEROP_DIRECT === '1') {
    return 'direct';
  }
  throw new Error('set BOSHGATE_BIN=/path/to/boshgate (or INTEROP_DIRECT=1 to test the servers\' own BOSH)');
}

/**
 * kind: 'prosody' | 'ejabberd'; upstream: 'starttls' (SRV _xmpp-client to the
 * STARTTLS port) or 'direct_tls' (SRV _xmpps-client to the direct-TLS port,
 * XEP-0368). Resolves with the world; call world.teardown() in after().
 */
/**
 * httpsListener (optional, gateway mode): { address, port } of one more gateway listener,
 * HTTPS with the domain's certificate (the test CA), e.g. for XEP-0156 discovery by a
 * browser that maps the domain's name to that address. world.httpsListener repeats it.
 */
async function startWorld({ kind, upstream, httpsListener = null }) {
  const m = mode();
  const domain = `${kind}.test`;
  const dir = makeWorkDir(`boshgate-interop-${kind}`);
  const world = { kind, mode: m, upstream, domain, dir, users: USERS, stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop', 30);
  try {
    const certs = makeCerts(path.join(dir, 'certs'), [domain]);
    world.caFile = certs.caFile;
    const start = kind === 'prosody' ? startProsody : startEjabberd;
    const server = await start({ dir, domain, cert: certs.domains[domain], users: USERS });
    world.server = server;
    world.stops.push(server.stop);
    world.logs.push(...server.logs);
    world.tcpService = `xmpp://127.0.0.1:${server.c2sPort}`;
    if (m === 'direct') {
      world.url = server.boshUrl;
      world.wsUrl = server.wsUrl;
      world.gateway = null;
      return world;
    }
    const target = `xmpp-1.${domain}`;
    const srvName = upstream === 'direct_tls' ? `_xmpps-client._tcp.${domain}` : `_xmpp-client._tcp.${domain}`;
    const srvPort = upstream === 'direct_tls' ? server.directTlsPort : server.c2sPort;
    const dnsmasq = await startDnsmasq({
      dir,
      zones: [domain],
      srv: [{ name: srvName, target, port: srvPort, priority: 10, weight: 10 }],
      a: [{ name: target, address: '127.0.0.1' }],
    });
    world.stops.push(dnsmasq.stop);
    world.logs.push(...dnsmasq.logs);
    world.dns = dnsmasq;
    // Fail here, not deep inside a login, if DNS is not what boshgate will see.
    const got = await dnsmasq.resolveSrv(srvName);
    if (got.length !== 1 || got[0].name !== target || got[0].port !== srvPort) {
      throw new Error(`dnsmasq answered ${JSON.stringify(got)} for ${srvName}`);
    }
    const tls = certs.domains[domain];
    const gw = await startBoshgate({
      bin: process.env.BOSHGATE_BIN,
      dir,
      caFile: certs.caFile,
      dnsServer: dnsmasq.server,
      domains: [{ name: domain }],
      extra: httpsListener ? [
        '[[http.listen]]',
        `address = ${JSON.stringify(httpsListener.address)}`,
        `port = ${httpsListener.port}`,
        `tls_cert = ${JSON.stringify(tls.cert)}`,
        `tls_key = ${JSON.stringify(tls.key)}`,
      ].join('\n') : '',
    });
    world.httpsListener = httpsListener;
    world.stops.push(gw.stop);
    world.logs.push(...gw.logs);
    world.gateway = gw;
    world.url = gw.url;
    world.wsUrl = gw.wsUrl;
    return world;
  } catch (e) {
    await world.teardown(true);
    throw e;
  }
}

/**
 * A private ejabberd (the USERS registered) and a gateway in front of it with one domain, no
 * DNS: `domainSpec(ej)` gives that domain's { address, tls, proxyProtocol } from the started
 * server (e.g. its Unix socket or its PROXY-protocol port); `settings` as for startBoshgate.
 * Everything is pushed onto `world` ({ dir, stops, logs }, made by the caller), so the
 * caller's world.teardown() stops whatever did start. Resolves with { ej, gw, certs }.
 */
async function addEjabberdAndGateway(world, { domain = 'ejabberd.test', domainSpec, settings = {} }) {
  const certs = makeCerts(path.join(world.dir, 'certs'), [domain]);
  const ej = await startEjabberd({ dir: world.dir, domain, cert: certs.domains[domain], users: USERS });
  world.stops.push(ej.stop);
  world.logs.push(...ej.logs);
  const gw = await startBoshgate({
    bin: process.env.BOSHGATE_BIN,
    dir: world.dir,
    caFile: certs.caFile,
    domains: [{ name: domain, ...domainSpec(ej) }],
    settings,
  });
  world.stops.push(gw.stop);
  world.logs.push(...gw.logs);
  return { ej, gw, certs };
}

module.exports = { startWorld, addEjabberdAndGateway, mode, USERS };
