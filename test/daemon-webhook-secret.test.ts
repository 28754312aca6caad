// `corral serve` takes its alert webhook's URL from $CORRAL_ALERT_WEBHOOK, so a URL that is a
// secret (a Slack-style hook, user:password@) need not be on its command line. Threat: every local
// user reads a command line (ps, /proc/PID/cmdline; here as uid 65534), so `--alert-webhook URL`
// gave them the hook to post fake alerts to, or the SIEM's password. Real serve in the lab, no
// sensor; the receiver is on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { MAIN } from './helpers/cli.js';
import { startServe, type Served } from './helpers/serve.js';

let dir: string, sock: string;
let serve: Served;
let hook: Server;
const got: { auth?: string; url?: string; body: { alert?: { rule: string } } }[] = [];

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dws-'));
  sock = join(dir, 'corral.sock');
  hook = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => { b += c; });
    req.on('end', () => { got.push({ auth: req.headers.authorization, url: req.url, body: JSON.parse(b) as { alert?: { rule: string } } }); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const url = `http://corral:HOOK-PASSWORD@127.0.0.1:${(hook.address() as { port: number }).port}/services/HOOK-TOKEN`;
  serve = await startServe(sock, join(dir, 'home'), { env: { CORRAL_ALERT_WEBHOOK: url } });
});
after(async () => {
  await serve?.stop();
  hook.close();
  rmSync(dir, { recursive: true, force: true });
});

test('alerts go to the webhook named by $CORRAL_ALERT_WEBHOOK, which no other user can read', async () => {
  const r = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['bash', '-c', 'history -c'] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.ok((r.json.alerts as unknown[]).length > 0, 'the command raised an alert');
  const t0 = Date.now();
  while (!got.length && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 50));
  assert.ok(got.length > 0, 'the alert was delivered');
  assert.equal(got[0]!.url, '/services/HOOK-TOKEN');
  assert.equal(got[0]!.auth, `Basic ${Buffer.from('corral:HOOK-PASSWORD').toString('base64')}`);
  const health = (await daemonRequest(sock, 'GET', '/v1/health')).json as { alert_webhook?: { sent: number } };
  assert.ok((health.alert_webhook?.sent ?? 0) >= 1);
  // what another user sees of the daemon: its command line, not its environment
  const seen = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${serve.child.pid}/cmdline`, `/proc/${serve.child.pid}/environ`], { encoding: 'utf8' });
  assert.match(seen.stdout, /serve/, 'the command line is readable by anyone');
  assert.match(seen.stderr, /environ: Permission denied/, 'the environment is not');
  assert.doesNotMatch(seen.stdout, /HOOK-PASSWORD|HOOK-TOKEN/);
});

test('a bad URL in $CORRAL_ALERT_WEBHOOK is a usage error (exit 2) that names the variable', () => {
  const r = spawnSync(process.execPath, [MAIN, 'serve', '--socket', join(dir, 'other.sock'), '--no-sensor', '--json'], { encoding: 'utf8', env: { ...process.env, CORRAL_ALERT_WEBHOOK: 'ftp://x' }, timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /\$CORRAL_ALERT_WEBHOOK: http or https only/);
});
