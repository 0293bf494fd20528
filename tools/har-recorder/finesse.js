// The Openfire/Finesse side of one XMPP session (DOMAIN.md §2 and §3),
// independent of the transport: the WebSocket and BOSH endpoints feed it the
// client's top-level elements and it pushes server elements back through
// `push`. Deliberately small and scripted: it answers the one client in
// page/client.js, not arbitrary XMPP.

export const DOMAIN = 'finesse1.example.com';
export const PUBSUB = `pubsub.${DOMAIN}`;
export const USER = '1001';
export const PASSWORD = 'Fin3sse!Secret-1001';
export const FULL_JID = `${USER}@${DOMAIN}/desktop`;

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_STREAM = 'http://etherx.jabber.org/streams';

/** Escapes text for an XML text node or attribute. */
export function escapeXml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attribute(element, name) {
  const match = new RegExp(`\\s${name}=(?:"([^"]*)"|'([^']*)')`).exec(element);
  return match ? (match[1] ?? match[2]) : undefined;
}

/** The name of an element's start tag (`iq`, `stream:features`...). */
export function elementName(element) {
  const match = /^<([A-Za-z0-9_:.-]+)/.exec(element.trim());
  return match ? match[1] : '';
}

/** Splits XML text into its top-level elements (enough for what Strophe writes). */
export function splitTopLevel(xml) {
  const elements = [];
  let depth = 0;
  let start = -1;
  const tag = /<(\/?)[^>]*?(\/?)>/g;
  for (let match = tag.exec(xml); match; match = tag.exec(xml)) {
    if (match[0].startsWith('<?')) continue;
    if (depth === 0) start = match.index;
    if (match[1]) depth -= 1;
    else if (!match[2]) depth += 1;
    if (depth === 0) elements.push(xml.slice(start, tag.lastIndex));
  }
  return elements;
}

function features(authenticated) {
  const inner = authenticated
    ? '<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session>'
    : '<mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms>';
  return `<stream:features xmlns:stream="${NS_STREAM}">${inner}</stream:features>`;
}

let itemCounter = 0;

/** A pubsub event message whose notification is the escaped `update` XML. */
function notification(node, update) {
  itemCounter += 1;
  const item = `3f6c${String(itemCounter).padStart(4, '0')}-9a1e-4c1b-8d2f-${String(itemCounter).padStart(12, '0')}`;
  return `<message from="${PUBSUB}" to="${FULL_JID}" id="${USER}__${DOMAIN}__Xy12abC${itemCounter}">`
    + `<event xmlns="http://jabber.org/protocol/pubsub#event"><items node="${node}">`
    + `<item id="${item}"><notification xmlns="http://jabber.org/protocol/pubsub">${escapeXml(update)}</notification></item>`
    + '</items></event></message>';
}

function update(event, requestId, source, data) {
  return `<Update><data>${data}</data><event>${event}</event><requestId>${requestId}</requestId><source>${source}</source></Update>`;
}

function userUpdate(state, requestId, stateChangeTime) {
  const reason = state === 'NOT_READY' ? '<reasonCodeId>12</reasonCodeId><ReasonCode><code>12</code><label>Lunch</label></ReasonCode>' : '';
  const user = `<user><dialogs>/finesse/api/User/${USER}/Dialogs</dialogs><extension>3001</extension><firstName>Ada</firstName>`
    + `<lastName>Agent</lastName><loginId>${USER}</loginId><loginName>ada.agent</loginName><pendingState></pendingState>`
    + `${reason}<state>${state}</state><stateChangeTime>${stateChangeTime}</stateChangeTime><teamId>7</teamId><teamName>Support</teamName></user>`;
  return notification(`/finesse/api/User/${USER}`, update('PUT', requestId, `/finesse/api/User/${USER}`, user));
}

function dialog(state, participantState) {
  return `<Dialog><associatedDialogUri></associatedDialogUri><fromAddress>5551234</fromAddress><id>16777217</id>`
    + '<mediaProperties><DNIS>3001</DNIS><callType>ACD_IN</callType><dialedNumber>3001</dialedNumber>'
    + '<callvariables><CallVariable><name>callVariable1</name><value>AT&amp;T</value></CallVariable>'
    + '<CallVariable><name>callVariable2</name><value>case 4711</value></CallVariable></callvariables>'
    + '<queueName>Support</queueName><queueNumber>5000</queueNumber></mediaProperties>'
    + '<mediaType>Voice</mediaType><participants><Participant><actions><action>ANSWER</action></actions>'
    + `<mediaAddress>3001</mediaAddress><mediaAddressType>AGENT_DEVICE</mediaAddressType><state>${participantState}</state></Participant></participants>`
    + `<state>${state}</state><toAddress>3001</toAddress><uri>/finesse/api/Dialog/16777217</uri></Dialog>`;
}

function dialogUpdate(event, state, participantState) {
  const node = `/finesse/api/User/${USER}/Dialogs`;
  const data = event === 'POST' ? `<dialogs>${dialog(state, participantState)}</dialogs>` : dialog(state, participantState).replace(/^<Dialog>/, '<dialog>').replace(/<\/Dialog>$/, '</dialog>');
  return notification(node, update(event, '', '/finesse/api/Dialog/16777217', data));
}

