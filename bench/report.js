'use strict';
// The final comparison table (plain text, fixed-width) plus per-row notes
// and failures. Every manager asked for gets a row: measured, failed (with the
// reason) or not measured (with the reason).

const { runRates } = require('./throughput');

function mb(kb) {
  return kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1);
}

function ms(v) {
  return v === null || v === undefined ? '-' : v.toFixed(v < 10 ? 1 : 0);
}

function pair(a, b) {
  return `${ms(a)} / ${ms(b)}`;
}

function known(v) {
  return v !== null && v !== undefined;
}

/** (after - before) / sessions, in KB, or '-'. */
function perSession(sessions, before, after) {
  if (!sessions || sessions <= 0 || !known(before) || !known(after)) {
    return '-';
  }
  return ((after - before) / sessions).toFixed(1);
}

/** "Δ / marginal": (RSS@N - idle) / N and (RSS@2N - RSS@N) / (held at 2N - held at N). */
function memCell(r, idle, atN, at2N) {
  const total = perSession(r.held, idle, atN);
  const marginal = known(r.held2) ? perSession(r.held2 - r.held, atN, at2N) : '-';
  return `${total} / ${marginal}`;
}

function cpu(v) {
  return v === null || v === undefined ? '-' : (v / 1000).toFixed(2);
}

function row(r) {
  const inProc = r.inProcess;
  // No manager (direct c2s rows): the RSS column is the server's, the manager columns are n/a.
  const noMgr = r.noManager;
  const logins = r.attempted2 ? `${r.loginsOk || 0}+${r.loginsOk2 || 0}/${r.attempted}+${r.attempted2}` : `${r.loginsOk || 0}/${r.attempted ?? '-'}`;
  return [
    r.label,
    r.transport || '-',
    r.status === 'not measured' ? 'NOT MEASURED' : r.status === 'failed' ? `FAILED (${logins})` : logins,
    pair(r.loginP50, r.loginP95),
    r.msgSent ? `${pair(r.msgP50, r.msgP95)} (${r.msgReceived}/${r.msgSent})` : '-',
    noMgr ? `${mb(r.prosodyRssIdleKb)} / ${mb(r.prosodyRssLoadedKb)} / ${mb(r.prosodyRss2Kb)} (${r.server || 'Prosody'})`
      : `${mb(r.mgrRssIdleKb)} / ${mb(r.mgrRssLoadedKb)} / ${mb(r.mgrRss2Kb)}`,
    noMgr ? 'n/a (no manager)' : memCell(r, r.mgrRssIdleKb, r.mgrRssLoadedKb, r.mgrRss2Kb),
    inProc ? '(same process)' : memCell(r, r.prosodyRssIdleKb, r.prosodyRssLoadedKb, r.prosodyRss2Kb),
    inProc ? `${cpu(r.mgrCpuLoginMs)} (same)` : `${noMgr ? 'n/a' : cpu(r.mgrCpuLoginMs)} / ${cpu(r.prosodyCpuLoginMs)}`,
  ];
}

/** One throughput run (throughput.js) as cells: msgs/s, RTT p50 / p99, CPU ms per message. */
function tpCells(t, inProc, noMgr = false) {
  if (!t) {
    return ['-', '-', '-'];
  }
  const per = (v) => (known(v) ? v.toFixed(3) : '-');
  const lost = t.lost ? ` (${t.lost} lost)` : '';
  // The manager's CPU, and in brackets the kernel's part of it (stime) where known.
  const mgr = known(t.mgrSysMsPerMsg) ? `${per(t.mgrMsPerMsg)} (kernel ${per(t.mgrSysMsPerMsg)})` : per(t.mgrMsPerMsg);
  return [
    `${t.rate.toFixed(0)}${runRates(t) ? ` (${runRates(t)})` : ''}${lost}`,
    pair(t.p50, t.p99),
    inProc ? `${mgr} (same)` : `${noMgr ? 'n/a' : mgr} / ${per(t.prosodyMsPerMsg)}`,
  ];
}

