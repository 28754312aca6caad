// Why: a session's close waits on the sensor's barrier (sync) and then stops listening; a record the kernel wrote
// before the barrier but bpftrace printed after it is lost for good. bpftrace drains one perf buffer per CPU, so a
// marker seen on one CPU says nothing of another CPU's backlog: CI lost 3 of 4,000 exec records of an exec flood
// that way. This floods execs from one CPU while syncing over and over, and checks that no record older than a
// barrier arrives after that barrier resolved — with the native per-CPU markers and with the exec chain they fall
// back to — and that a marker cannot be forged from outside Corral. Runs as root with bpftrace on two CPUs or more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BpftraceSensor, syncChain } from '../src/sensors/bpftrace-sensor.js';
import { floodWhileSyncing } from './helpers/sensor-flood.js';
import { allowedCpus, onlineCpus, parseCpuList } from '../src/sensors/cpu-list.js';
import { SYNC_PRCTL } from '../src/sensors/bpftrace-program.js';

const cpus = allowedCpus();
const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const skip = !avail.ok ? avail.why : cpus.length < 2 ? 'one CPU: nothing to race' : false;

test('a sync covers every CPU: no record older than a barrier arrives after it resolved, while another CPU floods (per-CPU markers, and the exec chain without them)', { skip }, async () => {
  for (const mode of ['markers', 'exec-chain'] as const) {
    if (mode === 'exec-chain') process.env.CORRAL_SYNC_EXEC_CHAIN = '1';
    const s = await BpftraceSensor.start({});
    try {
      const r = await floodWhileSyncing(s, mode === 'markers' ? 6 : 3);
      assert.equal(s.syncMode, mode);
      // (a quiet machine makes hundreds of barriers here; CI under load as few as 8)
      assert.ok(r.seen > 500 && r.syncs >= 3, `${mode}: ${r.seen} flood execs seen, ${r.syncs} syncs`);
      assert.equal(r.late, 0, `${mode}: ${r.late} of ${r.seen} records arrived after a barrier they were older than (by up to ${r.worstMs} ms)`);
    } finally { delete process.env.CORRAL_SYNC_EXEC_CHAIN; await s.stop(); }
  }
});

test('a Corral pinned to one CPU still puts a marker on every CPU: a flood on another CPU comes back before each barrier', { skip }, async () => {
  // (a daemon started with CPUAffinity= runs sandboxes that use every CPU: the markers follow the online CPUs, not Corral's affinity)
  const sensorUrl = new URL('../src/sensors/bpftrace-sensor.js', import.meta.url).href;
  const helperUrl = new URL('./helpers/sensor-flood.js', import.meta.url).href;
  const script = `const { BpftraceSensor } = await import(${JSON.stringify(sensorUrl)});
const { floodWhileSyncing } = await import(${JSON.stringify(helperUrl)});
const s = await BpftraceSensor.start({});
try { console.log(JSON.stringify({ ...(await floodWhileSyncing(s, 3)), mode: s.syncMode })); } finally { await s.stop(); }`;
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('taskset', ['-c', String(cpus[0]), process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d) => { o += String(d); });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`child exited ${code}: ${o}`))));
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { seen: number; late: number; syncs: number; worstMs: number; mode: string };
  assert.equal(r.mode, 'markers');
  // (one barrier at least, resolved while the flood ran: under CI load one took the whole 3 s)
  assert.ok(r.seen > 200 && r.syncs >= 1, JSON.stringify(r));
  assert.equal(r.late, 0, `${r.late} of ${r.seen} records arrived after a barrier they were older than (by up to ${r.worstMs} ms)`);
});

test('a barrier marker comes only from Corral\'s own process: another process\'s prctl with the marker option prints nothing', { skip }, async () => {
  const s = await BpftraceSensor.start({});
  try {
    await s.sync();
    const before = s.marksSeen;
    assert.equal(before, onlineCpus().length, 'one marker per online CPU for one sync');
    // (an agent — any process — calling prctl(SYNC_PRCTL, …) with a guessed token: the kernel side drops it)
    const forge = `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for i in range(200): libc.prctl(${SYNC_PRCTL}, 1, 2, 0, 0)`;
    await new Promise((r) => spawn('python3', ['-c', forge], { stdio: 'ignore' }).on('exit', r));
    await s.sync();
    assert.equal(s.marksSeen - before, onlineCpus().length, 'only the second sync\'s own markers');
  } finally { await s.stop(); }
});

test('the barrier marker: one taskset per CPU in a chain ending in the marker; the plain marker on one CPU or without taskset', () => {
  assert.deepEqual(syncChain([0, 1, 3], '/usr/bin/taskset', 'tok'), {
    file: '/usr/bin/taskset', args: ['-c', '0', '/usr/bin/taskset', '-c', '1', '/usr/bin/taskset', '-c', '3', '/bin/true', 'tok'], want: 4,
  });
  assert.deepEqual(syncChain([2], '/usr/bin/taskset', 'tok'), { file: '/bin/true', args: ['tok'], want: 1 });
  assert.deepEqual(syncChain([0, 1], undefined, 'tok'), { file: '/bin/true', args: ['tok'], want: 1 });
});

test('a CPU list is read as the kernel writes it; anything else is not one', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('5'), [5]);
  for (const bad of ['', 'x', '3-1', '0-', '1,,2']) assert.equal(parseCpuList(bad), undefined, bad);
  assert.ok(cpus.length >= 1 && cpus.every((c) => Number.isInteger(c)));
});
