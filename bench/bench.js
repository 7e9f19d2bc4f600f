'use strict';
// The benchmark: one private Prosody data set (per-run CA, N registered users),
// then for each row (connection manager x transport: BOSH or WebSocket) in
// turn a freshly started Prosody, the manager, N then 2N authenticated idle
// sessions, RSS readings and message latency, and a comparison table at the
// end. Started by bench/run.sh.
//
// Reuses the interop harness (interop/lib) for certificates, Prosody, dnsmasq,
// boshgate and process handling. Everything binds to 127.0.0.1; every wait has
// a deadline; every process started here is stopped in `finally` (and listed
// in $BENCH_PIDFILE so run.sh can kill its group if this process is killed).

const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const interop = path.join(__dirname, '..', 'interop', 'lib');
const { makeWorkDir, freePort, startProcess, waitForPort, tail, run } = require(path.join(interop, 'util'));
const { makeCerts } = require(path.join(interop, 'certs'));
const { startProsody } = require(path.join(interop, 'prosody'));
const { startDnsmasq } = require(path.join(interop, 'dnsmasq'));
const { startBoshgate } = require(path.join(interop, 'boshgate'));
const { startEjabberd } = require(path.join(interop, 'ejabberd'));

const { BoshSession } = require('./bosh_load');
const { WsSession, loadWs } = require('./ws_load');
const { TcpSession, loadXmlParser } = require('./tcp_load');
const { sampleRssKb, cpuMs, percentile } = require('./proc_stats');
const { printReport } = require('./report');
const { runThroughputRuns, runRates, routeMessages } = require('./throughput');
const { runFakePhases, printFakeReport } = require('./fake_phases');
const { num, parseOptions } = require('./cli');

const DOMAIN = 'bench.test';
// Rows in their default order. base: which process serves the sessions
// ('prosody' / 'ejabberd' = the server's own endpoint, in-process; 'direct' = no
// manager, the clients are c2s clients of Prosody); transport: the client side.
const ROWS = {
  boshgate: { base: 'boshgate', transport: 'bosh', label: 'boshgate BOSH -> Prosody c2s' },
  'boshgate-ws': { base: 'boshgate', transport: 'ws', label: 'boshgate WebSocket -> Prosody c2s' },
  // tls = "off" to a same-host Prosody whose c2s does not require TLS (STARTTLS optional).
  'boshgate-plain': { base: 'boshgate', transport: 'bosh', tls: 'off', requireEncryption: false, label: 'boshgate BOSH -> Prosody c2s, tls off' },
  'boshgate-ws-plain': { base: 'boshgate', transport: 'ws', tls: 'off', requireEncryption: false, label: 'boshgate WebSocket -> Prosody c2s, tls off' },
  prosody: { base: 'prosody', transport: 'bosh', label: 'Prosody mod_bosh (in-process)' },
  'prosody-ws': { base: 'prosody', transport: 'ws', label: 'Prosody mod_websocket (in-process)' },
  nxb: { base: 'nxb', transport: 'bosh', label: 'node-xmpp-bosh 0.7.10 -> Prosody c2s' },
  // No connection manager: each session is a plain XMPP c2s TCP client of Prosody (the
  // physical limit). Plaintext like the tls-off rows (c2s_require_encryption = false), or
  // STARTTLS (verified against the per-run CA) like the TLS rows.
  direct: { base: 'direct', transport: 'tcp', requireEncryption: false, label: 'direct TCP c2s -> Prosody (no manager), plaintext' },
  'direct-tls': { base: 'direct', transport: 'tcp', starttls: true, label: 'direct TCP c2s -> Prosody (no manager), STARTTLS' },
  // ejabberd's own endpoints (mod_bosh at /http-bind, ejabberd_http_ws at /ws), in-process.
  ejabberd: { base: 'ejabberd', transport: 'bosh', label: 'ejabberd mod_bosh (in-process)' },
  'ejabberd-ws': { base: 'ejabberd', transport: 'ws', label: 'ejabberd ejabberd_http_ws (in-process)' },
  // boshgate in front of ejabberd over its c2s Unix domain socket listener, tls = "off":
  // no DNS, no TCP, no TLS between them (compare with ejabberd's own endpoints).
  'boshgate-ej-unix': { base: 'boshgate', server: 'ejabberd', unix: true, transport: 'bosh', tls: 'off', label: 'boshgate BOSH -> ejabberd c2s over a Unix socket, tls off' },
  'boshgate-ws-ej-unix': { base: 'boshgate', server: 'ejabberd', unix: true, transport: 'ws', tls: 'off', label: 'boshgate WebSocket -> ejabberd c2s over a Unix socket, tls off' },
};
/** The XMPP server behind row `kind`: 'ejabberd' or 'prosody'. */
const serverOf = (kind) => ROWS[kind].server || (ROWS[kind].base === 'ejabberd' ? 'ejabberd' : 'prosody');
const MANAGERS = Object.keys(ROWS);
const TRANSPORTS = { bosh: 'BOSH', ws: 'WebSocket', tcp: 'TCP c2s' };
const LABELS = Object.fromEntries(MANAGERS.map((k) => [k, ROWS[k].label]));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usage() {
  return `usage: bench/run.sh [options]
  --sessions N          idle sessions per manager (default 200; 2N for the marginal figure)
  --messages M          A->B messages timed per manager (default 50)
  --ramp-batch K        sessions started per ramp step (default 20)
  --ramp-interval MS    ms between ramp steps (default 200)
  --wait S              BOSH wait attribute (default 20)
  --no-marginal         skip the second batch of N sessions (RSS at 2N, marginal KB/session)
  --tp-seconds T        throughput phase: --tp-runs runs of T s with 1 pair x 1 in flight,
                        then as many with --pairs x --in-flight (default 5; 0 = off)
  --tp-runs R           runs back to back per throughput or scaling phase; each figure is
                        the median over the runs (default 3)
  --pairs P             sender->receiver pairs in the throughput phase (default 50)
  --in-flight K         messages outstanding per pair in the throughput phase (default 5)
  --only LIST           comma list of: ${MANAGERS.join(',')} (default: all, in that order)
  --scaling-seconds S   boshgate in front of bench/fakexmpp: the --pairs x --in-flight
                        throughput, --tp-runs runs of S s, with 1 and with 2 io threads
                        (default 5; 0 = off)
  --capacity N          boshgate in front of fakexmpp filled with N idle sessions (default 0 =
                        as many as its open-file limit allows, two fds each)
  --capacity-window W   logins in progress at once in the capacity phase (default 400)
  --no-capacity         skip the capacity phase
  --idle-scale N        boshgate in front of fakexmpp, tls off, one transport at a time: RSS
                        at N and 2N idle sessions, marginal KB/session (default 2000; 0 = off)
  --idle-scale-runs R   fresh gateways per transport for --idle-scale, interleaved; the
                        median is the figure (default 3)
  --keep                keep the work dir (always kept when something failed)
  --json FILE           also write the results as JSON to FILE
env: BOSHGATE_BIN (binary; run.sh picks build/release/boshgate or the newest build/*/boshgate)`;
}

