'use strict';
// StanzaJS 12 (npm `stanza`) as a black-box client: one transport (BOSH or WebSocket),
// its own stream management, every raw body/frame recorded both ways with the time it was
// seen, and every wait bounded by WAIT_MS.

const XMPP = require('stanza');
const { WAIT_MS, withTimeout } = require('./util');

class StanzaClient {
  /** transport: 'bosh' (url = BOSH endpoint) or 'websocket' (url = ws://...). */
  constructor({ url, transport, jid, password, label }) {
    this.label = label || `${jid}/${transport}-stanza`;
    this.transport = transport;
    this.raw = []; // { dir: 'in' | 'out', data }
    this.messages = []; // received <message/> with a body
    this.disconnected = false;
    this.client = XMPP.createClient({
      jid,
      password,
      resource: `${transport}-stanza`,
      transports: transport === 'bosh' ? { bosh: url, websocket: false } : { websocket: url, bosh: false },
    });
    this.client.on('raw', (dir, data) => this.raw.push({ dir: dir === 'incoming' ? 'in' : 'out', data: String(data) }));
    this.client.on('message', (m) => m.body !== undefined && this.messages.push(m));
    this.client.on('disconnected', () => { this.disconnected = true; });
  }

  /** Resolves with the bound full JID once the session started. */
  connect() {
    return withTimeout(`${this.label}: session started`, WAIT_MS, (resolve, reject) => {
      this.client.once('session:started', () => resolve(this.client.jid));
      this.client.once('auth:failed', () => reject(new Error(`${this.label}: auth failed`)));
      this.client.connect();
    });
  }

  /**
   * Stream management is on, the server acknowledged every stanza sent, and the library has
   * nothing queued to write. (StanzaJS 12 never finishes a disconnect that finds a write
   * queued, against any server: its transport drops the queue once the stream ended.)
   */
  settled() {
    const { sm } = this.client;
    return sm.started && sm.unacked.length === 0 && this.client.outgoingDataQueue.idle();
  }

  /** Polls `pred` every 20 ms until it holds; rejects after WAIT_MS. */
  waitUntil(what, pred) {
    const deadline = Date.now() + WAIT_MS;
    return new Promise((resolve, reject) => {
      const tick = () => {
        if (pred()) {
          resolve();
        } else if (Date.now() > deadline) {
          reject(new Error(`${this.label}: timed out after ${WAIT_MS} ms waiting for ${what}`));
        } else {
          setTimeout(tick, 20);
        }
      };
      tick();
    });
  }

  waitMessage(fromBare, body) {
    return this.waitUntil(`message "${body}" from ${fromBare}`,
      () => this.messages.some((m) => m.from.split('/')[0] === fromBare && m.body === body));
  }

  /** Disconnects cleanly; resolves once the library reports the disconnect. */
  disconnect() {
    const done = this.waitUntil('disconnected', () => this.disconnected);
    this.client.disconnect();
    return done;
  }

  abandon() {
    if (!this.disconnected) {
      this.client.disconnect();
    }
  }
}

module.exports = { StanzaClient };
