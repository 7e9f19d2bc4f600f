'use strict';
// StanzaJS 12 (npm `stanza`, its BOSH and WebSocket transports and its own XEP-0198), defined
// inside each server's suite by scenarios.js next to strophe.js and @xmpp/client: log in, chat
// with the TCP user carol, and disconnect cleanly, the library's own disconnect completing.
// Requirement IDs from shared/spec/checklist.md are cited where exercised.

const assert = require('node:assert/strict');

const { StanzaClient } = require('../lib/stanza_client');
const { token } = require('./helpers');

/** `type` and `condition` of a raw BOSH <body/> (null when absent). */
function bodyAttrs(raw) {
  const open = /^\s*<body\b[^>]*>/.exec(raw);
  assert.ok(open, `a BOSH body: ${raw}`);
  const attr = (name) => {
    const m = new RegExp(`\\s${name}=['"]([^'"]*)['"]`).exec(open[0]);
    return m ? m[1] : null;
  };
  return { type: attr('type'), condition: attr('condition') };
}

/** ctx: { world(), carol(), scenario(name, fn), jidOf(user), passOf(user), track(client) }. */
function defineStanzaScenarios(ctx) {
  const { scenario, jidOf, passOf, track } = ctx;
  const stanzaClient = (user, transport) => track(new StanzaClient({
    url: transport === 'bosh' ? ctx.world().url : ctx.world().wsUrl,
    transport,
    jid: jidOf(user),
    password: passOf(user),
  }));

  /**
   * alice logs in with StanzaJS over `transport`, announces presence, chats with carol both
   * ways and waits until the server acknowledged her stanzas (XEP-0198), so that nothing is
   * queued in the library when it disconnects. Returns { alice, fullJid, carolMark }.
   */
  const chatWithCarol = async (transport) => {
    const carol = ctx.carol();
    const alice = stanzaClient('alice', transport);
    const carolMark = carol.inbound.length;
    const fullJid = await alice.connect();
    await alice.client.sendPresence();
    await carol.waitInbound(`${fullJid} available`,
      (el) => el.is('presence') && el.attrs.from === fullJid && !el.attrs.type, carolMark);
    const up = `stanzajs ${transport} up ${token()}`;
    const down = `stanzajs ${transport} down ${token()}`;
    alice.client.sendMessage({ to: jidOf('carol'), type: 'chat', body: up });
    await carol.waitMessage(jidOf('alice'), up, carolMark);
    await carol.sendMessage(fullJid, down);
    await alice.waitMessage(jidOf('carol'), down);
    await alice.waitUntil('every stanza acknowledged (XEP-0198), nothing queued', () => alice.settled());
    return { alice, fullJid, carolMark };
  };

  /** carol sees `fullJid` go unavailable: the server ended that session. */
  const carolSeesUnavailable = (fullJid, mark) => ctx.carol().waitInbound(`${fullJid} unavailable`,
    (el) => el.is('presence') && el.attrs.from === fullJid && el.attrs.type === 'unavailable', mark);

  // BOSH-TERM-1, BOSH-TERM-2, BOSH-TERM-3, GAP-1
  scenario('StanzaJS 12 over BOSH: login, chat with the TCP user, disconnect while a request is held', async () => {
    const { alice, fullJid, carolMark } = await chatWithCarol('bosh');
    // A request is held: every request sent has been answered but the last, and it stays
    // unanswered (the gateway holds it for up to `wait` seconds).
    const outstanding = () => alice.raw.filter((r) => r.dir === 'out').length - alice.raw.filter((r) => r.dir === 'in').length;
    await alice.waitUntil('one request held', () => outstanding() === 1);
    const seen = alice.raw.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(alice.raw.length, seen, 'nothing sent or answered for 300 ms: the request is held');
    const mark = alice.raw.length;
    await alice.disconnect();
    const sent = alice.raw.slice(mark).filter((r) => r.dir === 'out');
    assert.equal(sent.length, 1, 'one request after the held one: the terminate');
    assert.equal(bodyAttrs(sent[0].data).type, 'terminate');
    await carolSeesUnavailable(fullJid, carolMark);
    if (ctx.world().gateway) {
      // GAP-1: the held poll and the terminate request are both answered with an empty
      // type='terminate' body without a condition, whichever the client reads first.
      const answers = () => alice.raw.slice(mark).filter((r) => r.dir === 'in').map((r) => r.data);
      await alice.waitUntil('both answers read', () => answers().length >= 2);
      assert.equal(answers().length, 2, `two answers after the terminate: ${answers().join(' | ')}`);
      for (const raw of answers()) {
        assert.deepEqual(bodyAttrs(raw), { type: 'terminate', condition: null }, raw);
      }
    }
  });

  // WS-CLOSE-1, WS-CLOSE-2
  scenario('StanzaJS 12 over WebSocket: login, chat with the TCP user, clean disconnect', async () => {
    const { alice, fullJid, carolMark } = await chatWithCarol('websocket');
    const mark = alice.raw.length;
    await alice.disconnect();
    const after = alice.raw.slice(mark);
    assert.ok(after.some((r) => r.dir === 'out' && /^<close\b/.test(r.data)), `StanzaJS sent <close/>: ${JSON.stringify(after)}`);
    // The server's closing tag came back as <close/>.
    await alice.waitUntil('the server\'s <close/>', () => alice.raw.slice(mark).some((r) => r.dir === 'in' && /^<close\b/.test(r.data)));
    await carolSeesUnavailable(fullJid, carolMark);
  });
}

module.exports = { defineStanzaScenarios };
