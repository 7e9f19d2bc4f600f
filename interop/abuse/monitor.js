'use strict';
// What the abuse suite measures on the gateway process while an attack runs:
// resident memory (VmRSS from /proc/<pid>/status, every 100 ms, peak kept) and
// the number of ESTABLISHED TCP connections the gateway itself holds to a given
// remote port (Prosody's c2s port): /proc/net/tcp rows in state 01 with that
// remote port whose socket inode is one of the gateway's file descriptors (so
// the suite's own direct XMPP clients to the same port are not counted).

const fs = require('node:fs');

/** VmRSS of `pid` in kB, or null when the process is gone. */
function rssKb(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : null;
  } catch (_) {
    return null;
  }
}

/** Socket inodes held open by `pid`. */
function socketInodes(pid) {
  const out = new Set();
  let fds = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch (_) {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) {
        out.add(m[1]);
      }
    } catch (_) {
      // closed meanwhile
    }
  }
  return out;
}

/** Rows of /proc/net/tcp (+tcp6): { localPort, remPort, state, inode }. */
function tcpRows() {
  const rows = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (_) {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i].trim().split(/\s+/);
      if (f.length < 10) {
        continue;
      }
      rows.push({
        localPort: parseInt(f[1].split(':')[1], 16),
        remPort: parseInt(f[2].split(':')[1], 16),
        state: f[3],
        inode: f[9],
      });
    }
  }
  return rows;
}

/** ESTABLISHED connections of `pid` to remote port `port`. */
function establishedTo(pid, port) {
  const candidates = tcpRows().filter((r) => r.state === '01' && r.remPort === port);
  if (candidates.length === 0) {
    return 0;
  }
  const mine = socketInodes(pid);
  return candidates.filter((r) => mine.has(r.inode)).length;
}

/**
 * State (hex, '01' = ESTABLISHED) of the gateway-side socket local port
 * `gwPort` <-> remote port `peerPort`, or null when there is none.
 */
function gatewaySideState(gwPort, peerPort) {
  const row = tcpRows().find((r) => r.localPort === gwPort && r.remPort === peerPort);
  return row ? row.state : null;
}

/**
 * Samples `pid` every 100 ms (RSS) and every 200 ms (upstream connections to
 * `upstreamPort`) until stop(); stop() resolves with
 * { peakRssKb, startRssKb, endRssKb, upstreamPeak, upstreamStart, samples, died }.
 */
function startSampler(pid, upstreamPort) {
  const s = {
    startRssKb: rssKb(pid),
    peakRssKb: 0,
    endRssKb: null,
    upstreamStart: establishedTo(pid, upstreamPort),
    upstreamPeak: 0,
    samples: 0,
    died: false,
  };
  s.peakRssKb = s.startRssKb || 0;
  s.upstreamPeak = s.upstreamStart;
  let tick = 0;
  const sample = () => {
    const r = rssKb(pid);
    if (r === null) {
      s.died = true;
      return;
    }
    s.samples += 1;
    s.peakRssKb = Math.max(s.peakRssKb, r);
    s.endRssKb = r;
    tick += 1;
    if (tick % 2 === 0) {
      s.upstreamPeak = Math.max(s.upstreamPeak, establishedTo(pid, upstreamPort));
    }
  };
  const timer = setInterval(sample, 100);
  return {
    now: () => ({ ...s }),
    stop() {
      clearInterval(timer);
      sample();
      s.upstreamPeak = Math.max(s.upstreamPeak, establishedTo(pid, upstreamPort));
      return { ...s };
    },
  };
}

module.exports = { rssKb, establishedTo, gatewaySideState, startSampler, tcpRows };
