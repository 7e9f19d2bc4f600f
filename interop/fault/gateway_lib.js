'use strict';
// Helpers for gateway_faults.test.js (gateway-process and client-side faults
// against REAL servers): one world with a real Prosody (and optionally a real
// ejabberd) on loopback, dnsmasq SRV records for both domains, and real
// boshgate processes started with interop/lib/boshgate.js.
//
//   startFaultWorld()     - certificates, servers, dnsmasq; world.gateway(settings, opts)
//                           starts a gateway in front of both domains
//   BoshSession           - XEP-0124/0206 client that keeps hold+1 requests in
//                           flight (like Strophe), delivers responses in rid
//                           order, sends `ack` (XEP-0124 §9) and honours `report`
//                           by resending the missed rid (§9.3 / §14.3); it can
//                           also send one request over a raw TCP socket that the
//                           test then resets or half-closes
//   WsSession             - RFC 7395 client (the `ws` package) answering a
//                           server <close/> with <close/> (§3.6)
//   seqBodies / checkSeq  - numbered messages: no loss, duplicate or reordering
//   serverLog             - per-session views of Prosody's debug log

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const WebSocket = require('ws');

const { makeWorkDir, worldTeardown } = require('../lib/util');
const { makeCerts } = require('../lib/certs');
const { startProsody } = require('../lib/prosody');
const { startEjabberd } = require('../lib/ejabberd');
const { startDnsmasq } = require('../lib/dnsmasq');
const { startBoshgate } = require('../lib/boshgate');

const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
const NS_XBOSH = 'urn:xmpp:xbosh';
const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

const PROSODY = 'prosody.test';
const EJABBERD = 'ejabberd.test';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function attr(text, name) {
  const m = text.match(new RegExp(`<body\\b[^>]*\\s${name}=['"]([^'"]*)['"]`));
  return m ? m[1] : null;
}

/** Polls `fn` every `step` ms until it returns a truthy value; throws `what` after `ms`. */
async function until(fn, what, ms = 8000, step = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(step);
  }
}

// ------------------------------------------------------------------ world

/**
 * world.gateway(settings, { tag, extra, domains }): starts a real boshgate in
 * front of `domains` (default: the world's) with the world's CA and dnsmasq,
 * `settings` merged into its config, `extra` TOML appended; stopped by the
 * world's teardown. Resolves with interop/lib/boshgate.js's handle.
 */
function gatewayStarter(w, defaultDomains) {
  let n = 0;
  return async (settings = {}, { tag = 'gw', extra = '', domains = defaultDomains } = {}) => {
    n += 1;
    const gdir = path.join(w.dir, `${tag}-${n}`);
    fs.mkdirSync(gdir, { recursive: true });
    const gw = await startBoshgate({
      bin: process.env.BOSHGATE_BIN,
      dir: gdir,
      caFile: w.caFile,
      dnsServer: w.dns.server,
      domains: domains.map((name) => ({ name })),
      logLevel: 'info',
      settings,
      extra,
    });
    w.stops.push(gw.stop);
    w.logs.push(gw.logFile);
    w.gateways.push(gw);
    return gw;
  };
}

/**
 * users: Prosody accounts [{ user, password }]; ejabberdUsers: accounts on
 * ejabberd (null: no ejabberd). Both servers start in parallel. Resolves with
 * { dir, prosody, ejabberd, caFile, dns, gateway(settings, tag), teardown(failed) }.
 */
