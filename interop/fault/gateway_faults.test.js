'use strict';
// Gateway-process and client-side faults against REAL servers (issue 8, item 3).
// A real boshgate (BOSHGATE_BIN) in front of a real Prosody and a real ejabberd
// on loopback (dnsmasq SRV for both domains), real Node clients:
//
//   FAULT-HUP-1    SIGHUP x3 (changed config, invalid config, changed back) while
//                  20 BOSH + 20 WebSocket sessions exchange numbered messages:
//                  nothing dropped, lost, duplicated or reordered; the invalid
//                  file is refused and logged; new sessions see each accepted
//                  config; a new login afterwards works.
//   FAULT-CLIENT-1 BOSH client's TCP connection reset while its request is held:
//                  the session survives and a message sent meanwhile arrives exactly
//                  once, (a) going on with the next rid + ack (XEP-0124 §9: the
//                  gateway reports the lost rid, the client resends it) and (b)
//                  resending the lost rid at once (§14.3).
//   FAULT-CLIENT-2 BOSH client half-closes (FIN after the request) while held:
//                  the session survives (what the gateway does is reported).
//   FAULT-CLIENT-3 BOSH client vanishes: the session ends after [bosh] inactivity
//                  (5 s, the loader's minimum), the user goes offline at the server
//                  (a bystander with its directed presence gets unavailable), the
//                  server link is dropped without a closing tag (GAP-9, SM-3).
//   FAULT-CLIENT-4 WebSocket client TCP reset / half-close without a close frame:
//                  the user goes offline at the server, no closing tag upstream
//                  (WS-CLOSE-3).
//                  (CLIENT-1..4: a BOSH and a WebSocket bystander keep working.)
//   FAULT-TERM-1   SIGTERM with 20 BOSH + 20 WebSocket sessions (Prosody and
//                  ejabberd) exchanging messages: every held BOSH request gets
//                  terminate/system-shutdown, every WebSocket <stream:error>
//                  <system-shutdown/>, <close/> and close code 1001 (README,
//                  tests/CONFORMANCE.md "Gateway shutdown"), upstream streams are
//                  closed with </stream:stream> (Prosody logs "Received
//                  </stream:stream>" per c2s session; ejabberd "Stream reset by peer",
//                  its text for xmlstreamend), exit status 0 within shutdown_grace + 1 s.
// Server-side signals come from Prosody's debug log (the lines of the c2s session
// that bound the client's full JID) and ejabberd's info log.
//
// Run: cd interop && BOSHGATE_BIN=/path/to/boshgate node --test --test-concurrency=1 fault/gateway_faults.test.js

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, before, after, test } = require('node:test');

const {
  PROSODY, EJABBERD, sleep, until, attr, startFaultWorld, BoshSession, WsSession,
  seqMessage, seqBodies, checkSeq, serverLog, fileSize,
} = require('./gateway_lib');

const PUSERS = Array.from({ length: 12 }, (_, i) => ({ user: `u${i}`, password: `u${i}-Pw-${i}` }));
const EUSERS = Array.from({ length: 2 }, (_, i) => ({ user: `e${i}`, password: `e${i}-Pw-${i}` }));
const INACTIVITY_S = 5; // conf/boshgate.toml: the loader's minimum for [bosh] inactivity
const GRACE_S = 3;
const SEND_EVERY_MS = 200;

const W = { failed: false };
const note = (s) => {
  process.stdout.write(`# ${s}\n`);
};

/** The test run's own hooks: mark failure so the work dir and logs are kept. */
function guard(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      W.failed = true;
      throw e;
    }
  };
}

const userOf = (list, i) => list[i % list.length];

/**
 * Logs in `specs` ([{ kind: 'bosh'|'ws', domain, account, label }]) in
 * parallel on `gw`; resolves with the sessions.
 */
async function loginAll(gw, specs) {
  return Promise.all(specs.map(async (s) => {
    const c = s.kind === 'bosh'
      ? new BoshSession({ url: gw.url, domain: s.domain, label: s.label, wait: 10 })
      : new WsSession({ url: gw.wsUrl, domain: s.domain, label: s.label });
    await c.login(s.account.user, s.account.password, s.label);
    c.kind = s.kind;
    c.spec = s;
    if (c.kind === 'bosh') {
      c.start();
    }
    return c;
  }));
}

