'use strict';
// Bench accounts in the private Prosody: names `<prefix>00000`, `<prefix>00001`, …
// with a password derived from the index, registered with prosodyctl two at a
// time (one per core). Shared by bench.js and soak.js.
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
  return { userName, password, registerUsers };
}

module.exports = { makeAccounts };
