'use strict';
// Tiny static HTTP server for the browser test, on 127.0.0.1 and a port of
// its own (so the page's origin differs from boshgate's: BOSH goes
// cross-origin with CORS, the WebSocket carries a foreign Origin).
//
//   /                -> interop/browser/index.html
//   /page.js         -> interop/browser/page.js
//   /dist/<file>     -> interop/node_modules/converse.js/dist/<file>
//
// GET and HEAD only; no directory listings; paths never leave those roots.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const PAGE_DIR = __dirname;
const DIST_DIR = path.join(__dirname, '..', 'node_modules', 'converse.js', 'dist');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
};

/** Maps a URL path to a file inside one of the roots, or null. */
function resolveFile(urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch (_) {
    return null;
  }
  if (rel === '/' || rel === '/index.html') {
    return path.join(PAGE_DIR, 'index.html');
  }
  if (rel === '/page.js') {
    return path.join(PAGE_DIR, 'page.js');
  }
  if (rel.startsWith('/dist/')) {
    const file = path.resolve(DIST_DIR, `.${rel.slice('/dist'.length)}`);
    if (file.startsWith(`${DIST_DIR}${path.sep}`)) {
      return file;
    }
  }
  return null;
}

/**
 * Checks that Converse's dist bundle is installed; throws with the fix if not
 * (the test must fail loudly, not skip).
 */
function checkConverseInstalled() {
  for (const f of ['converse.min.js', 'converse.min.css']) {
    if (!fs.existsSync(path.join(DIST_DIR, f))) {
      throw new Error(`Converse.js dist file ${path.join(DIST_DIR, f)} is missing: run npm ci in interop/ (tests/bootstrap.sh)`);
    }
  }
}

/**
 * Starts the server on 127.0.0.1:0. Resolves with { origin, port, requests,
 * notFound, stop() }: `requests` lists "METHOD path status" lines, `notFound`
 * the paths answered 404 (shown when the page fails to start).
 */
function startPageServer() {
  checkConverseInstalled();
  const requests = [];
  const notFound = [];
  const server = http.createServer((req, res) => {
    const urlPath = new URL(req.url, 'http://127.0.0.1').pathname;
    const done = (status) => requests.push(`${req.method} ${urlPath} ${status}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      done(405);
      return;
    }
    const file = resolveFile(urlPath);
    let st = null;
    try {
      st = file ? fs.statSync(file) : null;
    } catch (_) {
      st = null;
    }
    if (!st || !st.isFile()) {
      notFound.push(urlPath);
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      done(404);
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
    } else {
      fs.createReadStream(file).pipe(res);
    }
    done(200);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        origin: `http://127.0.0.1:${port}`,
        port,
        requests,
        notFound,
        stop: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      });
    });
  });
}

module.exports = { startPageServer, DIST_DIR };

// `node browser/server.js` serves the page for manual use and prints its URL.
if (require.main === module) {
  startPageServer().then((s) => {
    process.stdout.write(`serving ${s.origin}/?transport=bosh&url=...&jid=...&password=...\n`);
  });
}
