'use strict';
// The three phases of bench.js that put boshgate in front of bench/fakexmpp (a
// fast, minimal XMPP c2s server in C++) instead of Prosody, so that the gateway
// is the part being measured (issue 9, "Both cores" and "Capacity"):
//
//  - scaling: the throughput phase (throughput.js, P pairs x K in flight for S
//    seconds) with the gateway on 1 and then 2 io threads, BOSH and WebSocket;
//    the figure is the ratio of delivered msgs/s, 2 threads / 1 thread. CPU per
//    message of the gateway, of fakexmpp and of this load generator are given
//    next to it, so a run limited by something other than the gateway shows it.
//  - capacity: one gateway (2 io threads, tls = "off" loopback upstream) filled
//    with idle sessions up to its open-file limit (two sockets per session: the
//    client's and the server's), half BOSH (one held request, one connection)
//    and half WebSocket, logged in as fast as the load generator can with a
//    window of concurrent logins; at 10 %, 50 % and 100 % of the target: RSS,
//    open fds, and the gateway's CPU while idle (BOSH re-polls every `wait`
//    seconds included, nothing else should cost anything).
//  - idle at scale: one transport at a time, a fresh gateway (1 io thread, tls =
//    "off") filled with N and then 2N idle sessions (N = 2,000 by default): the
//    marginal KB/session of issue 9's memory goal, at a size where allocator
//    steps do not swamp it; median of --idle-scale-runs interleaved runs.
//
// All need `fakexmpp` (built next to boshgate: FAKEXMPP_BIN, else the
// directory of the boshgate binary). Without it the phases are NOT MEASURED
// with the reason, like a row. The capacity phase logs in with `capload`
// (bench/capload, a C++ client that costs a fraction of the Node clients' CPU
// per login and per message; CAPLOAD_BIN, else next to boshgate), and the
// scaling phase runs its exchange in it (--transport bosh / ws); both fall back
// to the Node clients (bosh_load.js, ws_load.js) without it; the report names which.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const interop = path.join(__dirname, '..', 'interop', 'lib');
const { startProcess, waitForLogLine } = require(path.join(interop, 'util'));
const { startBoshgate } = require(path.join(interop, 'boshgate'));
const { BoshSession } = require('./bosh_load');
const { WsSession } = require('./ws_load');
const { settleWithin } = require('./load_session');
const { runThroughputRuns, runRates, runFigures, mgrCpuPairs } = require('./throughput');
const { cpuMs, cpuTimesMs, sampleRssKb, rssKb, fdCount, median } = require('./proc_stats');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Soft RLIMIT_NOFILE of `pid` (/proc/<pid>/limits); null if unreadable. */
function nofileOf(pid) {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch (_) {
    return null;
  }
}

/**
 * A bench tool built with the gateway (`fakexmpp`, `capload`): the path in `envVar`
 * (run.sh makes it absolute), else next to the boshgate binary; { bin } or
 * { bin: null, why } when absent.
 */
function findTool(name, envVar, boshgateBin) {
  const candidate = process.env[envVar] ? path.resolve(process.env[envVar])
    : boshgateBin ? path.join(path.dirname(boshgateBin), name) : null;
  if (candidate && fs.existsSync(candidate)) {
    return { bin: candidate };
  }
  return { bin: null, why: candidate ? `no ${name} at ${candidate} (build target ${name}, or set ${envVar})` : 'no boshgate binary' };
}

/** `stop` registered with bench.js's tracker (stopped on INT/TERM too) when there is one. */
function tracked(ctx, name, pid, stop) {
  return ctx.track ? ctx.track(name, pid, stop) : stop;
}

async function startFake({ ctx, bin, dir, threads, domain, tag }) {
  const logFile = path.join(dir, `fakexmpp-${tag}.log`);
  const proc = startProcess(bin, ['--port', '0', '--threads', String(threads), '--domain', domain], { logFile, cwd: dir });
  const stop = tracked(ctx, 'fakexmpp', proc.child.pid, () => proc.stop());
  try {
    const m = await waitForLogLine(logFile, /listening on [0-9.]+:(\d+)/, 10000, proc.exited);
    return { pid: proc.child.pid, port: Number(m[1]), logFile, stop };
  } catch (e) {
    await stop();
    throw new Error(`fakexmpp did not start: ${e.message}`);
  }
}

/**
 * capload (bench/capload) against gateway `gw`, driven over its stdin / stdout
 * (`transport`: 'mixed' for capacity, 'bosh' or 'ws' for sessions that can send):
 * cmd(line) sends one command and resolves with its one-line reply (replies
 * come in order); stop() closes its sessions, ends its stdin and waits for it
 * to exit (killed if it does not within 5 s). Its stderr goes to
 * `dir`/capload.log.
 */
