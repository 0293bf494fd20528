// The Finesse-like server on localhost: the desktop page, the REST API and
// XMPP over WebSocket on WEB_PORT (as Finesse's 8445), XMPP over BOSH on
// BOSH_PORT (as Openfire's 7071, a different origin: the browser sends CORS
// preflights, as it does for a real desktop).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { FinesseSession, PASSWORD, USER, elementName, splitTopLevel } from './finesse.js';

export const WEB_PORT = 18445;
export const BOSH_PORT = 17071;
const HERE = dirname(fileURLToPath(import.meta.url));
const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';

const STATIC = {
  '/': ['page/index.html', 'text/html; charset=utf-8'],
  '/client.js': ['page/client.js', 'text/javascript; charset=utf-8'],
  '/binary.html': ['page/binary.html', 'text/html; charset=utf-8'],
  '/strophe.umd.min.js': ['node_modules/strophe.js/dist/strophe.umd.min.js', 'text/javascript; charset=utf-8'],
};

/** The session the REST API reaches (one desktop at a time). */
let current = null;

function readBody(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function onRest(request, response) {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  if (request.headers.authorization !== expected) {
    response.writeHead(401, { 'Content-Type': 'application/xml' });
    response.end('<ApiErrors><ApiError><ErrorType>Authentication Failure</ErrorType><ErrorMessage>UNAUTHORIZED</ErrorMessage></ApiError></ApiErrors>');
    return;
  }
  const body = await readBody(request);
  const state = /<state>([A-Z_]+)<\/state>/.exec(body)?.[1] ?? 'READY';
  const requestId = request.headers.requestid ?? '';
  response.writeHead(202, { 'Content-Length': '0', 'Cache-Control': 'no-cache' });
  response.end();
  current?.onStateChange(state, requestId);
}

function onWeb(request, response) {
  const path = request.url.split('?')[0];
  if (request.method === 'PUT' && path === `/finesse/api/User/${USER}`) return void onRest(request, response);
  const file = STATIC[path];
  if (request.method !== 'GET' || !file) {
    response.writeHead(404, { 'Content-Type': 'text/plain' });
    response.end('not found');
    return;
  }
  const headers = { 'Content-Type': file[1], 'Cache-Control': 'no-store' };
  if (path === '/') headers['Set-Cookie'] = 'JSESSIONID=8C1F2E3D4B5A69788796A5B4C3D2E1F0; Path=/; HttpOnly';
  response.writeHead(200, headers);
  response.end(readFileSync(join(HERE, file[0])));
}

function startWebSocket(server) {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, handleProtocols: () => 'xmpp' });
  const echo = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  echo.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (request, socket, head) => {
    if (request.url === '/echo/') {
      echo.handleUpgrade(request, socket, head, (ws) => echo.emit('connection', ws, request));
      return;
    }
    const protocols = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (request.url !== '/ws/' || !protocols.includes('xmpp')) {
      // What Openfire's Jetty answers a client that does not offer `xmpp`.
      const body = 'Endpoint Creation Failed';
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  let streams = 0;
  wss.on('connection', (socket) => {
    streams += 1;
    const push = (xml) => { if (socket.readyState === socket.OPEN) socket.send(xml); };
    const session = new FinesseSession(push, { framing: true, streamId: `ws${streams}a7c3` });
    current = session;
    socket.on('message', (data) => session.onClient(data.toString('utf8')));
    socket.on('close', () => session.end());
  });
}

/** XEP-0124/0206 with hold=1: at most one request waits for server stanzas. */
class BoshSession {
  constructor(sid) {
    this.sid = sid;
    this.queue = [];
    this.held = null;
    this.xmpp = new FinesseSession((xml) => this.onPush(xml), { framing: false, streamId: sid });
  }

  reply(response, inner, attributes = '') {
    response.writeHead(200, { 'Content-Type': 'text/xml; charset=utf-8', ...cors() });
    response.end(`<body xmlns="${NS_HTTPBIND}"${attributes}>${inner}</body>`);
  }

  onPush(xml) {
    this.queue.push(xml);
    if (this.held) this.flush();
  }

  flush() {
    const { response, timer } = this.held;
    clearTimeout(timer);
    this.held = null;
    const inner = this.queue.join('');
    this.queue = [];
    this.reply(response, inner);
  }

  hold(response, waitSeconds) {
    if (this.held) this.flush();
    if (this.queue.length) return void this.reply(response, this.queue.splice(0).join(''));
    const timer = setTimeout(() => { if (this.held?.response === response) this.flush(); }, waitSeconds * 1000);
    this.held = { response, timer };
  }
}

let boshSessions = 0;
const bosh = new Map();

function cors() {
  return { 'Access-Control-Allow-Origin': `http://127.0.0.1:${WEB_PORT}`, 'Access-Control-Allow-Headers': 'Content-Type' };
}

async function onBosh(request, response) {
  if (request.method === 'OPTIONS') {
    response.writeHead(200, { ...cors(), 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Access-Control-Max-Age': '0', 'Content-Length': '0' });
    return void response.end();
  }
  const text = await readBody(request);
  const head = /^\s*<body\b[^>]*>/.exec(text)?.[0] ?? '';
  const inner = text.slice(head.length).replace(/<\/body>\s*$/, '');
  const sid = /\ssid="([^"]*)"/.exec(head)?.[1];
  if (!sid) return void startBosh(response);
  const session = bosh.get(sid);
  if (!session) return void response.writeHead(404, cors()).end(`<body xmlns="${NS_HTTPBIND}" type="terminate" condition="item-not-found"/>`);
  if (/\stype="terminate"/.test(head)) {
    for (const element of splitTopLevel(inner)) session.xmpp.onClient(element);
    session.xmpp.end();
    if (session.held) session.flush();
    bosh.delete(sid);
    return void session.reply(response, '', ' type="terminate"');
  }
  if (/xmpp:restart="true"/.test(head)) session.xmpp.onStreamOpen();
  for (const element of splitTopLevel(inner)) {
    if (elementName(element) !== 'body') session.xmpp.onClient(element);
  }
  session.hold(response, 10);
}

function startBosh(response) {
  boshSessions += 1;
  const session = new BoshSession(`b0sh${boshSessions}f00d4c1e`);
  bosh.set(session.sid, session);
  current = session.xmpp;
  const attributes = ` xmlns:xmpp="urn:xmpp:xbosh" xmlns:stream="http://etherx.jabber.org/streams" sid="${session.sid}" wait="10" hold="1"`
    + ' requests="2" inactivity="30" polling="5" ver="1.6" from="finesse1.example.com" authid="' + session.sid + '" xmpp:version="1.0"';
  session.xmpp.onStreamOpen();
  session.reply(response, session.queue.splice(0).join(''), attributes);
}

/** Starts both servers; resolves with a function that stops them. */
export async function start() {
  const web = http.createServer(onWeb);
  startWebSocket(web);
  const boshServer = http.createServer((request, response) => {
    if (request.url.split('?')[0] !== '/http-bind/') return void response.writeHead(404).end();
    return void onBosh(request, response);
  });
  await new Promise((resolve) => web.listen(WEB_PORT, '127.0.0.1', resolve));
  await new Promise((resolve) => boshServer.listen(BOSH_PORT, '127.0.0.1', resolve));
  return () => {
    web.closeAllConnections();
    boshServer.closeAllConnections();
    web.close();
    boshServer.close();
  };
}
