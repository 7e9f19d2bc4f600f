'use strict';
// Many instances, one service (issue 11, part 1): three boshgate instances (instance_id gw1,
// gw2, gw3) behind a real HAProxy 2.6 running the shipped conf/haproxy/haproxy.cfg, in front of
// one Prosody. alice, bob and carol each log in over BOSH and over WebSocket (strophe.js)
// through HAProxy's single address: new sessions are spread (leastconn), every BOSH sid
// names its instance, and every later request of a BOSH session reaches that instance (a
// request that reached another one would be answered item-not-found). All six chat with each
// other across instances. Then the instance owning alice's BOSH session is killed (SIGKILL):
// its sessions end (BOSH: item-not-found from a surviving instance, after HAProxy
// redispatched the request; WebSocket: the connection closes), and the sessions on the other
// instances chat on.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');

const { makeWorkDir, worldTeardown, freePorts } = require('../lib/util');
const { mode, USERS } = require('../lib/world');
const { makeCerts } = require('../lib/certs');
const { startProsody } = require('../lib/prosody');
const { startBoshgate } = require('../lib/boshgate');
const { startHaproxy } = require('../lib/haproxy');
const { BoshClient } = require('../lib/bosh_client');
const { StropheWsClient } = require('../lib/ws_strophe_client');
const { localName } = require('../lib/strophe_base');
const { token, counters } = require('./helpers');

const skipReason = mode() === 'boshgate' ? false : 'needs BOSHGATE_BIN (a gateway-only feature)';

/** Every session sends one message to every other session (full JIDs); all must arrive. */
async function everyoneChats(sessions, tag) {
  const marks = new Map(sessions.map((s) => [s, s.client.inbound.length]));
  const sent = [];
  for (const from of sessions) {
    for (const to of sessions) {
      if (from !== to) {
        const body = `${tag} ${from.name}->${to.name} ${token()}`;
        from.client.sendMessage(to.jid, body);
        sent.push({ from, to, body });
      }
    }
  }
  for (const { from, to, body } of sent) {
    await to.client.waitMessage(from.jid.split('/')[0], body, marks.get(to));
  }
  return sent.length;
}

