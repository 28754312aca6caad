// Why: a tool call the library is given is checked before anything starts (session.ts toolCallSpecProblem): the
// daemon's schema checks the same over HTTP, but a trainer using the library directly gets the same answers. A NUL
// in a command or an argv element was cut there by execve (`echo a\0b` ran `echo a`: a user review, session 41).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toolCallSpecProblem } from '../src/session/session.js';

test('a tool call with a NUL in its command or argv is refused, naming which; ordinary ones pass', () => {
  assert.match(toolCallSpecProblem({ command: 'echo a\0b' }) ?? '', /^command contains a NUL character/);
  assert.match(toolCallSpecProblem({ command: '', argv: ['echo', 'a\0b'] }) ?? '', /^an argv element contains a NUL character/);
  assert.equal(toolCallSpecProblem({ command: 'echo ok', stdin: 'a\0b' }), undefined, 'stdin may hold NULs');
  assert.equal(toolCallSpecProblem({ command: '', argv: ['echo', 'ok'] }), undefined);
  assert.match(toolCallSpecProblem({ command: 'x', step: -1 }) ?? '', /step must be a whole number/);
});
