// When the kernel sensor's perf ring overflows, records are dropped before Corral reads them and
// nobody can say whose they were. An agent can cause that on purpose (flood execs, then start a
// miner whose exec is lost), so every session open at the time must say its capture was incomplete:
// a 'sensor' event (state 'lost') in its own log, coalesced to at most one a second, and
// `capture.complete: false` in its close result, its report (JSON, text, HTML) and replay's summary.
// Real bpftrace and real sandboxes: a runtime with a one-page ring per CPU, and a tool call whose
// execs carry 40 long arguments each (one exec's argv lines alone are more than a page), loses
// records every time; a runtime with the default ring loses none for three small calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime, type RuntimeOptions } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { renderSessionHtml } from '../src/report/session-html.js';
import { replayEpisodes } from '../src/cli/replay-command.js';
import { CaptureLoss, LOSS_NOTE } from '../src/session/capture-loss.js';
import { makeStyle } from '../src/cli/style.js';
import type { CorralEvent } from '../src/events/event.js';

const plain = makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' });

/** 30 execs, each with 40 arguments of 190 bytes: ~10 KB of argv lines per exec into a 4 KiB ring. */
const BURST = 'a=$(printf "%0190d" 0); for i in $(seq 30); do /bin/true "burst-$i"' + ' "$a"'.repeat(40) + '; done; echo burst-done';

async function withRuntime(opts: Partial<RuntimeOptions>, fn: (rt: Runtime) => Promise<void>): Promise<void> {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-capture-loss-'));
  const rt = await Runtime.start({ home, sensor: true, poolSize: 0, commandCheck: false, ...opts });
  try { await fn(rt); } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const losses = (evs: CorralEvent[]) => evs.filter((e) => e.kind === 'sensor' && e.payload.state === 'lost');

test('records lost to a full sensor ring mark every open session\'s capture incomplete', { timeout: 120_000 }, async () => {
  await withRuntime({ perfRbPages: 1 }, async (rt) => {
    const idle = await rt.createSession({ policy: loadPreset('default'), episode: 'idle-bystander' });
    const s = await rt.createSession({ policy: loadPreset('default'), episode: 'flood' });
    const sensor = rt.sensor!;
    const lostBefore = sensor.lost;
    const t0 = Date.now();
    const r = await s.exec({ command: BURST, step: 1, toolCallId: 'burst', syncSensor: true });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'burst-done');
    const closed = await s.close();
    const openSec = (Date.now() - t0) / 1000;
    const idleClosed = await idle.close();
    assert.equal(rt.sensor, sensor, 'the sensor was not restarted');
    assert.ok(sensor.lost > lostBefore, `the one-page ring lost records (lost ${sensor.lost})`);

    // the session's own log: loss events with the count, the time and the note, coalesced
    const evs = rt.store.query({ session: s.id });
    const ls = losses(evs);
    assert.ok(ls.length >= 1, 'the flooding session recorded the loss');
    assert.equal(rt.sensorLost, sensor.lost, 'the runtime counts them');

    // the close result (what `corral run --json` and the daemon answer) says capture was incomplete
    assert.equal(closed.capture.complete, false);
    assert.ok(closed.capture.records_lost > 0);
    assert.ok(!closed.alerts.some((a) => a.payload.rule.includes('lost')), 'a loss is not an alert');

    assert.ok(ls.length <= Math.ceil(openSec) + 1, `at most one loss event a second (${ls.length} in ${openSec.toFixed(1)} s)`);
    const sum = ls.reduce((n, e) => n + Number(e.payload.records_lost), 0);
    assert.equal(sum, closed.capture.records_lost, 'the events sum to what the close result says');
    assert.equal(Number(ls.at(-1)!.payload.records_lost_total), sum, 'a running total');
    console.log(`# one-page ring: ${rt.sensorLost} records lost in all; the flooding session recorded ${sum} in ${ls.length} event(s) over ${openSec.toFixed(1)} s`);
    for (const e of ls) {
      assert.equal(e.tool_call, undefined, 'not blamed on a tool call');
      assert.match(String(e.payload.since_ts), /^\d+$/);
      assert.ok(BigInt(String(e.payload.since_ts)) <= BigInt(e.ts));
      assert.equal(e.payload.note, LOSS_NOTE);
    }
    assert.match(LOSS_NOTE, /cannot be attributed to one sandbox/);
    const end = evs.find((e) => e.kind === 'session.end')!;
    assert.equal(end.payload.capture_complete, false);
    assert.ok(evs.indexOf(ls.at(-1)!) < evs.indexOf(end), 'every loss is written before session.end');

    // a session open at the time that ran nothing records the same loss: it cannot be told apart
    assert.ok(losses(rt.store.query({ session: idle.id })).length >= 1, 'the idle bystander recorded the loss');
    assert.equal(idleClosed.capture.complete, false);

    // `corral report`: JSON, text, HTML
    const rep = buildSessionReport(evs);
    assert.equal(rep.capture.complete, false);
    assert.equal(rep.capture.records_lost, sum);
    assert.ok(rep.capture.first_loss_ts && rep.capture.last_loss_ts);
    const text = renderSessionText(rep, plain);
    assert.match(text, new RegExp(`capture incomplete: ${sum} kernel records lost`));
    assert.match(renderSessionHtml([rep]), new RegExp(`Capture incomplete: ${sum} kernel records lost`));

    // `corral replay`: the episode is named as incomplete
    const rr = await replayEpisodes(rt, [{ episode: 'replayed-flood', calls: [{ episode: 'replayed-flood', step: 1, tool: 'bash', command: BURST }] }], loadPreset('default'));
    assert.equal(rr.failedEpisodes.length, 0);
    assert.deepEqual(rr.incompleteEpisodes.map((e) => e.episode), ['replayed-flood']);
    assert.ok(rr.incompleteEpisodes[0]!.capture.records_lost > 0);
  });
});

