'use strict';
// A deliberately small BOSH client for load generation (XEP-0124 + XEP-0206):
// plain HTTP POSTs over node:http keep-alive agents, SASL PLAIN, xmpp:restart,
// resource bind, then an idle loop that keeps exactly one request held by the
// connection manager. Responses are scanned with a few regular expressions
// instead of a DOM: the bench controls every stanza it waits for, and the
// load generator must stay cheap next to the managers it measures.

const http = require('node:http');
const { performance } = require('node:perf_hooks');

const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
const NS_XBOSH = 'urn:xmpp:xbosh';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/** Escapes text for an XML attribute or character data. */
function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

/** Parses the attributes of one start tag's attribute text into an object. */
function parseAttrs(text) {
  const out = {};
  const re = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    out[m[1]] = m[2] !== undefined ? m[2] : m[3];
  }
  return out;
}

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

/** ids of the <message/> stanzas in a chunk of XML. */
function messageIds(inner) {
  const ids = [];
  const re = /<message\b([^>]*)>/g;
  let m;
  while ((m = re.exec(inner)) !== null) {
    const id = parseAttrs(m[1]).id;
    if (id !== undefined) {
      ids.push(id);
    }
  }
  return ids;
}

/**
 * One BOSH session. Lifetime: construct, login(), startIdle(), then any number
 * of send(); close() terminates the session and frees its sockets. Errors are
 * recorded in `error` (the first one wins) and end the idle loop.
 */
class BoshSession {
  /**
   * url: BOSH endpoint; domain: the `to`; user/password: SASL PLAIN
   * credentials; wait/hold: the session creation request's values;
   * requestTimeoutMs: per HTTP request deadline (above `wait`).
   */
  constructor({ url, domain, user, password, wait = 20, hold = 1, resource = 'bench', requestTimeoutMs }) {
    this.url = new URL(url);
    this.domain = domain;
    this.user = user;
    this.password = password;
    this.wait = wait;
    this.hold = hold;
    this.resource = resource;
    this.requestTimeoutMs = requestTimeoutMs || (wait + 15) * 1000;
    // Like one browser tab: its own small pool (hold + 1 requests at most).
    this.agent = new http.Agent({ keepAlive: true, maxSockets: hold + 1 });
    this.rid = 1000000 + Math.floor(Math.random() * 1000000000);
    this.sid = null;
    this.jid = null;
    this.error = null;
    this.closed = false;
    this.idle = false;
    this.outstanding = 0;
    this.onMessage = null; // (id, tReceived) for <message/> stanzas seen while idle
    this.loginMs = null;
    this.step = null; // login step in progress (for error reports)
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

  /**
   * Session creation → SASL PLAIN → xmpp:restart → bind. Resolves with the
   * latency in ms (creation request sent → bind result received); rejects
   * with the step that failed.
   */
  async login() {
    const t0 = performance.now();
    let step = 'session creation';
    this.step = step;
    try {
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
      if (!/<mechanism>\s*PLAIN\s*<\/mechanism>/.test(acc)) {
        throw new Error(`PLAIN not offered: ${acc.slice(0, 300)}`);
      }
      step = 'SASL PLAIN';
      this.step = step;
      const creds = Buffer.from(`\0${this.user}\0${this.password}`, 'utf8').toString('base64');
      acc = await this._exchange(this._wrap(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`), /<(?:\w+:)?(?:success|failure)\b/);
      if (!/<(?:\w+:)?success\b/.test(acc)) {
        throw new Error(`SASL failed: ${acc.slice(0, 300)}`);
      }
      step = 'restart';
      this.step = step;
      acc = await this._exchange(this._wrap('', ` to='${xmlEscape(this.domain)}' xml:lang='en' xmpp:restart='true' xmlns:xmpp='${NS_XBOSH}'`), /<bind\b/);
      step = 'bind';
      this.step = step;
      acc = await this._exchange(
        this._wrap(`<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='${NS_BIND}'><resource>${xmlEscape(this.resource)}</resource></bind></iq>`),
        /<jid>([^<]+)<\/jid>|type=["']error["']/,
      );
      const m = /<jid>([^<]+)<\/jid>/.exec(acc);
      if (!m) {
        throw new Error(`bind failed: ${acc.slice(0, 300)}`);
      }
      this.jid = m[1];
      this.loginMs = performance.now() - t0;
      return this.loginMs;
    } catch (e) {
      this.error = this.error || `${step}: ${e.message}`;
      throw new Error(this.error);
    }
  }

  _handle(promise) {
    this.outstanding++;
    promise.then((r) => {
      this.outstanding--;
      if (this.onMessage && r.inner) {
        for (const id of messageIds(r.inner)) {
          this.onMessage(id, r.t);
        }
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
      let timer;
      await Promise.race([
        this._post(xml).catch(() => {}),
        new Promise((r) => { timer = setTimeout(r, ms); }),
      ]);
      clearTimeout(timer);
    }
    this.agent.destroy();
  }
}

module.exports = { BoshSession, parseBody, parseAttrs, messageIds, xmlEscape };
