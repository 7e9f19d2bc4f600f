'use strict';
// Soak benchmark (issue 8, item 4): N sessions (half BOSH, half WebSocket by
// default) through one real boshgate process to one real private Prosody, in
// pairs (BOSH-BOSH, WebSocket-WebSocket and crossing BOSH-WebSocket), every
// session sending numbered messages to its partner at a fixed rate for a given
// duration. Exact accounting per direction of each pair: zero lost, zero
// duplicated, order kept. The gateway's RSS and open fds are sampled every
// --sample seconds (table, CSV, hand-drawn SVG plot). Started by bench/soak.sh;
// see the "Soak" section of bench/README.md for the pass/fail rules.
//
// Reuses the interop harness (interop/lib: certificates, Prosody, dnsmasq,
// boshgate, processes) and the bench load clients (bosh_load.js, ws_load.js,
// proc_stats.js). Everything binds to 127.0.0.1; every wait has a deadline;
// every process started here is stopped in `finally` (and listed in
// $BENCH_PIDFILE so soak.sh can kill its group if this process is killed).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const interop = path.join(__dirname, '..', 'interop', 'lib');
const { makeWorkDir, tail } = require(path.join(interop, 'util'));
const { makeCerts } = require(path.join(interop, 'certs'));
const { startProsody } = require(path.join(interop, 'prosody'));
const { startDnsmasq } = require(path.join(interop, 'dnsmasq'));
const { startBoshgate } = require(path.join(interop, 'boshgate'));

const { BoshSession } = require('./bosh_load');
const { WsSession, loadWs } = require('./ws_load');
const { rssKb, cpuMs, fdCount } = require('./proc_stats');
const { num, parseOptions } = require('./cli');

const DOMAIN = 'soak.test';
/** Sessions per account (distinct resources); well under Prosody's resource limit. */
const RESOURCES_PER_USER = 4;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usage() {
  return `usage: bench/soak.sh [options]
  --minutes M         messaging duration in minutes (default 2; fractions allowed)
  --sessions N        sessions, an even number (default 40)
  --ws-fraction F     share of WebSocket sessions, 0..1 (default 0.5; the rest BOSH)
  --rate R            messages per second sent by each session (default 1)
  --sample S          seconds between RSS/fd samples (default 60; soak.sh's short run: 15)
  --warmup S          warm-up seconds; the first sample at or after it is the RSS baseline
                      (default: max(30, 2 x --sample))
  --drain S           at most this many seconds to wait for in-flight messages (default 20)
  --rss-factor X      RSS bound: final <= X * baseline + slack (default 1.25)
  --rss-slack-mb MB   (default 4)
  --fd-settle S       seconds to wait for the fds to return to the idle count (default 30)
  --wait S            BOSH wait attribute (default 20)
  --out DIR           CSV, SVG and summary JSON go here (default build/soak)
  --keep              keep the work dir (always kept when something failed)
  --self-test KIND    checks the checker: the client side drops (drop), repeats (dup) or
                      swaps with the next one (reorder) the 5th message session 1 receives;
                      the run must then FAIL with that violation
env: BOSHGATE_BIN (gateway binary; required)`;
}

function parseArgs(argv) {
  const o = {
    minutes: 2, sessions: 40, wsFraction: 0.5, rate: 1, sample: 60, warmup: null, drain: 20,
    rssFactor: 1.25, rssSlackMb: 4, fdSettle: 30, wait: 20, out: path.join(__dirname, '..', 'build', 'soak'), keep: false, selfTest: null,
  };
  parseOptions(argv, {
    '--minutes': (v, a) => { o.minutes = num(a, v); },
    '--sessions': (v, a) => { o.sessions = num(a, v, { int: true, min: 2 }); },
    '--ws-fraction': (v, a) => { o.wsFraction = num(a, v); },
    '--rate': (v, a) => { o.rate = num(a, v); },
    '--sample': (v, a) => { o.sample = num(a, v, { min: 1 }); },
    '--warmup': (v, a) => { o.warmup = num(a, v); },
    '--drain': (v, a) => { o.drain = num(a, v); },
    '--rss-factor': (v, a) => { o.rssFactor = num(a, v, { min: 1 }); },
    '--rss-slack-mb': (v, a) => { o.rssSlackMb = num(a, v); },
    '--fd-settle': (v, a) => { o.fdSettle = num(a, v); },
    '--wait': (v, a) => { o.wait = num(a, v, { int: true, min: 1 }); },
    '--out': (v) => { o.out = path.resolve(v); },
    '--keep': () => { o.keep = true; },
    '--self-test': (v) => {
      if (!['drop', 'dup', 'reorder'].includes(v)) {
        throw new Error(`--self-test: drop, dup or reorder, got ${v}`);
      }
      o.selfTest = v;
    },
  }, usage);
  if (o.sessions % 2 !== 0) {
    throw new Error('--sessions must be even (sessions are paired)');
  }
  if (o.wsFraction > 1) {
    throw new Error('--ws-fraction must be within 0..1');
  }
  if (o.warmup === null) {
    o.warmup = Math.max(30, 2 * o.sample);
  }
  if (o.warmup >= o.minutes * 60) {
    throw new Error(`--warmup (${o.warmup} s) must be shorter than the run (${o.minutes * 60} s)`);
  }
  return o;
}

