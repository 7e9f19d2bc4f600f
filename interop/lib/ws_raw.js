'use strict';
// Raw RFC 7395 probes with no XMPP library in between: an HTTP Upgrade request
// written by hand (to see the exact 101/4xx answer), and a minimal XMPP login
// over the `ws` package (SASL PLAIN, restart, bind) that records every frame
// exactly as received, plus a checker that judges each frame alone.

const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('ws');
const { SaxesParser } = require('saxes');
const { WAIT_MS, withTimeout } = require('./util');
const { Recorder } = require('./recorder');

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_STREAMS = 'http://etherx.jabber.org/streams';
const NS_CLIENT = 'jabber:client';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * Sends one WebSocket Upgrade request (RFC 6455 4.1) to `url` (ws://...)
 * offering `protocols` (omitted header when empty) and resolves with
 * { status, headers, body, acceptOk } where acceptOk tells whether a 101's
 * Sec-WebSocket-Accept matches the key. A 101's socket is destroyed at once.
 */
function upgradeRequest(url, { protocols = [], origin } = {}) {
  const key = crypto.randomBytes(16).toString('base64');
  const headers = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
  };
  if (protocols.length) {
    headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  }
  if (origin) {
    headers.Origin = origin;
  }
  const expectAccept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
  const httpUrl = url.replace(/^ws/, 'http');
  return withTimeout(`upgrade ${url} offering [${protocols}]`, WAIT_MS, (resolve, reject) => {
    const req = http.request(httpUrl, { method: 'GET', headers, agent: false });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({
        status: res.statusCode,
        headers: res.headers,
        body: '',
        acceptOk: res.headers['sec-websocket-accept'] === expectAccept,
      });
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), acceptOk: false,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Parses one frame as a standalone XML document (namespace-aware, strict).
 * Returns { local, uri, attrs: {name: value}, children: [{local, uri}] } of the
 * root and its element children; throws on anything that is not exactly one
 * well-formed document with every prefix declared.
 */
function parseFrame(text) {
  const parser = new SaxesParser({ xmlns: true });
  let root = null;
  let depth = 0;
  let error = null;
  parser.on('error', (e) => {
    if (!error) {
      error = e;
    }
  });
  parser.on('opentag', (node) => {
    depth += 1;
    const info = { local: node.local, uri: node.uri, attrs: {} };
    for (const a of Object.values(node.attributes)) {
      info.attrs[a.name] = a.value;
    }
    if (depth === 1) {
      root = { ...info, children: [] };
    } else if (depth === 2) {
      root.children.push(info);
    }
  });
  parser.on('closetag', () => {
    depth -= 1;
  });
  parser.write(text).close();
  if (error) {
    throw new Error(`frame is not a standalone XML document (${error.message}): ${text}`);
  }
  if (!root) {
    throw new Error(`frame has no root element: ${text}`);
  }
  return root;
}

/**
 * Judges one frame received from the WebSocket endpoint on its own and
 * returns the list of violations (empty when fine), each naming the
 * checklist requirement it breaks.
 */
function frameViolations({ text, binary }) {
  const out = [];
  if (binary) {
    out.push('WS-MSG-1: binary frame');
  }
  if (!text.startsWith('<')) {
    out.push('WS-FRM-3: does not start with "<"');
  }
  if (text.includes('<?xml')) {
    out.push('WS-RST-3/WS-FRM-2: contains an XML declaration');
  }
  if (text.includes('<stream:stream') || text.includes('</stream:stream')) {
    out.push('WS-FRM-5: contains a <stream:stream> header or trailer');
  }
  if (text.includes(NS_TLS)) {
    out.push('WS-TLS-1: mentions urn:ietf:params:xml:ns:xmpp-tls');
  }
  let root;
  try {
    root = parseFrame(text);
  } catch (e) {
    out.push(`WS-FRM-1: ${e.message}`);
    return out;
  }
  if ((root.local === 'open' || root.local === 'close') && root.uri !== NS_FRAMING) {
    out.push(`WS-NS-1: <${root.local}/> in namespace ${root.uri}`);
  }
  // A top-level <features/> or <error/> can only be stream features / a stream error.
  if ((root.local === 'features' || root.local === 'error') && root.uri !== NS_STREAMS) {
    out.push(`WS-NS-2: <${root.local}/> in namespace ${root.uri}`);
  }
  if (['message', 'presence', 'iq'].includes(root.local) && root.uri !== NS_CLIENT) {
    out.push(`WS-FRM-1: stanza <${root.local}/> in namespace ${root.uri || '(none)'}, not jabber:client`);
  }
  return out;
}

/**
 * A WebSocket with subprotocol `xmpp` whose received frames are recorded as
 * { text, binary, root } (root: parseFrame() result or null when unparsable).
 */
class RawWs extends Recorder {
  /** wsOptions: passed to the `ws` client (e.g. { headers, localAddress }). */
  constructor(url, label = 'raw-ws', wsOptions = {}) {
    super(label);
    this.url = url;
    this.wsOptions = wsOptions;
    this.frames = [];
    this.sent = [];
    this.closeInfo = null;
  }

  async open() {
    this.ws = new WebSocket(this.url, 'xmpp', this.wsOptions);
    this.ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat([].concat(data)).toString('utf8');
      let root = null;
      try {
        root = parseFrame(text);
      } catch (_) {
        root = null;
      }
      this.frames.push({ text, binary: isBinary, root });
      this._check();
    });
    this.ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      this._check();
    });
    this.ws.on('error', (e) => {
      this.error = e;
      this._check();
    });
    await withTimeout(`${this.label}: WebSocket open`, WAIT_MS, (resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.protocol = this.ws.protocol;
  }

  _waitContext() {
    return `\n  frames: ${this.frames.slice(-6).map((f) => f.text).join('\n    ')}\n  close: ${JSON.stringify(this.closeInfo)}`;
  }

  /** Next frame at or after `from` whose root is `local` in `uri`. */
  waitFrame(local, uri, from = 0) {
    return this.waitUntil(`frame <${local} xmlns='${uri}'>`, () => this.frames.slice(from)
      .find((f) => f.root && f.root.local === local && f.root.uri === uri));
  }

  send(text) {
    this.sent.push(text);
    this.ws.send(text);
  }

  terminate() {
    if (this.ws) {
      this.ws.terminate();
    }
  }
}

