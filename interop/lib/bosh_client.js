'use strict';
// strophe.js 5 over BOSH under Node, wrapped for tests: every inbound and
// outbound top-level element is recorded, and every wait is a predicate over
// that record with a deadline (no sleeps). strophe is loaded (behind the XHR
// shim) and the transport-independent part lives in strophe_base.js.

const { StropheRecorder, Strophe, $build, localName, textOf, children, NS_SM } = require('./strophe_base');

const STANZAS = new Set(['message', 'presence', 'iq']);

/**
 * One browser-like BOSH client. `mechanism` forces the SASL mechanism by
 * registering only that one with strophe.
 */
class BoshClient extends StropheRecorder {
  constructor({ url, jid, password, mechanism = 'SCRAM-SHA-1', label }) {
    super({ url, jid, password, mechanism, label: label || jid });
    // inbound / outbound: DOM elements received / sent (children of <body/>)
    this.bodiesIn = [];  // <body/> wrappers received
    this.bodiesOut = []; // <body/> wrappers sent
    this.conn = this._newConnection();
  }

  _newConnection() {
    const conn = new Strophe.Connection(this.url, this._connectionOptions());
    conn.xmlInput = (body) => {
      this.bodiesIn.push(body);
      for (const el of children(body)) {
        this.inbound.push(el);
      }
      this._check();
    };
    conn.xmlOutput = (body) => {
      this.bodiesOut.push(body);
      for (const el of children(body)) {
        this.outbound.push(el);
      }
      this._check();
    };
    return conn;
  }

  _waitContext() {
    return `\n  statuses: ${JSON.stringify(this.statuses)}\n  last inbound: ${this.inbound.slice(-5).map((el) => Strophe.serialize(el)).join('\n    ')}`;
  }

  /** Logs in (SASL with the forced mechanism, bind); resolves when CONNECTED. */
  async connect() {
    const p = this._waitStatus(['CONNECTED'], 'login');
    this.conn.connect(this.jid, this.password, (s, c) => this._recordStatus(s, c));
    await p;
    this.fullJid = this.conn.jid;
    return this.fullJid;
  }

  /** The `mechanism` attribute of the <auth/> this client sent. */
  authMechanismSent() {
    const auth = this.outbound.find((el) => localName(el) === 'auth');
    return auth ? auth.getAttribute('mechanism') : null;
  }

  /** Number of stanzas (message/presence/iq) this client sent since outbound index `from`. */
  stanzasSentSince(from) {
    return this.outbound.slice(from).filter((el) => STANZAS.has(localName(el))).length;
  }

  /** Number of stanzas received since inbound index `from`. */
  stanzasReceivedSince(from) {
    return this.inbound.slice(from).filter((el) => STANZAS.has(localName(el))).length;
  }

  /**
   * XEP-0198: sends <enable/>, waits for <enabled/>, and from then on answers
   * the server's <r/> with the inbound stanza count. Resolves with <enabled/>.
   */
  async enableSm() {
    const mark = this.inbound.length;
    this.send($build('enable', { xmlns: NS_SM }));
    const el = await this.waitInbound('<enabled/> or <failed/>', (e) => e.namespaceURI === NS_SM
      && (localName(e) === 'enabled' || localName(e) === 'failed'), mark);
    if (localName(el) !== 'enabled') {
      throw new Error(`stream management refused: ${Strophe.serialize(el)}`);
    }
    this.smInMark = this.inbound.indexOf(el) + 1;
    this.smOutMark = this.outbound.length;
    this.conn.addHandler(() => {
      const h = this.stanzasReceivedSince(this.smInMark);
      this.send($build('a', { xmlns: NS_SM, h: String(h) }));
      return true;
    }, NS_SM, 'r');
    return el;
  }

  /** BOSH session state a page would persist before unloading. */
  sessionState() {
    return { jid: this.conn.jid, sid: this.conn._proto.sid, rid: this.conn._proto.rid };
  }

  /**
   * Simulates a page reload: the old strophe connection is abandoned without
   * a terminate (its held request is aborted, its timers stopped) and a new
   * connection attaches with the saved jid/sid and the next rid.
   * Resolves with the saved state.
   */
  async reload() {
    const state = this.sessionState();
    const old = this.conn;
    old.connect_callback = null;
    old._proto._abortAllRequests();
    clearTimeout(old._idleTimeout);
    old.handlers = [];
    old.addHandlers = [];
    old.timedHandlers = [];
    old.addTimeds = [];
    old.connected = false;
    old.authenticated = false;
    old.xmlInput = () => {};
    old.xmlOutput = () => {};
    this.conn = this._newConnection();
    const p = this._waitStatus(['ATTACHED'], 'attach');
    this.conn.attach(state.jid, state.sid, state.rid, (s, c) => this._recordStatus(s, c));
    await p;
    return state;
  }

  /** Stops all activity without talking to the server (teardown after a failure). */
  abandon() {
    try {
      this.conn._proto._abortAllRequests();
      clearTimeout(this.conn._idleTimeout);
      this.conn.handlers = [];
      this.conn.timedHandlers = [];
      this.conn.connect_callback = null;
    } catch (_) {
      // best effort
    }
  }
}

/** An attach (page reload) can fail too. */
BoshClient.FAILED_STATUSES = [...StropheRecorder.FAILED_STATUSES, 'ATTACHFAIL'];

module.exports = { BoshClient, Strophe, localName, textOf, children, NS_SM };