async function startFaultWorld({ users, ejabberdUsers = null }) {
  const dir = makeWorkDir('boshgate-fault-gw');
  const w = { dir, stops: [], logs: [], gateways: [] };
  w.teardown = worldTeardown(w, 'fault', 20);
  try {
    const domains = ejabberdUsers ? [PROSODY, EJABBERD] : [PROSODY];
    const certs = makeCerts(path.join(dir, 'certs'), domains);
    w.caFile = certs.caFile;
    const pdir = path.join(dir, 'prosody');
    fs.mkdirSync(pdir, { recursive: true, mode: 0o755 });
    const starts = [startProsody({ dir: pdir, domain: PROSODY, cert: certs.domains[PROSODY], users })];
    if (ejabberdUsers) {
      const edir = path.join(dir, 'ejabberd');
      fs.mkdirSync(edir, { recursive: true, mode: 0o755 });
      starts.push(startEjabberd({ dir: edir, domain: EJABBERD, cert: certs.domains[EJABBERD], users: ejabberdUsers }));
    }
    const got = await Promise.allSettled(starts);
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
    w.ejabberd = ejabberdUsers ? got[1].value : null;
    w.prosodyLog = w.prosody.logs[0];
    const srv = [{ name: `_xmpp-client._tcp.${PROSODY}`, target: `xmpp.${PROSODY}`, port: w.prosody.c2sPort, priority: 10, weight: 10 }];
    const a = [{ name: `xmpp.${PROSODY}`, address: '127.0.0.1' }];
    if (w.ejabberd) {
      srv.push({ name: `_xmpp-client._tcp.${EJABBERD}`, target: `xmpp.${EJABBERD}`, port: w.ejabberd.c2sPort, priority: 10, weight: 10 });
      a.push({ name: `xmpp.${EJABBERD}`, address: '127.0.0.1' });
    }
    w.dns = await startDnsmasq({ dir, zones: domains, srv, a });
    w.stops.push(w.dns.stop);
    w.logs.push(...w.dns.logs);
    for (const s of srv) {
      const r = await w.dns.resolveSrv(s.name);
      if (r.length !== 1 || r[0].port !== s.port) {
        throw new Error(`dnsmasq answered ${JSON.stringify(r)} for ${s.name}`);
      }
    }
    w.gateway = gatewayStarter(w, domains);
    return w;
  } catch (e) {
    await w.teardown(true);
    throw e;
  }
}

// ------------------------------------------------------------------ BOSH

function postRaw(url, agent, body, ms) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`POST timed out after ${ms} ms`)), ms);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

/**
 * A BOSH session (hold=1 by default, so at most 2 requests in flight). After
 * login(), start() keeps a request held at all times and sends queued stanzas
 * (send()) with the next rid. Everything the gateway sends is appended, in rid
 * order, to `inbox`. `terminated` holds the condition when the session ended,
 * `errors` every transport error, `reports` every report attribute seen.
 */
