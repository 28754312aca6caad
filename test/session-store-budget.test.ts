// Why: a flood of execs or connections inside one tool call wrote an event each into the session's log and
// index with no bound: hours of it fill the disk every sandbox on the host records to. Past the session's
// store budget the bulk kinds are counted, not stored — on record (capture.events_unstored, session.end, the
// report) — while alerts, the events they cite and the call boundaries are still stored. Real sandbox, real
// sensor, inside the lab; the one connection goes to an internal lab address the gateway refuses (SAFETY.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { makeStyle } from '../src/cli/style.js';

const CAP = 200;
let fx: Fixture;
before(async () => { fx = await startFixture([], 'labsb', { sessionEventStoreCap: CAP }); });
after(async () => { await fx?.close(); });

test('past its store budget a session counts its execs instead of storing them; alerts and their evidence are stored, and the record says what is missing', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'flood' });
  const quiet = await fx.rt.createSession({ policy: labPolicy(), episode: 'quiet' });
  try {
    const r1 = await s.exec({ command: 'for i in $(seq 300); do /bin/true; done', step: 1, toolCallId: 'flood', timeoutMs: 60_000, syncSensor: true });
    assert.equal(r1.exitCode, 0, r1.stderr);
    const r2 = await s.exec({ command: '(echo > /dev/tcp/10.0.0.5/22) 2>/dev/null; true', step: 2, toolCallId: 'probe', timeoutMs: 20_000, syncSensor: true, skipScreen: true });
    assert.equal(r2.exitCode, 0, r2.stderr);
    assert.equal((await quiet.exec({ command: 'true', step: 1, toolCallId: 'q', timeoutMs: 20_000 })).exitCode, 0);
    const closed = await s.close();
    const qc = await quiet.close();

    const stored = fx.rt.store.query({ session: s.id });
    const inMemory = s.events;
    assert.equal(s.eventsDropped, 0, 'the whole session is still in memory to compare with');
    const execs = inMemory.filter((e) => e.kind === 'exec' && e.tool_call === 'flood');
    assert.ok(execs.length >= 300, `${execs.length} execs recorded`);
    // the bulk stopped at the budget; what was not stored is counted, and counted exactly
    const always = new Set(['alert', 'session.start', 'session.end', 'toolcall.start', 'toolcall.end', 'sensor']);
    const alerts = stored.filter((e) => e.kind === 'alert');
    const cited = new Set(alerts.flatMap((a) => a.payload.evidence as string[]));
    const bulkStored = stored.filter((e) => !always.has(e.kind));
    assert.ok(bulkStored.length <= CAP + cited.size, `${bulkStored.length} bulk events stored`);
    assert.ok(closed.capture.events_unstored! > 0);
    assert.equal(stored.length + closed.capture.events_unstored!, inMemory.length, 'every event is stored or counted');
    assert.equal(closed.capture.complete, false);
    // the probe after the budget was spent: its alert and the events it cites are stored
    const probe = alerts.filter((a) => a.tool_call === 'probe' && a.payload.category === 'internal_probe');
    assert.equal(probe.length, 1, JSON.stringify(alerts.map((a) => a.payload.rule)));
    const storedIds = new Set(stored.map((e) => e.id));
    for (const id of cited) assert.ok(storedIds.has(id), `evidence ${id} stored`);
    assert.ok(stored.some((e) => e.id === (probe[0]!.payload.evidence as string[])[0] && e.kind === 'connect'));
    // on record: when the budget ran out, how much was left out by kind, and session.end
    const cap = stored.find((e) => e.kind === 'sensor' && e.payload.state === 'store_cap');
    assert.equal(cap?.payload.cap, CAP);
    const unstored = stored.find((e) => e.kind === 'sensor' && e.payload.state === 'unstored');
    assert.equal(unstored?.payload.events_unstored, closed.capture.events_unstored);
    assert.ok(((unstored?.payload.by_kind as Record<string, number>).exec ?? 0) > 0);
    assert.equal(stored.find((e) => e.kind === 'session.end')?.payload.events_unstored, closed.capture.events_unstored);
    // the report, rebuilt from the store alone, says the capture is not whole and why
    const report = buildSessionReport(stored);
    assert.deepEqual([report.capture.events_unstored, report.capture.complete], [closed.capture.events_unstored, false]);
    assert.match(renderSessionText(report, makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' })), /capture incomplete: [\d,]+ event\(s\) counted but not stored/);
    // the budget is the session's own: a quiet session beside it stored everything
    assert.equal(qc.capture.events_unstored, undefined);
    assert.equal(fx.rt.store.query({ session: quiet.id }).length, quiet.events.length);
  } finally { await s.close(); await quiet.close(); }
});