/** Received text of a session (in order). */
const rx = (c) => (c.kind === 'bosh' ? c.inbox : c.text());

/**
 * Every session sends numbered messages to its peer every SEND_EVERY_MS.
 * pairs: [[a, b], ...] (sessions). Returns { stop(), sent: Map(label -> n) }.
 */
function startTraffic(pairs) {
  const sent = new Map();
  const timers = [];
  for (const [a, b] of pairs) {
    for (const [from, to] of [[a, b], [b, a]]) {
      sent.set(from.label, 0);
      const tick = () => {
        const n = sent.get(from.label) + 1;
        sent.set(from.label, n);
        from.send(seqMessage(to.jid, from.label, n));
      };
      timers.push(setInterval(tick, SEND_EVERY_MS));
    }
  }
  return {
    sent,
    stop: () => timers.forEach(clearInterval),
  };
}

/** Waits until every receiver got everything its peer sent, then checks the sequences. */
async function checkTraffic(pairs, sent, ms = 10000) {
  const want = [];
  for (const [a, b] of pairs) {
    want.push([a, b], [b, a]);
  }
  await until(() => want.every(([from, to]) => seqBodies(rx(to), from.label).length >= sent.get(from.label)),
    'all numbered messages delivered', ms, 100).catch(() => {});
  const faults = [];
  let total = 0;
  for (const [from, to] of want) {
    const got = seqBodies(rx(to), from.label);
    total += got.length;
    const f = checkSeq(got, sent.get(from.label));
    if (f) {
      faults.push(`${from.label} -> ${to.label}: ${f}`);
    }
  }
  return { faults, total };
}

