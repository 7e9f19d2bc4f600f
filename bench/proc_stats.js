'use strict';
// Process measurements from /proc (Linux): resident set size and CPU time.

const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

let clkTck = null;

/** VmRSS of `pid` in KiB (/proc/<pid>/status); null if the process is gone. */
function rssKb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch (_) {
    return null;
  }
}

/** Open fds of `pid` (/proc/<pid>/fd entries); null if unreadable. */
function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch (_) {
    return null;
  }
}

/**
 * CPU time of `pid` in ms (/proc/<pid>/stat), read once: { user, sys } (utime, stime;
 * sys is the kernel's work on the process's behalf: its syscalls, the loopback TCP
 * path its sends run, its wake-ups); null if gone.
 */
function cpuTimesMs(pid) {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch (_) {
      clkTck = 100;
    }
  }
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(rest[11]) * 1000) / clkTck, sys: (Number(rest[12]) * 1000) / clkTck };
  } catch (_) {
    return null;
  }
}

/** User + system CPU time of `pid` in ms; null if gone. */
function cpuMs(pid) {
  const t = cpuTimesMs(pid);
  return t === null ? null : t.user + t.sys;
}

/**
 * Median VmRSS over `count` samples `gapMs` apart (smooths GC and allocator
 * jitter of a single reading). Resolves with KiB or null.
 */
async function sampleRssKb(pid, count = 5, gapMs = 200) {
  const got = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) {
      await new Promise((r) => setTimeout(r, gapMs));
    }
    const v = rssKb(pid);
    if (v !== null) {
      got.push(v);
    }
  }
  if (got.length === 0) {
    return null;
  }
  got.sort((a, b) => a - b);
  return got[Math.floor(got.length / 2)];
}

/** Nearest-rank percentile (p in 0..100) of an array of numbers; null if empty. */
function percentile(values, p) {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** Median of the finite numbers in `values`; null if none. */
function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) {
    return null;
  }
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

module.exports = { rssKb, cpuMs, cpuTimesMs, sampleRssKb, percentile, median, fdCount };