async function startCapload({ ctx, bin, dir, gw, domain, window, wait, transport = 'mixed' }) {
  const bosh = new URL(gw.url);
  const ws = new URL(gw.wsUrl);
  const args = ['--host', bosh.hostname, '--port', bosh.port, '--bosh-path', bosh.pathname, '--ws-path', ws.pathname,
    '--domain', domain, '--window', String(window), '--wait', String(wait), '--transport', transport];
  const errFd = fs.openSync(path.join(dir, 'capload.log'), 'a');
  const child = spawn(bin, args, { cwd: dir, stdio: ['pipe', 'pipe', errFd] });
  fs.closeSync(errFd);
  let exitInfo = null;
  const waiters = []; // { resolve, reject } of the commands sent, oldest first
  const exited = new Promise((resolve) => {
    const gone = (info) => {
      if (exitInfo === null) {
        exitInfo = info;
        for (const w of waiters.splice(0)) {
          w.reject(new Error(`capload exited (${info}); see ${path.join(dir, 'capload.log')}`));
        }
      }
      resolve();
    };
    child.once('exit', (code, signal) => gone(`exit code ${code} signal ${signal}`));
    child.once('error', (e) => gone(`spawn error: ${e.message}`));
  });
  child.stdin.on('error', () => {}); // EPIPE once it is gone: the exit handler reports that
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const w = waiters.shift();
      if (w) {
        w.resolve(line);
      }
    }
  });
  const cmd = (line) => new Promise((resolve, reject) => {
    if (exitInfo !== null) {
      reject(new Error(`capload exited (${exitInfo})`));
      return;
    }
    waiters.push({ resolve, reject });
    child.stdin.write(`${line}\n`);
  });
  const stop = tracked(ctx, 'capload', child.pid, async () => {
    if (exitInfo === null) {
      await settleWithin(cmd('close').catch(() => {}), 5000);
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  });
  let timer;
  try {
    // Its first reply (or its exit, which rejects every command waiting) says it runs.
    const ready = await Promise.race([cmd('held'), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('no reply to "held" within 10 s')), 10000);
    })]);
    if (!/^held \d+$/.test(ready)) {
      throw new Error(`unexpected reply to held: ${ready}`);
    }
  } catch (e) {
    await stop();
    throw new Error(`capload did not start: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
  return { pid: child.pid, cmd, stop };
}

/** capload: `login first count` -> { ok, failed, seconds, firstError } like loginWindowed. */
async function caploadLogin(gen, first, count) {
  const reply = await gen.cmd(`login ${first} ${count}`);
  const m = /^done (\d+) (\d+) ([0-9.]+) (.*)$/.exec(reply);
  if (!m) {
    throw new Error(`capload: unexpected reply to login: ${reply}`);
  }
  return { ok: Number(m[1]), failed: Number(m[2]), seconds: Number(m[3]), firstError: m[4] === '-' ? null : m[4] };
}

/**
 * capload: one run of the throughput exchange (`throughput P K S`) with the figures
 * of throughput.js's runThroughput; CPU of the gateway, the server and capload
 * from /proc over the command. Null when capload has fewer than two sessions held.
 */
async function caploadThroughput({ gen, pairs, inFlight, seconds, mgrPid, prosodyPid }) {
  const c0 = { mgr: cpuTimesMs(mgrPid), srv: cpuMs(prosodyPid), gen: cpuMs(gen.pid) };
  const t0 = performance.now();
  const reply = await gen.cmd(`throughput ${pairs} ${inFlight} ${seconds}`);
  const wallMs = performance.now() - t0;
  const c1 = { mgr: cpuTimesMs(mgrPid), srv: cpuMs(prosodyPid), gen: cpuMs(gen.pid) };
  if (/^error throughput: /.test(reply)) {
    return null;
  }
  const m = /^tp (\d+) (\d+) (\d+) (\d+) ([0-9.]+) ([0-9.]+|-) ([0-9.]+|-)$/.exec(reply);
  if (!m) {
    throw new Error(`capload: unexpected reply to throughput: ${reply}`);
  }
  const [n, sent, received, lost, elapsedS] = m.slice(1, 6).map(Number);
  const ms = (v) => (v === '-' ? null : Number(v));
  return runFigures({
    pairs: n, inFlight, seconds: elapsedS, sent, received, lost, p50: ms(m[6]), p99: ms(m[7]),
    ...mgrCpuPairs(c0.mgr, c1.mgr), serverCpuMs: [c0.srv, c1.srv],
    genCpuPct: c0.gen !== null && c1.gen !== null ? ((c1.gen - c0.gen) / wallMs) * 100 : null,
  });
}

/** capload: sessions logged in whose idle loop has not failed. */
async function caploadHeld(gen) {
  const reply = await gen.cmd('held');
  const m = /^held (\d+)$/.exec(reply);
  if (!m) {
    throw new Error(`capload: unexpected reply to held: ${reply}`);
  }
  return Number(m[1]);
}

/** boshgate with one domain served by fakexmpp on loopback, tls = "off". */
async function startGateway({ ctx, dir, domain, fakePort, threads, settings = {} }) {
  const gw = await startBoshgate({
    bin: ctx.boshgateBin,
    dir,
    caFile: ctx.caFile,
    dnsServer: '127.0.0.1:53', // unused: the domain has a static address
    domains: [],
    logLevel: 'info',
    settings: { server: { threads }, ...settings },
    extra: ['[[upstream.domain]]', `name = "${domain}"`, `address = "127.0.0.1:${fakePort}"`, 'tls = "off"'].join('\n'),
  });
  return { ...gw, stop: tracked(ctx, 'boshgate', gw.pid, gw.stop) };
}

/**
 * Gateway settings for many idle sessions from one address and one domain (capacity, idle
 * at scale): the run sets its own limits, the defaults are for a public deployment.
 * BOSH `wait` of `waitS` seconds, inactivity 60 s.
 */
function manySessions(waitS) {
  return {
    bosh: { max_wait: `${waitS}s`, default_wait: `${waitS}s`, inactivity: '60s' },
    limits: { max_sessions: 100000, max_connecting_per_domain: 0 },
    http: { max_connections: 200000 },
  };
}

/**
 * Logs in `count` sessions made by make(i), at most `window` logins at once, each
 * with a 30 s deadline, then idle. Appends them to `sessions`; resolves with
 * { ok, failed, seconds, firstError }.
 */
async function loginWindowed({ make, count, window, sessions, isCancelled }) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError = null;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && !isCancelled()) {
      const s = make(next++);
      sessions.push(s);
      let timer;
      try {
        await Promise.race([s.login(), new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('login exceeded 30 s')), 30000);
        })]);
        s.startIdle();
        ok++;
      } catch (e) {
        failed++;
        s.error = s.error || e.message;
        firstError = firstError || s.error;
        s.abort();
      } finally {
        clearTimeout(timer);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, window) }, worker));
  return { ok, failed, seconds: (performance.now() - t0) / 1000, firstError };
}

/** A session factory for `transport` against gateway `gw`. */
function sessionMaker({ transport, gw, domain, prefix, wait, boshSockets }) {
  return (i) => (transport === 'ws'
    ? new WsSession({ url: gw.wsUrl, domain, user: `${prefix}${i}`, password: 'x', resource: 'r' })
    : new BoshSession({ url: gw.url, domain, user: `${prefix}${i}`, password: 'x', resource: 'r', wait, maxSockets: boshSockets }));
}

async function closeAll(sessions) {
  for (const s of sessions) {
    s.abort();
  }
  sessions.length = 0;
}

/**
 * Cores busy during a throughput phase, median over its runs (each run's CPU per message
 * times its rate): { gatewayCores, allCores } (gateway + server + load generator), null
 * where a run lacks a figure. Next to the machine's core count they show whether the
 * machine, rather than the gateway, set the rate.
 */
function coresUsed(runs) {
  const each = (f) => median((runs || []).map(f).filter((v) => v !== null && Number.isFinite(v)));
  const gw = (r) => (r.mgrMsPerMsg === null ? null : (r.mgrMsPerMsg * r.rate) / 1000);
  return {
    gatewayCores: each(gw),
    allCores: each((r) => (gw(r) === null || r.prosodyMsPerMsg === null || r.genCpuPct === null ? null
      : gw(r) + (r.prosodyMsPerMsg * r.rate) / 1000 + r.genCpuPct / 100)),
  };
}

/**
 * Scaling: gateway on 1 then 2 io threads, per transport. Returns
 * { status, error, fakeThreads, runs: [{ transport, threads, ...throughput }],
 *   ratio: { bosh, ws } }.
 */
async function runScaling({ ctx, fake, domain, log, isCancelled }) {
  const o = ctx.opts;
  // The exchange runs in capload (C++) when it is built: the Node clients spend about a
  // core on BOSH at this rate, so with them the 2-thread ratio measured the generator.
  const cap = findTool('capload', 'CAPLOAD_BIN', ctx.boshgateBin);
  const out = {
    status: 'ok', error: null, seconds: o.scalingSeconds, runsPerPhase: o.tpRuns, pairs: o.pairs, inFlight: o.inFlight, fakeThreads: 2, cores: os.cpus().length,
    generator: cap.bin ? 'capload (C++)' : 'Node (bosh_load.js, ws_load.js)', ...(cap.bin ? {} : { generatorWhy: cap.why }), runs: [], ratio: {},
  };
  const dir = path.join(ctx.dir, 'scaling');
  fs.mkdirSync(dir, { recursive: true });
  for (const transport of ['bosh', 'ws']) {
    for (const threads of [1, 2]) {
      if (isCancelled()) {
        throw new Error('cancelled');
      }
      const tag = `${transport}-${threads}t`;
      const fx = await startFake({ ctx, bin: fake.bin, dir, threads: out.fakeThreads, domain, tag });
      let gw = null;
      let gen = null;
      const sessions = [];
      try {
        const gdir = path.join(dir, tag);
        fs.mkdirSync(gdir, { recursive: true });
        gw = await startGateway({ ctx, dir: gdir, domain, fakePort: fx.port, threads });
        let l;
        if (cap.bin) {
          gen = await startCapload({ ctx, bin: cap.bin, dir: gdir, gw, domain, window: 20, wait: o.wait, transport });
          l = await caploadLogin(gen, 0, 2 * o.pairs);
        } else {
          l = await loginWindowed({
            make: sessionMaker({ transport, gw, domain, prefix: `s${tag}-`, wait: o.wait }),
            count: 2 * o.pairs, window: 20, sessions, isCancelled,
          });
        }
        if (l.ok < 2) {
          throw new Error(`scaling ${tag}: ${l.ok} logins succeeded; first error: ${l.firstError}`);
        }
        const t = await runThroughputRuns({
          once: gen ? (a) => caploadThroughput({ gen, ...a }) : undefined,
          sessions: sessions.filter((s) => s.jid && !s.error), pairs: o.pairs, inFlight: o.inFlight,
          seconds: o.scalingSeconds, runs: o.tpRuns, mgrPid: gw.pid, prosodyPid: fx.pid, isCancelled, tag,
        });
        if (!t) {
          throw new Error(`scaling ${tag}: no throughput run completed`);
        }
        const run = { transport, threads, ...t, serverMsPerMsg: t.prosodyMsPerMsg, ...coresUsed(t.runs) };
        delete run.prosodyMsPerMsg;
        out.runs.push(run);
        const f = (v) => (v === null ? 'n/a' : `${v.toFixed(3)} ms`);
        log(`scaling ${transport.toUpperCase()} ${threads} io thread(s): median ${t.rate.toFixed(0)} msgs/s${runRates(t) ? ` (runs ${runRates(t)})` : ''} (${t.received}/${t.sent}, lost ${t.lost}), `
          + `RTT p50 ${t.p50 === null ? 'n/a' : t.p50.toFixed(2)} ms; CPU/msg gateway ${f(t.mgrMsPerMsg)} (of it in the kernel ${f(t.mgrSysMsPerMsg)}), fakexmpp ${f(t.prosodyMsPerMsg)}; `
          + `load generator ${fmt(t.genCpuPct)} % of a core; cores busy: gateway ${fmt(run.gatewayCores, 2)}, all three ${fmt(run.allCores, 2)} of ${out.cores}`);
      } finally {
        if (gen) {
          await gen.stop();
        }
        await closeAll(sessions);
        if (gw) {
          await gw.stop();
        }
        await fx.stop();
      }
    }
    const [one, two] = [1, 2].map((n) => out.runs.find((r) => r.transport === transport && r.threads === n));
    out.ratio[transport] = one && two && one.rate > 0 ? two.rate / one.rate : null;
  }
  return out;
}

/** Gateway CPU (% of one core) over `ms` of idle. */
async function idleCpuPct(pid, ms) {
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await sleep(ms);
  const c1 = cpuMs(pid);
  return c0 === null || c1 === null ? null : ((c1 - c0) / (performance.now() - t0)) * 100;
}

/**
 * Capacity: fills one gateway with idle sessions (half BOSH, half WebSocket) up
 * to `target` (default: what its open-file limit allows at two sockets per
 * session, less a reserve), reading RSS / fds / idle CPU at 10, 50, 100 %.
 */
async function runCapacity({ ctx, fake, domain, log, isCancelled }) {
  const o = ctx.opts;
  const dir = path.join(ctx.dir, 'capacity');
  fs.mkdirSync(dir, { recursive: true });
  const out = { status: 'ok', error: null, target: null, nofile: null, window: o.capacityWindow, wait: 50, generator: null, checkpoints: [], loginsOk: 0, loginsFailed: 0, cpuMs: { gateway: 0, fake: 0, generator: 0 }, firstError: null, loginRate: null, rampSeconds: 0 };
  const cap = findTool('capload', 'CAPLOAD_BIN', ctx.boshgateBin);
  const fx = await startFake({ ctx, bin: fake.bin, dir, threads: 1, domain, tag: 'capacity' });
  let gw = null;
  let gen = null; // capload, else null: the Node sessions below
  const sessions = [];
  try {
    gw = await startGateway({ ctx, dir, domain, fakePort: fx.port, threads: 2, settings: manySessions(out.wait) });
    out.nofile = nofileOf(gw.pid);
    const reserve = 64;
    const byFds = out.nofile ? Math.floor((out.nofile - reserve) / 2) : 1000;
    out.target = o.capacity > 0 ? Math.min(o.capacity, byFds) : byFds;
    if (cap.bin) {
      gen = await startCapload({ ctx, bin: cap.bin, dir, gw, domain, window: o.capacityWindow, wait: out.wait });
      out.generator = 'capload (C++)';
    } else {
      out.generator = 'Node';
      log(`capacity: ${cap.why}; the Node clients log in`);
    }
    const genPid = gen ? gen.pid : process.pid;
    log(`capacity: gateway open-file limit ${out.nofile}, target ${out.target} sessions (half BOSH, half WebSocket), `
      + `${o.capacityWindow} logins at once; load generator ${out.generator}, limit ${nofileOf(genPid)}`);
    const rss0 = await sampleRssKb(gw.pid);
    out.checkpoints.push({ pct: 0, sessions: 0, rssKb: rss0, fds: fdCount(gw.pid), idleWindowS: 3, idleCpuPct: await idleCpuPct(gw.pid, 3000), fakeRssKb: rssKb(fx.pid), genRssKb: rssKb(genPid) });
    const makeBosh = sessionMaker({ transport: 'bosh', gw, domain, prefix: 'cb', wait: out.wait, boshSockets: 1 });
    const makeWs = sessionMaker({ transport: 'ws', gw, domain, prefix: 'cw' });
    let done = 0;
    for (const pct of [10, 50, 100]) {
      const upTo = Math.floor((out.target * pct) / 100);
      const count = upTo - done;
      if (count > 0 && !isCancelled()) {
        const base = done;
        // The generator's CPU: capload's from /proc, else this Node process's own.
        const c0 = { gw: cpuMs(gw.pid), fake: cpuMs(fx.pid), gen: gen ? cpuMs(gen.pid) : process.cpuUsage() };
        const l = gen ? await caploadLogin(gen, base, count) : await loginWindowed({
          make: (i) => ((base + i) % 2 === 0 ? makeBosh(base + i) : makeWs(base + i)),
          count, window: o.capacityWindow, sessions, isCancelled,
        });
        out.cpuMs.gateway += cpuMs(gw.pid) - c0.gw;
        out.cpuMs.fake += cpuMs(fx.pid) - c0.fake;
        if (gen) {
          out.cpuMs.generator += cpuMs(gen.pid) - c0.gen;
        } else {
          const g = process.cpuUsage(c0.gen);
          out.cpuMs.generator += (g.user + g.system) / 1000;
        }
        out.loginsOk += l.ok;
        out.loginsFailed += l.failed;
        out.rampSeconds += l.seconds;
        out.firstError = out.firstError || l.firstError;
        done = upTo;
        log(`capacity: ${l.ok}/${count} logins in ${l.seconds.toFixed(1)} s (${(l.ok / l.seconds).toFixed(0)}/s, ${out.generator} generator)${l.firstError ? `; first error: ${l.firstError}` : ''}`);
      }
      await sleep(2000);
      const held = gen ? await caploadHeld(gen) : sessions.filter((s) => s.jid && !s.error).length;
      const cp = {
        pct, sessions: held, rssKb: await sampleRssKb(gw.pid), fds: fdCount(gw.pid),
        idleWindowS: pct === 100 ? out.wait + 5 : 5,
      };
      Object.assign(cp, {
        idleCpuPct: await idleCpuPct(gw.pid, cp.idleWindowS * 1000), fakeRssKb: rssKb(fx.pid), genRssKb: rssKb(genPid),
      });
      cp.kbPerSession = held > 0 && cp.rssKb !== null && rss0 !== null ? (cp.rssKb - rss0) / held : null;
      out.checkpoints.push(cp);
      log(`capacity ${pct} %: ${held} sessions held, gateway RSS ${(cp.rssKb / 1024).toFixed(1)} MB `
        + `(${cp.kbPerSession === null ? 'n/a' : cp.kbPerSession.toFixed(1)} KB/session), ${cp.fds} fds, idle CPU ${cp.idleCpuPct === null ? 'n/a' : cp.idleCpuPct.toFixed(2)} % of a core over ${cp.idleWindowS} s`);
    }
    out.loginRate = out.rampSeconds > 0 ? out.loginsOk / out.rampSeconds : null;
    // CPU per login and share of one core over the ramps: which process limited the rate.
    out.cpuPerLoginMs = {};
    out.cpuPctDuringRamp = {};
    for (const [k, v] of Object.entries(out.cpuMs)) {
      out.cpuPerLoginMs[k] = out.loginsOk > 0 ? v / out.loginsOk : null;
      out.cpuPctDuringRamp[k] = out.rampSeconds > 0 ? v / (out.rampSeconds * 10) : null;
    }
    log(`capacity: ${out.loginsOk} logins at ${out.loginRate === null ? 'n/a' : out.loginRate.toFixed(0)}/s over the ramps (${out.generator} generator); CPU per login (ms) / % of a core during the ramps: `
      + Object.keys(out.cpuMs).map((k) => `${k} ${out.cpuPerLoginMs[k] === null ? 'n/a' : out.cpuPerLoginMs[k].toFixed(3)} / ${out.cpuPctDuringRamp[k] === null ? 'n/a' : out.cpuPctDuringRamp[k].toFixed(0)} %`).join(', '));
    const alive = gw.alive();
    if (alive !== true) {
      throw new Error(`the gateway exited during the capacity run (${alive})`);
    }
  } finally {
    if (gen) {
      await gen.stop();
    }
    await closeAll(sessions);
    if (gw) {
      await gw.stop();
    }
    await fx.stop();
  }
  return out;
}

/**
 * Idle memory at scale (issue 9, "Memory"): per transport, a fresh gateway (1 io thread,
 * tls = "off") in front of fakexmpp; N idle sessions logged in, RSS; N more, RSS; the
 * marginal KB/session is (RSS@2N - RSS@N) / N. The peer rows use 200 sessions (the
 * servers' logins are slow), where one step of the allocator's heap moves the figure by
 * about 1 KB/session; here N is 2,000 by default. Runs alternate BOSH and WebSocket, each
 * on a fresh gateway and fakexmpp; the median per transport is the figure.
 * Returns { status, error, sessions, wait, runs: [{ transport, run, rssNKb, rss2NKb,
 * marginalKb }], median: { bosh, ws } }.
 */
async function runIdleScale({ ctx, fake, domain, log, isCancelled }) {
  const o = ctx.opts;
  const n = o.idleScale;
  const out = { status: 'ok', error: null, sessions: n, wait: 50, runs: [], median: { bosh: null, ws: null } };
  for (let run = 1; run <= o.idleScaleRuns && !isCancelled(); run++) {
    for (const transport of ['bosh', 'ws']) {
      const dir = path.join(ctx.dir, 'idle-scale', `${transport}-${run}`);
      fs.mkdirSync(dir, { recursive: true });
      const fx = await startFake({ ctx, bin: fake.bin, dir, threads: 1, domain, tag: 'idle-scale' });
      let gw = null;
      const sessions = [];
      try {
        gw = await startGateway({ ctx, dir, domain, fakePort: fx.port, threads: 1, settings: manySessions(out.wait) });
        const make = sessionMaker({ transport, gw, domain, prefix: `i${run}`, wait: out.wait, boshSockets: 1 });
        const fill = async (first) => {
          const l = await loginWindowed({ make: (i) => make(first + i), count: n, window: 100, sessions, isCancelled });
          if (l.ok !== n) {
            throw new Error(`${transport} run ${run}: ${l.ok} of ${n} logins ok${l.firstError ? ` (first error: ${l.firstError})` : ''}`);
          }
          await sleep(2000); // the idle sweep has parked what it parks
          return sampleRssKb(gw.pid);
        };
        const rssNKb = await fill(0);
        const rss2NKb = await fill(n);
        const marginalKb = rssNKb !== null && rss2NKb !== null ? (rss2NKb - rssNKb) / n : null;
        out.runs.push({ transport, run, rssNKb, rss2NKb, marginalKb });
        log(`idle at scale, ${transport === 'ws' ? 'WebSocket' : 'BOSH'} run ${run}: RSS ${fmt(rssNKb / 1024, 1)} MB at ${n}, `
          + `${fmt(rss2NKb / 1024, 1)} MB at ${2 * n}: marginal ${fmt(marginalKb, 2)} KB/session`);
      } finally {
        await closeAll(sessions);
        if (gw) {
          await gw.stop();
        }
        await fx.stop();
      }
    }
  }
  for (const t of ['bosh', 'ws']) {
    out.median[t] = median(out.runs.filter((r) => r.transport === t).map((r) => r.marginalKb));
  }
  return out;
}

/**
 * Runs the phases asked for in ctx.opts (scalingSeconds > 0, capacity >= 0 where
 * 0 = auto and -1 = off). Never throws: each phase's failure goes into its result.
 */
async function runFakePhases({ ctx, domain, log }) {
  const o = ctx.opts;
  const result = { scaling: null, capacity: null, idleScale: null };
  const want = { scaling: o.scalingSeconds > 0, capacity: o.capacity >= 0, idleScale: o.idleScale > 0 };
  if (!want.scaling && !want.capacity && !want.idleScale) {
    return result;
  }
  const fake = findTool('fakexmpp', 'FAKEXMPP_BIN', ctx.boshgateBin);
  const budget = {
    scaling: 120000 + o.scalingSeconds * o.tpRuns * 4 * 1000,
    capacity: 600000,
    idleScale: 60000 + o.idleScaleRuns * 2 * (20000 + o.idleScale * 20), // ~2 ms per login, generous
  };
  for (const [name, fn] of [['scaling', runScaling], ['capacity', runCapacity], ['idleScale', runIdleScale]]) {
    if (!want[name]) {
      continue;
    }
    if (!fake.bin || !ctx.boshgateBin) {
      result[name] = { status: 'not measured', error: fake.why || 'no boshgate binary' };
      log(`--- ${name} (fakexmpp): NOT MEASURED: ${result[name].error}`);
      continue;
    }
    log(`--- ${name}: boshgate in front of fakexmpp (budget ${budget[name] / 1000} s)`);
    let cancelled = false;
    let timer;
    const over = new Promise((_, reject) => {
      timer = setTimeout(() => {
        cancelled = true;
        reject(new Error(`the ${name} phase exceeded its ${budget[name] / 1000} s budget`));
      }, budget[name]);
    });
    try {
      result[name] = await Promise.race([fn({ ctx, fake, domain, log, isCancelled: () => cancelled }), over]);
    } catch (e) {
      result[name] = { status: 'failed', error: e.message };
      log(`${name} FAILED: ${e.message}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return result;
}

const fmt = (v, digits = 0) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));

