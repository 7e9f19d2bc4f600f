'use strict';
// ejabberd 23.01 reached over a Unix domain socket (issue 9: "a true plaintext upstream ...
// and XMPP over a Unix domain socket where the server supports it"). ejabberd listens for
// c2s on `port: "unix:<dir>/sock/c2s.sock"`; boshgate's domain has
// `address = "unix:..."` and `tls = "off"`: no DNS, no TCP, no TLS between them. A BOSH user
// (strophe.js) and a WebSocket user (strophe.js) log in through it and chat; the gateway's
// log and its open sockets show the path it took.

const { nameSuffix } = require('../lib/containers');
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const { makeWorkDir, worldTeardown } = require('../lib/util');
const { addEjabberdAndGateway, mode, USERS } = require('../lib/world');
const { BoshClient } = require('../lib/bosh_client');
const { StropheWsClient } = require('../lib/ws_strophe_client');
const { localName } = require('../lib/strophe_base');
const { exchangeMessages } = require('./helpers');

/** Inode numbers of the sockets process `pid` has open. */
function socketInodes(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) {
        inodes.add(m[1]);
      }
    } catch (_) {
      // fd closed meanwhile
    }
  }
  return inodes;
}

/** Unix sockets the process `pid` has open (inode numbers of its socket fds ∩ /proc/net/unix). */
function unixPeersOf(pid) {
  const inodes = socketInodes(pid);
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 7 && inodes.has(f[6]));
}

/** TCP connections of `pid` to 127.0.0.1:`port` (from /proc/net/tcp). */
function tcpTo(pid, port) {
  const inodes = socketInodes(pid);
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 10 && f[2] === want && inodes.has(f[9]));
}

const skipReason = mode() === 'boshgate' ? false : 'needs BOSHGATE_BIN (a gateway-only feature)';

test(`ejabberd over a Unix domain socket, tls = "off"${nameSuffix()}`, { skip: skipReason }, async (t) => {
  const domain = 'ejabberd.test';
  const world = { dir: makeWorkDir('boshgate-interop-unix'), stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop-unix', 30);
  let failed = true;
  const clients = [];
  try {
    const { ej, gw } = await addEjabberdAndGateway(world, {
      domain,
      domainSpec: (server) => ({ tls: 'off', address: `unix:${server.c2sUnix}` }),
    });
    assert.ok(fs.statSync(ej.c2sUnix).isSocket(), `ejabberd made its c2s socket ${ej.c2sUnix}`);

    const pass = (u) => USERS.find((x) => x.user === u).password;
    const alice = new BoshClient({ url: gw.url, jid: `alice@${domain}`, password: pass('alice'), mechanism: 'PLAIN', label: 'alice/bosh' });
    const bob = new StropheWsClient({ url: gw.wsUrl, jid: `bob@${domain}`, password: pass('bob'), mechanism: 'SCRAM-SHA-1', label: 'bob/ws' });
    clients.push(alice, bob);
    await Promise.all([alice.connect(), bob.connect()]);
    // Initial presence, and wait for each one's own echo (RFC 6121 §4.2.2): then both are
    // available and a message to the bare JID is delivered, not stored.
    for (const c of [alice, bob]) {
      c.sendPresence();
      await c.waitInbound('own presence', (el) => localName(el) === 'presence' && el.getAttribute('from') === c.fullJid);
    }
    await exchangeMessages({
      clients: { alice, bob },
      sent: [['alice', 'bob'], ['bob', 'alice']],
      jidOf: (u) => `${u}@${domain}`,
      prefix: 'unix ',
    });

    // The path taken: two streams to the socket path, none to ejabberd's TCP c2s port, and
    // the gateway says so in its log.
    const peers = unixPeersOf(gw.pid);
    assert.ok(peers.length >= 2, `boshgate holds >= 2 Unix sockets (got ${peers.length})`);
    assert.equal(tcpTo(gw.pid, ej.c2sPort).length, 0, 'no TCP connection to the c2s port');
    const log = fs.readFileSync(gw.logFile, 'utf8');
    assert.match(log, new RegExp(`upstream connected to unix:${ej.c2sUnix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.doesNotMatch(log, /STARTTLS|starttls/, 'no STARTTLS on the Unix socket');
    // ejabberd sees two sessions.
    const users = ej.ctl('connected_users').split('\n').filter(Boolean);
    assert.equal(users.length, 2, `ejabberd's connected users: ${users.join(', ')}`);
    t.diagnostic(`ejabberd sessions over ${ej.c2sUnix}: ${users.join(', ')}`);

    await Promise.all([alice.disconnect(), bob.disconnect()]);
    failed = false;
  } finally {
    for (const c of clients) {
      c.abandon();
    }
    await world.teardown(failed);
  }
});
