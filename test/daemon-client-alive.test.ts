// Why: the daemon closes a session when the process that opened it has exited. It judged that by
// reading /proc/PID/stat, and a read that failed because the daemon had run out of descriptors
// (EMFILE, a flood of connections) counted as "exited": every live client's sessions were closed.
// This runs the check in a child whose descriptors are all used up (prlimit) and proves a live
// client stays alive and a gone one is still seen as gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../src/server/client-alive.js', import.meta.url));

test('out of descriptors, a live client is still alive and a gone one is gone', () => {
  const gone = spawnSync('true').pid!;
  const script = `
    const { clientOf, clientAlive, readStartTime } = await import(${JSON.stringify(MODULE)});
    const { openSync } = await import('node:fs');
    const live = clientOf({ pid: process.ppid, uid: 0 });
    const dead = { pid: ${gone}, uid: 0 };
    const held = [];
    try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    console.log(JSON.stringify({ read: readStartTime(process.ppid), live: clientAlive(live), dead: clientAlive(dead), started: live.start !== undefined }));
  `;
  const r = spawnSync('prlimit', ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { read: string; live: boolean; dead: boolean; started: boolean };
  assert.equal(out.started, true, 'the start time was read while descriptors were free');
  assert.equal(out.read, 'unknown', 'the /proc read itself failed (EMFILE)');
  assert.equal(out.live, true, 'a client whose /proc entry cannot be read now is not taken for dead');
  assert.equal(out.dead, false);
});