function parseArgs(argv) {
  const o = { sessions: 200, messages: 50, rampBatch: 20, rampInterval: 200, wait: 20, only: MANAGERS, keep: false, json: null, marginal: true, tpSeconds: 5, tpRuns: 3, pairs: 50, inFlight: 5, scalingSeconds: 5, capacity: 0, capacityWindow: 400, idleScale: 2000, idleScaleRuns: 3 };
  const count = (v, a) => num(a, v, { int: true });
  parseOptions(argv, {
    '--sessions': (v, a) => { o.sessions = count(v, a); },
    '--messages': (v, a) => { o.messages = count(v, a); },
    '--ramp-batch': (v, a) => { o.rampBatch = Math.max(1, count(v, a)); },
    '--ramp-interval': (v, a) => { o.rampInterval = count(v, a); },
    '--wait': (v, a) => { o.wait = Math.max(1, count(v, a)); },
    '--only': (v) => { o.only = v.split(',').map((s) => s.trim()).filter(Boolean); },
    '--keep': () => { o.keep = true; },
    '--no-marginal': () => { o.marginal = false; },
    '--tp-seconds': (v, a) => { o.tpSeconds = count(v, a); },
    '--tp-runs': (v, a) => { o.tpRuns = Math.max(1, count(v, a)); },
    '--pairs': (v, a) => { o.pairs = Math.max(1, count(v, a)); },
    '--in-flight': (v, a) => { o.inFlight = Math.max(1, count(v, a)); },
    '--json': (v) => { o.json = path.resolve(process.env.BENCH_CALLER_DIR || '.', v); },
    '--scaling-seconds': (v, a) => { o.scalingSeconds = count(v, a); },
    '--capacity': (v, a) => { o.capacity = count(v, a); },
    '--capacity-window': (v, a) => { o.capacityWindow = Math.max(1, count(v, a)); },
    '--idle-scale': (v, a) => { o.idleScale = count(v, a); },
    '--idle-scale-runs': (v, a) => { o.idleScaleRuns = Math.max(1, count(v, a)); },
    '--no-capacity': () => { o.capacity = -1; },
  }, usage);
  for (const m of o.only) {
    if (!MANAGERS.includes(m)) {
      throw new Error(`--only: unknown manager ${m} (known: ${MANAGERS.join(', ')})`);
    }
  }
  if (o.sessions < 2) {
    throw new Error('--sessions must be at least 2 (messages go between two sessions)');
  }
  return o;
}

// ---- process bookkeeping -------------------------------------------------

/** The run's work dir, once made (named in the signal handler's message). */
let workDir = null;

const { track, stopAll, runMain } = require('./tracker').makeTracker('bench');

function log(msg) {
  process.stdout.write(`bench: ${msg}\n`);
}

// ---- setup -----------------------------------------------------------------

const { userName, password, registerUsers, registerEjabberdUsers } = require('./accounts').makeAccounts('bench', DOMAIN);

