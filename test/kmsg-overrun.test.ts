// Why: the kernel's log ring is small (128 KiB here) and shared; when records are overwritten before Corral reads
// them, dropped packets of some sandbox went unrecorded and nothing said so. Now the reader counts the overwrite
// and every open session's capture says it is not whole. The overwrite is real: the test writes more than the ring
// holds into /dev/kmsg (debug-level lines) in one synchronous burst, while the reader cannot run. Inside the lab; no
// traffic.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { makeStyle } from '../src/cli/style.js';
import type { KmsgDropReader } from '../src/sensors/kmsg-drops.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labko', { sensor: false }); });
after(async () => { await fx?.close(); });

test('records the kernel overwrote before Corral read them put every open session\'s capture on record as incomplete', async () => {
  const kmsg = fx.rt['kmsg'] as KmsgDropReader;
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'overrun' });
  try {
    const before = kmsg.overruns;
    // 1,500 lines of ~190 bytes (≈ 280 KiB with the kernel's record headers), written before the reader's next tick
    const line = `<7>corral-test-overrun ${'z'.repeat(160)}\n`;
    for (let i = 0; i < 1500; i++) writeFileSync('/dev/kmsg', line);
    for (let i = 0; i < 100 && kmsg.overruns === before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(kmsg.overruns > before, 'the reader met the overwrite');
    assert.equal(s.capture.complete, false);
    assert.ok(s.capture.drop_log_overruns! >= 1, JSON.stringify(s.capture));
    await s.close();
    const end = s.events.find((e) => e.kind === 'session.end');
    assert.equal(end?.payload.drop_log_overruns, s.capture.drop_log_overruns);
    const report = buildSessionReport(fx.rt.store.query({ session: s.id }));
    assert.equal(report.capture.drop_log_overruns, s.capture.drop_log_overruns);
    assert.match(renderSessionText(report, makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' })), /capture incomplete: the kernel log overwrote drop records/);
  } finally { await s.close(); }
  // a session opened after the overwrite is whole
  const later = await fx.rt.createSession({ policy: labPolicy(), episode: 'later' });
  await later.close();
  assert.equal(later.capture.drop_log_overruns, undefined);
});
