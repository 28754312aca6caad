// Why: a rebuild of the event index (`corral events --reindex`) removes writer entries whose process
// is gone. It judged that from /proc/PID/stat, and a read that failed only because the rebuilding
// process had run out of descriptors counted as "gone": the live writer's entry was removed and the
// index moved away under it. This runs the check with every descriptor used up (prlimit) and proves
// a live writer is still live and a dead one still dead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processStartTime } from '../src/util/pid-alive.js';

const MODULE = fileURLToPath(new URL('../src/store/writer-registry.js', import.meta.url));

test('out of descriptors, a live writer entry is kept and a dead one is still stale', () => {
  const gone = spawnSync('true').pid!;
  const me = `${process.pid}-${processStartTime(process.pid)}-1`;
  const script = `
    const { liveOwner } = await import(${JSON.stringify(MODULE)});
    const { openSync } = await import('node:fs');
    const held = [];
    try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    let procRead = 'ok';
    try { (await import('node:fs')).readFileSync('/proc/self/stat'); } catch (e) { procRead = e.code; }
    console.log(JSON.stringify({ procRead, live: liveOwner(${JSON.stringify(me)}) ?? null, dead: liveOwner('${gone}-12345-1') ?? null, reused: liveOwner('${process.pid}-1-1') ?? null }));
  `;
  const r = spawnSync('prlimit', ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { procRead: string; live: { pid: number } | null; dead: unknown; reused: unknown };
  assert.equal(out.procRead, 'EMFILE', 'the /proc read itself failed');
  assert.equal(out.live?.pid, process.pid, 'a live writer whose /proc entry cannot be read now is kept');
  assert.equal(out.dead, null, 'a dead pid is still stale');
  // (a reused pid cannot be told apart while /proc is unreadable: kept, which errs on the safe side — the rebuild refuses)
  assert.equal((out.reused as { pid: number } | null)?.pid, process.pid);
});

test('with descriptors free, a reused pid (start time differs) is stale', async () => {
  const { liveOwner } = await import('../src/store/writer-registry.js');
  assert.equal(liveOwner(`${process.pid}-1-1`), undefined);
  assert.equal(liveOwner(`${process.pid}-${processStartTime(process.pid)}-1`)?.pid, process.pid);
});
