'use strict';
// In-place restart without dropping a session (issue 11, part 3): one boshgate, no load
// balancer, in front of one Prosody; 100 strophe.js sessions (50 BOSH, 50 WebSocket, in
// BOSH<->WebSocket pairs) each send a numbered message to the partner every 500 ms, and a
// prober opens a new TCP connection to the public port every few milliseconds (GET /healthz).
// Under that traffic the gateway gets SIGUSR1: the binary on disk starts with the listening
// sockets (public and admin), and once it accepts the old process stops accepting and keeps
// its sessions; their BOSH requests that reach the new process on new connections are handed
// back over the local hop. 20 more sessions log in (on the new process). Then the first 100
// log out and the old process exits 0 by itself while the 20 chat on through the new one.
//
// Must hold: zero refused or failed probe connections, zero sessions dropped, every numbered
// message delivered exactly once and in order, new sessions on the new process, the old one
// exits 0 once its sessions have ended. Figures (restart time, probes, hops) in the diagnostics.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');

const { makeWorkDir, worldTeardown, waitForLogLine } = require('../lib/util');
const { mode } = require('../lib/world');
const { startBoshgate } = require('../lib/boshgate');
const { chatServer, settle, loginAll, chatAccounts, sleep, logoutAll, droppedSessions, abandonAll } = require('../lib/chatters');
const { counters } = require('./helpers');

const skipReason = mode() === 'boshgate' ? false : 'needs BOSHGATE_BIN (a gateway-only feature)';

const DOMAIN = 'prosody.test';
const SESSIONS = 100;
const LATE = 20;

