'use strict';
// Chatting strophe.js sessions with exact accounting, for the scale-out tests
// (rolling_upgrade.test.js, inplace_restart.test.js): pairs of sessions (BOSH <-> WebSocket)
// each send a numbered message to the partner's full JID every PERIOD_MS; settle() stops a
// set of them, waits for everything in flight and lists every message lost, repeated or out
// of order; dropped() tells a session that ended without its client asking.

const { BoshClient } = require('./bosh_client');
const { StropheWsClient } = require('./ws_strophe_client');
const { localName, textOf } = require('./strophe_base');
const path = require('node:path');
const fs = require('node:fs');
const { makeCerts } = require('./certs');
const { startProsody } = require('./prosody');

/** Sessions per account (distinct resources). */
const RESOURCES = 4;
/** One numbered message per session per period. */
const PERIOD_MS = 500;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Accounts for `sessions` sessions: [{ user, password, domain }]. */
function chatAccounts(sessions, domain, prefix = 'ru') {
  const out = [];
  for (let i = 0; i < Math.ceil(sessions / RESOURCES); i++) {
    out.push({ user: `${prefix}${String(i).padStart(2, '0')}`, password: `${prefix}-pw-${i}`, domain });
  }
  return out;
}

const ENDED = new Set(['DISCONNECTED', 'CONNFAIL', 'ERROR', 'CONNTIMEOUT', 'AUTHFAIL']);

/** One client session: its partner, what it sent, what it got (by sequence number). */
class Chatter {
  constructor(index, transport, url, jid, password) {
    this.index = index;
    this.name = `s${index}/${transport}`;
    this.transport = transport;
    const opts = { jid, password, label: this.name };
    this.client = transport === 'bosh' ? new BoshClient({ url, ...opts }) : new StropheWsClient({ url, ...opts });
    this.sent = 0;
    this.got = [];          // sequence numbers received from the partner, in arrival order
    this.scanned = 0;       // inbound elements already looked at
    this.errors = [];       // bounced messages and stray stanza errors
    this.loggingOut = false;
    this.timer = null;
  }

  async connect() {
    this.jid = await this.client.connect();
    this.client.sendPresence();
    if (this.transport === 'bosh') {
      this.sid = this.client.conn._proto.sid;
      this.owner = this.sid.split('.')[0];
    }
  }

  /** Reads new inbound elements into `got` / `errors`. */
  scan() {
    const inbound = this.client.inbound;
    for (; this.scanned < inbound.length; this.scanned++) {
      const el = inbound[this.scanned];
      if (localName(el) !== 'message') {
        continue;
      }
      if (el.getAttribute('type') === 'error') {
        this.errors.push(`bounced: ${textOf(el, 'body')}`);
        continue;
      }
      const m = /^n (\d+) (\d+)$/.exec(textOf(el, 'body') || '');
      if (m && Number(m[1]) === this.partner.index) {
        this.got.push(Number(m[2]));
      }
    }
  }

  start() {
    this.timer = setInterval(() => {
      this.sent += 1;
      this.client.sendMessage(this.partner.jid, `n ${this.index} ${this.sent}`);
    }, PERIOD_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  /** A status that ended the session without the client asking, if any. */
  dropped() {
    const bad = this.client.statuses.find(([st]) => ENDED.has(st));
    if (!bad) {
      return null;
    }
    return this.loggingOut && bad[0] === 'DISCONNECTED' && !bad[1] ? null : `${bad[0]} ${bad[1] || ''}`.trim();
  }
}

/** Stops a set of pairs, waits for every message in flight, checks exact delivery. */
async function settle(chatters, ms = 20000) {
  for (const c of chatters) {
    c.stop();
  }
  const deadline = Date.now() + ms;
  for (;;) {
    for (const c of chatters) {
      c.scan();
    }
    if (chatters.every((c) => c.got.length >= c.partner.sent) || Date.now() > deadline) {
      break;
    }
    await sleep(100);
  }
  const problems = [];
  for (const c of chatters) {
    const want = c.partner.sent;
    const inOrder = c.got.every((n, i) => n === i + 1);
    if (c.got.length !== want || !inOrder) {
      problems.push(`${c.name} got ${c.got.length} of ${want} from ${c.partner.name}${inOrder ? '' : ' (out of order or repeated)'}`);
    }
    problems.push(...c.errors.map((e) => `${c.name}: ${e}`));
  }
  return problems;
}

/**
 * Logs in `n` chatters (indices from `first`; even ones over BOSH at `url`, odd ones over
 * WebSocket at `wsUrl`; session i uses account floor(i / RESOURCES) of `accounts`), `batch`
 * at a time, and pairs them (i, i + 1).
 */
async function loginAll(url, wsUrl, first, n, accounts, batch = 10) {
  const out = [];
  for (let i = first; i < first + n; i++) {
    const transport = i % 2 === 0 ? 'bosh' : 'ws';
    const acct = accounts[Math.floor(i / RESOURCES)];
    out.push(new Chatter(i, transport, transport === 'bosh' ? url : wsUrl, `${acct.user}@${acct.domain}`, acct.password));
  }
  for (let i = 0; i < out.length; i += batch) {
    await Promise.all(out.slice(i, i + batch).map((c) => c.connect()));
  }
  for (let i = 0; i < out.length; i += 2) {
    out[i].partner = out[i + 1];
    out[i + 1].partner = out[i];
  }
  return out;
}

/**
 * Test certificates and a private Prosody for `domain` with `accounts`, under world.dir,
 * registered in world.stops / world.logs. Resolves with { certs, prosody }.
 */
async function chatServer(world, domain, accounts) {
  const certs = makeCerts(path.join(world.dir, 'certs'), [domain]);
  const dir = path.join(world.dir, 'prosody');
  fs.mkdirSync(dir);
  const prosody = await startProsody({ dir, domain, cert: certs.domains[domain], users: accounts, logLevel: 'info' });
  world.stops.push(prosody.stop);
  world.logs.push(...prosody.logs);
  return { certs, prosody };
}

/** Logs out every chatter in `list` (a session its client ends), `batch` at a time. */
async function logoutAll(list, batch = 10) {
  for (let i = 0; i < list.length; i += batch) {
    await Promise.all(list.slice(i, i + batch).map(async (c) => {
      c.loggingOut = true;
      await c.client.disconnect();
    }));
  }
}

/** "name: status" of every chatter whose session ended without its client asking. */
function droppedSessions(list) {
  return list.filter((c) => c.dropped()).map((c) => `${c.name}: ${c.dropped()}`);
}

/** Teardown: stops every chatter and abandons the sessions still open. */
function abandonAll(list) {
  for (const c of list) {
    c.stop();
    try {
      if (!c.loggingOut) {
        c.client.abandon();
      }
    } catch (_) {
      // already gone
    }
  }
}

module.exports = { chatServer, Chatter, settle, loginAll, logoutAll, droppedSessions, abandonAll, chatAccounts, RESOURCES, PERIOD_MS, sleep };
