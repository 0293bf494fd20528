// Records the HAR fixtures: a real Chromium loads the desktop page from
// server.js while dumpcap captures the loopback traffic, and the HAR is
// written by the DevTools frontend's own HAR writer (the code behind the
// Network panel's "Export HAR" action), running in a DevTools window
// attached to the page. Usage: node record.js OUT_DIR [ws|bosh ...]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cdp } from './cdp.js';
import { BOSH_PORT, WEB_PORT, start } from './server.js';

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--remote-debugging-port=0',
  // The DevTools frontend page connects to the page target through the debugging port.
  '--remote-allow-origins=devtools://devtools',
];

/**
 * What each recording writes: the HAR "with sensitive data" and, for the
 * WebSocket one, the sanitized export too. The BOSH HAR is gzipped (the
 * bytes DevTools wrote, compressed): its XHR initiator stacks make it ~550 KB.
 */
const OUTPUTS = {
  ws: [{ suffix: '.har', sanitize: false }, { suffix: '-sanitized.har', sanitize: true }],
  bosh: [{ suffix: '.har.gz', sanitize: false }],
  'ws-open': [{ suffix: '.har.gz', sanitize: false }],
  binary: [{ suffix: '.har', sanitize: false }],
};

/** The page of each recording: `ws-open` is exported while still signed in; `binary` echoes binary messages. */
const PAGE = {
  ws: '/?transport=ws', bosh: '/?transport=bosh', 'ws-open': '/?transport=ws&open=1', binary: '/binary.html',
};

async function until(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch((error) => { if (process.env.RECORDER_DEBUG) console.error(what, error.message); });
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(200);
  }
}

function startCapture(file) {
  const filter = `tcp port ${WEB_PORT} or tcp port ${WEB_PORT + 1} or tcp port ${BOSH_PORT}`;
  const dumpcap = spawn('dumpcap', ['-q', '-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  dumpcap.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => dumpcap.on('exit', resolve));
  return { dumpcap, exited, log: () => log };
}

async function startChromium(profile) {
  const chromium = spawn('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: 'ignore' });
  const portFile = join(profile, 'DevToolsActivePort');
  const port = await until('DevToolsActivePort', async () => existsSync(portFile) && readFileSync(portFile, 'utf8').split('\n')[0]);
  const version = await until('/json/version', async () => (await fetch(`http://127.0.0.1:${port}/json/version`)).json());
  return { chromium, port, browser: await Cdp.connect(version.webSocketDebuggerUrl) };
}

/** Opens the bundled DevTools frontend on the page and waits until its network log runs. */
async function openDevTools(browser, port, pageId) {
  const url = `devtools://devtools/bundled/devtools_app.html?ws=127.0.0.1:${port}/devtools/page/${pageId}`;
  const { targetId } = await browser.send('Target.createTarget', { url });
  const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true });
  await until('DevTools frontend', () => browser.evaluate(`(async () => {
    const SDK = await import('./core/sdk/sdk.js');
    const UI = await import('./ui/legacy/legacy.js');
    if (!SDK.TargetManager.TargetManager.instance().primaryPageTarget()) return false;
    await UI.ViewManager.ViewManager.instance().showView('network');
    return true;
  })()`, sessionId));
  return sessionId;
}

/** The Network panel's "Export HAR" with an in-memory stream instead of a file dialog. */
function exportHar(browser, devtools, sanitize) {
  return browser.evaluate(`(async () => {
    const Network = await import('./panels/network/network.js');
    const HAR = await import('./models/har/har.js');
    const Common = await import('./core/common/common.js');
    const view = Network.NetworkPanel.NetworkPanel.instance().networkLogView;
    const stream = new Common.StringOutputStream.StringOutputStream();
    const progress = new Common.Progress.Progress();
    await HAR.Writer.Writer.write(stream, view.harRequests(), { sanitize: ${sanitize} }, progress);
    return stream.data();
  })()`, devtools);
}

async function record(outDir, transport) {
  const name = `finesse-${transport}`;
  const stopServer = await start();
  const capture = startCapture(join(outDir, `${name}.pcapng`));
  await until('dumpcap', async () => capture.log().includes('Capturing on'), 10000);
  const profile = mkdtempSync(join(tmpdir(), 'har-recorder-'));
  const { chromium, port, browser } = await startChromium(profile);
  try {
    const { targetId: pageId } = await browser.send('Target.createTarget', { url: 'about:blank' });
    const devtools = await openDevTools(browser, port, pageId);
    const { sessionId: page } = await browser.send('Target.attachToTarget', { targetId: pageId, flatten: true });
    await browser.send('Page.navigate', { url: `http://127.0.0.1:${WEB_PORT}${PAGE[transport]}` }, page);
    const outcome = await until('the desktop script', () => browser.evaluate(
      'window.recording && (window.recording.done || window.recording.failed) ? window.recording : null', page), 60000);
    if (outcome.failed) throw new Error(`${transport}: ${outcome.failed} after ${outcome.steps.join(', ')}`);
    console.log(`${transport}: ${outcome.steps.join(' | ')}`);
    for (const output of OUTPUTS[transport]) {
      const file = join(outDir, `${name}${output.suffix}`);
      const har = await exportHar(browser, devtools, output.sanitize);
      writeFileSync(file, output.suffix.endsWith('.gz') ? gzipSync(har, { level: 9 }) : har);
      console.log(`${file}: ${statSync(file).size} bytes`);
    }
    await browser.send('Browser.close').catch(() => undefined);
  } finally {
    browser.close();
    chromium.kill();
    await sleep(1000);
    capture.dumpcap.kill('SIGINT');
    await capture.exited;
    stopServer();
    rmSync(profile, { recursive: true, force: true });
  }
}

const [outDir = '../../fixtures/har', ...only] = process.argv.slice(2);
for (const transport of only.length ? only : Object.keys(OUTPUTS)) {
  await record(outDir, transport);
}
