'use strict';
// A deliberately small XMPP client over a plain TCP c2s connection (RFC 6120)
// for load generation, with the same interface as ws_load.js's WsSession and
// bosh_load.js's BoshSession (all three extend load_session.js): stream
// header, (optionally STARTTLS, certificate verified), SASL PLAIN, stream
// restart, resource bind; then the socket is simply kept open. It talks
// straight to the server's c2s port: the `direct` rows, no connection manager.
//
// A TCP stream has no frames, so the bytes go through a streaming XML parser:
// @xmpp/xml's Parser (ltx underneath; the parser @xmpp/client uses for its TCP
// transport), from interop/node_modules (a dependency of @xmpp/client there).
// It emits each top-level child of <stream:stream> as one element; a new
// parser is started with every stream header the client sends (stream
// restarts). While idle only <message/> ids are looked at (no serialisation);
// during the login the elements are serialised and scanned with the same
// regular expressions as the other clients.

const net = require('node:net');
const tls = require('node:tls');
const path = require('node:path');
const { StringDecoder } = require('node:string_decoder');
const { performance } = require('node:perf_hooks');
const { SocketSession, xmlEscape } = require('./load_session');

const NS_STREAMS = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';

let ParserClass = null;

/**
 * @xmpp/xml's streaming Parser: bench/node_modules if ever installed there,
 * else the interop harness's copy (read-only). Throws with the reason if
 * neither loads.
 */
function loadXmlParser() {
  if (ParserClass === null) {
    const dirs = [__dirname, path.join(__dirname, '..', 'interop')];
    try {
      ParserClass = require(require.resolve('@xmpp/xml', { paths: dirs })).Parser;
    } catch (e) {
      throw new Error(`the @xmpp/xml package (streaming XML parser) is not installed (run npm ci in interop/): ${e.message.split('\n')[0]}`);
    }
    if (typeof ParserClass !== 'function') {
      ParserClass = null;
      throw new Error('@xmpp/xml has no Parser export');
    }
  }
  return ParserClass;
}

/**
 * One c2s session. Lifetime: construct, login(), startIdle(), then any number
 * of send(); close() sends </stream:stream> and closes the socket. Errors are
 * recorded in `error` (the first one wins); an unexpected close while idle is
 * an error (`idle: ...`).
 */
