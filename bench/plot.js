'use strict';
// Plots of a bench run (the object bench.js writes with --json), drawn by gnuplot
// (Debian: gnuplot-nox). For an output prefix P it writes P-<chart>.dat (the plotted
// numbers), P-plots.gp (the gnuplot script; rerun it with `gnuplot P-plots.gp` from its
// directory) and P-<chart>.svg + P-<chart>.png for each chart the data supports:
//
//   memory      marginal idle KB per session, manager and Prosody process
//               (Δ = (RSS@N - idle) / N when the run had --no-marginal)
//   throughput  msgs/s at 1 pair x 1 in flight and at P pairs x K in flight
//   rtt         RTT p50 / p99 ms, one panel per throughput phase
//   cpu         CPU ms per delivered message, manager and Prosody, both phases
//   scaling     boshgate in front of fakexmpp: msgs/s per transport with 1 and 2 io
//               threads (2 / 1 ratio above each group), gateway CPU ms per message below
//   capacity    boshgate in front of fakexmpp filled with idle sessions: gateway RSS (MB,
//               left axis) and open fds (right axis) against the sessions held
//
// Grouped bars, one group per row. FAILED / NOT MEASURED rows are left out and named in
// a note under the chart; a missing figure leaves out that bar only. The scaling and
// capacity charts come from the JSON's `scaling` / `capacity` keys (bench/fake_phases.js);
// a phase that is absent, null, FAILED or NOT MEASURED has no chart and is named, with
// the reason, in the list of charts not drawn.
//
//   node bench/plot.js results.json [outprefix]   (outprefix: the JSON path without .json)

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const CHARTS = ['memory', 'throughput', 'rtt', 'cpu', 'scaling', 'capacity', 'idle-scale'];
const W = 1200;
const H = 720;

/** A finite number or null (anything else: null). */
function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** (b - a) / n, or null when a figure is missing or n is not positive. */
function perUnit(a, b, n) {
  a = num(a);
  b = num(b);
  n = num(n);
  return a === null || b === null || n === null || n <= 0 ? null : (b - a) / n;
}