function tpRow(r) {
  const gen = [r.tp1, r.tpN].filter(Boolean).map((t) => t.genCpuPct.toFixed(0)).join(' / ') || '-';
  return [r.label, ...tpCells(r.tp1, r.inProcess, r.noManager), ...tpCells(r.tpN, r.inProcess, r.noManager), gen];
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** Prints the table and the notes to stdout. */
function printReport({ opts, results, versions, elapsedS, dir, allKinds }) {
  const out = [];
  const n = opts.sessions;
  out.push('');
  out.push('='.repeat(100));
  out.push(`boshgate bench: ${n}${opts.marginal ? ` then ${2 * n}` : ''} authenticated idle sessions per row (BOSH: wait=${opts.wait}, hold=1; WebSocket, TCP c2s: one open socket), `
    + `ramp ${opts.rampBatch} per ${opts.rampInterval} ms, SASL PLAIN, ${opts.messages} A->B messages; loopback, `
    + `${require('node:os').cpus().length} CPUs; Prosody ${versions.prosody || '?'}${versions.ejabberd ? `, ejabberd ${versions.ejabberd}` : ''}, Node ${versions.node || process.version}; `
    + `${elapsedS.toFixed(0)} s`);
  const load = require('node:os').loadavg().map((v) => v.toFixed(2)).join(' ');
  out.push(`load average at the end: ${load}${Number(load.split(' ')[2]) > 1 ? ' (the machine was busy: latencies are inflated; rerun on an idle machine)' : ''}`);
  out.push('Fresh Prosody per row (same accounts); RSS = VmRSS median of 5 readings. KB/session: '
    + `Δ = (RSS@N - RSS idle) / N held; marginal = (RSS@2N - RSS@N) / (2N - N held)${opts.marginal ? ' (second batch: same accounts, second resource)' : ' (off: --no-marginal)'}.`);
  out.push(`Login latency: first batch of ${n} (from no sessions). Messages: while every session is held.`);
  out.push('='.repeat(100));
  const header = [
    'Manager (process measured)',
    'Transport',
    'Logins OK',
    'Login p50 / p95 ms',
    'Msg A->B p50 / p95 ms',
    'RSS idle / @N / @2N MB',
    'KB/session mgr Δ / marginal',
    'KB/session Prosody Δ / marginal',
    'CPU s in logins (mgr / Prosody)',
  ];
  const measured = results.filter((r) => r.kind !== 'setup');
  out.push(table(header, measured.map(row)));
  if (opts.tpSeconds > 0) {
    out.push('');
    const runs = opts.tpRuns > 1 ? `${opts.tpRuns} runs of ` : '';
    out.push(`Throughput: ${runs}${opts.tpSeconds} s with 1 pair x 1 message in flight, then ${runs}${opts.tpSeconds} s with ${opts.pairs} pairs x ${opts.inFlight} in flight `
      + `${opts.tpRuns > 1 ? '(each figure the median over the runs; msgs/s also per run) ' : ''}`
      + '(headline messages A -> B between held sessions; RTT = sent on A -> received on B; CPU = utime + stime per delivered message, '
      + 'the manager\'s stime, the kernel\'s part of it, in brackets; '
      + 'load gen = this Node process, % of one core: near 100 % means the generator, not the manager, sets the rate).');
    const tpHeader = [
      'Manager',
      '1 pair msgs/s', '1 pair RTT p50 / p99 ms', '1 pair CPU ms/msg (mgr / Prosody)',
      `${opts.pairs} pairs msgs/s`, `${opts.pairs} pairs RTT p50 / p99 ms`, `${opts.pairs} pairs CPU ms/msg (mgr / Prosody)`,
      'load gen % (1 / N)',
    ];
    out.push(table(tpHeader, measured.filter((r) => r.tp1 || r.tpN).map(tpRow)));
  }
  for (const r of results) {
    if (r.status === 'failed' || r.status === 'not measured') {
      out.push(`${r.label}: ${r.status.toUpperCase()}: ${r.error}`);
    }
  }
  for (const r of measured) {
    if (r.status === 'ok' && r.held !== null && r.held !== r.loginsOk) {
      out.push(`${r.label}: ${r.loginsOk - r.held} session(s) failed after login, before the RSS reading (Δ divides by ${r.held} held)`);
    }
    if (r.status === 'ok' && r.held2 !== null && r.held2 !== r.loginsOk + r.loginsOk2) {
      out.push(`${r.label}: ${r.loginsOk + r.loginsOk2 - r.held2} session(s) failed after login, before the 2N reading (marginal divides by ${r.held2 - r.held})`);
    }
    for (const e of (r.loginErrors || []).slice(0, 3)) {
      out.push(`${r.label}: login error x${e.count}: ${e.error}`);
    }
    for (const e of (r.idleErrors || []).slice(0, 3)) {
      out.push(`${r.label}: idle error x${e.count}: ${e.error}`);
    }
    for (const note of r.notes || []) {
      out.push(`${r.label}: note: ${note}`);
    }
  }
  for (const kind of allKinds) {
    if (!opts.only.includes(kind)) {
      out.push(`${kind}: not measured (left out by --only)`);
    }
  }
  out.push(`work dir: ${dir}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

module.exports = { printReport };
