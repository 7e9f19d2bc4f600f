'use strict';
// strophe.js 5 over WebSocket (RFC 7395) under Node, wrapped for tests in the
// same record-and-wait style as BoshClient: every inbound and outbound
// top-level element and every raw frame is recorded, and every wait is a
// predicate over that record with a deadline (no sleeps).
//
// strophe's Node build (dist/strophe.cjs, loaded by bosh_client.js) installs
// the `ws` package as globalThis.WebSocket and @xmldom/xmldom as the DOM, so
// no extra shim is needed here; loading it through bosh_client.js keeps one
// Strophe instance (and its WebCrypto fallback for SCRAM) for both transports.
//
// XEP-0198: with { sm: true } the connection runs strophe's own
// StreamManagement engine (enable with resume after bind, <r/>/<a/>
// bookkeeping, <resume previd h/> on the next login). The engine's state lives
// in a MemoryStorageBackend owned by this wrapper, which plays the role a
// tab's sessionStorage plays in a browser: resume() builds a fresh
// Strophe.Connection on the same storage, and strophe itself decides to send
// <resume/> instead of binding.

const { Strophe, localName, textOf, children } = require('./bosh_client');
const { MemoryStorageBackend, $build, $msg, $pres, $iq } = require('strophe.js');
const { WAIT_MS, withTimeout } = require('./util');

const NS_SM = 'urn:xmpp:sm:3';
const NS_ROSTER = 'jabber:iq:roster';

const MECHANISMS = {
  PLAIN: Strophe.SASLPlain,
  'SCRAM-SHA-1': Strophe.SASLSHA1,
};

function statusName(code) {
  return Object.keys(Strophe.Status).find((k) => Strophe.Status[k] === code) || String(code);
}

function bareOf(jid) {
  return Strophe.getBareJidFromJid(jid || '');
}

class StropheWsClient {
  /**
   * url: ws://.../xmpp-websocket; mechanism forces the SASL mechanism (only
   * that one is registered with strophe); sm: enable XEP-0198 with resumption.
   */
  constructor({ url, jid, password, mechanism = 'SCRAM-SHA-1', label, sm = false }) {
    if (!MECHANISMS[mechanism]) {
      throw new Error(`unsupported mechanism ${mechanism}`);
    }
    this.url = url;
    this.jid = jid;
    this.password = password;
    this.mechanism = mechanism;
    this.label = label || `${jid}/ws-strophe`;
    this.sm = sm;
    this.smStorage = new MemoryStorageBackend();
    this.inbound = [];    // top-level elements received (the <open/> reply included)
    this.outbound = [];   // top-level elements sent
    this.framesIn = [];   // raw WebSocket messages received
    this.framesOut = [];  // raw WebSocket messages sent
    this.statuses = [];   // [statusName, condition]
    this.connections = 0; // Strophe.Connection objects created so far
    this._waiters = [];
    this.conn = null;
  }

  _newConnection() {
    const options = { mechanisms: [MECHANISMS[this.mechanism]] };
    if (this.sm) {
      // requestResume defaults to true: <enable resume='true'/>.
      options.enableStreamManagement = true;
      options.streamManagement = { storage: this.smStorage, maxUnacked: 0 };
    }
    const conn = new Strophe.Connection(this.url, options);
    const generation = ++this.connections;
    const live = () => this.conn === conn;
    conn.xmlInput = (el) => {
      // strophe hands over one top-level element per frame (the <close/>
      // frame arrives as its MessageEvent: it is kept in framesIn only).
      if (live() && el && el.nodeType === 1) {
        el.generation = generation;
        this.inbound.push(el);
        this._check();
      }
    };
    conn.xmlOutput = (el) => {
      if (live() && el && el.nodeType === 1) {
        this.outbound.push(el);
        this._check();
      }
    };
    conn.rawInput = (data) => {
      if (live()) {
        this.framesIn.push(String(data));
        this._check();
      }
    };
    conn.rawOutput = (data) => {
      if (live()) {
        this.framesOut.push(String(data));
      }
    };
    return conn;
  }

  _onStatus(conn, status, condition) {
    if (conn !== this.conn) {
      return; // a dropped connection reporting its own end
    }
    this.statuses.push([statusName(status), condition || null]);
    this._check();
  }

