'use strict';
// Prosody 0.12, reached through boshgate via SRV _xmpp-client._tcp (STARTTLS).
require('./scenarios').defineSuite({ kind: 'prosody', upstream: 'starttls' });
