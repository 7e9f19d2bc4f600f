'use strict';
// Server-side fault matrix against REAL servers (issue 8, item 3): faults of
// the XMPP server process (SIGKILL, SIGSTOP), of the link to it (silently cut
// inside a network namespace), of DNS (dnsmasq stopped / killed) and of TLS
// (untrusted or changed certificate), made to live sessions through a real
// boshgate. Every scenario has BOSH and WebSocket victims on the faulty server
// and a BOSH + WebSocket bystander pair on the OTHER server, which must still
// exchange messages afterwards. IDs: FAULT-KILL-1/2/3, FAULT-STOP-1/2,
// FAULT-LINK-1/2, FAULT-DNS-1/2, FAULT-TLS-1/2 (tests/CONFORMANCE.md).
//
//   cd interop && BOSHGATE_BIN=... node --test --test-concurrency=1 fault/server_faults.test.js
// (run as root: Prosody run_as_root, dnsmasq, ip netns, nft).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const WebSocket = require('ws');

const L = require('./lib');
const { PROSODY, EJABBERD, LINKED, NS_FRAMING, sleep, until, seqMessage, seqBodies, checkSeq } = L;

const DNS_TIMEOUT_MS = 2000;
const RSS_BOUND_KB = 40 * 1024; // FAULT-STOP-1: gateway RSS may grow at most this much

let W; // the world
let GW; // the gateway (write_timeout 2s, dns_timeout 2s)
let failed = false;
let tag = 0;

before(async () => {
  W = await L.startServerWorld();
  GW = await W.gateway({
    limits: { write_timeout: '2s', breaker_failures: 0 },
    upstream: { dns_timeout: '2s', tcp_keepalive: '2s' },
  });
}, { timeout: 90000 });

after(async () => {
  if (W) {
    await W.teardown(failed);
  }
});

function res() {
  tag += 1;
  return `r${tag}`;
}

/** BOSH + WebSocket bystanders on `domain` (through `gw`). */
async function bystanders(gw, domain) {
  const [ub, uw] = domain === EJABBERD ? ['gina', 'hank'] : domain === PROSODY ? ['erin', 'fred'] : ['lara', 'lou'];
  const b = await L.loginBosh(gw.url, domain, ub, res());
  const w = await L.loginWs(gw.wsUrl, domain, uw, res());
  return { b, w };
}

async function checkBystanders(by, what) {
  await L.exchange(by.b, by.w, what);
}

function closeAll(...sessions) {
  for (const s of sessions) {
    if (!s) {
      continue;
    }
    if (s instanceof L.BoshSession) {
      s.terminate().catch(() => {});
      s.close();
    } else {
      s.kill();
    }
  }
}

function gwLog(gw, mark, re = /session|upstream|stream|dns|tls|certificate|terminat/i) {
  return gw.logSince(mark).split('\n').filter((l) => re.test(l)).slice(-12).join('\n');
}

/** Asserts the ends seen: BOSH terminate `cond`, WS stream error `cond` then a close. */
function assertEnded(bosh, ws, cond, what) {
  assert.deepEqual(bosh.errors, [], `${what}: BOSH transport errors`);
  assert.equal(bosh.terminated, cond, `${what}: BOSH terminate condition (${bosh.terminateText})`);
  const err = ws.frames.find((f) => /<stream:error\b|<error\b[^>]*xmlns:stream/.test(f));
  assert.ok(err, `${what}: WebSocket got no <stream:error>: ${JSON.stringify(ws.frames.slice(-3))}`);
  assert.match(err, new RegExp(`<${cond}\\b`), `${what}: WebSocket stream error condition`);
  assert.ok(ws.closeInfo, `${what}: WebSocket not closed`);
}

function rawPost(url, body, ms) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8' } }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(ms, () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A new BOSH session creation; resolves with { ms, status, text, condition, type }. */
async function boshCreate(gw, domain) {
  const t0 = Date.now();
  const r = await rawPost(gw.url, `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' hold='1' rid='${1000 + tag}' to='${domain}' ver='1.6' wait='10' xml:lang='en' xmpp:version='1.0'/>`, 20000);
  const cond = r.text.match(/condition=['"]([^'"]+)['"]/);
  const type = r.text.match(/\stype=['"]([^'"]+)['"]/);
  return { ms: Date.now() - t0, ...r, condition: cond ? cond[1] : null, type: type ? type[1] : null };
}