/** One GET /healthz on a new connection: resolves true on a 200, false otherwise. */
function probeOnce(port) {
  return new Promise((resolve) => {
    let data = '';
    const sock = net.connect({ port, host: '127.0.0.1' });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(5000, () => done(false));
    sock.on('connect', () => sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    sock.on('data', (d) => {
      data += d;
    });
    sock.on('error', () => done(false));
    sock.on('end', () => done(/^HTTP\/1\.1 200 /.test(data) && data.endsWith('ok\n')));
  });
}

/** New connections, one after another, until stopped: { count, failed }. */
function startProber(port) {
  const p = { count: 0, failed: 0, running: true };
  p.done = (async () => {
    while (p.running) {
      const ok = await probeOnce(port);
      p.count += 1;
      if (!ok) {
        p.failed += 1;
      }
      await sleep(2);
    }
  })();
  return p;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (_) {
    return false;
  }
}

test(`in-place restart (SIGUSR1) under ${SESSIONS} chatting sessions and a stream of new connections: none refused, none dropped, no message lost`, { skip: skipReason, timeout: 300000 }, async (t) => {
  const world = { dir: makeWorkDir('boshgate-interop-inplace'), stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop-inplace', 40);
  let failed = true;
  const chatters = [];
  let prober = null;
  let successor = null;
  try {
    const accounts = chatAccounts(SESSIONS + LATE, DOMAIN);
    const { certs, prosody } = await chatServer(world, DOMAIN, accounts);
    const dir = path.join(world.dir, 'gw');
    fs.mkdirSync(dir);
    const gw = await startBoshgate({
      bin: process.env.BOSHGATE_BIN, dir, caFile: certs.caFile, logLevel: 'info',
      domains: [{ name: DOMAIN, address: `127.0.0.1:${prosody.c2sPort}` }],
      settings: { server: { drain_timeout: '120s' } },
    });
    world.stops.push(gw.stop);
    world.stops.push(async () => {
      if (successor && pidAlive(successor)) {
        process.kill(successor, 'SIGTERM');
        for (let i = 0; i < 100 && pidAlive(successor); i++) {
          await sleep(50);
        }
        if (pidAlive(successor)) {
          process.kill(successor, 'SIGKILL');
        }
      }
    });
    world.logs.push(...gw.logs);

    const early = await loginAll(gw.url, gw.wsUrl, 0, SESSIONS, accounts);
    chatters.push(...early);
    for (const c of early) {
      c.start();
    }
    prober = startProber(gw.port);
    await sleep(3000);

    const mark = gw.logMark();
    const signalled = Date.now();
    process.kill(gw.pid, 'SIGUSR1');
    const m = await waitForLogLine(gw.logFile, /in-place restart: pid (\d+) accepts on the listening sockets \((\d+) ms after the signal\)/, 30000, gw.alive, mark);
    successor = Number(m[1]);
    assert.notEqual(successor, gw.pid);
    assert.ok(pidAlive(successor), 'the new process runs');
    assert.equal(gw.alive(), true, 'the old process keeps running while its sessions are open');
    t.diagnostic(`SIGUSR1: new process ${successor} accepts ${m[2]} ms after the signal (${Date.now() - signalled} ms seen from here); old process ${gw.pid} keeps its sessions`);

    // New sessions go to the new process (the admin port was handed over too).
    const late = await loginAll(gw.url, gw.wsUrl, SESSIONS, LATE, accounts, 4);
    chatters.push(...late);
    for (const c of late) {
      c.start();
    }
    const fresh = await counters(gw);
    assert.equal(fresh.bosh_sessions_created, LATE / 2, 'the late BOSH sessions were created by the new process');
    assert.equal(fresh.ws_upgrades, LATE / 2, 'the late WebSockets were upgraded by the new process');
    // A sid neither process knows (an ended session's) is answered item-not-found at once:
    // handed to the old process once, never passed back and forth.
    const unknown = await fetch(gw.url, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      body: `<body xmlns='http://jabber.org/protocol/httpbind' rid='42' sid='${'0'.repeat(40)}'/>`,
      signal: AbortSignal.timeout(10000),
    });
    const unknownText = await unknown.text();
    assert.equal(unknown.status, 200);
    assert.match(unknownText, /type='terminate'[^>]*condition='item-not-found'|condition='item-not-found'[^>]*type='terminate'/);
    await sleep(4000);
    const dropped = droppedSessions(chatters);
    assert.deepEqual(dropped, [], 'sessions ended by the restart');

    // The first sessions end as users end them; the old process then exits by itself.
    const oldExit = gw.exit();
    const earlyProblems = await settle(early);
    assert.deepEqual(earlyProblems, [], 'numbered messages of the first sessions');
    await logoutAll(early);
    const exited = await Promise.race([oldExit, sleep(30000).then(() => null)]);
    assert.equal(exited, 'exit code 0 signal null', 'the old process exits 0 once its sessions have ended');
    const drained = /drained in ([0-9.]+) s: no session left; exiting/.exec(fs.readFileSync(gw.logFile, 'utf8'));
    assert.ok(drained, 'the old process says it drained');
    assert.ok(pidAlive(successor), 'the new process carries on');

    await sleep(2000);
    prober.running = false;
    await prober.done;
    const lateProblems = await settle(late);
    assert.deepEqual(lateProblems, [], 'numbered messages of the late sessions');
    const droppedAll = droppedSessions(chatters);
    assert.deepEqual(droppedAll, [], 'sessions ended by something other than their client');
    assert.equal(prober.failed, 0, `${prober.failed} of ${prober.count} new connections refused or failed`);
    const after = await counters(gw);
    assert.ok(after.hop_forwarded_requests > 0, 'BOSH requests of the old sessions reached the new process and were handed back');
    const sent = chatters.reduce((n, c) => n + c.sent, 0);
    const delivered = chatters.reduce((n, c) => n + c.got.length, 0);
    t.diagnostic(`old process drained in ${drained[1]} s and exited 0; ${after.hop_forwarded_requests} BOSH requests handed back to it over the hop`);
    t.diagnostic(`sessions kept: ${chatters.length - droppedAll.length} of ${chatters.length}; messages: ${sent} sent, ${delivered} delivered, lost 0, duplicated 0, out of order 0; new connections: ${prober.count} probes, ${prober.failed} refused or failed`);
    await logoutAll(late);
    failed = false;
  } finally {
    if (prober) {
      prober.running = false;
      await prober.done;
    }
    abandonAll(chatters);
    await world.teardown(failed);
  }
});