// ---- one manager -------------------------------------------------------------

/** Rejects after `ms` with `what`; the returned cancel() clears the timer. */
function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} exceeded its ${Math.round(ms / 1000)} s budget`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

function countErrors(sessions) {
  const counts = new Map();
  for (const s of sessions) {
    if (s.error) {
      // Strip per-session ids so equal causes group together.
      const key = s.error.replace(/\b[0-9a-f]{8,}(-[0-9a-f]{4,})*\b/gi, '<id>').slice(0, 240);
      counts.set(key, (counts.get(key) || 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([error, count]) => ({ error, count }));
}

/**
 * The ejabberd rows' data set, made once per run (on the first ejabberd row):
 * a private ejabberd with its HTTP API open on loopback registers the N
 * accounts (accounts.js: registerEjabberdUsers) and is stopped; every row then
 * starts a fresh VM on that mnesia spool, under the same node name (mnesia
 * ties its tables to it). Resolves with { spool, node }; a failure is
 * remembered and fails every ejabberd row with its reason.
 */
function ejabberdData(ctx) {
  if (!ctx.ejabberdData) {
    ctx.ejabberdData = (async () => {
      const base = path.join(ctx.dir, 'ejabberd-data');
      const setupDir = path.join(base, 'setup');
      fs.mkdirSync(setupDir, { recursive: true });
      const data = { spool: path.join(base, 'spool'), node: `bench${process.pid}x${Date.now().toString(36)}@localhost` };
      const t0 = Date.now();
      const ej = await startEjabberd({ dir: setupDir, domain: DOMAIN, cert: ctx.cert, users: [], httpApi: true, ...data });
      const stop = track('ejabberd', ej.pgid(), ej.stop);
      const t1 = Date.now();
      let t2;
      try {
        await registerEjabberdUsers(ej.apiUrl, ctx.opts.sessions);
        t2 = Date.now();
      } catch (e) {
        throw new Error(`registering the ejabberd accounts: ${e.message}`);
      } finally {
        await stop();
      }
      const s = (a, b) => ((b - a) / 1000).toFixed(1);
      log(`ejabberd: ${ctx.opts.sessions} users registered through its HTTP API in ${s(t1, t2)} s `
        + `(set-up VM start ${s(t0, t1)} s, stop ${s(t2, Date.now())} s)`);
      return data;
    })();
  }
  return ctx.ejabberdData;
}

/**
 * The XMPP server of an ejabberd row: a fresh ejabberd on the run's ejabberd
 * data set, shaped like startProsody's result for runManager (pid = the
 * Erlang VM, beam.smp, whose RSS and CPU are measured; trackPid = the process
 * group `ejabberdctl foreground` runs in).
 */
async function startEjabberdServer(ctx, phaseDir) {
  const data = await ejabberdData(ctx);
  const ej = await startEjabberd({ dir: phaseDir, domain: DOMAIN, cert: ctx.cert, users: [], ...data });
  const pid = ej.beamPid();
  let comm = '';
  try {
    comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch (_) {
    // checked below
  }
  if (!pid || !comm.startsWith('beam')) {
    await ej.stop();
    throw new Error(`ejabberd started, but its pid file names no running beam.smp (pid ${pid}, comm ${JSON.stringify(comm)})`);
  }
  return { ...ej, pid, trackPid: ej.pgid(), alive: ej.alive };
}

/**
 * Starts the manager of row `kind` in front of (or inside) `prosody` (for the
 * ejabberd rows: the row's ejabberd). Resolves with { url (of the row's
 * transport), pid (null: no manager process), stop, logs, alive, sessionOpts
 * (extra options of the row's load sessions, if any) } or throws with the
 * reason it cannot run.
 */
async function startManager(kind, ctx, prosody, phaseDir) {
  const { base, transport } = ROWS[kind];
  if (base === 'prosody' || base === 'ejabberd') {
    return { url: transport === 'ws' ? prosody.wsUrl : prosody.boshUrl, pid: prosody.pid, logs: prosody.logs, alive: prosody.alive, stop: async () => {} };
  }
  if (base === 'direct') {
    // No manager: the load clients connect to Prosody's c2s port themselves.
    const starttls = Boolean(ROWS[kind].starttls);
    return {
      url: `xmpp://127.0.0.1:${prosody.c2sPort}`, pid: null, logs: [], alive: prosody.alive, stop: async () => {},
      sessionOpts: { starttls, ca: starttls ? fs.readFileSync(ctx.caFile) : null },
    };
  }
  if (base === 'boshgate') {
    if (!ctx.boshgateBin) {
      throw new Error('no boshgate binary: set BOSHGATE_BIN or build build/release/boshgate');
    }
    if (ROWS[kind].unix) {
      // A static unix: target: no DNS server needed.
      const gw = await startBoshgate({
        bin: ctx.boshgateBin,
        dir: phaseDir,
        caFile: ctx.caFile,
        domains: [{ name: DOMAIN, tls: ROWS[kind].tls, address: `unix:${prosody.c2sUnix}` }],
        logLevel: 'info',
      });
      const stopGw = track('boshgate', gw.pid, gw.stop);
      return { url: transport === 'ws' ? gw.wsUrl : gw.url, pid: gw.pid, logs: gw.logs, alive: gw.alive, stop: stopGw };
    }
    const target = `xmpp-1.${DOMAIN}`;
    const dns = await startDnsmasq({
      dir: phaseDir,
      zones: [DOMAIN],
      srv: [{ name: `_xmpp-client._tcp.${DOMAIN}`, target, port: prosody.c2sPort, priority: 10, weight: 10 }],
      a: [{ name: target, address: '127.0.0.1' }],
    });
    const stopDns = track('dnsmasq', dns.pid, dns.stop);
    let gw;
    try {
      gw = await startBoshgate({
        bin: ctx.boshgateBin,
        dir: phaseDir,
        caFile: ctx.caFile,
        dnsServer: dns.server,
        domains: [{ name: DOMAIN, tls: ROWS[kind].tls }],
        logLevel: 'info',
      });
    } catch (e) {
      await stopDns();
      throw e;
    }
    const stopGw = track('boshgate', gw.pid, gw.stop);
    return {
      url: transport === 'ws' ? gw.wsUrl : gw.url,
      pid: gw.pid,
      logs: [...gw.logs, ...dns.logs],
      alive: gw.alive,
      stop: async () => {
        await stopGw();
        await stopDns();
      },
    };
  }
  // node-xmpp-bosh
  if (ctx.nxbUnavailable) {
    throw new Error(ctx.nxbUnavailable);
  }
  const dns = await startDnsmasq({
    dir: phaseDir,
    zones: [DOMAIN],
    // node-xmpp-bosh resolves the SRV target with getaddrinfo (dns.lookup), so
    // the target must be a name /etc/hosts knows.
    srv: [{ name: `_xmpp-client._tcp.${DOMAIN}`, target: 'localhost', port: prosody.c2sPort, priority: 10, weight: 10 }],
  });
  const stopDns = track('dnsmasq', dns.pid, dns.stop);
  const port = await freePort();
  const logFile = path.join(phaseDir, 'node-xmpp-bosh.log');
  const proc = startProcess(process.execPath, [path.join(__dirname, 'nxb_launcher.js'), JSON.stringify({ port, dnsServer: dns.server, logging: 'INFO' })],
    { logFile, cwd: __dirname });
  const stopNxb = track('node-xmpp-bosh', proc.child.pid, () => proc.stop());
  try {
    await waitForPort(port, '127.0.0.1', 30000, proc.exited);
  } catch (e) {
    await stopNxb();
    await stopDns();
    throw new Error(`node-xmpp-bosh did not start: ${e.message}\n--- tail of ${logFile} ---\n${tail(logFile, 20)}`);
  }
  return {
    url: `http://127.0.0.1:${port}/http-bind`,
    pid: proc.child.pid,
    logs: [logFile, ...dns.logs],
    alive: proc.exited,
    stop: async () => {
      await stopNxb();
      await stopDns();
    },
  };
}

