'use strict';
// Helpers for server_faults.test.js (faults of the XMPP servers, the link to
// them, DNS and TLS, against REAL servers and a real boshgate).
//
// The protocol clients (BoshSession keeps a request held at all times,
// WsSession is an RFC 7395 client) and the numbered-message helpers come from
// gateway_lib.js, shared with gateway_faults.test.js. This file adds:
//   startServerWorld()  - Prosody (prosody.test) and ejabberd (ejabberd.test)
//                         in parallel, dnsmasq SRV for both, a second
//                         certificate from the same CA and one from a rogue CA
//                         for prosody.test, and gateway(settings, extra)
//   startLinkedProsody() - a Prosody (link.test) inside a network namespace
//                         behind a veth pair, with cut()/heal() (nftables drop
//                         in both directions inside the namespace)
//   loginBosh / loginWs - a logged-in session of each transport
//   faultSeen()         - the time a session saw the end of its stream
//   vmRssKb(pid)        - VmRSS of a process (kB)

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const G = require('./gateway_lib');
const { makeWorkDir, run, worldTeardown } = require('../lib/util');
const { makeCerts } = require('../lib/certs');
const { startProsody } = require('../lib/prosody');
const { startEjabberd } = require('../lib/ejabberd');
const { startDnsmasq } = require('../lib/dnsmasq');

const { PROSODY, EJABBERD, until, BoshSession, WsSession } = G;
const LINKED = 'link.test';

const PROSODY_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'fred'].map((u) => ({ user: u, password: `${u}-Pw-1` }));
const EJABBERD_USERS = ['eve', 'frank', 'gina', 'hank'].map((u) => ({ user: u, password: `${u}-Pw-2` }));
const LINK_USERS = ['lara', 'lou'].map((u) => ({ user: u, password: `${u}-Pw-3` }));

function pw(user) {
  const all = [...PROSODY_USERS, ...EJABBERD_USERS, ...LINK_USERS];
  return all.find((u) => u.user === user).password;
}

