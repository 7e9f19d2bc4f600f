'use strict';
// A throw-away test CA and per-domain server certificates, made with the
// openssl CLI for each run. Files are world-readable so the ejabberd user can
// read them (they protect nothing: loopback only, new per run).

const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./util');

/**
 * Creates dir/ca.pem (+ key) and, for each domain, dir/<domain>.pem (cert),
 * dir/<domain>.key and dir/<domain>.bundle.pem (key + cert + CA, for ejabberd).
 * Returns { caFile, domains: { [name]: { cert, key, bundle } } }.
 */
function makeCerts(dir, domains) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile,
    '-days', '2', '-subj', '/CN=boshgate interop test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const out = { caFile, domains: {} };
  for (const domain of domains) {
    const key = path.join(dir, `${domain}.key`);
    const csr = path.join(dir, `${domain}.csr`);
    const cert = path.join(dir, `${domain}.pem`);
    const ext = path.join(dir, `${domain}.ext`);
    const bundle = path.join(dir, `${domain}.bundle.pem`);
    run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${domain}`]);
    fs.writeFileSync(ext, [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=DNS:${domain}`,
      '',
    ].join('\n'));
    run('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial',
      '-out', cert, '-days', '2', '-sha256', '-extfile', ext]);
    fs.writeFileSync(bundle, fs.readFileSync(key, 'utf8') + fs.readFileSync(cert, 'utf8') + fs.readFileSync(caFile, 'utf8'));
    out.domains[domain] = { cert, key, bundle };
  }
  for (const f of fs.readdirSync(dir)) {
    fs.chmodSync(path.join(dir, f), 0o644);
  }
  return out;
}

module.exports = { makeCerts };
