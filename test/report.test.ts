// `corral report` through the real system, inside the lab: a real episode (a benign call with a
// hostile-looking string, a call that leaves a process running which later opens an SSH tunnel
// while step 3 runs, an allowed download, a TLS client) is recorded by a runtime, then reported by the CLI from
// the store: JSON (verdict, blame per call, the late alert marked with the step it fired during),
// the terminal text, and the HTML file in headless Chromium (one bar per call, one mark per
// alert, nothing executes, hostile text stays text).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';
import type { SessionReport } from '../src/report/session-report.js';
import { launchChromium } from './helpers/browser.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const HOSTILE = 'echo "</pre><script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"';
const TUNNEL_LATER = `nohup python3 -c 'import socket, time
time.sleep(1.0)
try:
    s = socket.create_connection(("203.0.113.10", 22), timeout=3)
    s.sendall(b"SSH-2.0-OpenSSH_9.2\\r\\n")
    s.recv(100)
except Exception:
    pass' >/dev/null 2>&1 & echo started`;

let fx: Fixture;
let session = '';
let dir = '';
before(async () => {
  fx = await startFixture(DEMO_FAR_HOSTS, 'labrp');
  dir = mkdtempSync(join(tmpdir(), 'corral-report-test-'));
  const s = await fx.rt.createSession({ policy: labPolicy(), run: 'run-r', episode: 'ep-report' });
  session = s.id;
  await s.exec({ command: HOSTILE, step: 1, toolCallId: 'rep-1' });
  await s.exec({ command: TUNNEL_LATER, step: 2, toolCallId: 'rep-2' });
  await s.exec({ command: 'sleep 3', step: 3, toolCallId: 'rep-3' });
  await s.exec({ command: 'curl -s -o /dev/null http://registry.test/pkg.tar.gz', step: 4, toolCallId: 'rep-4' });
  await s.exec({ command: 'import socket, ssl\nc = socket.create_connection(("203.0.113.20", 443), timeout=3)\ntry:\n    ssl.create_default_context().wrap_socket(c, server_hostname="mirror.test")\nexcept Exception:\n    pass', tool: 'python', step: 5, toolCallId: 'rep-5' });
  await s.close();
});
after(async () => {
  await fx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, 'report', '--home', fx.home, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

test('corral report --json: verdict, blame per tool call, and the late alert marked with the step it fired during', () => {
  const r = cli('--session', session, '--json');
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(r.stdout) as SessionReport;
  assert.equal(rep.session, session);
  assert.equal(rep.episode, 'ep-report');
  assert.equal(rep.run, 'run-r');
  assert.equal(rep.closed, true);
  assert.equal(rep.verdict, 'blocked');
  assert.deepEqual(rep.calls.map((c) => [c.step, c.tool_call, c.exit_code]), [[1, 'rep-1', 0], [2, 'rep-2', 0], [3, 'rep-3', 0], [4, 'rep-4', 0], [5, 'rep-5', 0]]);
  assert.equal(rep.calls[4]!.tls_clients?.length, 1, 'the TLS client of step 5, by its JA4');
  assert.match(rep.calls[4]!.tls_clients![0]!, /^t13d\d{4}00_[0-9a-f]{12}_[0-9a-f]{12}$/);
  assert.equal(rep.calls[3]!.tls_clients, undefined, 'plain HTTP: no TLS client');
  const net2 = rep.calls[1]!.alerts.filter((a) => a.layer !== 'command');
  assert.ok(net2.some((a) => a.category === 'tunnel' && a.late && a.during_step === 3 && a.action === 'blocked'), JSON.stringify(rep.calls[1]!.alerts));
  assert.deepEqual(rep.calls[2]!.alerts, [], 'the call running at the time is not blamed');
  assert.ok(rep.calls[3]!.connections.allowed >= 1, 'the download is an allowed connection');
  assert.ok(rep.calls[3]!.bytes.down > 0 && rep.calls[3]!.bytes.up > 0, `the download's bytes: ${JSON.stringify(rep.calls[3]!.bytes)}`);
  assert.deepEqual(rep.calls[0]!.bytes, { up: 0, down: 0 });
  assert.deepEqual(rep.calls[3]!.alerts, []);
  assert.ok(rep.calls[0]!.processes >= 1, 'exec events counted');
  assert.equal(rep.counts.calls, 5);
  assert.ok((rep.counts.by_category.tunnel ?? 0) >= 1);
  // the same session selected by episode and by run
  assert.equal((JSON.parse(cli('--episode', 'ep-report', '--json').stdout) as SessionReport).session, session);
  assert.equal((JSON.parse(cli('--run', 'run-r', '--json').stdout) as SessionReport).session, session);
});

test('corral report (text): the timeline a person reads; unknown selectors exit 2', () => {
  const r = cli('--session', session);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, new RegExp(`^Session ${session}  episode ep-report · run run-r · policy lab-demo`, 'm'));
  assert.match(r.stdout, /verdict: blocked/);
  assert.match(r.stdout, /step 2 rep-2 {2}exit 0/);
  assert.match(r.stdout, /TLS t13d\d{4}00_[0-9a-f]{12}_[0-9a-f]{12}/);
  assert.match(r.stdout, /✖ tunnel .*\(later, during step 3: a process this call left running, pid \d+\)/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'NO_COLOR respected');
  const none = cli('--session', 'no-such-session');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no recorded events for session no-such-session/);
  const both = cli('--session', 'a', '--run', 'b');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give only one of --session, --run\/--episode \(either or both\), --last/);
  // --run and --episode together: that run's episode (a review, session 40: refused as if no selector was given)
  const runEp = cli('--run', 'run-r', '--episode', 'ep-report', '--json');
  assert.equal(runEp.status, 3, runEp.stderr);
  assert.deepEqual(runEp.stdout.trim().split('\n').map((l) => (JSON.parse(l) as SessionReport).session), [session]);
  const otherRun = cli('--run', 'no-such-run', '--episode', 'ep-report');
  assert.equal(otherRun.status, 2);
  assert.match(otherRun.stderr, /no recorded events for run no-such-run, episode ep-report/);
});

test('corral report --html renders in headless Chromium: one bar per call, one mark per alert, nothing executes', { timeout: 120_000 }, async (t) => {

  const file = join(dir, 'session.html');
  const r = cli('--session', session, '--html', file);
  assert.equal(r.status, 3, r.stderr);
  const rep = JSON.parse(cli('--session', session, '--json').stdout) as SessionReport;
  const alerts = rep.calls.reduce((n, c) => n + c.alerts.length, 0);
  const browser = await launchChromium(t);
  if (!browser) return;
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (req) => { if (!req.url().startsWith('file:')) requests.push(req.url()); });
    await page.goto(pathToFileURL(file).href);
    assert.equal(await page.locator('svg#timeline .call-bar').count(), 5);
    assert.match(await page.locator('#call-rep-5 ~ .meta').first().innerText(), /TLS clients \(JA4\) t13d/);
    assert.equal(await page.locator('svg#timeline .alert-mark').count(), alerts);
    assert.ok(alerts >= 1);
    assert.equal(await page.locator('.verdict.v-blocked').count(), 1);
    assert.match(await page.locator('#call-rep-1 + pre').innerText(), /<\/pre><script>window\.__pwned=1<\/script>/, 'the hostile command is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'nothing injected ran');
    assert.match(await page.locator('#call-rep-2 ~ table .late').first().innerText(), /during step 3: by a process it left running/);
    assert.deepEqual(requests, [], 'no network requests');
  } finally {
    await browser.close();
  }
});
