'use strict';
// WebSocket (RFC 7395) scenarios, defined inside each server's suite by
// scenarios.js so they share its server, dnsmasq, gateway and the TCP user
// carol. Clients: strophe.js 5 (its WebSocket transport and its own XEP-0198
// engine), @xmpp/client 0.13 (its websocket transport and stream-management
// plugin), and raw `ws` probes. Requirement IDs from shared/spec/checklist.md
// sections 16 and 18 are cited where exercised.

const assert = require('node:assert/strict');

const { StropheWsClient, NS_SM } = require('../lib/ws_strophe_client');
const { XmppWsClient } = require('../lib/ws_xmpp_client');
const { upgradeRequest, frameViolations, rawLogin, NS_FRAMING, NS_STREAMS, NS_CLIENT, NS_BIND } = require('../lib/ws_raw');
const { localName } = require('../lib/bosh_client');
const { bare } = require('../lib/tcp_client');
const { WAIT_MS, waitForLogLine } = require('../lib/util');
const { token, exchangeMessages, assertContacts } = require('./helpers');

const STANZAS = new Set(['message', 'presence', 'iq']);
/** Messages between alice (WebSocket) and bob (BOSH) and carol (TCP), both ways. */
const BOTH_WAYS = [['alice', 'bob'], ['bob', 'alice'], ['alice', 'carol'], ['carol', 'alice']];

/**
 * ctx: { world(), carol(), scenario(name, fn), jidOf(user), passOf(user),
 * boshClient(user, mechanism), track(client) } from scenarios.js.
 */
