// Why: docs/policy.md said the default filesystem.env_allow lets PATH and HOME pass from the parent,
// but Corral sets both itself for every tool call. Defect it stops: the doc and the code disagreeing
// about what reaches a sandbox's environment (a policy author trusting env_allow for PATH or HOME,
// or removing them to keep the parent's out, to no effect). Pins the function and the doc together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TOOL_PATH, toolEnv } from '../src/session/tool-env.js';
import { DEFAULT_ENV_ALLOW } from '../src/policy/schema.js';

const parent = { PATH: '/home/me/bin', HOME: '/home/me', TERM: 'xterm', SECRET_TOKEN: 's3cret', TMPDIR: '/home/me/tmp' };

test('a tool call gets the env_allow variables, with HOME, PATH and TMPDIR always Corral\'s', () => {
  const env = toolEnv({ parent, envAllow: DEFAULT_ENV_ALLOW, workspacePath: '/testbed' });
  assert.deepEqual(env, { TERM: 'xterm', HOME: '/testbed', PATH: TOOL_PATH, TMPDIR: '/tmp', LANG: 'C.UTF-8' });
  const without = toolEnv({ parent, envAllow: ['TERM'], workspacePath: '/testbed' });
  assert.deepEqual(without, env, 'PATH and HOME in env_allow change nothing');
  assert.equal(toolEnv({ parent: { LANG: 'de_DE.UTF-8' }, envAllow: ['LANG'], workspacePath: '/w' }).LANG, 'de_DE.UTF-8', 'a passed LANG is kept');
  const gpu = toolEnv({ parent, envAllow: [], workspacePath: '/w', gpuEnv: { CUDA_VISIBLE_DEVICES: '0', NVIDIA_VISIBLE_DEVICES: '0' } });
  assert.equal(gpu.CUDA_VISIBLE_DEVICES, '0');
});

test('docs/policy.md says what toolEnv does: PATH and HOME are Corral\'s, with the PATH it sets', () => {
  const doc = readFileSync('docs/policy.md', 'utf8');
  assert.doesNotMatch(doc, /env_allow: \[[^\]]*\]\s*# only these variables pass from the parent/, 'the old claim is gone');
  assert.ok(doc.includes(`\`PATH\` to \`${TOOL_PATH}\``), 'the doc names the PATH every call gets');
  assert.match(doc, /`HOME` to the workspace path/);
  assert.match(doc, /`TMPDIR` to `\/tmp`/);
  assert.match(doc, /`LANG` is `C\.UTF-8` unless/);
});
