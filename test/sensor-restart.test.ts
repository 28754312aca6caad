// A long-lived runtime (what `corral serve` holds) whose bpftrace sensor dies must not go on
// without exec capture unnoticed: the open session records the gap (kind 'sensor', down then up
// with its length), the sensor is restarted, capture resumes (every exec of a later call is seen
// with its argv), and `corral report` shows the gap. Real bpftrace, killed with SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { buildSessionReport } from '../src/report/session-report.js';

test('a killed sensor is restarted; the session records the capture gap; capture resumes', { timeout: 120_000 }, async () => {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-sensor-restart-'));
  const rt = await Runtime.start({ home, sensor: true, poolSize: 0, commandCheck: false });
  try {
    const s = await rt.createSession({ policy: loadPreset('default'), episode: 'restart' });
    const first = rt.sensor!;
    const pid = (first as unknown as { child: { pid: number } }).child.pid;
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    while (!(rt.sensor && rt.sensor !== first) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    assert.ok(rt.sensor && rt.sensor !== first, `sensor restarted (error: ${rt.sensorError})`);
    assert.equal(rt.sensorRestarts, 1);
    assert.equal(rt.sensorError, undefined);
    const r = await s.exec({ command: 'for i in $(seq 1 50); do /bin/true "marker-$i"; done', step: 1, toolCallId: 'after-restart', syncSensor: true });
    assert.equal(r.exitCode, 0, r.stderr);
    await s.close();
    const events = rt.store.query({ session: s.id });
    const markers = new Set(events.filter((e) => e.kind === 'exec' && e.tool_call === 'after-restart')
      .map((e) => (e.payload.argv as string[] | undefined)?.[1]).filter((a): a is string => !!a && a.startsWith('marker-')));
    assert.equal(markers.size, 50, 'every exec after the restart was captured with its argv');
    const gap = events.filter((e) => e.kind === 'sensor');
    assert.deepEqual(gap.map((e) => e.payload.state), ['down', 'up']);
    assert.match(String(gap[0]!.payload.error), /bpftrace exited .*SIGKILL/);
    assert.ok(Number(gap[1]!.payload.gap_ms) > 0);
    const rep = buildSessionReport(events);
    assert.equal(rep.sensor_gaps.length, 1);
    assert.ok(rep.sensor_gaps[0]!.gap_ms! > 0);
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
});
