'use strict';
// A deliberately small XMPP-over-WebSocket client for load generation
// (RFC 7395, subprotocol `xmpp`) with the same interface as bosh_load.js's
// BoshSession (both extend load_session.js): <open/>, SASL PLAIN, restart
// <open/>, resource bind, then the socket is simply kept open (an idle
// WebSocket session carries nothing but the server's keepalive Pings, which
// the `ws` package answers itself). Frames are scanned with regular
// expressions instead of a DOM, like the BOSH driver.

const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { SocketSession, xmlEscape, parseAttrs } = require('./load_session');

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

/**
 * One WebSocket session. Lifetime: construct, login(), startIdle(), then any
 * number of send(); close() sends <close/> and closes the socket. Errors are
 * recorded in `error` (the first one wins); an unexpected close while idle is
 * an error (`idle: ...`).
 */
class WsSession extends SocketSession {
  /**
   * url: ws:// endpoint; domain: the <open/>'s `to`; user/password: SASL
   * PLAIN credentials; stepTimeoutMs: deadline of each login step.
   */
  constructor({ url, domain, user, password, resource = 'bench', stepTimeoutMs = 30000 }) {
    super({ url, domain, user, password, resource });
    this.stepTimeoutMs = stepTimeoutMs;
    this.ws = null;
    this._acc = ''; // frames received since the current login step began
    this._waiter = null; // { re, resolve, reject, timer } of the login step
  }

  _onFrame(text) {
    const t = performance.now();
    if (this.idle) {
      if (this.onMessage && text.startsWith('<message')) {
        this._deliverMessages(text, t);
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
   * WebSocket upgrade, then <open/> until the stream features offer SASL
   * mechanisms. login()'s latency thus runs from the upgrade request sent to
   * the bind result received (comparable to the BOSH driver's creation
   * request → bind).
   */
  async _open() {
    this.step = 'WebSocket upgrade';
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
    this.step = 'open';
    return this._exchange(this._openFrame(), /<mechanisms\b[\s\S]*<\/(?:\w+:)?features>/);
  }

  /** One login payload, one frame (RFC 7395 3.3.3). */
  _step(payload, re) {
    return this._exchange(payload, re);
  }

  /** RFC 7395 3.4: after SASL success the client sends a new <open/>. */
  _restart() {
    return this._exchange(this._openFrame(), /<bind\b/);
  }

  _conn() {
    return this.ws;
  }

  /** One stanza per frame (RFC 7395 3.3.3). */
  _write(ws, payload) {
    ws.send(payload);
  }

  _isOpen(ws) {
    return ws.readyState === ws.OPEN;
  }

  /** RFC 7395 3.6: <close/>, then the WebSocket closing handshake. */
  _closeGracefully(ws, polite) {
    if (polite) {
      ws.send(`<close xmlns='${NS_FRAMING}'/>`);
    }
    ws.close(1000);
  }

  _destroy(ws) {
    ws.terminate();
  }
}

module.exports = { WsSession, loadWs, parseAttrs };
