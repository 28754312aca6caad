// A session's close asks the kernel sensor to confirm it has delivered every record produced so far
// (a marker process it must see exec and exit). When that confirmation does not come — the sensor is
// stalled or overrun — the session's last execs and connects may be missing, and the close used to
// say nothing: capture "complete". It must say the capture is incomplete, in the close result, the
// log and the report, and the next session must be whole again. Real bpftrace, stopped with SIGSTOP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { makeStyle } from '../src/cli/style.js';

const plain = makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' });

test('a close whose sensor sync times out marks the capture incomplete; the next close is whole', { timeout: 120_000 }, async () => {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-sync-timeout-'));
  const rt = await Runtime.start({ home, sensor: true, poolSize: 0, commandCheck: false, sensorSyncTimeoutMs: 500 });
  const pid = (rt.sensor as unknown as { child: { pid: number } }).child.pid;
  try {
    const s = await rt.createSession({ policy: loadPreset('default'), episode: 'stalled' });
    assert.equal((await s.exec({ command: 'true', step: 1, toolCallId: 'a', syncSensor: true })).exitCode, 0);
    process.kill(pid, 'SIGSTOP');
    let closed;
    try { closed = await s.close(); } finally { process.kill(pid, 'SIGCONT'); }
    assert.equal(closed.capture.complete, false);
    assert.equal(closed.capture.unsynced, true);
    const events = rt.store.query({ session: s.id });
    assert.deepEqual(events.filter((e) => e.kind === 'sensor').map((e) => e.payload.state), ['unsynced']);
    assert.equal(events.find((e) => e.kind === 'session.end')?.payload.capture_complete, false);
    const rep = buildSessionReport(events);
    assert.equal(rep.capture.unsynced, true);
    assert.match(renderSessionText(rep, plain), /capture incomplete.*did not confirm/);
    assert.ok(rt.warnings.some((w) => /did not confirm its records in time/.test(w)), rt.warnings.join('\n'));

    const s2 = await rt.createSession({ policy: loadPreset('default'), episode: 'resumed' });
    assert.equal((await s2.exec({ command: 'true', step: 1, toolCallId: 'b', syncSensor: true })).exitCode, 0);
    const c2 = await s2.close();
    assert.deepEqual(c2.capture, { complete: true, records_lost: 0, sensor_gaps: 0 });
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
});
