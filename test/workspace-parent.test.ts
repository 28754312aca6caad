// Why: `corral run --workspace DIR` (and a policy's or the API's workspace) made every missing
// directory of DIR, as root (mkdir -p): a typo such as /nonexistent/a/ws created /nonexistent and
// /nonexistent/a anywhere on the host. Threat it stops: a mistyped or hostile workspace path
// planting root-owned directories in arbitrary places. Only the workspace's own directory may be
// made; a missing parent is a setup error (exit 2) naming the path. Real `corral run`s, in the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertInLab } from '../src/lab/lab-guard.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir: string;
let home: string;
before(() => {
  assertInLab();
  // (o+x: every directory above a workspace must let the sandbox's uid pass)
  dir = mkdtempSync(join(tmpdir(), 'corral-ws-parent-'));
  chmodSync(dir, 0o755);
  home = mkdtempSync(join(tmpdir(), 'corral-ws-parent-home-'));
});
after(() => { for (const d of [dir, home]) if (d) rmSync(d, { recursive: true, force: true }); });

function run(workspace: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'run', '--no-daemon', '--no-sensor', '--home', home, '--workspace', workspace, '--', 'true'], { encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stderr: r.stderr };
}

test('a workspace whose parent directory does not exist is refused (exit 2, naming it), and nothing is created', () => {
  const ws = join(dir, 'typo', 'a', 'ws');
  const r = run(ws);
  assert.equal(r.status, 2, r.stderr);
  assert.ok(r.stderr.includes(`workspace ${ws}: its parent directory ${join(dir, 'typo', 'a')} does not exist`), r.stderr);
  assert.equal(existsSync(join(dir, 'typo')), false, 'no directory above the workspace was made');
});

test('a workspace whose parent exists is still created (its last component only)', () => {
  const ws = join(dir, 'new-ws');
  const r = run(ws);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(statSync(ws).isDirectory());
});
