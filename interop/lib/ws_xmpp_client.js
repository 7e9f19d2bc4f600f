'use strict';
// @xmpp/client 0.13 over WebSocket (service 'ws://...'), in the record-and-wait
// style of TcpClient (which it extends): stanzas, nonzas, sent elements and raw
// frames are recorded; every wait is a predicate with a deadline.
//
// XEP-0198 is driven by the library's own stream-management plugin: after
// bind it sends <enable resume='true'/> and keeps sm.id / sm.inbound; when the
// socket is gone, reconnecting on the same client object makes the plugin
// send <resume previd h/> instead of binding (what @xmpp/reconnect would do
// after its delay; the test calls the same reconnect() at once so nothing
// depends on a timer). The automatic reconnect stays off (TcpClient).

const { TcpClient, xml } = require('./tcp_client');
const { WAIT_MS, withTimeout } = require('./util');

const NS_SM = 'urn:xmpp:sm:3';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_STREAMS = 'http://etherx.jabber.org/streams';

class XmppWsClient extends TcpClient {
  /**
   * service: ws://.../xmpp-websocket; mechanism: null (the library's own
   * choice: SCRAM-SHA-1 first) or a name the client must use: the other
   * offered mechanisms are hidden from the library (it has no API to
   * restrict its list), the way strophe's forced list works in BoshClient.
   */
  constructor({ service, domain, username, password, resource = 'ws', caFile, label, mechanism = null }) {
    super({ service, domain, username, password, resource, caFile, label: label || `${username}@${domain}/ws-xmpp.js` });
    this.nonzas = [];    // non-stanza top-level elements received (SASL, features, SM)
    this.outbound = [];  // elements sent
    this.framesIn = [];  // raw WebSocket messages received
    this.framesOut = []; // raw WebSocket messages sent
    this.statuses = [];  // connection statuses in order
    // The library's 2 s default would make a slow upstream connect fail the
    // <open/> wait; the tests keep their own deadlines.
    this.xmpp.timeout = WAIT_MS;
    if (mechanism) {
      this.xmpp.prependListener('element', (el) => {
        if (el.is('features', NS_STREAMS)) {
          const mechs = el.getChild('mechanisms', NS_SASL);
          if (mechs) {
            mechs.children = mechs.children.filter((c) => typeof c === 'string' || c.text() === mechanism);
          }
        }
      });
    }
    this.xmpp.on('nonza', (el) => {
      this.nonzas.push(el);
      this._check();
    });
    this.xmpp.on('send', (el) => {
      this.outbound.push(el);
    });
    this.xmpp.on('input', (s) => {
      this.framesIn.push(s);
    });
    this.xmpp.on('output', (s) => {
      this.framesOut.push(s);
    });
    this.xmpp.on('status', (s) => {
      this.statuses.push(s);
      this._check();
    });
  }

  /** The mechanism of the last <auth/> sent. */
  authMechanismSent() {
    const auths = this.outbound.filter((el) => el.is('auth', NS_SASL));
    return auths.length ? auths[auths.length - 1].attrs.mechanism : null;
  }

  /** The library's XEP-0198 state ({ enabled, id, inbound, outbound, ... }). */
  get smState() {
    return this.xmpp.streamManagement;
  }

  /** Waits for a nonza (at or after index `from`) matching pred. */
  waitNonza(what, pred, from = 0) {
    return this.waitUntil(what, () => this.nonzas.slice(from).find(pred));
  }

  /** Resolves once the library's SM plugin got <enabled/> (rejects on <failed/>). */
  async waitSmEnabled() {
    const el = await this.waitNonza('<enabled/> or <failed/>', (e) => e.is('enabled', NS_SM) || e.is('failed', NS_SM));
    if (!el.is('enabled', NS_SM)) {
      throw new Error(`${this.label}: <enable/> refused: ${el}`);
    }
    await this.waitUntil('sm plugin enabled', () => this.smState.enabled && this.smState.id === el.attrs.id);
    return el;
  }

  /** Sends <r/> and resolves with the h of the next <a/>. */
  async requestAck() {
    const mark = this.nonzas.length;
    await this.send(xml('r', { xmlns: NS_SM }));
    const a = await this.waitNonza('<a/>', (e) => e.is('a', NS_SM), mark);
    return Number(a.attrs.h);
  }

  /**
   * Cuts the WebSocket without <close/> and without a Close frame (the `ws`
   * socket's terminate()). Resolves when the library reports 'disconnect'.
   */
  async drop() {
    const sock = this.xmpp.socket && this.xmpp.socket.socket;
    if (!sock || typeof sock.terminate !== 'function') {
      throw new Error(`${this.label}: no ws socket to drop`);
    }
    const mark = this.statuses.length;
    sock.terminate();
    await this.waitUntil('disconnect after drop', () => this.statuses.slice(mark).includes('disconnect'));
  }

  /**
   * Reconnects the same client object (new WebSocket, SASL); the SM plugin
   * sends <resume/> because it still holds sm.id. Resolves with the
   * <resumed/> nonza; rejects if the server answered <failed/> (the plugin
   * would then silently bind a new resource).
   */
  async resume() {
    const mark = this.nonzas.length;
    await withTimeout(`${this.label}: reconnect`, WAIT_MS, (resolve, reject) => {
      this.xmpp.reconnect.reconnect().then(resolve, reject);
    });
    const el = await this.waitNonza('<resumed/> or <failed/>', (e) => e.is('resumed', NS_SM) || e.is('failed', NS_SM), mark);
    if (!el.is('resumed', NS_SM)) {
      throw new Error(`${this.label}: resumption refused: ${el}`);
    }
    // The plugin restores entity.jid and status in its own continuation of
    // the same <resumed/>, which no event announces: yield to the event loop
    // until it has run.
    const deadline = Date.now() + WAIT_MS;
    while (!(this.xmpp.status === 'online' && this.xmpp.jid) && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r));
    }
    if (!this.xmpp.jid) {
      throw new Error(`${this.label}: no JID after <resumed/> (status ${this.xmpp.status})`);
    }
    this.fullJid = String(this.xmpp.jid);
    return el;
  }

  /** Clean close (<close/>, then the WebSocket closing handshake). */
  async stop() {
    await withTimeout(`${this.label}: stop`, WAIT_MS, (resolve, reject) => {
      this.xmpp.stop().then(resolve, reject);
    });
  }

  /** Teardown after a failure: drop without waiting for anything. */
  abandon() {
    try {
      const sock = this.xmpp.socket && this.xmpp.socket.socket;
      if (sock) {
        sock.terminate();
      }
    } catch (_) {
      // best effort
    }
  }
}

module.exports = { XmppWsClient, NS_SM };
