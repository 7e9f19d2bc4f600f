'use strict';
// What the two load-generating clients share: BoshSession (bosh_load.js,
// XEP-0124 + XEP-0206) and WsSession (ws_load.js, RFC 7395) have one
// interface for bench.js (login(), startIdle(), send(), abort(), close(), and
// the fields below) and one login sequence after the transport's own opening:
// SASL PLAIN, stream restart, resource bind. Responses are scanned with a few
// regular expressions instead of a DOM: the bench controls every stanza it
// waits for, and the load generator must stay cheap next to the managers it
// measures.

const { performance } = require('node:perf_hooks');

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/** Escapes text for an XML attribute or character data. */
function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

/** Parses the attributes of one start tag's attribute text into an object. */
function parseAttrs(text) {
  const out = {};
  const re = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    out[m[1]] = m[2] !== undefined ? m[2] : m[3];
  }
  return out;
}

/** ids of the <message/> stanzas in a chunk of XML. */
function messageIds(inner) {
  const ids = [];
  const re = /<message\b([^>]*)>/g;
  let m;
  while ((m = re.exec(inner)) !== null) {
    const id = parseAttrs(m[1]).id;
    if (id !== undefined) {
      ids.push(id);
    }
  }
  return ids;
}

/** Resolves once `promise` settles or `ms` have passed, whichever is first; the timer is cleared. */
async function settleWithin(promise, ms) {
  let timer;
  await Promise.race([promise, new Promise((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

/**
 * Base of one load session. Lifetime: construct, login(), startIdle(), then
 * any number of send(); close() ends the session. Errors are recorded in
 * `error` (the first one wins). Subclasses provide:
 *   _open()            the transport's opening steps (each sets this.step
 *                      first); resolves with XML that offers SASL mechanisms;
 *   _step(payload, re) sends one login payload (top-level XML) and resolves
 *                      with what arrived until it matched `re`;
 *   _restart()         the stream restart after SASL; resolves once <bind/>
 *                      is offered.
 */
class LoadSession {
  /** domain: the stream's `to`; user/password: SASL PLAIN credentials. */
  constructor({ url, domain, user, password, resource = 'bench' }) {
    this.url = url;
    this.domain = domain;
    this.user = user;
    this.password = password;
    this.resource = resource;
    this.jid = null;
    this.error = null;
    this.closed = false;
    this.idle = false;
    this.onMessage = null; // (id, tReceived) for <message/> stanzas seen while idle
    this.loginMs = null;
    this.step = null; // login step in progress (for error reports)
  }

  /**
   * The transport's opening → SASL PLAIN → restart → bind. Resolves with the
   * latency in ms (first request of the opening sent → bind result
   * received); rejects with the step that failed.
   */
  async login() {
    const t0 = performance.now();
    try {
      let acc = await this._open();
      if (!/<mechanism>\s*PLAIN\s*<\/mechanism>/.test(acc)) {
        throw new Error(`PLAIN not offered: ${acc.slice(0, 300)}`);
      }
      this.step = 'SASL PLAIN';
      const creds = Buffer.from(`\0${this.user}\0${this.password}`, 'utf8').toString('base64');
      acc = await this._step(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`, /<(?:\w+:)?(?:success|failure)\b/);
      if (!/<(?:\w+:)?success\b/.test(acc)) {
        throw new Error(`SASL failed: ${acc.slice(0, 300)}`);
      }
      this.step = 'restart';
      await this._restart();
      this.step = 'bind';
      acc = await this._step(
        `<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='${NS_BIND}'><resource>${xmlEscape(this.resource)}</resource></bind></iq>`,
        /<jid>([^<]+)<\/jid>|type=["']error["']/,
      );
      const m = /<jid>([^<]+)<\/jid>/.exec(acc);
      if (!m) {
        throw new Error(`bind failed: ${acc.slice(0, 300)}`);
      }
      this.jid = m[1];
      this.loginMs = performance.now() - t0;
      // Socket transports (WebSocket, TCP): what arrives from here on is idle traffic.
      this._acc = '';
      return this.loginMs;
    } catch (e) {
      this.error = this.error || `${this.step}: ${e.message}`;
      throw new Error(this.error);
    }
  }

  /** Enters the idle state (socket transports: the socket stays open, incoming messages go to onMessage). */
  startIdle() {
    this.idle = true;
  }

  /** Hands the id of each <message/> in `xml` (received at `t`) to onMessage. */
  _deliverMessages(xml, t) {
    for (const id of messageIds(xml)) {
      this.onMessage(id, t);
    }
  }
}

/**
 * A LoadSession over one connection object (a WebSocket, a TCP/TLS socket) that
 * emits 'close'. Subclasses provide _conn() (the connection, or null before
 * it opens), _write(c, payload), _isOpen(c), _closeGracefully(c, polite)
 * (polite: the session is logged in and healthy, so send the closing element
 * first) and _destroy(c).
 */
class SocketSession extends LoadSession {
  /** Sends stanzas. */
  send(payload) {
    const c = this._conn();
    if (c && !this.closed && !this.error) {
      this._write(c, payload);
    }
  }

  /** Drops the session without telling the peer (connection closed). */
  abort() {
    this.closed = true;
    const c = this._conn();
    if (c) {
      this._destroy(c);
    }
  }

  /** Closes politely (best effort), waits for the peer to close (bounded by `ms`), then drops the connection. */
  async close(ms = 5000) {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const c = this._conn();
    if (!c) {
      return;
    }
    if (this._isOpen(c)) {
      const closed = new Promise((r) => c.once('close', r));
      try {
        this._closeGracefully(c, Boolean(this.jid && !this.error));
      } catch (_) {
        // already closing
      }
      await settleWithin(closed, ms);
    }
    this._destroy(c);
  }
}

module.exports = { LoadSession, SocketSession, settleWithin, xmlEscape, parseAttrs, messageIds };