/** A new WebSocket stream; resolves with { ms (to the close), frames, closeInfo }. */
function wsOpen(gw, domain, ms = 20000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const frames = [];
    const ws = new WebSocket(gw.wsUrl, 'xmpp');
    const timer = setTimeout(() => {
      ws.terminate();
      resolve({ ms: null, frames, closeInfo: null });
    }, ms);
    ws.on('open', () => ws.send(`<open xmlns='${NS_FRAMING}' to='${domain}' version='1.0' xml:lang='en'/>`));
    ws.on('message', (d) => frames.push(d.toString('utf8')));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - t0, frames, closeInfo: { code } });
    });
  });
}

/** A new login must fail cleanly with `conds` (array of accepted conditions) on both transports. */
async function assertLoginFails(gw, domain, conds, boundMs, what) {
  const [b, w] = await Promise.all([boshCreate(gw, domain), wsOpen(gw, domain)]);
  assert.equal(b.status, 200, `${what}: BOSH creation HTTP status (${b.text})`);
  assert.equal(b.type, 'terminate', `${what}: BOSH creation answer ${b.text}`);
  assert.ok(conds.includes(b.condition), `${what}: BOSH condition ${b.condition}, expected one of ${conds}`);
  const err = w.frames.find((f) => /<stream:error\b|<error\b[^>]*xmlns:stream/.test(f));
  assert.ok(err, `${what}: WebSocket got no stream error: ${JSON.stringify(w.frames)}`);
  assert.ok(conds.some((c) => err.includes(`<${c}`)), `${what}: WebSocket stream error ${err}`);
  assert.ok(w.closeInfo, `${what}: WebSocket not closed`);
  if (boundMs) {
    assert.ok(b.ms <= boundMs, `${what}: BOSH answered after ${b.ms} ms (bound ${boundMs})`);
    assert.ok(w.ms <= boundMs, `${what}: WebSocket closed after ${w.ms} ms (bound ${boundMs})`);
  }
  return { bosh: b, ws: w };
}

async function assertLoginWorks(gw, domain, ub, uw, what) {
  const b = await L.loginBosh(gw.url, domain, ub, res());
  const w = await L.loginWs(gw.wsUrl, domain, uw, res());
  await L.exchange(b, w, what);
  closeAll(b, w);
}

async function wrap(t, fn) {
  try {
    await fn();
  } catch (e) {
    failed = true;
    throw e;
  }
}

// ---------------------------------------------------------------- FAULT-STOP

test('FAULT-STOP-2: Prosody SIGSTOPped ~1 s while 5 numbered messages go each way: all arrive in order, no session ends', { timeout: 30000 }, (t) => wrap(t, async () => {
  const by = await bystanders(GW, EJABBERD);
  const a = await L.loginBosh(GW.url, PROSODY, 'alice', res());
  const b = await L.loginWs(GW.wsUrl, PROSODY, 'bob', res());
  const fromA = a.inbox.length;
  const fromB = b.frames.length;
  process.kill(W.prosody.pid, 'SIGSTOP');
  try {
    for (let i = 1; i <= 5; i += 1) {
      a.send(seqMessage(b.jid, 'a', i));
      b.send(seqMessage(a.jid, 'b', i));
      await sleep(100);
    }
    await sleep(500);
    await checkBystanders(by, 'FAULT-STOP-2 bystander (Prosody stopped)');
  } finally {
    process.kill(W.prosody.pid, 'SIGCONT');
  }
  const tc = Date.now();
  await until(() => seqBodies(b.frames.slice(fromB).join('\n'), 'a').length >= 5 && seqBodies(a.inbox.slice(fromA), 'b').length >= 5,
    'all 5 messages each way', 10000).catch(() => {});
  t.diagnostic(`delivered ${Date.now() - tc} ms after SIGCONT`);
  assert.equal(checkSeq(seqBodies(b.frames.slice(fromB).join('\n'), 'a'), 5), null, 'BOSH -> WebSocket');
  assert.equal(checkSeq(seqBodies(a.inbox.slice(fromA), 'b'), 5), null, 'WebSocket -> BOSH');
  assert.equal(a.terminated, null, 'BOSH session ended');
  assert.equal(b.closeInfo, null, 'WebSocket closed');
  await checkBystanders(by, 'FAULT-STOP-2 bystander after');
  closeAll(a, b, by.b, by.w);
}));