class TcpSession extends SocketSession {
  /**
   * url: xmpp://host:port (the c2s listener); domain: the stream's `to`;
   * user/password: SASL PLAIN credentials; starttls: negotiate TLS first
   * (required then), verifying the server certificate for `domain` against
   * `ca` (PEM); stepTimeoutMs: deadline of each login step.
   */
  constructor({ url, domain, user, password, resource = 'bench', starttls = false, ca = null, stepTimeoutMs = 30000 }) {
    super({ url: new URL(url), domain, user, password, resource });
    this.starttls = starttls;
    this.ca = ca;
    this.stepTimeoutMs = stepTimeoutMs;
    this.socket = null;
    this.parser = null;
    this._decoder = null;
    this._t = 0; // arrival time of the chunk being parsed
    this._acc = ''; // elements received since the current login step began
    this._waiter = null; // { re, resolve, reject, timer } of the login step
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

  _idlePrefix() {
    return this.idle ? 'idle: ' : '';
  }

  /** A fresh parser for a new stream (sent header: the server answers with a new one). */
  _newParser() {
    const Parser = loadXmlParser();
    const p = new Parser();
    p.on('element', (el) => {
      if (this.parser === p) {
        this._onElement(el);
      }
    });
    p.on('end', () => {
      if (this.parser === p) {
        this._fail(`${this._idlePrefix()}the server closed the stream (</stream:stream>)`);
      }
    });
    p.on('error', (e) => {
      this._fail(`${this._idlePrefix()}XML from the server: ${e.message}`);
    });
    this.parser = p;
  }

  _onElement(el) {
    const topError = /^(?:\w+:)?error$/.test(el.name); // at the top level: a stream error
    if (this.idle) {
      if (el.name === 'message') {
        if (this.onMessage && el.attrs.id !== undefined) {
          this.onMessage(el.attrs.id, this._t);
        }
      } else if (topError) {
        this._fail(`idle: stream error: ${el.toString().slice(0, 200)}`);
      }
      return;
    }
    const text = el.toString();
    this._acc += text;
    if (this._waiter && this._waiter.re.test(this._acc)) {
      const w = this._waiter;
      this._waiter = null;
      clearTimeout(w.timer);
      w.resolve(this._acc);
    } else if (topError) {
      this._fail(`stream error: ${text.slice(0, 200)}`);
    }
  }

  /** Reads `sock` (plain or TLS) into the current parser. */
  _attach(sock) {
    this.socket = sock;
    this._decoder = new StringDecoder('utf8');
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      this._t = performance.now();
      try {
        this.parser.write(this._decoder.write(chunk));
      } catch (e) {
        this._fail(`${this._idlePrefix()}XML from the server: ${e.message}`);
      }
    });
    sock.on('error', (e) => {
      this._fail(`${this._idlePrefix()}socket error: ${e.message}`);
    });
    sock.on('close', () => {
      this._fail(`${this._idlePrefix()}connection closed by the server`);
    });
  }

  /** Sends `text` (unless null) and resolves with the elements received until they match `re`. */
  _exchange(text, re) {
    this._acc = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiter = null;
        reject(new Error(`no ${re} within ${this.stepTimeoutMs} ms; got: ${this._acc.slice(0, 300)}`));
      }, this.stepTimeoutMs);
      this._waiter = { re, resolve, reject, timer };
      if (text !== null) {
        this.socket.write(text);
      }
    });
  }

  /** A new stream: new parser, stream header, until `re` (in the stream features) matches. */
  _openStream(re) {
    this._newParser();
    return this._exchange(`<?xml version='1.0'?><stream:stream to='${xmlEscape(this.domain)}' version='1.0' xml:lang='en'`
      + ` xmlns='jabber:client' xmlns:stream='${NS_STREAMS}'>`, re);
  }

  /** Resolves with socket `s` once it emits `event`; rejects on its error or after stepTimeoutMs (`what` names the step). */
  _ready(s, event, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no ${what} within ${this.stepTimeoutMs} ms`));
      }, this.stepTimeoutMs);
      s.once(event, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /**
   * TCP connect, stream header until the features arrive; with starttls,
   * <starttls/>, the TLS handshake (certificate verified) and a new stream.
   * login()'s latency thus runs from the connect to the bind result.
   */
  async _open() {
    this.step = 'TCP connect';
    const raw = await this._ready(net.connect({ host: this.url.hostname, port: Number(this.url.port) }), 'connect', 'connection');
    if (this.closed) {
      raw.destroy();
      throw new Error('aborted');
    }
    this._attach(raw);
    this.step = 'stream open';
    const features = /<(?:\w+:)?features\b/;
    let acc = await this._openStream(features);
    if (this.starttls) {
      if (!/<starttls\b/.test(acc)) {
        throw new Error(`STARTTLS not offered: ${acc.slice(0, 300)}`);
      }
      this.step = 'STARTTLS';
      acc = await this._exchange(`<starttls xmlns='${NS_TLS}'/>`, /<(?:proceed|failure)\b/);
      if (!/<proceed\b/.test(acc)) {
        throw new Error(`STARTTLS refused: ${acc.slice(0, 300)}`);
      }
      // From here on the raw socket belongs to TLS.
      raw.removeAllListeners('data');
      raw.removeAllListeners('close');
      raw.removeAllListeners('error');
      this.step = 'TLS handshake';
      const secure = await this._ready(tls.connect({ socket: raw, servername: this.domain, ca: this.ca, minVersion: 'TLSv1.2' }), 'secureConnect', 'TLS handshake');
      this._attach(secure);
      this.step = 'stream open (TLS)';
      acc = await this._openStream(features);
    }
    return acc;
  }

  /** One login payload (top-level element). */
  _step(payload, re) {
    return this._exchange(payload, re);
  }

  /** RFC 6120 6.4.6: after SASL success a new stream (header), until <bind/> is offered. */
  _restart() {
    return this._openStream(/<bind\b/);
  }

  _conn() {
    return this.socket;
  }

  _write(sock, payload) {
    sock.write(payload);
  }

  _isOpen(sock) {
    return !sock.destroyed && sock.writable;
  }

  /** RFC 6120 4.4: </stream:stream>, then our FIN. */
  _closeGracefully(sock, polite) {
    if (polite) {
      sock.write('</stream:stream>');
    }
    sock.end();
  }

  _destroy(sock) {
    sock.destroy();
  }
}

module.exports = { TcpSession, loadXmlParser };
