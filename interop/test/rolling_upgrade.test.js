'use strict';
// Rolling upgrade without dropping a session (issue 11, part 2): three boshgate instances
// (gw1..gw3) behind a real HAProxy 2.6 running the shipped conf/haproxy/haproxy.cfg, one
// Prosody, 100 strophe.js sessions (50 BOSH, 50 WebSocket, in BOSH<->WebSocket pairs) each
// sending a numbered message to its partner every 500 ms. Under that traffic every instance
// is replaced in turn: its replacement starts in the spare slot (gw1 -> gw4, gw2 -> gw5,
// gw3 -> gw6) and HAProxy sees it UP, then the old one is told to drain (SIGUSR2 for gw1 and
// gw3, the admin POST /drain for gw2) and HAProxy sees it DOWN. 20 more sessions log in
// during the upgrade. Then the first 100 end as users end them (logout, after their last
// messages arrived): each old instance exits by itself, status 0, once its last session has
// ended, while the 20 late sessions chat on through the new instances.
//
// Must hold: no session ended by anyone but its client (no DISCONNECTED/CONNFAIL/terminate
// condition before its logout), no login refused, every numbered message delivered exactly
// once and in order, no new session on a draining instance, every old instance exits 0 with
// "drained" in its log. Figures (sessions kept, messages, drain times) go to the diagnostics.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');

const { makeWorkDir, worldTeardown, freePorts } = require('../lib/util');
const { mode } = require('../lib/world');
const { startBoshgate } = require('../lib/boshgate');
const { startHaproxy } = require('../lib/haproxy');
const { chatServer, settle, loginAll, chatAccounts, logoutAll, droppedSessions, abandonAll } = require('../lib/chatters');
const { counters } = require('./helpers');

const skipReason = mode() === 'boshgate' ? false : 'needs BOSHGATE_BIN (a gateway-only feature)';