function defineWsScenarios(ctx) {
  const { scenario, jidOf, passOf, boshClient, track } = ctx;

  const stropheWs = (user, mechanism, sm = false) => track(new StropheWsClient({
    url: ctx.world().wsUrl, jid: jidOf(user), password: passOf(user), mechanism, sm, label: `${user}/ws-strophe`,
  }));
  const xmppWs = (user, { mechanism = null, resource = 'ws-xmppjs' } = {}) => track(new XmppWsClient({
    service: ctx.world().wsUrl, domain: ctx.world().domain, username: user, password: passOf(user),
    resource, caFile: ctx.world().caFile, mechanism, label: `${user}/ws-xmpp.js`,
  }));

  /** carol (TCP) waits for presence from `fullJid`: available when type is undefined. */
  const carolSeesPresence = (fullJid, type, mark) => ctx.carol().waitInbound(
    `${fullJid} ${type || 'available'}`,
    (el) => el.is('presence') && el.attrs.from === fullJid && el.attrs.type === type, mark);

  /** The gateway log's current size (a mark for gatewayLogs), 0 without a gateway. */
  const gatewayLogMark = () => (ctx.world().gateway ? ctx.world().gateway.logMark() : 0);
  /** Resolves once the gateway log, after byte `mark`, has a line matching `re` (boshgate mode). */
  const gatewayLogs = (re, mark) => {
    const gw = ctx.world().gateway;
    return waitForLogLine(gw.logFile, re, WAIT_MS, gw.alive, mark);
  };
  /**
   * The gateway's log tag (e.g. "w17") of the first WebSocket session opened after log byte
   * `mark`, from its "<tag> WebSocket session open" line (boshgate mode).
   */
  const gatewayWsTag = async (mark) => (await gatewayLogs(/ (w\d+) WebSocket session open/, mark))[1];
  /**
   * boshgate mode: the session that opened first after `mark` logs how its upstream TCP stream
   * ended: clean (closing tags exchanged) or not (dropped without </stream:stream>).
   */
  const expectUpstreamClose = async (mark, clean) => {
    if (!ctx.world().gateway) {
      return;
    }
    const tag = await gatewayWsTag(mark);
    await gatewayLogs(new RegExp(` ${tag} upstream closed \\(clean=${clean}\\)`), mark);
  };

  /**
   * After a resumption: the resumed session of alice (`client`, full JID `fullJid`) carries a
   * message to carol, and the dropped stream never looked closed to carol: no unavailable
   * presence from `fullJid` since carol's inbound index `carolMark`.
   */
  const expectSessionCarriedOn = async (client, fullJid, carolMark) => {
    const carol = ctx.carol();
    const after = `after resume ${token()}`;
    const cm = carol.inbound.length;
    await client.sendMessage(jidOf('carol'), after);
    await carol.waitMessage(jidOf('alice'), after, cm);
    assert.ok(!carol.inbound.slice(carolMark).some((el) => el.is('presence') && el.attrs.from === fullJid
      && el.attrs.type === 'unavailable'), 'carol saw no unavailable presence across the drop');
  };

  // WS-HS-1, WS-HS-2
  scenario('WebSocket handshake: 101 names xmpp; an offer without xmpp is refused', async (t) => {
    const world = ctx.world();
    const only = await upgradeRequest(world.wsUrl, { protocols: ['xmpp'] });
    assert.equal(only.status, 101, `offer xmpp: HTTP ${only.status} ${only.body}`);
    assert.equal(only.headers['sec-websocket-protocol'], 'xmpp');
    assert.ok(only.acceptOk, 'Sec-WebSocket-Accept matches the key (RFC 6455 4.2.2)');
    const among = await upgradeRequest(world.wsUrl, { protocols: ['foo', 'xmpp'] });
    const none = await upgradeRequest(world.wsUrl, { protocols: [] });
    const other = await upgradeRequest(world.wsUrl, { protocols: ['foo'] });
    if (world.mode === 'boshgate') {
      assert.equal(among.status, 101, `offer foo, xmpp: HTTP ${among.status} ${among.body}`);
      assert.equal(among.headers['sec-websocket-protocol'], 'xmpp', 'exactly one offered subprotocol echoed');
      assert.ok(among.acceptOk);
      for (const [what, res] of [['no subprotocol', none], ['only foo', other]]) {
        assert.equal(res.status, 400, `${what}: expected HTTP 400, got ${res.status}`);
        assert.equal(res.headers['sec-websocket-protocol'], undefined, `${what}: no subprotocol in a refusal`);
      }
    } else {
      // Development aid: these are the gateway's policy (ejabberd 23.01 echoes the whole
      // "foo, xmpp" list; Prosody answers 501 without xmpp): record what the server does.
      for (const [what, res] of [['foo, xmpp', among], ['no subprotocol', none], ['only foo', other]]) {
        t.diagnostic(`${world.kind} offered ${what}: HTTP ${res.status} protocol=${res.headers['sec-websocket-protocol']}`);
      }
    }
  });

  // WS-FRM-1, WS-FRM-3, WS-FRM-5, WS-RST-1, WS-RST-2, WS-RST-3, WS-TLS-1, WS-NS-1, WS-NS-2,
  // WS-OPEN-2, WS-MSG-1, WS-CLOSE-1
  scenario('raw WebSocket login: every frame stands alone, no stream header, no XML declaration, no STARTTLS', async () => {
    const world = ctx.world();
    const carol = ctx.carol();
    const { ws, jid, opens, features } = await rawLogin({
      url: world.wsUrl, domain: world.domain, user: 'alice', password: passOf('alice'), resource: `raw-${token()}`,
    });
    assert.equal(ws.protocol, 'xmpp');
    assert.equal(bare(jid), jidOf('alice'));
    // <open/> replies carry the RFC 6120 4.7 attributes; the restart gives a new stream id.
    for (const open of opens) {
      assert.equal(open.uri, NS_FRAMING);
      assert.equal(open.attrs.from, world.domain);
      assert.equal(open.attrs.version, '1.0');
      assert.ok(open.attrs.id, '<open/> has an id');
    }
    assert.notEqual(opens[1].attrs.id, opens[0].attrs.id, 'a new stream id after the SASL restart');
    // The first features offer SASL and never STARTTLS (WS-RST-2, WS-TLS-1), the second bind.
    assert.ok(!features[0].root.children.some((c) => c.local === 'starttls'), features[0].text);
    assert.ok(features[1].root.children.some((c) => c.local === 'bind' && c.uri === NS_BIND), 'bind offered after SASL');

    // Stanzas both ways, so that stanza frames are judged too.
    const carolMark = carol.inbound.length;
    ws.send(`<presence xmlns='${NS_CLIENT}'/>`);
    await carolSeesPresence(jid, undefined, carolMark);
    const body = `raw ${token()} <&>`;
    const mark = ws.frames.length;
    carol.sendMessage(jid, body);
    const msg = await ws.waitFrame('message', NS_CLIENT, mark);
    assert.ok(msg.text.includes('raw '), msg.text);
    ws.send(`<message xmlns='${NS_CLIENT}' to='${jidOf('carol')}' type='chat'><body>back ${body.replace(/[<&>]/g, '')}</body></message>`);
    await carol.waitMessage(jidOf('alice'), `back ${body.replace(/[<&>]/g, '')}`, carolMark);

    // WS-CLOSE-1: <close/> is answered with <close/>; then the client closes the WebSocket.
    const closeMark = ws.frames.length;
    ws.send(`<close xmlns='${NS_FRAMING}'/>`);
    await ws.waitFrame('close', NS_FRAMING, closeMark);
    ws.ws.close(1000);
    await ws.waitUntil('WebSocket closed', () => ws.closeInfo);
    await carolSeesPresence(jid, 'unavailable', carolMark);

    assert.ok(ws.frames.length >= 8, `saw ${ws.frames.length} frames`);
    const bad = ws.frames.map((f, i) => ({ i, text: f.text, why: frameViolations(f) })).filter((x) => x.why.length);
    assert.deepEqual(bad, [], 'every frame from the endpoint is a standalone, clean RFC 7395 message');
    // No frame is the TCP stream's own header, in any spelling.
    assert.ok(ws.frames.every((f) => f.root && !(f.root.local === 'stream' && f.root.uri === NS_STREAMS)));
  });

  // WS-OPEN-2, WS-RST-1, SM-1 (strophe's own login flow over WebSocket)
  scenario('strophe.js over WebSocket: SASL PLAIN and SCRAM-SHA-1, bind, roster', async () => {
    const alice = stropheWs('alice', 'PLAIN');
    const bob = stropheWs('bob', 'SCRAM-SHA-1');
    await Promise.all([alice.connect(), bob.connect()]);
    assert.equal(alice.authMechanismSent(), 'PLAIN');
    assert.equal(bob.authMechanismSent(), 'SCRAM-SHA-1');
    for (const [c, user] of [[alice, 'alice'], [bob, 'bob']]) {
      assert.equal(bare(c.fullJid), jidOf(user));
      assert.match(c.fullJid, /\/.+$/, 'bound a resource');
      assert.ok(c.inbound.some((el) => localName(el) === 'success'), `${user} saw <success/>`);
      assert.equal(c.inbound.filter((el) => localName(el) === 'open').length, 2, `${user}: two <open/> (initial + restart)`);
    }
    await assertContacts(alice, 'alice', jidOf);
    await assertContacts(bob, 'bob', jidOf);
    await Promise.all([alice.disconnect(), bob.disconnect()]);
  });

  // WS-FRM-4 (one stanza per message, both ways), SM-2 (nothing injected)
  scenario('strophe.js over WebSocket: messages both ways with a BOSH user and the TCP user', async () => {
    const carol = ctx.carol();
    const alice = stropheWs('alice', 'SCRAM-SHA-1');
    const bob = boshClient('bob', 'PLAIN');
    await Promise.all([alice.connect(), bob.connect()]);
    const carolMark = carol.inbound.length;
    alice.sendPresence();
    bob.sendPresence();
    await carolSeesPresence(alice.fullJid, undefined, carolMark);
    await carolSeesPresence(bob.fullJid, undefined, carolMark);
    await alice.waitInbound('bob available', (el) => localName(el) === 'presence' && el.getAttribute('from') === bob.fullJid && !el.getAttribute('type'));

    await exchangeMessages({ clients: { alice, bob, carol }, sent: BOTH_WAYS, jidOf, prefix: 'ws ' });
    await Promise.all([alice.disconnect(), bob.disconnect()]);
  });

  // WS-OPEN-2, WS-RST-1 (@xmpp/client's login flow over WebSocket)
  scenario('@xmpp/client over WebSocket: SASL SCRAM-SHA-1, bind, messages both ways with the BOSH and TCP users', async () => {
    const carol = ctx.carol();
    const alice = xmppWs('alice');
    const bob = boshClient('bob', 'SCRAM-SHA-1');
    await Promise.all([alice.start(), bob.connect()]);
    assert.equal(alice.authMechanismSent(), 'SCRAM-SHA-1');
    assert.equal(bare(alice.fullJid), jidOf('alice'));
    assert.equal(alice.fullJid, `${jidOf('alice')}/ws-xmppjs`);
    await assertContacts(alice, 'alice', jidOf);
    const carolMark = carol.inbound.length;
    await alice.sendPresence();
    bob.sendPresence();
    await carolSeesPresence(alice.fullJid, undefined, carolMark);
    await carolSeesPresence(bob.fullJid, undefined, carolMark);
    await alice.waitInbound('bob available', (el) => el.is('presence') && el.attrs.from === bob.fullJid && !el.attrs.type);

    await exchangeMessages({ clients: { alice, bob, carol }, sent: BOTH_WAYS, jidOf, prefix: 'xmppjs ' });
    await Promise.all([alice.stop(), bob.disconnect()]);
  });

  // SM-1, SM-3, SM-4, WS-CLOSE-3, WS-SM-1
  scenario('strophe.js over WebSocket: XEP-0198 resume after the socket is dropped', async () => {
    const carol = ctx.carol();
    const logMark = gatewayLogMark();
    const alice = stropheWs('alice', 'SCRAM-SHA-1', true);
    await alice.connect();
    const enabled = await alice.waitSmEnabled();
    assert.ok(['true', '1'].includes(enabled.getAttribute('resume')), 'the server offers resumption');
    const firstJid = alice.fullJid;
    const carolMark = carol.inbound.length;
    alice.sendPresence();
    await carolSeesPresence(firstJid, undefined, carolMark);
    // One counted stanza each way before the drop.
    const before = `before drop ${token()}`;
    let mark = alice.inbound.length;
    carol.sendMessage(firstJid, before);
    await alice.waitMessage(jidOf('carol'), before, mark);
    assert.equal(await alice.requestAck(), 1, 'the server handled exactly the presence');
    // strophe's inbound count = the stanzas that reached it since <enabled/> (presences included).
    const enabledAt = alice.inbound.indexOf(enabled);
    const hIn = alice.inbound.slice(enabledAt + 1).filter((el) => STANZAS.has(localName(el))).length;
    assert.ok(hIn >= 1);
    assert.equal(alice.conn.sm.state.hIn, hIn, 'strophe counted every stanza it received');

    await alice.drop();
    const whileGone = `while gone ${token()}`;
    carol.sendMessage(firstJid, whileGone);
    // WS-CLOSE-3: the gateway dropped the server link without a closing tag.
    await expectUpstreamClose(logMark, false);

    mark = alice.inbound.length;
    const { jid, resumed, restored } = await alice.resume();
    assert.ok(resumed, 'the server answered <resume/> with <resumed/>');
    assert.equal(resumed.namespaceURI, NS_SM);
    assert.equal(resumed.getAttribute('h'), '1', '<resumed h/> counts the presence');
    assert.ok(restored, 'strophe reports a restored session');
    assert.equal(jid, firstJid, 'the full JID is unchanged');
    assert.equal(alice.outbound.filter((el) => localName(el) === 'bind').length, 0, 'strophe did not bind again');
    const resume = alice.outbound.find((el) => localName(el) === 'resume');
    assert.ok(resume, 'strophe sent <resume/>');
    assert.equal(resume.getAttribute('previd'), enabled.getAttribute('id'));
    assert.equal(resume.getAttribute('h'), String(hIn), '<resume h/> = stanzas received before the drop');
    await alice.waitMessage(jidOf('carol'), whileGone, mark);
    await expectSessionCarriedOn(alice, firstJid, carolMark);
    await alice.disconnect();
  });

  // SM-1, SM-3, SM-4, WS-CLOSE-3, WS-SM-1
  scenario('@xmpp/client over WebSocket: XEP-0198 resume after the socket is dropped', async () => {
    const carol = ctx.carol();
    const logMark = gatewayLogMark();
    const alice = xmppWs('alice', { mechanism: 'PLAIN', resource: `sm-${token()}` });
    await alice.start();
    assert.equal(alice.authMechanismSent(), 'PLAIN');
    const enabled = await alice.waitSmEnabled();
    assert.ok(['true', '1'].includes(enabled.attrs.resume), 'the server offers resumption');
    const firstJid = alice.fullJid;
    const carolMark = carol.inbound.length;
    await alice.sendPresence();
    await carolSeesPresence(firstJid, undefined, carolMark);
    const before = `before drop ${token()}`;
    carol.sendMessage(firstJid, before);
    await alice.waitMessage(jidOf('carol'), before, 0);
    const enableAt = alice.outbound.findIndex((el) => el.is('enable', NS_SM));
    const sentSinceEnable = alice.outbound.slice(enableAt + 1).filter((el) => STANZAS.has(el.name)).length;
    assert.equal(await alice.requestAck(), sentSinceEnable, 'the server handled what the client sent since <enable/>');

    await alice.drop();
    const whileGone = `while gone ${token()}`;
    carol.sendMessage(firstJid, whileGone);
    await expectUpstreamClose(logMark, false);

    const mark = alice.inbound.length;
    const outMark = alice.outbound.length;
    const resumed = await alice.resume();
    assert.equal(resumed.attrs.h, String(sentSinceEnable), '<resumed h/> counts what the client sent');
    const resume = alice.outbound.slice(outMark).find((el) => el.is('resume', NS_SM));
    assert.ok(resume, 'the library sent <resume/>');
    assert.equal(resume.attrs.previd, enabled.attrs.id);
    assert.equal(alice.outbound.slice(outMark).filter((el) => el.getChild('bind', NS_BIND)).length, 0, 'no new bind');
    assert.equal(alice.fullJid, firstJid, 'the full JID is unchanged');
    await alice.waitMessage(jidOf('carol'), whileGone, mark);
    await expectSessionCarriedOn(alice, firstJid, carolMark);
    await alice.stop();
  });

  // WS-CLOSE-1, SM-3, C2S-CLOSE-1. SM is enabled, so only a clean close ends the session at
  // once: an unclean one would leave it hibernating (Prosody 30 s, ejabberd 60 s, both longer
  // than WAIT_MS) and carol would see nothing in time. Through boshgate its log must show
  // the session's upstream closed cleanly (closing tags exchanged).
  scenario('strophe.js over WebSocket: clean close; the TCP contact sees unavailable presence', async () => {
    const carol = ctx.carol();
    const logMark = gatewayLogMark();
    const alice = stropheWs('alice', 'PLAIN', true);
    await alice.connect();
    await alice.waitSmEnabled();
    const carolMark = carol.inbound.length;
    alice.sendPresence();
    await carolSeesPresence(alice.fullJid, undefined, carolMark);
    await alice.disconnect();
    assert.ok(alice.framesOut.some((f) => /^<close [^>]*xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']/.test(f)), 'strophe sent <close/>');
    const gone = await carolSeesPresence(alice.fullJid, 'unavailable', carolMark);
    assert.equal(gone.attrs.from, alice.fullJid);
    await expectUpstreamClose(logMark, true);
  });

  // WS-CLOSE-1, SM-3, C2S-CLOSE-1
  scenario('@xmpp/client over WebSocket: clean close; the TCP contact sees unavailable presence', async () => {
    const carol = ctx.carol();
    const logMark = gatewayLogMark();
    const alice = xmppWs('alice', { resource: `close-${token()}` });
    await alice.start();
    await alice.waitSmEnabled();
    const carolMark = carol.inbound.length;
    await alice.sendPresence();
    await carolSeesPresence(alice.fullJid, undefined, carolMark);
    const jid = alice.fullJid;
    // stop(): <close/>, wait for the server's <close/>, then the WebSocket closing handshake.
    await alice.stop();
    assert.ok(alice.framesIn.some((f) => /^<close\b/.test(f)), 'the endpoint answered <close/> with <close/>');
    const gone = await carolSeesPresence(jid, 'unavailable', carolMark);
    assert.equal(gone.attrs.from, jid);
    await expectUpstreamClose(logMark, true);
  });
}

module.exports = { defineWsScenarios };
