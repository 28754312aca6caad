// Runs last (file order): after the whole suite, nothing Corral or the lab created may be
// left: namespaces, veths, nft tables, cgroups, leases, session dirs and their mounts, sandbox processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { detectCgroupLayout } from '../src/sandbox/cgroups.js';

function processesNamed(names: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (names.includes(comm)) out.push(`${pid}:${comm}`);
    } catch { /* exited */ }
  }
  return out;
}

test('no namespaces, veths, nft tables, cgroups, leases or processes are left behind', async () => {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.doesNotMatch(netns, /corral-|lab-far/);
  const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  assert.doesNotMatch(links, /: (crl|lab)[0-9a-z]+/);
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  assert.doesNotMatch(tables, /corral_/);
  const layout = detectCgroupLayout();
  for (const dir of [layout.unified, ...Object.values(layout.v1)]) {
    const root = `${dir}/corral`;
    if (!existsSync(root)) continue;
    const left = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.deepEqual(left, [], `cgroups left under ${root}`);
  }
  const leases = '/run/corral/leases';
  if (existsSync(leases)) assert.deepEqual(readdirSync(leases), []);
  // session dirs and ready or retired disk workspaces (their loop mounts with them)
  if (existsSync('/run/corral')) assert.deepEqual(readdirSync('/run/corral').filter((n) => /^(sess|wspool|wsdone)-/.test(n)), []);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith('/run/corral/'));
  assert.deepEqual(mounts, [], 'mounts left under /run/corral');
  // A sensor is stopped with SIGKILL and not waited for: the kernel's probe detach takes ~0.8 s.
  // A process still exiting after a SIGKILL is not left behind; give exits 3 s, then judge.
  const names = ['bwrap', 'corral-enter', 'bpftrace', 'sshd'];
  for (let i = 0; i < 60 && processesNamed(names).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(processesNamed(names), []);
});
