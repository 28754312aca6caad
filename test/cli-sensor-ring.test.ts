// Why: proves `--sensor-ring SIZE` (corral serve, corral replay) reaches the kernel sensor: the ring
// decides whether a burst is recorded or lost, and an operator raises it from the command line. The
// flag's arithmetic is checked on its own; then a real `corral serve` with a real bpftrace is started
// and bpftrace's own environment is read from /proc. Bad sizes are usage errors naming the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sensorRingPages, sensorRuntimeOptions } from '../src/cli/sensor-ring-flag.js';
import { UsageError } from '../src/cli/io.js';
import { BpftraceSensor } from '../src/sensors/bpftrace-sensor.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

test('--sensor-ring SIZE: total over the CPUs, rounded down to a power of two pages per CPU; bad sizes name the flag', () => {
  assert.equal(sensorRingPages(undefined, 2), undefined, 'no flag: the default');
  assert.equal(sensorRingPages('8MiB', 2), 1024);
  assert.equal(sensorRingPages('12MiB', 2), 1024, '1536 pages per CPU round down to 1024');
  assert.equal(sensorRingPages('256MiB', 16), 4096);
  assert.equal(sensorRingPages('8KiB', 2), 1, 'one page per CPU is the least');
  assert.equal(sensorRingPages('2GiB', 2), 262_144, '1 GiB per CPU, the largest ring the kernel maps');
  assert.equal(sensorRingPages('4GiB', 4), 262_144);
  for (const [v, msg] of [['4KiB', /at least one 4KiB page per CPU/], ['5GiB', /at most 4GiB/], ['4GiB', /at most 1GiB per CPU \(2GiB on this machine\)/], ['lots', /--sensor-ring: expected a size/], ['0', /positive/]] as const) {
    assert.throws(() => sensorRingPages(v, 2), (e: unknown) => e instanceof UsageError && msg.test(e.message) && e.message.startsWith('--sensor-ring'), v);
  }
  // sizing the ring requires the sensor (a ring the kernel cannot map stops the command); with --no-sensor it is a usage error
  assert.deepEqual(sensorRuntimeOptions({}, 2), { sensor: 'auto' });
  assert.deepEqual(sensorRuntimeOptions({ 'no-sensor': true }, 2), { sensor: false });
  assert.deepEqual(sensorRuntimeOptions({ 'sensor-ring': '8MiB' }, 2), { sensor: true, perfRbPages: 1024 });
  assert.throws(() => sensorRuntimeOptions({ 'no-sensor': true, 'sensor-ring': '8MiB' }, 2), (e: unknown) => e instanceof UsageError && /cannot go with --no-sensor/.test(e.message));
  for (const cmd of ['serve', 'replay']) {
    const r = spawnSync(process.execPath, [MAIN, cmd, '--sensor-ring', 'lots', '--json', ...(cmd === 'replay' ? ['x.jsonl'] : [])], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${cmd}: ${r.stderr}`);
    assert.match(JSON.parse(r.stderr.trim().split('\n').at(-1)!).error.message as string, /^--sensor-ring: expected a size/);
    const both = spawnSync(process.execPath, [MAIN, cmd, '--no-sensor', '--sensor-ring', '8MiB', '--json', ...(cmd === 'replay' ? ['x.jsonl'] : [])], { encoding: 'utf8' });
    assert.equal(both.status, 2, `${cmd}: ${both.stderr}`);
    assert.match(both.stderr, /cannot go with --no-sensor/);
  }
});

/** The bpftrace processes whose parent is `ppid`, with their environment. */
function bpftraceChildren(ppid: number): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || !stat.includes('(bpftrace)')) continue;
      out.push(new Map(readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

test('corral serve --sensor-ring 8MiB runs bpftrace with that ring and says so in its ready line', { skip: BpftraceSensor.available().ok ? false : BpftraceSensor.available().why }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ring-'));
  const serve = spawn(process.execPath, [MAIN, 'serve', '--socket', join(dir, 's.sock'), '--home', join(dir, 'home'), '--pool', '0', '--sensor-ring', '8MiB', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  serve.stdout.on('data', (c: Buffer) => { out += c; });
  serve.stderr.on('data', (c: Buffer) => { err += c; });
  try {
    for (const t0 = Date.now(); !out.includes('\n'); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() - t0 > 60_000 || serve.exitCode !== null) throw new Error(`no ready line; stdout=${out} stderr=${err}`);
    }
    const ready = JSON.parse(out.split('\n')[0]!) as { ready: boolean; sensor: string; sensor_ring?: { pages_per_cpu: number; bytes: number } };
    assert.equal(ready.sensor, 'ebpf', err);
    const per = sensorRingPages('8MiB')!;
    assert.deepEqual(ready.sensor_ring, { pages_per_cpu: per, bytes: per * 4096 * cpus().length });
    const envs = bpftraceChildren(serve.pid!);
    assert.equal(envs.length, 1, 'one bpftrace, Corral\'s child');
    assert.equal(envs[0]!.get('BPFTRACE_PERF_RB_PAGES'), String(per));
  } finally {
    const code = await new Promise<number | null>((resolve) => { serve.on('close', resolve); serve.kill('SIGTERM'); });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, err);
  }
});
