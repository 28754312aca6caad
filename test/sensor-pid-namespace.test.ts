// Corral in a container: its own pid namespace, where /proc shows that namespace's numbers and
// Corral itself may be pid 1. bpftrace 0.17 reports the init namespace's pids; untranslated, the
// sensor's sync marker was never matched (every close waited 10 s and nothing said the capture's end
// was unconfirmed), Corral's own launchers were filtered out as strangers, and every pid in the log
// named nothing — or someone else — in Corral's /proc. Real sensor, real sandbox, real pid namespace
// (unshare --pid --mount-proc), inside the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertInLab, OUTER_NETNS_ENV } from '../src/lab/lab-guard.js';

const inPidNs = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, ...args], { encoding: 'utf8', env, timeout: 90_000 });

test('in a pid namespace of its own, the pids Corral reports are the ones its /proc knows', { timeout: 120_000 }, () => {
  assertInLab();
  const helper = fileURLToPath(new URL('./helpers/pid-ns-session.js', import.meta.url));
  const r = inPidNs([helper]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(out.self_pid, 1, 'the runtime ran as pid 1 of a new pid namespace');
  assert.equal(out.exit_code, 0);
  // an exec's pid and ppid: the process and its still-running parent, as this namespace's /proc shows them
  assert.equal(out.sleep_cmdline, 'sleep 31', `exec pid ${String(out.sleep_pid)}`);
  assert.equal(out.sleep_parent_cmdline, 'sh -c sleep 31; :');
  // a blocked connect: the kernel's record and the gateway's decision both name the process that made it
  assert.equal(out.connect_cmdline, 'sleep 30', `connect pid ${String(out.connect_pid)}`);
  assert.equal(out.gateway_pid, out.connect_pid);
  assert.equal(out.gateway_attribution, 'kernel');
  // the close's sync marker was seen: the capture's end is confirmed (it timed out at 5 s before)
  assert.deepEqual(out.capture, { complete: true, records_lost: 0, sensor_gaps: 0 });
});

test('the lab guard does not take a pid namespace\'s /proc/1 for the machine\'s init', { timeout: 30_000 }, () => {
  assertInLab();
  const probe = `import('${new URL('../src/lab/lab-guard.js', import.meta.url).href}').then((g) => console.log(JSON.stringify(g.labProblems())))`;
  // In the lab, with lab-exec's record of the outer namespace: no problem, although /proc/1 is the probe itself
  const ok = inPidNs(['--input-type=module', '-e', probe]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), []);
  // The recorded outer namespace is this one (as if lab-exec had not entered a new one): still refused
  const self = readlinkSync('/proc/self/ns/net');
  const bad = inPidNs(['--input-type=module', '-e', probe], { ...process.env, [OUTER_NETNS_ENV]: self });
  assert.equal(bad.status, 0, bad.stderr);
  assert.match((JSON.parse(bad.stdout) as string[]).join('; '), /outer network namespace/);
});