/** A gnuplot double-quoted string (with noenhanced text, only \ " and newlines matter). */
function q(s) {
  return `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

function clip(s, n) {
  s = String(s ?? '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

/** Digits for value labels: two significant digits for the smallest value, at most 3. */
function autoDigits(values) {
  const min = Math.min(...values.filter((v) => v !== 0).map(Math.abs), Infinity);
  return min === Infinity ? 0 : Math.max(0, Math.min(3, 1 - Math.floor(Math.log10(min))));
}

function dateOf(data, date) {
  const d = date instanceof Date && !Number.isNaN(date.getTime()) ? date
    : typeof data.date === 'string' && !Number.isNaN(Date.parse(data.date)) ? new Date(data.date)
      : new Date();
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The run's parameters as one line (whatever of them the JSON has). */
function runLine(data, date) {
  const o = data.opts && typeof data.opts === 'object' ? data.opts : {};
  const v = data.versions && typeof data.versions === 'object' ? data.versions : {};
  const parts = [];
  if (num(o.sessions) !== null) {
    parts.push(`${o.sessions}${o.marginal === false ? '' : ` then ${2 * o.sessions}`} sessions`);
  }
  if (num(o.tpSeconds) !== null && o.tpSeconds > 0) {
    const runs = num(o.tpRuns) !== null && o.tpRuns > 1 ? `median of ${o.tpRuns} x ` : '';
    parts.push(`throughput ${runs}${o.tpSeconds} s: 1 pair x 1, ${o.pairs ?? '?'} pairs x ${o.inFlight ?? '?'} in flight`);
  }
  if (v.prosody) {
    parts.push(`Prosody ${v.prosody}`);
  }
  if (v.node) {
    parts.push(`Node ${v.node}`);
  }
  parts.push(dateOf(data, date));
  return parts.join('; ');
}

/**
 * The rows to plot and the notes on the ones left out. A row is plotted when its status
 * is "ok" (or absent, for older JSON) and it is not the setup pseudo-row.
 */
function splitRows(data) {
  const results = Array.isArray(data.results) ? data.results.filter((r) => r && typeof r === 'object') : [];
  const rows = [];
  const left = [];
  for (const r of results) {
    const label = clip(r.label || r.kind || '?', 60);
    if (r.kind === 'setup') {
      left.push(`setup FAILED: ${clip(r.error, 90)}`);
    } else if (r.status === 'failed' || r.status === 'not measured') {
      left.push(`${label}: ${r.status.toUpperCase()}${r.error ? `: ${clip(r.error, 90)}` : ''}`);
    } else if (r.status === undefined || r.status === 'ok') {
      rows.push({ ...r, label });
    } else {
      left.push(`${label}: status ${clip(r.status, 20)}`);
    }
  }
  return { rows, left };
}

// ---- the charts: each is a list of panels, each panel a list of series --------

function phaseNames(data, rows) {
  const o = data.opts || {};
  const tpN = rows.map((r) => r.tpN).find((t) => t && typeof t === 'object') || {};
  const pairs = num(tpN.pairs) ?? num(o.pairs);
  const inFlight = num(tpN.inFlight) ?? num(o.inFlight);
  return {
    one: '1 pair x 1',
    many: `${pairs ?? 'P'} pairs x ${inFlight ?? 'K'}`,
  };
}

function memoryChart(data, rows) {
  const marginal = rows.some((r) => perUnit(r.held, r.held2, 1) !== null && perUnit(r.mgrRssLoadedKb, r.mgrRss2Kb, r.held2 - r.held) !== null);
  const value = (r, idle, atN, at2N) => (marginal
    ? (num(r.held) !== null && num(r.held2) !== null ? perUnit(atN, at2N, r.held2 - r.held) : null)
    : perUnit(idle, atN, r.held));
  const notes = [];
  if (rows.some((r) => r.inProcess)) {
    notes.push('in-process rows (Prosody mod_bosh / mod_websocket): one process, drawn as the manager bar');
  }
  return {
    name: 'memory',
    title: marginal ? 'Marginal idle memory per session' : 'Idle memory per session (no 2N reading: delta from idle)',
    panels: [{
      ylabel: 'KB per session (VmRSS)',
      digits: 1,
      subtitle: marginal ? '(RSS@2N - RSS@N) / (held@2N - held@N)' : '(RSS@N - RSS idle) / N held',
      series: [
        { name: 'connection manager process', color: '#1f77b4', values: rows.map((r) => value(r, r.mgrRssIdleKb, r.mgrRssLoadedKb, r.mgrRss2Kb)) },
        { name: 'Prosody (c2s server) process', color: '#ff7f0e', values: rows.map((r) => (r.inProcess ? null : value(r, r.prosodyRssIdleKb, r.prosodyRssLoadedKb, r.prosodyRss2Kb))) },
      ],
    }],
    notes,
  };
}

function lostNotes(rows, phases) {
  const notes = [];
  for (const r of rows) {
    for (const [key, name] of [['tp1', phases.one], ['tpN', phases.many]]) {
      const lost = num(r[key] && r[key].lost);
      if (lost) {
        notes.push(`${r.label}: ${lost} message(s) lost at ${name}`);
      }
    }
  }
  return notes;
}

function tp(r, key, field) {
  return r[key] && typeof r[key] === 'object' ? num(r[key][field]) : null;
}

function throughputChart(data, rows, phases) {
  return {
    name: 'throughput',
    title: 'Throughput: messages A -> B delivered per second',
    panels: [{
      ylabel: 'messages / s',
      digits: 0,
      subtitle: 'higher is better',
      series: [
        { name: `${phases.one} in flight`, color: '#2ca02c', values: rows.map((r) => tp(r, 'tp1', 'rate')) },
        { name: `${phases.many} in flight`, color: '#9467bd', values: rows.map((r) => tp(r, 'tpN', 'rate')) },
      ],
    }],
    notes: lostNotes(rows, phases),
  };
}

function rttChart(data, rows, phases) {
  const panel = (key, name) => ({
    ylabel: 'RTT ms (sent on A -> received on B)',
    subtitle: `${name} in flight`,
    series: [
      { name: 'p50', color: '#1f77b4', values: rows.map((r) => tp(r, key, 'p50')) },
      { name: 'p99', color: '#d62728', values: rows.map((r) => tp(r, key, 'p99')) },
    ],
  });
  return {
    name: 'rtt',
    title: 'Message round trip, p50 and p99',
    panels: [panel('tp1', phases.one), panel('tpN', phases.many)],
    notes: [],
  };
}

function cpuChart(data, rows, phases) {
  const notes = [];
  if (rows.some((r) => r.inProcess)) {
    notes.push('in-process rows: one process, drawn as the manager bars');
  }
  return {
    name: 'cpu',
    title: 'CPU per delivered message (utime + stime)',
    panels: [{
      ylabel: 'CPU ms per message',
      digits: 3,
      subtitle: 'lower is better',
      series: [
        { name: `manager, ${phases.one}`, color: '#1f77b4', values: rows.map((r) => tp(r, 'tp1', 'mgrMsPerMsg')) },
        { name: `manager, ${phases.many}`, color: '#aec7e8', values: rows.map((r) => tp(r, 'tpN', 'mgrMsPerMsg')) },
        { name: `Prosody, ${phases.one}`, color: '#ff7f0e', values: rows.map((r) => (r.inProcess ? null : tp(r, 'tp1', 'prosodyMsPerMsg'))) },
        { name: `Prosody, ${phases.many}`, color: '#ffbb78', values: rows.map((r) => (r.inProcess ? null : tp(r, 'tpN', 'prosodyMsPerMsg'))) },
      ],
    }],
    notes,
  };
}

// ---- the two phases in front of fakexmpp (bench/fake_phases.js) --------------

/** `v` with `d` decimals, or "n/a". */
function fmt(v, d = 0) {
  return num(v) === null ? 'n/a' : v.toFixed(d);
}

/** Why phase `name` ("scaling" / "capacity") has no chart, or null when it has one. */
function phaseSkip(data, name) {
  const p = data[name];
  if (p === undefined || p === null) {
    const o = data.opts && typeof data.opts === 'object' ? data.opts : {};
    const off = name === 'scaling' ? num(o.scalingSeconds) !== null && o.scalingSeconds <= 0 && '--scaling-seconds 0'
      : name === 'idleScale' ? num(o.idleScale) !== null && o.idleScale <= 0 && '--idle-scale 0'
        : num(o.capacity) !== null && o.capacity < 0 && '--no-capacity';
    return off ? `phase not run (${off})` : 'phase not in the results';
  }
  if (typeof p !== 'object') {
    return 'malformed phase result';
  }
  if (p.status === 'failed' || p.status === 'not measured') {
    return `${p.status.toUpperCase()}${p.error ? `: ${clip(p.error, 90)}` : ''}`;
  }
  return p.status === undefined || p.status === 'ok' ? null : `status ${clip(p.status, 20)}`;
}

/** "; Node vX; <date>": the tail of the fake phases' header lines. */
function versionDate(data, date) {
  const v = data.versions && typeof data.versions === 'object' ? data.versions : {};
  return `${v.node ? `Node ${v.node}; ` : ''}${dateOf(data, date)}`;
}

const TRANSPORTS = [['bosh', 'BOSH'], ['ws', 'WebSocket']];

/**
 * Scaling: one group per transport, a bar per io thread count; the 2 / 1 ratio above
 * each group; gateway CPU per message in a smaller panel below.
 */
function scalingChart(data, date) {
  const s = data.scaling;
  const runs = Array.isArray(s.runs) ? s.runs.filter((r) => r && typeof r === 'object') : [];
  const run = (t, n) => runs.filter((r) => r.transport === t && Number(r.threads) === n).pop() || {};
  const rows = TRANSPORTS.map(([t, label]) => ({ label, one: run(t, 1), two: run(t, 2), t }));
  const ratios = rows.map((r) => {
    const given = num(s.ratio && typeof s.ratio === 'object' ? s.ratio[r.t] : null);
    const [a, b] = [num(r.one.rate), num(r.two.rate)];
    const ratio = given ?? (a !== null && b !== null && a > 0 ? b / a : null);
    return ratio === null ? null : `2 / 1 threads: ${ratio.toFixed(2)}x`;
  });
  const first = runs[0] || {};
  const pairs = num(s.pairs) ?? num(first.pairs);
  const inFlight = num(s.inFlight) ?? num(first.inFlight);
  const seconds = num(s.seconds);
  const header = `boshgate (tls off) -> fakexmpp (${num(s.fakeThreads) ?? '?'} threads); ${pairs ?? '?'} pairs x ${inFlight ?? '?'} in flight, `
    + `${num(s.runsPerPhase) > 1 ? `median of ${s.runsPerPhase} runs of ${seconds ?? '?'} s each` : `${seconds ?? '?'} s per run`}; ${versionDate(data, date)}`;
  // Per transport, "1 / 2 threads" figures for the notes.
  const pairOf = (field, d) => rows
    .filter((r) => num(r.one[field]) !== null || num(r.two[field]) !== null)
    .map((r) => `${r.label} ${fmt(r.one[field], d)} / ${fmt(r.two[field], d)}`).join(', ');
  const notes = [];
  for (const r of rows) {
    for (const [n, x] of [[1, r.one], [2, r.two]]) {
      if (num(x.lost)) {
        notes.push(`${r.label}, ${n} io thread(s): ${x.lost} message(s) lost`);
      }
    }
  }
  const gen = typeof s.generator === 'string' ? s.generator : 'Node';
  const cores = num(s.cores);
  for (const [field, d, text] of [['serverMsPerMsg', 3, 'fakexmpp CPU ms per message'], ['p50', 2, 'RTT p50 ms'], ['genCpuPct', 0, `load generator (${gen}), % of a core`],
    ['allCores', 2, `cores busy (gateway + fakexmpp + load generator${cores !== null ? `, of ${cores}` : ''})`]]) {
    const line = pairOf(field, d);
    if (line) {
      notes.push(`${text}, 1 / 2 io threads: ${line}`);
    }
  }
  if (rows.some((r) => [r.one, r.two].some((x) => num(x.genCpuPct) !== null && x.genCpuPct >= 90))) {
    notes.push('a load generator near 100 % of a core may be the limit, not the gateway');
  }
  const series = (field, names) => [
    { name: names[0], color: names[2], values: rows.map((r) => num(r.one[field])) },
    { name: names[1], color: names[3], values: rows.map((r) => num(r.two[field])) },
  ];
  const chart = prune({
    name: 'scaling',
    title: 'Scaling: messages A -> B delivered per second, gateway on 1 and 2 io threads',
    header,
    left: [],
    height: H + 220,
    panels: [{
      ylabel: 'messages / s',
      digits: 0,
      weight: 2,
      subtitle: 'higher is better; above each group: 2 io threads / 1 io thread',
      groups: ratios,
      series: series('rate', ['1 io thread', '2 io threads', '#2ca02c', '#9467bd']),
    }, {
      ylabel: 'gateway CPU ms / msg',
      digits: 3,
      weight: 1,
      subtitle: 'gateway CPU per delivered message (utime + stime), lower is better',
      series: series('mgrMsPerMsg', ['1 io thread', '2 io threads', '#1f77b4', '#aec7e8']),
    }],
    notes,
  }, rows);
  return chart.rows.length ? chart : { name: 'scaling', skip: 'no run has its figures' };
}

/**
 * Idle at scale: per transport, the median marginal KB/session of its runs (each run's
 * figure in the notes), against the 6 KB goal for tls off.
 */
function idleScaleChart(data, date) {
  const s = data.idleScale;
  const runs = Array.isArray(s.runs) ? s.runs.filter((r) => r && typeof r === 'object') : [];
  const rows = TRANSPORTS.map(([t, label]) => ({ label, t }));
  const median = (t) => num(s.median && typeof s.median === 'object' ? s.median[t] : null);
  const notes = rows
    .map((r) => runs.filter((x) => x.transport === r.t).map((x) => fmt(x.marginalKb, 2)))
    .map((v, i) => (v.length ? `${rows[i].label}, each run: ${v.join(', ')} KB/session` : null))
    .filter((line) => line !== null);
  const n = num(s.sessions);
  const header = `boshgate (1 io thread, tls off) -> fakexmpp; ${n ?? '?'} then ${n === null ? '?' : 2 * n} idle sessions of one transport per run, `
    + `a fresh gateway each; ${versionDate(data, date)}`;
  const chart = prune({
    name: 'idle-scale',
    title: 'Marginal idle memory per session at scale',
    header,
    left: [],
    panels: [{
      ylabel: 'KB per session (VmRSS)',
      digits: 2,
      subtitle: '(RSS@2N - RSS@N) / N, median of the runs; goal <= 6 KB with tls off',
      series: [{ name: 'boshgate (median)', color: '#1f77b4', values: rows.map((r) => median(r.t)) }],
    }],
    notes,
  }, rows);
  return chart.rows.length ? chart : { name: 'idle-scale', skip: 'no run has its figures' };
}

/** A round tic step for `span` in about `n` steps. */
function niceStep(span, n) {
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return Number(((m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p).toPrecision(6));
}

/** Capacity: gateway RSS (left axis) and open fds (right axis) against the sessions held. */
function capacityChart(data, date) {
  const c = data.capacity;
  const points = (Array.isArray(c.checkpoints) ? c.checkpoints : [])
    .filter((cp) => cp && typeof cp === 'object' && num(cp.sessions) !== null && cp.sessions >= 0)
    .map((cp) => ({
      pct: num(cp.pct), sessions: cp.sessions, rssMb: num(cp.rssKb) === null ? null : cp.rssKb / 1024, fds: num(cp.fds),
      kb: num(cp.kbPerSession), idle: num(cp.idleCpuPct), idleS: num(cp.idleWindowS), fakeMb: num(cp.fakeRssKb) === null ? null : cp.fakeRssKb / 1024,
    }))
    .filter((p) => p.rssMb !== null || p.fds !== null)
    .sort((a, b) => a.sessions - b.sessions);
  if (points.length === 0) {
    return { name: 'capacity', skip: 'no checkpoint has its figures' };
  }
  const full = points.filter((p) => p.pct === 100 && p.idle !== null).pop();
  const idle = full ? `idle CPU at 100 %: ${full.idle.toFixed(2)} % of a core${full.idleS ? ` over ${full.idleS} s` : ''}` : 'idle CPU at 100 %: n/a';
  const header = `target ${num(c.target) ?? '?'} sessions, open-file limit ${num(c.nofile) ?? '?'}; `
    + `${num(c.loginRate) === null ? 'n/a' : c.loginRate.toFixed(0)} logins/s${num(c.window) !== null ? ` (${c.window} at once)` : ''}; ${idle}; ${versionDate(data, date)}`;
  const notes = [];
  if (num(c.loginsOk) !== null || num(c.loginsFailed) !== null) {
    notes.push(`logins: ${fmt(c.loginsOk)} ok, ${fmt(c.loginsFailed)} failed${c.firstError ? `; first error: ${clip(c.firstError, 90)}` : ''}`);
  }
  const per = c.cpuPerLoginMs && typeof c.cpuPerLoginMs === 'object' ? c.cpuPerLoginMs : {};
  const pct = c.cpuPctDuringRamp && typeof c.cpuPctDuringRamp === 'object' ? c.cpuPctDuringRamp : {};
  // Runs before capload recorded no generator: they used the Node clients.
  const procs = [['gateway', 'gateway'], ['fake', 'fakexmpp'], ['generator', `load generator (${c.generator || 'Node'})`]];
  if (procs.some(([k]) => num(per[k]) !== null)) {
    notes.push(`CPU per login (ms) / share of one core during the ramps: ${procs.map(([k, n]) => `${n} ${fmt(per[k], 3)} / ${fmt(pct[k])} %`).join(', ')}`);
  }
  const idles = points.filter((p) => p.idle !== null);
  if (idles.length) {
    notes.push(`gateway idle CPU, % of a core: ${idles.map((p) => `${p.sessions} sessions ${p.idle.toFixed(2)}${p.idleS ? ` over ${p.idleS} s` : ''}`).join(', ')}`);
  }
  const last = points.filter((p) => p.fakeMb !== null).pop();
  if (last) {
    notes.push(`fakexmpp RSS at ${last.sessions} sessions: ${last.fakeMb.toFixed(1)} MB`);
  }
  return {
    name: 'capacity',
    kind: 'lines',
    title: 'Capacity: gateway memory and open files against idle sessions held',
    header,
    left: [],
    height: H,
    subtitle: `boshgate (2 io threads, tls off) -> fakexmpp; idle sessions, half BOSH (wait ${num(c.wait) ?? '?'} s, one held request), half WebSocket`,
    nofile: num(c.nofile),
    points,
    notes,
  };
}

/** The capacity data file: the checkpoints, then one block (index) per line. */
function lineDataText(chart, header) {
  const out = [`# boshgate bench: ${chart.title}`, `# ${header}`,
    '# checkpoints: % of target, sessions held, gateway RSS MB, gateway fds, KB/session (RSS - idle RSS) / held, gateway idle CPU % of a core, over s'];
  for (const p of chart.points) {
    out.push(`#   ${p.pct ?? '?'} % ${p.sessions} ${fmt(p.rssMb, 2)} ${fmt(p.fds)} ${fmt(p.kb, 2)} ${fmt(p.idle, 3)} ${fmt(p.idleS)}`);
  }
  out.push('# columns: sessions held, value', '');
  out.push('# index 0: gateway RSS MB (left axis)');
  out.push(...chart.points.filter((p) => p.rssMb !== null).map((p) => `${p.sessions} ${p.rssMb.toFixed(3)}`), '', '');
  out.push('# index 1: gateway open fds (right axis)');
  out.push(...chart.points.filter((p) => p.fds !== null).map((p) => `${p.sessions} ${p.fds}`), '', '');
  return `${out.join('\n')}\n`;
}

