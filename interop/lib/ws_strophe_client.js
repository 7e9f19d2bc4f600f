'use strict';
// strophe.js 5 over WebSocket (RFC 7395) under Node, wrapped for tests in the
// same record-and-wait style as BoshClient: every inbound and outbound
// top-level element and every raw frame is recorded, and every wait is a
// predicate over that record with a deadline (no sleeps).
//
// strophe is loaded once, for both transports, by strophe_base.js, which
// also holds what this wrapper shares with BoshClient (its Node build installs
// the `ws` package as globalThis.WebSocket, so no extra shim is needed here).
//
// XEP-0198: with { sm: true } the connection runs strophe's own
// StreamManagement engine (enable with resume after bind, <r/>/<a/>
// bookkeeping, <resume previd h/> on the next login). The engine's state lives
// in a MemoryStorageBackend owned by this wrapper, which plays the role a
// tab's sessionStorage plays in a browser: resume() builds a fresh
// Strophe.Connection on the same storage, and strophe itself decides to send
// <resume/> instead of binding.

const { StropheRecorder, Strophe, localName, NS_SM } = require('./strophe_base');
const { MemoryStorageBackend } = require('strophe.js');
const { WAIT_MS, withTimeout } = require('./util');

class StropheWsClient extends StropheRecorder {
  /**
   * url: ws://.../xmpp-websocket; mechanism forces the SASL mechanism (only
   * that one is registered with strophe); sm: enable XEP-0198 with resumption.
   */
  constructor({ url, jid, password, mechanism = 'SCRAM-SHA-1', label, sm = false }) {
    super({ url, jid, password, mechanism, label: label || `${jid}/ws-strophe` });
    this.sm = sm;
    this.smStorage = new MemoryStorageBackend();
    // inbound: top-level elements received (the <open/> reply included)
    this.framesIn = [];   // raw WebSocket messages received
    this.framesOut = [];  // raw WebSocket messages sent
    this.connections = 0; // Strophe.Connection objects created so far
    this.conn = null;
  }

  _newConnection() {
    const options = this._connectionOptions();
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
    this._recordStatus(status, condition);
  }

  _waitContext() {
    return `\n  statuses: ${JSON.stringify(this.statuses)}\n  last frames in: ${this.framesIn.slice(-6).join('\n    ')}`;
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
