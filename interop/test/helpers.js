'use strict';
// Helpers shared by the scenario files (scenarios.js, ws_scenarios.js); not a
// test file itself.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');

/** A short random hex string that makes a message body unique to one run. */
function token() {
  return crypto.randomBytes(6).toString('hex');
}

/**
 * Sends one chat message per [from, to] pair of `sent` (in order; bodies
 * `${prefix}${from}->${to} <token> <&> "ünïcødé"`), then asserts that each `to`
 * receives its message from `from`'s bare JID. clients: { user: client } with
 * inbound, sendMessage() and waitMessage() (BoshClient, StropheWsClient,
 * TcpClient, XmppWsClient); each recipient only looks at what it receives
 * after this call began.
 */
async function exchangeMessages({ clients, sent, jidOf, prefix = '' }) {
  const marks = Object.fromEntries(Object.entries(clients).map(([user, c]) => [user, c.inbound.length]));
  const bodies = sent.map(([from, to]) => `${prefix}${from}->${to} ${token()} <&> "ünïcødé"`);
  for (let i = 0; i < sent.length; i++) {
    const [from, to] = sent[i];
    await clients[from].sendMessage(jidOf(to), bodies[i]);
  }
  for (let i = 0; i < sent.length; i++) {
    const [from, to] = sent[i];
    assert.ok(await clients[to].waitMessage(jidOf(from), bodies[i], marks[to]), `${to} got ${bodies[i]}`);
  }
}

/** The users every suite provisions as mutual contacts (see provisionContacts). */
const USERS = ['alice', 'bob', 'carol'];

/**
 * Asserts that `client`'s roster (fetched now) is exactly the other two of
 * alice, bob and carol, each with subscription 'both'.
 */
async function assertContacts(client, user, jidOf) {
  assert.deepEqual(await client.roster(), USERS.filter((u) => u !== user).map((u) => ({ jid: jidOf(u), subscription: 'both' })));
}

/** Counter values of a gateway's admin /metrics (interop/lib/boshgate.js) ({ name: value }). */
async function counters(gw) {
  const res = await fetch(`${gw.adminUrl}/metrics`);
  assert.equal(res.status, 200);
  const out = {};
  for (const m of (await res.text()).matchAll(/^boshgate_([a-z0-9_]+?)(?:_total)? (\d+)$/gm)) {
    out[m[1]] = Number(m[2]);
  }
  return out;
}

module.exports = { token, exchangeMessages, assertContacts, counters };
