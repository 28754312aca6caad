// Why this exists: the kernel sensor's perf ring is shared by everything it records. On a busy
// rollout host the host's own processes (Corral's ip/nft/mkfs/mount runs, the trainer, anything)
// used to be recorded too and only dropped in user space, so host load could overflow the ring
// and cost the sandboxes' records. A runtime's sensor now leaves them out in the kernel. This
// proves it on the real kernel: 300 host execs add almost no sensor lines, while a sandbox's 300
// execs beside them are all captured with their argv. In the lab; no traffic.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labhn'); });
after(async () => { await fx?.close(); });

test('host processes Corral did not start are left out in the kernel; sandbox execs are all captured', async () => {
  const sensor = fx.rt.sensor!;
  assert.ok(sensor, 'the runtime has its kernel sensor');
  await sensor.sync();
  const linesBefore = sensor.linesRead;
  // a host shell (Corral's child, but neither a launcher nor the sync marker) running 300 execs of its own: none recorded
  const r = spawnSync('/bin/bash', ['-c', 'for i in $(seq 300); do /bin/true host-noise-$i; done'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  await sensor.sync();
  const hostLines = sensor.linesRead - linesBefore;
  // before: ≥ 6 lines per exec (argv, header, exec, argv bytes, trailer, exit) = ≥ 1 800
  assert.ok(hostLines < 100, `300 host execs made ${hostLines} sensor lines`);

  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'beside-host-noise' });
  try {
    const call = await s.exec({ command: 'for i in $(seq 300); do /bin/true in-sandbox-$i; done' });
    assert.equal(call.exitCode, 0);
  } finally {
    await s.close();
  }
  const tags = new Set(s.events.filter((e) => e.kind === 'exec').map((e) => String((e.payload.argv as string[] | undefined)?.[1] ?? '')).filter((a) => a.startsWith('in-sandbox-')));
  assert.equal(tags.size, 300, `sandbox execs captured: ${tags.size}/300`);
});

test('Corral\'s own runs of host tools (ip, nft, mkfs…: each a child of Corral, tried along PATH) are left out too; its sync marker is not', async () => {
  const sensor = fx.rt.sensor!;
  await sensor.sync();
  const linesBefore = sensor.linesRead;
  // 100 direct children of this process, found through PATH as Corral runs ip and nft (failed exec attempts first)
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('ip', ['-V'], { encoding: 'utf8', env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
    assert.equal(r.status, 0);
  }
  // (the barrier itself is a child of this process: it is still seen, or sync() would time out)
  await sensor.sync();
  const lines = sensor.linesRead - linesBefore;
  // before: ≥ 6 lines per run plus 2 per failed attempt along PATH ≥ 1 000; what else the runtime does meanwhile
  // (its pool's slots, the barriers' own lines) is counted too, and under CI load made 73 (session 40): a tenth of before
  assert.ok(lines < 200, `100 runs of ip by Corral made ${lines} sensor lines`);
});
