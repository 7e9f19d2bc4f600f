// Converse.js page for the boshgate browser test (interop/test/browser.test.js).
//
// The query string picks the account and the transport:
//   /?transport=bosh&url=http://127.0.0.1:PORT/http-bind&jid=alice@prosody.test&password=...
//   /?transport=websocket&url=ws://127.0.0.1:PORT/xmpp-websocket&jid=bob@prosody.test&password=...
// Exactly one of bosh_service_url / websocket_url is set, so Converse cannot
// fall back to the other transport; discovery (XEP-0156) is off. With
//   /?transport=discover&jid=carol@prosody.test&password=...
// neither is set and discovery is on: Converse reads
// https://prosody.test/.well-known/host-meta and uses what it lists.

//
// A tiny whitelisted plugin ("boshgate-probe") records connection events and
// the transport Strophe really used in window.boshgateProbe, for the test's
// diagnostics and its transport assertion; the user-visible assertions are
// made on the DOM.

import converse from '/dist/converse.min.js';

const params = new URLSearchParams(window.location.search);
const transport = params.get('transport');
const url = params.get('url');
const jid = params.get('jid');
const password = params.get('password');

const probe = {
  config: { transport, url, jid },
  events: [],
  connectedType: null,
  service: null,
  error: null,
};
window.boshgateProbe = probe;

function note(what) {
  probe.events.push(`${new Date().toISOString()} ${what}`);
  console.info(`[boshgate-probe] ${what}`);
}

/** A small label in the corner, so each screenshot says who and how. */
function addBanner() {
  const div = document.createElement('div');
  div.id = 'boshgate-banner';
  div.textContent = transport === 'discover' ? `${jid} via XEP-0156 discovery`
    : `${jid} via ${transport === 'websocket' ? 'WebSocket' : 'BOSH'}: ${url}`;
  div.style.cssText = [
    'position:fixed', 'left:6px', 'bottom:6px', 'max-width:196px', 'overflow-wrap:anywhere', 'z-index:100000', 'pointer-events:none',
    'font:12px/1.4 DejaVu Sans, sans-serif', 'padding:2px 8px', 'border-radius:4px',
    'background:rgba(0,0,0,0.65)', 'color:#fff',
  ].join(';');
  document.body.appendChild(div);
}

function start() {
  const discover = transport === 'discover';
  if (!['bosh', 'websocket', 'discover'].includes(transport) || (!url && !discover) || !jid || !password) {
    probe.error = 'bad query: need transport=bosh|websocket (with url) or discover, jid, password';
    document.body.textContent = probe.error;
    console.error(probe.error);
    return;
  }
  addBanner();

  converse.plugins.add('boshgate-probe', {
    initialize() {
      const { api } = this._converse;
      const record = (ev) => () => {
        const conn = api.connection.get();
        probe.connectedType = api.connection.isType('websocket') ? 'websocket' : api.connection.isType('bosh') ? 'bosh' : 'unknown';
        probe.service = conn?.service ?? null;
        note(`${ev} type=${probe.connectedType} service=${probe.service} jid=${conn?.jid}`);
      };
      api.listen.on('connected', record('connected'));
      api.listen.on('reconnected', record('reconnected'));
      api.listen.on('disconnected', () => note('disconnected'));
      api.listen.on('statusInitialized', () => note('statusInitialized'));
      api.listen.on('rosterContactsFetched', () => note('rosterContactsFetched'));
      api.listen.on('message', (data) => note(`message from ${data?.attrs?.from ?? '?'}`));
    },
  });

  const settings = {
    authentication: 'login',
    auto_login: true,
    jid,
    password,
    discover_connection_methods: discover,
    view_mode: 'fullscreen',
    assets_path: '/dist/',
    i18n: 'en',
    loglevel: 'debug',
    // A lost connection must show up as a failure, not be papered over.
    auto_reconnect: false,
    allow_url_history_change: false,
    show_controlbox_by_default: true,
    // Nothing that needs the network beyond the XMPP connection, nothing timed.
    play_sounds: false,
    show_desktop_notifications: false,
    fetch_url_headers: false,
    embed_3rd_party_media_players: false,
    auto_away: 0,
    auto_xa: 0,
    csi_waiting_time: 0,
    // Features the test does not use and whose server side it does not provide.
    blacklisted_plugins: [
      'converse-omemo',
      'converse-omemo-views',
      'converse-push',
      'converse-notification',
      'converse-register',
    ],
    whitelisted_plugins: ['boshgate-probe'],
  };
  if (transport === 'bosh') {
    settings.bosh_service_url = url;
  } else if (transport === 'websocket') {
    settings.websocket_url = url;
  }
  note(`initialize transport=${transport} url=${url} jid=${jid}`);
  Promise.resolve().then(() => converse.initialize(settings)).catch((e) => {
    probe.error = `converse.initialize failed: ${e?.stack || e}`;
    console.error(probe.error);
  });
}

start();
