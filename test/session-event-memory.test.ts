// Why: proves a long session does not keep its whole history in the runtime's memory. Session.events
// holds the most recent events only (RuntimeOptions.sessionEventMemory); every event is still in the
// store, and what Corral reads back from a session's past — the evidence of an internal scan, when a
// shell's /dev/tcp connects are folded into it — is found there once it left memory. Real sandbox,
// real sensor, inside the lab (the scan's targets are lab-only addresses the gateway denies).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

const CAP = 100;
let fx: Fixture;
before(async () => { fx = await startFixture([], 'labmem', { sessionEventMemory: CAP }); });
after(async () => { await fx?.close(); });

test('a session keeps its most recent events in memory, at most the cap and a quarter, and every event in the store', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'memory' });
  try {
    const r = await s.exec({ command: 'for i in $(seq 400); do /bin/true "mem-$i"; done; echo done', step: 1, toolCallId: 'many' });
    assert.equal(r.stdout.trim(), 'done', r.stderr);
    await s.close();
    assert.ok(s.events.length <= CAP + CAP / 4, `${s.events.length} events in memory`);
    assert.ok(s.eventsDropped >= 400, `${s.eventsDropped} let go`);
    // the ones kept are the most recent, in order: session.end is last
    assert.equal(s.events.at(-1)!.kind, 'session.end');
    const stored = fx.rt.store.query({ session: s.id });
    assert.equal(stored.length, s.events.length + s.eventsDropped, 'the store has every event');
    const tags = new Set(stored.filter((e) => e.kind === 'exec').map((e) => (e.payload.argv as string[])[1]).filter((a) => a?.startsWith('mem-')));
    assert.equal(tags.size, 400);
  } finally { await s.close(); }
});

test('a shell scan folded into its internal_probe alert is still folded when its evidence left memory (read back from the store)', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'memory-scan' });
  try {
    // /dev/tcp assembled at run time (the command screen does not flag it: the runtime rules speak), nine
    // denied connects to three lab-only internal hosts, then 300 execs push the scan's events out of memory
    const cmd = "printf '/dev/tc' > f; printf 'p' >> f; d=$(cat f); for h in 10.0.0.5 10.0.0.6 10.0.0.7; do for p in 22 80 443; do (echo > $d/$h/$p) 2>/dev/null; done; done; "
      + 'for i in $(seq 300); do /bin/true; done; echo ok';
    const r = await s.exec({ command: cmd, step: 1, toolCallId: 'scan' });
    assert.equal(r.stdout.trim(), 'ok', r.stderr);
    await s.close();
    assert.ok(s.eventsDropped > 0);
    const cats = s.alertEvents.filter((a) => a.tool_call === 'scan').map((a) => `${a.payload.category}/${a.payload.rule}`);
    assert.ok(cats.some((c) => c.startsWith('internal_probe/')), cats.join(', '));
    // the shell's nine connects are that scan: not reported again as a reverse shell
    assert.ok(!cats.some((c) => c.startsWith('reverse_shell/')), cats.join(', '));
  } finally { await s.close(); }
});