const DOMAIN = 'prosody.test';
const SESSIONS = 100;       // the sessions open when the upgrade starts
const LATE = 20;            // sessions that log in during the upgrade
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test(`rolling upgrade of three instances behind HAProxy under ${SESSIONS} chatting sessions: none dropped, no message lost, old instances exit when their sessions end`, { skip: skipReason, timeout: 300000 }, async (t) => {
  const world = { dir: makeWorkDir('boshgate-interop-rolling'), stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop-rolling', 40);
  let failed = true;
  const chatters = [];
  try {
    const accounts = chatAccounts(SESSIONS + LATE, DOMAIN);
    const { certs, prosody } = await chatServer(world, DOMAIN, accounts);

    const startGateway = async (id, ports = {}) => {
      const dir = path.join(world.dir, id);
      fs.mkdirSync(dir);
      const gw = await startBoshgate({
        bin: process.env.BOSHGATE_BIN, dir, caFile: certs.caFile, logLevel: 'info', ...ports,
        domains: [{ name: DOMAIN, address: `127.0.0.1:${prosody.c2sPort}` }],
        // Generous: here every old instance must empty before its deadline.
        settings: { server: { instance_id: id, drain_timeout: '120s' } },
      });
      gw.id = id;
      world.stops.push(gw.stop);
      world.logs.push(...gw.logs);
      return gw;
    };
    const old = [];
    for (const id of ['gw1', 'gw2', 'gw3']) {
      old.push(await startGateway(id));
    }
    const [port] = await freePorts(1);
    const lb = await startHaproxy({ dir: world.dir, port, servers: old });
    world.stops.push(lb.stop);
    world.logs.push(...lb.logs);
    // The spare slots are empty until the upgrade: HAProxy must have seen that first.
    await Promise.all(['gw4', 'gw5', 'gw6'].map((n) => lb.waitServer(n, 'DOWN')));

    const early = await loginAll(lb.url, lb.wsUrl, 0, SESSIONS, accounts);
    chatters.push(...early);
    const spread = await Promise.all(old.map(counters));
    t.diagnostic(`${SESSIONS} sessions logged in through HAProxy: ${old.map((g, i) => `${g.id} ${spread[i].bosh_sessions_created} BOSH + ${spread[i].ws_upgrades} WebSocket`).join(', ')}`);
    for (const c of early) {
      c.start();
    }
    await sleep(3000);

    // The upgrade: one instance at a time, replacement first, then drain the old one.
    const fresh = [];
    const late = [];
    const upgradeStart = Date.now();
    for (let i = 0; i < 3; i++) {
      const slot = lb.slots[i + 3];
      let mark = lb.logMark();
      const next = await startGateway(slot.name, { port: slot.port, adminPort: slot.adminPort });
      fresh.push(next);
      await lb.waitServer(slot.name, 'UP', mark);
      const gw = old[i];
      const before = await counters(gw);
      gw.drainCounters = before;
      mark = lb.logMark();
      if (i === 1) {
        const res = await fetch(`${gw.adminUrl}/drain`, { method: 'POST' });
        const text = await res.text();
        assert.equal(res.status, 202, `POST /drain: ${text}`);
        assert.match(text, /^draining: \d+ BOSH and \d+ WebSocket sessions open/);
        t.diagnostic(`${gw.id}: POST /drain -> ${text.trim()}`);
      } else {
        process.kill(gw.pid, 'SIGUSR2');
        t.diagnostic(`${gw.id}: SIGUSR2`);
      }
      // Logins right after the drain order, before HAProxy has seen it: any that reaches
      // the draining instance is answered 503 and retried elsewhere.
      const batch = await loginAll(lb.url, lb.wsUrl, SESSIONS + late.length, LATE / 5, accounts, 2);
      late.push(...batch);
      await lb.waitServer(gw.id, 'DOWN', mark);
      const batch2 = await loginAll(lb.url, lb.wsUrl, SESSIONS + late.length, i === 2 ? LATE - late.length : 2, accounts, 2);
      late.push(...batch2);
      for (const c of [...batch, ...batch2]) {
        assert.ok(!['gw1', 'gw2', 'gw3'].slice(0, i + 1).includes(c.owner), `${c.name} (sid ${c.sid}) was created on a draining instance`);
      }
      const now = await counters(gw);
      assert.equal(now.bosh_sessions_created, before.bosh_sessions_created, `${gw.id} created a BOSH session while draining`);
      assert.equal(now.ws_upgrades, before.ws_upgrades, `${gw.id} upgraded a WebSocket while draining`);
      t.diagnostic(`${gw.id} -> ${slot.name}: replacement UP, old one draining and DOWN in HAProxy; ${now.drain_refused_sessions} creations it answered 503 (retried elsewhere)`);
    }
    chatters.push(...late);
    for (const c of late) {
      c.start();
    }
    t.diagnostic(`upgrade orders given in ${((Date.now() - upgradeStart) / 1000).toFixed(1)} s; ${late.length} sessions logged in meanwhile`);
    await sleep(3000);
    for (const gw of old) {
      assert.equal(gw.alive(), true, `${gw.id} exited while its sessions were open`);
    }
    const droppedMid = droppedSessions(chatters);
    assert.deepEqual(droppedMid, [], 'sessions ended during the upgrade');

    // The first sessions end the way users end them; each old instance then exits by itself.
    const endStart = Date.now();
    const exits = old.map((gw) => gw.exit().then((info) => ({ gw, info, at: Date.now() })));
    const earlyProblems = await settle(early);
    assert.deepEqual(earlyProblems, [], 'numbered messages of the first sessions');
    await logoutAll(early);
    const exited = await Promise.race([
      Promise.all(exits),
      sleep(30000).then(() => null),
    ]);
    assert.ok(exited, `old instances still running 30 s after their last session ended: ${old.filter((g) => g.alive() === true).map((g) => g.id)}`);
    for (const { gw, info, at } of exited) {
      assert.equal(info, 'exit code 0 signal null', `${gw.id} exit`);
      const log = fs.readFileSync(gw.logFile, 'utf8');
      const m = /drained in ([0-9.]+) s: no session left; exiting/.exec(log);
      assert.ok(m, `${gw.id} log says it drained`);
      assert.doesNotMatch(log, /drain_timeout reached/, `${gw.id} reached its drain deadline`);
      t.diagnostic(`${gw.id}: drained in ${m[1]} s, exited 0, ${((at - endStart) / 1000).toFixed(1)} s after the first sessions began to log out`);
    }

    // The late sessions chat on through the new instances, then end.
    await sleep(2000);
    const lateProblems = await settle(late);
    assert.deepEqual(lateProblems, [], 'numbered messages of the late sessions');
    const dropped = droppedSessions(chatters);
    assert.deepEqual(dropped, [], 'sessions ended by something other than their client');
    const sent = chatters.reduce((n, c) => n + c.sent, 0);
    const delivered = chatters.reduce((n, c) => n + c.got.length, 0);
    t.diagnostic(`sessions kept: ${chatters.length - dropped.length} of ${chatters.length}; messages: ${sent} sent, ${delivered} delivered, lost 0, duplicated 0, out of order 0`);
    const after = await Promise.all(fresh.map(counters));
    t.diagnostic(`new instances: ${fresh.map((g, i) => `${g.id} ${after[i].bosh_sessions_created} BOSH + ${after[i].ws_upgrades} WebSocket`).join(', ')}`);
    await logoutAll(late);
    failed = false;
  } finally {
    abandonAll(chatters);
    await world.teardown(failed);
  }
});