/**
 * The gnuplot commands for the capacity chart: one panel, RSS on the left axis and fds
 * on the right one. The right axis is stretched (its line ends lower) so that the two
 * lines, both about linear in the sessions, do not lie on each other; RSS labels go above
 * and left of their points, fd labels below and right of theirs (both lines rise to the right). Undoes its axis settings at the end (the charts
 * share one gnuplot session).
 */
function lineScript(chart, dataFile, header) {
  const height = chart.height;
  const y = (px) => (1 - px / height).toFixed(4);
  const notes = chart.notes.slice(0, 6);
  if (chart.notes.length > notes.length) {
    notes.push(`(${chart.notes.length - notes.length} more: see the bench output)`);
  }
  const rss = chart.points.filter((p) => p.rssMb !== null);
  const fds = chart.points.filter((p) => p.fds !== null);
  const maxX = Math.max(...chart.points.map((p) => p.sessions));
  const maxRss = Math.max(...rss.map((p) => p.rssMb), 0);
  const maxFds = Math.max(...fds.map((p) => p.fds), 0);
  // The open-file limit as a dashed line when it is near enough to be on the same scale.
  const limit = fds.length && chart.nofile !== null && chart.nofile > 0 && chart.nofile <= 2 * maxFds ? chart.nofile : null;
  const top1 = maxRss > 0 ? maxRss * 1.25 : 1;
  const top2 = Math.max(maxFds, limit ?? 0) > 0 ? Math.max(maxFds, limit ?? 0) * 1.7 : 1;
  const headPx = 80;
  const notesPx = notes.length ? notes.length * 18 + 8 : 0;
  const lines = [];
  lines.push(`set output ${q(`${chart.base}.__EXT__`)}`);
  lines.push('set multiplot');
  lines.push(`set label 1001 ${q(chart.title)} at screen 0.5, screen ${y(26)} center font ",15"`);
  lines.push(`set label 1002 ${q(header)} at screen 0.5, screen ${y(54)} center font ",10" textcolor rgb "#444444"`);
  notes.forEach((t, i) => {
    lines.push(`set label ${1003 + i} ${q(t)} at screen 0.01, screen ${y(height - 14 - (notes.length - 1 - i) * 18)} left font ",9" textcolor rgb "#555555"`);
  });
  lines.push(`set label 1100 ${q(chart.subtitle)} at screen 0.5, screen ${y(headPx + 14)} center font ",11"`);
  lines.push(`set lmargin at screen ${(90 / W).toFixed(4)}`);
  lines.push(`set rmargin at screen ${(1 - 90 / W).toFixed(4)}`);
  lines.push(`set tmargin at screen ${y(headPx + 56)}`);
  lines.push(`set bmargin at screen ${y(height - notesPx - 2 * LINE_PX - 44)}`);
  lines.push('set key at graph 0.5, graph 1.01 center bottom horizontal nobox font ",9" samplen 3');
  lines.push('set border 11');
  lines.push(`set xrange [${(-0.05 * (maxX || 1)).toPrecision(4)}:${(1.07 * (maxX || 1)).toPrecision(4)}]`);
  lines.push(`set xtics (${chart.points.map((p) => `${q(p.pct === null ? `${p.sessions}` : `${p.sessions}\n${p.pct} %%`)} ${p.sessions}`).join(', ')}) norotate center nomirror scale 1 font ",9"`);
  lines.push('set xlabel "idle sessions held (and % of the target)" offset 0,-0.3');
  lines.push(`set yrange [${(-0.08 * top1).toPrecision(4)}:${top1.toPrecision(4)}]`);
  lines.push(`set y2range [${(-0.08 * top2).toPrecision(4)}:${top2.toPrecision(4)}]`);
  lines.push(rss.length ? `set ytics 0, ${niceStep(top1, 6)} nomirror textcolor rgb "#1f77b4"` : 'unset ytics');
  lines.push(fds.length ? `set y2tics 0, ${niceStep(top2, 6)} nomirror textcolor rgb "#d62728"` : 'unset y2tics');
  lines.push(`set ylabel ${q(rss.length ? 'gateway RSS (MB)' : '')} textcolor rgb "#1f77b4"`);
  lines.push(`set y2label ${q(fds.length ? 'gateway open fds' : '')} textcolor rgb "#d62728"`);
  let n = 1200;
  for (const p of rss) {
    const text = `${p.rssMb.toFixed(p.rssMb >= 100 ? 0 : 1)} MB${p.kb !== null ? `\n${p.kb.toFixed(1)} KB/session` : ''}`;
    lines.push(`set label ${n++} ${q(text)} at first ${p.sessions}, first ${p.rssMb} right offset -0.6,${p.kb !== null ? 1.6 : 0.8} font ",8" textcolor rgb "#1f77b4"`);
  }
  for (const p of fds) {
    lines.push(`set label ${n++} ${q(`${p.fds} fds`)} at first ${p.sessions}, second ${p.fds} left offset 0.6,-0.8 font ",8" textcolor rgb "#d62728"`);
  }
  if (limit !== null) {
    lines.push(`set arrow 1 from graph 0, second ${limit} to graph 1, second ${limit} nohead dashtype 2 linecolor rgb "#d62728"`);
    lines.push(`set label ${n++} ${q(`open-file limit ${limit}`)} at graph 0.01, second ${limit} left offset 0,0.7 font ",8" textcolor rgb "#d62728"`);
  }
  const plots = [];
  if (rss.length) {
    plots.push(`${q(dataFile)} index 0 using 1:2 axes x1y1 with linespoints linewidth 2 pointtype 7 pointsize 1.2 linecolor rgb "#1f77b4" title "gateway RSS, MB (left axis)"`);
  }
  if (fds.length) {
    plots.push(`${q(dataFile)} index 1 using 1:2 axes x1y2 with linespoints linewidth 2 pointtype 5 pointsize 1.1 linecolor rgb "#d62728" title "gateway open fds (right axis)"`);
  }
  lines.push(`plot ${plots.join(', \\\n     ')}`);
  lines.push('unset label');
  lines.push('unset arrow');
  lines.push('unset multiplot');
  // Back to the settings of the bar charts.
  lines.push('unset xlabel');
  lines.push('set ylabel "" textcolor default');
  lines.push('unset y2label');
  lines.push('unset y2tics');
  lines.push('set ytics autofreq nomirror textcolor default');
  lines.push('set xtics autofreq');
  lines.push('set y2range [*:*]');
  lines.push('set border 3');
  return lines.join('\n');
}

