// A scripted Finesse desktop: a real Strophe.js XMPP client over WebSocket
// (?transport=ws) or BOSH (?transport=bosh). It signs in as 1001, binds
// `desktop`, sends presence, subscribes to the Team feed, changes state over
// REST with a requestId, waits for the notifications the server plays,
// pings, and closes cleanly. `window.recording` tells the recorder how far it got.
// strophe.umd.min.js defines the globals Strophe, $iq and $pres.
/* global Strophe, $iq, $pres */
const DOMAIN = 'finesse1.example.com';
const JID = `1001@${DOMAIN}/desktop`;
const PASSWORD = 'Fin3sse!Secret-1001';
const params = new URLSearchParams(location.search);
const transport = params.get('transport') ?? 'ws';
// ?open=1: stay signed in (the HAR is exported while the socket is open).
const stayOpen = params.get('open') === '1';
const service = transport === 'bosh' ? 'http://127.0.0.1:17071/http-bind/' : `ws://${location.host}/ws/`;

window.recording = { done: false, failed: null, steps: [] };
const step = (what) => {
  window.recording.steps.push(what);
  document.getElementById('log').textContent += `${what}\n`;
};
const fail = (why) => { window.recording.failed = String(why); step(`failed: ${why}`); };

const connection = new Strophe.Connection(service);
const waiters = [];
const updates = [];

/** Resolves when a notification whose Update text matches `pattern` has arrived. */
function awaitUpdate(pattern) {
  const seen = updates.find((text) => pattern.test(text));
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => waiters.push({ pattern, resolve }));
}

connection.addHandler((message) => {
  const notification = message.getElementsByTagName('notification')[0];
  if (notification) {
    const text = notification.textContent;
    updates.push(text);
    for (const waiter of waiters.splice(0)) {
      if (waiter.pattern.test(text)) waiter.resolve(text); else waiters.push(waiter);
    }
  }
  return true;
}, null, 'message');

const sendIq = (iq) => new Promise((resolve, reject) => connection.sendIQ(iq, resolve, reject, 5000));

async function changeState(state) {
  const requestId = crypto.randomUUID();
  const answer = await fetch('/finesse/api/User/1001', {
    method: 'PUT',
    headers: {
      'Content-Type': 'application/xml',
      Authorization: `Basic ${btoa(`1001:${PASSWORD}`)}`,
      requestId,
    },
    body: `<User><state>${state}</state></User>`,
  });
  step(`PUT ${state} ${answer.status} ${requestId}`);
  return requestId;
}

async function session() {
  connection.send($pres().tree());
  await awaitUpdate(/<state>NOT_READY<\/state>/);
  await sendIq($iq({ type: 'set', to: `pubsub.${DOMAIN}` })
    .c('pubsub', { xmlns: 'http://jabber.org/protocol/pubsub' })
    .c('subscribe', { node: '/finesse/api/Team/7/Users', jid: JID }).tree());
  step('subscribed');
  await awaitUpdate(/<team>/);
  const requestId = await changeState('READY');
  await awaitUpdate(new RegExp(`<requestId>${requestId}</requestId>`));
  await awaitUpdate(/<state>DROPPED<\/state>/);
  await awaitUpdate(/<apiErrors>/);
  step('call seen');
  await sendIq($iq({ type: 'get', to: DOMAIN }).c('ping', { xmlns: 'urn:xmpp:ping' }).tree());
  step('pinged');
  if (stayOpen) {
    window.recording.done = true;
    return;
  }
  connection.send($pres({ type: 'unavailable' }).tree());
  connection.flush();
  connection.disconnect('logout');
}

/** Resolves when a WebSocket that is expected to fail has closed. */
function failingSocket(url, protocols, what) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, protocols);
    socket.onclose = () => { step(what); resolve(); };
  });
}

if (transport === 'ws') {
  // The other node is down (nothing listens on its port): connection refused.
  await failingSocket('ws://127.0.0.1:18446/ws/', ['xmpp'], 'node 2 refused');
  // No `xmpp` subprotocol offered: the server answers 503, as Openfire does.
  await failingSocket(`ws://${location.host}/ws/`, [], 'plain socket refused');
}
connection.connect(JID, PASSWORD, (status) => {
  step(`status ${status}`);
  if (status === Strophe.Status.CONNECTED) session().catch(fail);
  if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL) fail(`status ${status}`);
  if (status === Strophe.Status.DISCONNECTED) {
    // Give a message the server sent after its <close/> time to arrive.
    setTimeout(() => { window.recording.done = true; }, 500);
  }
}, 10, 1);