/** Prints the scaling, capacity and idle-at-scale tables (after bench.js's row tables). */
function printFakeReport({ scaling, capacity, idleScale } = {}) {
  const w = (line) => process.stdout.write(`${line}\n`);
  if (scaling) {
    w('');
    const each = scaling.runsPerPhase > 1 ? `median of ${scaling.runsPerPhase} runs of ${scaling.seconds} s each` : `${scaling.seconds} s each`;
    w(`Scaling: boshgate (tls off) -> fakexmpp (${scaling.fakeThreads || '?'} threads), ${scaling.pairs} pairs x ${scaling.inFlight} in flight, ${each}; load generator ${scaling.generator || 'Node'}${scaling.generatorWhy ? ` (${scaling.generatorWhy})` : ''}`);
    if (scaling.status !== 'ok') {
      w(`  ${scaling.status.toUpperCase()}: ${scaling.error}`);
    } else {
      const cores = scaling.cores || '?';
      w(`| transport | io threads | msgs/s | RTT p50 / p99 (ms) | CPU/msg gateway (ms), of it kernel | CPU/msg fakexmpp (ms) | load generator (% core) | cores busy: gateway / all three (of ${cores}) |`);
      w('| --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const r of scaling.runs) {
        w(`| ${r.transport === 'ws' ? 'WebSocket' : 'BOSH'} | ${r.threads} | ${fmt(r.rate)}${runRates(r) ? ` (${runRates(r)})` : ''} | ${fmt(r.p50, 2)} / ${fmt(r.p99, 2)} | ${fmt(r.mgrMsPerMsg, 3)}, ${fmt(r.mgrSysMsPerMsg, 3)} | ${fmt(r.serverMsPerMsg, 3)} | ${fmt(r.genCpuPct)} | ${fmt(r.gatewayCores, 2)} / ${fmt(r.allCores, 2)} |`);
      }
      w(`2 threads / 1 thread: BOSH ${fmt(scaling.ratio.bosh, 2)}x, WebSocket ${fmt(scaling.ratio.ws, 2)}x (goal >= 1.7x with a server that is not the bottleneck)`);
      const full = scaling.runs.filter((r) => r.threads === 2 && Number.isFinite(r.allCores) && Number.isFinite(scaling.cores) && r.allCores >= 0.9 * scaling.cores);
      if (full.length > 0) {
        w(`With 2 io threads the three processes kept ${full.map((r) => `${fmt(r.allCores, 2)} (${r.transport === 'ws' ? 'WebSocket' : 'BOSH'})`).join(' and ')} `
          + `of this machine's ${scaling.cores} cores busy: the machine, not the gateway's threading, set those rates.`);
      }
    }
  }
  if (idleScale) {
    w('');
    if (idleScale.status !== 'ok') {
      w(`Idle at scale: ${idleScale.status.toUpperCase()}: ${idleScale.error}`);
    } else {
      w(`Idle at scale: boshgate (1 io thread, tls off) -> fakexmpp, ${idleScale.sessions} then ${2 * idleScale.sessions} idle sessions of one transport, a fresh gateway per run (BOSH wait=${idleScale.wait} s hold=1)`);
      w('| transport | marginal KB/session, median | runs (KB/session) | goal |');
      w('| --- | --- | --- | --- |');
      for (const t of ['bosh', 'ws']) {
        const runs = idleScale.runs.filter((r) => r.transport === t).map((r) => fmt(r.marginalKb, 2)).join(', ');
        w(`| ${t === 'ws' ? 'WebSocket' : 'BOSH'} | ${fmt(idleScale.median[t], 2)} | ${runs} | <= 6 |`);
      }
    }
  }
  if (capacity) {
    w('');
    if (capacity.status !== 'ok') {
      w(`Capacity: ${capacity.status.toUpperCase()}: ${capacity.error}`);
      return;
    }
    w(`Capacity: boshgate (2 io threads, tls off) -> fakexmpp; open-file limit ${capacity.nofile}, target ${capacity.target} sessions `
      + `(half BOSH wait=${capacity.wait} s hold=1, half WebSocket), ${capacity.window} logins at once`);
    w('| share | sessions held | gateway RSS (MB) | KB/session | gateway fds | idle CPU (% core) over | fakexmpp RSS (MB) |');
    w('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of capacity.checkpoints) {
      w(`| ${c.pct} % | ${c.sessions} | ${fmt(c.rssKb / 1024, 1)} | ${fmt(c.kbPerSession, 1)} | ${c.fds} | ${fmt(c.idleCpuPct, 2)} over ${c.idleWindowS || 3} s | ${fmt(c.fakeRssKb / 1024, 1)} |`);
    }
    const per = capacity.cpuPerLoginMs || {};
    const pct = capacity.cpuPctDuringRamp || {};
    w(`logins: ${capacity.loginsOk} ok, ${capacity.loginsFailed} failed, ${fmt(capacity.loginRate)}/s over the ramps (goal >= 2,000/s)${capacity.firstError ? `; first error: ${capacity.firstError}` : ''}`);
    w(`CPU per login (ms) / share of one core during the ramps: gateway ${fmt(per.gateway, 3)} / ${fmt(pct.gateway)} %, `
      + `fakexmpp ${fmt(per.fake, 3)} / ${fmt(pct.fake)} %, ${capacity.generator || 'Node'} load generator ${fmt(per.generator, 3)} / ${fmt(pct.generator)} %`);
  }
}

