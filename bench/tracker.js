'use strict';
// What a bench run (bench.js, soak.js) has started and how to stop it: every
// process is listed in $BENCH_PIDFILE (so run.sh / soak.sh can kill its group
// if the node process is killed outright, see common.sh) and its stop function
// kept until it is stopped; stopAll() stops the rest, newest first.
const fs = require('node:fs');

function makeTracker(prefix) {
  const live = new Set();
  function track(name, pid, stop) {
    if (process.env.BENCH_PIDFILE && pid) {
      fs.appendFileSync(process.env.BENCH_PIDFILE, `${pid} ${name}\n`);
    }
    const entry = { name, stop };
    live.add(entry);
    return async () => {
      live.delete(entry);
      await stop();
    };
  }
  async function stopAll() {
    for (const e of [...live].reverse()) {
      live.delete(e);
      try {
        await e.stop();
      } catch (err) {
        process.stderr.write(`${prefix}: stopping ${e.name}: ${err.message}\n`);
      }
    }
  }
  /**
   * Runs main() (resolving with the exit code) as the process: lists this
   * process in $BENCH_PIDFILE under `prefix`, stops everything started on
   * SIGINT/SIGTERM (exit 130, naming workDir() if made) or when main() throws
   * (exit 2).
   */
  function runMain(main, workDir) {
    if (process.env.BENCH_PIDFILE) {
      fs.appendFileSync(process.env.BENCH_PIDFILE, `${process.pid} ${prefix}\n`);
    }
    let stopping = false;
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.on(sig, () => {
        if (stopping) {
          return;
        }
        stopping = true;
        const dir = workDir();
        process.stdout.write(`${prefix}: ${sig}: stopping everything started${dir ? `; work dir kept: ${dir}` : ''}\n`);
        stopAll().finally(() => process.exit(130));
      });
    }
    main().then((code) => {
      process.exitCode = code;
    }, async (e) => {
      process.stderr.write(`${prefix}: ${e.stack || e.message}\n`);
      await stopAll();
      process.exitCode = 2;
    });
  }
  return { track, stopAll, runMain };
}

module.exports = { makeTracker };
