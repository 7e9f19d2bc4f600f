'use strict';
// A real HAProxy (Debian 2.6) running the shipped conf/haproxy/haproxy.cfg, with the
// addresses of this run: the file's frontend bind and its six `server` lines are
// rewritten to the given ports; everything else (routing by sid, health checks, timeouts)
// is the file as shipped.

const fs = require('node:fs');
const path = require('node:path');
const { startProcess, waitForPort, waitForLogLine, failWithLogs, freePorts, BOOT_MS, WAIT_MS } = require('./util');

const SHIPPED = path.join(__dirname, '..', '..', 'conf', 'haproxy', 'haproxy.cfg');

/** Replaces exactly one occurrence of `from` in `text` (throws if absent or repeated). */
function replaceOnce(text, from, to) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`conf/haproxy/haproxy.cfg: expected exactly one "${from}"`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** The instance slots the shipped file names (server gw1..gw6). */
const SLOTS = 6;

/**
 * Starts HAProxy with the shipped config: frontend on 127.0.0.1:`port`; `servers` fill
 * slots gw1, gw2, ... in that order ([{ port, adminPort }]); the slots left get free ports
 * with nothing listening (a gateway started there later, with those ports, is picked up by
 * the health checks). Resolves with { url, wsUrl, port, slots: [{ name, port, adminPort }],
 * logFile, logs, log(), waitServer(name, 'UP' | 'DOWN', fromByte), logMark(), stop() }.
 */
async function startHaproxy({ dir, port, servers }) {
  if (servers.length > SLOTS) {
    throw new Error(`the shipped config names ${SLOTS} instances`);
  }
  const spare = await freePorts(2 * (SLOTS - servers.length));
  const slots = [];
  for (let i = 0; i < SLOTS; i++) {
    const s = servers[i] || { port: spare.shift(), adminPort: spare.shift() };
    slots.push({ name: `gw${i + 1}`, port: s.port, adminPort: s.adminPort });
  }
  let cfg = fs.readFileSync(SHIPPED, 'utf8');
  cfg = replaceOnce(cfg, 'bind 127.0.0.1:5280', `bind 127.0.0.1:${port}`);
  slots.forEach((s, i) => {
    const n = i + 1;
    cfg = replaceOnce(cfg, `server gw${n} 127.0.0.1:528${n} port 928${n}`, `server gw${n} 127.0.0.1:${s.port} port ${s.adminPort}`);
  });
  const cfgFile = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgFile, cfg);
  const logFile = path.join(dir, 'haproxy.log');
  // -db: foreground, no daemon; logs (stdout) into logFile.
  const proc = startProcess('haproxy', ['-db', '-f', cfgFile], { logFile, cwd: dir });
  try {
    await waitForPort(port, '127.0.0.1', BOOT_MS, proc.exited);
  } catch (e) {
    await proc.stop();
    throw failWithLogs(`HAProxy failed to start: ${e.message}`, [logFile]);
  }
  return {
    url: `http://127.0.0.1:${port}/http-bind`,
    wsUrl: `ws://127.0.0.1:${port}/xmpp-websocket`,
    port,
    cfgFile,
    logFile,
    logs: [logFile],
    slots,
    log: () => fs.readFileSync(logFile, 'utf8'),
    /** Current size of the log (bytes), for waitServer's fromByte. */
    logMark: () => fs.statSync(logFile).size,
    /** Resolves when HAProxy logs that server `name` is UP / DOWN (after byte fromByte). */
    waitServer: (name, state, fromByte = 0, ms = WAIT_MS) => waitForLogLine(logFile,
      new RegExp(`Server boshgate/${name} is ${state}\\b`), ms, proc.exited, fromByte),
    stop: () => proc.stop(),
  };
}

module.exports = { startHaproxy };