function openFrame(domain) {
  return `<open xmlns='${NS_FRAMING}' to='${domain}' version='1.0' xml:lang='en'/>`;
}

/**
 * A complete login by hand: <open/>, features, SASL PLAIN, restart <open/>,
 * features, bind. Resolves with { ws, jid, opens: [root, root],
 * features: [root, root] }; the caller goes on with ws.send() / ws.waitFrame().
 */
async function rawLogin({ url, domain, user, password, resource = 'raw', wsOptions = {} }) {
  const ws = new RawWs(url, `${user}/raw-ws`, wsOptions);
  await ws.open();
  ws.send(openFrame(domain));
  const open1 = await ws.waitFrame('open', NS_FRAMING);
  const feat1 = await ws.waitFrame('features', NS_STREAMS);
  if (!feat1.root.children.some((c) => c.local === 'mechanisms' && c.uri === NS_SASL)) {
    throw new Error(`no SASL mechanisms offered: ${feat1.text}`);
  }
  if (!/<mechanism>PLAIN<\/mechanism>/.test(feat1.text)) {
    throw new Error(`PLAIN not offered: ${feat1.text}`);
  }
  let mark = ws.frames.length;
  const creds = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
  ws.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${creds}</auth>`);
  const sasl = await ws.waitUntil('SASL outcome', () => ws.frames.slice(mark)
    .find((f) => f.root && f.root.uri === NS_SASL && (f.root.local === 'success' || f.root.local === 'failure')));
  if (sasl.root.local !== 'success') {
    throw new Error(`SASL PLAIN failed: ${sasl.text}`);
  }
  mark = ws.frames.length;
  ws.send(openFrame(domain));
  const open2 = await ws.waitFrame('open', NS_FRAMING, mark);
  const feat2 = await ws.waitFrame('features', NS_STREAMS, mark);
  mark = ws.frames.length;
  ws.send(`<iq xmlns='${NS_CLIENT}' type='set' id='bind-1'><bind xmlns='${NS_BIND}'><resource>${resource}</resource></bind></iq>`);
  const bound = await ws.waitUntil('bind result', () => ws.frames.slice(mark)
    .find((f) => f.root && f.root.local === 'iq' && f.root.attrs.id === 'bind-1'));
  const m = bound.text.match(/<jid>([^<]+)<\/jid>/);
  if (bound.root.attrs.type !== 'result' || !m) {
    throw new Error(`bind failed: ${bound.text}`);
  }
  return { ws, jid: m[1], opens: [open1.root, open2.root], features: [feat1, feat2] };
}

module.exports = {
  upgradeRequest,
  parseFrame,
  frameViolations,
  RawWs,
  rawLogin,
  openFrame,
  NS_FRAMING,
  NS_STREAMS,
  NS_CLIENT,
  NS_SASL,
  NS_BIND,
  NS_TLS,
};
