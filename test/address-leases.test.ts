// Why: sandbox address leases are shared by every Corral process on a host. A lease must appear
// whole or not at all (another process's orphan sweep reads the directory at any moment), a file
// being written must never be swept as junk, and what a crashed process left must be found.
// Real files and real processes (a child that writes and dies); no sandboxes needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLease, orphanedLeases, releaseLease, type LeaseConfig } from '../src/sandbox/address-leases.js';

function withDir(fn: (cfg: LeaseConfig) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'corral-leases-'));
  try { fn({ dir, base: '10.231.0.0', size: 8 }); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('a lease appears whole under its final name, no temporary file is left, and every index is handed out once', () => withDir((cfg) => {
  const got = Array.from({ length: cfg.size }, () => acquireLease(cfg));
  assert.deepEqual(got.map((l) => l.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(readdirSync(cfg.dir).sort(), got.map((l) => `${l.index}.json`).sort());
  for (const l of got) assert.deepEqual(JSON.parse(readFileSync(join(cfg.dir, `${l.index}.json`), 'utf8')), l);
  assert.throws(() => acquireLease(cfg), /no free sandbox address lease/);
  releaseLease(got[3]!, cfg);
  assert.equal(acquireLease(cfg).index, got[3]!.index);
  assert.deepEqual(orphanedLeases(cfg), [], 'this process is alive: nothing is orphaned');
}));

test('the orphan sweep leaves a lease being written alone, removes old junk and a dead writer\'s temporary file, and finds a dead owner\'s lease', () => withDir((cfg) => {
  // a lease an older Corral is writing right now (created empty, written after)
  writeFileSync(join(cfg.dir, '5.json'), '');
  // junk that has been unreadable for long
  writeFileSync(join(cfg.dir, '6.json'), '{"trunc');
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(join(cfg.dir, '6.json'), old, old);
  // a dead process's lease and its leftover temporary file
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  assert.ok(deadPid > 0);
  writeFileSync(join(cfg.dir, '7.json'), JSON.stringify({ index: 7, ownerPid: deadPid, id: '0007', netns: 'corral-0007', hostIf: 'crl0007h', hostIp: '10.231.0.29', sandboxIp: '10.231.0.30' }));
  writeFileSync(join(cfg.dir, `.2.${deadPid}.abcd.tmp`), '{}');
  // a live writer's temporary file
  writeFileSync(join(cfg.dir, `.3.${process.pid}.beef.tmp`), '{}');
  const orphans = orphanedLeases(cfg);
  assert.deepEqual(orphans.map((l) => l.index), [7]);
  assert.deepEqual(readdirSync(cfg.dir).sort(), [`.3.${process.pid}.beef.tmp`, '5.json', '7.json'].sort());
}));
