'use strict';
// The interop scenarios, defined once and run per server (see *.test.js):
// BOSH here, WebSocket in ws_scenarios.js (same server, gateway and TCP user).
// Requirement IDs from shared/spec/checklist.md are cited where exercised.

const { nameSuffix } = require('../lib/containers');
const assert = require('node:assert/strict');
const http = require('node:http');
const { describe, before, after, test } = require('node:test');

const { startWorld } = require('../lib/world');
const { BoshClient, Strophe, localName, children, NS_SM } = require('../lib/bosh_client');
const { TcpClient, provisionContacts, bare } = require('../lib/tcp_client');
const { withTimeout, WAIT_MS } = require('../lib/util');
const { defineWsScenarios } = require('./ws_scenarios');
const { defineStanzaScenarios } = require('./stanzajs_scenarios');
const { token, exchangeMessages, assertContacts } = require('./helpers');

/** Raw BOSH POST (used to probe a terminated sid); resolves { status, body }. */
function rawPost(url, body) {
  return withTimeout(`POST ${url}`, WAIT_MS, (resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'text/xml; charset=utf-8' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function defineSuite({ kind, upstream }) {
  describe(`${kind} (${upstream} upstream)${nameSuffix()}`, () => {
    let world;
    let carol;
    let failed = false;
    const bosh = [];
    const ws = []; // WebSocket and StanzaJS clients, for teardown
    const jidOf = (user) => `${user}@${world.domain}`;
    const passOf = (user) => world.users.find((u) => u.user === user).password;

    /** A BOSH client for `user`, tracked for teardown. */
    const boshClient = (user, mechanism) => {
      const c = new BoshClient({ url: world.url, jid: jidOf(user), password: passOf(user), mechanism, label: `${user}/bosh` });
      bosh.push(c);
      return c;
    };
    /** Runs a scenario body; marks the run failed (keeps logs) if it throws. */
    const scenario = (name, fn) => test(name, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        failed = true;
        throw e;
      }
    });

    before(async () => {
      failed = true; // until set-up completes
      world = await startWorld({ kind, upstream });
      // Provision rosters in-band over TCP: alice, bob and carol all mutually subscribed.
      await provisionContacts(world, world.users);
      // carol stays online over plain XMPP/TCP (STARTTLS, test CA) for every scenario.
      carol = new TcpClient({
        service: world.tcpService, domain: world.domain, username: 'carol', password: passOf('carol'),
        resource: 'tcp', caFile: world.caFile, label: 'carol/tcp',
      });
      await carol.start();
      await carol.sendPresence();
      failed = false;
    });

    after(async () => {
      for (const c of bosh) {
        c.abandon();
      }
      for (const c of ws) {
        c.abandon();
      }
      if (carol) {
        await carol.stop();
      }
      if (world) {
        await world.teardown(failed);
      }
    });

    // XBOSH-10, XBOSH-3, XBOSH-5, XBOSH-6, BOSH-REQ-1, BOSH-SEC-1, C2S-DNS-1/C2S-DNS-4, C2S-TLS-4, C2S-TLS-5
    scenario('SASL PLAIN and SCRAM-SHA-1 logins over BOSH, bind, roster', async () => {
      const alice = boshClient('alice', 'PLAIN');
      const bob = boshClient('bob', 'SCRAM-SHA-1');
      await Promise.all([alice.connect(), bob.connect()]);
      assert.equal(alice.authMechanismSent(), 'PLAIN');
      assert.equal(bob.authMechanismSent(), 'SCRAM-SHA-1');
      assert.equal(bare(alice.fullJid), jidOf('alice'));
      assert.match(alice.fullJid, /\/.+$/, 'bound a resource');
      assert.equal(bare(bob.fullJid), jidOf('bob'));
      assert.match(bob.fullJid, /\/.+$/, 'bound a resource');
      // The SASL result came from the real server.
      assert.ok(alice.inbound.some((el) => localName(el) === 'success'), 'alice saw <success/>');
      assert.ok(bob.inbound.some((el) => localName(el) === 'success'), 'bob saw <success/>');
      await assertContacts(alice, 'alice', jidOf);
      await assertContacts(bob, 'bob', jidOf);
      await Promise.all([alice.disconnect(), bob.disconnect()]);
    });

    // XBOSH-1, BOSH-PAY (stanza relay both ways)
    scenario('messages both ways between BOSH users and with the TCP user', async () => {
      const alice = boshClient('alice', 'PLAIN');
      const bob = boshClient('bob', 'SCRAM-SHA-1');
      await Promise.all([alice.connect(), bob.connect()]);
      const carolMark = carol.inbound.length;
      alice.sendPresence();
      bob.sendPresence();
      // Presence reached the TCP user, and the TCP user's presence reached BOSH.
      await carol.waitInbound('alice available', (el) => el.is('presence') && el.attrs.from === alice.fullJid && !el.attrs.type, carolMark);
      await carol.waitInbound('bob available', (el) => el.is('presence') && el.attrs.from === bob.fullJid && !el.attrs.type, carolMark);
      await alice.waitInbound('carol available', (el) => localName(el) === 'presence' && bare(el.getAttribute('from')) === jidOf('carol') && !el.getAttribute('type'));

      await exchangeMessages({
        clients: { alice, bob, carol },
        sent: [
          ['alice', 'bob'], ['bob', 'alice'],
          ['alice', 'carol'], ['carol', 'alice'],
          ['bob', 'carol'], ['carol', 'bob'],
        ],
        jidOf,
      });
      await Promise.all([alice.disconnect(), bob.disconnect()]);
    });

    // BOSH-RID-1, BOSH-RTX (re-attach with the next rid after a page reload)
    scenario('page reload: attach(jid, sid, rid+1) keeps the session', async () => {
      const alice = boshClient('alice', 'SCRAM-SHA-1');
      await alice.connect();
      alice.sendPresence();
      await carol.waitInbound('alice available', (el) => el.is('presence') && el.attrs.from === alice.fullJid && !el.attrs.type);
      const before1 = `before reload ${token()}`;
      let mark = alice.inbound.length;
      carol.sendMessage(alice.fullJid, before1);
      await alice.waitMessage(jidOf('carol'), before1, mark);

      const outMark = alice.bodiesOut.length;
      const state = await alice.reload();
      assert.equal(typeof state.sid, 'string');
      // The reloaded page continued the same session with the next rid.
      const firstBody = await alice.waitUntil('first request after attach', () => alice.bodiesOut[outMark]);
      assert.equal(firstBody.getAttribute('sid'), state.sid);
      assert.equal(Number(firstBody.getAttribute('rid')), state.rid);

      const after1 = `after reload ${token()}`;
      mark = alice.inbound.length;
      carol.sendMessage(alice.fullJid, after1);
      await alice.waitMessage(jidOf('carol'), after1, mark);
      const back = `reply after reload ${token()}`;
      const carolMark = carol.inbound.length;
      alice.sendMessage(jidOf('carol'), back);
      await carol.waitMessage(jidOf('alice'), back, carolMark);
      await alice.disconnect();
    });

    // SM-1, SM-6, XBOSH-1 (SM nonzas as BOSH payloads)
    scenario('XEP-0198: enable, then <r/> is answered with the exact h', async (t) => {
      const alice = boshClient('alice', 'SCRAM-SHA-1');
      await alice.connect();
      const features = alice.inbound.filter((el) => localName(el) === 'features');
      const smOffered = features.length > 0
        && children(features[features.length - 1]).some((el) => localName(el) === 'sm' && el.namespaceURI === NS_SM);
      if (world.mode === 'direct' && !smOffered) {
        // Development aid only: the servers' own BOSH endpoints do not offer SM.
        t.skip(`${kind}'s own BOSH endpoint does not offer XEP-0198`);
        await alice.disconnect();
        return;
      }
      assert.ok(smOffered, 'post-bind features advertise urn:xmpp:sm:3');
      const enabled = await alice.enableSm();
      assert.equal(localName(enabled), 'enabled');
      // Exactly three stanzas after <enable/>: two messages and one roster get.
      const carolMark = carol.inbound.length;
      const b1 = `sm one ${token()}`;
      const b2 = `sm two ${token()}`;
      alice.sendMessage(jidOf('carol'), b1);
      alice.sendMessage(jidOf('carol'), b2);
      await alice.roster();
      await carol.waitMessage(jidOf('alice'), b1, carolMark);
      await carol.waitMessage(jidOf('alice'), b2, carolMark);
      assert.equal(alice.stanzasSentSince(alice.smOutMark), 3);
      const h = await alice.requestAck();
      assert.equal(h, 3);
      // And once more after one further stanza.
      alice.sendMessage(jidOf('carol'), `sm three ${token()}`);
      assert.equal(await alice.requestAck(), 4);
      await alice.disconnect();
    });

    // BOSH-TERM-1, BOSH-TERM-3, BOSH-TERM-4, SM-3 (clean close)
    scenario('clean terminate: the TCP contact sees unavailable presence', async () => {
      const alice = boshClient('alice', 'PLAIN');
      await alice.connect();
      const carolMark = carol.inbound.length;
      alice.sendPresence();
      await carol.waitInbound('alice available', (el) => el.is('presence') && el.attrs.from === alice.fullJid && !el.attrs.type, carolMark);
      const { sid, rid } = alice.sessionState();
      await alice.disconnect();
      const gone = await carol.waitInbound('alice unavailable', (el) => el.is('presence') && el.attrs.from === alice.fullJid
        && el.attrs.type === 'unavailable', carolMark);
      assert.equal(gone.attrs.type, 'unavailable');
      assert.equal(gone.attrs.from, alice.fullJid);
      // The terminated session is gone for good (BOSH-TERM-4).
      const res = await rawPost(world.url, `<body xmlns='http://jabber.org/protocol/httpbind' sid='${sid}' rid='${rid + 1}'/>`);
      if (world.mode === 'boshgate') {
        assert.equal(res.status, 200);
        assert.match(res.body, /type=['"]terminate['"]/);
        assert.match(res.body, /condition=['"]item-not-found['"]/);
      } else {
        assert.ok(res.status === 404 || /item-not-found/.test(res.body), `unknown sid answered ${res.status} ${res.body}`);
      }
    });

    const shared = {
      world: () => world,
      carol: () => carol,
      scenario,
      jidOf,
      passOf,
      boshClient,
      track: (c) => {
        ws.push(c);
        return c;
      },
    };
    // The same users over WebSocket (RFC 7395): test/ws_scenarios.js.
    defineWsScenarios(shared);
    // StanzaJS 12 over BOSH and WebSocket: test/stanzajs_scenarios.js.
    defineStanzaScenarios(shared);
  });
}

module.exports = { defineSuite, Strophe };
