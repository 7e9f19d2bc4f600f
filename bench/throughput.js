'use strict';
// Throughput phase of bench.js (issue 9): `pairs` sender -> receiver pairs among
// sessions that are already logged in, each pair keeping `inFlight` messages
// outstanding (a new one is sent when one arrives) for `seconds`. Reports the
// delivered rate, the round trip per message (sent on A -> received on B) and
// the CPU that the manager, Prosody and this load generator spent per
// delivered message over the phase (utime + stime from /proc).
//
// The load generator is Node (one process, the raw BOSH / WebSocket clients of
// this directory); its own CPU over the phase is reported next to the rates so
// that a saturated generator is visible (its CPU near one core = 1,000 ms/s).
// The scaling phase (fake_phases.js) runs the same exchange in bench/capload
// instead, through runThroughputRuns's `once`.
//
// A phase is several runs back to back on the same sessions (runThroughputRuns);
// each figure is the median over the runs (issue 9: "medians of 3"), and the
// runs' own figures are kept so that the spread is visible.

const { performance } = require('node:perf_hooks');
const { cpuMs, cpuTimesMs, percentile, median } = require('./proc_stats');

/**
 * Routes every <message/> the sessions receive to a waiter by id: returns the
 * map (id -> resolve(tReceived)) that callers fill; a waiter is removed when called.
 */
function routeMessages(sessions) {
  const waiters = new Map();
  for (const s of sessions) {
    s.onMessage = (id, t) => {
      const w = waiters.get(id);
      if (w) {
        waiters.delete(id);
        w(t);
      }
    };
  }
  return waiters;
}

/**
 * sessions: logged-in sessions (send(xml), onMessage(id, t)); the first
 * 2 × pairs are used. mgrPid / prosodyPid: processes to charge (prosodyPid null
 * for in-process managers). Returns null when fewer than two sessions are live.
 */
async function runThroughput({ sessions, pairs, inFlight, seconds, mgrPid, prosodyPid, isCancelled, tag }) {
  const n = Math.min(pairs, Math.floor(sessions.length / 2));
  if (n < 1 || seconds <= 0) {
    return null;
  }
  const used = sessions.slice(0, 2 * n);
  const waiters = routeMessages(used);
  const lat = [];
  let sent = 0;
  let received = 0;
  let lost = 0;
  let seq = 0;
  const cpu0 = { mgr: cpuTimesMs(mgrPid), prosody: prosodyPid ? cpuMs(prosodyPid) : null, gen: process.cpuUsage() };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  // One lane = one message outstanding at a time from a to b.
  const lane = async (a, b) => {
    while (performance.now() < end && !isCancelled() && !a.error && !b.error) {
      const id = `${tag}-${seq++}`;
      let timer;
      const got = new Promise((resolve) => {
        waiters.set(id, resolve);
        timer = setTimeout(() => {
          waiters.delete(id);
          resolve(null);
        }, 10000);
      });
      const sentAt = performance.now();
      a.send(`<message to='${b.jid}' type='headline' id='${id}' xmlns='jabber:client'><body>tp</body></message>`);
      sent++;
      const at = await got;
      clearTimeout(timer);
      if (at === null) {
        lost++;
      } else {
        received++;
        lat.push(at - sentAt);
      }
    }
  };
  const lanes = [];
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < inFlight; k++) {
      lanes.push(lane(used[2 * p], used[2 * p + 1]));
    }
  }
  await Promise.all(lanes);
  const elapsedS = (performance.now() - t0) / 1000;
  const mgr1 = cpuTimesMs(mgrPid);
  const pro1 = prosodyPid ? cpuMs(prosodyPid) : null;
  const gen = process.cpuUsage(cpu0.gen);
  return runFigures({
    pairs: n, inFlight, seconds: elapsedS, sent, received, lost, p50: percentile(lat, 50), p99: percentile(lat, 99),
    ...mgrCpuPairs(cpu0.mgr, mgr1), serverCpuMs: [cpu0.prosody, pro1],
    genCpuPct: ((gen.user + gen.system) / 1000 / (elapsedS * 1000)) * 100,
  });
}

/**
 * The manager's [before, after] CPU ms, all and the kernel's part, for runFigures from two
 * cpuTimesMs readings (either may be null).
 */
function mgrCpuPairs(t0, t1) {
  const all = (t) => (t === null ? null : t.user + t.sys);
  const sys = (t) => (t === null ? null : t.sys);
  return { mgrCpuMs: [all(t0), all(t1)], mgrSysMs: [sys(t0), sys(t1)] };
}

/**
 * One run's figures from its counts: rate = received / seconds, CPU per delivered message
 * of the manager and the server from their [before, after] CPU ms, and the part of the
 * manager's that the kernel spent for it (stime) from mgrSysMs (null where either is
 * unknown or nothing was received).
 */
function runFigures({ pairs, inFlight, seconds, sent, received, lost, p50, p99, mgrCpuMs, mgrSysMs, serverCpuMs, genCpuPct }) {
  const perMsg = ([a, b]) => (a !== null && b !== null && received > 0 ? (b - a) / received : null);
  return {
    pairs,
    inFlight,
    seconds,
    sent,
    received,
    lost,
    rate: seconds > 0 ? received / seconds : 0,
    p50,
    p99,
    mgrMsPerMsg: perMsg(mgrCpuMs),
    mgrSysMsPerMsg: perMsg(mgrSysMs),
    prosodyMsPerMsg: perMsg(serverCpuMs),
    genCpuPct,
  };
}

