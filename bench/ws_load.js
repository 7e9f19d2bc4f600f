'use strict';
// A deliberately small XMPP-over-WebSocket client for load generation
// (RFC 7395, subprotocol `xmpp`) with the same interface as bosh_load.js's
// BoshSession: <open/>, SASL PLAIN, restart <open/>, resource bind, then the
// socket is simply kept open (an idle WebSocket session carries nothing but
// the server's keepalive Pings, which the `ws` package answers itself).
// Frames are scanned with regular expressions instead of a DOM, like the BOSH
// driver: the bench controls every stanza it waits for, and the load generator
// must stay cheap next to the managers it measures.

const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { xmlEscape, parseAttrs, messageIds } = require('./bosh_load');

/**
 * The `ws` package: bench/node_modules (package.json pins it), else the
 * interop harness's copy (read-only). Throws with the reason if neither loads.
 */
function loadWs() {
  const dirs = [__dirname, path.join(__dirname, '..', 'interop')];
  try {
    return require(require.resolve('ws', { paths: dirs }));
  } catch (e) {
    throw new Error(`the ws package is not installed (run npm ci in bench/): ${e.message.split('\n')[0]}`);
  }
}

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/**
 * One WebSocket session. Lifetime: construct, login(), startIdle(), then any
 * number of send(); close() sends <close/> and closes the socket. Errors are
 * recorded in `error` (the first one wins); an unexpected close while idle is
 * an error (`idle: ...`).
 */
class WsSession {
  /**
   * url: ws:// endpoint; domain: the <open/>'s `to`; user/password: SASL
   * PLAIN credentials; stepTimeoutMs: deadline of each login step.
   */
  constructor({ url, domain, user, password, resource = 'bench', stepTimeoutMs = 30000 }) {
    this.url = url;
    this.domain = domain;
    this.user = user;
    this.password = password;
    this.resource = resource;
    this.stepTimeoutMs = stepTimeoutMs;
    this.ws = null;
    this.jid = null;
    this.error = null;
    this.closed = false;
    this.idle = false;
    this.onMessage = null; // (id, tReceived) for <message/> stanzas seen while idle
    this.loginMs = null;
    this.step = null; // login step in progress (for error reports)
    this._acc = ''; // frames received since the current login step began
    this._waiter = null; // { re, resolve, reject, timer } of the login step
  }

  _onFrame(text) {
    const t = performance.now();
    if (this.idle) {
      if (this.onMessage && text.startsWith('<message')) {
        for (const id of messageIds(text)) {
          this.onMessage(id, t);
        }
      } else if (/^<close\b/.test(text) || /^<(?:stream:)?error\b/.test(text)) {
        this._fail(`idle: the server closed the stream: ${text.slice(0, 200)}`);
      }
      return;
    }
    this._acc += text;
    if (this._waiter && this._waiter.re.test(this._acc)) {
      const w = this._waiter;
      this._waiter = null;
      clearTimeout(w.timer);
      w.resolve(this._acc);
    } else if (/^<close\b/.test(text) || /^<(?:stream:)?error\b/.test(text)) {
      this._fail(`the server closed the stream: ${text.slice(0, 200)}`);
    }
  }

  /** Records the first error and fails the pending login step, if any. */
  _fail(msg) {
    if (!this.closed) {
      this.error = this.error || msg;
    }
    if (this._waiter) {
      const w = this._waiter;
      this._waiter = null;
      clearTimeout(w.timer);
      w.reject(new Error(msg));
    }
  }

