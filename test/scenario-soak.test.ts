// Why this exists: a long-lived runtime (`corral serve`, a trainer's own process) runs thousands
// of episodes, so whatever a closed session leaves behind in the Corral process grows with their
// number. A soak of 300 sessions found two such leftovers: every closed session kept its event
// log's descriptor open (one fd per session until the store closed: EMFILE — and every spawn,
// accept and sandbox failing — after RLIMIT_NOFILE sessions), and every session and tool-call
// cgroup id stayed in the attribution index. Real sandboxes, in the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { MAX_WARNINGS } from '../src/session/runtime.js';
import type { AlertEvent } from '../src/events/event.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], 'labsk'); });
after(async () => { await fx?.close(); });

/** This process's descriptors open on a file under dir. */
function fdsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target.startsWith(`${dir}/`)) out.push(target);
  }
  return out;
}

test('closed sessions leave no event-log descriptor and no attribution entries behind', async () => {
  const sessionsDir = join(fx.home, 'sessions');
  const ids: string[] = [];
  const windowKeys = fx.rt.engine.stats().windowKeys;
  for (let i = 0; i < 6; i++) {
    const s = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: `ep${i}` });
    ids.push(s.id);
    await s.exec({ command: 'echo hi', step: 1, toolCallId: `ep${i}:1` });
    // a background process the episode leaves running, and a call that times out
    await s.exec({ command: 'nohup sleep 30 >/dev/null 2>&1 & echo bg', step: 2, toolCallId: `ep${i}:2` });
    if (i % 3 === 0) await s.exec({ command: 'sleep 5', step: 3, toolCallId: `ep${i}:3`, timeoutMs: 300 });
    await s.close();
  }
  assert.deepEqual(fdsUnder(sessionsDir), [], 'a closed session keeps no descriptor on its event log');
  assert.equal(fx.rt.index.cgroupCount, 0, 'a closed session leaves none of its cgroup ids in the attribution index');
  // (every tool call's resource samples open a 5-minute window of sustained_cpu_tool_call: kept until the LRU cap before)
  assert.equal(fx.rt.engine.stats().windowKeys, windowKeys, 'a closed session leaves no detection window state of its own behind');
  // the logs are still complete: every session's events, its end included, can be read back
  for (const id of ids) {
    const kinds = fx.rt.store.query({ session: id }).map((e) => e.kind);
    assert.ok(kinds.includes('session.start') && kinds.includes('session.end'), `${id}: ${kinds.join(',')}`);
    assert.equal(kinds.filter((k) => k === 'toolcall.end').length, Number(id === ids[0] || id === ids[3]) + 2);
  }
  // an event of a closed session that still comes (a flow record later than close's wait for it) is
  // written to its log, and the log is released again
  const late = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'late' });
  await late.close();
  late.emit('flow', { flow_id: 'f-late', bytes_up: 1, bytes_down: 2 });
  assert.deepEqual(fx.rt.store.query({ session: late.id, kind: ['flow'] }).map((e) => e.payload.flow_id), ['f-late']);
  assert.deepEqual(fdsUnder(sessionsDir), []);
  // a session that is still open keeps its log open and its ids known (the release is at close, not before)
  const open = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'open' });
  try {
    await open.exec({ command: 'true', step: 1 });
    fx.rt.store.flush();
    assert.equal(fdsUnder(sessionsDir).length, 1);
    assert.equal(fx.rt.index.cgroupCount, 2);
  } finally { await open.close(); }
  assert.deepEqual(fdsUnder(sessionsDir), []);
  assert.equal(fx.rt.index.cgroupCount, 0);
});

test('a call\'s output is returned whole when many sessions start and end at once', async () => {
  // 24 sessions created at once, each running one call and closing (a trainer's rollout burst, twice):
  // a call's pipes can reach end-of-file later than a fixed grace after its command exited. None of
  // these calls leaves a process behind, so each must return all of its output and no
  // "holds its output open" note (on main some returned exit 0, no output and that note).
  const wrong: string[] = [];
  for (let round = 0; round < 2; round++) {
    await Promise.all(Array.from({ length: 24 }, async (_, k) => {
      const s = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: `burst${round}-${k}` });
      try {
        const r = await s.exec({ command: `echo $((6*7)); echo err-${k} >&2`, step: 1 });
        if (r.exitCode !== 0 || r.stdout !== '42\n' || r.stderr !== `err-${k}\n`) wrong.push(JSON.stringify([round, k, r.exitCode, r.stdout, r.stderr]));
      } finally { await s.close(); }
    }));
  }
  assert.deepEqual(wrong, []);
  // a background process that really holds the output: the call still returns, with what was written before the exit
  const s = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'held' });
  try {
    const bg = await s.exec({ command: 'sleep 30 & echo before', step: 1 });
    assert.equal(bg.stdout, 'before\n');
    assert.match(bg.stderr, /still holds its output open/);
  } finally { await s.close(); }
});

test('detection windows keyed by tool call never mix two sessions that use the same tool call id', async () => {
  // Trainers name tool calls per episode ('call-1', '1', a dataset's step ids), so the same id runs
  // in many sessions of one runtime at once. fifo_relay_or_shell fires on two of mkfifo / netcat /
  // an interactive shell within 30 s of one tool call: a mkfifo in one episode and `bash -i` in
  // another must not add up to a reverse shell blamed on the second (with the first's evidence).
  const fifoAlerts = (alerts: AlertEvent[]) => alerts.filter((a) => a.payload.rule === 'fifo_relay_or_shell');
  const a = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'same-id-a' });
  const b = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'same-id-b' });
  try {
    const ra = await a.exec({ command: 'mkfifo /tmp/f', step: 1, toolCallId: 'call-1', syncSensor: true });
    const rb = await b.exec({ command: 'bash -i -c true 2>/dev/null', step: 1, toolCallId: 'call-1', syncSensor: true });
    assert.equal(ra.exitCode, 0);
    assert.deepEqual(fifoAlerts([...ra.alerts, ...rb.alerts]), []);
  } finally {
    await a.close();
    await b.close();
  }
  assert.deepEqual(fifoAlerts([...a.alertEvents, ...b.alertEvents]).map((x) => `${x.session}:${x.tool_call}`), []);
  // (both in one tool call of one session is that pattern, and is reported)
  const c = await fx.rt.createSession({ policy: labPolicy(), run: 'soak', episode: 'same-id-c' });
  try {
    await c.exec({ command: 'mkfifo /tmp/f; bash -i -c true 2>/dev/null', step: 1, toolCallId: 'call-1', syncSensor: true });
  } finally { await c.close(); }
  assert.equal(fifoAlerts(c.alertEvents).length, 1);
});

test('a long-lived runtime keeps its recent warnings, not every warning it ever had; each is still emitted', () => {
  let emitted = 0;
  const count = (): void => { emitted++; };
  fx.rt.on('warning', count);
  try {
    for (let i = 0; i < 2 * MAX_WARNINGS + 500; i++) fx.rt.onError(`soak warning ${i}`);
  } finally { fx.rt.off('warning', count); }
  assert.equal(emitted, 2 * MAX_WARNINGS + 500);
  assert.ok(fx.rt.warnings.length <= 2 * MAX_WARNINGS && fx.rt.warnings.length >= MAX_WARNINGS, String(fx.rt.warnings.length));
  assert.equal(fx.rt.warnings.at(-1), `soak warning ${2 * MAX_WARNINGS + 499}`);
});