// ---- process bookkeeping (as in bench.js) -------------------------------------

let workDir = null;

const { track, stopAll, runMain } = require('./tracker').makeTracker('soak');

function log(msg) {
  process.stdout.write(`soak: ${msg}\n`);
}

// ---- clients -------------------------------------------------------------------

/**
 * BoshSession that keeps XEP-0124's rules the soak relies on: at most hold+1
 * (= 2) requests outstanding (stanzas queued meanwhile go out together in the
 * next request), and responses processed in rid order (XEP-0124 section 9: a
 * response on the newer of two connections can arrive first; its stanzas must
 * not be handed on before those of the older request).
 */
class OrderedBoshSession extends BoshSession {
  constructor(opts) {
    super(opts);
    this._queue = [];
    this._ridsInFlight = []; // rids of outstanding idle-phase requests, ascending
    this._done = new Map(); // rid -> response, waiting for older rids
  }

  _postIdle(payload) {
    const rid = this.rid;
    const p = this._post(this._wrap(payload));
    this._ridsInFlight.push(rid);
    this.outstanding++;
    p.then((r) => {
      this.outstanding--;
      this._done.set(rid, r);
      // Hand on responses in rid order.
      while (this._ridsInFlight.length && this._done.has(this._ridsInFlight[0])) {
        const first = this._ridsInFlight.shift();
        const resp = this._done.get(first);
        this._done.delete(first);
        if (this.onMessage && resp.inner) {
          this._deliverMessages(resp.inner, resp.t);
        }
      }
      this._pump();
    }, (e) => {
      this.outstanding--;
      if (!this.closed) {
        this.error = this.error || `idle: ${e.message}`;
      }
    });
  }

  /** Queued stanzas out while fewer than hold+1 requests are outstanding; else one held request. */
  _pump() {
    if (!this.idle || this.closed || this.error) {
      return;
    }
    if (this._queue.length && this.outstanding < this.hold + 1) {
      const payload = this._queue.join('');
      this._queue = [];
      this._postIdle(payload);
    }
    if (this.outstanding === 0) {
      this._postIdle('');
    }
  }

  _refill() {
    this._pump();
  }

  startIdle() {
    this.idle = true;
    this._pump();
  }

  send(payload) {
    this._queue.push(payload);
    this._pump();
  }
}

const { userName, password, registerUsers } = require('./accounts').makeAccounts('soak', DOMAIN);

/**
 * Transports and pairs for `n` sessions of which `ws` use WebSocket: as many
 * crossing pairs (BOSH <-> WebSocket) as same-transport pairs where the counts
 * allow it. Returns { transports: ['bosh'|'ws', ...], pairs: [[a, b], ...] }.
 */
function planPairs(n, ws) {
  const bosh = n - ws;
  let cross = Math.floor(Math.min(bosh, ws) / 2);
  if ((bosh - cross) % 2 !== 0) {
    cross = cross > 0 ? cross - 1 : cross + 1;
  }
  const transports = [];
  const pairs = [];
  const add = (ta, tb) => {
    const a = transports.push(ta) - 1;
    const b = transports.push(tb) - 1;
    pairs.push([a, b]);
  };
  let b = bosh - cross;
  let w = ws - cross;
  let c = cross;
  // Interleave the kinds so that any prefix of the ramp has all three.
  while (b > 0 || w > 0 || c > 0) {
    if (b > 0) { add('bosh', 'bosh'); b -= 2; }
    if (c > 0) { add('bosh', 'ws'); c -= 1; }
    if (w > 0) { add('ws', 'ws'); w -= 2; }
  }
  return { transports, pairs };
}

// ---- measurements --------------------------------------------------------------

/** Open fds of `pid` by kind ("socket", "anon_inode:[eventfd]", "/path" ...): { kind: count }. */
function fdKinds(pid) {
  const out = {};
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let t;
      try {
        t = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, '');
      } catch (_) {
        continue;
      }
      out[t] = (out[t] || 0) + 1;
    }
  } catch (_) {
    // gone
  }
  return out;
}