// ---- gnuplot script --------------------------------------------------------

/**
 * Drops series without any value and panels without any series; a row keeps its slot on
 * the x axis only if some panel of the chart has a value for it.
 */
function prune(chart, rows) {
  const panels = chart.panels
    .map((p) => ({ ...p, series: p.series.filter((s) => s.values.some((v) => v !== null)) }))
    .filter((p) => p.series.length > 0);
  const keep = rows.map((_, i) => panels.some((p) => p.series.some((s) => s.values[i] !== null)));
  const missingRows = rows.filter((_, i) => !keep[i]).map((r) => r.label);
  const idx = rows.map((_, i) => i).filter((i) => keep[i]);
  return {
    ...chart,
    rows: idx.map((i) => rows[i]),
    panels: panels.map((p) => ({
      ...p,
      groups: p.groups && idx.map((i) => p.groups[i]),
      series: p.series.map((s) => ({ ...s, values: idx.map((i) => s.values[i]) })),
    })),
    missingRows,
  };
}

/** The data file text: one gnuplot data block (index) per series, panel after panel. */
function dataText(chart, header) {
  const out = [`# boshgate bench: ${chart.title}`, `# ${header}`, '# columns: x (row slot + bar offset), value; one block (index) per series', ''];
  let index = 0;
  for (const p of chart.panels) {
    const k = p.series.length;
    const width = 0.8 / k;
    p.series.forEach((s, j) => {
      s.index = index++;
      s.width = width;
      out.push(`# index ${s.index}: ${s.name}; ${p.ylabel}; ${p.subtitle}`);
      s.values.forEach((v, i) => {
        if (v !== null) {
          out.push(`${(i + (j - (k - 1) / 2) * width).toFixed(4)} ${v} # ${chart.rows[i].label}`);
        }
      });
      out.push('', '');
    });
  }
  return `${out.join('\n')}\n`;
}