test('a session whose sensor lost nothing says its capture is complete', { timeout: 120_000 }, async () => {
  await withRuntime({}, async (rt) => {
    const s = await rt.createSession({ policy: loadPreset('default'), episode: 'quiet' });
    for (let i = 1; i <= 3; i++) {
      const r = await s.exec({ command: `echo step-${i}; /bin/true quiet-${i}`, step: i, syncSensor: true });
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const closed = await s.close();
    assert.equal(rt.sensor!.lost, 0);
    const evs = rt.store.query({ session: s.id });
    assert.deepEqual(losses(evs), []);
    assert.deepEqual(closed.capture, { complete: true, records_lost: 0, sensor_gaps: 0 });
    assert.equal(evs.find((e) => e.kind === 'session.end')!.payload.capture_complete, true);
    const rep = buildSessionReport(evs);
    assert.deepEqual(rep.capture, { complete: true, records_lost: 0, sensor_gaps: 0 });
    assert.doesNotMatch(renderSessionText(rep, plain), /capture incomplete/);
    assert.doesNotMatch(renderSessionHtml([rep]), /Capture incomplete/);
    const rr = await replayEpisodes(rt, [{ episode: 'replayed-quiet', calls: [{ episode: 'replayed-quiet', step: 1, tool: 'bash', command: 'echo hi' }] }], loadPreset('default'));
    assert.deepEqual(rr.incompleteEpisodes, []);
  });
});

test('losses reported many times a second become at most one event a second per session, with a running total', async () => {
  const written: { records_lost: number; records_lost_total: number; since_ts: string }[] = [];
  let ms = 0;
  const loss = new CaptureLoss((p) => written.push(p), () => ({ ms, ns: String(Math.round(ms * 1e6)) }), 50);
  for (let i = 0; i < 1000; i++) { ms = i / 100; loss.add(3); } // 1000 reports within 10 ms
  assert.equal(written.length, 1, 'the first loss is written at once, the rest wait for the interval');
  assert.deepEqual(written[0], { state: 'lost', records_lost: 3, records_lost_total: 3, since_ts: '0', note: LOSS_NOTE });
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(written.length, 2, 'what came within the interval is one event');
  assert.equal(written[1]!.records_lost, 2997);
  assert.equal(written[1]!.records_lost_total, 3000);
  assert.equal(written[1]!.since_ts, '10000', 'from the first loss it sums (at 0.01 ms)');
  loss.add(0);
  loss.flush();
  assert.equal(written.length, 2, 'nothing pending, nothing written');
  assert.equal(loss.total, 3000);
});
