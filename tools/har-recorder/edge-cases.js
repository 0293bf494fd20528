// Writes the hand-made edge-case HARs of fixtures/har/ from the real
// recording finesse-ws.har (so their entries keep Chromium's exact shape):
// each file isolates one thing a reader must survive. Deterministic for a
// given finesse-ws.har. Usage: node edge-cases.js [FIXTURES_DIR]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '../../fixtures/har';
const source = JSON.parse(readFileSync(join(dir, 'finesse-ws.har'), 'utf8'));
const entries = source.log.entries;
const isWebSocket = (e) => e._resourceType === 'websocket';
const isScript = (e) => e.request.url.endsWith('/strophe.umd.min.js');

/** DevTools' own layout: two-space indentation. */
function write(name, log) {
  const text = JSON.stringify({ log }, null, 2);
  writeFileSync(join(dir, name), text);
  return text;
}

const withEntries = (list) => ({ ...source.log, entries: list });

// REST only: no WebSocket at all (the desktop's page, its script, the PUT).
write('edge-rest-only.har', withEntries(entries.filter((e) => !isWebSocket(e) && !isScript(e))));

// The two failed WebSockets alone: Chrome's 1969 entry for a connection
// refused before the upgrade was sent, and the 503 refusal.
write('edge-failed-websocket.har', withEntries(entries.filter((e) => isWebSocket(e) && e.response.status !== 101)));

// Out of time order: the REST PUT first, then the rest (file order must be kept).
const put = entries.filter((e) => e.request.method === 'PUT');
const rest = entries.filter((e) => e.request.method !== 'PUT' && !isScript(e));
write('edge-out-of-order.har', withEntries([...put, ...rest]));

// Truncated: the session's WebSocket entry cut in the middle of its eleventh
// message (an export interrupted, or a file cut by an upload limit).
const session = entries.find((e) => isWebSocket(e) && e.response.status === 101);
const page = entries.filter((e) => !isWebSocket(e) && !isScript(e) && e.request.method !== 'PUT');
const whole = write('edge-truncated.har', withEntries([...page, session]));
const marker = JSON.stringify(session._webSocketMessages[10].data).slice(0, 40);
const cut = whole.indexOf(marker) + marker.length;
writeFileSync(join(dir, 'edge-truncated.har'), whole.slice(0, cut));

// Invalid JSON: a comma between two entries replaced by a semicolon.
const invalid = write('edge-invalid.har', withEntries(page));
// Entries sit at six spaces: `{ "log": { "entries": [ {`.
const between = invalid.indexOf('\n      },\n      {');
if (between < 0) throw new Error('no boundary between two entries');
const comma = between + '\n      }'.length;
writeFileSync(join(dir, 'edge-invalid.har'), `${invalid.slice(0, comma)};${invalid.slice(comma + 1)}`);

console.log('edge cases written to', dir);