/** Median of `count` VmRSS readings `gapMs` apart (KiB; null if gone). */
async function rssMedian(pid, count = 5, gapMs = 100) {
  const got = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) {
      await sleep(gapMs);
    }
    const v = rssKb(pid);
    if (v !== null) {
      got.push(v);
    }
  }
  got.sort((a, b) => a - b);
  return got.length ? got[Math.floor(got.length / 2)] : null;
}

const mb = (kb) => (kb === null || kb === undefined ? 'n/a' : (kb / 1024).toFixed(1));

// ---- SVG plot (drawn by hand, no dependencies) ------------------------------------

function niceStep(range, ticks) {
  const raw = range / Math.max(1, ticks);
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= raw) {
      return m * p;
    }
  }
  return 10 * p;
}

function svgEscape(s) {
  return String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]));
}

/**
 * RSS (MB, left axis) and open fds (right axis) of the gateway over time
 * (minutes since messaging started), with the warm-up end, the RSS baseline
 * and the RSS bound marked.
 */
function renderSvg({ samples, title, subtitle, warmupS, baselineKb, boundKb }) {
  const W = 860;
  const H = 440;
  const L = 70;
  const R = 70;
  const T = 60;
  const B = 60;
  const pw = W - L - R;
  const ph = H - T - B;
  const xs = samples.map((s) => s.t / 60);
  const xMax = Math.max(1e-9, ...xs);
  const rss = samples.map((s) => s.rssKb / 1024);
  const fds = samples.map((s) => s.fds);
  const rMaxData = Math.max(...rss, boundKb ? boundKb / 1024 : 0);
  const rStep = niceStep(rMaxData, 6);
  const rMax = Math.ceil((rMaxData * 1.05) / rStep) * rStep || 1;
  const fMaxData = Math.max(1, ...fds);
  const fStep = niceStep(fMaxData, 6);
  const fMax = Math.ceil((fMaxData * 1.05) / fStep) * fStep || 1;
  const X = (m) => L + (m / xMax) * pw;
  const YR = (v) => T + ph - (v / rMax) * ph;
  const YF = (v) => T + ph - (v / fMax) * ph;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${svgEscape(title)}</text>`);
  out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${svgEscape(subtitle)}</text>`);
  // grid + left axis (RSS)
  for (let v = 0; v <= rMax + 1e-9; v += rStep) {
    const y = YR(v).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${L - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#1f5fbf">${+v.toFixed(2)}</text>`);
  }
  for (let v = 0; v <= fMax + 1e-9; v += fStep) {
    out.push(`<text x="${L + pw + 6}" y="${YF(v).toFixed(1)}" dominant-baseline="middle" fill="#c0392b">${+v.toFixed(2)}</text>`);
  }
  const xStep = niceStep(xMax, 10);
  for (let m = 0; m <= xMax + 1e-9; m += xStep) {
    const x = X(m).toFixed(1);
    out.push(`<line x1="${x}" y1="${T + ph}" x2="${x}" y2="${T + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${T + ph + 18}" text-anchor="middle">${+m.toFixed(2)}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${L + pw / 2}" y="${H - 18}" text-anchor="middle">minutes since messaging started</text>`);
  out.push(`<text transform="translate(18 ${T + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f5fbf">gateway RSS (MB)</text>`);
  out.push(`<text transform="translate(${W - 16} ${T + ph / 2}) rotate(90)" text-anchor="middle" fill="#c0392b">gateway open fds</text>`);
  // warm-up end, baseline, bound
  if (warmupS !== null && warmupS / 60 <= xMax) {
    const x = X(warmupS / 60).toFixed(1);
    out.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${T + ph}" stroke="#888" stroke-dasharray="4 4"/>`);
    out.push(`<text x="${+x + 4}" y="${T + 12}" fill="#666">warm-up end</text>`);
  }
  if (boundKb) {
    const y = YR(boundKb / 1024).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#1f5fbf" stroke-dasharray="8 4" opacity="0.6"/>`);
    out.push(`<text x="${L + 4}" y="${+y - 4}" fill="#1f5fbf" opacity="0.8">RSS bound ${(boundKb / 1024).toFixed(1)} MB</text>`);
  }
  if (baselineKb) {
    const y = YR(baselineKb / 1024).toFixed(1);
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#1f5fbf" stroke-dasharray="2 3" opacity="0.5"/>`);
  }
  const line = (vals, Y, color) => {
    const pts = samples.map((s, i) => `${X(xs[i]).toFixed(1)},${Y(vals[i]).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (let i = 0; i < samples.length; i++) {
      out.push(`<circle cx="${X(xs[i]).toFixed(1)}" cy="${Y(vals[i]).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
  };
  line(fds, YF, '#c0392b');
  line(rss, YR, '#1f5fbf');
  // legend
  out.push(`<rect x="${L + pw - 170}" y="${T + ph - 50}" width="160" height="40" fill="#fff" stroke="#ccc"/>`);
  out.push(`<line x1="${L + pw - 160}" y1="${T + ph - 37}" x2="${L + pw - 135}" y2="${T + ph - 37}" stroke="#1f5fbf" stroke-width="2"/>`);
  out.push(`<text x="${L + pw - 128}" y="${T + ph - 33}">RSS (VmRSS, MB)</text>`);
  out.push(`<line x1="${L + pw - 160}" y1="${T + ph - 20}" x2="${L + pw - 135}" y2="${T + ph - 20}" stroke="#c0392b" stroke-width="2"/>`);
  out.push(`<text x="${L + pw - 128}" y="${T + ph - 16}">open fds</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---- the run ---------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const bin = process.env.BOSHGATE_BIN ? path.resolve(process.env.BOSHGATE_BIN) : null;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`no gateway binary: BOSHGATE_BIN=${process.env.BOSHGATE_BIN || '(unset)'}`);
  }
  loadWs(); // fails loudly if the ws package is missing
  fs.mkdirSync(o.out, { recursive: true });
  const dir = makeWorkDir('boshgate-soak');
  workDir = dir;
  const nWs = Math.round(o.sessions * o.wsFraction);
  const { transports, pairs } = planPairs(o.sessions, nWs);
  const kinds = { 'bosh-bosh': 0, 'ws-ws': 0, 'bosh-ws': 0 };
  for (const [a, b] of pairs) {
    kinds[`${transports[a]}-${transports[b]}`]++;
  }
  log(`work dir ${dir}; output ${o.out}`);
  log(`binary ${bin}`);
  log(`${o.sessions} sessions (${o.sessions - nWs} BOSH, ${nWs} WebSocket) in ${pairs.length} pairs `
    + `(${kinds['bosh-bosh']} BOSH-BOSH, ${kinds['ws-ws']} WS-WS, ${kinds['bosh-ws']} BOSH-WS), `
    + `${o.rate} msg/s per session (${(o.rate * o.sessions).toFixed(1)} msg/s in all), ${o.minutes} min, `
    + `samples every ${o.sample} s, warm-up ${o.warmup} s, drain <= ${o.drain} s`);
  const load0 = os.loadavg();
  log(`load average at start: ${load0.map((v) => v.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`);

  const failures = [];
  const samples = [];
  const summary = { opts: o, binary: bin, kinds, failures };
  const sessions = [];
  let gw = null;
  let prosody = null;
  try {
    const certs = makeCerts(path.join(dir, 'certs'), [DOMAIN]);
    prosody = await startProsody({ dir, domain: DOMAIN, cert: certs.domains[DOMAIN], users: [], logLevel: 'warn' });
    track('prosody', prosody.pid, prosody.stop);
    const nUsers = Math.ceil(o.sessions / RESOURCES_PER_USER);
    const tReg = Date.now();
    await registerUsers(prosody.configFile, nUsers);
    log(`Prosody up (pid ${prosody.pid}); ${nUsers} accounts registered in ${((Date.now() - tReg) / 1000).toFixed(1)} s`);

    const target = `xmpp-1.${DOMAIN}`;
    const dns = await startDnsmasq({
      dir,
      zones: [DOMAIN],
      srv: [{ name: `_xmpp-client._tcp.${DOMAIN}`, target, port: prosody.c2sPort, priority: 10, weight: 10 }],
      a: [{ name: target, address: '127.0.0.1' }],
    });
    track('dnsmasq', dns.pid, dns.stop);
    gw = await startBoshgate({
      bin,
      dir,
      caFile: certs.caFile,
      dnsServer: dns.server,
      domains: [{ name: DOMAIN }],
      logLevel: 'info',
      // Every session comes from 127.0.0.1: the per-address limits are off, explicitly.
      settings: {
        limits: { max_sessions_per_address: 0, max_connections_per_address: 0, session_rate_per_address: 0 },
      },
    });
    track('boshgate', gw.pid, gw.stop);
    log(`gateway up (pid ${gw.pid}) on port ${gw.port}; log ${gw.logFile}`);
    await sleep(1000);
    const idleFds = fdCount(gw.pid);
    const idleFdKinds = fdKinds(gw.pid);
    const idleRss = await rssMedian(gw.pid);
    summary.idle = { rssKb: idleRss, fds: idleFds };
    log(`gateway idle: RSS ${mb(idleRss)} MB, ${idleFds} fds`);

    // ---- logins, ramped -----------------------------------------------------------
    const tLogin = performance.now();
    const logins = [];
    for (let i = 0; i < o.sessions; i++) {
      if (i > 0 && i % 10 === 0) {
        await sleep(250);
      }
      const u = Math.floor(i / RESOURCES_PER_USER);
      const opts = { domain: DOMAIN, user: userName(u), password: password(u), resource: `r${i}` };
      const s = transports[i] === 'ws'
        ? new WsSession({ ...opts, url: gw.wsUrl })
        : new OrderedBoshSession({ ...opts, url: gw.url, wait: o.wait });
      s.index = i;
      s.transport = transports[i];
      sessions.push(s);
      let timer;
      logins.push(Promise.race([s.login(), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('login took over 60 s')), 60000); })])
        .then(() => { clearTimeout(timer); s.startIdle(); return null; },
          (e) => { clearTimeout(timer); s.error = s.error || `login: ${e.message}`; return `session ${i} (${s.transport}): ${s.error}`; }));
    }
    const loginErrors = (await Promise.all(logins)).filter(Boolean);
    log(`${o.sessions - loginErrors.length}/${o.sessions} logged in in ${((performance.now() - tLogin) / 1000).toFixed(1)} s`);
    if (loginErrors.length) {
      failures.push(`${loginErrors.length} login(s) failed; first: ${loginErrors.slice(0, 3).join(' | ')}`);
      throw new Error('logins failed');
    }

    // ---- accounting ------------------------------------------------------------------
    // Directions: session i -> partner[i]. Per direction: sent; next = every seq
    // below it has arrived; ahead = seqs >= next that have arrived; max = highest
    // seq seen; got = distinct seqs received; dup = a seq seen again; reordered =
    // a seq that arrived after a higher one. Lost (at the end) = sent - got.
    const partner = new Array(o.sessions);
    for (const [a, b] of pairs) {
      partner[a] = b;
      partner[b] = a;
    }
    const dirs = sessions.map((s, i) => ({ from: i, to: partner[i], sent: 0, next: 0, max: -1, ahead: new Set(), got: 0, dup: 0, reordered: 0, foreign: 0 }));
    const violations = [];
    const note = (msg) => {
      if (violations.length < 50) {
        violations.push(msg);
        log(`VIOLATION: ${msg}`);
      }
    };
    let receivedTotal = 0;
    for (const s of sessions) {
      s.onMessage = (id) => {
        const m = /^m(\d+)\.(\d+)$/.exec(id);
        if (!m) {
          note(`session ${s.index} got a message with unexpected id ${id}`);
          return;
        }
        const from = Number(m[1]);
        const seq = Number(m[2]);
        const d = dirs[from];
        if (!d || d.to !== s.index) {
          if (d) {
            d.foreign++;
          }
          note(`session ${s.index} got message ${id} meant for session ${d ? d.to : '?'}`);
          return;
        }
        receivedTotal++;
        if (seq < d.next || d.ahead.has(seq)) {
          d.dup++;
          note(`${from}->${s.index}: seq ${seq} arrived again (duplicate)`);
          return;
        }
        d.got++;
        if (seq < d.max) {
          // Arrived after a later one.
          d.reordered++;
          note(`${from}->${s.index}: seq ${seq} arrived after seq ${d.max} (reordered)`);
        } else if (seq > d.max + 1) {
          note(`${from}->${s.index}: seq ${seq} arrived after seq ${d.max} (gap: ${seq - d.max - 1} missing so far)`);
        }
        d.max = Math.max(d.max, seq);
        if (seq === d.next) {
          d.next++;
          while (d.ahead.delete(d.next)) {
            d.next++;
          }
        } else {
          d.ahead.add(seq);
        }
      };
    }
    if (o.selfTest) {
      // Fault injection on the client side, after the transport: proves that the
      // accounting catches each kind of violation (the run must fail).
      const s = sessions[1];
      const real = s.onMessage;
      let n = 0;
      let held = null;
      s.onMessage = (id, t) => {
        n++;
        if (held !== null) {
          real(id, t);
          real(held, t);
          held = null;
        } else if (n !== 5) {
          real(id, t);
        } else if (o.selfTest === 'dup') {
          real(id, t);
          real(id, t);
        } else if (o.selfTest === 'reorder') {
          held = id;
        } // drop: nothing
      };
      log(`SELF-TEST: injecting a "${o.selfTest}" of the 5th message session 1 receives; this run must FAIL`);
    }

    // ---- messaging + sampling ---------------------------------------------------------
    const durMs = o.minutes * 60000;
    const phase = sessions.map(() => Math.random() * (1000 / Math.max(o.rate, 1e-9)));
    const sentTotal = () => dirs.reduce((a, d) => a + d.sent, 0);
    const reportedDead = new Set();
    const checkSessions = () => {
      for (const s of sessions) {
        if (s.error && !reportedDead.has(s.index)) {
          reportedDead.add(s.index);
          log(`session ${s.index} (${s.transport}, ${s.jid}) ended unexpectedly: ${s.error}`);
        }
      }
    };
    const t0 = performance.now();
    let sendsStopped = false;
    const tick = () => {
      if (sendsStopped) {
        return;
      }
      const el = performance.now() - t0;
      for (let i = 0; i < sessions.length; i++) {
        const s = sessions[i];
        const d = dirs[i];
        if (s.error || s.closed) {
          continue;
        }
        const due = el < phase[i] ? 0 : Math.floor(((el - phase[i]) / 1000) * o.rate) + 1;
        const to = sessions[d.to].jid;
        while (d.sent < due) {
          s.send(`<message to='${to}' type='headline' id='m${i}.${d.sent}' xmlns='jabber:client'><body>${d.sent}</body></message>`);
          d.sent++;
        }
      }
    };
    const ticker = setInterval(tick, 50);
    let cpuPrev = cpuMs(gw.pid);
    let tPrev = 0;
    const cpu0 = cpuPrev;
    const header = `${'t (s)'.padStart(7)} ${'RSS MB'.padStart(8)} ${'fds'.padStart(6)} ${'CPU %'.padStart(6)} ${'sent'.padStart(9)} ${'received'.padStart(9)} ${'msg/s'.padStart(7)} ${'alive'.padStart(6)} ${'Prosody MB'.padStart(10)}`;
    let recvPrev = 0;
    const takeSample = async (label) => {
      const t = (performance.now() - t0) / 1000;
      const rss = await rssMedian(gw.pid, 3, 100);
      const fds = fdCount(gw.pid);
      const cpu = cpuMs(gw.pid);
      const cpuPct = samples.length && cpu !== null && cpuPrev !== null && t > tPrev ? ((cpu - cpuPrev) / 10) / (t - tPrev) : null;
      const rate = samples.length && t > tPrev ? (receivedTotal - recvPrev) / (t - tPrev) : null;
      const s = {
        t: Math.round(t * 10) / 10, rssKb: rss, fds, cpuMs: cpu, cpuPct, sent: sentTotal(), received: receivedTotal,
        msgsPerS: rate, alive: sessions.filter((x) => !x.error).length, prosodyRssKb: rssKb(prosody.pid), label,
      };
      cpuPrev = cpu;
      tPrev = t;
      recvPrev = receivedTotal;
      samples.push(s);
      process.stdout.write(`${s.t.toFixed(0).padStart(7)} ${mb(rss).padStart(8)} ${String(fds).padStart(6)} ${(cpuPct === null ? 'n/a' : cpuPct.toFixed(1)).padStart(6)} `
        + `${String(s.sent).padStart(9)} ${String(s.received).padStart(9)} ${(rate === null ? 'n/a' : rate.toFixed(1)).padStart(7)} ${String(s.alive).padStart(6)} ${mb(s.prosodyRssKb).padStart(10)}${label ? `  ${label}` : ''}\n`);
      return s;
    };
    log(`messaging for ${o.minutes} min`);
    process.stdout.write(`${header}\n`);
    await takeSample('start');
    let nextSample = o.sample * 1000;
    let baseline = null;
    while (true) {
      const now = performance.now() - t0;
      if (now >= durMs) {
        break;
      }
      const wake = Math.min(nextSample, durMs);
      await sleep(Math.max(0, wake - now));
      checkSessions();
      if (gw.alive() !== true) {
        failures.push(`the gateway process exited during the run (${gw.alive()})`);
        throw new Error('gateway exited');
      }
      if (performance.now() - t0 >= nextSample - 5 && nextSample <= durMs) {
        const s = await takeSample(baseline === null && nextSample / 1000 >= o.warmup ? 'baseline (warm-up over)' : '');
        if (baseline === null && nextSample / 1000 >= o.warmup) {
          baseline = s;
        }
        nextSample += o.sample * 1000;
      }
    }
    sendsStopped = true;
    clearInterval(ticker);
    const tSendEnd = performance.now();
    const sent = sentTotal();
    // Drain: wait (bounded) until every direction has everything it was sent.
    const drained = () => dirs.every((d) => d.got + 0 >= d.sent || sessions[d.to].error);
    const drainDeadline = performance.now() + o.drain * 1000;
    while (!drained() && performance.now() < drainDeadline) {
      await sleep(100);
    }
    const drainS = (performance.now() - tSendEnd) / 1000;
    log(`sending stopped at ${((tSendEnd - t0) / 1000).toFixed(1)} s; drained in ${drainS.toFixed(1)} s${drained() ? '' : ' (drain time exceeded)'}`);
    checkSessions();
    const final = await takeSample('end (after drain)');
    const cpuEnd = final.cpuMs;
    if (baseline === null) {
      baseline = final;
    }

    // ---- verdicts --------------------------------------------------------------------
    const tot = { sent, received: 0, lost: 0, dup: 0, reordered: 0, foreign: 0 };
    const badDirs = [];
    for (const d of dirs) {
      const lost = d.sent - d.got;
      tot.received += d.got;
      tot.lost += lost;
      tot.dup += d.dup;
      tot.reordered += d.reordered;
      tot.foreign += d.foreign;
      if (lost || d.dup || d.reordered || d.foreign) {
        const missing = [];
        for (let q = d.next; q < d.sent && missing.length < 10; q++) {
          if (!d.ahead.has(q)) {
            missing.push(q);
          }
        }
        badDirs.push(`${d.from} (${transports[d.from]}) -> ${d.to} (${transports[d.to]}): sent ${d.sent}, received ${d.got}, lost ${lost}, dup ${d.dup}, reordered ${d.reordered}, misrouted ${d.foreign}`
          + (missing.length ? `, first missing seqs ${missing.join(',')}` : ''));
      }
    }
    const elapsedS = (tSendEnd - t0) / 1000;
    summary.messages = { ...tot, elapsedS, msgsPerS: tot.received / (elapsedS + drainS), drainS };
    summary.cpu = { gatewayMs: cpuEnd - cpu0, gatewayPctOfOneCore: ((cpuEnd - cpu0) / 10) / ((performance.now() - t0) / 1000) };
    log(`messages: sent ${tot.sent}, received ${tot.received}, lost ${tot.lost}, duplicated ${tot.dup}, reordered ${tot.reordered}, misrouted ${tot.foreign}`);
    log(`throughput: ${summary.messages.msgsPerS.toFixed(1)} msgs/s delivered; gateway CPU ${(summary.cpu.gatewayMs / 1000).toFixed(1)} s = ${summary.cpu.gatewayPctOfOneCore.toFixed(1)} % of one core`);
    if (tot.lost || tot.dup || tot.reordered || tot.foreign) {
      failures.push(`message accounting: lost ${tot.lost}, duplicated ${tot.dup}, reordered ${tot.reordered}, misrouted ${tot.foreign}; `
        + `directions affected (${badDirs.length}): ${badDirs.slice(0, 10).join(' | ')}`);
    }
    const dead = sessions.filter((s) => s.error);
    if (dead.length) {
      failures.push(`${dead.length} session(s) ended unexpectedly: ${dead.slice(0, 5).map((s) => `${s.index} (${s.transport}): ${s.error}`).join(' | ')}`);
    }
    const boundKb = o.rssFactor * baseline.rssKb + o.rssSlackMb * 1024;
    const growthPct = ((final.rssKb - baseline.rssKb) / baseline.rssKb) * 100;
    summary.rss = {
      idleKb: idleRss, startKb: samples[0].rssKb, baselineKb: baseline.rssKb, baselineT: baseline.t, finalKb: final.rssKb,
      maxKb: Math.max(...samples.map((s) => s.rssKb)), boundKb, growthAfterWarmupPct: growthPct,
    };
    log(`RSS: idle ${mb(idleRss)} MB, start ${mb(samples[0].rssKb)} MB, after warm-up (t=${baseline.t} s) ${mb(baseline.rssKb)} MB, `
      + `end ${mb(final.rssKb)} MB (${growthPct >= 0 ? '+' : ''}${growthPct.toFixed(1)} % after warm-up), max ${mb(summary.rss.maxKb)} MB; `
      + `bound ${o.rssFactor} x ${mb(baseline.rssKb)} + ${o.rssSlackMb} MB = ${mb(boundKb)} MB`);
    if (final.rssKb > boundKb) {
      failures.push(`RSS grew past its bound: ${mb(final.rssKb)} MB at the end > ${o.rssFactor} x ${mb(baseline.rssKb)} MB (t=${baseline.t} s) + ${o.rssSlackMb} MB = ${mb(boundKb)} MB`);
    }

    // ---- close every session, then the fds must return to the idle count ------------------
    const fdsLoaded = final.fds;
    for (let i = 0; i < sessions.length; i += 50) {
      await Promise.all(sessions.slice(i, i + 50).map((s) => s.close(5000)));
    }
    let fdsAfter = fdCount(gw.pid);
    const fdDeadline = performance.now() + o.fdSettle * 1000;
    while (fdsAfter !== idleFds && performance.now() < fdDeadline) {
      await sleep(250);
      fdsAfter = fdCount(gw.pid);
    }
    summary.fds = { idle: idleFds, start: samples[0].fds, baseline: baseline.fds, loadedEnd: fdsLoaded, max: Math.max(...samples.map((s) => s.fds)), afterClose: fdsAfter };
    log(`fds: idle ${idleFds}, with sessions ${samples[0].fds} at start / ${fdsLoaded} at the end (max ${summary.fds.max}), after closing every session ${fdsAfter}`);
    if (fdsAfter !== idleFds) {
      const now = fdKinds(gw.pid);
      const diff = Object.keys({ ...now, ...idleFdKinds })
        .filter((k) => (now[k] || 0) !== (idleFdKinds[k] || 0))
        .map((k) => `${k}: ${idleFdKinds[k] || 0} -> ${now[k] || 0}`);
      failures.push(`gateway fds did not return to the idle count within ${o.fdSettle} s: ${idleFds} idle, ${fdsAfter} after every session closed (${diff.join(', ')})`);
    }
    if (gw.alive() !== true) {
      failures.push(`the gateway process exited (${gw.alive()})`);
    }
  } catch (e) {
    if (!failures.length || !/^(logins failed|gateway exited)$/.test(e.message)) {
      failures.push(`run aborted: ${e.stack || e.message}`);
    }
  } finally {
    for (const s of sessions) {
      if (!s.closed) {
        s.abort();
      }
    }
    if (gw) {
      const warn = (() => {
        try {
          return fs.readFileSync(gw.logFile, 'utf8').split('\n').filter((l) => /\b(warn|warning|error|critical)\b/i.test(l));
        } catch (_) {
          return [];
        }
      })();
      summary.gatewayWarnings = warn.length;
      if (warn.length) {
        log(`gateway log: ${warn.length} warning/error line(s); first ones:`);
        for (const l of warn.slice(0, 5)) {
          process.stdout.write(`  ${l}\n`);
        }
      }
    }
    await stopAll();
  }

  // ---- outputs ---------------------------------------------------------------------------
  if (samples.length) {
    const csv = ['t_s,rss_kb,fds,cpu_pct_interval,sent,received,msgs_per_s_interval,sessions_alive,prosody_rss_kb,label'];
    for (const s of samples) {
      csv.push([s.t, s.rssKb, s.fds, s.cpuPct === null ? '' : s.cpuPct.toFixed(2), s.sent, s.received,
        s.msgsPerS === null ? '' : s.msgsPerS.toFixed(2), s.alive, s.prosodyRssKb, s.label].join(','));
    }
    fs.writeFileSync(path.join(o.out, 'samples.csv'), `${csv.join('\n')}\n`);
    const m = summary.messages || {};
    fs.writeFileSync(path.join(o.out, 'rss.svg'), renderSvg({
      samples,
      title: `boshgate soak: ${o.sessions} sessions (${o.sessions - nWs} BOSH, ${nWs} WebSocket), ${o.minutes} min`,
      subtitle: `${o.rate} msg/s per session; sent ${m.sent ?? 'n/a'}, received ${m.received ?? 'n/a'}, lost ${m.lost ?? 'n/a'}, dup ${m.dup ?? 'n/a'}, reordered ${m.reordered ?? 'n/a'}`
        + `${failures.length ? ' - FAILED' : ' - passed'}`,
      warmupS: summary.rss ? summary.rss.baselineT : null,
      baselineKb: summary.rss ? summary.rss.baselineKb : null,
      boundKb: summary.rss ? summary.rss.boundKb : null,
    }));
  }
  summary.samples = samples;
  summary.passed = failures.length === 0;
  fs.writeFileSync(path.join(o.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(`wrote ${path.join(o.out, 'samples.csv')}, ${path.join(o.out, 'rss.svg')}, ${path.join(o.out, 'summary.json')}`);
  if (failures.length) {
    log(`FAILED (${failures.length}):`);
    for (const f of failures) {
      process.stdout.write(`  - ${f}\n`);
    }
    log(`work dir kept: ${workDir}`);
    if (gw) {
      process.stdout.write(`--- tail of ${gw.logFile} ---\n${tail(gw.logFile, 20)}\n`);
    }
    return 1;
  }
  log('PASSED: no message lost, duplicated or reordered; no session ended unexpectedly; RSS within its bound; fds back to the idle count');
  if (!o.keep) {
    fs.rmSync(workDir, { recursive: true, force: true });
  } else {
    log(`work dir kept: ${workDir}`);
  }
  return 0;
}

if (require.main === module) {
  runMain(main, () => workDir);
}

module.exports = { planPairs, renderSvg, OrderedBoshSession };
