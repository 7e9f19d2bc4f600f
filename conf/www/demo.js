// The demo page's client code (served as a file: the page's Content-Security-Policy
// allows scripts from this origin only, no inline script).
'use strict';
// Endpoints of the gateway serving this page: BOSH and WebSocket on the same listener.
const BOSH_URL = new URL('http-bind', window.location.href).href;
const WS_URL = (() => {
  const u = new URL('xmpp-websocket', window.location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
})();
const $ = (id) => document.getElementById(id);
const NS_ROSTER = 'jabber:iq:roster';
let conn = null;
const contacts = new Map(); // bare jid -> { subscription, resources: Set }

// A different default account per tab: the second tab logs in as bob.
if (sessionStorage.getItem('demo-tab') === null) {
  const n = Number(localStorage.getItem('demo-tabs') || 0);
  localStorage.setItem('demo-tabs', String(n + 1));
  sessionStorage.setItem('demo-tab', String(n % 2));
}
if (sessionStorage.getItem('demo-tab') === '1') {
  $('jid').value = 'bob@localhost';
  $('password').value = 'bob';
  $('to').value = 'alice@localhost';
  $('transport').value = 'websocket'; // the second tab shows the other transport
}

function log(text, cls, who) {
  const li = document.createElement('li');
  if (cls) li.className = cls;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = new Date().toLocaleTimeString();
  li.appendChild(meta);
  if (who) {
    const w = document.createElement('strong');
    w.className = 'who';
    w.textContent = who + ': ';
    li.appendChild(w);
  }
  li.appendChild(document.createTextNode(text));
  $('log').appendChild(li);
  $('log').scrollTop = $('log').scrollHeight;
}

function setConnected(on) {
  $('connect').disabled = on;
  $('disconnect').disabled = !on;
  $('jid').disabled = on;
  $('password').disabled = on;
  $('transport').disabled = on;
  $('body').disabled = !on;
  $('send').disabled = !on;
}

function renderRoster() {
  const ul = $('roster');
  ul.textContent = '';
  if (contacts.size === 0) {
    const li = document.createElement('li');
    li.className = 'sys';
    li.textContent = conn && conn.authenticated ? 'no contacts yet' : 'not connected';
    ul.appendChild(li);
    return;
  }
  for (const [jid, c] of [...contacts].sort()) {
    const li = document.createElement('li');
    if (c.resources.size > 0) li.className = 'on';
    li.title = 'Send messages to ' + jid;
    const dot = document.createElement('span');
    dot.className = 'dot';
    const name = document.createElement('span');
    name.textContent = jid;
    const sub = document.createElement('span');
    sub.className = 'sub';
    sub.textContent = c.subscription;
    li.append(dot, name, sub);
    li.addEventListener('click', () => { $('to').value = jid; $('body').focus(); });
    ul.appendChild(li);
  }
}

function contact(jid) {
  if (!contacts.has(jid)) contacts.set(jid, { subscription: 'none', resources: new Set() });
  return contacts.get(jid);
}

function onMessage(msg) {
  const body = msg.getElementsByTagName('body')[0];
  if (body && msg.getAttribute('type') !== 'error') {
    log(body.textContent, 'in', Strophe.getBareJidFromJid(msg.getAttribute('from')));
  }
  return true;
}

function onPresence(pres) {
  const from = pres.getAttribute('from') || '';
  const bare = Strophe.getBareJidFromJid(from);
  const type = pres.getAttribute('type');
  if (bare === Strophe.getBareJidFromJid(conn.jid)) return true;
  if (type === 'subscribe') {
    // Demo: accept every request and ask back, so two tabs see each other.
    conn.send($pres({ to: bare, type: 'subscribed' }));
    conn.send($pres({ to: bare, type: 'subscribe' }));
    log(bare + ' asked to see your presence (accepted)', 'sys');
  } else if (type === 'unavailable') {
    contact(bare).resources.delete(Strophe.getResourceFromJid(from));
  } else if (!type) {
    contact(bare).resources.add(Strophe.getResourceFromJid(from));
  }
  renderRoster();
  return true;
}

function onRosterPush(iq) {
  applyRosterItems(iq);
  conn.send($iq({ type: 'result', id: iq.getAttribute('id') }));
  return true;
}

function applyRosterItems(iq) {
  for (const item of iq.getElementsByTagName('item')) {
    const jid = item.getAttribute('jid');
    if (item.getAttribute('subscription') === 'remove') {
      contacts.delete(jid);
    } else {
      contact(jid).subscription = item.getAttribute('subscription') || 'none';
    }
  }
  renderRoster();
}

function onConnect(status, condition) {
  const S = Strophe.Status;
  const names = Object.keys(S).find((k) => S[k] === status) || status;
  $('status').textContent = names.toLowerCase() + (condition ? ' (' + condition + ')' : '');
  if (status === S.CONNECTED) {
    setConnected(true);
    log('connected as ' + conn.jid + ' via ' + BOSH_URL, 'sys');
    conn.addHandler(onMessage, null, 'message');
    conn.addHandler(onPresence, null, 'presence');
    conn.addHandler(onRosterPush, NS_ROSTER, 'iq', 'set');
    conn.sendIQ($iq({ type: 'get' }).c('query', { xmlns: NS_ROSTER }), (iq) => {
      applyRosterItems(iq);
      conn.send($pres());
      // Make sure the peer shows up in the roster of this demo account.
      const peer = $('to').value.trim();
      if (peer && !contacts.has(peer)) conn.send($pres({ to: peer, type: 'subscribe' }));
    });
  } else if (status === S.DISCONNECTED || status === S.CONNFAIL || status === S.AUTHFAIL) {
    setConnected(false);
    contacts.clear();
    renderRoster();
    if (status !== S.DISCONNECTED) log('connection failed: ' + names + (condition ? ' ' + condition : ''), 'sys');
    else log('disconnected', 'sys');
  }
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = $('transport').value === 'websocket' ? WS_URL : BOSH_URL;
  log('connecting to ' + url, 'sys');
  conn = new Strophe.Connection(url);
  conn.connect($('jid').value.trim(), $('password').value, onConnect);
});

$('disconnect').addEventListener('click', () => {
  if (conn) conn.disconnect('user logout');
});

$('compose').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const to = $('to').value.trim();
  const text = $('body').value;
  if (!conn || !conn.authenticated || !to || !text) return;
  conn.send($msg({ to, type: 'chat' }).c('body').t(text));
  conn.flush();
  log(text, 'out', 'to ' + to);
  $('body').value = '';
});

window.addEventListener('pagehide', () => {
  if (conn && conn.authenticated) conn.disconnect('page closed');
});
