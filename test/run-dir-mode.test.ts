// Why: on a fresh machine a sensor started before any runtime made /run/corral 0700 (its type cache's mode,
// applied to every directory a recursive mkdir creates), and from then on no sandbox could start: the launcher
// runs as a dropped uid and could not reach the session's files under it. The runtime now gives its run
// directory search permission whatever made it, and the cache makes it searchable in the first place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRunDir } from '../src/session/run-dir.js';
import { cachedDefinitions } from '../src/sensors/sensor-types-cache.js';
import { startFixture, labPolicy } from './helpers/lab-fixture.js';

const mode = (p: string): number => statSync(p).mode & 0o7777;

function withBase<T>(fn: (base: string) => T | Promise<T>): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), 'corral-rundir-'));
  chmodSync(base, 0o755);
  return Promise.resolve(fn(base)).finally(() => rmSync(base, { recursive: true, force: true }));
}

test('the run directory: made 0755, a private one given search permission only, a searchable one left as it is', () => withBase((base) => {
  const fresh = join(base, 'a', 'run');
  assert.deepEqual(ensureRunDir(fresh), { created: true, madeSearchable: false });
  assert.equal(mode(fresh), 0o755);
  const tight = join(base, 'tight');
  mkdirSync(tight, { mode: 0o700 });
  chmodSync(tight, 0o700);
  assert.deepEqual(ensureRunDir(tight), { created: false, madeSearchable: true });
  assert.equal(mode(tight), 0o711, 'search, not read');
  assert.deepEqual(ensureRunDir(tight), { created: false, madeSearchable: false });
  assert.equal(mode(tight), 0o711);
}));

test('the sensor type cache, first to make the run directory, leaves it searchable (its own directory stays private)', () => withBase((base) => {
  const runDir = join(base, 'run');
  cachedDefinitions(runDir, { btfPath: '/sys/kernel/btf/vmlinux', tracepoints: ['sched:sched_process_exec'], arch: process.arch }, () => 'struct a { int x; };\n');
  assert.equal(mode(runDir), 0o755);
}));

test('a sandbox starts and runs under a run directory something else made 0700 first', () => withBase(async (base) => {
  const runDir = join(base, 'run');
  mkdirSync(runDir, { mode: 0o700 });
  chmodSync(runDir, 0o700);
  const fx = await startFixture([], 'labrd', { runDir, sensor: false });
  try {
    const s = await fx.rt.createSession({ policy: labPolicy() });
    try {
      const r = await s.exec({ command: 'echo inside', toolCallId: 'c1', step: 1 });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'inside');
    } finally { await s.close(); }
  } finally { await fx.close(); }
}));
