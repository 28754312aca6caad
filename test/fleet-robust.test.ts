// The fleet pipeline when things go wrong, through real components inside the lab (nats-server
// with JetStream and PostgreSQL on 127.0.0.1, a `corral serve` child process with real sandboxes).
// Proves: `corral serve --publish` stops promptly on SIGTERM with NATS gone, saying how many events
// never reached NATS and that the local store has them, and a `corral events --follow` reader is
// told the daemon stopped (exit 1); `collect --until-idle` waits for the messages a crashed
// collector took (ack pending) instead of reporting done without them; a --stream-max-bytes the
// server cannot reserve names the flag and what would fit (and that much does fit); a --postgres
// that is not a postgres:// URL is a usage error before any connection; failures of collect and
// report are exit 1 with the JSON error object.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, type JsMsg } from 'nats';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { ensureEventStream, EVENT_STREAM } from '../src/store/nats-publisher.js';
import { startNats, startPostgres, type NatsServer, type Postgres } from './helpers/fleet-services.js';
import { corral, MAIN } from './helpers/cli.js';

let dir: string;
let nats: NatsServer;
let pg: Postgres;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-fleet-robust-'));
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
});
after(async () => {
  await nats?.remove();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  for (const t0 = Date.now(); !(await ok()); await sleep(100)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
}

/** A child process with its output collected. */
function child(args: string[]) {
  const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const out = { stdout: '', stderr: '' };
  c.stdout.on('data', (b: Buffer) => { out.stdout += b; });
  c.stderr.on('data', (b: Buffer) => { out.stderr += b; });
  const done = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
  return { c, out, done };
}

for (const outage of ['stopped', 'frozen'] as const) {
  test(`serve --publish stops promptly on SIGTERM with NATS ${outage}, saying what was not published; a follower hears the daemon stopped`, async () => {
    const own = await startNats(); // taken down by this test
    const sock = join(dir, `${outage}.sock`), home = join(dir, `${outage}-home`);
    const serve = child(['serve', '--socket', sock, '--home', home, '--no-sensor', '--pool', '0', '--publish', own.url, '--host-id', 'mstop']);
    try {
      await until('serve ready', () => /ready on/.test(serve.out.stdout));
      await until('publisher connected', async () => ((await daemonRequest(sock, 'GET', '/v1/health')).json.publish as { connected: boolean }).connected);
      // NATS goes away while the daemon holds a connection to it: refusing reconnections, or
      // keeping the connection open and answering nothing (where a drain waits forever)
      if (outage === 'stopped') await own.stop(); else own.freeze();
      const follower = child(['events', '--follow', '--socket', sock]);
      await until('follower attached', () => /following/.test(follower.out.stderr));
      const run = await corral(['run', '--socket', sock, '--', '/bin/true']);
      assert.equal(run.code, 0, `a NATS outage never fails a call: ${run.stderr}`);
      const t0 = Date.now();
      serve.c.kill('SIGTERM');
      const code = await Promise.race([serve.done, sleep(25_000).then(() => 'hung' as const)]);
      assert.notEqual(code, 'hung', `still running 25 s after SIGTERM: ${serve.out.stderr}`);
      assert.equal(code, 0, serve.out.stderr);
      assert.ok(Date.now() - t0 < 15_000, `stopped in ${Date.now() - t0} ms`);
      assert.ok(!existsSync(sock), 'the socket is removed');
      const m = /corral serve: (\d+) event\(s\) were not published to NATS at nats:\/\/127\.0\.0\.1:\d+ \((\d+) still queued/.exec(serve.out.stderr);
      assert.ok(m, serve.out.stderr);
      assert.ok(Number(m[1]) >= 4, `the run's events at least: ${m[1]}`);
      assert.match(serve.out.stderr, new RegExp(`this machine's store in ${home} still has them`));
      const local = await corral(['events', '--home', home, '--json']);
      assert.ok(local.stdout.trim().split('\n').length >= Number(m[1]), 'the local store has every event that was not published');
      assert.equal(await follower.done, 1, follower.out.stderr);
      assert.match(follower.out.stderr, /corral events: the daemon on .*\.sock stopped/);
    } finally {
      serve.c.kill('SIGKILL');
      await own.remove();
    }
  });
}

test('collect --until-idle waits for the messages a crashed collector took (ack pending) and stores them', async () => {
  const nc = await connect({ servers: nats.url });
  try {
    await ensureEventStream(nc);
    const js = nc.jetstream();
    for (let i = 0; i < 500; i++) {
      const ev = { id: `crash-${i}`, ts: String(1_700_000_000_000_000_000n + BigInt(i)), kind: 'exec', session: 'scrash', payload: { argv: ['true'] } };
      await js.publish('corral.events.mcrash.exec', JSON.stringify(ev), { msgID: ev.id });
    }
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(EVENT_STREAM, { durable_name: 'crashed', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 4e9, filter_subject: 'corral.events.mcrash.>' });
    // A collector that takes a batch and dies before acknowledging any of it.
    const taken: JsMsg[] = [];
    for await (const m of await (await nc.jetstream().consumers.get(EVENT_STREAM, 'crashed')).fetch({ max_messages: 500, expires: 2000 })) taken.push(m);
    assert.equal(taken.length, 500);
    assert.equal((await jsm.consumers.info(EVENT_STREAM, 'crashed')).num_ack_pending, 500);
  } finally { await nc.close(); }
  const r = await corral(['collect', '--nats', nats.url, '--postgres', pg.url, '--durable', 'crashed', '--until-idle', '1s', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { received: number; inserted: number; pending: number; ackPending: number };
  assert.equal(summary.inserted, 500, `stored after their redelivery, not reported done without them: ${r.stdout}`);
  assert.equal(summary.pending, 0);
  const progress = r.stderr.split('\n').filter((l) => l.startsWith('{"progress"')).map((l) => (JSON.parse(l) as { progress: { pending: number; ack_pending: number } }).progress);
  assert.ok(progress.some((p) => p.pending === 500 && p.ack_pending === 500), `pending counted the unacknowledged messages: ${r.stderr}`);
});

test('a --stream-max-bytes the NATS server cannot reserve names the flag and what would fit; that much fits', async () => {
  const small = await startNats({ config: 'jetstream { max_file_store: 64MB }\n' });
  try {
    const collect = (bytes: string) => corral(['collect', '--nats', small.url, '--postgres', pg.url, '--durable', 'small', '--until-idle', '1s', '--stream-max-bytes', bytes, '--json']);
    const big = await collect('50GiB');
    assert.equal(big.code, 2, big.stderr);
    const m = /^corral collect: --stream-max-bytes 50GiB: the NATS server can reserve at most [\d.]+MiB \((\d+) bytes\) for stream CORRAL_EVENTS/m.exec(big.stderr);
    assert.ok(m, big.stderr);
    const room = Number(m[1]);
    assert.ok(room > 60 * 2 ** 20 && room <= 64 * 2 ** 20, `about 64 MiB: ${room}`);
    assert.equal(lastJson(big.stderr).error.kind, 'usage');
    const nc = await connect({ servers: small.url });
    try {
      const names: string[] = [];
      for await (const s of (await nc.jetstreamManager()).streams.list()) names.push(s.config.name);
      assert.deepEqual(names, [], 'no probe stream left behind');
    } finally { await nc.close(); }
    // An existing stream's own reservation counts: what is said to fit, fits.
    assert.equal((await collect('10MiB')).code, 0);
    const again = await collect('100MiB');
    assert.equal(again.code, 2, again.stderr);
    const fits = /\((\d+) bytes\)/.exec(again.stderr)?.[1];
    assert.ok(fits !== undefined && Math.abs(Number(fits) - room) <= 2 ** 20, `${fits} vs ${room}`);
    const ok = await collect(fits!);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { stream: { maxBytes: number } }).stream.maxBytes, Number(fits));
  } finally { await small.remove(); }
});

test('--postgres must be a postgres:// URL (usage error, before any connection); collect and report failures are exit 1 with the JSON error', async () => {
  for (const [cmd, ...pre] of [['collect', '--nats', nats.url], ['events'], ['report']]) {
    for (const url of ['mysql://x', 'not a url', 'postgres:x', 'postgresql://u:hunter2@[bad/db']) {
      const t0 = Date.now();
      const r = await corral([cmd!, ...pre, '--postgres', url, '--json']);
      assert.equal(r.code, 2, `${cmd} ${url}: ${r.stderr}`);
      assert.match(r.stderr, /--postgres must be a URL postgres:\/\/USER@HOST:PORT\/DB/, `${cmd} ${url}`);
      assert.equal(lastJson(r.stderr).error.kind, 'usage');
      assert.doesNotMatch(r.stderr, /hunter2/);
      assert.ok(Date.now() - t0 < 5000, 'no connection attempt');
    }
  }
  const env = await corral(['collect', '--nats', nats.url], { CORRAL_POSTGRES: 'mysql://x' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /\$CORRAL_POSTGRES must be a URL postgres:\/\//);
  assert.ok((await corral(['events', '--postgres', 'postgresql://postgres@127.0.0.1:1/db', '--json'])).code === 1, 'postgresql:// is accepted (then unreachable: 1)');

  const noPg = await corral(['collect', '--nats', nats.url, '--postgres', 'postgres://postgres@127.0.0.1:1/none', '--json']);
  assert.equal(noPg.code, 1, noPg.stderr);
  assert.equal(lastJson(noPg.stderr).error.kind, 'failure');
  assert.match(lastJson(noPg.stderr).error.message, /^PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
  const noNats = await corral(['collect', '--nats', 'nats://127.0.0.1:1', '--postgres', pg.url, '--json']);
  assert.equal(noNats.code, 1, noNats.stderr);
  assert.equal(lastJson(noNats.stderr).error.kind, 'failure');
  assert.match(lastJson(noNats.stderr).error.message, /^NATS nats:\/\/127\.0\.0\.1:1: /);
  const rep = await corral(['report', '--postgres', 'postgres://postgres@127.0.0.1:1/none', '--json']);
  assert.equal(rep.code, 1, `report: exit 1 as its usage says: ${rep.stderr}`);
  assert.equal(lastJson(rep.stderr).error.kind, 'failure');
});
