// The fleet pipeline against a secured NATS, as a team would run it: a real nats-server that
// requires TLS with client certificates (its own throwaway CA, made here with openssl) and
// authenticates users by password or NKEY. A `corral serve` daemon publishes with an NKEY over
// mutual TLS; `corral collect` authenticates with a password in the URL, sets the stream's
// retention, and fills a real PostgreSQL; `corral events --follow --nats` follows over TLS.
// Proves: events arrive with their machine; secrets in URLs never appear in health answers,
// summaries or errors; each wrong setting (no client certificate, no CA, a wrong password) fails
// with an error that names the setting to check; bad flags are usage errors naming the file.
// Everything listens on 127.0.0.1 (SAFETY.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeys } from 'nats';
import { CorralDaemon } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { natsConnectOptions } from '../src/store/nats-options.js';
import { startNats, startPostgres, type NatsServer, type Postgres } from './helpers/fleet-services.js';
import { corral, MAIN } from './helpers/cli.js';

const PASSWORD = 'pw-Zq81-not-in-output';
let dir: string;
let nats: NatsServer;
let pg: Postgres;
let m: CorralDaemon;
let tlsUrl: string;
const f = (name: string): string => join(dir, name);

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, with openssl. */
function makeCerts(): void {
  const ssl = (args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }); };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl(['req', '-x509', ...key, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=corral-test-ca']);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    ssl(['req', ...key, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=corral-test-${who}`]);
    ssl(['x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.pem`), '-days', '2', ...(who === 'server' ? ['-extfile', f('san.ext')] : [])]);
  }
}

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-fleet-tls-'));
  makeCerts();
  const user = nkeys.createUser();
  writeFileSync(f('user.nk'), `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
  const config = `tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}", ca_file: "${f('ca.pem')}", verify: true }
authorization { users: [ { user: "collector", password: "${PASSWORD}" }, { nkey: "${user.getPublicKey()}" } ] }\n`;
  [nats, pg] = await Promise.all([startNats({ config }), startPostgres()]);
  tlsUrl = `tls://127.0.0.1:${nats.port}`;
  m = await CorralDaemon.start({
    socketPath: f('m.sock'), runtime: { home: f('m'), sensor: false, poolSize: 1 },
    publish: { url: tlsUrl, host: 'm-tls', security: { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key'), nkey: f('user.nk') } },
  });
});
after(async () => {
  await m?.close();
  await nats?.remove();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const collectorUrl = (pw = PASSWORD): string => `tls://collector:${pw}@127.0.0.1:${nats.port}`;
const mtls = (): string[] => ['--nats-ca', f('ca.pem'), '--nats-cert', f('client.pem'), '--nats-key', f('client.key')];

test('a daemon publishes over mutual TLS with an NKEY; corral collect (password in the URL) sets retention and fills PostgreSQL; no secret is printed', async () => {
  const r = await corral(['run', '--json', '--label', 'episode=ep-tls', '--', '/bin/echo', 'hi'], { CORRAL_SOCKET: m.socketPath });
  assert.equal(r.code, 0, r.stderr);
  const session = (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { session: string }).session;
  await daemonRequest(m.socketPath, 'GET', `/v1/sessions/${session}/report`); // the teardown (session.end) is recorded
  let health: { connected: boolean; queued: number; published: number; url: string; lastError?: string } | undefined;
  for (let i = 0; i < 100; i++) {
    health = (await daemonRequest(m.socketPath, 'GET', '/v1/health')).json.publish as typeof health;
    if (health!.connected && health!.queued === 0 && health!.published > 0) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.ok(health?.connected && health.queued === 0, `published over TLS: ${JSON.stringify(health)}`);

  const c = await corral(['collect', '--nats', collectorUrl(), ...mtls(), '--postgres', pg.url, '--until-idle', '2s', '--stream-max-age', '2h', '--stream-max-bytes', '1GiB', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const summary = JSON.parse(c.stdout.trim().split('\n').at(-1)!) as { inserted: number; nats: string; stream: { maxAgeMs: number; maxBytes: number } };
  assert.ok(summary.inserted >= 3, c.stdout);
  assert.equal(summary.nats, `tls://collector:***@127.0.0.1:${nats.port}`);
  assert.deepEqual(summary.stream, { maxAgeMs: 7_200_000, maxBytes: 1024 ** 3 });
  assert.doesNotMatch(c.stdout + c.stderr, new RegExp(PASSWORD));

  // The stream really has those limits (asked over a connection of its own).
  const nc = await connect({ ...natsConnectOptions(collectorUrl(), { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') }, 'test'), maxReconnectAttempts: 0 });
  try {
    const info = await (await nc.jetstreamManager()).streams.info('CORRAL_EVENTS');
    assert.equal(info.config.max_age, 7_200_000 * 1e6);
    assert.equal(info.config.max_bytes, 1024 ** 3);
  } finally { await nc.close(); }

  const ev = await corral(['events', '--postgres', pg.url, '--session', session, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const rows = ev.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; kind: string; episode?: string });
  assert.ok(rows.some((x) => x.kind === 'toolcall.end' && x.episode === 'ep-tls'), ev.stdout);
  assert.ok(rows.every((x) => x.host === 'm-tls'));
  // The daemon's health names its NATS without secrets (here: none in the URL; the NKEY is a file).
  assert.equal(health!.url, tlsUrl);
});

test('corral events --follow --nats over mutual TLS with an NKEY shows the machine\'s events live', async () => {
  const child = spawn(process.execPath, [MAIN, 'events', '--follow', '--nats', tlsUrl, ...mtls(), '--nats-nkey', f('user.nk'), '--episode', 'ep-follow-tls', '--json'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (c: Buffer) => { out += c; });
  child.stderr.on('data', (c: Buffer) => { err += c; });
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  try {
    await new Promise((res) => setTimeout(res, 1500)); // connected and subscribed
    const r = await corral(['run', '--label', 'episode=ep-follow-tls', '--', '/bin/true'], { CORRAL_SOCKET: m.socketPath });
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 100 && !/"kind":"toolcall\.end"/.test(out); i++) await new Promise((res) => setTimeout(res, 100));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { host: string; episode: string; kind: string });
    assert.ok(lines.some((l) => l.kind === 'toolcall.end'), `${out}\n${err}`);
    assert.ok(lines.every((l) => l.host === 'm-tls' && l.episode === 'ep-follow-tls'), out);
  } finally { child.kill('SIGTERM'); }
  assert.equal(await exited, 0, err);
});

test('each wrong NATS setting fails with an error that names what to check, never the password', async () => {
  const pgArgs = ['--postgres', pg.url, '--until-idle', '1s'];
  const [noCert, noCa, wrongPw, nobody] = await Promise.all([
    corral(['collect', '--nats', collectorUrl(), '--nats-ca', f('ca.pem'), ...pgArgs]),
    corral(['collect', '--nats', collectorUrl(), '--nats-cert', f('client.pem'), '--nats-key', f('client.key'), ...pgArgs]),
    corral(['collect', '--nats', collectorUrl('wrong-pw-Q7'), ...mtls(), ...pgArgs]),
    corral(['collect', '--nats', 'nats://collector:wrong-pw-Q7@127.0.0.1:1', ...pgArgs]),
  ]);
  assert.equal(nobody.code, 1, nobody.stderr);
  assert.match(nobody.stderr, /NATS nats:\/\/collector:\*\*\*@127\.0\.0\.1:1: .*nothing listens there: is nats-server running/);
  assert.equal(noCert.code, 1, noCert.stderr);
  assert.match(noCert.stderr, /client certificate.*--nats-cert\/--nats-key/);
  assert.equal(noCa.code, 1, noCa.stderr);
  assert.match(noCa.stderr, /--nats-ca must name the CA/);
  assert.equal(wrongPw.code, 1, wrongPw.stderr);
  assert.match(wrongPw.stderr, /Authorization Violation.*user:password@/i);
  for (const r of [noCert, noCa, wrongPw, nobody]) assert.doesNotMatch(r.stdout + r.stderr, /wrong-pw-Q7|pw-Zq81/);
});

test('NATS security flags: usage errors name the flag and the file', async () => {
  const cases: [string[], RegExp][] = [
    [['collect', '--nats', tlsUrl, '--postgres', pg.url, '--nats-cert', f('client.pem')], /--nats-cert and --nats-key go together/],
    [['collect', '--nats', tlsUrl, '--postgres', pg.url, '--nats-ca', f('missing.pem')], /--nats-ca .*missing\.pem: cannot read it \(ENOENT\)/],
    [['collect', '--nats', tlsUrl, '--postgres', pg.url, '--nats-nkey', f('ca.pem')], /--nats-nkey .*ca\.pem: not an NKEY user seed/],
    [['collect', '--nats', tlsUrl, '--postgres', pg.url, '--stream-max-age', 'soon'], /--stream-max-age/],
    [['events', '--nats-ca', f('ca.pem')], /--nats-ca secures a NATS connection: give its URL too/],
    [['serve', '--nats-nkey', f('user.nk')], /--nats-nkey secures a NATS connection: give its URL too/],
  ];
  for (const [args, want] of cases) {
    const r = await corral(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});
