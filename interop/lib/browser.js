'use strict';
// Launches and closes Debian's Chromium for the browser interop test, through
// playwright-core (no bundled browser download: executablePath is required).
//
// One launch = one Chromium process with its own fresh profile directory
// (launchPersistentContext), so two users in two launches share no storage,
// cookies, IndexedDB or HTTP connection pool. Every request that leaves
// 127.0.0.1 is aborted and recorded, which keeps the run deterministic on a
// machine without internet and shows when the client tried to reach out.

const fs = require('node:fs');
const path = require('node:path');

/** Debian's package `chromium`; CHROMIUM_BIN overrides it. */
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** Flags for a quiet, hermetic headless run as root in a container. */
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--no-default-browser-check',
  '--password-store=basic',
];

/** Loopback origins the pages may talk to; anything else is aborted. */
function isLoopbackUrl(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'blob:') {
      return true;
    }
    return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  } catch (_) {
    return false;
  }
}

/** The host name of `url`, '' when it has none. */
function hostOf(url) {
  try {
    return new URL(url).hostname;
  } catch (_) {
    return '';
  }
}

/**
 * Loads playwright-core or throws an error that says what to install.
 * (A missing package must fail the test loudly, never skip it.)
 */
function loadPlaywright() {
  try {
    return require('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed (run tests/bootstrap.sh or npm ci in interop/): ${e.message}`);
  }
}

/**
 * Starts one Chromium with a fresh profile at `profileDir` (created; must not
 * be shared) and opens one page. `label` names the user in logs.
 *
 * Resolves with { label, context, page, consoleLines, blockedRequests
 * ([{ url, type }], type = Playwright resource type), pageErrors, close() }. consoleLines collects every console message and page
 * error with a timestamp relative to launch; close() is idempotent.
 * Rejects with the reason (missing binary, crash on start) if Chromium cannot start.
 */
/**
 * hostMap (optional): { 'name.test': '127.0.0.7', ... } resolves those names to those
 * loopback addresses inside Chromium (--host-resolver-rules), lets the page reach them, and
 * accepts their certificates (issued by the interop's throwaway test CA, which this fresh
 * profile does not know).
 */
async function launchBrowser({ label, profileDir, viewport = { width: 1280, height: 800 }, hostMap = null }) {
  if (!fs.existsSync(CHROMIUM_BIN)) {
    throw new Error(`Chromium not found at ${CHROMIUM_BIN}: install the Debian package 'chromium' (tests/bootstrap.sh)`);
  }
  const { chromium } = loadPlaywright();
  fs.mkdirSync(profileDir, { recursive: true });
  const t0 = Date.now();
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: hostMap
        ? [...CHROMIUM_ARGS, `--host-resolver-rules=${Object.entries(hostMap).map(([h, a]) => `MAP ${h} ${a}`).join(', ')}`]
        : CHROMIUM_ARGS,
      ignoreHTTPSErrors: Boolean(hostMap),
      viewport,
      locale: 'en-US',
      timezoneId: 'UTC',
      timeout: 30000,
      // Chromium's own stderr goes nowhere unless asked for (very noisy as root in a container).
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'disabled:' },
    });
  } catch (e) {
    throw new Error(`Chromium (${CHROMIUM_BIN}) failed to start for ${label}: ${e.message}`);
  }
  const consoleLines = [];
  const blockedRequests = [];
  const pageErrors = [];
  const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(3)}s`;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url) || (hostMap && Object.hasOwn(hostMap, hostOf(url)))) {
      return route.continue();
    }
    const type = route.request().resourceType();
    blockedRequests.push({ url, type });
    consoleLines.push(`${stamp()} [blocked ${type}] ${url}`);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => consoleLines.push(`${stamp()} [${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => {
    pageErrors.push(err.message);
    consoleLines.push(`${stamp()} [pageerror] ${err.stack || err.message}`);
  });
  page.on('requestfailed', (req) => {
    consoleLines.push(`${stamp()} [requestfailed] ${req.method()} ${req.url()} ${req.failure()?.errorText || ''}`);
  });
  page.on('websocket', (ws) => {
    consoleLines.push(`${stamp()} [websocket] open ${ws.url()}`);
    ws.on('close', () => consoleLines.push(`${stamp()} [websocket] closed ${ws.url()}`));
    ws.on('socketerror', (err) => consoleLines.push(`${stamp()} [websocket] error ${err}`));
  });
  let closed = null;
  return {
    label,
    context,
    page,
    consoleLines,
    blockedRequests,
    pageErrors,
    /** Closes the browser; safe to call more than once. */
    close() {
      if (!closed) {
        closed = context.close().catch((e) => process.stderr.write(`browser ${label}: close failed: ${e.message}\n`));
      }
      return closed;
    },
  };
}

/**
 * Saves a full-page screenshot of `b.page` as `<dir>/<name>.png` and, with
 * withConsole, the console log as `<dir>/<name>.console.log`. Resolves with
 * the paths written; never throws (a failed screenshot is reported in the list).
 */
async function saveArtifacts(b, dir, name, { withConsole = false } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const out = [];
  const png = path.join(dir, `${name}.png`);
  try {
    await b.page.screenshot({ path: png, fullPage: true, timeout: 10000 });
    out.push(png);
  } catch (e) {
    out.push(`(screenshot ${png} failed: ${e.message})`);
  }
  if (withConsole) {
    const log = path.join(dir, `${name}.console.log`);
    fs.writeFileSync(log, `${b.consoleLines.join('\n')}\n`);
    out.push(log);
  }
  return out;
}

module.exports = { launchBrowser, saveArtifacts, CHROMIUM_BIN, CHROMIUM_ARGS, isLoopbackUrl };
