'use strict';
// Minimal hand-written clients for the abuse suite, each able to bind a source
// address (localAddress) so that the attacker (127.0.0.1) and the innocent
// user (127.0.0.2) are different client addresses for the gateway's admission
// control:
//   BoshRaw   - XEP-0124/0206 over node:http with a keep-alive agent
//   wsConnect / WsRaw - RFC 7395 over the `ws` package
//   boshLogin / wsLogin - SASL PLAIN + bind, then one message round trip with
//                         an echoing contact (the innocent's check)

const http = require('node:http');
const crypto = require('node:crypto');
const WebSocket = require('ws');

const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
const NS_XBOSH = 'urn:xmpp:xbosh';
const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

function token() {
  return crypto.randomBytes(6).toString('hex');
}

function attr(text, name) {
  const m = text.match(new RegExp(`<body\\b[^>]*\\s${name}=['"]([^'"]*)['"]`));
  return m ? m[1] : null;
}

function xmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');
}

/**
 * One POST of `body` to `url` through `agent`; resolves with
 * { status, headers, text } or rejects on a socket error / after `ms`.
 */
function post(url, agent, body, ms = 10000, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`POST timed out after ${ms} ms`));
    }, ms);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

/** The session-creation <body/> of XEP-0206 (hold/wait as given). */
function creationBody({ rid, domain, hold = 1, wait = 10 }) {
  return `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' content='text/xml; charset=utf-8' `
    + `hold='${hold}' rid='${rid}' to='${domain}' ver='1.6' wait='${wait}' xml:lang='en' xmpp:version='1.0'/>`;
}

/**
 * A raw BOSH session: strictly one request at a time (the gateway holds it
 * until data arrives or `wait` ends), which is all a login + one message
 * round trip needs. Everything received is appended to `this.received`.
 */
class BoshRaw {
  constructor({ url, domain, localAddress, hold = 1, wait = 10, maxSockets = 2, label = 'bosh' }) {
    this.url = url;
    this.domain = domain;
    this.hold = hold;
    this.wait = wait;
    this.label = label;
    this.agent = new http.Agent({ keepAlive: true, maxSockets, localAddress });
    this.rid = 1000000 + Math.floor(Math.random() * 1e9);
    this.sid = null;
    this.received = '';
    this.terminated = null; // condition when the gateway ended the session
  }

  async create() {
    const res = await post(this.url, this.agent, creationBody({ rid: this.rid, domain: this.domain, hold: this.hold, wait: this.wait }));
    this._take(res);
    this.sid = attr(res.text, 'sid');
    if (!this.sid) {
      throw new Error(`${this.label}: session creation refused: HTTP ${res.status} ${res.text}`);
    }
    return res;
  }

  _take(res) {
    if (res.status !== 200) {
      throw new Error(`${this.label}: HTTP ${res.status}: ${res.text}`);
    }
    this.received += res.text;
    if (attr(res.text, 'type') === 'terminate') {
      this.terminated = attr(res.text, 'condition') || 'terminate';
    }
  }

  /** Sends `payload` (children of <body/>) with the next rid; resolves with the response. */
  async send(payload = '', extra = '') {
    this.rid += 1;
    const res = await post(this.url, this.agent,
      `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' rid='${this.rid}' sid='${this.sid}'${extra}>${payload}</body>`,
      (this.wait + 5) * 1000);
    this._take(res);
    return res;
  }

