// `node dist/bench/fleet-throughput.js [--events N]` (inside the lab: npm run bench -- fleet-throughput):
// how fast the fleet pipeline moves events — the daemon's publisher into NATS JetStream, then
// `corral collect`'s consumer into PostgreSQL — on real nats-server and PostgreSQL on loopback,
// against the rate one machine's Corral produces them. The events are realistic shapes (exec
// with argv, connect, alert) with unique ids. Prints events/s per stage and the ratio to Falco's
// reported ~1M events/s per machine for scale (Falco does not ship events itself).
import { parseArgs } from 'node:util';
import type { CorralEvent } from '../src/events/event.js';
import { collectEvents } from '../src/store/collector.js';
import { NatsEventPublisher } from '../src/store/nats-publisher.js';
import { PgEventStore } from '../src/store/pg-store.js';
import { startNats, startPostgres } from '../test/helpers/fleet-services.js';

const { values } = parseArgs({ options: { events: { type: 'string' } } });
const N = Number(values.events ?? 100_000);

function event(i: number): CorralEvent {
  const base = { id: `bench-${i}`, ts: String(1_764_000_000_000_000_000n + BigInt(i) * 1000n), session: `s${i % 64}`, run: 'bench', episode: `ep-${i % 64}`, step: 1 + (i % 20), tool_call: `tc-${i % 1280}`, pid: 1000 + (i % 5000) };
  if (i % 100 === 0) return { ...base, kind: 'alert', payload: { rule: 'gateway.tunnel', category: 'tunnel', severity: 'high', message: 'SSH to 203.0.113.10:22 blocked', attack: ['T1572'] } };
  if (i % 3 === 0) return { ...base, kind: 'connect', payload: { 'network.peer.address': '198.51.100.10', 'network.peer.port': 443, decision: 'allow', rule: 'allow[0]:registry.test' } };
  return { ...base, kind: 'exec', payload: { argv: ['python3', '-c', `print(${i})`], comm: 'python3', ppid: 999 } };
}

const nats = await startNats();
const pg = await startPostgres();
try {
  const pub = new NatsEventPublisher(nats.url, { host: 'bench-node', maxQueue: N + 1 });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) pub.publish(event(i));
  for (;;) {
    const s = pub.stats();
    if (s.published >= N) break;
    if (performance.now() - t0 > 300_000) throw new Error(`publisher stuck: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const pubMs = performance.now() - t0;
  await pub.close();
  const store = await PgEventStore.open(pg.url);
  const t1 = performance.now();
  let shown = 0;
  const stats = await collectEvents({ natsUrl: nats.url, store, untilIdleMs: 1000, onProgress: (s) => { if (s.received - shown >= 20_000) { shown = s.received; process.stderr.write(`  collected ${s.received}/${N}\n`); } } });
  const colMs = performance.now() - t1 - 1000; // minus the idle second that ends it
  const rows = await store.count();
  await store.close();
  if (stats.inserted !== N || rows !== N) throw new Error(`expected ${N} rows, inserted ${stats.inserted}, table ${rows}`);
  const rate = (ms: number) => Math.round(N / (ms / 1000));
  console.log(`fleet pipeline, ${N.toLocaleString('en-US')} events (2 cores; nats-server, PostgreSQL and Corral on one machine)`);
  console.log(`  stage                                   events/s   vs Falco's ~1M events/s per machine`);
  console.log(`  publish (daemon -> JetStream, acked)    ${String(rate(pubMs)).padStart(8)}   ${(rate(pubMs) / 1e6).toFixed(2)}x`);
  console.log(`  collect (JetStream -> PostgreSQL)       ${String(rate(colMs)).padStart(8)}   ${(rate(colMs) / 1e6).toFixed(2)}x`);
} finally {
  await nats.remove();
  await pg.stop();
}
