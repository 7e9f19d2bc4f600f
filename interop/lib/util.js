'use strict';
// Small process/port/wait helpers shared by the interop harness. Every wait is
// event-driven with a deadline; nothing here polls the clock in a busy loop.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

/** Default deadline for one protocol-level wait (generous for 2-core CI). */
const WAIT_MS = Number(process.env.INTEROP_WAIT_MS || 15000);
/** Deadline for a server to come up (ejabberd boots slowly). */
const BOOT_MS = Number(process.env.INTEROP_BOOT_MS || 60000);

/** Resolves with a TCP port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves with n distinct free ports. */
async function freePorts(n) {
  const out = new Set();
  while (out.size < n) {
    out.add(await freePort());
  }
  return [...out];
}

/**
 * Creates a private work directory for one run under the system temp dir (or
 * INTEROP_WORKDIR). Mode 0755 so the ejabberd user can traverse it.
 */
function makeWorkDir(tag) {
  const base = process.env.INTEROP_WORKDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = fs.mkdtempSync(path.join(base, `${tag}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Last `lines` lines of a log file, or a note that it does not exist. */
function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log at ${file}: ${e.code || e.message})`;
  }
}

/** Error whose message ends with the tail of the named logs. */
function failWithLogs(message, logs) {
  const parts = [message];
  for (const file of [].concat(logs || [])) {
    parts.push(`--- tail of ${file} ---\n${tail(file)}`);
  }
  return new Error(parts.join('\n'));
}

/**
 * Promise that settles when `fn(resolve, reject)` settles, or rejects with
 * `what` after `ms`. The timer is cleared on settlement.
 */
function withTimeout(what, ms, fn) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    const done = (f) => (v) => {
      clearTimeout(timer);
      f(v);
    };
    try {
      fn(done(resolve), done(reject));
    } catch (e) {
      clearTimeout(timer);
      reject(e);
    }
  });
}

/** Resolves once a TCP connect to host:port succeeds (retries on refusal until the deadline). */
function waitForPort(port, host = '127.0.0.1', ms = BOOT_MS, alive = () => true) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect({ port, host });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        const why = alive();
        if (why !== true) {
          reject(new Error(`process exited before ${host}:${port} opened: ${why}`));
        } else if (Date.now() > deadline) {
          reject(new Error(`timed out after ${ms} ms waiting for ${host}:${port}`));
        } else {
          setTimeout(attempt, 100);
        }
      });
    };
    attempt();
  });
}

/**
 * A child process with its output appended to `logFile`. `exited` tells why it
 * stopped (or true while running); `stop()` sends SIGTERM, then SIGKILL, to
 * its own process group only.
 */
function startProcess(cmd, args, { logFile, env, cwd, uid, gid, detached = true } = {}) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
    detached,
    uid,
    gid,
  });
  fs.closeSync(fd);
  const handle = {
    child,
    logFile,
    exitInfo: null,
    exited: () => (handle.exitInfo === null ? true : handle.exitInfo),
    async stop(graceMs = 5000) {
      if (handle.exitInfo !== null) {
        return;
      }
      const gone = new Promise((resolve) => child.once('exit', resolve));
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
  child.on('error', (e) => {
    handle.exitInfo = `spawn error: ${e.message}`;
  });
  child.on('exit', (code, signal) => {
    handle.exitInfo = `exit code ${code} signal ${signal}`;
  });
  return handle;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    try {
      process.kill(pid, signal);
    } catch (_) {
      // already gone
    }
  }
}

/**
 * Resolves when `file` contains a line matching `re` (watching the file);
 * returns the match. `fromByte`: only text appended after that offset counts
 * (e.g. a size taken before the action whose log line is awaited).
 */
function waitForLogLine(file, re, ms, alive = () => true, fromByte = 0) {
  return withTimeout(`${re} in ${file}${fromByte ? ` after byte ${fromByte}` : ''}`, ms, (resolve, reject) => {
    let watcher = null;
    let interval = null;
    const check = () => {
      let text = '';
      try {
        text = fs.readFileSync(file).subarray(fromByte).toString('utf8');
      } catch (_) {
        // not created yet
      }
      const m = text.match(re);
      if (m) {
        cleanup();
        resolve(m);
        return;
      }
      const why = alive();
      if (why !== true) {
        cleanup();
        reject(new Error(`process exited (${why}) before logging ${re}`));
      }
    };
    const cleanup = () => {
      if (watcher) {
        watcher.close();
      }
      clearInterval(interval);
    };
    try {
      watcher = fs.watch(path.dirname(file), check);
    } catch (_) {
      watcher = null;
    }
    // fs.watch can miss appends on some filesystems; a slow safety net.
    interval = setInterval(check, 250);
    check();
  });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Teardown helper: SIGTERM `pid` if still there, wait up to `ms` for it to go
 * (checked every 100 ms), then SIGKILL it.
 */
async function waitPidGone(pid, ms) {
  if (!pidAlive(pid)) {
    return;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch (_) {
    return;
  }
  const deadline = Date.now() + ms;
  while (pidAlive(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (_) {
      // gone
    }
  }
}

/** Runs a command synchronously; throws with its output on failure. */
function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.status}): ${e.stdout || ''}${e.stderr || ''}`);
  }
}

/**
 * The teardown of a test world { dir, stops: [stop functions], logs: [paths] }:
 * runs the stops newest first (a failing stop is reported, the rest still run),
 * then removes the work dir, or keeps it and prints each log's tail when the
 * test failed or INTEROP_KEEP=1.
 */
function worldTeardown(world, label, tailLines) {
  return async (failed) => {
    for (const stop of world.stops.reverse()) {
      try {
        await stop();
      } catch (e) {
        process.stderr.write(`teardown: ${e.message}\n`);
      }
    }
    if (failed || process.env.INTEROP_KEEP === '1') {
      process.stderr.write(`${label} work dir kept: ${world.dir}\n`);
      for (const log of world.logs) {
        process.stderr.write(`--- tail of ${log} ---\n${tail(log, tailLines)}\n`);
      }
    } else {
      fs.rmSync(world.dir, { recursive: true, force: true });
    }
  };
}

module.exports = {
  WAIT_MS,
  BOOT_MS,
  freePort,
  freePorts,
  makeWorkDir,
  tail,
  worldTeardown,
  failWithLogs,
  withTimeout,
  waitForPort,
  startProcess,
  killGroup,
  waitForLogLine,
  waitPidGone,
  pidAlive,
  run,
  hostname: os.hostname,
};
