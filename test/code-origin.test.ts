// Why: the co-culprit bookkeeping (session/code-origin.ts) decides which other call an alert names when a
// process runs or loads code several calls wrote; these pin its rules without a sandbox. The end-to-end
// cases (a planted module imported by tests, a job runner running a planted script) are in
// scenario-code-origin.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeOrigins, codeFrom, coCulpritOf, coCulpritText, pycSource } from '../src/session/code-origin.js';

const attr = { session: 's', tool_call: 'call-9' };

test('the code a process exec\'d stays the co-culprit; modules of other calls it loads are named beside it, once per call', () => {
  const o = new CodeOrigins();
  o.exec(10, 1, { tool_call: 'call-1', step: 1, file: 'run.py' });
  o.load(10, 1, { tool_call: 'call-2', step: 2, file: 'a.py' });
  o.load(10, 1, { tool_call: 'call-2', step: 2, file: 'b.py' });
  o.load(10, 1, { tool_call: 'call-1', step: 1, file: 'c.py' });
  assert.deepEqual(o.of(10), { tool_call: 'call-1', step: 1, file: 'run.py', also: [{ tool_call: 'call-2', step: 2, file: 'a.py' }] });
});

test('without exec\'d code the latest loaded module\'s writer is the co-culprit, earlier writers beside it; children inherit it', () => {
  const o = new CodeOrigins();
  o.exec(20, 1, undefined);
  o.load(20, 1, { tool_call: 'call-1', step: 1, file: 'test_x.py' });
  o.load(20, 1, { tool_call: 'call-2', step: 2, file: 'helpers.py' });
  o.load(20, 1, { tool_call: 'call-2', step: 2, file: 'more.py' });
  const want = { tool_call: 'call-2', step: 2, file: 'more.py', loaded: true, also: [{ tool_call: 'call-1', step: 1, file: 'test_x.py' }] };
  assert.deepEqual(o.of(20), want);
  assert.deepEqual(o.of(21, 20), want, 'a forked child');
  assert.deepEqual(o.exec(22, 20, undefined), want, 'an exec\'d child');
  const co = coCulpritOf(codeFrom(o.of(20), attr));
  assert.equal(co?.loaded, true);
  assert.equal(coCulpritText(co!), ' — it loaded code (more.py) written by step 2, tool call call-2; it also loaded code of step 1, tool call call-1 (test_x.py)');
  // (the alert's own call is never named beside itself)
  assert.deepEqual(codeFrom(o.of(20), { session: 's', tool_call: 'call-1' }), { code_from_call: 'call-2', code_from_step: 2, code_file: 'more.py', code_loaded: true });
});

test('a damaged payload\'s extra co-culprits are dropped, not trusted', () => {
  const co = coCulpritOf({ code_from_call: 'call-1', code_file: 'a.py', code_loaded: true, code_also: [{ tool_call: 3 }, 'x', { tool_call: 'call-2', file: 'b.py' }] });
  assert.deepEqual(co?.also, [{ tool_call: 'call-2', file: 'b.py' }]);
});

test('a compiled module is traced to its source', () => {
  assert.equal(pycSource('pkg/__pycache__/helpers.cpython-311.pyc'), 'pkg/helpers.py');
  assert.equal(pycSource('__pycache__/m.cpython-311.opt-1.pyc'), 'm.py');
  assert.equal(pycSource('pkg/helpers.pyc'), undefined);
  assert.equal(pycSource('pkg/__pycache__/x.txt'), undefined);
});