/** A row label as at most two lines: split at " -> ", else at the space nearest the middle. */
function twoLines(label) {
  const arrow = label.indexOf(' -> ');
  if (arrow > 0) {
    return [label.slice(0, arrow), label.slice(arrow + 1)];
  }
  if (label.length <= 18) {
    return [label];
  }
  const mid = label.length / 2;
  let best = -1;
  for (let i = label.indexOf(' '); i >= 0; i = label.indexOf(' ', i + 1)) {
    if (best < 0 || Math.abs(i - mid) < Math.abs(best - mid)) {
      best = i;
    }
  }
  return best < 0 ? [label] : [label.slice(0, best), label.slice(best + 1)];
}

const CHAR_PX = 6; // average width of a 9 pt DejaVu Sans character
const LINE_PX = 14; // height of a 9 pt line

/**
 * The gnuplot commands for one chart: its panels stacked top to bottom, each the full
 * width (its height in proportion to its `weight`, default 1), with a subtitle, a key
 * above the bars and the rows as x labels (two lines, flat; one line rotated by 30
 * degrees when a row's slot is too narrow for them). A panel's `groups` (a text per row
 * or null) is printed above each row's group of bars.
 */
function chartScript(chart, dataFile, header, left) {
  const n = chart.rows.length;
  const notes = [...left, ...chart.missingRows.map((l) => `${l}: no figures for this chart`), ...chart.notes];
  const noteLines = notes.slice(0, 6);
  if (notes.length > noteLines.length) {
    noteLines.push(`(${notes.length - noteLines.length} more: see the bench output)`);
  }
  const k = chart.panels.length;
  const height = chart.height;
  const split = chart.rows.map((r) => twoLines(r.label));
  const longest = Math.max(...split.flat().map((l) => l.length), 4);
  const longestFull = Math.max(...chart.rows.map((r) => r.label.length), 4);
  let leftPx = 90;
  const slotPx = (W - 20 - leftPx) / (n + 0.2);
  const rotate = longest * CHAR_PX + 8 > slotPx;
  const labels = rotate ? chart.rows.map((r) => [r.label]) : split;
  const labelPx = rotate ? longestFull * CHAR_PX * 0.5 + LINE_PX + 14 : 2 * LINE_PX + 14;
  if (rotate) {
    leftPx = Math.max(leftPx, Math.min(W / 3, longestFull * CHAR_PX * 0.87 - 0.6 * slotPx + 10));
  }
  const headPx = 80;
  const notesPx = noteLines.length ? noteLines.length * 18 + 8 : 0;
  const weights = chart.panels.map((p) => num(p.weight) ?? 1);
  const unitPx = (height - headPx - notesPx) / weights.reduce((a, b) => a + b, 0);
  const y = (px) => (1 - px / height).toFixed(4); // pixels from the top -> screen y
  const lines = [];
  lines.push(`set output ${q(`${chart.base}.__EXT__`)}`);
  lines.push('set multiplot');
  lines.push(`set label 1001 ${q(chart.title)} at screen 0.5, screen ${y(26)} center font ",15"`);
  lines.push(`set label 1002 ${q(header)} at screen 0.5, screen ${y(54)} center font ",10" textcolor rgb "#444444"`);
  noteLines.forEach((t, i) => {
    lines.push(`set label ${1003 + i} ${q(t)} at screen 0.01, screen ${y(height - 14 - (noteLines.length - 1 - i) * 18)} left font ",9" textcolor rgb "#555555"`);
  });
  chart.panels.forEach((p, pi) => {
    const values = p.series.flatMap((s) => s.values.filter((v) => v !== null));
    const max = Math.max(...values, 0);
    const min = Math.min(...values, 0); // a marginal figure can be negative (RSS shrank)
    const digits = p.digits ?? autoDigits(values);
    const top0 = headPx + weights.slice(0, pi).reduce((a, b) => a + b, 0) * unitPx;
    const panelPx = weights[pi] * unitPx;
    const groups = Array.isArray(p.groups) && p.groups.some(Boolean) ? p.groups : null;
    lines.push(`set lmargin at screen ${(leftPx / W).toFixed(4)}`);
    lines.push(`set rmargin at screen ${(1 - 20 / W).toFixed(4)}`);
    lines.push(`set tmargin at screen ${y(top0 + 56)}`);
    lines.push(`set bmargin at screen ${y(top0 + panelPx - labelPx - 8)}`);
    lines.push(`set label 1100 ${q(p.subtitle)} at screen 0.5, screen ${y(top0 + 14)} center font ",11"`);
    lines.push('set key at graph 0.5, graph 1.01 center bottom horizontal nobox font ",9" samplen 2');
    lines.push(`set ylabel ${q(p.ylabel)}`);
    lines.push(`set xrange [-0.6:${(n - 0.4).toFixed(1)}]`);
    lines.push(`set yrange [${min < 0 ? (min * 1.12).toPrecision(4) : 0}:${max > 0 ? (max * (groups ? 1.25 : 1.12)).toPrecision(4) : 1}]`);
    lines.push(`set xtics (${labels.map((l, i) => `${q(l.join('\n'))} ${i}`).join(', ')}) ${rotate ? 'rotate by 30 right' : 'norotate center'} nomirror scale 0 font ",9"`);
    // A short panel gets about 4 tics, a tall one gnuplot's own.
    lines.push(panelPx < 320 && max > 0 ? `set ytics ${niceStep(max * 1.12, 4)}` : 'set ytics autofreq');
    lines.push(`set boxwidth ${(p.series[0].width * 0.95).toFixed(4)} absolute`);
    (groups || []).forEach((g, i) => {
      const top = Math.max(...p.series.map((s) => s.values[i]).filter((v) => v !== null), 0);
      if (g) {
        lines.push(`set label ${1200 + i} ${q(g)} at first ${i}, first ${top} center offset 0,2.1 font ",11" textcolor rgb "#222222"`);
      }
    });
    const plots = [];
    for (const s of p.series) {
      plots.push(`${q(dataFile)} index ${s.index} using 1:2 with boxes fillstyle solid 0.85 border lc rgb "#333333" lc rgb ${q(s.color)} title ${q(s.name)}`);
      plots.push(`'' index ${s.index} using 1:2:(sprintf("%.${digits}f", $2)) with labels ${p.series.length > 2 ? 'rotate by 90 left offset 0,0.3 font ",7"' : 'center offset 0,0.6 font ",8"'} notitle`);
    }
    lines.push(`plot ${plots.join(', \\\n     ')}`);
    lines.push('unset label');
  });
  lines.push('unset multiplot');
  return lines.join('\n');
}