  _check() {
    for (const w of [...this._waiters]) {
      let v;
      try {
        v = w.pred();
      } catch (e) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        w.reject(e);
        continue;
      }
      if (v) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        w.resolve(v);
      }
    }
  }

  /** Resolves with the first truthy value of pred(), re-evaluated on every event. */
  waitUntil(what, pred, ms = WAIT_MS) {
    const w = { pred };
    return withTimeout(`${this.label}: ${what}`, ms, (resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
      this._waiters.push(w);
      this._check();
    }).catch((e) => {
      const i = this._waiters.indexOf(w);
      if (i >= 0) {
        this._waiters.splice(i, 1);
      }
      e.message += `\n  statuses: ${JSON.stringify(this.statuses)}\n  last frames in: ${this.framesIn.slice(-6).join('\n    ')}`;
      throw e;
    });
  }

  /** Waits for the first inbound element, at or after index `from`, matching pred. */
  waitInbound(what, pred, from = 0, ms = WAIT_MS) {
    return this.waitUntil(what, () => this.inbound.slice(from).find(pred), ms);
  }

  _waitStatus(okNames, what) {
    const bad = new Set(['CONNFAIL', 'AUTHFAIL', 'ERROR', 'DISCONNECTED', 'CONNTIMEOUT', 'BINDREQUIRED']);
    const start = this.statuses.length;
    return this.waitUntil(what, () => {
      for (const [name, cond] of this.statuses.slice(start)) {
        if (okNames.includes(name)) {
          return name;
        }
        if (bad.has(name)) {
          throw new Error(`${this.label}: ${what} failed with ${name} ${cond || ''}`);
        }
      }
      return null;
    });
  }

  /** Opens a new WebSocket and logs in; resolves with the full JID once CONNECTED. */
  async connect() {
    const conn = this._newConnection();
    this.conn = conn;
    const p = this._waitStatus(['CONNECTED'], 'login');
    conn.connect(this.jid, this.password, (s, c) => this._onStatus(conn, s, c));
    await p;
    this.fullJid = conn.jid;
    return this.fullJid;
  }

  /** The `mechanism` attribute of the last <auth/> this client sent. */
  authMechanismSent() {
    const auths = this.outbound.filter((el) => localName(el) === 'auth');
    return auths.length ? auths[auths.length - 1].getAttribute('mechanism') : null;
  }

  send(elem) {
    this.conn.send(elem.tree ? elem.tree() : elem);
    this.conn.flush();
  }

  sendPresence() {
    this.send($pres());
  }

  sendMessage(to, body) {
    this.send($msg({ to, type: 'chat' }).c('body').t(body));
  }

  /** Waits for a chat message with exactly `body` whose from's bare JID is `fromBare`. */
  waitMessage(fromBare, body, from = 0) {
    return this.waitInbound(`message "${body}" from ${fromBare}`, (el) => localName(el) === 'message'
      && bareOf(el.getAttribute('from')) === fromBare && textOf(el, 'body') === body, from);
  }

  /** Fetches the roster; resolves with [{jid, subscription}] sorted by jid. */
  async roster() {
    const id = this.conn.getUniqueId('roster');
    const mark = this.inbound.length;
    this.send($iq({ type: 'get', id }).c('query', { xmlns: NS_ROSTER }));
    const res = await this.waitInbound('roster result', (el) => localName(el) === 'iq' && el.getAttribute('id') === id, mark);
    if (res.getAttribute('type') !== 'result') {
      throw new Error(`roster query failed: ${Strophe.serialize(res)}`);
    }
    const items = [];
    for (const q of children(res)) {
      for (const item of children(q)) {
        items.push({ jid: item.getAttribute('jid'), subscription: item.getAttribute('subscription') });
      }
    }
    return items.sort((a, b) => a.jid.localeCompare(b.jid));
  }

  /** Resolves with the <enabled/> strophe's SM engine got (sm: true only). */
  waitSmEnabled(from = 0) {
    return this.waitInbound('<enabled/>', (el) => el.namespaceURI === NS_SM
      && (localName(el) === 'enabled' || localName(el) === 'failed'), from).then((el) => {
      if (localName(el) !== 'enabled') {
        throw new Error(`${this.label}: <enable/> refused: ${Strophe.serialize(el)}`);
      }
      return el;
    });
  }

  /** Sends <r/> and resolves with the h of the next <a/>. */
  async requestAck() {
    const mark = this.inbound.length;
    this.send($build('r', { xmlns: NS_SM }));
    const a = await this.waitInbound('<a/>', (e) => e.namespaceURI === NS_SM && localName(e) === 'a', mark);
    return Number(a.getAttribute('h'));
  }

  /**
   * Cuts the WebSocket like a killed tab or a lost network: the TCP socket
   * under `ws` is destroyed (ws.terminate()), so neither <close/> nor a
   * WebSocket Close frame is sent. Resolves once the socket reports closed.
   * strophe keeps its XEP-0198 state in this.smStorage.
   */
  async drop() {
    const conn = this.conn;
    const socket = conn._proto.socket;
    if (!socket || typeof socket.terminate !== 'function') {
      throw new Error(`${this.label}: no ws socket to drop`);
    }
    this.conn = null; // the old connection's remaining events are ignored
    const closed = withTimeout(`${this.label}: dropped socket closed`, WAIT_MS, (resolve) => {
      socket.addEventListener('close', () => resolve(), { once: true });
    });
    socket.terminate();
    await closed;
    // Stop strophe's timers on the abandoned connection.
    conn.connect_callback = null;
    conn.handlers = [];
    conn.timedHandlers = [];
    clearTimeout(conn._idleTimeout);
  }

  /**
   * A new WebSocket and a new login with the same SM storage: strophe finds
   * the resumable state after SASL and sends <resume previd h/> instead of
   * binding. Resolves with { jid, resumed } where `resumed` is the server's
   * <resumed/> element.
   */
  async resume() {
    const mark = this.inbound.length;
    await this.connect();
    const resumed = this.inbound.slice(mark).find((el) => el.namespaceURI === NS_SM && localName(el) === 'resumed');
    return { jid: this.fullJid, resumed: resumed || null, restored: this.conn.restored === true };
  }

  /** Clean logout: unavailable presence + <close/>; resolves on DISCONNECTED. */
  async disconnect() {
    const start = this.statuses.length;
    this.conn.disconnect('test done');
    await this.waitUntil('disconnect', () => this.statuses.slice(start).find(([n]) => n === 'DISCONNECTED'));
  }

  /** Stops all activity without talking to the server (teardown after a failure). */
  abandon() {
    const conn = this.conn;
    this.conn = null;
    if (!conn) {
      return;
    }
    try {
      conn.handlers = [];
      conn.timedHandlers = [];
      conn.connect_callback = null;
      clearTimeout(conn._idleTimeout);
      if (conn._proto.socket) {
        conn._proto.socket.terminate();
      }
    } catch (_) {
      // best effort
    }
  }
}

module.exports = { StropheWsClient, NS_SM };
