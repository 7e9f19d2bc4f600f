'use strict';
// A deliberately small BOSH client for load generation (XEP-0124 + XEP-0206):
// plain HTTP POSTs over node:http keep-alive agents, SASL PLAIN, xmpp:restart,
// resource bind (the sequence in load_session.js), then an idle loop that
// keeps exactly one request held by the connection manager. Responses are
// scanned with a few regular expressions instead of a DOM.

const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { LoadSession, settleWithin, xmlEscape, parseAttrs, messageIds } = require('./load_session');

const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
const NS_XBOSH = 'urn:xmpp:xbosh';

/**
 * Splits a BOSH response into { attrs, inner }: the <body/> wrapper's
 * attributes and the raw XML of its children. Throws if there is no <body>.
 */
function parseBody(text) {
  const open = /<body\b([^>]*?)(\/?)>/.exec(text);
  if (!open) {
    throw new Error(`response is not a BOSH <body/>: ${text.slice(0, 200)}`);
  }
  const attrs = parseAttrs(open[1]);
  if (open[2] === '/') {
    return { attrs, inner: '' };
  }
  const start = open.index + open[0].length;
  const end = text.lastIndexOf('</body>');
  return { attrs, inner: end >= start ? text.slice(start, end) : text.slice(start) };
}

/**
 * One BOSH session. Lifetime: construct, login(), startIdle(), then any number
 * of send(); close() terminates the session and frees its sockets. Errors are
 * recorded in `error` (the first one wins) and end the idle loop.
 */
class BoshSession extends LoadSession {
  /**
   * url: BOSH endpoint; domain: the `to`; user/password: SASL PLAIN
   * credentials; wait/hold: the session creation request's values;
   * requestTimeoutMs: per HTTP request deadline (above `wait`); maxSockets:
   * connections of its pool (default hold + 1; 1 for a session that only
   * logs in and idles, as in the capacity phase).
   */
  constructor({ url, domain, user, password, wait = 20, hold = 1, resource = 'bench', requestTimeoutMs, maxSockets }) {
    super({ url: new URL(url), domain, user, password, resource });
    this.wait = wait;
    this.hold = hold;
    this.requestTimeoutMs = requestTimeoutMs || (wait + 15) * 1000;
    // Like one browser tab: its own small pool (hold + 1 requests at most).
    this.agent = new http.Agent({ keepAlive: true, maxSockets: maxSockets || hold + 1 });
    this.rid = 1000000 + Math.floor(Math.random() * 1000000000);
    this.sid = null;
    this.outstanding = 0;
  }

  /** POSTs one <body/> and resolves with the parsed response; rejects on HTTP/transport errors, timeouts and terminate. */
  _post(xml) {
    return new Promise((resolve, reject) => {
      const data = Buffer.from(xml, 'utf8');
      const req = http.request({
        host: this.url.hostname,
        port: this.url.port,
        path: this.url.pathname + this.url.search,
        method: 'POST',
        agent: this.agent,
        headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': data.length },
      });
      req.setTimeout(this.requestTimeoutMs, () => {
        req.destroy(new Error(`HTTP request timed out after ${this.requestTimeoutMs} ms`));
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const t = performance.now();
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`HTTP ${res.statusCode} ${res.statusMessage}: ${text.slice(0, 200)}`));
            return;
          }
          let parsed;
          try {
            parsed = parseBody(text);
          } catch (e) {
            reject(e);
            return;
          }
          if (parsed.attrs.type === 'terminate') {
            reject(new Error(`session terminated by the manager: condition=${parsed.attrs.condition || '(none)'} ${parsed.inner.slice(0, 200)}`));
            return;
          }
          parsed.t = t;
          resolve(parsed);
        });
      });
      req.end(data);
    });
  }

  _wrap(payload, extraAttrs = '') {
    const rid = this.rid++;
    const head = `<body rid='${rid}' sid='${xmlEscape(this.sid)}' xmlns='${NS_HTTPBIND}'${extraAttrs}`;
    return payload ? `${head}>${payload}</body>` : `${head}/>`;
  }

  /**
   * Sends `first` (a whole <body/>), then empty polls, until the accumulated
   * children match `want`; returns the accumulated XML. At most `maxPolls` polls.
   */
  async _exchange(first, want, maxPolls = 4) {
    let r = await this._post(first);
    let acc = r.inner;
    for (let i = 0; !want.test(acc); i++) {
      if (i >= maxPolls) {
        throw new Error(`no ${want} after ${maxPolls} polls; got: ${acc.slice(0, 300)}`);
      }
      r = await this._post(this._wrap(''));
      acc += r.inner;
    }
    return acc;
  }

  /** Session creation, polling until the stream features offer SASL mechanisms. */
  async _open() {
    this.step = 'session creation';
    const create = `<body content='text/xml; charset=utf-8' hold='${this.hold}' rid='${this.rid++}'`
      + ` to='${xmlEscape(this.domain)}' ver='1.6' wait='${this.wait}' xml:lang='en'`
      + ` xmpp:version='1.0' xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}'/>`;
    let r = await this._post(create);
    if (!r.attrs.sid) {
      throw new Error(`no sid in the session creation response: ${JSON.stringify(r.attrs)}`);
    }
    this.sid = r.attrs.sid;
    let acc = r.inner;
    for (let i = 0; !/<mechanisms\b/.test(acc); i++) {
      if (i >= 4) {
        throw new Error(`no stream features with mechanisms; got: ${acc.slice(0, 300)}`);
      }
      r = await this._post(this._wrap(''));
      acc += r.inner;
    }
    return acc;
  }

  /** One login payload in its own <body/> (then empty polls until `re` matches). */
  _step(payload, re) {
    return this._exchange(this._wrap(payload), re);
  }

  /** XEP-0206 restart: an empty <body xmpp:restart='true'/>. */
  _restart() {
    return this._exchange(this._wrap('', ` to='${xmlEscape(this.domain)}' xml:lang='en' xmpp:restart='true' xmlns:xmpp='${NS_XBOSH}'`), /<bind\b/);
  }

  _handle(promise) {
    this.outstanding++;
    promise.then((r) => {
      this.outstanding--;
      if (this.onMessage && r.inner) {
        this._deliverMessages(r.inner, r.t);
      }
      this._refill();
    }, (e) => {
      this.outstanding--;
      if (!this.closed) {
        this.error = this.error || `idle: ${e.message}`;
      }
    });
  }

  /** Keeps one request held: whenever none is outstanding, sends an empty one. */
  _refill() {
    if (this.idle && !this.closed && !this.error && this.outstanding === 0) {
      this._handle(this._post(this._wrap('')));
    }
  }

  /** Enters the idle state (one held request at all times). */
  startIdle() {
    this.idle = true;
    this._refill();
  }

  /** Sends stanzas on a second request next to the held one (hold + 1 = 2 requests). */
  send(payload) {
    this._handle(this._post(this._wrap(payload)));
  }

  /** Drops the session without telling the manager (sockets closed, idle loop ended). */
  abort() {
    this.closed = true;
    this.agent.destroy();
  }

  /** Terminates the session (best effort, bounded by `ms`) and frees the sockets. */
  async close(ms = 5000) {
    if (this.closed) {
      return;
    }
    this.closed = true;
    if (this.sid && !this.error) {
      const xml = this._wrap(`<presence type='unavailable' xmlns='jabber:client'/>`, " type='terminate'");
      await settleWithin(this._post(xml).catch(() => {}), ms);
    }
    this.agent.destroy();
  }
}

module.exports = { BoshSession, parseBody, parseAttrs, messageIds, xmlEscape };
