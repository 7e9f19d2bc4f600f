'use strict';
// INTEROP_SERVERS=containers: Prosody and ejabberd run from their container images
// (conf/container/{prosody,ejabberd}.Containerfile, built from Debian's packages by
// conf/container/build-images.sh) instead of as host processes. Each server gets the same
// private config, certificates, data and ports as on the host: its work dir is mounted at
// the same path, and the container shares the host's network (--network host), so it
// listens on the loopback ports the suite chose. Every container carries the label
// boshgate-interop (interop/run.sh removes any left behind).
//
// podman here: runc (crun refuses hybrid cgroup hosts), cgroupfs (no systemd), and
// explicit ulimits no higher than this process's hard limits (podman's defaults are higher).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const IMAGES = {
  prosody: process.env.INTEROP_PROSODY_IMAGE || 'localhost/boshgate-prosody',
  ejabberd: process.env.INTEROP_EJABBERD_IMAGE || 'localhost/boshgate-ejabberd',
};
const LABEL = 'boshgate-interop';
const GLOBAL = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

/** True when the suite runs its servers in containers (INTEROP_SERVERS=containers). */
function enabled() {
  const v = process.env.INTEROP_SERVERS || 'host';
  if (v !== 'host' && v !== 'containers') {
    throw new Error(`INTEROP_SERVERS=${v}: expected "host" or "containers"`);
  }
  return v === 'containers';
}

/** Appended to test names, so that the log tells which way the servers ran. */
function nameSuffix() {
  return enabled() ? ' [server in a container]' : '';
}

/** Hard limit of this process for `ulimit -H<flag>` (the container may not exceed it). */
function hardLimit(flag) {
  const out = execFileSync('bash', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? 1048576 : Math.min(Number(out), 1048576);
}

let limits = null;
function ulimitArgs() {
  if (!limits) {
    const nofile = hardLimit('n');
    // nproc also within kernel.pid_max: runc's setrlimit above it is refused on this kind of host.
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    const nproc = Math.min(hardLimit('u'), pidMax);
    limits = ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
  }
  return limits;
}

/** podman with this machine's global flags; throws with podman's stderr on failure. */
function podman(args, { timeout = 60000 } = {}) {
  try {
    return execFileSync('podman', [...GLOBAL, ...args], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout,
    });
  } catch (e) {
    throw new Error(`podman ${args.join(' ')} failed (${e.status}): ${e.stderr || e.message}`);
  }
}

/** The image for `kind`, or a clear error if it was not built. */
function image(kind) {
  const name = IMAGES[kind];
  try {
    execFileSync('podman', [...GLOBAL, 'image', 'exists', name], { stdio: 'ignore', timeout: 30000 });
  } catch (_) {
    throw new Error(`INTEROP_SERVERS=containers: image ${name} not found; build it with `
      + 'bash conf/container/build-images.sh (or set INTEROP_' + kind.toUpperCase() + '_IMAGE)');
  }
  return name;
}

let seq = 0;
/** A container name unique to this process. */
function containerName(kind) {
  seq += 1;
  return `${LABEL}-${kind}-${process.pid}-${seq}`;
}

/**
 * argv (podman first) that runs `command` in `kind`'s image as a foreground container named
 * `name`, with `mounts` (host dirs, mounted at the same path) and options { user, workdir, env }.
 */
function runArgv(kind, name, mounts, command, { user = null, workdir = null, env = {} } = {}) {
  const argv = ['podman', ...GLOBAL, 'run', '--rm', '--name', name, '--label', LABEL,
    '--network', 'host', ...ulimitArgs(), '--stop-timeout', '10'];
  for (const m of mounts) {
    argv.push('-v', `${m}:${m}`);
  }
  if (user) {
    argv.push('--user', user);
  }
  if (workdir) {
    argv.push('--workdir', workdir);
  }
  for (const [k, v] of Object.entries(env)) {
    argv.push('-e', `${k}=${v}`);
  }
  argv.push(image(kind), ...command);
  return argv;
}

/** Runs `command` to completion in a throwaway container of `kind`'s image; returns stdout. */
function runOnce(kind, mounts, command, opts = {}) {
  const argv = runArgv(kind, containerName(`${kind}-run`), mounts, command, opts);
  return podman(argv.slice(1 + GLOBAL.length), { timeout: opts.timeout || 60000 });
}

/** Runs `command` inside the running container `name`; returns stdout. */
function exec(name, command, { user = null, workdir = null, env = {}, timeout = 60000 } = {}) {
  const args = ['exec'];
  if (user) {
    args.push('--user', user);
  }
  if (workdir) {
    args.push('--workdir', workdir);
  }
  for (const [k, v] of Object.entries(env)) {
    args.push('-e', `${k}=${v}`);
  }
  return podman([...args, name, ...command], { timeout });
}

/** Stops the container `name` (SIGTERM, SIGKILL after `seconds`); quiet if it is gone. */
function stop(name, seconds = 10) {
  try {
    execFileSync('podman', [...GLOBAL, 'stop', '--ignore', '-t', String(seconds), name], {
      stdio: 'ignore', timeout: (seconds + 20) * 1000,
    });
  } catch (_) {
    // already gone; `podman run --rm` removes it
  }
}

/**
 * Throws unless the container `name` is running from `kind`'s image: a server that answers
 * on its ports from anywhere else (a host process) must not pass as containerized.
 */
function assertRunning(kind, name) {
  const [running, imageName] = podman(['inspect', '--format', '{{.State.Running}} {{.ImageName}}', name]).trim().split(' ');
  const want = IMAGES[kind].includes(':') ? IMAGES[kind] : `${IMAGES[kind]}:latest`;
  if (running !== 'true' || imageName !== want) {
    throw new Error(`container ${name}: running=${running}, image ${imageName}; expected a running ${want}`);
  }
}

/** uid and gid of `user` in `kind`'s image (the owner its mounted dirs need). */
const idCache = {};
function imageIds(kind, user) {
  const key = `${kind}:${user}`;
  if (!idCache[key]) {
    const [uid, gid] = runOnce(kind, [], ['sh', '-c', `id -u ${user} && id -g ${user}`]).trim().split('\n').map(Number);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
      throw new Error(`no user ${user} in image ${IMAGES[kind]}`);
    }
    idCache[key] = { uid, gid };
  }
  return idCache[key];
}

/** A file of `kind`'s image (e.g. the packaged ejabberdctl.cfg). */
function readImageFile(kind, file) {
  return runOnce(kind, [], ['cat', file]);
}

/** Removes every container this suite labelled (left behind by a killed run). */
function removeAll() {
  const ids = podman(['ps', '-aq', '--filter', `label=${LABEL}`]).split('\n').filter(Boolean);
  if (ids.length > 0) {
    podman(['rm', '-f', ...ids]);
  }
  return ids.length;
}

module.exports = { enabled, nameSuffix, image, containerName, runArgv, runOnce, exec, stop, assertRunning, imageIds, readImageFile, removeAll };