/**
 * Starts `count` logins (sessions first..first+count-1 on users 0..count-1,
 * resources `${prefix}${i}`), ramped like o.rampBatch per o.rampInterval ms,
 * each with a 30 s deadline and then idle. Appends the sessions to `sessions`
 * and resolves with the latencies (ms) of the logins that succeeded.
 */
async function loginBatch({ kind, url, o, sessions, count, prefix, isCancelled, sessionOpts = {} }) {
  const Session = { ws: WsSession, tcp: TcpSession }[ROWS[kind].transport] || BoshSession;
  const logins = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % o.rampBatch === 0) {
      await sleep(o.rampInterval);
    }
    if (isCancelled()) {
      break;
    }
    const s = new Session({ url, domain: DOMAIN, user: userName(i), password: password(i), wait: o.wait, resource: `${prefix}${i}`, ...sessionOpts });
    sessions.push(s);
    const d = deadline(30000, 'login');
    logins.push(Promise.race([s.login(), d.promise]).then((ms) => {
      d.cancel();
      s.startIdle();
      return ms;
    }, (e) => {
      d.cancel();
      s.error = s.error || `${s.step || 'login'}: ${e.message}`;
      s.abort();
      return null;
    }));
  }
  return (await Promise.all(logins)).filter((t) => t !== null);
}

/**
 * Login figures of one batch (`times`: latencies of the logins that succeeded
 * out of `count`; `batch`: its sessions): { ok, p50, p95, errors } with the
 * errors grouped by cause; logged with the three commonest causes.
 */
function loginStats(times, count, batch, prefix = '') {
  const st = { ok: times.length, p50: percentile(times, 50), p95: percentile(times, 95), errors: countErrors(batch) };
  log(`${prefix}logins ${st.ok}/${count}, p50 ${fmtMs(st.p50)}, p95 ${fmtMs(st.p95)}`);
  for (const e of st.errors.slice(0, 3)) {
    log(`  login error x${e.count}: ${e.error}`);
  }
  return st;
}