/** The figures of a run that a phase reports as the median over its runs. */
const MEDIAN_FIELDS = ['rate', 'p50', 'p99', 'mgrMsPerMsg', 'mgrSysMsPerMsg', 'prosodyMsPerMsg', 'genCpuPct'];
/** The counts that a phase reports as the sum over its runs. */
const SUM_FIELDS = ['seconds', 'sent', 'received', 'lost'];

/**
 * Folds the results of runThroughput over one phase's runs: the MEDIAN_FIELDS are
 * medians (null when no run has the figure), the SUM_FIELDS sums, and `runs` keeps
 * each run's MEDIAN_FIELDS. Null for no runs.
 */
function foldRuns(done) {
  if (done.length === 0) {
    return null;
  }
  const out = { pairs: done[0].pairs, inFlight: done[0].inFlight };
  for (const f of SUM_FIELDS) {
    out[f] = done.reduce((acc, t) => acc + t[f], 0);
  }
  for (const f of MEDIAN_FIELDS) {
    out[f] = median(done.map((t) => t[f]));
  }
  out.runs = done.map((t) => Object.fromEntries(MEDIAN_FIELDS.map((f) => [f, t[f]])));
  return out;
}

/**
 * `once` (runThroughput, or another generator's run with its arguments and result)
 * `runs` times back to back on the same sessions (tags tag-r1, tag-r2, ...), folded by
 * foldRuns. Stops early when cancelled or when a run cannot start (`once` gives null).
 */
async function runThroughputRuns({ runs, tag, once = runThroughput, ...args }) {
  const done = [];
  for (let i = 1; i <= runs && !args.isCancelled(); i++) {
    const t = await once({ ...args, tag: `${tag}-r${i}` });
    if (!t) {
      break;
    }
    done.push(t);
  }
  return foldRuns(done);
}

/** A folded phase's rate per run, for logs and tables: '3900/4000/4100'; '' for one run. */
function runRates(t) {
  return t && Array.isArray(t.runs) && t.runs.length > 1 ? t.runs.map((r) => r.rate.toFixed(0)).join('/') : '';
}

/** Checks foldRuns on made-up runs: `node bench/throughput.js --check`. */
function selfCheck() {
  const assert = require('node:assert/strict');
  const run = (rate, p50, mgr, prosody, lost) => ({
    pairs: 50, inFlight: 5, seconds: 5, sent: rate * 5 + lost, received: rate * 5, lost,
    rate, p50, p99: p50 * 2, mgrMsPerMsg: mgr, mgrSysMsPerMsg: mgr / 2, prosodyMsPerMsg: prosody, genCpuPct: rate / 100,
  });
  assert.equal(foldRuns([]), null);
  const f = foldRuns([run(4000, 100, 0.07, null, 0), run(3000, 140, 0.09, null, 2), run(5000, 90, 0.06, null, 1)]);
  // Each figure is its own median: the median run by rate is not the median run by p50.
  assert.equal(f.rate, 4000);
  assert.equal(f.p50, 100);
  assert.equal(f.p99, 200);
  assert.equal(f.mgrMsPerMsg, 0.07);
  assert.equal(f.mgrSysMsPerMsg, 0.035, 'the kernel part is a median of its own');
  assert.deepEqual(f.runs.map((r) => r.mgrSysMsPerMsg), [0.035, 0.045, 0.03]);
  assert.equal(f.prosodyMsPerMsg, null, 'no run has a server figure: none is made up');
  assert.deepEqual([f.seconds, f.sent, f.received, f.lost], [15, 60003, 60000, 3]);
  assert.deepEqual(f.runs.map((r) => r.rate), [4000, 3000, 5000], 'the runs keep their order');
  assert.equal(f.runs[1].prosodyMsPerMsg, null);
  assert.equal(runRates(f), '4000/3000/5000');
  assert.equal(runRates(foldRuns([run(4000, 100, 0.07, null, 0)])), '', 'one run has no spread to show');
  assert.equal(runRates(null), '');
  // Two runs (one cancelled): the mean of the middle two.
  assert.ok(Math.abs(foldRuns([run(4000, 100, 0.07, 0.2, 0), run(3000, 140, 0.09, 0.4, 0)]).prosodyMsPerMsg - 0.3) < 1e-12);
  // A run's figures: the manager's CPU and the kernel's part of it (stime) per delivered
  // message, from one /proc reading before and one after.
  const one = (t0, t1) => runFigures({
    pairs: 1, inFlight: 1, seconds: 2, sent: 100, received: 100, lost: 0, p50: 1, p99: 2,
    ...mgrCpuPairs(t0, t1), serverCpuMs: [40, 49], genCpuPct: 5,
  });
  const r = one({ user: 10, sys: 20 }, { user: 13, sys: 25 });
  assert.equal(r.mgrMsPerMsg, 0.08);
  assert.equal(r.mgrSysMsPerMsg, 0.05);
  assert.equal(r.prosodyMsPerMsg, 0.09);
  const gone = one({ user: 10, sys: 20 }, null);
  assert.deepEqual([gone.mgrMsPerMsg, gone.mgrSysMsPerMsg], [null, null], 'a manager gone before the end has no figures');
  console.log('throughput.js: self-check passed');
}

if (require.main === module) {
  if (process.argv[2] !== '--check') {
    console.error('usage: node bench/throughput.js --check');
    process.exit(2);
  }
  selfCheck();
}

module.exports = { runThroughput, runThroughputRuns, runRates, runFigures, mgrCpuPairs, routeMessages };
