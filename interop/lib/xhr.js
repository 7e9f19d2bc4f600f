'use strict';
// A minimal XMLHttpRequest for Node, just enough for strophe.js's BOSH
// transport: async POST over node:http(s), readyState 1..4 with
// onreadystatechange, status, responseText, responseXML (parsed by
// @xmldom/xmldom), getAllResponseHeaders() and abort(). Each request uses its
// own connection (agent: false), like a browser tab that may open several.

const http = require('node:http');
const https = require('node:https');
const { DOMParser } = require('@xmldom/xmldom');

/**
 * What every request carries besides its own headers, for a test that plays a client behind a
 * proxy or at another address: { headers: { name: value }, localAddress: '127.0.0.2' }.
 * Set with setRequestDefaults(); {} restores the plain behaviour.
 */
let requestDefaults = {};
function setRequestDefaults(d) {
  requestDefaults = d || {};
}

class NodeXMLHttpRequest {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.statusText = '';
    this.responseText = '';
    this.responseXML = null;
    this.onreadystatechange = null;
    this.withCredentials = false;
    this.timeout = 0;
    this._headers = {};
    this._responseHeaders = {};
    this._req = null;
    this._aborted = false;
  }

  open(method, url, async = true) {
    if (async === false) {
      throw new Error('NodeXMLHttpRequest supports asynchronous requests only');
    }
    this._method = method;
    this._url = new URL(url);
    this._setState(1);
  }

  overrideMimeType() {}

  setRequestHeader(name, value) {
    this._headers[name] = value;
  }

  getAllResponseHeaders() {
    return Object.entries(this._responseHeaders)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
      .join('\r\n');
  }

  getResponseHeader(name) {
    const v = this._responseHeaders[String(name).toLowerCase()];
    return v === undefined ? null : String(v);
  }

  send(data) {
    const body = data === undefined || data === null ? '' : String(data);
    const mod = this._url.protocol === 'https:' ? https : http;
    const headers = { ...(requestDefaults.headers || {}), ...this._headers, 'Content-Length': Buffer.byteLength(body) };
    const req = mod.request(this._url, {
      method: this._method, headers, agent: false, localAddress: requestDefaults.localAddress,
    });
    this._req = req;
    req.on('response', (res) => {
      this.status = res.statusCode;
      this.statusText = res.statusMessage;
      this._responseHeaders = res.headers;
      this._setState(2);
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (this._aborted) {
          return;
        }
        this.responseText = Buffer.concat(chunks).toString('utf8');
        this.responseXML = parseXml(this.responseText);
        this._setState(4);
      });
      res.on('error', () => this._fail());
    });
    req.on('error', () => this._fail());
    req.end(body);
  }

  abort() {
    this._aborted = true;
    if (this._req) {
      this._req.destroy();
    }
  }

  _fail() {
    if (this._aborted) {
      return;
    }
    this.status = 0;
    this._setState(4);
  }

  _setState(state) {
    this.readyState = state;
    if (typeof this.onreadystatechange === 'function') {
      this.onreadystatechange();
    }
  }
}

function parseXml(text) {
  if (!text) {
    return null;
  }
  try {
    const doc = new DOMParser({ onError: () => {} }).parseFromString(text, 'text/xml');
    return doc && doc.documentElement ? doc : null;
  } catch (_) {
    return null;
  }
}

/** Installs the shim as globalThis.XMLHttpRequest (idempotent). */
function installXhr() {
  globalThis.XMLHttpRequest = NodeXMLHttpRequest;
}

module.exports = { NodeXMLHttpRequest, installXhr, setRequestDefaults };
