// Unit test of src/sandbox/image-path.ts: a workspace_path is resolved inside the root the sandbox is
// made from, through that root's own links (.. stops at its /, absolute links start from it, never from
// the host's), and refused when it lands on / or a system directory. test/image-root-hardening.test.ts
// proves it in real sandboxes. No sandbox, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInRoot, workspacePathInRootProblem } from '../src/sandbox/image-path.js';

test('workspace_path resolved inside a root: links relative to the root (.. stops at its /), absolute links from the root, loops, files on the way, Corral\'s own places', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'corral-imgpath-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['usr/lib', 'etc', 'testbed', 'opt/app', 'var/www']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'opt', 'file'), '');
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('usr', join(root, 'tb-usr'));
  symlinkSync('/etc', join(root, 'tb-etc'));
  symlinkSync('../../../../../../../lib', join(root, 'opt', 'app', 'up'));
  symlinkSync('../../testbed', join(root, 'opt', 'app', 'task'));
  symlinkSync('/', join(root, 'slash'));
  symlinkSync('loop', join(root, 'loop'));
  symlinkSync('/usr', join(root, 'workspace'));
  symlinkSync('missing/../usr', join(root, 'through-missing'));
  const r = (p: string): unknown => resolveInRoot(root, p);
  assert.deepEqual(r('/testbed'), { path: '/testbed' });
  assert.deepEqual(r('/tb-usr/x'), { path: '/usr/x' });
  assert.deepEqual(r('/tb-etc'), { path: '/etc' });
  assert.deepEqual(r('/opt/app/up/python3'), { path: '/usr/lib/python3' }, 'the host\'s own / is never reached: .. stops at the root');
  assert.deepEqual(r('/opt/app/task'), { path: '/testbed' });
  assert.deepEqual(r('/var/www/new/deeper'), { path: '/var/www/new/deeper' }, 'what does not exist yet is taken as written');
  assert.deepEqual(r('/workspace'), { path: '/workspace' }, 'a place the sandbox gets from Corral is not the image\'s');
  assert.deepEqual(resolveInRoot(root, '/workspace', false), { path: '/usr' });
  assert.match(String((r('/loop') as { problem: string }).problem), /too many symbolic links/);
  assert.match(String((r('/opt/file/x') as { problem: string }).problem), /\/opt\/file, which is not a directory/);
  assert.match(String((r('/through-missing') as { problem: string }).problem), /\/missing, which does not exist, and then \.\./);

  const why = (p: string): string | undefined => workspacePathInRootProblem(root, p);
  assert.equal(why('/testbed'), undefined);
  assert.equal(why('/opt/app/task'), undefined);
  assert.equal(why('/var/www/site'), undefined);
  assert.match(why('/tb-usr') ?? '', /^in the root filesystem it is \/usr \(through a symbolic link\), which must not be under \/usr/);
  assert.match(why('/tb-etc/app') ?? '', /it is \/etc\/app .*must not be under \/etc/);
  assert.match(why('/opt/app/up') ?? '', /it is \/usr\/lib /);
  assert.match(why('/slash') ?? '', /must not cover the sandbox's \//);
  assert.match(why('/loop') ?? '', /too many symbolic links/);
  assert.match(why('/usr/x') ?? '', /must not be under \/usr/, 'the string check still applies');
});
