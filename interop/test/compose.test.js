'use strict';
// conf/compose/ brought up by tests/container_test.sh (boshgate + Prosody containers, the demo
// page): alice logs in over BOSH and bob over WebSocket through the published port, they chat
// both ways, and the demo page with its strophe.js is served. Not part of interop/run.sh:
// COMPOSE_URL (http://127.0.0.1:<port>) names the running project.
//   COMPOSE_URL=http://127.0.0.1:5280 node --test interop/test/compose.test.js
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { BoshClient } = require('../lib/bosh_client');
const { StropheWsClient } = require('../lib/ws_strophe_client');

const base = process.env.COMPOSE_URL;

test('compose: alice (BOSH) and bob (WebSocket) log in through the boshgate container and chat', async () => {
  assert.ok(base, 'COMPOSE_URL is not set: run this through tests/container_test.sh');
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /vendor\/strophe\.umd\.min\.js/);
  const lib = await fetch(`${base}/vendor/strophe.umd.min.js`);
  assert.equal(lib.status, 200, 'the image serves the demo page\'s strophe.js');
  assert.ok((await lib.text()).length > 10000);

  const alice = new BoshClient({ url: `${base}/http-bind`, jid: 'alice@localhost', password: 'alice', label: 'alice/bosh' });
  const bob = new StropheWsClient({ url: `${base.replace(/^http/, 'ws')}/xmpp-websocket`, jid: 'bob@localhost', password: 'bob', label: 'bob/ws' });
  try {
    const aliceJid = await alice.connect();
    const bobJid = await bob.connect();
    assert.match(aliceJid, /^alice@localhost\//);
    assert.match(bobJid, /^bob@localhost\//);
    alice.sendPresence();
    bob.sendPresence();
    const mark = bob.inbound.length;
    alice.sendMessage(bobJid, 'hello bob, from the compose project');
    await bob.waitMessage('alice@localhost', 'hello bob, from the compose project', mark);
    const mark2 = alice.inbound.length;
    bob.sendMessage(aliceJid, 'hello alice');
    await alice.waitMessage('bob@localhost', 'hello alice', mark2);
  } finally {
    await Promise.allSettled([alice.disconnect(), bob.disconnect()]);
  }
});