/** Another certificate for `domain`, signed by the CA whose files are in `caDir` (makeCerts layout). */
function issueCert(caDir, domain, tag) {
  const key = path.join(caDir, `${domain}.${tag}.key`);
  const csr = path.join(caDir, `${domain}.${tag}.csr`);
  const cert = path.join(caDir, `${domain}.${tag}.pem`);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${domain}`]);
  run('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(caDir, 'ca.pem'), '-CAkey', path.join(caDir, 'ca.key'),
    '-CAcreateserial', '-out', cert, '-days', '2', '-sha256', '-extfile', path.join(caDir, `${domain}.ext`)]);
  for (const f of [key, cert]) {
    fs.chmodSync(f, 0o644);
  }
  return { cert, key };
}

/**
 * Resolves with { dir, prosody, ejabberd, caFile, certs, spare (same CA),
 * rogue (other CA), dns, gateway(settings, { tag, extra, domains }), stops, teardown(failed) }.
 */
async function startServerWorld() {
  const dir = makeWorkDir('boshgate-fault-srv');
  const w = { dir, stops: [], logs: [], gateways: [] };
  w.teardown = worldTeardown(w, 'fault', 20);
  try {
    const certDir = path.join(dir, 'certs');
    const certs = makeCerts(certDir, [PROSODY, EJABBERD, LINKED]);
    w.caFile = certs.caFile;
    w.certs = certs;
    w.spare = issueCert(certDir, PROSODY, 'spare');
    w.rogue = makeCerts(path.join(dir, 'rogue'), [PROSODY]).domains[PROSODY];
    // Prosody reads its certificate from these paths on every (re)load: TLS-2 overwrites them.
    const live = { cert: path.join(certDir, 'prosody-live.pem'), key: path.join(certDir, 'prosody-live.key') };
    fs.copyFileSync(certs.domains[PROSODY].cert, live.cert);
    fs.copyFileSync(certs.domains[PROSODY].key, live.key);
    w.prosodyCert = live;
    const pdir = path.join(dir, 'prosody');
    const edir = path.join(dir, 'ejabberd');
    for (const d of [pdir, edir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    }
    const got = await Promise.allSettled([
      startProsody({ dir: pdir, domain: PROSODY, cert: live, users: PROSODY_USERS, logLevel: 'info' }),
      startEjabberd({ dir: edir, domain: EJABBERD, cert: certs.domains[EJABBERD], users: EJABBERD_USERS }),
    ]);
    for (const g of got) {
      if (g.status === 'fulfilled') {
        w.stops.push(g.value.stop);
        w.logs.push(...g.value.logs);
      }
    }
    const bad = got.find((g) => g.status === 'rejected');
    if (bad) {
      throw bad.reason;
    }
    w.prosody = got[0].value;
    w.ejabberd = got[1].value;
    w.srv = [
      { name: `_xmpp-client._tcp.${PROSODY}`, target: `xmpp.${PROSODY}`, port: w.prosody.c2sPort, priority: 10, weight: 10 },
      { name: `_xmpp-client._tcp.${EJABBERD}`, target: `xmpp.${EJABBERD}`, port: w.ejabberd.c2sPort, priority: 10, weight: 10 },
    ];
    w.a = [{ name: `xmpp.${PROSODY}`, address: '127.0.0.1' }, { name: `xmpp.${EJABBERD}`, address: '127.0.0.1' }];
    await startDnsFor(w);
    w.gateway = G.gatewayStarter(w, [PROSODY, EJABBERD]);
    return w;
  } catch (e) {
    await w.teardown(true);
    throw e;
  }
}

/**
 * (Re)starts the world's dnsmasq on a fixed port once w.dnsPort is known
 * (FAULT-DNS-2 restarts it on the same port the gateway is configured with).
 */
async function startDnsFor(w) {
  const opts = { dir: w.dir, zones: [PROSODY, EJABBERD], srv: w.srv, a: w.a };
  if (w.dnsPort) {
    opts.port = w.dnsPort;
  }
  const dns = await startDnsmasq(opts);
  w.dns = dns;
  w.dnsPort = dns.port;
  w.stops.push(() => w.dns.stop());
  for (const s of w.srv) {
    const r = await dns.resolveSrv(s.name);
    if (r.length !== 1 || r[0].port !== s.port) {
      throw new Error(`dnsmasq answered ${JSON.stringify(r)} for ${s.name}`);
    }
  }
  return dns;
}

// ------------------------------------------------------------------ network namespace

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A Prosody for link.test inside network namespace `ns` (veth pair,
 * 10.203.<n>.1/30 host side, .2 inside). Resolves with { prosody, address,
 * cut(), heal(), teardown() }; teardown always removes the namespace and veth.
 */
async function startLinkedProsody(w) {
  const n = 100 + (process.pid % 150);
  const ns = `bgfault${process.pid}`;
  const vh = `bgf${process.pid % 100000}h`;
  const vn = `bgf${process.pid % 100000}n`;
  const hostIp = `10.203.${n}.1`;
  const nsIp = `10.203.${n}.2`;
  const L = { ns, hostIp, nsIp };
  L.teardown = async () => {
    if (L.prosody) {
      try {
        await L.prosody.stop();
      } catch (_) {
        // gone
      }
    }
    try {
      sh('ip', ['link', 'del', vh]);
    } catch (_) {
      // gone with the namespace
    }
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch (_) {
      // not created
    }
  };
  w.stops.push(L.teardown);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', vh, 'type', 'veth', 'peer', 'name', vn]);
  sh('ip', ['link', 'set', vn, 'netns', ns]);
  sh('ip', ['addr', 'add', `${hostIp}/30`, 'dev', vh]);
  sh('ip', ['link', 'set', vh, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', vn]);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', vn, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const ldir = path.join(w.dir, 'linked');
  fs.mkdirSync(ldir, { recursive: true, mode: 0o755 });
  L.prosody = await startProsody({
    dir: ldir, domain: LINKED, cert: w.certs.domains[LINKED], users: LINK_USERS, logLevel: 'info',
    iface: nsIp, wrap: ['ip', 'netns', 'exec', ns],
  });
  w.logs.push(...L.prosody.logs);
  L.address = `${nsIp}:${L.prosody.c2sPort}`;
  L.cut = () => {
    const nft = (...a) => sh('ip', ['netns', 'exec', ns, 'nft', ...a]);
    nft('add', 'table', 'inet', 'f');
    nft('add', 'chain', 'inet', 'f', 'in', '{ type filter hook input priority 0; policy accept; }');
    nft('add', 'chain', 'inet', 'f', 'out', '{ type filter hook output priority 0; policy accept; }');
    nft('add', 'rule', 'inet', 'f', 'in', 'iifname', vn, 'drop');
    nft('add', 'rule', 'inet', 'f', 'out', 'oifname', vn, 'drop');
  };
  L.heal = () => {
    try {
      sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'f']);
    } catch (_) {
      // not cut
    }
  };
  return L;
}

// ------------------------------------------------------------------ sessions

async function loginBosh(url, domain, user, resource) {
  const s = new BoshSession({ url, domain, label: `bosh ${user}@${domain}/${resource}` });
  await s.login(user, pw(user), resource);
  s.start();
  return s;
}

async function loginWs(url, domain, user, resource) {
  const s = new WsSession({ url, domain, label: `ws ${user}@${domain}/${resource}` });
  await s.login(user, pw(user), resource);
  return s;
}

function chat(to, id, text) {
  return `<message xmlns='jabber:client' type='chat' to='${to}' id='${id}'><body>${text}</body></message>`;
}

/** A BOSH and a WebSocket session exchange a message both ways (the bystander check). */
async function exchange(bosh, ws, tag) {
  const token = tag.replace(/[^A-Za-z0-9-]+/g, '_');
  const a = `${token}-to-ws-${Date.now()}`;
  const b = `${token}-to-bosh-${Date.now()}`;
  const fromB = bosh.inbox.length;
  const fromW = ws.frames.length;
  bosh.send(chat(ws.jid, a, a));
  ws.send(chat(bosh.jid, b, b));
  await ws.waitFrame(new RegExp(`<body>${a}</body>`), `${tag}: message from the BOSH bystander`, fromW, 8000);
  await bosh.waitFor(new RegExp(`<body>${b}</body>`), `${tag}: message from the WebSocket bystander`, fromB, 8000);
}

/**
 * Polls (10 ms) until the BOSH session got its terminate and the WebSocket got
 * a stream error and its close; returns { boshMs, wsErrorMs, wsCloseMs } from t0,
 * or throws after `ms` with what is missing.
 */
async function waitEnded(bosh, ws, t0, ms, what) {
  const r = { boshMs: null, wsErrorMs: null, wsCloseMs: null };
  const deadline = t0 + ms;
  for (;;) {
    const now = Date.now();
    if (r.boshMs === null && (bosh.terminated || bosh.errors.length)) {
      r.boshMs = now - t0;
    }
    if (r.wsErrorMs === null && ws.frames.some((f) => /<stream:error\b|<error\b[^>]*streams/.test(f))) {
      r.wsErrorMs = now - t0;
    }
    if (r.wsCloseMs === null && ws.closeInfo) {
      r.wsCloseMs = ws.closeInfo.at - t0;
    }
    if (r.boshMs !== null && r.wsCloseMs !== null) {
      return r;
    }
    if (now > deadline) {
      throw new Error(`${what}: after ${ms} ms: BOSH terminated=${bosh.terminated} errors=${JSON.stringify(bosh.errors)} `
        + `ws frames=${JSON.stringify(ws.frames.slice(-3))} close=${JSON.stringify(ws.closeInfo)}`);
    }
    await G.sleep(10);
  }
}

/** The leaf certificate (PEM) a server presents after STARTTLS on 127.0.0.1:port for `domain`. */
function servedCert(port, domain) {
  let out;
  try {
    out = execFileSync('openssl', ['s_client', '-starttls', 'xmpp', '-xmpphost', domain, '-connect', `127.0.0.1:${port}`],
      { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10000 });
  } catch (e) {
    out = `${e.stdout || ''}`;
  }
  const m = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  return m ? m[0].replace(/\s+/g, '') : null;
}

function pemOf(file) {
  return fs.readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)[0].replace(/\s+/g, '');
}

function vmRssKb(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}

/** Like until() but for a condition that must NOT happen within `ms` (returns the first violation or null). */
async function never(fn, ms, step = 50) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = fn();
    if (v) {
      return v;
    }
    await G.sleep(step);
  }
  return null;
}

module.exports = {
  ...G,
  LINKED,
  PROSODY_USERS,
  EJABBERD_USERS,
  LINK_USERS,
  pw,
  startServerWorld,
  startDnsFor,
  startLinkedProsody,
  loginBosh,
  loginWs,
  chat,
  exchange,
  waitEnded,
  vmRssKb,
  servedCert,
  pemOf,
  never,
  until,
};
