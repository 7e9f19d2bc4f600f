'use strict';
// A real browser client through boshgate: Converse.js 14 in Debian's Chromium
// (headless, driven by playwright-core), once against the real Prosody (SRV ->
// STARTTLS) and once against the real ejabberd (SRV -> direct TLS): the same
// scenario and assertions, one describe per server.
//
//   alice: Converse over BOSH       (world.url,   cross-origin POSTs: CORS preflight + replies)
//   bob:   Converse over WebSocket  (world.wsUrl, subprotocol xmpp, foreign Origin header)
//
// Against Prosody a third user, carol, has Converse find the gateway itself (XEP-0156,
// discover_connection_methods): her Chromium maps prosody.test to the gateway's HTTPS
// listener on 127.0.0.7:443 (test CA certificates accepted), Converse reads
// https://prosody.test/.well-known/host-meta and logs in over the wss:// URL listed there.
//
// Both log in (control box shows the account and "online"), alice opens a chat
// with bob from her roster and sends a unique text, bob's page shows it, bob
// replies, alice's page shows the reply. The gateway's /metrics must show one
// new BOSH session and one WebSocket upgrade. Full-page screenshots of both
// pages are written to $INTEROP_ARTIFACTS (default <repo>/build/interop-artifacts)
// as browser-<server>-alice-bosh.png and browser-<server>-bob-websocket.png;
// on failure also each page's console log.
//
// Requirement IDs exercised end to end with a real browser: WEB-1, WEB-2
// (preflight + CORS on every POST), XBOSH-1, XBOSH-3, XBOSH-5, XBOSH-10,
// WS-HS-1, WS-HS-3 (the browser closes unless `xmpp` is echoed), WS-FRM-1,
// WS-FRM-4, WS-FRM-5, WS-OPEN-2, WS-OPEN-3, WS-RST-1, WS-RST-2, WS-TLS-1,
// WS-SEC-1 (default `*` admits the page's Origin).

const { nameSuffix } = require('../lib/containers');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { describe, before, after, test } = require('node:test');

const { startWorld } = require('../lib/world');
const { provisionContacts } = require('../lib/tcp_client');
const { launchBrowser, saveArtifacts } = require('../lib/browser');
const { startPageServer } = require('../browser/server');
const { WAIT_MS, withTimeout } = require('../lib/util');

const REPO = path.resolve(__dirname, '..', '..');
const ARTIFACTS = process.env.INTEROP_ARTIFACTS || path.join(REPO, 'build', 'interop-artifacts');
/** File names (without extension) of each user's screenshot and console log on `kind`'s world. */
function artifactNames(kind) {
  return { alice: `browser-${kind}-alice-bosh`, bob: `browser-${kind}-bob-websocket`, carol: `browser-${kind}-carol-discovered` };
}
/** Budget for one UI step (page load + login is the slowest). */
const UI_MS = Math.max(WAIT_MS, 20000);

