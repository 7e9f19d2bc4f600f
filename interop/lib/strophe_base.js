'use strict';
// strophe.js 5 under Node, and what its two test wrappers share: BoshClient
// (bosh_client.js) and StropheWsClient (ws_strophe_client.js) record every
// inbound and outbound top-level element and every connection status, and
// every wait is a predicate over that record with a deadline (recorder.js).
//
// Loading strophe here, once, keeps one Strophe instance (and its WebCrypto
// fallback for SCRAM) for both transports. strophe's Node build installs the
// `ws` package as globalThis.WebSocket and @xmldom/xmldom as the DOM; BOSH
// needs the XHR shim installed before strophe loads.

const { installXhr } = require('./xhr');

installXhr();
// strophe's SCRAM uses the global WebCrypto, which Node 18 (Debian's nodejs)
// only exposes as require('node:crypto').webcrypto.
if (!globalThis.crypto || !globalThis.crypto.subtle) {
  globalThis.crypto = require('node:crypto').webcrypto;
}
// Loaded after the XHR shim; strophe installs its own DOM globals (@xmldom/xmldom, ws).
const { Strophe, $build, $msg, $pres, $iq } = require('strophe.js');

const { Recorder } = require('./recorder');

// strophe logs every request at debug level by default; INTEROP_STROPHE_LOG=debug restores it.
Strophe.setLogLevel(Strophe.LogLevel[(process.env.INTEROP_STROPHE_LOG || 'warn').toUpperCase()] ?? Strophe.LogLevel.WARN);

const NS_SM = 'urn:xmpp:sm:3';
const NS_ROSTER = 'jabber:iq:roster';

/** SASL mechanisms a client can be forced to (only that one is registered with strophe). */
const MECHANISMS = {
  PLAIN: Strophe.SASLPlain,
  'SCRAM-SHA-1': Strophe.SASLSHA1,
};

function statusName(code) {
  return Object.keys(Strophe.Status).find((k) => Strophe.Status[k] === code) || String(code);
}

/** Element children of a DOM node (empty for none). */
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

/** Text of the first child element named `childName`, or null. */
function textOf(el, childName) {
  for (const c of children(el)) {
    if (localName(c) === childName) {
      return c.textContent;
    }
  }
  return null;
}

/**
 * The part of a strophe test client that does not depend on the transport.
 * Subclasses create `this.conn` (a Strophe.Connection whose xmlInput/xmlOutput
 * fill `inbound`/`outbound`) and report its statuses through _recordStatus().
 */
class StropheRecorder extends Recorder {
  /** mechanism: the only SASL mechanism registered with strophe. */
  constructor({ url, jid, password, mechanism, label }) {
    if (!MECHANISMS[mechanism]) {
      throw new Error(`unsupported mechanism ${mechanism}`);
    }
    super(label);
    this.url = url;
    this.jid = jid;
    this.password = password;
    this.mechanism = mechanism;
    this.inbound = [];  // top-level elements received
    this.outbound = []; // top-level elements sent
    this.statuses = []; // [statusName, condition]
  }

  /** Connection options forcing this client's mechanism. */
  _connectionOptions() {
    return { mechanisms: [MECHANISMS[this.mechanism]] };
  }

  _recordStatus(status, condition) {
    this.statuses.push([statusName(status), condition || null]);
    this._check();
  }

  /**
   * Resolves with the first of `okNames` among the statuses recorded from now
   * on; rejects at the first of the class's FAILED_STATUSES instead.
   */
  _waitStatus(okNames, what) {
    const bad = new Set(this.constructor.FAILED_STATUSES);
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

  /** Sends <r/> and resolves with the h of the next <a/>. */
  async requestAck() {
    const mark = this.inbound.length;
    this.send($build('r', { xmlns: NS_SM }));
    const a = await this.waitInbound('<a/>', (e) => e.namespaceURI === NS_SM && localName(e) === 'a', mark);
    return Number(a.getAttribute('h'));
  }

  /** Clean logout (unavailable presence, then the transport's own close); resolves on DISCONNECTED. */
  async disconnect() {
    const start = this.statuses.length;
    this.conn.disconnect('test done');
    await this.waitUntil('disconnect', () => this.statuses.slice(start).find(([n]) => n === 'DISCONNECTED'));
  }
}

/** Statuses that make a login (or attach) wait fail. */
StropheRecorder.FAILED_STATUSES = ['CONNFAIL', 'AUTHFAIL', 'ERROR', 'DISCONNECTED', 'CONNTIMEOUT', 'BINDREQUIRED'];

module.exports = {
  StropheRecorder,
  Strophe,
  $build,
  localName,
  textOf,
  children,
  statusName,
  NS_SM,
};