  /** Sends `text` (unless null) and resolves with the frames received until they match `re`. */
  _exchange(text, re) {
    this._acc = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiter = null;
        reject(new Error(`no ${re} within ${this.stepTimeoutMs} ms; got: ${this._acc.slice(0, 300)}`));
      }, this.stepTimeoutMs);
      this._waiter = { re, resolve, reject, timer };
      if (text !== null) {
        this.ws.send(text);
      }
    });
  }

  _openFrame() {
    return `<open xmlns='${NS_FRAMING}' to='${xmlEscape(this.domain)}' version='1.0' xml:lang='en'/>`;
  }

  /**
   * WebSocket upgrade → <open/> → SASL PLAIN → restart <open/> → bind.
   * Resolves with the latency in ms (upgrade request sent → bind result
   * received, comparable to the BOSH driver's creation request → bind);
   * rejects with the step that failed.
   */
  async login() {
    const t0 = performance.now();
    let step = 'WebSocket upgrade';
    this.step = step;
    try {
      const WebSocket = loadWs();
      // No permessage-deflate: neither manager measured here negotiates it.
      this.ws = new WebSocket(this.url, 'xmpp', { perMessageDeflate: false, handshakeTimeout: this.stepTimeoutMs });
      this.ws.on('message', (data, isBinary) => {
        if (isBinary) {
          this._fail('binary frame received');
          return;
        }
        this._onFrame(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat([].concat(data)).toString('utf8'));
      });
      this.ws.on('close', (code, reason) => {
        this._fail(`${this.idle ? 'idle: ' : ''}WebSocket closed by the server: code ${code} ${reason.toString('utf8')}`);
      });
      this.ws.on('error', (e) => {
        this._fail(`${this.idle ? 'idle: ' : ''}WebSocket error: ${e.message}`);
      });
      await new Promise((resolve, reject) => {
        this.ws.once('open', resolve);
        this.ws.once('error', reject);
        this.ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode} instead of 101`)));
      });
      if (this.ws.protocol !== 'xmpp') {
        throw new Error(`subprotocol ${JSON.stringify(this.ws.protocol)} instead of "xmpp"`);
      }
      step = 'open';
      this.step = step;
      let acc = await this._exchange(this._openFrame(), /<mechanisms\b[\s\S]*<\/(?:\w+:)?features>/);
      if (!/<mechanism>\s*PLAIN\s*<\/mechanism>/.test(acc)) {
        throw new Error(`PLAIN not offered: ${acc.slice(0, 300)}`);
      }
      step = 'SASL PLAIN';
      this.step = step;
      const creds = Buffer.from(`\0${this.user}\0${this.password}`, 'utf8').toString('base64');
      acc = await this._exchange(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`, /<(?:\w+:)?(?:success|failure)\b/);
      if (!/<(?:\w+:)?success\b/.test(acc)) {
        throw new Error(`SASL failed: ${acc.slice(0, 300)}`);
      }
      step = 'restart';
      this.step = step;
      await this._exchange(this._openFrame(), /<bind\b/);
      step = 'bind';
      this.step = step;
      acc = await this._exchange(
        `<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='${NS_BIND}'><resource>${xmlEscape(this.resource)}</resource></bind></iq>`,
        /<jid>([^<]+)<\/jid>|type=["']error["']/,
      );
      const m = /<jid>([^<]+)<\/jid>/.exec(acc);
      if (!m) {
        throw new Error(`bind failed: ${acc.slice(0, 300)}`);
      }
      this.jid = m[1];
      this.loginMs = performance.now() - t0;
      this._acc = '';
      return this.loginMs;
    } catch (e) {
      this.error = this.error || `${step}: ${e.message}`;
      throw new Error(this.error);
    }
  }

  /** Enters the idle state: the socket stays open, incoming messages go to onMessage. */
  startIdle() {
    this.idle = true;
  }

  /** Sends stanzas (one per frame, RFC 7395 3.3.3). */
  send(payload) {
    if (this.ws && !this.closed && !this.error) {
      this.ws.send(payload);
    }
  }

  /** Drops the session without telling the manager (TCP connection closed). */
  abort() {
    this.closed = true;
    if (this.ws) {
      this.ws.terminate();
    }
  }

  /** Sends <close/> (best effort), waits for the socket to close (bounded by `ms`), then drops it. */
  async close(ms = 5000) {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const ws = this.ws;
    if (!ws) {
      return;
    }
    if (ws.readyState === ws.OPEN) {
      let timer;
      const closed = new Promise((r) => ws.once('close', r));
      try {
        if (this.jid && !this.error) {
          ws.send(`<close xmlns='${NS_FRAMING}'/>`);
        }
        ws.close(1000);
      } catch (_) {
        // already closing
      }
      await Promise.race([closed, new Promise((r) => { timer = setTimeout(r, ms); })]);
      clearTimeout(timer);
    }
    ws.terminate();
  }
}

module.exports = { WsSession, loadWs, parseAttrs };