class BoshSession {
  constructor({ url, domain, label, wait = 10, hold = 1 }) {
    this.url = url;
    this.domain = domain;
    this.label = label;
    this.wait = wait;
    this.hold = hold;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: hold + 2 });
    this.lastRid = 1000000 + Math.floor(Math.random() * 1e9);
    this.acked = null; // highest rid whose response (and all before) arrived
    this.sid = null;
    this.inbox = '';
    this.queue = [];
    this.inflight = new Set();
    this.payloads = new Map();
    this.responses = new Map();
    this.running = false;
    this.terminated = null;
    this.terminateText = null;
    this.errors = [];
    this.reports = [];
    this.lostRids = new Set();
    this.history = []; // { rid, text } of every response, in rid order
    this.waiters = new Set();
    this.lastResponse = null;
  }

  _notify() {
    for (const w of [...this.waiters]) {
      w();
    }
  }

  _bodyXml(rid, payload, extra) {
    const ack = this.acked !== null && this.acked !== rid - 1 ? ` ack='${this.acked}'` : '';
    return `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' rid='${rid}' sid='${this.sid}'${ack}${extra}>${payload}</body>`;
  }

  async create() {
    const rid = this.lastRid;
    const res = await postRaw(this.url, this.agent,
      `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' content='text/xml; charset=utf-8' ack='1' hold='${this.hold}' `
      + `rid='${rid}' to='${this.domain}' ver='1.6' wait='${this.wait}' xml:lang='en' xmpp:version='1.0'/>`, 15000);
    this.sid = attr(res.text, 'sid');
    if (res.status !== 200 || !this.sid) {
      throw new Error(`${this.label}: session creation refused: HTTP ${res.status} ${res.text}`);
    }
    this.creation = res.text;
    this.acked = rid;
    this.inbox += res.text;
    return res.text;
  }

  /** Records a response for `rid` and delivers every response now in order. */
  _got(rid, res) {
    this.responses.set(rid, res);
    const report = res.status === 200 ? attr(res.text, 'report') : null;
    if (report !== null) {
      const missed = Number(report);
      this.reports.push(missed);
      // XEP-0124 §9.3: resend the request whose response was lost (§14.3).
      if (missed > this.acked && !this.responses.has(missed) && !this.inflight.has(missed) && this.payloads.has(missed)) {
        this._issue(this.payloads.get(missed), '', missed);
      }
    }
    for (;;) {
      const next = this.acked + 1;
      if (!this.responses.has(next)) {
        break;
      }
      this.acked = next;
      const r = this.responses.get(next);
      this.responses.delete(next);
      this.payloads.delete(next);
      this.lastResponse = { rid: next, ...r };
      this.history.push({ rid: next, text: r.text });
      if (r.status !== 200) {
        this.errors.push(`rid ${next}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      } else {
        this.inbox += r.text;
        if (attr(r.text, 'type') === 'terminate' && !this.terminated) {
          this.terminated = attr(r.text, 'condition') || 'terminate';
          this.terminateText = r.text;
          this.running = false;
        }
      }
    }
    this._notify();
  }

  /**
   * The client lost the response to `rid` (its connection died). Later
   * responses wait for it (rid order): it comes back when the gateway reports
   * it (XEP-0124 §9.3, resent automatically) or after resend(rid).
   */
  lost(rid) {
    this.inflight.delete(rid);
    this.lostRids.add(rid);
  }

  /** XEP-0124 §14.3: sends the request `rid` again (same payload). */
  resend(rid) {
    return this._issue(this.payloads.get(rid) || '', '', rid);
  }

  /** Sends `payload` with `rid` (default: the next one) over the agent. */
  _issue(payload, extra = '', rid = null) {
    const r = rid === null ? ++this.lastRid : rid;
    this.payloads.set(r, payload);
    this.inflight.add(r);
    const p = postRaw(this.url, this.agent, this._bodyXml(r, payload, extra), (this.wait + 10) * 1000);
    p.then((res) => {
      this.inflight.delete(r);
      this._got(r, res);
      this._kick();
    }, (e) => {
      this.inflight.delete(r);
      this.errors.push(`rid ${r}: ${e.code || ''} ${e.message}`);
      this._notify();
    });
    return r;
  }

  /** Keeps hold+1 requests at most, at least one, while running. */
  _kick() {
    if (!this.running || this.terminated) {
      return;
    }
    while (this.inflight.size < this.hold + 1 && (this.queue.length > 0 || this.inflight.size === 0)) {
      this._issue(this.queue.splice(0).join(''));
    }
  }

  start() {
    this.running = true;
    this._kick();
  }

  /** Stops issuing requests (those in flight still complete). */
  stop() {
    this.running = false;
  }

  send(stanza) {
    this.queue.push(stanza);
    this._kick();
  }

  /** Resolves with the match of `re` in inbox after `from`; polls itself when not running. */
  async waitFor(re, what, from = 0, ms = 8000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.slice(from).match(re);
      if (m) {
        return m;
      }
      if (this.terminated) {
        throw new Error(`${this.label}: session terminated (${this.terminated}) while waiting for ${what}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.label}: timed out waiting for ${what}; got: ${this.inbox.slice(-300)}`);
      }
      if (!this.running && this.inflight.size === 0) {
        this._issue('');
      }
      await new Promise((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, 200);
        this.waiters.add(done);
      });
    }
  }

  /** Sends one stanza now (login steps, not running); `extra` = attributes of <body/>. */
  request(payload, extra = '') {
    return this._issue(payload, extra);
  }

  /** create + SASL PLAIN + restart + bind; resolves with the full JID. */
  async login(user, password, resource) {
    await this.create();
    await this.waitFor(/<mechanism>PLAIN<\/mechanism>/, 'SASL features');
    let mark = this.inbox.length;
    const creds = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    this.request(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`);
    const s = await this.waitFor(/<(success|failure)\b/, 'SASL outcome', mark);
    if (s[1] !== 'success') {
      throw new Error(`${this.label}: SASL failed: ${this.inbox.slice(mark)}`);
    }
    await until(() => this.inflight.size === 0, `${this.label}: requests before restart`, 15000, 20);
    mark = this.inbox.length;
    this.request('', ` xmpp:restart='true' to='${this.domain}' xml:lang='en'`);
    await this.waitFor(/<bind\b/, 'features after restart', mark);
    mark = this.inbox.length;
    this.request(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
    const b = await this.waitFor(/<jid>([^<]+)<\/jid>/, 'bind result', mark);
    this.jid = b[1];
    await until(() => this.inflight.size === 0, `${this.label}: requests after bind`, 15000, 20);
    return this.jid;
  }

  /**
   * Sends `payload` with the next rid over its own TCP connection (not the
   * agent) and returns { rid, socket, response } where response resolves with
   * { status, text } or { error } and never rejects. For the client-fault tests.
   */
  rawRequest(payload = '') {
    const rid = ++this.lastRid;
    this.payloads.set(rid, payload);
    this.inflight.add(rid);
    const u = new URL(this.url);
    const body = this._bodyXml(rid, payload, '');
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks = [];
    const response = new Promise((resolve) => {
      let settled = false;
      const finish = (v) => {
        if (!settled) {
          settled = true;
          resolve(v);
        }
      };
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', (e) => finish({ error: e.code || e.message }));
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const m = text.match(/^HTTP\/1\.1 (\d+)[^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/);
        finish(m ? { status: Number(m[1]), text: m[2] } : { error: `no HTTP response (${text.length} bytes)` });
      });
    });
    socket.on('connect', () => {
      socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/xml; charset=utf-8\r\n`
        + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    return { rid, socket, response };
  }

  async terminate() {
    if (!this.sid || this.terminated) {
      return;
    }
    this.running = false;
    try {
      await postRaw(this.url, this.agent, this._bodyXml(++this.lastRid, `<presence xmlns='jabber:client' type='unavailable'/>`, " type='terminate'"), 5000);
    } catch (_) {
      // best effort
    }
  }

  close() {
    this.running = false;
    this.agent.destroy();
  }
}

// ------------------------------------------------------------------ WebSocket

function openFrame(domain) {
  return `<open xmlns='${NS_FRAMING}' to='${domain}' version='1.0' xml:lang='en'/>`;
}

/** An RFC 7395 client over `ws`: frames in order in `frames`, `closeInfo` on close. */
class WsSession {
  constructor({ url, domain, label }) {
    this.url = url;
    this.domain = domain;
    this.label = label;
    this.frames = [];
    this.closeInfo = null;
    this.errors = [];
    this.waiters = new Set();
  }

  _notify() {
    for (const w of [...this.waiters]) {
      w();
    }
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, 'xmpp', { handshakeTimeout: 10000 });
      this.ws = ws;
      ws.on('message', (data) => {
        const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat([].concat(data)).toString('utf8');
        this.frames.push(text);
        // RFC 7395 §3.6: answer the server's <close/> with <close/>.
        if (/^<close\b/.test(text) && ws.readyState === WebSocket.OPEN && !this.sentClose) {
          this.sentClose = true;
          ws.send(`<close xmlns='${NS_FRAMING}'/>`);
        }
        this._notify();
      });
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
        this._notify();
      });
      ws.on('error', (e) => {
        this.errors.push(e.code || e.message);
        this._notify();
      });
      ws.once('open', () => resolve(this));
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        reject(new Error(`${this.label}: HTTP ${res.statusCode} instead of 101`));
      });
      ws.once('error', reject);
    });
  }

  text() {
    return this.frames.join('\n');
  }

  waitFrame(re, what, from = 0, ms = 8000) {
    return until(() => {
      const f = this.frames.slice(from).find((t) => re.test(t));
      if (f !== undefined) {
        return f;
      }
      if (this.closeInfo) {
        throw new Error(`${this.label}: closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}`);
      }
      return null;
    }, `${this.label}: ${what}`, ms, 20);
  }

  send(text) {
    this.ws.send(text);
  }

  async login(user, password, resource) {
    await this.connect();
    this.send(openFrame(this.domain));
    await this.waitFrame(/<mechanism>PLAIN<\/mechanism>/, 'SASL features');
    let mark = this.frames.length;
    const creds = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`);
    const s = await this.waitFrame(/^<(success|failure)\b/, 'SASL outcome', mark);
    if (!s.startsWith('<success')) {
      throw new Error(`${this.label}: SASL failed: ${s}`);
    }
    mark = this.frames.length;
    this.send(openFrame(this.domain));
    await this.waitFrame(/<bind\b/, 'features after restart', mark);
    mark = this.frames.length;
    this.send(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
    const b = await this.waitFrame(/id=['"]bind1['"]/, 'bind result', mark);
    const m = b.match(/<jid>([^<]+)<\/jid>/);
    if (!m) {
      throw new Error(`${this.label}: bind failed: ${b}`);
    }
    this.jid = m[1];
    return this.jid;
  }

  async closeClean() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.sentClose = true;
      this.ws.send(`<close xmlns='${NS_FRAMING}'/>`);
      await until(() => this.closeInfo, `${this.label}: close`, 3000).catch(() => this.ws.terminate());
    }
  }

  kill() {
    if (this.ws) {
      this.ws.terminate();
    }
  }
}

// ------------------------------------------------------------------ numbered messages

function seqMessage(to, from, n) {
  return `<message xmlns='jabber:client' type='chat' to='${to}' id='${from}-${n}'><body>seq ${from} ${n}</body></message>`;
}

/** Numbers from `from` in the order they appear in `text`. */
function seqBodies(text, from) {
  const out = [];
  const re = new RegExp(`<body>seq ${from} (\\d+)</body>`, 'g');
  let m;
  while ((m = re.exec(text)) !== null) {
    out.push(Number(m[1]));
  }
  return out;
}

/** null when `got` is exactly 1..sent, else a description of the first fault. */
function checkSeq(got, sent) {
  for (let i = 0; i < got.length; i += 1) {
    if (got[i] !== i + 1) {
      const dup = got.indexOf(got[i]) !== i;
      return `${dup ? 'duplicate' : 'gap/reorder'} at position ${i}: got ${got[i]}, expected ${i + 1} (…${got.slice(Math.max(0, i - 3), i + 3).join(',')}…)`;
    }
  }
  if (got.length !== sent) {
    return `received ${got.length} of ${sent} (lost ${sent - got.length}, last got ${got[got.length - 1]})`;
  }
  return null;
}

// ------------------------------------------------------------------ Prosody's log

/**
 * Prosody's debug log (lines "Mon DD HH:MM:SS <session-id>\t<level>\t<text>").
 * sessionOf(fullJid) -> the c2s session id that bound it ("Resource bound" /
 * "Authenticated as" lines carry it); linesOf(id) -> that session's texts.
 */
function serverLog(file, fromByte = 0) {
  const text = fs.readFileSync(file).subarray(fromByte).toString('utf8');
  const lines = text.split('\n').map((l) => {
    const m = l.match(/^\w{3} \d\d \d\d:\d\d:\d\d (\S+)\s+(\w+)\s+(.*)$/);
    return m ? { id: m[1], level: m[2], text: m[3] } : null;
  }).filter(Boolean);
  return {
    lines,
    sessionOf(fullJid) {
      const l = lines.find((x) => x.id.startsWith('c2s') && x.text.includes(fullJid) && /[Rr]esource bound|bound|Authenticated/.test(x.text));
      return l ? l.id : null;
    },
    linesOf(id) {
      return lines.filter((x) => x.id === id).map((x) => x.text);
    },
  };
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch (_) {
    return 0;
  }
}

module.exports = {
  gatewayStarter,
  NS_FRAMING,
  PROSODY,
  EJABBERD,
  sleep,
  until,
  attr,
  startFaultWorld,
  BoshSession,
  WsSession,
  seqMessage,
  seqBodies,
  checkSeq,
  serverLog,
  fileSize,
};
