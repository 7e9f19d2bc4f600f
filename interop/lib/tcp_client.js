'use strict';
// The third user: a plain XMPP/TCP client (@xmpp/client, STARTTLS verified
// against the per-run test CA), with the same record-and-wait style as
// BoshClient (recorder.js).

const fs = require('node:fs');
const tls = require('node:tls');
const { client, xml } = require('@xmpp/client');
const { WAIT_MS, withTimeout } = require('./util');
const { Recorder } = require('./recorder');

// @xmpp/client 0.13 upgrades with tls.connect({ socket, host: domain }) and
// no way to pass a CA. Trust the test CA for the test domains only: a narrow
// wrapper adds `ca` when the TLS target is one of them (verification stays on).
const testCas = new Map(); // domain -> PEM
let wrapped = false;
function trustTestCa(domain, caFile) {
  testCas.set(domain, fs.readFileSync(caFile, 'utf8'));
  if (wrapped) {
    return;
  }
  wrapped = true;
  const original = tls.connect;
  tls.connect = function connectWithTestCa(...args) {
    const opts = args[0];
    if (opts && typeof opts === 'object' && !opts.ca) {
      const name = opts.servername || opts.host;
      if (testCas.has(name)) {
        args[0] = { ...opts, ca: testCas.get(name), servername: name };
      }
    }
    return original.apply(this, args);
  };
}

class TcpClient extends Recorder {
  /** service: 'xmpp://127.0.0.1:PORT'; caFile: the test CA. */
  constructor({ service, domain, username, password, resource = 'tcp', caFile, label }) {
    trustTestCa(domain, caFile);
    super(label || `${username}@${domain}`);
    this.inbound = [];
    this.xmpp = client({ service, domain, username, password, resource });
    this.xmpp.reconnect.stop();
    this.xmpp.on('error', (e) => {
      this.lastError = e;
    });
    this.xmpp.on('stanza', (el) => {
      this.inbound.push(el);
      this._check();
    });
  }

  _waitContext() {
    return `\n  last inbound: ${this.inbound.slice(-5).map(String).join('\n    ')}`;
  }

  async start() {
    this.fullJid = String(await withTimeout(`${this.label}: login`, WAIT_MS, (resolve, reject) => {
      this.xmpp.start().then(resolve, reject);
    }));
    return this.fullJid;
  }

  send(el) {
    return this.xmpp.send(el);
  }

  sendPresence(attrs = {}) {
    return this.send(xml('presence', attrs));
  }

  sendMessage(to, body) {
    return this.send(xml('message', { to, type: 'chat' }, xml('body', {}, body)));
  }

  waitMessage(fromBare, body, from = 0) {
    return this.waitInbound(`message "${body}" from ${fromBare}`, (el) => el.is('message')
      && bare(el.attrs.from) === fromBare && el.getChildText('body') === body, from);
  }

  async roster() {
    const res = await this.xmpp.iqCaller.get(xml('query', 'jabber:iq:roster'));
    return res.getChildren('item').map((i) => ({ jid: i.attrs.jid, subscription: i.attrs.subscription }))
      .sort((a, b) => a.jid.localeCompare(b.jid));
  }

  async stop() {
    try {
      await withTimeout(`${this.label}: stop`, WAIT_MS, (resolve, reject) => {
        this.xmpp.stop().then(resolve, reject);
      });
    } catch (_) {
      // teardown: best effort
    }
  }
}

function bare(jid) {
  return String(jid || '').replace(/\/.*$/, '');
}

/**
 * Makes every pair in `clients` (started TcpClients) mutually subscribed
 * (subscription 'both'), in-band: a asks b, b approves, and the reverse.
 * Resolves when every client's roster shows 'both' for every other.
 */
async function subscribeAll(clients) {
  for (const c of clients) {
    // answer subscription requests automatically
    c.xmpp.on('stanza', (el) => {
      if (el.is('presence') && el.attrs.type === 'subscribe') {
        c.send(xml('presence', { to: bare(el.attrs.from), type: 'subscribed' }));
      }
    });
  }
  // Roster pushes go to "interested" resources (that fetched the roster) and
  // subscription requests to available ones (RFC 6121 2.1.6, 3.1.3).
  for (const c of clients) {
    await c.roster();
    await c.sendPresence();
  }
  for (let i = 0; i < clients.length; i++) {
    for (let j = 0; j < clients.length; j++) {
      if (i !== j) {
        await clients[i].send(xml('presence', { to: bare(clients[j].fullJid), type: 'subscribe' }));
      }
    }
  }
  for (const c of clients) {
    const others = clients.filter((o) => o !== c).map((o) => bare(o.fullJid));
    await c.waitUntil('subscriptions both ways', () => {
      const state = new Map();
      for (const el of c.inbound) {
        const q = el.is('iq') && el.attrs.type === 'set' && el.getChild('query', 'jabber:iq:roster');
        if (q) {
          for (const item of q.getChildren('item')) {
            state.set(item.attrs.jid, item.attrs.subscription);
          }
        }
      }
      return others.every((o) => state.get(o) === 'both');
    });
  }
}

/**
 * Test set-up: logs each of `users` ([{ user, password }]) in over plain
 * XMPP/TCP straight to `world`'s server (resource 'setup'), makes them all
 * mutual contacts (subscribeAll) and logs them out again.
 */
async function provisionContacts(world, users) {
  const tcp = users.map(({ user, password }) => new TcpClient({
    service: world.tcpService, domain: world.domain, username: user, password,
    resource: 'setup', caFile: world.caFile, label: `${user}/setup`,
  }));
  try {
    for (const c of tcp) {
      await c.start();
    }
    await subscribeAll(tcp);
  } finally {
    for (const c of tcp) {
      await c.stop();
    }
  }
}

module.exports = { TcpClient, subscribeAll, provisionContacts, xml, bare };
