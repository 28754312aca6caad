// execFile when the process is out of descriptors: the spawn fails at once (EMFILE) and must reject,
// not end the process (a review, session 32: a sandboxed flood of connections crashed `corral serve`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const execFileModule = fileURLToPath(new URL('../src/util/exec-file.js', import.meta.url));

test('execFile rejects with EMFILE when no descriptor is left, and the process lives on', () => {
  const script = `
    import { openSync } from 'node:fs';
    const { execFile } = await import(${JSON.stringify(execFileModule)});
    const fds = [];
    try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    try { await execFile(['true']); console.log('resolved'); } catch (e) { console.log('rejected', e.code); }
    console.log('alive');`;
  const r = spawnSync('prlimit', ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^rejected EMFILE\nalive\n$/);
});