/** Runs the N-session scenario against one manager; never throws (failures go into the result). */
async function runManager(kind, ctx) {
  const o = ctx.opts;
  const { base, transport } = ROWS[kind];
  const inProc = base === 'prosody' || base === 'ejabberd';
  const noMgr = base === 'direct'; // no manager process: its figures do not apply (null)
  const r = {
    kind,
    label: LABELS[kind],
    transport: TRANSPORTS[transport],
    inProcess: inProc,
    noManager: noMgr,
    server: serverOf(kind) === 'ejabberd' ? 'ejabberd' : 'Prosody', // the XMPP server (prosody* fields: its figures)
    status: 'ok',
    error: null,
    attempted: o.sessions,
    attempted2: o.marginal ? o.sessions : 0,
    loginsOk: 0,
    loginsOk2: 0,
    loginP50: null,
    loginP95: null,
    login2P50: null,
    login2P95: null,
    held: null,
    held2: null,
    mgrRssIdleKb: null,
    mgrRssLoadedKb: null,
    mgrRss2Kb: null,
    prosodyRssIdleKb: null,
    prosodyRssLoadedKb: null,
    prosodyRss2Kb: null,
    mgrCpuLoginMs: null,
    prosodyCpuLoginMs: null,
    msgSent: 0,
    msgReceived: 0,
    msgHeld: null,
    msgP50: null,
    msgP95: null,
    tp1: null, // throughput phase, 1 pair x 1 in flight (throughput.js)
    tpN: null, // throughput phase, --pairs x --in-flight
    loginErrors: [],
    idleErrors: [],
    logs: [],
    notes: [],
  };
  if (base === 'boshgate' && ctx.boshgateBin && ctx.boshgateInfo) {
    r.notes.push(ctx.boshgateInfo);
  }
  if (base === 'nxb') {
    r.notes.push('upstream STARTTLS without certificate verification (its helper ignores the result); '
      + 'crypto.createCredentials shimmed to tls.createSecureContext; route ignored, reached via SRV');
  }
  if (noMgr) {
    r.notes.push(`no connection manager: each session is its own c2s TCP connection to Prosody (${ROWS[kind].starttls
      ? 'STARTTLS, certificate verified' : 'plaintext, c2s_require_encryption = false'}); the RSS column is Prosody's, `
      + 'the manager columns and CPU do not apply (n/a)');
  }
  if (serverOf(kind) === 'ejabberd' && !ctx.ejabberdUnavailable) {
    r.notes.push(`ejabberd ${(ctx.versions && ctx.versions.ejabberd) || '?'}: RSS and CPU of its Erlang VM (beam.smp); `
      + 'accounts stored as SCRAM-SHA-1 (4096 iterations), registered once per run through its HTTP API');
  }
  const unavailable = base === 'boshgate' && !ctx.boshgateBin
    ? `no boshgate binary (${ctx.boshgateInfo || 'set BOSHGATE_BIN or build build/release/boshgate'})`
    : base === 'nxb' ? ctx.nxbUnavailable
      : serverOf(kind) === 'ejabberd' && ctx.ejabberdUnavailable ? ctx.ejabberdUnavailable
        : transport === 'ws' ? ctx.wsUnavailable
          : transport === 'tcp' ? ctx.tcpUnavailable : null;
  if (unavailable) {
    r.status = 'not measured';
    r.error = unavailable;
    log(`--- ${LABELS[kind]}: NOT MEASURED: ${unavailable}`);
    return r;
  }
  const phaseDir = path.join(ctx.dir, kind);
  fs.mkdirSync(phaseDir, { recursive: true });
  const sessions = [];
  const stops = [];
  const budgetMs = 90000 + (o.sessions + r.attempted2) * 400 + o.messages * 2000 + o.tpSeconds * o.tpRuns * 2000 + (o.tpSeconds ? 30000 : 0);
  const limit = deadline(budgetMs, `the ${kind} run`);
  let cancelled = false;
  limit.promise.catch(() => {
    cancelled = true;
  });
  const isCancelled = () => cancelled;
  log(`--- ${LABELS[kind]}: ${o.sessions}${o.marginal ? ` + ${o.sessions}` : ''} sessions, ${o.messages} messages (budget ${Math.round(budgetMs / 1000)} s)`);
  let inner = null;
  try {
    inner = (async () => {
      // The XMPP server: Prosody, or for the ejabberd rows ejabberd (same interface).
      const prosody = serverOf(kind) === 'ejabberd' ? await startEjabberdServer(ctx, phaseDir) : await startProsody({
        dir: ctx.dir, domain: DOMAIN, cert: ctx.cert, users: [], logLevel: 'info', requireEncryption: ROWS[kind].requireEncryption ?? true,
      });
      stops.push(track(prosody.kind, prosody.trackPid || prosody.pid, prosody.stop));
      r.logs.push(...prosody.logs);
      if (cancelled) {
        throw new Error('cancelled');
      }
      const mgr = await startManager(kind, ctx, prosody, phaseDir);
      stops.push(mgr.stop);
      if (cancelled) {
        throw new Error('cancelled');
      }
      if (!inProc) {
        r.logs.push(...mgr.logs);
      }
      const readRss = async () => {
        const m = noMgr ? null : await sampleRssKb(mgr.pid);
        return [m, inProc ? m : await sampleRssKb(prosody.pid)];
      };
      const rssLine = (mgrKb, prosodyKb) => `${noMgr ? 'no manager' : `manager ${fmtKb(mgrKb)}`}${inProc ? '' : `, Prosody ${fmtKb(prosodyKb)}`}`;
      // Let start-up work (module loading, JIT, caches) finish before the idle reading.
      await sleep(1500);
      [r.mgrRssIdleKb, r.prosodyRssIdleKb] = await readRss();
      log(`idle RSS: ${rssLine(r.mgrRssIdleKb, r.prosodyRssIdleKb)}`);

      // Logins: ramp of rampBatch sessions every rampInterval ms, each then held idle.
      const cpuMgr0 = cpuMs(mgr.pid);
      const cpuPro0 = cpuMs(prosody.pid);
      const times = await loginBatch({ kind, url: mgr.url, o, sessions, count: o.sessions, prefix: 'b', isCancelled, sessionOpts: mgr.sessionOpts });
      const cpuMgr1 = cpuMs(mgr.pid);
      const cpuPro1 = cpuMs(prosody.pid);
      ({ ok: r.loginsOk, p50: r.loginP50, p95: r.loginP95, errors: r.loginErrors } = loginStats(times, o.sessions, sessions));
      if (cpuMgr0 !== null && cpuMgr1 !== null) {
        r.mgrCpuLoginMs = cpuMgr1 - cpuMgr0;
      }
      if (cpuPro0 !== null && cpuPro1 !== null) {
        r.prosodyCpuLoginMs = cpuPro1 - cpuPro0;
      }
      const heldNow = () => sessions.filter((s) => s.jid && !s.error).length;

      // Idle with every session held (BOSH: one held request each), then the loaded reading.
      await sleep(2000);
      r.held = heldNow();
      [r.mgrRssLoadedKb, r.prosodyRssLoadedKb] = await readRss();
      log(`with ${r.held} idle sessions: ${rssLine(r.mgrRssLoadedKb, r.prosodyRssLoadedKb)}`);

      // Marginal cost: N more sessions (same accounts, second resource), then RSS at 2N.
      if (o.marginal && !cancelled && r.loginsOk > 0) {
        const first = sessions.length;
        const times2 = await loginBatch({ kind, url: mgr.url, o, sessions, count: o.sessions, prefix: 'c', isCancelled, sessionOpts: mgr.sessionOpts });
        ({ ok: r.loginsOk2, p50: r.login2P50, p95: r.login2P95 } = loginStats(times2, o.sessions, sessions.slice(first), 'second batch: '));
        r.loginErrors = countErrors(sessions);
        await sleep(2000);
        r.held2 = heldNow();
        [r.mgrRss2Kb, r.prosodyRss2Kb] = await readRss();
        log(`with ${r.held2} idle sessions: ${rssLine(r.mgrRss2Kb, r.prosodyRss2Kb)}`);
      }

      // Messages A -> B between held sessions, one at a time.
      const ok = sessions.filter((s) => s.jid && !s.error);
      r.msgHeld = ok.length;
      if (ok.length >= 2 && o.messages > 0) {
        const waiters = routeMessages(ok);
        const lat = [];
        for (let i = 0; i < o.messages && !cancelled; i++) {
          const a = ok[(2 * i) % ok.length];
          const b = ok[(2 * i + 1) % ok.length];
          if (a.error || b.error) {
            continue;
          }
          const id = `benchmsg-${i}`;
          let timer;
          const got = new Promise((resolve) => {
            waiters.set(id, resolve);
            timer = setTimeout(() => resolve(null), 10000);
          });
          const t0 = performance.now();
          a.send(`<message to='${b.jid}' type='chat' id='${id}' xmlns='jabber:client'><body>bench ${i}</body></message>`);
          r.msgSent++;
          const t1 = await got;
          clearTimeout(timer);
          waiters.delete(id);
          if (t1 !== null) {
            r.msgReceived++;
            lat.push(t1 - t0);
          }
          await sleep(20);
        }
        r.msgP50 = percentile(lat, 50);
        r.msgP95 = percentile(lat, 95);
        log(`messages ${r.msgReceived}/${r.msgSent} (${ok.length} sessions held), p50 ${fmtMs(r.msgP50)}, p95 ${fmtMs(r.msgP95)}`);
      }
      // Throughput (issue 9): 1 pair x 1 in flight, then --pairs x --in-flight, while every
      // session stays held.
      if (o.tpSeconds > 0 && !cancelled) {
        const live = sessions.filter((s) => s.jid && !s.error);
        for (const [key, pairs, inFlight] of [['tp1', 1, 1], ['tpN', o.pairs, o.inFlight]]) {
          const t = await runThroughputRuns({
            sessions: live, pairs, inFlight, seconds: o.tpSeconds, runs: o.tpRuns, mgrPid: mgr.pid,
            prosodyPid: inProc ? null : prosody.pid, isCancelled, tag: key,
          });
          r[key] = t;
          if (t) {
            const cpuPer = (v) => (v === null ? 'n/a' : `${v.toFixed(3)} ms`);
            const each = runRates(t) ? ` (runs ${runRates(t)})` : '';
            log(`throughput ${t.pairs} pair(s) x ${t.inFlight}: ${t.received}/${t.sent} in ${t.seconds.toFixed(1)} s, median ${t.rate.toFixed(0)} msgs/s${each}, `
              + `RTT p50 ${fmtMs(t.p50)} p99 ${fmtMs(t.p99)}; CPU per message: manager ${cpuPer(t.mgrMsPerMsg)}`
              + `${inProc ? '' : `, Prosody ${cpuPer(t.prosodyMsPerMsg)}`}; load generator ${t.genCpuPct.toFixed(0)} % of a core`);
          }
        }
      }
      r.idleErrors = countErrors(sessions.filter((s) => s.jid)).filter((e) => e.error.startsWith('idle:'));
      for (const e of r.idleErrors.slice(0, 3)) {
        log(`  idle error x${e.count}: ${e.error}`);
      }
      const alive = mgr.alive();
      if (alive !== true) {
        throw new Error(`the manager process exited during the run (${alive})`);
      }
      if (r.loginsOk === 0) {
        throw new Error(`no login succeeded; first error: ${r.loginErrors.length ? r.loginErrors[0].error : 'unknown'}`);
      }
    })();
    await Promise.race([limit.promise, inner]);
  } catch (e) {
    r.status = 'failed';
    r.error = e.message;
    log(`FAILED: ${e.message}`);
  } finally {
    limit.cancel();
    if (r.status === 'failed') {
      // Now, before the next run appends to the shared Prosody log.
      r.logTails = r.logs.filter((f) => !f.endsWith('.stdout')).map((f) => ({ file: f, text: tail(f, 15) }));
    }
    // Terminate sessions (bounded), then stop the manager and Prosody.
    if (cancelled) {
      // Over budget: drop the sessions so the scenario code fails fast, and
      // let it settle (its own waits are bounded) before stopping processes.
      for (const s of sessions) {
        s.abort();
      }
      const settle = deadline(70000, 'settling');
      await Promise.race([inner.catch(() => {}), settle.promise.catch(() => {})]);
      settle.cancel();
    }
    const pending = sessions.filter((s) => !s.closed);
    for (let i = 0; i < pending.length; i += 50) {
      await Promise.all(pending.slice(i, i + 50).map((s) => s.close(3000)));
    }
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (e) {
        process.stderr.write(`bench: teardown: ${e.message}\n`);
      }
    }
  }
  return r;
}