  /** Polls (empty requests) until `re` matches what was received; returns the match. */
  async waitFor(re, what, from = 0, ms = 8000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.received.slice(from).match(re);
      if (m) {
        return m;
      }
      if (this.terminated) {
        throw new Error(`${this.label}: session terminated (${this.terminated}) while waiting for ${what}; got: ${this.received.slice(-400)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.label}: timed out waiting for ${what}; got: ${this.received.slice(-400)}`);
      }
      await this.send('');
    }
  }

  async terminate() {
    if (!this.sid || this.terminated) {
      return;
    }
    try {
      await this.send("<presence xmlns='jabber:client' type='unavailable'/>", " type='terminate'");
    } catch (_) {
      // best effort
    }
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * The innocent's check over BOSH: create, SASL PLAIN, restart, bind, send a
 * message to `echoJid` and wait for its echo. Resolves with { ms, jid }; the
 * session is terminated afterwards (not timed).
 */
async function boshLogin({ url, domain, user, password, localAddress, echoJid, resource }) {
  const c = new BoshRaw({ url, domain, localAddress, label: `${user}/bosh@${localAddress}` });
  const t0 = Date.now();
  try {
    await c.create();
    await c.waitFor(/<mechanism>PLAIN<\/mechanism>/, 'SASL features');
    let mark = c.received.length;
    const creds = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    await c.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`);
    const sasl = await c.waitFor(/<(success|failure)\b/, 'SASL outcome', mark);
    if (sasl[1] !== 'success') {
      throw new Error(`SASL failed: ${c.received.slice(mark)}`);
    }
    mark = c.received.length;
    await c.send('', ` xmpp:restart='true' to='${domain}' xml:lang='en'`);
    await c.waitFor(/<bind\b/, 'features after restart', mark);
    const id = `bind-${token()}`;
    mark = c.received.length;
    await c.send(`<iq xmlns='jabber:client' type='set' id='${id}'><bind xmlns='${NS_BIND}'><resource>${resource || `innocent-${token()}`}</resource></bind></iq>`);
    const bound = await c.waitFor(/<jid>([^<]+)<\/jid>/, 'bind result', mark);
    const jid = bound[1];
    const text = `ping ${token()}`;
    await c.send(`<message xmlns='jabber:client' type='chat' to='${echoJid}' id='m-${token()}'><body>${text}</body></message>`);
    await c.waitFor(new RegExp(`<body>echo: ${text}</body>`), 'echo of the message');
    const ms = Date.now() - t0;
    await c.terminate();
    return { ms, jid };
  } finally {
    c.close();
  }
}

/**
 * A WebSocket with subprotocol xmpp from `localAddress`; resolves with a
 * WsRaw once open (rejects with { status, headers } on a non-101 answer).
 */
function wsConnect(url, { localAddress, ms = 10000, label = 'ws' } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'xmpp', { localAddress, handshakeTimeout: ms });
    const w = new WsRaw(ws, label);
    ws.once('open', () => resolve(w));
    ws.once('unexpected-response', (req, res) => {
      const e = new Error(`${label}: HTTP ${res.statusCode} instead of 101`);
      e.status = res.statusCode;
      e.headers = res.headers;
      res.resume();
      req.destroy();
      reject(e);
    });
    ws.once('error', reject);
  });
}

/** Text frames in, waits on them; close info recorded. */
class WsRaw {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.frames = [];
    this.closeInfo = null;
    this.waiters = [];
    ws.on('message', (data) => {
      this.frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat([].concat(data)).toString('utf8'));
      this._check();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8'), at: Date.now() };
      this._check();
    });
    ws.on('error', (e) => {
      this.error = e;
      this._check();
    });
  }

  _check() {
    for (const w of this.waiters.slice()) {
      w();
    }
  }

  /** Resolves with the first frame from index `from` matching `re`. */
  waitFrame(re, what, from = 0, ms = 8000) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        const f = this.frames.slice(from).find((t) => re.test(t));
        if (f !== undefined || this.closeInfo) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((x) => x !== check);
          if (f !== undefined) {
            resolve(f);
          } else {
            reject(new Error(`${this.label}: closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}; frames: ${this.frames.slice(-3).join(' | ')}`));
          }
        }
      };
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== check);
        reject(new Error(`${this.label}: timed out waiting for ${what}; frames: ${this.frames.slice(-3).join(' | ')}`));
      }, ms);
      this.waiters.push(check);
      check();
    });
  }

  /** Resolves when the WebSocket is closed (or after ms with null). */
  waitClosed(ms) {
    return new Promise((resolve) => {
      let timer = null;
      const check = () => {
        if (this.closeInfo) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((x) => x !== check);
          resolve(this.closeInfo);
        }
      };
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== check);
        resolve(null);
      }, ms);
      this.waiters.push(check);
      check();
    });
  }

  send(text) {
    this.ws.send(text);
  }

  terminate() {
    this.ws.terminate();
  }
}

function openFrame(domain) {
  return `<open xmlns='${NS_FRAMING}' to='${domain}' version='1.0' xml:lang='en'/>`;
}

/** SASL PLAIN + bind over an open WsRaw; resolves with the bound JID. */
async function wsAuthBind(w, { domain, user, password, resource }) {
  w.send(openFrame(domain));
  await w.waitFrame(/<mechanism>PLAIN<\/mechanism>/, 'SASL features');
  let mark = w.frames.length;
  const creds = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
  w.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`);
  const sasl = await w.waitFrame(/^<(success|failure)\b/, 'SASL outcome', mark);
  if (!sasl.startsWith('<success')) {
    throw new Error(`${w.label}: SASL failed: ${sasl}`);
  }
  mark = w.frames.length;
  w.send(openFrame(domain));
  await w.waitFrame(/<bind\b/, 'features after restart', mark);
  mark = w.frames.length;
  const id = `bind-${token()}`;
  w.send(`<iq xmlns='jabber:client' type='set' id='${id}'><bind xmlns='${NS_BIND}'><resource>${resource || token()}</resource></bind></iq>`);
  const bound = await w.waitFrame(new RegExp(`id=['"]${id}['"]`), 'bind result', mark);
  const m = bound.match(/<jid>([^<]+)<\/jid>/);
  if (!m) {
    throw new Error(`${w.label}: bind failed: ${bound}`);
  }
  return m[1];
}

/** The innocent's check over WebSocket (same steps as boshLogin). */
async function wsLogin({ url, domain, user, password, localAddress, echoJid }) {
  const t0 = Date.now();
  const w = await wsConnect(url, { localAddress, label: `${user}/ws@${localAddress}` });
  try {
    const jid = await wsAuthBind(w, { domain, user, password, resource: `innocent-ws-${token()}` });
    const text = `ping ${token()}`;
    const mark = w.frames.length;
    w.send(`<message xmlns='jabber:client' type='chat' to='${echoJid}' id='m-${token()}'><body>${text}</body></message>`);
    await w.waitFrame(new RegExp(`<body>echo: ${text}</body>`), 'echo of the message', mark);
    const ms = Date.now() - t0;
    w.send(`<close xmlns='${NS_FRAMING}'/>`);
    await w.waitClosed(1000);
    return { ms, jid };
  } finally {
    w.terminate();
  }
}

module.exports = {
  NS_HTTPBIND,
  NS_XBOSH,
  NS_FRAMING,
  NS_SASL,
  NS_BIND,
  token,
  attr,
  xmlEscape,
  post,
  creationBody,
  BoshRaw,
  boshLogin,
  wsConnect,
  WsRaw,
  wsAuthBind,
  wsLogin,
  openFrame,
};
