// The fleet pipeline through real components, inside the lab: two `corral serve` daemons in this
// process stand for two machines (m1 with the eBPF sensor, m2 without), publishing to a real
// nats-server with JetStream; `corral collect` (a child process) moves the events into a real
// PostgreSQL; `corral events --postgres` queries them. Proves: a blocked SSH tunnel on m1 is in
// the central store with its machine, episode and tool call; m2's events recorded while NATS was
// down arrive after it comes back; every local event of the sessions is stored centrally exactly
// once (a second collector re-reading the stream adds nothing); `corral report --postgres` explains
// an episode from the fleet store; hostile messages on the stream are rejected with their sequence
// and do not stop the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { CorralDaemon } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { FarHosts } from '../src/lab/far-hosts.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';
import { PgEventStore } from '../src/store/pg-store.js';
import { NatsEventPublisher } from '../src/store/nats-publisher.js';
import { startNats, startPostgres, type NatsServer, type Postgres } from './helpers/fleet-services.js';
import { corral, MAIN } from './helpers/cli.js';
import { launchChromium, startDashboard } from './helpers/browser.js';

let dir: string;
let far: FarHosts;
let nats: NatsServer;
let pg: Postgres;
let m1: CorralDaemon, m2: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-fleet-test-'));
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  far = await FarHosts.start(DEMO_FAR_HOSTS, { prefix: 'labfl' });
  m1 = await CorralDaemon.start({ socketPath: join(dir, 'm1.sock'), runtime: { home: join(dir, 'm1'), sensor: true, poolSize: 1 }, publish: { url: nats.url, host: 'm1' } });
  m2 = await CorralDaemon.start({ socketPath: join(dir, 'm2.sock'), runtime: { home: join(dir, 'm2'), sensor: false, poolSize: 1 }, publish: { url: nats.url, host: 'm2' } });
});
after(async () => {
  await m1?.close();
  await m2?.close();
  await far?.stop();
  await nats?.remove();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type PublishHealth = { published: number; queued: number; dropped: number; connected: boolean };
async function publishHealth(d: CorralDaemon): Promise<PublishHealth> {
  return (await daemonRequest(d.socketPath, 'GET', '/v1/health')).json.publish as PublishHealth;
}
async function drained(d: CorralDaemon, ms = 20_000): Promise<PublishHealth> {
  const end = Date.now() + ms;
  for (;;) {
    const h = await publishHealth(d);
    if (h.connected && h.queued === 0 && h.published > 0) return h;
    if (Date.now() > end) throw new Error(`publisher not drained: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const SSH_PY = 'import socket\ns=socket.create_connection(("203.0.113.10",22),timeout=5)\ns.sendall(b"SSH-2.0-OpenSSH_9.2\\r\\n")\ntry:\n  print("got", len(s.recv(100)))\nexcept Exception as e:\n  print("cut", type(e).__name__)\n';

test('two machines publish to NATS JetStream; corral collect fills PostgreSQL; corral events --postgres answers for the fleet', async () => {
  // m1: the incident's tunnel, blocked and attributed
  const r1 = await corral(['run', '--json', '--policy', 'lab-demo', '--label', 'episode=ep-fleet-1', '--label', 'tool_call=tc-ssh', '--', 'python3', '-c', SSH_PY], { CORRAL_SOCKET: m1.socketPath });
  assert.equal(r1.code, 0, r1.stderr);
  const s1 = JSON.parse(r1.stderr.trim().split('\n').at(-1)!) as { session: string; verdict: string };
  assert.equal(s1.verdict, 'blocked');
  await daemonRequest(m1.socketPath, 'GET', `/v1/sessions/${s1.session}/report`); // waits for the teardown (session.end)
  await drained(m1);

  // m2 during a NATS outage: its events wait in the publisher's queue
  await nats.stop();
  const r2 = await corral(['run', '--json', '--label', 'episode=ep-fleet-2', '--label', 'tool_call=tc-ok', '--', '/bin/echo', 'hello'], { CORRAL_SOCKET: m2.socketPath });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout, 'hello\n');
  const s2 = JSON.parse(r2.stderr.trim().split('\n').at(-1)!) as { session: string };
  await daemonRequest(m2.socketPath, 'GET', `/v1/sessions/${s2.session}/report`);
  const during = await publishHealth(m2);
  assert.ok(during.queued > 0, `events queued while NATS is down: ${JSON.stringify(during)}`);
  await nats.start();
  const after2 = await drained(m2);
  assert.equal(after2.dropped, 0);

  // hostile messages on the stream (anyone who can publish to NATS could send them)
  const nc = await connect({ servers: nats.url });
  const js = nc.jetstream();
  await js.publish('corral.events.evil.exec', new TextEncoder().encode('{not json'));
  await js.publish('corral.events.evil.exec', JSON.stringify({ id: 'x1', ts: '1', kind: 'exec', session: '../../etc', payload: {} }));
  // valid, but with text jsonb and PostgreSQL text refuse as it is (NUL, a lone surrogate): stored, sanitised
  await js.publish('corral.events.odd.exec', JSON.stringify({ id: 'odd-1', ts: '2', kind: 'exec', session: 'odd-1', tool_call: 'tc\u0000', payload: { argv: ['a\u0000b', '\ud800'] } }));
  await nc.drain();

  const c1 = await corral(['collect', '--nats', nats.url, '--postgres', pg.url, '--until-idle', '2s', '--json']);
  assert.equal(c1.code, 0, c1.stderr);
  const sum1 = JSON.parse(c1.stdout) as { received: number; inserted: number; duplicates: number; rejected: number; problems: { seq: number; subject: string; error: string }[]; total_rows: number };
  assert.equal(sum1.rejected, 2, JSON.stringify(sum1.problems));
  assert.ok(sum1.problems.some((p) => /JSON/.test(p.error) && p.subject === 'corral.events.evil.exec' && p.seq > 0));
  assert.ok(sum1.problems.some((p) => /session must match/.test(p.error)));
  assert.equal(sum1.inserted, sum1.received - 2);

  // every local event of both sessions is in the central store, with its machine
  const store = await PgEventStore.open(pg.url);
  try {
    const odd = await store.query({ session: 'odd-1' });
    assert.equal(odd.length, 1);
    assert.deepEqual(odd[0]!.payload.argv, ['a\uFFFDb', '\uFFFD']);
    assert.equal(odd[0]!.tool_call, 'tc\uFFFD');
    for (const [d, s, host] of [[m1, s1.session, 'm1'], [m2, s2.session, 'm2']] as const) {
      const local = d.runtime.store.query({ session: s }).map((e) => e.id).sort();
      const central = (await store.query({ session: s })).map((e) => { assert.equal(e.host, host); return e.id; }).sort();
      assert.ok(local.length > 3);
      assert.deepEqual(central, local, `session ${s} of ${host}`);
      // Streamed in pages of 3 (as corral report reads a session): the same events in the same order.
      const paged: string[] = [];
      for await (const e of store.iterate({ session: s }, 3)) { assert.equal(e.host, host); paged.push(e.id); }
      assert.deepEqual(paged, (await store.query({ session: s })).map((e) => e.id));
    }
  } finally { await store.close(); }

  // the fleet query: the tunnel alert, with its machine and tool call
  const q = await corral(['events', '--postgres', pg.url, '--category', 'tunnel', '--json']);
  assert.equal(q.code, 0, q.stderr);
  const alerts = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; episode: string; tool_call: string; session: string });
  assert.ok(alerts.length >= 1);
  assert.ok(alerts.every((a) => a.host === 'm1' && a.episode === 'ep-fleet-1' && a.tool_call === 'tc-ssh' && a.session === s1.session), q.stdout);
  const table = await corral(['events', '--postgres', pg.url, '--host', 'm2', '--episode', 'ep-fleet-2', '--kind', 'toolcall.start']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^HOST\s+TIME/m);
  assert.match(table.stdout, /^m2\s.*ep-fleet-2.*tc-ok/m);

  // the fleet's sessions, with their machine; filtered by machine or episode
  const ss = await corral(['events', '--postgres', pg.url, '--sessions', '--json']);
  assert.equal(ss.code, 0, ss.stderr);
  const sessions = ss.stdout.trim().split('\n').map((l) => JSON.parse(l) as { session: string; host: string; episode?: string; alerts: number });
  assert.ok(sessions.some((x) => x.session === s1.session && x.host === 'm1' && x.episode === 'ep-fleet-1' && x.alerts >= 1), ss.stdout);
  assert.ok(sessions.some((x) => x.session === s2.session && x.host === 'm2'), ss.stdout);
  const only2 = await corral(['events', '--postgres', pg.url, '--sessions', '--host', 'm2']);
  assert.equal(only2.code, 0, only2.stderr);
  assert.match(only2.stdout, /^HOST\s+SESSION/m);
  assert.ok(only2.stdout.includes(s2.session) && !only2.stdout.includes(s1.session), only2.stdout);
  const byEp = await corral(['events', '--postgres', pg.url, '--sessions', '--episode', 'ep-fleet-1', '--json']);
  assert.deepEqual(byEp.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { session: string }).session), [s1.session]);

  // the people's report of that episode, from the fleet store (same model as the local one)
  const rep = await corral(['report', '--postgres', pg.url, '--episode', 'ep-fleet-1', '--json']);
  assert.equal(rep.code, 3, rep.stderr);
  const report = JSON.parse(rep.stdout) as { session: string; verdict: string; calls: { tool_call: string; alerts: { category: string }[] }[] };
  assert.equal(report.session, s1.session);
  assert.equal(report.verdict, 'blocked');
  assert.ok(report.calls.some((c) => c.tool_call === 'tc-ssh' && c.alerts.some((a) => a.category === 'tunnel')), rep.stdout);

  // a second collector re-reading the whole stream stores nothing twice
  const c2 = await corral(['collect', '--nats', nats.url, '--postgres', pg.url, '--durable', 'second', '--until-idle', '2s', '--json']);
  assert.equal(c2.code, 0, c2.stderr);
  const sum2 = JSON.parse(c2.stdout) as { received: number; inserted: number; duplicates: number; total_rows: number };
  assert.equal(sum2.inserted, 0);
  assert.equal(sum2.duplicates, sum2.received - 2);
  assert.equal(sum2.total_rows, sum1.total_rows);
});

test('corral collect as a service rides out a NATS restart and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [MAIN, 'collect', '--nats', nats.url, '--postgres', pg.url, '--durable', 'service'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    await new Promise((r) => setTimeout(r, 1500));
    await nats.stop();
    await new Promise((r) => setTimeout(r, 2500));
    await nats.start();
    const r = await corral(['run', '--json', '--label', 'episode=ep-after-restart', '--', '/bin/true'], { CORRAL_SOCKET: m2.socketPath });
    assert.equal(r.code, 0, r.stderr);
    const session = (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { session: string }).session;
    await daemonRequest(m2.socketPath, 'GET', `/v1/sessions/${session}/report`);
    await drained(m2);
    const store = await PgEventStore.open(pg.url);
    try {
      const local = m2.runtime.store.query({ session }).length;
      let central = 0;
      for (let i = 0; i < 100 && central < local; i++) {
        central = (await store.query({ session })).length;
        if (central < local) await new Promise((res) => setTimeout(res, 200));
      }
      assert.equal(central, local, `the running collector stored the new session's events (stderr: ${stderr})`);
    } finally { await store.close(); }
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /corral collect: \d+ message\(s\) received/);
});

test('corral events --follow --nats shows the fleet live, filtered by machine, with the machine named', async () => {
  const child = spawn(process.execPath, [MAIN, 'events', '--follow', '--nats', nats.url, '--host', 'm1', '--episode', 'ep-live', '--json'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (c: Buffer) => { out += c; });
  child.stderr.on('data', (c: Buffer) => { err += c; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    await new Promise((r) => setTimeout(r, 1500)); // subscribed
    const [a, b] = await Promise.all([
      corral(['run', '--label', 'episode=ep-live', '--label', 'tool_call=live-1', '--', '/bin/true'], { CORRAL_SOCKET: m1.socketPath }),
      corral(['run', '--label', 'episode=ep-live', '--label', 'tool_call=live-2', '--', '/bin/true'], { CORRAL_SOCKET: m2.socketPath }),
    ]);
    assert.equal(a.code, 0, a.stderr); assert.equal(b.code, 0, b.stderr);
    for (let i = 0; i < 100 && !/"kind":"toolcall\.end"/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { host: string; episode: string; tool_call?: string; kind: string });
    assert.ok(lines.some((l) => l.kind === 'toolcall.start' && l.tool_call === 'live-1'), out);
    assert.ok(lines.every((l) => l.host === 'm1' && l.episode === 'ep-live'), out);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
});

test('corral dashboard --nats shows the whole fleet live, each row with its machine; messages that are not events are counted, never shown', async (t) => {
  const dash = await startDashboard(['--nats', nats.url]);
  try {
    const { url } = dash;
    const state = async (): Promise<{ hosts: string[]; rejected: number; daemon: string; sessions: { host: string; episode?: string }[]; events: { host: string }[] }> => {
      const r = await fetch(`${url}state`);
      return await r.json() as never;
    };
    for (let i = 0; i < 100 && (await state()).daemon !== 'connected'; i++) await new Promise((r) => setTimeout(r, 100));
    const [a, b] = await Promise.all([
      corral(['run', '--label', 'episode=ep-dash-fleet', '--', '/bin/true'], { CORRAL_SOCKET: m1.socketPath }),
      corral(['run', '--label', 'episode=ep-dash-fleet', '--', '/bin/true'], { CORRAL_SOCKET: m2.socketPath }),
    ]);
    assert.equal(a.code, 0, a.stderr); assert.equal(b.code, 0, b.stderr);
    const nc = await connect({ servers: nats.url });
    nc.publish('corral.events.evil.exec', new TextEncoder().encode('<script>not an event</script>'));
    await nc.drain();
    let s = await state();
    for (let i = 0; i < 100 && !(s.hosts.includes('m1') && s.hosts.includes('m2') && s.rejected >= 1); i++) { await new Promise((r) => setTimeout(r, 100)); s = await state(); }
    assert.deepEqual(s.hosts.filter((h) => h === 'm1' || h === 'm2'), ['m1', 'm2'], JSON.stringify(s.hosts));
    assert.ok(s.rejected >= 1, 'the hostile message is counted');
    const mine = s.sessions.filter((x) => x.episode === 'ep-dash-fleet');
    assert.deepEqual(mine.map((x) => x.host).sort(), ['m1', 'm2']);
    assert.ok(!JSON.stringify(s).includes('not an event'), 'never shown');

    const browser = await launchChromium(t);
    if (!browser) return;
    try {
      const p = await browser.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(url);
      await p.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length >= 2, undefined, { timeout: 10_000 });
      assert.equal(await p.textContent('#sessions thead th'), 'machine');
      const rows = await p.$$eval('#sessions tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      const eps = rows.filter((r) => r.includes('ep-dash-fleet')).map((r) => r[0]).sort();
      assert.deepEqual(eps, ['m1', 'm2'], JSON.stringify(rows));
      assert.ok(Number(await p.textContent('#c-hosts')) >= 2);
      assert.deepEqual(errors, []);
    } finally { await browser.close(); }
  } finally {
    assert.equal(await dash.stop(), 0, dash.stderr());
  }
});

test('the publisher drops (and counts) events NATS can never take instead of retrying them forever', async () => {
  const pub = new NatsEventPublisher(nats.url, { host: 'poison' });
  try {
    pub.publish({ id: 'p-1', ts: '1', kind: 'exec', session: 'sp', payload: {} });
    pub.publish({ id: 'p-big', ts: '2', kind: 'exec', session: 'sp', payload: { argv: ['x'.repeat(2 << 20)] } }); // over max_payload
    pub.publish({ id: 'p-bigint', ts: '3', kind: 'exec', session: 'sp', payload: { n: 1n } as unknown as Record<string, unknown> });
    pub.publish({ id: 'p-2', ts: '4', kind: 'exec', session: 'sp', payload: {} });
    for (let i = 0; i < 100 && pub.stats().queued > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const st = pub.stats();
    assert.equal(st.queued, 0, JSON.stringify(st));
    assert.equal(st.published, 2);
    assert.equal(st.rejected, 2);
  } finally { await pub.close(); }
});

test('corral collect and events --postgres: usage errors and an unreachable database are clear', async () => {
  const u = await corral(['collect', '--postgres', pg.url], { CORRAL_NATS: '' });
  assert.equal(u.code, 2);
  assert.match(u.stderr, /--nats nats:\/\/HOST:PORT .*is needed/);
  const h = await corral(['events', '--host', 'm1']);
  assert.equal(h.code, 2);
  assert.match(h.stderr, /--host filters the fleet: it needs --postgres URL or --follow --nats URL/);
  const n = await corral(['events', '--nats', nats.url]);
  assert.equal(n.code, 2);
  assert.match(n.stderr, /--nats follows the fleet live: it needs --follow/);
  const bad = await corral(['events', '--postgres', 'postgres://postgres:secret@127.0.0.1:1/none', '--json']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /PostgreSQL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
  assert.doesNotMatch(bad.stderr, /secret/);
});
