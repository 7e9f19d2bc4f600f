'use strict';
// A scripted XMPP server on loopback (plaintext c2s, no TLS) for the "upstream
// that stops reading" attack: answers the stream header with features (SASL
// PLAIN), accepts any <auth/> with <success/>, answers the restarted stream
// with bind features and the bind <iq/> with a JID, and from then on never
// reads its socket again (socket.pause()), so everything the gateway sends
// piles up in the kernel buffers and then in the gateway.

const net = require('node:net');

const HEADER = (id, domain) => "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
  + `xmlns:stream='http://etherx.jabber.org/streams' id='${id}' from='${domain}' version='1.0' xml:lang='en'>`;

/** Resolves with { port, conns: [{ bound, stalledAt, closedAt }], close() }. */
function startFakeUpstream({ domain }) {
  const conns = [];
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const c = { bound: false, stalledAt: null, closedAt: null, received: 0 };
    conns.push(c);
    let buf = '';
    let streams = 0;
    let authed = false;
    sock.on('data', (d) => {
      c.received += d.length;
      buf += d.toString('utf8');
      // Strictly sequential script: each step consumes what it recognized.
      for (;;) {
        if (!authed && streams === 0 && /<stream:stream\b[^>]*>/.test(buf)) {
          streams = 1;
          buf = buf.replace(/^[\s\S]*?<stream:stream\b[^>]*>/, '');
          sock.write(HEADER('fake-1', domain)
            + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            + '<mechanism>PLAIN</mechanism></mechanisms></stream:features>');
          continue;
        }
        if (!authed && streams === 1 && /<auth\b[\s\S]*?(<\/auth>|\/>)/.test(buf)) {
          authed = true;
          buf = buf.replace(/^[\s\S]*?<auth\b[\s\S]*?(<\/auth>|\/>)/, '');
          sock.write("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
          continue;
        }
        if (authed && streams === 1 && /<stream:stream\b[^>]*>/.test(buf)) {
          streams = 2;
          buf = buf.replace(/^[\s\S]*?<stream:stream\b[^>]*>/, '');
          sock.write(`${HEADER('fake-2', domain)}<stream:features>`
            + "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
          continue;
        }
        const iq = buf.match(/<iq\b[^>]*\bid=['"]([^'"]+)['"][\s\S]*?<\/iq>/);
        if (streams === 2 && !c.bound && iq) {
          c.bound = true;
          buf = '';
          sock.write(`<iq type='result' id='${iq[1]}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>`
            + `<jid>mallory@${domain}/flood</jid></bind></iq>`);
          // From now on: never read again.
          sock.pause();
          c.stalledAt = Date.now();
        }
        break;
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      c.closedAt = Date.now();
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        conns,
        close: () => new Promise((r) => {
          server.close(() => r());
          for (const s of sockets) {
            s.destroy();
          }
        }),
        server,
      });
    });
  });
}

module.exports = { startFakeUpstream };