test('three instances behind HAProxy: spread, routed by sid, chat across instances; one killed ends only its own sessions', { skip: skipReason, timeout: 120000 }, async (t) => {
  const domain = 'prosody.test';
  const world = { dir: makeWorkDir('boshgate-interop-scaleout'), stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop-scaleout', 40);
  let failed = true;
  const sessions = [];
  try {
    const certs = makeCerts(path.join(world.dir, 'certs'), [domain]);
    const prosodyDir = path.join(world.dir, 'prosody');
    fs.mkdirSync(prosodyDir);
    const prosody = await startProsody({ dir: prosodyDir, domain, cert: certs.domains[domain], users: USERS, logLevel: 'info' });
    world.stops.push(prosody.stop);
    world.logs.push(...prosody.logs);
    const gws = [];
    for (const id of ['gw1', 'gw2', 'gw3']) {
      const dir = path.join(world.dir, id);
      fs.mkdirSync(dir);
      const gw = await startBoshgate({
        bin: process.env.BOSHGATE_BIN, dir, caFile: certs.caFile, logLevel: 'info',
        domains: [{ name: domain, address: `127.0.0.1:${prosody.c2sPort}` }],
        settings: { server: { instance_id: id } },
      });
      gw.id = id;
      world.stops.push(gw.stop);
      world.logs.push(...gw.logs);
      gws.push(gw);
    }
    const [port] = await freePorts(1);
    const lb = await startHaproxy({ dir: world.dir, port, servers: gws });
    world.stops.push(lb.stop);
    world.logs.push(...lb.logs);
    // Only three of the file's six slots run here: HAProxy must have seen the others down.
    await Promise.all(['gw4', 'gw5', 'gw6'].map((n) => lb.waitServer(n, 'DOWN')));

    const pass = (u) => USERS.find((x) => x.user === u).password;
    for (const user of ['alice', 'bob', 'carol']) {
      for (const transport of ['bosh', 'ws']) {
        const opts = { jid: `${user}@${domain}`, password: pass(user), label: `${user}/${transport}` };
        const client = transport === 'bosh' ? new BoshClient({ url: lb.url, ...opts }) : new StropheWsClient({ url: lb.wsUrl, ...opts });
        const jid = await client.connect();
        client.sendPresence();
        sessions.push({ name: `${user}/${transport}`, transport, client, jid });
      }
    }
    // BOSH-SID: every sid names its instance and keeps 160 random bits.
    for (const s of sessions.filter((x) => x.transport === 'bosh')) {
      const sid = s.client.conn._proto.sid;
      const m = /^(gw[123])\.([0-9a-f]{40})$/.exec(sid);
      assert.ok(m, `${s.name}: sid ${sid} is "<instance_id>.<40 hex digits>"`);
      s.owner = m[1];
    }
    const before = await Promise.all(gws.map(counters));
    const spread = gws.map((gw, i) => `${gw.id}: ${before[i].bosh_sessions_created} BOSH, ${before[i].ws_upgrades} WebSocket`);
    t.diagnostic(`sessions per instance (leastconn): ${spread.join('; ')}`);
    assert.equal(before.reduce((n, c) => n + c.bosh_sessions_created, 0), 3, 'three BOSH sessions in all');
    assert.equal(before.reduce((n, c) => n + c.ws_upgrades, 0), 3, 'three WebSockets in all');
    assert.ok(before.filter((c) => c.bosh_sessions_created + c.ws_upgrades > 0).length >= 2,
      `new sessions are spread over the instances: ${spread.join('; ')}`);

    const n = await everyoneChats(sessions, 'all six');
    t.diagnostic(`${n} messages across the instances, all delivered`);
    const after = await Promise.all(gws.map(counters));
    assert.equal(after.reduce((s, c) => s + c.bosh_unknown_sid, 0), 0, 'no BOSH request reached an instance that does not own its sid');

    // Kill the instance that owns alice's BOSH session.
    const victimId = sessions[0].owner;
    const victim = gws.find((g) => g.id === victimId);
    const wsCountsBefore = after.map((c) => c.ws_upgrades);
    process.kill(victim.pid, 'SIGKILL');
    t.diagnostic(`${victimId} killed (SIGKILL)`);
    const doomedBosh = sessions.filter((s) => s.transport === 'bosh' && s.owner === victimId);
    for (const s of doomedBosh) {
      // The next request of the session reaches a surviving instance (redispatch): item-not-found.
      await s.client.waitUntil(`${s.name}: terminate item-not-found`, () => s.client.bodiesIn.find((b) => b.getAttribute('type') === 'terminate'
        && b.getAttribute('condition') === 'item-not-found'), 30000);
      s.ended = true;
    }
    // WebSocket sessions: the ones whose TCP connection went to the victim close; find them
    // by who gets disconnected, and require that exactly the victim's count did.
    const victimWs = wsCountsBefore[gws.indexOf(victim)];
    const wsSessions = sessions.filter((s) => s.transport === 'ws');
    await new Promise((r) => setTimeout(r, 3000));
    const closedWs = wsSessions.filter((s) => s.client.statuses.some(([st]) => st === 'DISCONNECTED' || st === 'CONNFAIL'));
    assert.equal(closedWs.length, victimWs, `the WebSockets that ended (${closedWs.map((s) => s.name)}) are the ${victimWs} the killed instance held`);
    for (const s of closedWs) {
      s.ended = true;
    }
    const alive = sessions.filter((s) => !s.ended);
    t.diagnostic(`ended: ${sessions.filter((s) => s.ended).map((s) => s.name).join(', ')}; alive: ${alive.map((s) => s.name).join(', ')}`);
    assert.ok(alive.length >= 2, 'sessions on the other instances remain');
    for (const s of alive) {
      assert.ok(!s.client.statuses.some(([st]) => st === 'DISCONNECTED' || st === 'CONNFAIL'), `${s.name} is still connected`);
    }
    const m = await everyoneChats(alive, 'survivors');
    t.diagnostic(`${m} messages among the surviving sessions, all delivered`);

    // A drain that HAProxy has not noticed yet: a fresh instance in slot gw4 (no connections,
    // so leastconn's first pick) is told to drain, and at once session creations arrive. The
    // ones it gets are answered 503 and HAProxy retries them on another instance: every
    // creation succeeds elsewhere. Then gw4, which never held a session, exits by itself.
    const slot = lb.slots[3];
    const dir = path.join(world.dir, slot.name);
    fs.mkdirSync(dir);
    let mark = lb.logMark();
    const spare = await startBoshgate({
      bin: process.env.BOSHGATE_BIN, dir, caFile: certs.caFile, logLevel: 'info', port: slot.port, adminPort: slot.adminPort,
      domains: [{ name: domain, address: `127.0.0.1:${prosody.c2sPort}` }],
      settings: { server: { instance_id: slot.name } },
    });
    world.stops.push(spare.stop);
    world.logs.push(...spare.logs);
    await lb.waitServer(slot.name, 'UP', mark);
    const drained = await fetch(`${spare.adminUrl}/drain`, { method: 'POST' });
    assert.equal(drained.status, 202);
    const created = await Promise.all([1, 2, 3, 4].map(async (i) => {
      const rid = 1000 + i;
      const res = await fetch(lb.url, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        body: `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='${rid}' to='${domain}' wait='10' hold='1' ver='1.11' xmpp:version='1.0'/>`,
      });
      const text = await res.text();
      return { status: res.status, sid: (/ sid='([^']+)'/.exec(text) || [])[1], rid, text };
    }));
    for (const c of created) {
      assert.equal(c.status, 200, `a creation during the drain failed: ${c.status} ${c.text}`);
      assert.ok(c.sid && !c.sid.startsWith(`${slot.name}.`), `created on another instance (sid ${c.sid})`);
    }
    const refusedBySpare = (await counters(spare)).drain_refused_sessions;
    assert.ok(refusedBySpare >= 1, 'the draining instance was offered a creation (leastconn) and answered 503');
    t.diagnostic(`drain before HAProxy noticed: ${refusedBySpare} creation attempts answered 503 by ${slot.name}, all ${created.length} creations retried onto ${[...new Set(created.map((c) => c.sid.split('.')[0]))].join(', ')}`);
    for (const c of created) {
      await fetch(lb.url, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml; charset=utf-8' },
        body: `<body xmlns='http://jabber.org/protocol/httpbind' rid='${c.rid + 1}' sid='${c.sid}' type='terminate'/>`,
      });
    }
    assert.equal(await spare.exit(), 'exit code 0 signal null', `${slot.name}, drained with no session, exits by itself`);
    failed = false;
  } finally {
    for (const s of sessions) {
      try {
        if (typeof s.client.abandon === 'function') {
          s.client.abandon();
        } else if (s.client.conn) {
          s.client.conn.reset();
        }
      } catch (_) {
        // already gone
      }
    }
    await world.teardown(failed);
  }
});