function teamUpdate() {
  const users = ['1001', '1002'].map((id, index) => `<User><firstName>Agent</firstName><lastName>${id}</lastName><loginId>${id}</loginId>`
    + `<state>${index === 0 ? 'NOT_READY' : 'READY'}</state><stateChangeTime>2026-03-02T09:00:0${index}.000Z</stateChangeTime></User>`).join('');
  return notification('/finesse/api/Team/7/Users', update('PUT', '', '/finesse/api/Team/7', `<team><id>7</id><name>Support</name><users>${users}</users></team>`));
}

function apiErrorsUpdate() {
  const data = '<apiErrors><apiError><errorData>34</errorData><errorMessage>CF_RESOURCE_OUT_OF_SERVICE</errorMessage>'
    + '<errorType>Call Operation Failure</errorType></apiError></apiErrors>';
  return notification(`/finesse/api/User/${USER}/Dialogs`, update('PUT', '', `/finesse/api/User/${USER}/Dialogs`, data));
}

/** The server's half of one XMPP session. */
export class FinesseSession {
  /**
   * @param push sends one server element to the client
   * @param opts.framing true over WebSocket (RFC 7395 `<open/>`), false over BOSH
   */
  constructor(push, opts) {
    this.push = push;
    this.framing = opts.framing;
    this.authenticated = false;
    this.streamId = opts.streamId;
    this.timers = [];
    this.closed = false;
  }

  later(ms, action) {
    this.timers.push(setTimeout(() => { if (!this.closed) action(); }, ms));
  }

  /** The features for a (re)started stream; over WebSocket also the `<open/>`. */
  onStreamOpen() {
    if (this.framing) {
      this.push(`<open xmlns="${NS_FRAMING}" from="${DOMAIN}" id="${this.streamId}" xml:lang="en" version="1.0"/>`);
    }
    this.push(features(this.authenticated));
  }

  /** One client element. */
  onClient(element) {
    const name = elementName(element);
    if (name === 'open') return this.onStreamOpen();
    if (name === 'auth') return this.onAuth(element);
    if (name === 'iq') return this.onIq(element);
    if (name === 'presence') return this.onPresence(element);
    if (name === 'close') return this.onClose();
    return undefined;
  }

  onAuth(element) {
    const payload = Buffer.from(/>([^<]*)</.exec(element)?.[1] ?? '', 'base64').toString('utf8');
    const [, authcid, password] = payload.split('\0');
    if (authcid === USER && password === PASSWORD) {
      this.authenticated = true;
      this.push('<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>');
    } else {
      this.push('<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/></failure>');
    }
  }

  onIq(element) {
    const id = attribute(element, 'id');
    const result = (inner = '') => this.push(`<iq xmlns="jabber:client" type="result" id="${id}" from="${attribute(element, 'to') ?? DOMAIN}" to="${FULL_JID}">${inner}</iq>`);
    if (element.includes('urn:ietf:params:xml:ns:xmpp-bind')) {
      return this.push(`<iq xmlns="jabber:client" type="result" id="${id}"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>${FULL_JID}</jid></bind></iq>`);
    }
    if (element.includes('urn:ietf:params:xml:ns:xmpp-session')) return result();
    if (element.includes('urn:xmpp:ping')) return result();
    if (element.includes('<subscribe')) {
      const node = attribute(element.slice(element.indexOf('<subscribe')), 'node');
      result(`<pubsub xmlns="http://jabber.org/protocol/pubsub"><subscription node="${node}" jid="${FULL_JID}" subid="Zk3qA9pL2xYw7TnB0cVd1234" subscription="subscribed"/></pubsub>`);
      this.later(250, () => this.push(teamUpdate()));
      return undefined;
    }
    return this.push(`<iq xmlns="jabber:client" type="error" id="${id}"><error type="cancel"><feature-not-implemented xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`);
  }

  onPresence(element) {
    if (attribute(element, 'type') === 'unavailable') return;
    this.later(150, () => this.push(userUpdate('NOT_READY', '', '2026-03-02T09:00:00.000Z')));
  }

  /** The REST PUT was accepted: the Update echoing its requestId follows ~300 ms later, then a call. */
  onStateChange(state, requestId) {
    this.later(300, () => {
      this.push(userUpdate(state, requestId, new Date().toISOString()));
      this.later(250, () => this.push(dialogUpdate('POST', 'ALERTING', 'ALERTING')));
      this.later(500, () => this.push(dialogUpdate('PUT', 'ACTIVE', 'ACTIVE')));
      this.later(750, () => this.push(dialogUpdate('DELETE', 'DROPPED', 'DROPPED')));
      this.later(1000, () => this.push(apiErrorsUpdate()));
    });
  }

  /** `<close/>` is answered, and a notification queued at that moment still goes out after it. */
  onClose() {
    if (this.framing) this.push(`<close xmlns="${NS_FRAMING}"/>`);
    this.push(userUpdate('LOGOUT', '', new Date().toISOString()));
    this.end();
  }

  end() {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
  }
}
