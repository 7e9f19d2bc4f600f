'use strict';
// dnsmasq on a private loopback port answering the SRV records (RFC 6120
// _xmpp-client, XEP-0368 _xmpps-client) and A records the gateway resolves.

const dns = require('node:dns');
const path = require('node:path');
const { freePort, startProcess, waitForPort, failWithLogs, withTimeout, BOOT_MS, WAIT_MS } = require('./util');

/**
 * zones: domains answered locally only; records: { srv: [{ name, target, port, priority, weight }], a: [{ name, address }] }.
 * port: listen on this port (default: a free one; interop/fault restarts dnsmasq on the same port).
 * Resolves with { pid, port, server: '127.0.0.1:PORT', resolveSrv(name), stop() }.
 */
async function startDnsmasq({ dir, zones = [], srv = [], a = [], port: fixedPort = 0 }) {
  const port = fixedPort || await freePort();
  const args = [
    '--no-daemon', '--conf-file=/dev/null', `--port=${port}`, '--listen-address=127.0.0.1',
    '--bind-interfaces', '--no-resolv', '--no-hosts', '--no-poll', '--log-queries', '--log-facility=-',
    `--pid-file=${path.join(dir, 'dnsmasq.pid')}`, '--user=root',
  ];
  // Authoritative for the test zones: unknown names/types get NXDOMAIN/NODATA, never REFUSED.
  for (const z of zones) {
    args.push(`--local=/${z}/`);
  }
  for (const r of srv) {
    args.push(`--srv-host=${r.name},${r.target},${r.port},${r.priority || 0},${r.weight || 0}`);
  }
  for (const r of a) {
    args.push(`--host-record=${r.name},${r.address}`);
  }
  const proc = startProcess('dnsmasq', args, { logFile: path.join(dir, 'dnsmasq.log') });
  try {
    await waitForPort(port, '127.0.0.1', BOOT_MS, proc.exited);
  } catch (e) {
    await proc.stop();
    throw failWithLogs(`dnsmasq failed to start: ${e.message}`, [proc.logFile]);
  }
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return {
    pid: proc.child.pid,
    port,
    server: `127.0.0.1:${port}`,
    logs: [proc.logFile],
    resolveSrv: (name) => withTimeout(`SRV ${name}`, WAIT_MS, (res, rej) => {
      resolver.resolveSrv(name).then(res, rej);
    }),
    stop: () => proc.stop(),
  };
}

module.exports = { startDnsmasq };
