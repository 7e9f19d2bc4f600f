'use strict';
// Bench accounts in the private Prosody: names `<prefix>00000`, `<prefix>00001`, …
// with a password derived from the index, registered with prosodyctl two at a
// time (one per core). Shared by bench.js and soak.js. The same accounts in a
// private ejabberd (bench.js's ejabberd rows): registerEjabberdUsers, through
// ejabberd's HTTP API.
const http = require('node:http');
const { execFile } = require('node:child_process');

function makeAccounts(prefix, domain) {
  const userName = (i) => `${prefix}${String(i).padStart(5, '0')}`;
  const password = (i) => `pw-${i}-${prefix}`;
  /** Registers users 0..n-1. */
  async function registerUsers(configFile, n) {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await new Promise((resolve, reject) => {
          execFile('prosodyctl', ['--config', configFile, 'register', userName(i), domain, password(i)], (err, stdout, stderr) => {
            if (err) {
              reject(new Error(`prosodyctl register ${userName(i)} failed: ${err.message} ${stdout}${stderr}`));
            } else {
              resolve();
            }
          });
        });
      }
    };
    await Promise.all([worker(), worker()]);
  }
  /**
   * Registers users 0..n-1 in ejabberd through its HTTP API (POST
   * `${apiUrl}/register`, interop/lib/ejabberd.js with httpApi: loopback
   * only), `concurrency` requests at a time, each with a 30 s deadline: a
   * few ms per account (ejabberd hashes the password for SCRAM), against
   * ~0.8 s per `ejabberdctl register` (an Erlang VM started per call).
   */
  async function registerEjabberdUsers(apiUrl, n, concurrency = 4) {
    const url = new URL(`${apiUrl}/register`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const register = (i) => new Promise((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ user: userName(i), host: domain, password: password(i) }), 'utf8');
      const req = http.request({
        host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) {
            resolve();
          } else {
            reject(new Error(`ejabberd API register ${userName(i)}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          }
        });
      });
      req.setTimeout(30000, () => req.destroy(new Error(`ejabberd API register ${userName(i)}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < n && !failed) {
        try {
          await register(next++);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      agent.destroy();
    }
  }
  return { userName, password, registerUsers, registerEjabberdUsers };
}

module.exports = { makeAccounts };