function fmtKb(kb) {
  return kb === null ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`;
}

function fmtMs(ms) {
  return ms === null ? 'n/a' : `${ms.toFixed(0)} ms`;
}

/** "release" / "debug, sanitize=address" etc. from the binary's CMakeCache.txt, if found. */
function describeBinary(bin) {
  for (let d = path.dirname(bin), i = 0; i < 3; i++, d = path.dirname(d)) {
    const cache = path.join(d, 'CMakeCache.txt');
    if (fs.existsSync(cache)) {
      const text = fs.readFileSync(cache, 'utf8');
      const type = (/^CMAKE_BUILD_TYPE:\w+=(.*)$/m.exec(text) || [])[1] || '(none)';
      const san = (/^BOSHGATE_SANITIZE:\w+=(.*)$/m.exec(text) || [])[1] || '';
      const slow = san ? `, sanitizers=${san}: memory and latency figures are inflated`
        : /^(Release|RelWithDebInfo|MinSizeRel)$/.test(type) ? '' : ': not an optimised build';
      return `binary ${bin} (CMAKE_BUILD_TYPE=${type}${slow})`;
    }
  }
  return `binary ${bin}`;
}

// ---- main -------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = { opts };
  if (process.env.BOSHGATE_BIN) {
    ctx.boshgateBin = path.resolve(process.env.BOSHGATE_BIN);
    if (!fs.existsSync(ctx.boshgateBin)) {
      ctx.boshgateBin = null;
      ctx.boshgateInfo = `BOSHGATE_BIN=${process.env.BOSHGATE_BIN} does not exist`;
    } else {
      ctx.boshgateInfo = describeBinary(ctx.boshgateBin);
    }
  }
  if (process.env.BENCH_NXB_INSTALL_ERROR) {
    ctx.nxbUnavailable = `node-xmpp-bosh could not be installed: ${process.env.BENCH_NXB_INSTALL_ERROR}`;
  } else {
    try {
      require.resolve('node-xmpp-bosh', { paths: [__dirname] });
      require('node-expat'); // the native addon must load, not just exist
    } catch (e) {
      ctx.nxbUnavailable = `node-xmpp-bosh is not usable from bench/node_modules (run npm ci in bench/): ${e.message.split('\n')[0]}`;
    }
  }

  try {
    loadWs();
  } catch (e) {
    ctx.wsUnavailable = e.message;
  }
  try {
    loadXmlParser();
  } catch (e) {
    ctx.tcpUnavailable = e.message;
  }
  // ejabberd rows: the package (ejabberdctl and its system user) must be there.
  const ejabberdctl = (process.env.PATH || '').split(':').map((d) => path.join(d || '.', 'ejabberdctl')).find((f) => fs.existsSync(f));
  if (!ejabberdctl || !/^ejabberd:/m.test(fs.readFileSync('/etc/passwd', 'utf8'))) {
    ctx.ejabberdUnavailable = `ejabberd is not installed (${ejabberdctl ? 'no ejabberd user' : 'no ejabberdctl in PATH'}; tests/bootstrap.sh installs it)`;
  }

  const dir = makeWorkDir('boshgate-bench');
  ctx.dir = dir;
  workDir = dir;
  log(`work dir ${dir}`);
  const load0 = require('node:os').loadavg();
  if (load0[0] > 1) {
    log(`warning: load average ${load0.map((v) => v.toFixed(2)).join(' ')} before the start: other work competes for the ${require('node:os').cpus().length} CPUs and inflates latencies`);
  }
  const started = Date.now();
  let failed = false;
  const results = [];
  let fakePhases = {};
  try {
    const certs = makeCerts(path.join(dir, 'certs'), [DOMAIN]);
    ctx.caFile = certs.caFile;
    ctx.cert = certs.domains[DOMAIN];
    // One data set for every run: start Prosody once to register the users.
    log(`registering ${opts.sessions} users with prosodyctl`);
    const setup = await startProsody({ dir, domain: DOMAIN, cert: ctx.cert, users: [], logLevel: 'info' });
    const stopSetup = track('prosody', setup.pid, setup.stop);
    const t0 = Date.now();
    try {
      await registerUsers(setup.configFile, opts.sessions);
    } finally {
      await stopSetup();
    }
    log(`registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const versions = {
      prosody: (() => {
        try {
          return run('dpkg-query', ['-W', '-f=${Version}', 'prosody']).trim();
        } catch (_) {
          return 'unknown';
        }
      })(),
      node: process.version,
    };
    if (opts.only.some((k) => serverOf(k) === 'ejabberd') && !ctx.ejabberdUnavailable) {
      try {
        versions.ejabberd = run('dpkg-query', ['-W', '-f=${Version}', 'ejabberd']).trim();
      } catch (_) {
        versions.ejabberd = 'unknown';
      }
    }
    ctx.versions = versions;

    for (const kind of opts.only) {
      const r = await runManager(kind, ctx);
      if (r.status === 'failed') {
        failed = true;
      }
      results.push(r);
    }
    // Scaling (1 vs 2 io threads) and capacity, in front of bench/fakexmpp (fake_phases.js).
    ctx.track = track;
    fakePhases = await runFakePhases({ ctx, domain: DOMAIN, log });
    if (Object.values(fakePhases).some((p) => p && p.status === 'failed')) {
      failed = true;
    }
  } catch (e) {
    failed = true;
    log(`setup FAILED: ${e.message}`);
    results.push({ kind: 'setup', label: 'setup', status: 'failed', error: e.message, notes: [], logs: [] });
  } finally {
    await stopAll();
  }
  printReport({ opts, results, versions: ctx.versions || {}, elapsedS: (Date.now() - started) / 1000, dir, allKinds: MANAGERS });
  printFakeReport(fakePhases);
  if (opts.json) {
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    fs.writeFileSync(opts.json, `${JSON.stringify({ opts, versions: ctx.versions, results, ...fakePhases }, null, 2)}\n`);
    log(`results written to ${opts.json}`);
    try { // plots next to the JSON (bench/plot.js, gnuplot); never changes the exit status
      const { files, skipped } = require('./plot').plotResults({ opts, versions: ctx.versions, results, ...fakePhases }, opts.json.replace(/\.json$/i, ''));
      log(`plots written: ${files.join(' ')}${skipped.length ? ` (not drawn: ${skipped.join('; ')})` : ''}`);
    } catch (e) {
      log(`plots NOT written: ${e.message}`);
    }
  }
  if (failed || opts.keep) {
    log(`work dir kept: ${dir}`);
    for (const r of results.filter((x) => x.status === 'failed')) {
      for (const { file, text } of r.logTails || []) {
        process.stdout.write(`--- ${r.kind}: tail of ${file} (at the end of its run) ---\n${text}\n`);
      }
    }
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Exit status: 0 = every manager asked for was measured or reported as not
  // measured (with the reason); 1 = a manager or the setup failed (see table).
  return failed ? 1 : 0;
}

runMain(main, () => workDir);
