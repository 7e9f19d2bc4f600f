'use strict';
// The record-and-wait core shared by every test client in interop/lib
// (BoshClient, StropheWsClient, TcpClient and XmppWsClient through it, RawWs):
// a client appends what it sees to its own records and calls _check() after
// each event; a wait is a predicate over those records with a deadline (no
// sleeps), re-evaluated on every event until it yields a truthy value.

const { WAIT_MS, withTimeout } = require('./util');

class Recorder {
  /** label: names the client in timeout messages. */
  constructor(label) {
    this.label = label;
    this._waiters = [];
  }

  /**
   * Re-evaluates every pending wait: resolves those whose predicate is now
   * truthy; rejects those whose predicate throws (a wait can fail early).
   */
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

  /**
   * What a timed-out wait's message ends with (the client's recent records);
   * subclasses override it. Empty here.
   */
  _waitContext() {
    return '';
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
      e.message += this._waitContext();
      throw e;
    });
  }

  /**
   * Waits for the first element of `this.inbound` (the subclass's record of
   * received elements), at or after index `from`, matching pred.
   */
  waitInbound(what, pred, from = 0, ms = WAIT_MS) {
    return this.waitUntil(what, () => this.inbound.slice(from).find(pred), ms);
  }
}

module.exports = { Recorder };
