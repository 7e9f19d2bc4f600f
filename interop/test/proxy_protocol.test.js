'use strict';
// The browser's address reaches the XMPP server (issue 10, part 2 "out"): ejabberd 23.01 has
// a c2s listener with `use_proxy_protocol: true`; the gateway's domain has
// `proxy_protocol = true`, so each server link starts with a PROXY v2 header naming the
// client, then STARTTLS as usual. The gateway trusts 127.0.0.1 as a reverse proxy
// (`http.trusted_proxies`). Three users, three ways to have an address, each read back from
// ejabberd's own session table (`ejabberdctl connected_users_info`):
//   alice: WebSocket through a "proxy" (127.0.0.1) that says X-Forwarded-For: 198.51.100.7
//   bob:   WebSocket straight from 127.0.0.2 (not a trusted proxy: its own address)
//   carol: BOSH (strophe.js) through the "proxy" with Forwarded: for=203.0.113.9

const { nameSuffix } = require('../lib/containers');
const { test } = require('node:test');
const assert = require('node:assert/strict');

const { makeWorkDir, worldTeardown } = require('../lib/util');
const { addEjabberdAndGateway, mode, USERS } = require('../lib/world');
const { rawLogin } = require('../lib/ws_raw');
const { BoshClient } = require('../lib/bosh_client');
const { setRequestDefaults } = require('../lib/xhr');

const skipReason = mode() === 'boshgate' ? false : 'needs BOSHGATE_BIN (a gateway-only feature)';

/** user -> IP addresses of its sessions, from ejabberd's connected_users_info. */
function sessionIps(ej, domain) {
  const out = {};
  for (const line of ej.ctl('connected_users_info').split('\n').filter(Boolean)) {
    const [jid, , ip] = line.split('\t');
    const user = jid.split('@')[0];
    if (jid.split('/')[0] === `${user}@${domain}`) {
      (out[user] = out[user] || []).push(ip);
    }
  }
  return out;
}

test(`the browser's address reaches ejabberd in a PROXY v2 header${nameSuffix()}`, { skip: skipReason }, async (t) => {
  const domain = 'ejabberd.test';
  const world = { dir: makeWorkDir('boshgate-interop-proxy'), stops: [], logs: [] };
  world.teardown = worldTeardown(world, 'interop-proxy', 30);
  let failed = true;
  const closers = [];
  try {
    const { ej, gw } = await addEjabberdAndGateway(world, {
      domain,
      domainSpec: (server) => ({ address: `127.0.0.1:${server.c2sProxyPort}`, proxyProtocol: true }),
      settings: { http: { trusted_proxies: ['127.0.0.1'] } },
    });
    const pass = (u) => USERS.find((x) => x.user === u).password;

    const alice = await rawLogin({
      url: gw.wsUrl, domain, user: 'alice', password: pass('alice'),
      wsOptions: { headers: { 'X-Forwarded-For': '198.51.100.7' } },
    });
    closers.push(() => alice.ws.close());
    const bob = await rawLogin({
      url: gw.wsUrl, domain, user: 'bob', password: pass('bob'), wsOptions: { localAddress: '127.0.0.2' },
    });
    closers.push(() => bob.ws.close());
    setRequestDefaults({ headers: { Forwarded: 'for=203.0.113.9;proto=https' } });
    const carol = new BoshClient({ url: gw.url, jid: `carol@${domain}`, password: pass('carol'), mechanism: 'PLAIN', label: 'carol/bosh' });
    closers.push(() => carol.abandon());
    await carol.connect();

    const ips = sessionIps(ej, domain);
    t.diagnostic(`ejabberd's sessions: ${JSON.stringify(ips)}`);
    assert.deepEqual(ips.alice, ['198.51.100.7'], 'alice: the address X-Forwarded-For named');
    assert.deepEqual(ips.bob, ['127.0.0.2'], 'bob: his own address (127.0.0.2 is no trusted proxy)');
    assert.deepEqual(ips.carol, ['203.0.113.9'], 'carol (BOSH): the address Forwarded named');
    await carol.disconnect();
    failed = false;
  } finally {
    setRequestDefaults({});
    for (const close of closers) {
      try {
        close();
      } catch (_) {
        // already closed
      }
    }
    await world.teardown(failed);
  }
});