/** GET http://127.0.0.1:PORT/metrics (the admin listener); resolves with { name: value } (counters without _total too). */
function readMetrics(port) {
  return withTimeout(`GET /metrics on ${port}`, WAIT_MS, (resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new Error(`/metrics answered ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        const out = {};
        for (const line of text.split('\n')) {
          const m = line.match(/^(boshgate_[a-z0-9_]+) (-?\d+)$/);
          if (m) {
            out[m[1]] = Number(m[2]);
            out[m[1].replace(/_total$/, '')] = Number(m[2]);
          }
        }
        resolve(out);
      });
    }).on('error', reject);
  });
}

/** Value of a metric that must exist (fails with the list of names otherwise). */
function metric(all, name) {
  assert.ok(name in all, `gateway /metrics has no ${name} (has: ${Object.keys(all).filter((k) => !k.endsWith('_total')).join(', ')})`);
  return all[name];
}

/**
 * The whole browser scenario against one server: kind 'prosody' | 'ejabberd',
 * upstream as for startWorld(). Each call is its own describe with its own world,
 * page server and two Chromium processes (started in before, stopped in after).
 */
function browserScenario(kind, upstream, { discovery = null } = {}) {
  const ARTIFACT_NAMES = artifactNames(kind);
  describe(`browser (${kind}): Converse.js in Chromium, BOSH and WebSocket through the gateway${nameSuffix()}`, () => {
    let world;
    let pages;
    let failed = false;
    const browsers = {};
    let metricsBefore = null;
    const jidOf = (user) => `${user}@${world.domain}`;
    const passOf = (user) => world.users.find((u) => u.user === user).password;

    before(async () => {
      failed = true; // until set-up completes
      // No stale screenshots or console logs from an earlier run next to this run's.
      for (const n of Object.values(ARTIFACT_NAMES)) {
        for (const ext of ['.png', '.console.log']) {
          fs.rmSync(path.join(ARTIFACTS, `${n}${ext}`), { force: true });
        }
      }
      world = await startWorld({ kind, upstream, httpsListener: discovery });
      assert.ok(world.wsUrl, 'world.wsUrl (WebSocket endpoint) is not set by lib/world.js');
      // alice, bob (and carol) are mutual contacts (in-band over plain TCP, straight to the
      // server), so each Converse roster lists the others with presence.
      const users = discovery ? ['alice', 'bob', 'carol'] : ['alice', 'bob'];
      await provisionContacts(world, users.map((user) => ({ user, password: passOf(user) })));
      pages = await startPageServer();
      if (world.gateway) {
        metricsBefore = await readMetrics(world.gateway.adminPort);
      }
      // Two Chromium processes, each with a fresh profile under the run's temp dir.
      browsers.alice = await launchBrowser({ label: 'alice', profileDir: path.join(world.dir, 'chromium-alice') });
      browsers.bob = await launchBrowser({ label: 'bob', profileDir: path.join(world.dir, 'chromium-bob') });
      if (discovery) {
        // carol's Chromium resolves the XMPP domain to the gateway's HTTPS listener.
        browsers.carol = await launchBrowser({
          label: 'carol', profileDir: path.join(world.dir, 'chromium-carol'), hostMap: { [world.domain]: discovery.address },
        });
      }
      failed = false;
    });

    after(async () => {
      const saved = [];
      for (const [user, b] of Object.entries(browsers)) {
        saved.push(...(await saveArtifacts(b, ARTIFACTS, ARTIFACT_NAMES[user], { withConsole: failed })));
        if (failed) {
          const probe = await b.page.evaluate(() => window.boshgateProbe).catch((e) => `(no probe: ${e.message})`);
          process.stderr.write(`--- ${user}: probe ---\n${JSON.stringify(probe, null, 2)}\n`);
          process.stderr.write(`--- ${user}: last console lines ---\n${b.consoleLines.slice(-40).join('\n')}\n`);
        }
      }
      process.stdout.write(`browser (${kind}) artifacts:\n${saved.map((p) => `  ${p}`).join('\n')}\n`);
      for (const b of Object.values(browsers)) {
        await b.close();
      }
      if (failed && pages) {
        process.stderr.write(`page server 404s: ${JSON.stringify(pages.notFound)}\n`);
      }
      if (pages) {
        await pages.stop();
      }
      if (world) {
        await world.teardown(failed);
      }
    });

    /** Opens the Converse page for `user` over `transport` ('bosh' | 'websocket' | 'discover'). */
    async function openConverse(user, transport) {
      const url = transport === 'bosh' ? world.url : transport === 'websocket' ? world.wsUrl : '';
      const q = new URLSearchParams({ transport, url, jid: jidOf(user), password: passOf(user) });
      const page = browsers[user].page;
      await page.goto(`${pages.origin}/?${q}`, { waitUntil: 'load', timeout: UI_MS });
      return page;
    }

    /** Waits until the control box shows `user` logged in and online, with `contact` in the roster. */
    async function expectLoggedIn(page, user, contact) {
      const profile = page.locator('converse-user-profile .userinfo');
      // Logged in (profile shown), or Converse gave up (auto_reconnect is off, so a
      // 'disconnected' event is final): whichever comes first, not a blind timeout.
      const outcome = await page.waitForFunction(() => {
        if ((window.boshgateProbe?.events || []).some((e) => e.endsWith(' disconnected'))) {
          return 'disconnected';
        }
        const el = document.querySelector('converse-user-profile .userinfo');
        return el && el.getClientRects().length > 0 ? 'shown' : false;
      }, null, { timeout: UI_MS, polling: 100 }).then((h) => h.jsonValue(), (e) => `no login within ${UI_MS} ms (${e.message.split('\n')[0]})`);
      if (outcome !== 'shown') {
        // Say why: Converse's own feedback line on the login form, and the probe's events.
        const feedback = await page.locator('.conn-feedback').first().innerText({ timeout: 1000 }).catch(() => '');
        const probe = await page.evaluate(() => window.boshgateProbe).catch(() => null);
        assert.fail(`${user} did not get logged in: ${outcome}; login form says ${JSON.stringify(feedback.trim())}; `
          + `probe: ${JSON.stringify(probe)}; page errors: ${JSON.stringify(browsers[user].pageErrors)}; `
          + `page server 404s: ${JSON.stringify(pages.notFound)}`);
      }
      await assertVisibleText(profile.locator('.username'), new RegExp(`^\\s*${user}(@|\\s*$)`), `${user}'s name in the control box`);
      await assertVisibleText(profile.locator('.xmpp-status__msg'), /^I am online$/i, `${user}'s own status`);
      // (A contact with unread messages is listed twice: under "New messages" and its group.)
      const item = page.locator(`converse-roster a.open-chat[data-jid="${jidOf(contact)}"]`).first();
      await item.waitFor({ state: 'visible', timeout: UI_MS });
      // The contact is online too (presence relayed through the gateway).
      await item.locator('.contact-name--online').waitFor({ state: 'visible', timeout: UI_MS });
      return item;
    }

    async function assertVisibleText(locator, re, what) {
      try {
        await locator.first().waitFor({ state: 'visible', timeout: UI_MS });
        const deadline = Date.now() + UI_MS;
        for (;;) {
          const text = (await locator.first().innerText()).trim();
          if (re.test(text)) {
            return text;
          }
          if (Date.now() > deadline) {
            assert.fail(`${what}: expected ${re}, page shows ${JSON.stringify(text)}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      } catch (e) {
        if (e instanceof assert.AssertionError) {
          throw e;
        }
        throw new Error(`${what}: not visible: ${e.message.split('\n')[0]}`);
      }
    }

    /** Chat view with `peer` on `page`; waits until it is visible. */
    async function chatWith(page, peer) {
      // (converse-chat itself has no box of its own; its composer shows the view is open.)
      const chat = page.locator(`converse-chat[jid="${jidOf(peer)}"]`);
      try {
        await chat.locator('textarea.chat-textarea').waitFor({ state: 'visible', timeout: UI_MS });
      } catch (e) {
        assert.fail(`chat view with ${peer} not shown: ${e.message.split('\n')[0]}`);
      }
      return chat;
    }

    /** Types `text` into the chat's composer and sends it with Enter. */
    async function send(chat, text) {
      const box = chat.locator('textarea.chat-textarea');
      await box.waitFor({ state: 'visible', timeout: UI_MS });
      await box.fill(text);
      await box.press('Enter');
    }

    /** The message with exactly `text`, sent by `from`, in `chat`; waits until visible. */
    async function expectMessage(chat, text, from, what) {
      const msg = chat.locator('div.chat-msg').filter({ has: chat.page().locator('.chat-msg__text', { hasText: text }) }).first();
      try {
        await msg.waitFor({ state: 'visible', timeout: UI_MS });
      } catch (e) {
        assert.fail(`${what}: ${JSON.stringify(text)} not shown: ${e.message.split('\n')[0]}`);
      }
      assert.equal((await msg.locator('.chat-msg__text').innerText()).trim(), text, what);
      const sender = await msg.getAttribute('data-from');
      assert.ok(sender === jidOf(from) || sender.startsWith(`${jidOf(from)}/`), `${what}: shown as from ${sender}, not ${jidOf(from)}`);
    }

    // WEB-1, WEB-2, XBOSH-1, XBOSH-10, WS-HS-1, WS-OPEN-2, WS-RST-1, WS-FRM-4, WS-SEC-1
    test('alice (BOSH) and bob (WebSocket) log in with Converse and chat both ways', { timeout: 6 * UI_MS }, async () => {
      try {
        const t0 = Date.now();
        const [alicePage, bobPage] = await Promise.all([openConverse('alice', 'bosh'), openConverse('bob', 'websocket')]);
        const [bobInAlice] = await Promise.all([expectLoggedIn(alicePage, 'alice', 'bob'), expectLoggedIn(bobPage, 'bob', 'alice')]);
        const tLogin = Date.now();

        // Each page used exactly the transport and endpoint it was given.
        const aliceProbe = await alicePage.evaluate(() => window.boshgateProbe);
        const bobProbe = await bobPage.evaluate(() => window.boshgateProbe);
        assert.equal(aliceProbe.connectedType, 'bosh', `alice's connection: ${JSON.stringify(aliceProbe)}`);
        assert.equal(aliceProbe.service, world.url);
        assert.equal(bobProbe.connectedType, 'websocket', `bob's connection: ${JSON.stringify(bobProbe)}`);
        assert.equal(bobProbe.service, world.wsUrl);

        // alice -> bob: opened from alice's roster, typed into the composer.
        const tag = crypto.randomBytes(5).toString('hex');
        const hello = `hello bob, alice here over BOSH ${tag}`;
        await bobInAlice.click();
        const aliceChat = await chatWith(alicePage, 'bob');
        await send(aliceChat, hello);
        await expectMessage(aliceChat, hello, 'alice', 'alice sees her own message');
        // Converse does not pop the chat open on bob's side: his roster flags alice with
        // one unread message; bob opens the chat from there and reads it.
        const unread = bobPage.locator(`converse-roster a.open-chat[data-jid="${jidOf('alice')}"] .msgs-indicator`).first();
        await assertVisibleText(unread, /^1$/, 'unread-message badge on alice in bob\'s roster');
        await unread.click();
        const bobChat = await chatWith(bobPage, 'alice');
        await expectMessage(bobChat, hello, 'alice', 'bob sees alice\'s message');

        // bob -> alice over the WebSocket.
        const reply = `hi alice, bob answering over WebSocket ${tag}`;
        await send(bobChat, reply);
        await expectMessage(bobChat, reply, 'bob', 'bob sees his own reply');
        await expectMessage(aliceChat, reply, 'bob', 'alice sees bob\'s reply');
        const tChat = Date.now();

        // Gateway side: one new BOSH session (alice) and one WebSocket upgrade (bob).
        if (world.gateway) {
          const now = await readMetrics(world.gateway.adminPort);
          assert.equal(metric(now, 'boshgate_bosh_sessions_created') - metric(metricsBefore, 'boshgate_bosh_sessions_created'), 1,
            'gateway created exactly one BOSH session (alice)');
          assert.equal(metric(now, 'boshgate_ws_upgrades') - metric(metricsBefore, 'boshgate_ws_upgrades'), 1,
            'gateway accepted exactly one WebSocket upgrade (bob)');
        } else {
          process.stdout.write(`INTEROP_DIRECT=1: pages talked to ${kind}'s own BOSH/WebSocket; no gateway assertions\n`);
        }
        // Nothing but pictures tried to leave 127.0.0.1 (the fullscreen login form shows
        // sponsor logos from conversejs.org; they are aborted), and no script crashed.
        for (const b of Object.values(browsers)) {
          const nonImage = b.blockedRequests.filter((r) => r.type !== 'image');
          assert.deepEqual(nonImage, [], `${b.label}'s page tried to reach the network`);
          assert.deepEqual(b.pageErrors, [], `${b.label}'s page threw`);
        }
        process.stdout.write(`browser (${kind}): login ${tLogin - t0} ms, chat both ways ${tChat - tLogin} ms\n`);
      } catch (e) {
        failed = true;
        throw e;
      }
    });

    // The admin listener's live status page, in Chromium, while alice (BOSH) and bob
    // (WebSocket) are online: it loads nothing from elsewhere (its CSP forbids it), runs
    // without errors, and shows both sessions, the server's domain and drawn charts. The
    // screenshot is kept as an artifact (status-<server>.png).
    test('the admin status page shows the live sessions', { timeout: 2 * UI_MS }, async (t) => {
      if (!world.gateway) {
        t.skip('INTEROP_DIRECT=1: no gateway, no status page');
        return;
      }
      const page = await browsers.alice.context.newPage();
      const problems = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') {
          problems.push(`console error: ${msg.text()}`);
        }
      });
      const png = path.join(ARTIFACTS, `status-${kind}.png`);
      fs.rmSync(png, { force: true });
      try {
        const res = await page.goto(`${world.gateway.adminUrl}/status`, { waitUntil: 'load', timeout: UI_MS });
        assert.equal(res.status(), 200);
        assert.match(res.headers()['content-security-policy'] || '', /default-src 'none'/);
        const numberOf = async (id) => Number(await page.locator(`#${id}`).textContent());
        await page.waitForFunction(() => Number(document.querySelector('#sessions-bosh')?.textContent) >= 1 &&
          Number(document.querySelector('#sessions-websocket')?.textContent) >= 1, null, { timeout: UI_MS, polling: 200 });
        assert.ok((await numberOf('logins-total')) >= 2, 'two logins (alice, bob) counted');
        assert.ok((await numberOf('elements-to-server')) > 0);
        assert.ok((await numberOf('elements-to-client')) > 0);
        assert.equal((await page.locator('#state').textContent()).trim(), 'ready');
        // The upstream domain's row, with both sessions' server streams.
        const row = page.locator(`#domains tr[data-domain="${world.domain}"]`);
        await row.waitFor({ timeout: UI_MS });
        assert.match(await row.textContent(), new RegExp(world.domain.replace(/\./g, '\\.')));
        // Charts are drawn (the history is sampled every 2 s; the gateway has run longer).
        await page.waitForFunction(() => document.querySelectorAll('#chart-sessions svg polyline').length >= 2,
          null, { timeout: UI_MS, polling: 200 });
        await page.screenshot({ path: png, fullPage: true, timeout: 10000 });
        process.stdout.write(`browser (${kind}) status page screenshot: ${png}\n`);
        assert.deepEqual(problems, [], 'the status page ran without errors');
      } catch (e) {
        failed = true;
        await page.screenshot({ path: png, fullPage: true, timeout: 10000 }).catch(() => {});
        throw e;
      } finally {
        await page.close();
      }
    });

    // DISC-1, DISC-2, DISC-4: Converse with discover_connection_methods finds the gateway from
    // carol's JID alone: it fetches https://<domain>/.well-known/host-meta (the gateway's HTTPS
    // listener, Host = the domain), takes the wss:// link and logs in through it.
    if (discovery) {
      test('carol (XEP-0156 discovery) finds the gateway through host-meta and logs in', { timeout: 3 * UI_MS }, async (t) => {
        if (!world.gateway) {
          t.skip('INTEROP_DIRECT=1: the servers serve no host-meta; discovery is a gateway feature');
          return;
        }
        try {
          const hostMetaUrl = `https://${world.domain}/.well-known/host-meta`;
          const wss = `wss://${world.domain}/xmpp-websocket`;
          const hostMeta = browsers.carol.page.waitForResponse((r) => r.url() === hostMetaUrl, { timeout: UI_MS });
          const mark = world.gateway.logMark();
          const carolPage = await openConverse('carol', 'discover');
          // The document the browser got from the gateway's HTTPS listener.
          const meta = await hostMeta;
          assert.equal(meta.status(), 200, `${hostMetaUrl} answered ${meta.status()}`);
          assert.equal((await meta.allHeaders())['access-control-allow-origin'], '*');
          const xrd = await meta.text();
          assert.ok(xrd.includes(`<Link rel='urn:xmpp:alt-connections:websocket' href='${wss}'/>`), xrd);
          assert.ok(xrd.includes(`<Link rel='urn:xmpp:alt-connections:xbosh' href='https://${world.domain}/http-bind'/>`), xrd);
          await expectLoggedIn(carolPage, 'carol', 'alice');
          const probe = await carolPage.evaluate(() => window.boshgateProbe);
          assert.equal(probe.connectedType, 'websocket', `carol's connection: ${JSON.stringify(probe)}`);
          assert.equal(probe.service, wss, 'Converse used the WebSocket URL host-meta listed');
          assert.match(world.gateway.logSince(mark), /WebSocket session open/, 'the gateway served carol\'s WebSocket session');
          assert.deepEqual(browsers.carol.blockedRequests.filter((r) => r.type !== 'image'), [],
            'carol\'s page tried to reach the network');
          assert.deepEqual(browsers.carol.pageErrors, [], 'carol\'s page threw');
        } catch (e) {
          failed = true;
          throw e;
        }
      });
    }
  });
}

// Prosody's world also gets an HTTPS listener on 127.0.0.7:443 for the discovery test (the
// tests run as root; Converse fetches https://<domain>/.well-known/host-meta, default port).
browserScenario('prosody', 'starttls', { discovery: { address: '127.0.0.7', port: 443 } });
browserScenario('ejabberd', 'direct_tls');
