'use strict';
// strophe.js 5 over BOSH under Node, wrapped for tests: every inbound and
// outbound top-level element is recorded, and every wait is a predicate over
// that record with a deadline (no sleeps).

const { installXhr } = require('./xhr');

installXhr();
// strophe's SCRAM uses the global WebCrypto, which Node 18 (Debian's nodejs)
// only exposes as require('node:crypto').webcrypto.
if (!globalThis.crypto || !globalThis.crypto.subtle) {
  globalThis.crypto = require('node:crypto').webcrypto;
}
// Loaded after the XHR shim; strophe installs its own DOM globals (@xmldom/xmldom, ws).
const { Strophe, $build, $msg, $pres, $iq } = require('strophe.js');

const { WAIT_MS, withTimeout } = require('./util');

// strophe logs every request at debug level by default; INTEROP_STROPHE_LOG=debug restores it.
Strophe.setLogLevel(Strophe.LogLevel[(process.env.INTEROP_STROPHE_LOG || 'warn').toUpperCase()] ?? Strophe.LogLevel.WARN);

const NS_SM = 'urn:xmpp:sm:3';
const NS_ROSTER = 'jabber:iq:roster';
const STANZAS = new Set(['message', 'presence', 'iq']);

const MECHANISMS = {
  PLAIN: Strophe.SASLPlain,
  'SCRAM-SHA-1': Strophe.SASLSHA1,
};

function statusName(code) {
  return Object.keys(Strophe.Status).find((k) => Strophe.Status[k] === code) || String(code);
}

function children(body) {
  const out = [];
  if (!body || !body.childNodes) {
    return out;
  }
  for (let i = 0; i < body.childNodes.length; i++) {
    const n = body.childNodes[i];
    if (n.nodeType === 1) {
      out.push(n);
    }
  }
  return out;
}

/** Local name of an element (strophe's DOM may keep a prefix in nodeName). */
function localName(el) {
  return el.localName || String(el.nodeName).replace(/^.*:/, '');
}

/**
 * One browser-like BOSH client. `mechanism` forces the SASL mechanism by
 * registering only that one with strophe.
 */
class BoshClient {
  constructor({ url, jid, password, mechanism = 'SCRAM-SHA-1', label }) {
    if (!MECHANISMS[mechanism]) {
      throw new Error(`unsupported mechanism ${mechanism}`);
    }
    this.url = url;
    this.jid = jid;
    this.password = password;
    this.mechanism = mechanism;
    this.label = label || jid;
    this.inbound = [];   // DOM elements received (children of <body/>)
    this.outbound = [];  // DOM elements sent (children of <body/>)
    this.bodiesIn = [];  // <body/> wrappers received
    this.bodiesOut = []; // <body/> wrappers sent
    this.statuses = [];  // [statusName, condition]
    this._waiters = [];
    this.conn = this._newConnection();
  }

  _newConnection() {
    const conn = new Strophe.Connection(this.url, { mechanisms: [MECHANISMS[this.mechanism]] });
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

  _onStatus(status, condition) {
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
    return withTimeout(`${this.label}: ${what}`, ms, (resolve, reject) => {
      const w = { pred, resolve, reject };
      this._waiters.push(w);
      this._check();
    }).catch((e) => {
      const i = this._waiters.findIndex((w) => w.pred === pred);
      if (i >= 0) {
        this._waiters.splice(i, 1);
      }
      e.message += `\n  statuses: ${JSON.stringify(this.statuses)}\n  last inbound: ${this.inbound.slice(-5).map((el) => Strophe.serialize(el)).join('\n    ')}`;
      throw e;
    });
  }

  /** Waits for the first inbound element, at or after index `from`, matching pred. */
  waitInbound(what, pred, from = 0, ms = WAIT_MS) {
    return this.waitUntil(what, () => this.inbound.slice(from).find(pred), ms);
  }

  _waitStatus(okNames, what) {
    const bad = new Set(['CONNFAIL', 'AUTHFAIL', 'ERROR', 'ATTACHFAIL', 'DISCONNECTED', 'CONNTIMEOUT', 'BINDREQUIRED']);
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

  /** Logs in (SASL with the forced mechanism, bind); resolves when CONNECTED. */
  async connect() {
    const p = this._waitStatus(['CONNECTED'], 'login');
    this.conn.connect(this.jid, this.password, (s, c) => this._onStatus(s, c));
    await p;
    this.fullJid = this.conn.jid;
    return this.fullJid;
  }

  /** The `mechanism` attribute of the <auth/> this client sent. */
  authMechanismSent() {
    const auth = this.outbound.find((el) => localName(el) === 'auth');
    return auth ? auth.getAttribute('mechanism') : null;
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
      && Strophe.getBareJidFromJid(el.getAttribute('from') || '') === fromBare
      && textOf(el, 'body') === body, from);
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

  /** Sends <r/> and resolves with the h of the next <a/>. */
  async requestAck() {
    const mark = this.inbound.length;
    this.send($build('r', { xmlns: NS_SM }));
    const a = await this.waitInbound('<a/>', (e) => e.namespaceURI === NS_SM && localName(e) === 'a', mark);
    return Number(a.getAttribute('h'));
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
    this.conn.attach(state.jid, state.sid, state.rid, (s, c) => this._onStatus(s, c));
    await p;
    return state;
  }

  /** Clean logout: unavailable presence + terminate; resolves on DISCONNECTED. */
  async disconnect() {
    const start = this.statuses.length;
    this.conn.disconnect('test done');
    await this.waitUntil('disconnect', () => this.statuses.slice(start).find(([n]) => n === 'DISCONNECTED'));
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

function textOf(el, childName) {
  for (const c of children(el)) {
    if (localName(c) === childName) {
      return c.textContent;
    }
  }
  return null;
}

module.exports = { BoshClient, Strophe, localName, textOf, children, NS_SM };
