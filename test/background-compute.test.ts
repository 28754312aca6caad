// Why: the cross-call background sum decides which processes count as a miner's share the way the per-process
// rule does (an expected name running a system program passes; a copy in the workspace, a deleted file or the
// loader does not), and sends a sample only when two or more ended calls contribute. The test is the rules'
// own (macros expected_compute_proc, young_system_program), so a user's override reaches it. No sandbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backgroundCompute, expectationsOf, type BackgroundProc, type ComputeExpectations } from '../src/session/background-compute.js';
import { loadBuiltinRules, loadRuleSources } from '../src/detect/engine/ruleset.js';

const inWorkspace = (exe: string): boolean => exe.startsWith('/workspace/');
const e = expectationsOf(loadBuiltinRules(), inWorkspace);
const expectedCompute = (x: BackgroundProc, ex: ComputeExpectations): boolean => ex.expected(x);
const p = (call: string, pid: number, comm: string, cpuPct: number, exe?: string, young?: true): BackgroundProc =>
  ({ call, pid, comm, cpuPct, ...(exe !== undefined ? { exe } : {}), ...(young ? { young } : {}) });

test('expected compute: an expected name on a system program, or a fresh system tool; never a workspace copy, a deleted file or the loader', () => {
  assert.equal(expectedCompute(p('a', 1, 'python3', 90, '/usr/bin/python3.11'), e), true);
  assert.equal(expectedCompute(p('a', 1, 'python3', 90), e), true, 'no exe: judged by comm, as the rule does');
  assert.equal(expectedCompute(p('a', 1, 'pytest', 90, '/workspace/pytest'), e), false);
  assert.equal(expectedCompute(p('a', 1, 'python3', 90, '/usr/bin/python3.11 (deleted)'), e), false);
  assert.equal(expectedCompute(p('a', 1, 'python3', 90, '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), e), false);
  assert.equal(expectedCompute(p('a', 1, 'kworkerd', 90, '/usr/bin/yes'), e), false, 'a system program under an unexpected name');
  assert.equal(expectedCompute(p('a', 1, 'grep', 100, '/usr/bin/grep', true), e), true, 'a fresh system tool');
  assert.equal(expectedCompute(p('a', 1, 'w', 100, '/workspace/.w', true), e), false);
});

test('background sum: only across two or more calls, expected compute left out, the largest share first', () => {
  assert.equal(backgroundCompute([p('c2', 10, 'w1', 40, '/workspace/w1'), p('c2', 11, 'w2', 40, '/workspace/w2')], e), undefined, 'one call alone is the other rules\' to judge');
  assert.equal(backgroundCompute([p('c2', 10, 'w1', 40, '/workspace/w1'), p('c3', 12, 'python3', 90, '/usr/bin/python3.11')], e), undefined, 'an expected process is no contributor');
  const got = backgroundCompute([
    p('c2', 10, 'w1', 37.2, '/workspace/w1'), p('c3', 12, 'w2', 30, '/tmp/w2'), p('c3', 13, 'w3', 9.9, '/tmp/w3'),
    p('c4', 14, 'python3', 95, '/usr/bin/python3.11'), p('c5', 15, 'idle', 0, '/workspace/idle'),
  ], e)!;
  assert.deepEqual(got.calls, [{ call: 'c3', cpuPct: 39.9 }, { call: 'c2', cpuPct: 37.2 }]);
  assert.equal(got.cpuPct, 77.1);
  assert.equal(got.top.pid, 10);
});

test('an override of the rules\' macros reaches the background sum (it used to mirror them in code)', () => {
  const toolchain = p('a', 1, 'python3', 90, '/toolchains/bin/python3');
  assert.equal(expectedCompute(toolchain, e), false, 'outside the system directories: unexpected');
  const user = loadRuleSources([{ file: 'user.yaml', text: '- macro: system_executable\n  override: append\n  condition: or proc.exe startswith "/toolchains/"\n' }], { builtins: true });
  assert.equal(expectedCompute(toolchain, expectationsOf(user, inWorkspace)), true, 'a read-only toolchain mount the user declared');
  const listed = loadRuleSources([{ file: 'user.yaml', text: '- list: expected_compute_processes\n  override: append\n  items: [ffmpeg]\n' }], { builtins: true });
  assert.equal(expectedCompute(p('a', 1, 'ffmpeg', 90, '/usr/bin/ffmpeg'), expectationsOf(listed, inWorkspace)), true);
  assert.equal(expectedCompute(p('a', 1, 'ffmpeg', 90, '/usr/bin/ffmpeg'), e), false);
});
