// `corral serve` takes its NATS URL from $CORRAL_PUBLISH, so a URL holding credentials
// (user:password@, token@) need not be on its command line. Threat: every local user reads a
// command line (ps, /proc/PID/cmdline; here as uid 65534), so `--publish nats://user:pass@…` gave
// them the fleet bus's password, to publish forged events for any machine. A real nats-server on
// 127.0.0.1 requires that password; real serve in the lab, no sensor.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { MAIN } from './helpers/cli.js';
import { startNats, type NatsServer } from './helpers/fleet-services.js';
import { startServe, type Served } from './helpers/serve.js';

const PASSWORD = 'NATS-BUS-PASSWORD';
let dir: string, sock: string, url: string;
let nats: NatsServer;
let serve: Served | undefined;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-spe-'));
  sock = join(dir, 'corral.sock');
  nats = await startNats({ config: `authorization { users: [ { user: "corral", password: "${PASSWORD}" } ] }\n` });
  url = `nats://corral:${PASSWORD}@127.0.0.1:${nats.port}`;
});
after(async () => {
  await serve?.stop();
  await nats?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('events go to the NATS named by $CORRAL_PUBLISH (its password used), which no other user can read', async () => {
  serve = await startServe(sock, join(dir, 'home'), { env: { CORRAL_PUBLISH: url } });
  const r = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  let pub: { connected: boolean; published: number; queued: number; url: string; lastError?: string } | undefined;
  const t0 = Date.now();
  while (Date.now() - t0 < 15_000) {
    pub = (await daemonRequest(sock, 'GET', '/v1/health')).json.publish as typeof pub;
    if (pub?.connected && pub.published > 0 && pub.queued === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(pub?.connected && pub.published > 0, `published with the password from the environment: ${JSON.stringify(pub)}`);
  assert.ok(!JSON.stringify(pub).includes(PASSWORD), 'health shows no password');
  // what another user sees of the daemon: its command line, not its environment
  const seen = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${serve.child.pid}/cmdline`, `/proc/${serve.child.pid}/environ`], { encoding: 'utf8' });
  assert.match(seen.stdout, /serve/, 'the command line is readable by anyone');
  assert.match(seen.stderr, /environ: Permission denied/, 'the environment is not');
  assert.doesNotMatch(seen.stdout, new RegExp(`${PASSWORD}|nats://`));
  await serve.stop();
  serve = undefined;
});

test('--publish wins over $CORRAL_PUBLISH; a bad one is a usage error naming where it came from', () => {
  const run = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, [MAIN, 'serve', '--socket', join(dir, 'other.sock'), '--no-sensor', '--json', ...args],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  const opt = run(['--publish', 'http://127.0.0.1:1'], { CORRAL_PUBLISH: url });
  assert.equal(opt.status, 2, opt.stderr);
  assert.match(opt.stderr, /--publish must be nats:\/\/HOST:PORT/);
  const env = run([], { CORRAL_PUBLISH: 'http://127.0.0.1:1' });
  assert.equal(env.status, 2, env.stderr);
  assert.match(env.stderr, /\$CORRAL_PUBLISH must be nats:\/\/HOST:PORT/);
  const host = run(['--host-id', 'm1'], { CORRAL_PUBLISH: 'http://127.0.0.1:1' });
  assert.match(host.stderr, /\$CORRAL_PUBLISH must be/, '--host-id goes with $CORRAL_PUBLISH too');
});
