// Why: /sys/class/block and its kin are hidden in a sandbox because each other sandbox's workspace is
// a loop device there, named and counting its I/O; /sys/fs/ext4 listed the same filesystems again
// (`loop3/session_write_kbytes`: a neighbour's workspace and its live writes) with the host's disks,
// and /sys/class/bdi every block device. Threat it stops: reconnaissance of neighbouring sandboxes
// and of the host, and a channel through disk activity. A real sandbox, in the lab; fails on the
// code before these were added to HIDDEN_SYS_DIRS (src/sandbox/bwrap-args.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labsfc'); });
after(async () => { await fx?.close(); });

test('a sandbox lists no mounted filesystem or block device of the host or of another sandbox under /sys/fs and /sys/class/bdi', async () => {
  const dirs = ['/sys/fs/ext4', '/sys/fs/xfs', '/sys/fs/btrfs', '/sys/class/bdi', '/sys/devices/virtual/bdi'];
  assert.ok(readdirSync('/sys/fs/ext4').length > 0 || readdirSync('/sys/class/bdi').length > 0, 'the host has something there to hide');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'sys-fs' });
  try {
    const r = await s.exec({ step: 1, command: `for d in ${dirs.join(' ')}; do printf "%s=%s\\n" $d "$(ls -A $d 2>/dev/null | wc -l)"; done; test -d /sys/devices/system/cpu && echo cpu-ok` });
    assert.equal(r.stdout, `${dirs.map((d) => `${d}=0`).join('\n')}\ncpu-ok\n`, r.stderr);
  } finally { await s.close(); }
});
