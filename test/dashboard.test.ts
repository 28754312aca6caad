// `corral dashboard` through the real system, inside the lab: a daemon in this process, the
// dashboard as a child process following it, a blocked SSH tunnel run through `corral run`, and
// the page in headless Chromium. Proves: the alert appears live with its episode and tool call,
// the agent's hostile text stays text (no element is created from it), the page is served only
// under its token and only to its own Host name, with a strict CSP; SIGTERM stops it cleanly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon } from '../src/server/daemon.js';
import { FarHosts } from '../src/lab/far-hosts.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';
import { launchChromium, startDashboard } from './helpers/browser.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir: string;
let far: FarHosts;
let d: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dash-test-'));
  far = await FarHosts.start(DEMO_FAR_HOSTS, { prefix: 'labdh' });
  d = await CorralDaemon.start({ socketPath: join(dir, 'd.sock'), runtime: { home: join(dir, 'home'), sensor: false, poolSize: 1 } });
});
after(async () => {
  await d?.close();
  await far?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const c = spawn(process.execPath, [MAIN, 'run', ...args], { env: { ...process.env, CORRAL_SOCKET: d.socketPath, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  c.stderr.on('data', (b: Buffer) => { stderr += b; });
  return new Promise((r) => c.on('close', (code) => r({ code, stderr })));
}

const HOSTILE = '<img src=x onerror=document.title=1>';
const SSH_PY = `import socket\nprint(${JSON.stringify(HOSTILE)})\ns=socket.create_connection(("203.0.113.10",22),timeout=5)\ns.sendall(b"SSH-2.0-OpenSSH_9.2\\r\\n")\ntry:\n  s.recv(100)\nexcept Exception:\n  pass\n`;

test('corral dashboard shows a blocked tunnel live, keeps agent text as text, and serves only its tokenised page', async (t) => {
  const dash = await startDashboard(['--socket', d.socketPath]);
  try {
    const { url } = dash;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/$/);
    const base = url.replace(/\/[0-9a-f]{32}\/$/, '');
    assert.equal((await get(`${base}/`)).status, 404);
    assert.equal((await get(`${base}/${'0'.repeat(32)}/`)).status, 404, 'a wrong token is a plain 404');
    assert.equal((await get(`${url}state`, { host: 'attacker.test:80' })).status, 421, 'a rebinding Host is refused');
    const page = await get(url);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'nonce-/);

    const r = await runCli(['--json', '--policy', 'lab-demo', '--label', 'episode=ep-dash', '--label', 'tool_call=tc-dash', '--', 'python3', '-c', SSH_PY]);
    assert.equal(r.code, 0, r.stderr);
    const state = JSON.parse((await get(`${url}state`)).body) as { alerts: { tool_call: string; category: string }[]; daemon: string };
    assert.equal(state.daemon, 'connected');
    assert.ok(state.alerts.some((a) => a.tool_call === 'tc-dash' && a.category === 'tunnel'), JSON.stringify(state.alerts));

    const browser = await launchChromium(t);
    if (!browser) return;
    try {
      const p = await browser.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await p.goto(url);
      await p.waitForFunction(() => [...document.querySelectorAll('#alerts tbody tr')].some((tr) => tr.textContent!.includes('tc-dash') && tr.textContent!.includes('tunnel')), undefined, { timeout: 10_000 });
      const row = await p.$$eval('#alerts tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).find((c) => c.includes('tc-dash')));
      assert.ok(row!.includes('ep-dash') && row!.includes('blocked'), JSON.stringify(row));
      assert.equal(await p.textContent('#c-alerts').then(Number) >= 1, true);
      // the command screen put the agent's argv (with the hostile text) into the events: as text only
      await p.waitForFunction((h) => document.body.textContent!.includes(h), HOSTILE, { timeout: 10_000 });
      assert.equal(await p.$$eval('img', (imgs) => imgs.length), 0, 'no element made from agent text');
      assert.notEqual(await p.title(), '1');
      assert.deepEqual(errors, []);
    } finally { await browser.close(); }
  } finally {
    assert.equal(await dash.stop(), 0, dash.stderr());
  }
});

test('corral dashboard without a daemon says so', async () => {
  const c = spawn(process.execPath, [MAIN, 'dashboard', '--socket', join(dir, 'none.sock')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr.on('data', (b: Buffer) => { err += b; });
  const code = await new Promise<number | null>((r) => c.on('close', r));
  assert.equal(code, 2);
  assert.match(err, /none listens on .*none\.sock \(start one with: corral serve\)/);
});