/** One message each way between the two bystanders. */
async function bystandersWork(why) {
  const { bb, bw } = W;
  const tag = `${why}-${Date.now()}`;
  const m1 = bw.frames.length;
  const m2 = bb.inbox.length;
  bb.send(`<message xmlns='jabber:client' type='chat' to='${bw.jid}'><body>bystander ${tag} b2w</body></message>`);
  bw.send(`<message xmlns='jabber:client' type='chat' to='${bb.jid}'><body>bystander ${tag} w2b</body></message>`);
  await bw.waitFrame(new RegExp(`bystander ${tag} b2w`), `bystander message (${why})`, m1, 5000);
  await bb.waitFor(new RegExp(`bystander ${tag} w2b`), `bystander message (${why})`, m2, 5000);
  assert.equal(bb.terminated, null, `BOSH bystander terminated (${why})`);
  assert.equal(bw.closeInfo, null, `WebSocket bystander closed (${why})`);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Regex for <presence ... from='jid' ... type='unavailable'> in any attribute order. */
function unavailableFrom(jid) {
  const j = escapeRe(jid);
  return new RegExp(`<presence\\b(?=[^>]*\\sfrom=['"]${j}['"])(?=[^>]*\\stype=['"]unavailable['"])[^>]*>`);
}

/** Prosody's log lines of the c2s session that bound `jid` (since byte `mark`). */
function prosodySession(jid, mark) {
  const log = serverLog(W.world.prosodyLog, mark);
  const id = log.sessionOf(jid);
  return { id, lines: id ? log.linesOf(id) : [] };
}

describe('gateway-process and client-side faults (real Prosody + ejabberd)', () => {
  before(async () => {
    W.world = await startFaultWorld({ users: PUSERS, ejabberdUsers: EUSERS });
    W.gw = await W.world.gateway({
      server: { shutdown_grace: `${GRACE_S}s` },
      bosh: { inactivity: `${INACTIVITY_S}s` },
    }, 'main');
    // Two bystanders (BOSH and WebSocket) that must keep working through every client fault.
    W.bb = new BoshSession({ url: W.gw.url, domain: PROSODY, label: 'bystander-bosh', wait: 10 });
    await W.bb.login(PUSERS[10].user, PUSERS[10].password, 'bystander-bosh');
    W.bb.kind = 'bosh';
    W.bb.start();
    W.bw = new WsSession({ url: W.gw.wsUrl, domain: PROSODY, label: 'bystander-ws' });
    await W.bw.login(PUSERS[11].user, PUSERS[11].password, 'bystander-ws');
    W.bw.kind = 'ws';
  });

  after(async () => {
    for (const c of [W.bb, W.bw]) {
      if (c && c.kind === 'bosh') {
        await c.terminate();
        c.close();
      } else if (c) {
        c.kill();
      }
    }
    if (W.world) {
      await W.world.teardown(W.failed);
    }
  });

  test('FAULT-HUP-1: SIGHUP x3 (changed, invalid, changed back) under load: no session dropped, no message lost/duplicated/reordered, new logins work', guard(async () => {
    const gw = W.gw;
    const pmark = fileSize(W.world.prosodyLog);
    const specs = [];
    for (let i = 0; i < 20; i += 1) {
      specs.push({ kind: 'bosh', domain: PROSODY, account: userOf(PUSERS.slice(0, 10), i), label: `hup-b${i}` });
      specs.push({ kind: 'ws', domain: PROSODY, account: userOf(PUSERS.slice(0, 10), i + 5), label: `hup-w${i}` });
    }
    const sessions = await loginAll(gw, specs);
    // Pairs across transports: BOSH i <-> WebSocket i.
    const pairs = [];
    for (let i = 0; i < sessions.length; i += 2) {
      pairs.push([sessions[i], sessions[i + 1]]);
    }
    const traffic = startTraffic(pairs);
    const original = fs.readFileSync(gw.configFile, 'utf8');
    const inactivityLine = `inactivity = "${INACTIVITY_S}s"`;
    assert.ok(original.includes(inactivityLine), `generated config has ${inactivityLine}`);
    const hup = async (text, expect) => {
      fs.writeFileSync(gw.configFile, text);
      const mark = gw.logMark();
      process.kill(gw.pid, 'SIGHUP');
      return until(() => {
        const t = gw.logSince(mark);
        return expect.test(t) ? t : null;
      }, `gateway log ${expect}`, 5000);
    };
    /** The inactivity a NEW session is offered (XEP-0124 creation response). */
    const offeredInactivity = async () => {
      const c = new BoshSession({ url: gw.url, domain: PROSODY, label: 'hup-probe', wait: 10 });
      try {
        await c.create();
        return Number(attr(c.creation, 'inactivity'));
      } finally {
        await c.terminate();
        c.close();
      }
    };
    try {
      await sleep(1000);
      await hup(original.replace(inactivityLine, 'inactivity = "30s"'), /configuration reloaded/);
      assert.equal(await offeredInactivity(), 30, 'HUP 1 (valid, inactivity 30s) applies to new sessions');
      await sleep(1000);
      const refused = await hup(original.replace(inactivityLine, 'inactivity = "thirty seconds"'), /reload refused/);
      note(`HUP 2 (invalid file) logged: ${refused.split('\n').find((l) => /reload refused/.test(l)).trim()}`);
      assert.equal(gw.alive(), true, 'gateway still running after the invalid reload');
      assert.equal(await offeredInactivity(), 30, 'after the refused reload the previous config (30s) stays');
      await sleep(1000);
      await hup(original, /configuration reloaded/);
      assert.equal(await offeredInactivity(), INACTIVITY_S, 'HUP 3 (back to the original) applies to new sessions');
      await sleep(1000);
    } finally {
      traffic.stop();
      fs.writeFileSync(gw.configFile, original);
    }
    const { faults, total } = await checkTraffic(pairs, traffic.sent);
    note(`HUP-1: ${total} numbered messages over ${pairs.length} BOSH<->WebSocket pairs`);
    assert.deepEqual(faults, [], 'numbered messages intact across the reloads');
    for (const c of sessions) {
      if (c.kind === 'bosh') {
        assert.equal(c.terminated, null, `${c.label} terminated`);
        assert.deepEqual(c.errors, [], `${c.label} transport errors`);
      } else {
        assert.equal(c.closeInfo, null, `${c.label} closed`);
      }
    }
    // Upstream: none of the load sessions was disconnected at the server.
    const log = serverLog(W.world.prosodyLog, pmark);
    for (const c of sessions) {
      const id = log.sessionOf(c.jid);
      assert.ok(id, `Prosody log names the session of ${c.jid}`);
      const gone = log.linesOf(id).filter((l) => /Client disconnected|closed:/.test(l));
      assert.deepEqual(gone, [], `${c.jid} upstream stream ended during the reloads`);
    }
    // A new login after the reloads, both transports, with a message round trip.
    const [nb, nw] = await loginAll(gw, [
      { kind: 'bosh', domain: PROSODY, account: PUSERS[0], label: 'hup-new-b' },
      { kind: 'ws', domain: PROSODY, account: PUSERS[1], label: 'hup-new-w' },
    ]);
    nb.send(seqMessage(nw.jid, nb.label, 1));
    nw.send(seqMessage(nb.jid, nw.label, 1));
    await nw.waitFrame(/seq hup-new-b 1/, 'message to the new WebSocket login');
    await nb.waitFor(/seq hup-new-w 1/, 'message to the new BOSH login');
    for (const c of [...sessions, nb, nw]) {
      if (c.kind === 'bosh') {
        await c.terminate();
        c.close();
      } else {
        await c.closeClean();
      }
    }
    await bystandersWork('after HUP-1');
  }));

  // Two conforming recoveries after the reset: (a) the client goes on with the next rid and
  // keeps acking the last response it got (XEP-0124 §9.2); the gateway reports the missed
  // rid (§9.3, after its 1 s report_grace) and the client resends it; (b) the client resends
  // the lost rid at once on a new connection (§14.3). Either way the message sent to it
  // while it had no connection arrives exactly once and the session goes on.
  for (const recovery of ['next rid + ack/report', 'resend of the lost rid']) {
    test(`FAULT-CLIENT-1: BOSH connection reset while the request is held, recovery by ${recovery}: session survives, nothing lost`, guard(async () => {
      const tag = recovery.startsWith('next') ? 'c1a' : 'c1b';
      const v = new BoshSession({ url: W.gw.url, domain: PROSODY, label: `${tag}-victim`, wait: 2 });
      await v.login(PUSERS[2].user, PUSERS[2].password, `${tag}-victim`);
      const held = v.rawRequest('');
      await new Promise((r) => held.socket.once('connect', r));
      await sleep(300); // the gateway holds it (nothing to send)
      held.socket.resetAndDestroy();
      const r = await held.response;
      assert.ok(r.error, `the reset request got no response (${JSON.stringify(r)})`);
      v.lost(held.rid);
      await sleep(300);
      const body = `${tag} between`;
      W.bw.send(`<message xmlns='jabber:client' type='chat' to='${v.jid}'><body>${body}</body></message>`);
      await sleep(300);
      const mark = v.inbox.length;
      const t0 = Date.now();
      if (tag === 'c1b') {
        v.resend(held.rid);
      }
      v.start();
      await v.waitFor(new RegExp(`<body>${body}</body>`), 'the message sent while the client had no connection', mark, 12000);
      const ms = Date.now() - t0;
      await sleep(300);
      assert.equal((v.inbox.match(new RegExp(`<body>${body}</body>`, 'g')) || []).length, 1, 'delivered exactly once');
      const carrier = v.history.find((h) => h.text.includes(`<body>${body}</body>`));
      note(`CLIENT-1 (${recovery}): message delivered ${ms} ms after reconnecting, in the response to rid `
        + `${carrier.rid === held.rid ? 'N (the reset one)' : `N+${carrier.rid - held.rid}`}; reports from the gateway: `
        + `${JSON.stringify(v.reports.map((x) => (x === held.rid ? 'N' : `N+${x - held.rid}`)))}`);
      assert.equal(v.terminated, null, 'session not ended');
      assert.deepEqual(v.errors, [], 'no further transport errors');
      // The session continues: a message out.
      const m1 = W.bw.frames.length;
      v.send(`<message xmlns='jabber:client' type='chat' to='${W.bw.jid}'><body>${tag} after</body></message>`);
      await W.bw.waitFrame(new RegExp(`${tag} after`), 'message from the recovered session', m1);
      await v.terminate();
      v.close();
      await bystandersWork(`after CLIENT-1 ${tag}`);
    }));
  }

  test('FAULT-CLIENT-2: BOSH client half-closes while the request is held: the session survives', guard(async () => {
    const v = new BoshSession({ url: W.gw.url, domain: PROSODY, label: 'c2-victim', wait: 4 });
    await v.login(PUSERS[3].user, PUSERS[3].password, 'c2-victim');
    const held = v.rawRequest('');
    await new Promise((r) => held.socket.once('connect', r));
    held.socket.end(); // FIN right after the request
    const t0 = Date.now();
    await sleep(300);
    W.bw.send(`<message xmlns='jabber:client' type='chat' to='${v.jid}'><body>c2 between</body></message>`);
    const r = await Promise.race([held.response, sleep(6000).then(() => ({ error: 'no answer within 6 s' }))]);
    const ms = Date.now() - t0;
    let how;
    if (r.status === 200) {
      how = `answered the held request over the half-open connection after ${ms} ms (${/c2 between/.test(r.text) ? 'with the message' : 'empty'})`;
      v.inflight.delete(held.rid);
      v._got(held.rid, r);
    } else {
      how = `closed the half-open connection without an answer after ${ms} ms (${r.error})`;
      v.lost(held.rid);
    }
    note(`CLIENT-2: gateway ${how}`);
    const mark = 0;
    v.start();
    await v.waitFor(/<body>c2 between<\/body>/, 'the message sent while half-closed', mark, 12000);
    await sleep(300);
    assert.equal((v.inbox.match(/<body>c2 between<\/body>/g) || []).length, 1, 'delivered exactly once');
    assert.equal(v.terminated, null, 'session not ended');
    assert.deepEqual(v.errors, [], 'no further transport errors');
    const m1 = W.bw.frames.length;
    v.send(`<message xmlns='jabber:client' type='chat' to='${W.bw.jid}'><body>c2 after</body></message>`);
    await W.bw.waitFrame(/c2 after/, 'message from the half-closed session', m1);
    await v.terminate();
    v.close();
    await bystandersWork('after CLIENT-2');
  }));

  test(`FAULT-CLIENT-3: BOSH client vanishes: session ends after [bosh] inactivity (${INACTIVITY_S}s), user offline at the server`, guard(async () => {
    const pmark = fileSize(W.world.prosodyLog);
    const v = new BoshSession({ url: W.gw.url, domain: PROSODY, label: 'c3-victim', wait: 2 });
    await v.login(PUSERS[4].user, PUSERS[4].password, 'c3-victim');
    const m0 = W.bw.frames.length;
    v.request(`<presence xmlns='jabber:client'/><presence xmlns='jabber:client' to='${W.bw.jid}'/>`);
    await W.bw.waitFrame(new RegExp(`<presence\\b[^>]*from=['"]${escapeRe(v.jid)}['"]`), 'directed presence from the victim', m0);
    await until(() => v.inflight.size === 0, 'victim requests answered', 10000, 20);
    const vanished = Date.now(); // no request held from now on
    v.close();
    await W.bw.waitFrame(unavailableFrom(v.jid), 'unavailable presence of the vanished BOSH user', m0, (INACTIVITY_S + 8) * 1000);
    const ms = Date.now() - vanished;
    note(`CLIENT-3: unavailable presence ${ms} ms after the last response (inactivity ${INACTIVITY_S}s)`);
    assert.ok(ms >= INACTIVITY_S * 1000 - 1000, `session ended after ${ms} ms, before inactivity`);
    assert.ok(ms <= (INACTIVITY_S + 3) * 1000, `session ended after ${ms} ms, inactivity + 3 s`);
    const s = prosodySession(v.jid, pmark);
    assert.ok(s.id, 'Prosody log names the session');
    const end = s.lines.filter((l) => /Received <\/stream:stream>|Client disconnected|closed:/.test(l));
    note(`CLIENT-3: Prosody: ${end.join(' | ')}`);
    // Documented (tests/CONFORMANCE.md GAP-9, SM-3): an abandoned session drops its server
    // link WITHOUT a closing tag, so the server keeps XEP-0198 state; the user goes offline.
    assert.ok(end.some((l) => /^Client disconnected/.test(l)), 'Prosody saw the c2s connection end');
    assert.ok(!end.some((l) => /Received <\/stream:stream>/.test(l)), 'no closing tag upstream (GAP-9)');
    // The old sid is gone.
    const c = new BoshSession({ url: W.gw.url, domain: PROSODY, label: 'c3-old-sid', wait: 2 });
    c.sid = v.sid;
    c.lastRid = v.lastRid;
    c.acked = v.lastRid;
    c.request('');
    await until(() => c.lastResponse || c.errors.length, 'answer for the old sid', 5000);
    assert.equal(attr(c.lastResponse.text, 'type'), 'terminate', `old sid answered ${c.lastResponse.text}`);
    note(`CLIENT-3: old sid answered ${c.lastResponse.text}`);
    c.close();
    await bystandersWork('after CLIENT-3');
  }));

  for (const how of ['reset', 'half-close']) {
    test(`FAULT-CLIENT-4: WebSocket client TCP ${how} without a close frame: user offline at the server, others unaffected`, guard(async () => {
      const pmark = fileSize(W.world.prosodyLog);
      const v = new WsSession({ url: W.gw.wsUrl, domain: PROSODY, label: `c4-${how}` });
      await v.login(PUSERS[5].user, PUSERS[5].password, `c4-${how}`);
      const m0 = W.bb.inbox.length;
      v.send("<presence xmlns='jabber:client'/>");
      v.send(`<presence xmlns='jabber:client' to='${W.bb.jid}'/>`);
      await W.bb.waitFor(new RegExp(`<presence\\b[^>]*from=['"]${escapeRe(v.jid)}['"]`), 'directed presence from the victim', m0);
      const t0 = Date.now();
      if (how === 'reset') {
        v.ws._socket.resetAndDestroy();
      } else {
        v.ws._socket.end(); // FIN, no close frame, no <close/>
      }
      await W.bb.waitFor(unavailableFrom(v.jid), `unavailable presence after the WebSocket ${how}`, m0, 8000);
      const ms = Date.now() - t0;
      const s = prosodySession(v.jid, pmark);
      const end = s.lines.filter((l) => /Received <\/stream:stream>|Client disconnected|closed:/.test(l));
      note(`CLIENT-4 (${how}): unavailable after ${ms} ms; Prosody: ${end.join(' | ')}`);
      // Documented (CONFORMANCE.md WS-CLOSE-3, SM-3): a WebSocket lost without <close/>
      // drops the server link without a closing tag (XEP-0198 resumption keeps working).
      assert.ok(end.some((l) => /^Client disconnected/.test(l)), 'Prosody saw the c2s connection end');
      assert.ok(!end.some((l) => /Received <\/stream:stream>/.test(l)), 'no closing tag upstream (WS-CLOSE-3)');
      v.kill();
      await bystandersWork(`after CLIENT-4 ${how}`);
    }));
  }

  test(`FAULT-TERM-1: SIGTERM under load (Prosody + ejabberd): system-shutdown everywhere, upstream closed cleanly, exit 0 within shutdown_grace (${GRACE_S}s)`, guard(async () => {
    // The bystanders belong to the main gateway: end them first, then a fresh gateway.
    const gw = await W.world.gateway({ server: { shutdown_grace: `${GRACE_S}s` } }, { tag: 'term' });
    const pmark = fileSize(W.world.prosodyLog);
    const ejLog = W.world.ejabberd.logs.find((l) => /ejabberd\.log$/.test(l));
    const emark = fileSize(ejLog);
    const specs = [];
    for (const kind of ['bosh', 'ws']) {
      for (let i = 0; i < 20; i += 1) {
        const ej = i >= 14; // 6 of 20 on ejabberd
        specs.push({
          kind,
          domain: ej ? EJABBERD : PROSODY,
          account: ej ? userOf(EUSERS, i) : userOf(PUSERS.slice(0, 10), i + (kind === 'ws' ? 3 : 0)),
          label: `term-${kind[0]}${i}`,
        });
      }
    }
    const sessions = await loginAll(gw, specs);
    const pairs = [];
    for (let i = 0; i < sessions.length; i += 2) {
      pairs.push([sessions[i], sessions[i + 1]]); // same transport, same server
    }
    const traffic = startTraffic(pairs);
    await sleep(1500);
    const bosh = sessions.filter((c) => c.kind === 'bosh');
    const ws = sessions.filter((c) => c.kind === 'ws');
    // Which requests are held (in flight) at the signal.
    const heldAtSignal = new Map(bosh.map((c) => [c.label, [...c.inflight]]));
    const inFlight = bosh.reduce((n, c) => n + c.inflight.size, 0);
    assert.ok(bosh.every((c) => c.inflight.size >= 1), 'every BOSH session has a request held at the signal');
    const t0 = Date.now();
    process.kill(gw.pid, 'SIGTERM');
    traffic.stop();
    for (const c of bosh) {
      c.queue = [];
    }
    const exit = await until(() => (gw.alive() === true ? null : gw.alive()), 'gateway exit', (GRACE_S + 5) * 1000, 10);
    const exitMs = Date.now() - t0;
    note(`TERM-1: ${bosh.length} BOSH sessions with ${inFlight} requests in flight, ${ws.length} WebSockets; gateway ${exit} ${exitMs} ms after SIGTERM (shutdown_grace ${GRACE_S}s)`);
    await until(() => bosh.every((c) => c.terminated || c.errors.length) && ws.every((c) => c.closeInfo), 'all clients see the end', 3000)
      .catch(() => {});
    const faults = [];
    for (const c of bosh) {
      if (c.terminated !== 'system-shutdown') {
        faults.push(`${c.label}: BOSH ended with ${c.terminated} (last response ${JSON.stringify(c.lastResponse && c.lastResponse.text.slice(0, 160))})`);
      }
      if (c.errors.length) {
        faults.push(`${c.label}: BOSH requests held at the signal ${heldAtSignal.get(c.label)}: transport errors ${c.errors.join('; ')}`);
      }
    }
    for (const c of ws) {
      const i = c.frames.findIndex((f) => /<stream:error\b[\s\S]*<system-shutdown\b/.test(f));
      const j = c.frames.findIndex((f) => /^<close\b/.test(f));
      if (i < 0 || j < i) {
        faults.push(`${c.label}: WebSocket frames at the end: ${c.frames.slice(-2).join(' | ')}`);
      }
      if (!c.closeInfo || c.closeInfo.code !== 1001) {
        faults.push(`${c.label}: WebSocket close ${JSON.stringify(c.closeInfo)}, expected 1001`);
      }
    }
    assert.deepEqual(faults, [], 'every client got the documented shutdown');
    // Upstream: every Prosody c2s stream received </stream:stream>, none was reset.
    const log = serverLog(W.world.prosodyLog, pmark);
    const unclean = [];
    for (const c of sessions.filter((x) => x.spec.domain === PROSODY)) {
      const id = log.sessionOf(c.jid);
      const lines = id ? log.linesOf(id) : [];
      if (!lines.some((l) => /Received <\/stream:stream>/.test(l))) {
        unclean.push(`${c.jid} (${id}): ${lines.filter((l) => /disconnect|closed/i.test(l)).join(' | ') || 'no end logged'}`);
      }
    }
    assert.deepEqual(unclean, [], 'Prosody received </stream:stream> on every c2s stream');
    const ejText = fs.readFileSync(ejLog).subarray(emark).toString('utf8');
    const ejEnds = ejText.split('\n').filter((l) => /Closing c2s session/.test(l));
    note(`TERM-1: ejabberd: ${ejEnds.length} c2s session ends logged, e.g. ${ejEnds.slice(0, 1).join('')}`);
    const ejSessions = sessions.filter((x) => x.spec.domain === EJABBERD).length;
    assert.equal(ejEnds.length, ejSessions, 'ejabberd logged every c2s session end');
    // p1_xmpp xmpp_stream_in: </stream:stream> from the peer (xmlstreamend) ends the session
    // with {stream, reset}, logged "Stream reset by peer"; a TCP close without it is
    // {socket, closed}, "Connection failed: ...".
    const ejUnclean = ejEnds.filter((l) => !/: Stream reset by peer$/.test(l));
    assert.deepEqual(ejUnclean, [], 'ejabberd: every c2s stream ended by </stream:stream> from the gateway');
    assert.equal(exit, 'exit code 0 signal null', 'exit status 0');
    assert.ok(exitMs <= GRACE_S * 1000 + 1000, `exit after ${exitMs} ms > shutdown_grace + 1 s`);
    for (const c of bosh) {
      c.close();
    }
  }));
});
