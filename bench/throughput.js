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

const { performance } = require('node:perf_hooks');
const { cpuMs, percentile } = require('./proc_stats');

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
  const cpu0 = { mgr: cpuMs(mgrPid), prosody: prosodyPid ? cpuMs(prosodyPid) : null, gen: process.cpuUsage() };
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
  const mgr1 = cpuMs(mgrPid);
  const pro1 = prosodyPid ? cpuMs(prosodyPid) : null;
  const gen = process.cpuUsage(cpu0.gen);
  const perMsg = (a, b) => (a !== null && b !== null && received > 0 ? (b - a) / received : null);
  return {
    pairs: n,
    inFlight,
    seconds: elapsedS,
    sent,
    received,
    lost,
    rate: received / elapsedS,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    mgrMsPerMsg: perMsg(cpu0.mgr, mgr1),
    prosodyMsPerMsg: perMsg(cpu0.prosody, pro1),
    genCpuPct: ((gen.user + gen.system) / 1000 / (elapsedS * 1000)) * 100,
  };
}

module.exports = { runThroughput, routeMessages };