/** gnuplot commands shared by both outputs (terminal set by the caller). */
function commonSettings() {
  return [
    'set encoding utf8',
    'set style data boxes',
    'set grid ytics lc rgb "#dddddd"',
    'set border 3',
    'set ytics nomirror',
    'set datafile commentschars "#"',
  ].join('\n');
}

/**
 * Writes the data files, the gnuplot script and the SVG + PNG plots for `data` (the
 * object bench.js writes with --json) under `prefix` (a path without extension; its
 * directory is created). Options: date (a Date for the title; default data.date or now),
 * gnuplot (the binary, default "gnuplot"), timeoutMs (default 60000).
 * Returns { files, skipped }: the images written and, per chart not drawn, why.
 * Throws with a one-line reason when nothing could be drawn or gnuplot fails.
 */
function plotResults(data, prefix, { date, gnuplot = 'gnuplot', timeoutMs = 60000 } = {}) {
  if (!data || typeof data !== 'object') {
    throw new Error('no results object');
  }
  if (!prefix) {
    throw new Error('no output prefix');
  }
  prefix = path.resolve(prefix);
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  fs.mkdirSync(dir, { recursive: true });
  const header = runLine(data, date);
  const { rows, left } = splitRows(data);
  const phases = phaseNames(data, rows);
  const built = [memoryChart(data, rows), throughputChart(data, rows, phases), rttChart(data, rows, phases), cpuChart(data, rows, phases)]
    .map((c) => prune(c, rows))
    .map((c) => (c.rows.length ? c : { name: c.name, skip: 'no measured row has its figures' }));
  // The phases in front of fakexmpp: their own header (phase parameters) and notes.
  for (const [name, build, file] of [['scaling', scalingChart, 'scaling'], ['capacity', capacityChart, 'capacity'], ['idleScale', idleScaleChart, 'idle-scale']]) {
    const why = phaseSkip(data, name);
    built.push(why ? { name: file, skip: why } : build(data, date));
  }
  const charts = [];
  const skipped = [];
  for (const c of built) {
    if (c.skip) {
      skipped.push(`${c.name}: ${c.skip}`);
      for (const ext of ['svg', 'png', 'dat']) {
        fs.rmSync(path.join(dir, `${base}-${c.name}.${ext}`), { force: true }); // stale from an earlier plot
      }
      continue;
    }
    c.base = `${base}-${c.name}`;
    c.height = c.height ?? H + (c.panels.length - 1) * 300;
    const dataFile = `${c.base}.dat`;
    const head = c.header ?? header;
    fs.writeFileSync(path.join(dir, dataFile), c.kind === 'lines' ? lineDataText(c, head) : dataText(c, head));
    c.script = c.kind === 'lines' ? lineScript(c, dataFile, head) : chartScript(c, dataFile, head, c.left ?? left);
    charts.push(c);
  }
  if (charts.length === 0) {
    const phaseWhy = skipped.filter((t) => /^(scaling|capacity|idle-scale):/.test(t));
    throw new Error(`nothing to plot (${rows.length} measured row(s); ${left.length} left out${left.length ? `: ${left[0]}` : ''}; ${phaseWhy.join('; ')})`);
  }
  const gp = [
    `# boshgate bench plots (bench/plot.js): ${header}`,
    '# Run from this directory: gnuplot ' + `${base}-plots.gp`,
    commonSettings(),
    // pngcairo when this gnuplot has it (gnuplot-nox does), else libgd's png.
    'PNGTERM = (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) ? "pngcairo" : "png"',
    ...charts.map((c) => `set terminal @PNGTERM size ${W},${c.height} font "DejaVu Sans,10" noenhanced\n${c.script.replace('__EXT__', 'png')}`),
    ...charts.map((c) => `set terminal svg size ${W},${c.height} font "DejaVu Sans,10" noenhanced background rgb "white"\n${c.script.replace('__EXT__', 'svg')}`),
    'set output',
    '',
  ].join('\n');
  const gpFile = `${base}-plots.gp`;
  fs.writeFileSync(path.join(dir, gpFile), gp);
  const files = charts.flatMap((c) => ['svg', 'png'].map((ext) => path.join(dir, `${c.base}.${ext}`)));
  for (const f of files) {
    fs.rmSync(f, { force: true });
  }
  try {
    execFileSync(gnuplot, [gpFile], { cwd: dir, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (e.code === 'ENOENT') {
      throw new Error(`${gnuplot} not found (Debian: apt-get install gnuplot-nox, or tests/bootstrap.sh)`);
    }
    const err = String(e.stderr || '').split('\n').map((l) => l.trim()).filter(Boolean);
    throw new Error(`${gnuplot} ${path.join(dir, gpFile)} failed${e.signal ? ` (${e.signal})` : ''}: ${clip(err.slice(-3).join(' | ') || e.message, 300)}`);
  }
  const missing = files.filter((f) => !fs.existsSync(f) || fs.statSync(f).size === 0);
  if (missing.length) {
    throw new Error(`gnuplot wrote no ${missing.map((f) => path.basename(f)).join(', ')}`);
  }
  return { files, skipped, script: path.join(dir, gpFile) };
}

/**
 * `node bench/plot.js --check`: plots a made-up run with a FAILED row, a NOT MEASURED row,
 * the setup pseudo-row and rows with missing or malformed figures into a temporary
 * directory, and checks what is drawn, what is left out and what is refused; likewise
 * the scaling, capacity and idle-scale phases present (with a run or a figure missing),
 * absent, null, FAILED, NOT MEASURED and without any usable figure.
 */
function selfCheck() {
  const assert = require('node:assert/strict');
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-plot-check-'));
  const tpOf = (rate, p50, p99, mgr, pros) => ({ pairs: 50, inFlight: 5, rate, p50, p99, mgrMsPerMsg: mgr, prosodyMsPerMsg: pros, lost: 0 });
  const data = {
    opts: { sessions: 100, marginal: true, tpSeconds: 5, tpRuns: 3, pairs: 50, inFlight: 5 },
    versions: { prosody: '0.12.3', node: process.version },
    results: [
      { kind: 'boshgate', label: 'boshgate BOSH -> Prosody c2s', status: 'ok', inProcess: false, held: 100, held2: 200,
        mgrRssIdleKb: 8000, mgrRssLoadedKb: 12000, mgrRss2Kb: 16000, prosodyRssIdleKb: 15000, prosodyRssLoadedKb: 20000, prosodyRss2Kb: 25000,
        tp1: { ...tpOf(1000, 0.5, 8, 0.3, 0.4), pairs: 1, inFlight: 1 }, tpN: { ...tpOf(4000, 60, 130, 0.12, 0.2), lost: 3 } },
      { kind: 'boshgate-ws', label: 'boshgate WebSocket -> Prosody c2s', status: 'failed', error: 'login deadline "30 s" passed\nsecond line', held: null },
      { kind: 'nxb', label: 'node-xmpp-bosh 0.7.10 -> Prosody c2s', status: 'not measured', error: 'npm ci failed' },
      // Figures missing or malformed: no 2N reading, throughput only in part, a string rate.
      { kind: 'boshgate-plain', label: 'boshgate BOSH -> Prosody c2s, tls off', status: 'ok', inProcess: false, held: 100, held2: null,
        mgrRssIdleKb: 8000, mgrRssLoadedKb: null, tp1: null, tpN: { rate: 'fast', p50: 40, mgrMsPerMsg: null } },
      { kind: 'prosody', label: 'Prosody mod_bosh (in-process)', status: 'ok', inProcess: true, held: 100, held2: 200,
        mgrRssIdleKb: 15000, mgrRssLoadedKb: 19000, mgrRss2Kb: 22000, prosodyRssIdleKb: 15000, prosodyRssLoadedKb: 19000, prosodyRss2Kb: 22000,
        tpN: tpOf(900, 280, 350, 1.1, 1.1) },
      { kind: 'setup', label: 'setup', status: 'failed', error: 'prosodyctl register failed' },
      null,
    ],
    // WebSocket on 2 threads missing (no ratio), a loss on BOSH, a malformed run.
    scaling: {
      status: 'ok', error: null, seconds: 5, runsPerPhase: 3, pairs: 50, inFlight: 5, fakeThreads: 2, cores: 2, generator: 'capload (C++)',
      runs: [
        { transport: 'bosh', threads: 1, rate: 20000, p50: 10, p99: 30, mgrMsPerMsg: 0.05, serverMsPerMsg: 0.01, genCpuPct: 60, lost: 0, allCores: 1.5 },
        { transport: 'bosh', threads: 2, rate: 36000, p50: 6, p99: 20, mgrMsPerMsg: 0.06, serverMsPerMsg: 0.01, genCpuPct: 95, lost: 7, allCores: 1.98 },
        { transport: 'ws', threads: 1, rate: 50000, p50: 2, p99: 9, mgrMsPerMsg: 0.02, serverMsPerMsg: 0.01, genCpuPct: 80, lost: 0 },
        'garbage',
      ],
      ratio: { bosh: 1.8, ws: null },
    },
    // The 50 % checkpoint has no fds reading, one checkpoint has no sessions figure.
    capacity: {
      status: 'ok', error: null, target: 400, nofile: 1024, window: 100, wait: 50,
      checkpoints: [
        { pct: 0, sessions: 0, rssKb: 8192, fds: 10, idleWindowS: 3, idleCpuPct: 0 },
        { pct: 10, sessions: 40, rssKb: 9216, fds: 90, idleWindowS: 5, idleCpuPct: 0.01, kbPerSession: 25.6 },
        { pct: 50, sessions: 200, rssKb: 13312, fds: null, idleWindowS: 5, idleCpuPct: 0.02, kbPerSession: 25.6 },
        { pct: 75, sessions: 'many', rssKb: 1 },
        { pct: 100, sessions: 398, rssKb: 18432, fds: 806, idleWindowS: 55, idleCpuPct: 0.25, kbPerSession: 25.7, fakeRssKb: 9000 },
      ],
      loginsOk: 398, loginsFailed: 2, firstError: 'login exceeded 30 s', loginRate: 2345.6,
      cpuPerLoginMs: { gateway: 0.4, fake: 0.1, generator: 1.2 }, cpuPctDuringRamp: { gateway: 90, fake: 25, generator: 99 },
      generator: 'capload (C++)',
    },
    // WebSocket's second run has no figure; a malformed run.
    idleScale: {
      status: 'ok', error: null, sessions: 2000, wait: 50,
      runs: [
        { transport: 'bosh', run: 1, marginalKb: 5.25 }, { transport: 'ws', run: 1, marginalKb: 6.9 },
        { transport: 'bosh', run: 2, marginalKb: 5.5 }, { transport: 'ws', run: 2, marginalKb: null }, 7,
      ],
      median: { bosh: 5.375, ws: 6.9 },
    },
  };
  try {
    const prefix = path.join(dir, 'sub', 'run');
    const { files, skipped } = plotResults(data, prefix, { date: new Date('2026-01-02T03:04:05Z') });
    assert.deepEqual(skipped, []);
    assert.equal(files.length, CHARTS.length * 2);
    for (const f of files) {
      assert.ok(fs.statSync(f).size > 1000, `${f} is written`);
    }
    const gp = fs.readFileSync(`${prefix}-plots.gp`, 'utf8');
    const dat = (c) => fs.readFileSync(`${prefix}-${c}.dat`, 'utf8');
    assert.match(gp, /boshgate WebSocket -> Prosody c2s: FAILED: login deadline \\"30 s\\" passed second line/);
    assert.match(gp, /node-xmpp-bosh 0\.7\.10 -> Prosody c2s: NOT MEASURED: npm ci failed/);
    assert.match(gp, /setup FAILED: prosodyctl register failed/);
    assert.match(gp, /2026-01-02 03:04 UTC/);
    for (const c of ['memory', 'throughput', 'rtt', 'cpu']) {
      assert.doesNotMatch(dat(c), /WebSocket|node-xmpp-bosh/, `${c}: failed rows left out`);
    }
    // No 2N reading for the tls-off row: no memory bar, and a note saying so.
    assert.doesNotMatch(dat('memory'), /tls off/);
    assert.match(gp, /tls off: no figures for this chart/);
    // Its throughput: the string rate is dropped, p50 at 50 pairs is kept.
    assert.doesNotMatch(dat('throughput'), /tls off/);
    assert.match(dat('rtt'), /40 # boshgate BOSH -> Prosody c2s, tls off/);
    assert.match(gp, /3 message\(s\) lost at 50 pairs x 5/);
    // In-process row: no Prosody bar of its own (index 1 = Prosody series).
    assert.doesNotMatch(dat('memory').split('# index 1')[1], /in-process/);
    // Only rows with no figures at all: refused with the reason, nothing half written.
    assert.throws(() => plotResults({ results: data.results.slice(1, 3) }, path.join(dir, 'none')), /nothing to plot .*FAILED/);
    assert.throws(() => plotResults({}, path.join(dir, 'empty')), /nothing to plot/);
    assert.throws(() => plotResults(null, path.join(dir, 'null')), /no results object/);
    // Scaling: the BOSH ratio above its group, none for WebSocket (2 threads missing);
    // the server is fakexmpp; losses and a busy load generator in the notes.
    assert.match(gp, /"2 \/ 1 threads: 1\.80x" at first 0,/);
    assert.doesNotMatch(gp, /2 \/ 1 threads: .* at first 1,/);
    assert.match(gp, /boshgate \(tls off\) -> fakexmpp \(2 threads\); 50 pairs x 5 in flight, median of 3 runs of 5 s each; Node v[^;]+; 2026-01-02 03:04 UTC/);
    assert.match(gp, /throughput median of 3 x 5 s: 1 pair x 1, 50 pairs x 5 in flight/);
    assert.match(gp, /BOSH, 2 io thread\(s\): 7 message\(s\) lost/);
    assert.match(gp, /load generator near 100 % of a core/);
    assert.match(gp, /load generator \(capload \(C\+\+\)\), % of a core, 1 \/ 2 io threads: BOSH 60 \/ 95, WebSocket 80 \/ n\/a/);
    assert.match(gp, /cores busy \(gateway \+ fakexmpp \+ load generator, of 2\), 1 \/ 2 io threads: BOSH 1\.50 \/ 1\.98"/);
    assert.match(dat('scaling'), /^0\.2000 36000 # BOSH$/m);
    assert.match(dat('scaling'), /^0\.8000 50000 # WebSocket$/m);
    assert.doesNotMatch(dat('scaling'), /garbage|^1\.2000/m);
    // Capacity: the subtitle, 4 RSS points, 3 fds points, the open-file limit drawn.
    assert.match(gp, /target 400 sessions, open-file limit 1024; 2346 logins\/s \(100 at once\); idle CPU at 100 %: 0\.25 % of a core over 55 s/);
    assert.match(gp, /logins: 398 ok, 2 failed; first error: login exceeded 30 s/);
    assert.match(gp, /load generator \(capload \(C\+\+\)\) 1\.200 \/ 99 %/);
    assert.match(gp, /"18\.0 MB\\n25\.7 KB\/session" at first 398, first 18 /);
    assert.match(gp, /"open-file limit 1024"/);
    assert.match(gp, /"398\\n100 %%" 398/);
    const [rssBlock, fdBlock] = dat('capacity').split('# index 1');
    assert.equal(rssBlock.split('# index 0')[1].trim().split('\n').length, 1 + 4);
    assert.equal(fdBlock.trim().split('\n').length, 1 + 3);
    assert.doesNotMatch(dat('capacity'), /many/);
    // Idle at scale: the medians drawn, each run's figure in the notes (n/a for none).
    assert.match(dat('idle-scale'), /^0\.0000 5\.375 # BOSH$/m);
    assert.match(dat('idle-scale'), /^1\.0000 6\.9 # WebSocket$/m);
    assert.match(gp, /BOSH, each run: 5\.25, 5\.50 KB\/session/);
    assert.match(gp, /WebSocket, each run: 6\.90, n\/a KB\/session/);
    assert.match(gp, /2000 then 4000 idle sessions of one transport per run/);
    // The phases absent / null: the row charts only, the reasons in `skipped`, and the
    // images of an earlier plot under the same prefix removed.
    const { opts: _o, ...noOpts } = data;
    const none = plotResults({ ...noOpts, scaling: undefined, capacity: null, idleScale: undefined }, prefix);
    assert.equal(none.files.length, 4 * 2);
    assert.deepEqual(none.skipped, ['scaling: phase not in the results', 'capacity: phase not in the results', 'idle-scale: phase not in the results']);
    assert.deepEqual(plotResults({ ...data, opts: { ...data.opts, scalingSeconds: 0, capacity: -1, idleScale: 0 }, scaling: null, capacity: null, idleScale: null }, prefix).skipped,
      ['scaling: phase not run (--scaling-seconds 0)', 'capacity: phase not run (--no-capacity)', 'idle-scale: phase not run (--idle-scale 0)']);
    for (const c of ['scaling', 'capacity', 'idle-scale']) {
      for (const ext of ['png', 'svg', 'dat']) {
        assert.ok(!fs.existsSync(`${prefix}-${c}.${ext}`), `stale ${c}.${ext} removed`);
      }
    }
    // FAILED / NOT MEASURED / no usable figure: not drawn, with the reason.
    const bad = plotResults({
      ...data,
      scaling: { status: 'failed', error: 'fakexmpp did not start:\nno port' },
      capacity: { status: 'not measured', error: 'no fakexmpp at /x/fakexmpp (build target fakexmpp, or set FAKEXMPP_BIN)' },
      idleScale: { status: 'failed', error: 'the idleScale phase exceeded its 200 s budget' },
    }, path.join(dir, 'bad'));
    assert.equal(bad.files.length, 4 * 2);
    assert.deepEqual(bad.skipped, ['scaling: FAILED: fakexmpp did not start: no port', 'capacity: NOT MEASURED: no fakexmpp at /x/fakexmpp (build target fakexmpp, or set FAKEXMPP_BIN)',
      'idle-scale: FAILED: the idleScale phase exceeded its 200 s budget']);
    assert.deepEqual(plotResults({
      ...data,
      scaling: { status: 'ok', runs: [{ transport: 'bosh', threads: 1, rate: 'fast' }] },
      capacity: { status: 'ok', checkpoints: [{ pct: 0, sessions: 0, rssKb: null, fds: null }] },
      idleScale: { status: 'ok', runs: [{ transport: 'ws', marginalKb: null }], median: { bosh: null, ws: null } },
    }, path.join(dir, 'empty-phases')).skipped, ['scaling: no run has its figures', 'capacity: no checkpoint has its figures', 'idle-scale: no run has its figures']);
    // The phases only (no row measured): their two charts; with nothing at all, the
    // refusal names the phases' reasons too.
    const only = plotResults({ versions: data.versions, results: [], scaling: data.scaling, capacity: data.capacity, idleScale: data.idleScale }, path.join(dir, 'only'));
    assert.deepEqual(only.files.map((f) => path.basename(f)),
      ['only-scaling.svg', 'only-scaling.png', 'only-capacity.svg', 'only-capacity.png', 'only-idle-scale.svg', 'only-idle-scale.png']);
    assert.throws(() => plotResults({ results: [], scaling: { status: 'failed', error: 'boom' } }, path.join(dir, 'nothing')),
      /nothing to plot .*scaling: FAILED: boom; capacity: phase not in the results; idle-scale: phase not in the results/);
    // No gnuplot: a clear reason.
    assert.throws(() => plotResults(data, path.join(dir, 'nognu'), { gnuplot: 'gnuplot-not-installed-here' }), /not found \(Debian: apt-get install gnuplot-nox/);
    process.stdout.write(`plot: check passed (${files.length} images in ${path.dirname(prefix)})\n`);
  } finally {
    if (!process.env.BENCH_PLOT_KEEP) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

module.exports = { plotResults, CHARTS };

if (require.main === module) {
  const [json, prefixArg] = process.argv.slice(2);
  if (json === '--check') {
    selfCheck();
    process.exit(0);
  }
  if (!json || json === '-h' || json === '--help') {
    process.stderr.write('usage: node bench/plot.js results.json [outprefix]\n'
      + '  writes <outprefix>-{memory,throughput,rtt,cpu,scaling,capacity}.{svg,png} (+ .dat, -plots.gp);\n'
      + '  outprefix defaults to the JSON path without .json\n'
      + '       node bench/plot.js --check   (self-check on a made-up run)\n');
    process.exit(json ? 0 : 2);
  }
  try {
    const data = JSON.parse(fs.readFileSync(json, 'utf8'));
    const prefix = prefixArg || json.replace(/\.json$/i, '');
    const { files, skipped } = plotResults(data, prefix, { date: fs.statSync(json).mtime });
    for (const f of files) {
      process.stdout.write(`plot: wrote ${f}\n`);
    }
    for (const s of skipped) {
      process.stdout.write(`plot: not drawn: ${s}\n`);
    }
  } catch (e) {
    process.stderr.write(`plot: plots NOT written: ${e.message}\n`);
    process.exit(1);
  }
}
