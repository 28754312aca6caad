// Benchmark: what many sandboxes on one machine cost everything else. An RL rollout host runs
// hundreds of sandboxes at once; what Corral adds per sandbox to the host (nft rules every packet
// walks, rules every sandbox start rewrites) must not grow with their number. Measured with K idle
// sessions open against none, side by side: a loopback TCP round trip in the gateway's namespace
// (the host's own traffic, the gateway's relays included), session create + teardown, and a tool
// call making an HTTP request through the gateway. Then a burst of B sessions created at once,
// one call each (a rollout batch starting). Run inside the lab:
//   npm run bench -- sandbox-density            (K = 250, B = 100)
//   node dist/src/lab/lab-exec.js -- node dist/bench/sandbox-density.js --idle 250 --burst 100
// `--no-mount-template` starts sandboxes from the host's mount namespace, as before the template
// (src/sandbox/mount-template.ts), to measure what it buys.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { FarHosts } from '../src/lab/far-hosts.js';
import type { Session } from '../src/session/session.js';
import { median, percentile, nowMs, printTable, fmt } from './bench-util.js';

const { values: args } = parseArgs({ options: { idle: { type: 'string' }, burst: { type: 'string' }, n: { type: 'string' }, 'no-mount-template': { type: 'boolean' } } });
const IDLE = Number(args.idle ?? 250);
const BURST = Number(args.burst ?? 100);
const N = Number(args.n ?? 20);

/**
 * Median microseconds of a 1-byte TCP ping-pong over 127.0.0.1 in this namespace, in a child process (this
 * process runs the runtime and its sessions' timers: its event loop must not be what is measured).
 */
async function loopbackRoundTrip(rounds = 4000): Promise<number> {
  const script = `const net = require('node:net');
const server = net.createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); });
server.listen(0, '127.0.0.1', async () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  c.setNoDelay(true);
  await new Promise((r) => c.once('connect', r));
  const xs = [];
  for (let i = 0; i < ${rounds}; i++) {
    const t = process.hrtime.bigint();
    await new Promise((r) => { c.once('data', () => r()); c.write('x'); });
    xs.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  xs.sort((a, b) => a - b);
  console.log(xs[Math.floor(xs.length / 2)]);
  c.destroy(); server.close();
});`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`round-trip child failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

interface Row { rtt: number; life: number[]; call: number[] }

async function measure(rt: Runtime, policy: ReturnType<typeof loadPreset>): Promise<Row> {
  const rtt = await loopbackRoundTrip();
  const life: number[] = [];
  const call: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = nowMs();
    const s = await rt.createSession({ policy, episode: `m${i}` });
    await s.close();
    life.push(nowMs() - t);
    await new Promise((r) => setTimeout(r, 150));
  }
  const s = await rt.createSession({ policy, episode: 'calls' });
  for (let i = 0; i < N; i++) {
    const t = nowMs();
    const r = await s.exec({ command: 'exec 3<>/dev/tcp/registry.test/80 && printf "GET / HTTP/1.0\\r\\nHost: registry.test\\r\\n\\r\\n" >&3 && head -c 8 <&3', timeoutMs: 10_000 });
    if (!r.stdout.startsWith('HTTP/1.')) throw new Error(`the request through the gateway failed: ${r.stdout} ${r.stderr}`);
    call.push(nowMs() - t);
  }
  await s.close();
  return { rtt, life, call };
}

async function main(): Promise<void> {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-bench-density-'));
  const far = await FarHosts.start([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], { prefix: 'labdn' });
  const rt = await Runtime.start({ home, poolSize: 2, mountTemplate: !args['no-mount-template'] });
  const policy = loadPreset('lab-demo');
  const idle: Session[] = [];
  try {
    process.stderr.write('measuring with no other sandbox …\n');
    const empty = await measure(rt, policy);
    const lostEmpty = rt.sensor?.lost ?? 0;
    process.stderr.write(`opening ${IDLE} idle sessions …\n`);
    for (let i = 0; i < IDLE; i += 25) {
      idle.push(...await Promise.all(Array.from({ length: Math.min(25, IDLE - i) }, (_, k) => rt.createSession({ policy, episode: `idle${i + k}` }))));
      process.stderr.write(`  ${idle.length}/${IDLE}\n`);
    }
    process.stderr.write(`measuring beside ${IDLE} idle sandboxes …\n`);
    const lostBefore = rt.sensor?.lost ?? 0;
    const busy = await measure(rt, policy);
    const lostBusy = (rt.sensor?.lost ?? 0) - lostBefore;
    process.stderr.write('closing them …\n');
    await Promise.all(idle.splice(0).map((s) => s.close()));
    const ratio = (a: number, b: number): string => `${fmt(b / a, 2)}×`;
    printTable(`Sandbox density: ${IDLE} idle sandboxes open vs none (medians; N=${N}; ${rt.mountTemplate?.path() ? 'template mount namespace' : 'sandboxes start from the host\'s mount namespace'})`, [
      ['loopback TCP round trip in the gateway namespace (µs)', fmt(empty.rtt, 1), fmt(busy.rtt, 1), ratio(empty.rtt, busy.rtt)],
      ['session create + teardown (ms)', fmt(median(empty.life), 1), fmt(median(busy.life), 1), ratio(median(empty.life), median(busy.life))],
      ['  p99', fmt(percentile(empty.life, 99), 1), fmt(percentile(busy.life, 99), 1), ''],
      ['tool call making an HTTP request through the gateway (ms)', fmt(median(empty.call), 1), fmt(median(busy.call), 1), ratio(median(empty.call), median(busy.call))],
      ['kernel sensor records lost while measuring', String(lostEmpty), String(lostBusy), ''],
    ], ['measure', 'no other sandbox', `${IDLE} idle sandboxes`, 'ratio']);
    process.stderr.write(`a burst of ${BURST} sessions at once …\n`);
    const t = nowMs();
    const results = await Promise.all(Array.from({ length: BURST }, async (_, i) => {
      const s = await rt.createSession({ policy, episode: `burst${i}` });
      try { return (await s.exec({ command: 'true' })).exitCode; } finally { await s.close(); }
    }));
    const burstMs = nowMs() - t;
    if (results.some((c) => c !== 0)) throw new Error(`burst: ${results.filter((c) => c !== 0).length} calls failed`);
    printTable(`Burst: ${BURST} sessions created at once, one call each, closed`, [
      ['wall time (s)', fmt(burstMs / 1000, 1)], ['per session (ms)', fmt(burstMs / BURST, 1)],
      ['sensor records lost so far', String(rt.sensor?.lost ?? 'no sensor')],
    ], ['measure', 'value']);
  } finally {
    await Promise.allSettled(idle.map((s) => s.close()));
    await rt.close();
    await far.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
