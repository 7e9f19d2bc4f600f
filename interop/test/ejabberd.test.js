'use strict';
// ejabberd 23.01, reached through boshgate via SRV _xmpps-client._tcp (direct TLS, XEP-0368).
require('./scenarios').defineSuite({ kind: 'ejabberd', upstream: 'direct_tls' });