/**
 * Checks the scaling phase end to end on a tiny exchange with the real pieces (this
 * boshgate, fakexmpp, capload): `node bench/fake_phases.js --check BOSHGATE_BIN`
 * (FAKEXMPP_BIN / CAPLOAD_BIN, else next to boshgate). A few seconds.
 */
async function selfCheck(boshgateBin) {
  const assert = require('node:assert/strict');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scaling-check-'));
  const domain = 'bench.test';
  const ctx = {
    boshgateBin: path.resolve(boshgateBin), caFile: '/etc/ssl/certs/ca-certificates.crt', dir,
    opts: { scalingSeconds: 1, tpRuns: 2, pairs: 2, inFlight: 2, wait: 20 },
  };
  const fake = findTool('fakexmpp', 'FAKEXMPP_BIN', ctx.boshgateBin);
  const cap = findTool('capload', 'CAPLOAD_BIN', ctx.boshgateBin);
  assert.ok(fake.bin, fake.why);
  assert.ok(cap.bin, cap.why);
  const isCancelled = () => false;
  const out = await runScaling({ ctx, fake, domain, log: () => {}, isCancelled });
  assert.equal(out.generator, 'capload (C++)');
  assert.deepEqual(out.runs.map((r) => `${r.transport}-${r.threads}`), ['bosh-1', 'bosh-2', 'ws-1', 'ws-2']);
  for (const r of out.runs) {
    const what = `${r.transport}, ${r.threads} thread(s): ${JSON.stringify(r)}`;
    assert.equal(r.pairs, 2, what);
    assert.equal(r.runs.length, 2, what);
    assert.ok(r.received > 0, what);
    assert.equal(r.lost, 0, what);
    assert.equal(r.sent, r.received, `every message sent came back to its lane: ${what}`);
    for (const f of ['rate', 'p50', 'p99', 'mgrMsPerMsg', 'mgrSysMsPerMsg', 'serverMsPerMsg', 'genCpuPct', 'gatewayCores', 'allCores']) {
      assert.ok(Number.isFinite(r[f]) && r[f] > 0, `${f}: ${what}`);
    }
    assert.ok(r.mgrSysMsPerMsg < r.mgrMsPerMsg, `the kernel's part is part of the whole: ${what}`);
    assert.ok(r.p50 <= r.p99, what);
  }
  assert.ok(Number.isFinite(out.ratio.bosh) && Number.isFinite(out.ratio.ws));
  // capload refuses the exchange without a single transport, and bad arguments.
  const fx = await startFake({ ctx, bin: fake.bin, dir, threads: 1, domain, tag: 'refusals' });
  let gw = null;
  const gens = [];
  try {
    gw = await startGateway({ ctx, dir, domain, fakePort: fx.port, threads: 1 });
    const mixed = await startCapload({ ctx, bin: cap.bin, dir, gw, domain, window: 2, wait: 20 });
    gens.push(mixed);
    assert.equal((await caploadLogin(mixed, 0, 2)).ok, 2);
    assert.equal(await mixed.cmd('throughput 1 1 1'), 'error throughput needs --transport bosh or ws');
    const ws = await startCapload({ ctx, bin: cap.bin, dir, gw, domain, window: 2, wait: 20, transport: 'ws' });
    gens.push(ws);
    assert.match(await ws.cmd('throughput 0 1 1'), /^error usage: throughput PAIRS IN-FLIGHT SECONDS/);
    assert.equal(await ws.cmd('throughput 1 1 0.2'), 'error throughput: 0 session(s) held, 2 needed');
    assert.equal(await caploadThroughput({ gen: ws, pairs: 1, inFlight: 1, seconds: 0.2, mgrPid: gw.pid, prosodyPid: fx.pid }), null);
  } finally {
    for (const g of gens) {
      await g.stop();
    }
    if (gw) {
      await gw.stop();
    }
    await fx.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`fake_phases.js: self-check passed (scaling with capload: BOSH ${out.ratio.bosh.toFixed(2)}x, WebSocket ${out.ratio.ws.toFixed(2)}x on a 1 s exchange)`);
}

if (require.main === module) {
  if (process.argv[2] !== '--check' || !process.argv[3]) {
    console.error('usage: node bench/fake_phases.js --check BOSHGATE_BIN');
    process.exit(2);
  }
  selfCheck(process.argv[3]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { runFakePhases, printFakeReport };