test('FAULT-STOP-1: Prosody stays SIGSTOPped while clients write 2×12 MB: gateway RSS bounded, sessions end after write_timeout (2s) with remote-connection-failed', { timeout: 45000 }, (t) => wrap(t, async () => {
  const by = await bystanders(GW, EJABBERD);
  const ws = await L.loginWs(GW.wsUrl, PROSODY, 'alice', res());
  const bosh = await L.loginBosh(GW.url, PROSODY, 'carol', res());
  const mark = GW.logMark();
  const rss0 = L.vmRssKb(GW.pid);
  let rssMax = rss0;
  let rssAt1s = null; // RSS 1 s into the stall: the queues must not grow after it
  const sampler = setInterval(() => {
    const r = L.vmRssKb(GW.pid);
    rssMax = Math.max(rssMax, r);
    if (rssAt1s === null && Date.now() - t0 >= 1000) {
      rssAt1s = r;
    }
  }, 50);
  const pad = 'x'.repeat(60 * 1024);
  let t0 = Date.now();
  process.kill(W.prosody.pid, 'SIGSTOP');
  t0 = Date.now();
  let ended;
  try {
    for (let i = 1; i <= 200; i += 1) {
      ws.send(`<message xmlns='jabber:client' type='chat' to='bob@${PROSODY}' id='w${i}'><body>${i} ${pad}</body></message>`);
    }
    const writer = (async () => {
      for (let i = 1; i <= 200 && !bosh.terminated && Date.now() - t0 < 20000; i += 1) {
        bosh.send(`<message xmlns='jabber:client' type='chat' to='bob@${PROSODY}' id='b${i}'><body>${i} ${pad}</body></message>`);
        await until(() => bosh.inflight.size < 2 || bosh.terminated || bosh.errors.length, 'BOSH writer slot', 25000, 5).catch(() => {});
      }
    })();
    ended = await L.waitEnded(bosh, ws, t0, 25000, 'FAULT-STOP-1');
    await writer;
    t.diagnostic(`ended: ${JSON.stringify(ended)} ms after SIGSTOP; gateway RSS ${rss0} kB, ${rssAt1s} kB at 1 s, max ${rssMax} kB`);
  } finally {
    clearInterval(sampler);
    process.kill(W.prosody.pid, 'SIGCONT');
  }
  t.diagnostic(`gateway log:\n${gwLog(GW, mark)}`);
  // Every check runs; the test fails at the end with all that went wrong.
  const problems = [];
  const check = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${e.message}`);
    }
  };
  await check('session ends', () => assertEnded(bosh, ws, 'remote-connection-failed', 'FAULT-STOP-1'));
  // write_timeout is 2 s: neither session may end before it (both wrote into a stopped server).
  await check('not before write_timeout', () => assert.ok(ended.boshMs >= 2000 && ended.wsCloseMs >= 2000, JSON.stringify(ended)));
  // Bounded queues: no growth once the socket buffers are full (1 s in), and a total bound.
  await check('queues bounded', () => assert.ok(rssMax - rssAt1s <= 4096, `RSS grew ${rssMax - rssAt1s} kB after the first second of the stall`));
  await check('RSS bound', () => assert.ok(rssMax - rss0 <= RSS_BOUND_KB, `gateway RSS grew ${rssMax - rss0} kB (bound ${RSS_BOUND_KB} kB)`));
  await check('bystander', () => checkBystanders(by, 'FAULT-STOP-1 bystander'));
  await check('login after SIGCONT', () => assertLoginWorks(GW, PROSODY, 'erin', 'fred', 'FAULT-STOP-1 new login after SIGCONT'));
  closeAll(by.b, by.w);
  assert.deepEqual(problems, [], 'FAULT-STOP-1');
}));

// ---------------------------------------------------------------- FAULT-KILL

async function killScenario(t, kind) {
  const isP = kind === 'prosody';
  const domain = isP ? PROSODY : EJABBERD;
  const server = isP ? W.prosody : W.ejabberd;
  const by = await bystanders(GW, isP ? EJABBERD : PROSODY);
  const [ub, uw, ub2, uw2] = isP ? ['alice', 'bob', 'carol', 'dave'] : ['eve', 'frank', 'eve', 'frank'];
  const bosh = await L.loginBosh(GW.url, domain, ub, res());
  const ws = await L.loginWs(GW.wsUrl, domain, uw, res());
  await until(() => bosh.inflight.size >= 1, 'a held BOSH request', 3000, 5);
  const mark = GW.logMark();
  const t0 = Date.now();
  process.kill(-(isP ? server.pid : server.pgid()), 'SIGKILL'); // the whole process group (ejabberdctl + beam)
  const ended = await L.waitEnded(bosh, ws, t0, 5000, `FAULT-KILL ${kind}`);
  t.diagnostic(`${kind} killed: ${JSON.stringify(ended)} ms after SIGKILL`);
  t.diagnostic(`gateway log:\n${gwLog(GW, mark)}`);
  // FAULT-KILL-1: the held BOSH request is answered terminate/remote-connection-failed within 1 s.
  // FAULT-KILL-2: the WebSocket gets <stream:error><remote-connection-failed/> and a close within 1 s.
  assertEnded(bosh, ws, 'remote-connection-failed', `FAULT-KILL-1/2 ${kind}`);
  assert.ok(ended.boshMs <= 1000, `FAULT-KILL-1 ${kind}: BOSH answered ${ended.boshMs} ms after the kill`);
  assert.ok(ended.wsErrorMs <= 1000 && ended.wsCloseMs <= 1000, `FAULT-KILL-2 ${kind}: WebSocket error/close ${ended.wsErrorMs}/${ended.wsCloseMs} ms after the kill`);
  await checkBystanders(by, `FAULT-KILL ${kind} bystander`);
  // FAULT-KILL-3: same config, same ports: new logins work on both transports.
  await server.restart();
  await until(async () => {
    try {
      await assertLoginWorks(GW, domain, ub2, uw2, `FAULT-KILL-3 ${kind}`);
      return true;
    } catch (e) {
      t.diagnostic(`login after restart: ${e.message}`);
      return false;
    }
  }, `FAULT-KILL-3 ${kind}: a new login after the restart`, 30000, 1000);
  closeAll(bosh, by.b, by.w);
}

test('FAULT-KILL-1/2/3 Prosody: SIGKILL with a BOSH request held and a WebSocket open → both ended within 1 s; restart → new logins', { timeout: 45000 }, (t) => wrap(t, () => killScenario(t, 'prosody')));

test('FAULT-KILL-1/2/3 ejabberd: SIGKILL with a BOSH request held and a WebSocket open → both ended within 1 s; restart → new logins', { timeout: 60000 }, (t) => wrap(t, () => killScenario(t, 'ejabberd')));

// ---------------------------------------------------------------- FAULT-DNS

test('FAULT-DNS-1: dnsmasq SIGSTOPped (dns_timeout 2s): new login fails cleanly within 2 s + 3 s, live sessions go on; SIGCONT → login works', { timeout: 40000 }, (t) => wrap(t, async () => {
  const a = await L.loginBosh(GW.url, PROSODY, 'alice', res());
  const b = await L.loginWs(GW.wsUrl, PROSODY, 'bob', res());
  const by = await bystanders(GW, EJABBERD);
  const mark = GW.logMark();
  process.kill(W.dns.pid, 'SIGSTOP');
  let got;
  try {
    got = await assertLoginFails(GW, PROSODY, ['remote-connection-failed', 'host-unknown'], DNS_TIMEOUT_MS + 3000, 'FAULT-DNS-1')
      .catch((e) => ({ error: e }));
    await L.exchange(a, b, 'FAULT-DNS-1 live Prosody sessions');
    await checkBystanders(by, 'FAULT-DNS-1 bystander');
  } finally {
    process.kill(W.dns.pid, 'SIGCONT');
  }
  t.diagnostic(`gateway log:\n${gwLog(GW, mark)}`);
  if (got.error) {
    throw got.error;
  }
  t.diagnostic(`DNS stopped: BOSH ${got.bosh.ms} ms ${got.bosh.text}; WS ${got.ws.ms} ms ${JSON.stringify(got.ws.frames)}`);
  await assertLoginWorks(GW, PROSODY, 'carol', 'dave', 'FAULT-DNS-1 after SIGCONT');
  closeAll(a, b, by.b, by.w);
}));

test('FAULT-DNS-2: dnsmasq killed (port closed): new login fails fast and cleanly; restart dnsmasq → login works', { timeout: 40000 }, (t) => wrap(t, async () => {
  const a = await L.loginBosh(GW.url, PROSODY, 'alice', res());
  const b = await L.loginWs(GW.wsUrl, PROSODY, 'bob', res());
  const by = await bystanders(GW, EJABBERD);
  const mark = GW.logMark();
  await W.dns.stop();
  let got;
  try {
    // "fast": well before dns_timeout (the port answers ICMP port unreachable at once).
    got = await assertLoginFails(GW, PROSODY, ['remote-connection-failed', 'host-unknown'], DNS_TIMEOUT_MS, 'FAULT-DNS-2')
      .catch((e) => ({ error: e }));
    await L.exchange(a, b, 'FAULT-DNS-2 live Prosody sessions');
    await checkBystanders(by, 'FAULT-DNS-2 bystander');
  } finally {
    await L.startDnsFor(W);
  }
  t.diagnostic(`gateway log:\n${gwLog(GW, mark)}`);
  if (got.error) {
    throw got.error;
  }
  t.diagnostic(`DNS killed: BOSH ${got.bosh.ms} ms ${got.bosh.text}; WS ${got.ws.ms} ms ${JSON.stringify(got.ws.frames)}`);
  await assertLoginWorks(GW, PROSODY, 'carol', 'dave', 'FAULT-DNS-2 after dnsmasq restart');
  closeAll(a, b, by.b, by.w);
}));

// ---------------------------------------------------------------- FAULT-TLS

async function swapProsodyCert(cert, mark) {
  fs.copyFileSync(cert.cert, W.prosodyCert.cert);
  fs.copyFileSync(cert.key, W.prosodyCert.key);
  const from = fs.statSync(W.prosody.logs[0]).size;
  process.kill(W.prosody.pid, 'SIGHUP');
  await until(() => /[Rr]eload/.test(fs.readFileSync(W.prosody.logs[0]).subarray(from).toString('utf8')), 'Prosody reload logged', 5000);
  await sleep(300);
  return mark;
}

test('FAULT-TLS-2a: Prosody certificate replaced by another from the same CA + SIGHUP: live sessions go on, new logins work', { timeout: 30000 }, (t) => wrap(t, async () => {
  const a = await L.loginBosh(GW.url, PROSODY, 'alice', res());
  const b = await L.loginWs(GW.wsUrl, PROSODY, 'bob', res());
  const by = await bystanders(GW, EJABBERD);
  assert.equal(L.servedCert(W.prosody.c2sPort, PROSODY), L.pemOf(W.certs.domains[PROSODY].cert), 'Prosody serves its first certificate');
  await swapProsodyCert(W.spare);
  // The reload really changed what new connections get (else this test proves nothing).
  assert.equal(L.servedCert(W.prosody.c2sPort, PROSODY), L.pemOf(W.spare.cert), 'Prosody serves the new certificate after SIGHUP');
  await L.exchange(a, b, 'FAULT-TLS-2a live sessions');
  await assertLoginWorks(GW, PROSODY, 'carol', 'dave', 'FAULT-TLS-2a new login');
  await checkBystanders(by, 'FAULT-TLS-2a bystander');
  closeAll(a, b, by.b, by.w);
}));

test('FAULT-TLS-1 / FAULT-TLS-2b: Prosody certificate from an untrusted CA (+ SIGHUP): live sessions go on, new logins fail remote-connection-failed', { timeout: 30000 }, (t) => wrap(t, async () => {
  const a = await L.loginBosh(GW.url, PROSODY, 'alice', res());
  const b = await L.loginWs(GW.wsUrl, PROSODY, 'bob', res());
  const by = await bystanders(GW, EJABBERD);
  const mark = GW.logMark();
  try {
    await swapProsodyCert(W.rogue);
    assert.equal(L.servedCert(W.prosody.c2sPort, PROSODY), L.pemOf(W.rogue.cert), 'Prosody serves the rogue certificate after SIGHUP');
    await L.exchange(a, b, 'FAULT-TLS-2b live sessions');
    const got = await assertLoginFails(GW, PROSODY, ['remote-connection-failed'], 0, 'FAULT-TLS-1');
    t.diagnostic(`untrusted certificate: BOSH ${got.bosh.ms} ms ${got.bosh.text}; WS ${JSON.stringify(got.ws.frames)}`);
    t.diagnostic(`gateway log:\n${gwLog(GW, mark)}`);
    await L.exchange(a, b, 'FAULT-TLS-2b live sessions after the failed login');
    await checkBystanders(by, 'FAULT-TLS-1 bystander');
  } finally {
    await swapProsodyCert(W.certs.domains[PROSODY]);
  }
  await assertLoginWorks(GW, PROSODY, 'carol', 'dave', 'FAULT-TLS after the trusted certificate is back');
  closeAll(a, b, by.b, by.w);
}));

// ---------------------------------------------------------------- FAULT-LINK

let LN; // the namespace Prosody
let LGW; // its gateway (tcp_keepalive 2s, write_timeout 3s)

async function linkWorld() {
  if (!LN) {
    LN = await L.startLinkedProsody(W);
    LGW = await W.gateway({
      limits: { write_timeout: '3s', breaker_failures: 0 },
      upstream: { tcp_keepalive: '2s' },
    }, { extra: `[[upstream.domain]]\nname = "${LINKED}"\naddress = "${LN.address}"\ntls = "required"\ntls_verify = true\n` });
  }
}

async function linkScenario(t, busy) {
  await linkWorld();
  LN.heal();
  const by = await bystanders(LGW, EJABBERD);
  const bosh = await L.loginBosh(LGW.url, LINKED, 'lara', res());
  const ws = await L.loginWs(LGW.wsUrl, LINKED, 'lou', res());
  await until(() => bosh.inflight.size >= 1, 'a held BOSH request', 3000, 5);
  const mark = LGW.logMark();
  const t0 = Date.now();
  LN.cut();
  let pump = null;
  if (busy) {
    let i = 0;
    pump = setInterval(() => {
      i += 1;
      if (!bosh.terminated) {
        bosh.send(L.chat(ws.jid, `p${i}`, `busy ${i}`));
      }
      if (!ws.closeInfo) {
        ws.send(L.chat(bosh.jid, `q${i}`, `busy ${i}`));
      }
    }, 200);
  }
  let ended;
  try {
    ended = await L.waitEnded(bosh, ws, t0, 15000, `FAULT-LINK ${busy ? 'busy' : 'idle'}`);
  } finally {
    clearInterval(pump);
    t.diagnostic(`gateway log:\n${gwLog(LGW, mark)}`);
  }
  t.diagnostic(`link cut (${busy ? 'busy' : 'idle'}): ${JSON.stringify(ended)} ms after the cut`);
  assertEnded(bosh, ws, 'remote-connection-failed', `FAULT-LINK ${busy ? 2 : 1}`);
  assert.ok(ended.boshMs <= 10000 && ended.wsCloseMs <= 10000, `ended later than 10 s after the cut: ${JSON.stringify(ended)}`);
  await checkBystanders(by, 'FAULT-LINK bystander');
  LN.heal();
  closeAll(by.b, by.w, bosh);
}

test('FAULT-LINK-1: link to Prosody silently cut (nft drop in its netns), idle session (BOSH held, WS open) → ended within 10 s (tcp_keepalive 2s, write_timeout 3s)', { timeout: 45000 }, (t) => wrap(t, () => linkScenario(t, false)));

test('FAULT-LINK-2: link silently cut while the clients keep sending → ended within 10 s', { timeout: 30000 }, (t) => wrap(t, () => linkScenario(t, true)));
