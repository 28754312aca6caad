// Why: the sensor's kernel type definitions are now kept in Corral's run directory between starts
// (sensor-types-cache.ts). That file is compiled into the root sensor, so the tests check that it is
// used only when nobody else could have written it (group/world-writable, another owner, a link, an
// untrusted directory: each ignored, the definitions written from BTF instead), that a hit returns
// exactly what was stored, that the key separates different tracepoint sets, and, end to end with
// real bpftrace, that a second start uses the entry, and that an entry bpftrace refuses is dropped and
// the sensor still starts (the old way) and records execs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedDefinitions, typesCacheKey } from '../src/sensors/sensor-types-cache.js';
import { BpftraceSensor, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const root = process.getuid?.() === 0;
const avail = root ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const KEY = { btfPath: VMLINUX, tracepoints: ['sched:sched_process_exec', 'sock:inet_sock_set_state'], arch: process.arch };

function withRunDir(fn: (runDir: string) => void | Promise<void>): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'corral-typescache-'));
  chmodSync(base, 0o700);
  return Promise.resolve(fn(join(base, 'run'))).finally(() => rmSync(base, { recursive: true, force: true }));
}

/** cachedDefinitions with a writer that counts its calls. */
function lookup(runDir: string, key = KEY, text = 'struct a { int x; };\n'): { defs: string; from: string; writes: number; path?: string } {
  let writes = 0;
  const r = cachedDefinitions(runDir, key, () => { writes++; return text; });
  return { ...r, writes };
}

test('a second lookup returns the stored definitions without writing them again', { skip: existsSync(VMLINUX) ? false : 'no kernel BTF' }, () => withRunDir((runDir) => {
  const a = lookup(runDir);
  assert.deepEqual([a.from, a.writes], ['btf', 1]);
  const b = lookup(runDir, KEY, 'something else\n');
  assert.deepEqual([b.from, b.writes, b.defs], ['cache', 0, 'struct a { int x; };\n']);
  assert.equal(b.path, a.path);
  assert.equal(readFileSync(a.path!, 'utf8'), a.defs);
  // another tracepoint set is another entry
  const c = lookup(runDir, { ...KEY, tracepoints: ['sched:sched_process_exec'] }, 'other\n');
  assert.deepEqual([c.from, c.writes, c.defs], ['btf', 1, 'other\n']);
  assert.notEqual(c.path, a.path);
  // the tracepoints' order does not matter
  assert.equal(typesCacheKey({ ...KEY, tracepoints: [...KEY.tracepoints].reverse() }), typesCacheKey(KEY));
  // no temporary files left behind
  assert.deepEqual(readdirSync(join(runDir, 'sensor-types')).filter((f) => !f.endsWith('.h')), []);
}));

test('an entry others could have written is ignored, and the definitions are written from BTF', { skip: !existsSync(VMLINUX) ? 'no kernel BTF' : !root ? 'needs root (chown)' : false }, () => withRunDir((runDir) => {
  const { path } = lookup(runDir);
  const planted = 'struct task_struct { int planted; };\n';
  const plant = (how: () => void): void => { rmSync(path!, { force: true }); how(); };
  const cases: [string, () => void][] = [
    ['group-writable', () => { writeFileSync(path!, planted); chmodSync(path!, 0o620); }],
    ['world-writable', () => { writeFileSync(path!, planted); chmodSync(path!, 0o666); }],
    ['owned by nobody', () => { writeFileSync(path!, planted); chmodSync(path!, 0o600); chownSync(path!, 65534, 65534); }],
    ['a symbolic link', () => { const t = join(runDir, 'elsewhere.h'); writeFileSync(t, planted, { mode: 0o600 }); symlinkSync(t, path!); }],
    ['empty', () => writeFileSync(path!, '', { mode: 0o600 })],
  ];
  for (const [what, how] of cases) {
    plant(how);
    const r = lookup(runDir);
    assert.equal(r.writes, 1, `${what}: written from BTF`);
    assert.notEqual(r.defs, planted, `${what}: the planted text is not used`);
  }
  // the cache directory itself writable by others: neither read nor written
  rmSync(path!, { force: true });
  writeFileSync(path!, planted, { mode: 0o600 });
  chmodSync(join(runDir, 'sensor-types'), 0o777);
  const r = lookup(runDir);
  assert.deepEqual([r.writes, r.from], [1, 'btf']);
  assert.equal(readFileSync(path!, 'utf8'), planted, 'nothing stored into an untrusted directory');
  // and so is an untrusted run directory
  chmodSync(join(runDir, 'sensor-types'), 0o700);
  chmodSync(runDir, 0o777);
  assert.equal(lookup(runDir).writes, 1);
}));

test('a writer that throws stores nothing; no run directory means no cache', { skip: existsSync(VMLINUX) ? false : 'no kernel BTF' }, () => withRunDir((runDir) => {
  assert.throws(() => cachedDefinitions(runDir, KEY, () => { throw new Error('refused: a bitfield'); }), /a bitfield/);
  assert.deepEqual(existsSync(join(runDir, 'sensor-types')) ? readdirSync(join(runDir, 'sensor-types')) : [], []);
  const a = cachedDefinitions(undefined, KEY, () => 'x\n');
  assert.deepEqual([a.from, a.path], ['btf', undefined]);
}));

test('the sensor reuses its definitions at the next start; one bpftrace refuses is dropped and the sensor still records', { skip: avail.ok ? false : avail.why }, () => withRunDir(async (runDir) => {
  mkdirSync(runDir, { mode: 0o700 });
  const first = await BpftraceSensor.start({ runDir });
  try { assert.deepEqual(first.kernelTypes, { from: 'corral', cached: false }); } finally { await first.stop(); }
  const entries = readdirSync(join(runDir, 'sensor-types'));
  assert.equal(entries.length, 1);
  const path = join(runDir, 'sensor-types', entries[0]!);
  assert.match(readFileSync(path, 'utf8'), /struct task_struct \{/);
  const second = await BpftraceSensor.start({ runDir });
  try { assert.deepEqual(second.kernelTypes, { from: 'corral', cached: true }); } finally { await second.stop(); }
  // an entry bpftrace cannot compile (a Corral bug kept across an upgrade, a damaged file)
  writeFileSync(path, 'struct task_struct { int corral_broken; };\n', { mode: 0o600 });
  const s = await BpftraceSensor.start({ runDir });
  const seen: string[] = [];
  s.on('record', (r: SensorRecord) => { if (r.kind === 'exec') seen.push(r.argv.join(' ')); });
  try {
    assert.equal(s.kernelTypes.from, 'bpftrace');
    assert.match(s.kernelTypes.why!, /^bpftrace refused Corral's kernel type definitions/);
    assert.equal(existsSync(path), false, 'the refused entry is dropped');
    const mark = `corral-typescache-${process.pid}`;
    await new Promise((r) => spawn('/bin/echo', [mark], { stdio: 'ignore' }).on('exit', r));
    for (const t0 = Date.now(); !seen.includes(`/bin/echo ${mark}`) && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.includes(`/bin/echo ${mark}`), 'the fallback sensor records execs');
  } finally { await s.stop(); }
  const again = await BpftraceSensor.start({ runDir });
  try { assert.deepEqual(again.kernelTypes, { from: 'corral', cached: false }); } finally { await again.stop(); }
}));
