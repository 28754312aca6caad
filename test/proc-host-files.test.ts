// Why: a sandbox's /proc is its own (pid namespace), but some of its files are the host's whatever
// the namespace: /proc/cmdline (the host kernel's boot command line) and /proc/diskstats and
// /proc/partitions (every block device, so every other sandbox's loop-device workspace and its live
// I/O counters, which /sys/class/block is hidden to keep from the agent). Threat it stops:
// reconnaissance of the host and of neighbouring sandboxes (and a channel through disk activity).
// A real sandbox, in the lab; fails on the code before HIDDEN_PROC_FILES (src/sandbox/bwrap-args.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labprc'); });
after(async () => { await fx?.close(); });

test('the host kernel command line and the host\'s block devices are not readable in a sandbox; its own /proc still is', async () => {
  assert.ok(readFileSync('/proc/cmdline', 'utf8').length > 0, 'the host has a command line to hide');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'proc-host-files' });
  try {
    const r = await s.exec({ step: 1, command: 'for f in /proc/cmdline /proc/diskstats /proc/partitions; do printf "%s=%s\\n" $f "$(wc -c < $f)"; done; head -c 4 /proc/self/stat; echo; cat /proc/loadavg >/dev/null && echo loadavg-ok' });
    assert.match(r.stdout, /^\/proc\/cmdline=0\n\/proc\/diskstats=0\n\/proc\/partitions=0\n/, r.stdout + r.stderr);
    assert.match(r.stdout, /loadavg-ok/);
  } finally { await s.close(); }
});
