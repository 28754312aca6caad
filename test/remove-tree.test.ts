// Unit test of src/sandbox/remove-tree.ts: a tree deeper than PATH_MAX, as an agent can leave in its
// workspace or writable root, is removed (Node's rmSync cannot), so a session's teardown never leaves
// its dir. test/image-root-hardening.test.ts proves it on a real session. No sandbox, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDirTree } from '../src/sandbox/remove-tree.js';

test('removeDirTree: a tree deeper than PATH_MAX (Node 20\'s rmSync overflows its stack on it) is removed; a missing one is fine', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-deep-'));
  t.after(() => { if (existsSync(dir)) execFileSync('rm', ['-rf', '--one-file-system', '--', dir]); });
  execFileSync('perl', ['-e', 'chdir $ARGV[0] or die; for (1..3000) { mkdir "d" or die; chdir "d" or die }; open my $f, ">", "leaf" or die', dir]);
  assert.equal(await removeDirTree(dir), undefined);
  assert.equal(existsSync(dir), false);
  assert.equal(await removeDirTree(dir), undefined);
});
