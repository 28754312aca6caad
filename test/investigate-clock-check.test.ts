// Why: a trace in local time marked UTC shifts every call against every alert; the link step then
// finds little, or blames the wrong call. These tests generate a fleet, move its traces' times by
// whole zone offsets, and require the clock check to name the offset that puts the alerts back
// inside their calls — and to stay silent on the fleet as it was generated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFleetFiles } from '../src/investigate/generate/generate.js';
import { investigate } from '../src/investigate/investigate.js';

/** The canonical trace with every ts and end_ts moved by ms. */
function shifted(text: string, ms: number): string {
  return text.split('\n').map((l) => {
    if (!l.trim()) return l;
    const o = JSON.parse(l) as Record<string, unknown>;
    for (const k of ['ts', 'end_ts']) if (typeof o[k] === 'string') o[k] = new Date(Date.parse(o[k] as string) + ms).toISOString();
    return JSON.stringify(o);
  }).join('\n');
}

test('the clock check names the zone offset of a shifted trace (2 h, −5 h 30 min) and is silent on the true one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const gt = await generateFleetFiles({ outDir: dir, toolCalls: 20_000, records: 2_000, seed: 3 });
  const logs = gt.files.network.map((f) => ({ path: join(dir, f.path) }));
  const trace = join(dir, gt.files.traces[0]!.path);
  const text = readFileSync(trace, 'utf8');
  const note = async (path: string): Promise<string | undefined> => {
    const r = await investigate({ logs, traces: [{ path }], rules: 'off', jobs: 1 });
    return r.warnings.find((n) => n.startsWith('clock check:'));
  };
  assert.equal(await note(trace), undefined, 'no note on the fleet as generated');
  for (const [ms, words] of [[2 * 3_600_000, 'earlier by 2 h'], [-5.5 * 3_600_000, 'later by 5 h 30 min']] as const) {
    const p = join(dir, `shift${ms}.jsonl`);
    writeFileSync(p, shifted(text, ms));
    const n = await note(p);
    assert.ok(n, `a note for a shift of ${ms} ms`);
    assert.ok(n.includes(words), n);
    assert.match(n, /--trace-tz/);
  }
});

/** The canonical trace with every ts and end_ts written as local time in a zone `hours` east of UTC, without its zone. */
function zoneless(text: string, hours: number): string {
  return text.split('\n').map((l) => {
    if (!l.trim()) return l;
    const o = JSON.parse(l) as Record<string, unknown>;
    for (const k of ['ts', 'end_ts']) if (typeof o[k] === 'string') o[k] = new Date(Date.parse(o[k] as string) + hours * 3_600_000).toISOString().replace('Z', '');
    return JSON.stringify(o);
  }).join('\n');
}

test('--trace-tz and --log-tz: traces in local time without a zone and a syslog in UTC are read right only when each side gets its own zone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // (an iptables log only: syslog times carry no zone, and these were written in UTC)
  const gt = await generateFleetFiles({ outDir: dir, toolCalls: 20_000, records: 2_000, seed: 5, formats: ['iptables-log'] });
  const logs = gt.files.network.map((f) => ({ path: join(dir, f.path) }));
  const trace = join(dir, gt.files.traces[0]!.path);
  const local = join(dir, 'local.jsonl');
  writeFileSync(local, zoneless(readFileSync(trace, 'utf8'), 2));
  const run = (o: { tz?: string; logTz?: string; traceTz?: string }, path = local) => investigate({ logs, traces: [{ path }], rules: 'off', jobs: 1, ...o });
  const truth = await run({}, trace);
  const linked = (r: Awaited<ReturnType<typeof run>>): number => r.incidents.filter((i) => i.likely).length;
  assert.ok(linked(truth) > 0, 'the fleet as generated links');
  const clockNote = (r: Awaited<ReturnType<typeof run>>) => r.warnings.find((n) => n.startsWith('clock check:'));
  // read as UTC, the traces are 2 h late; --tz moves the log as well, so the two stay 2 h apart
  for (const o of [{}, { tz: '+02:00' }]) {
    const r = await run(o);
    assert.ok(clockNote(r), `a clock note with ${JSON.stringify(o)}`);
    assert.match(clockNote(r)!, /--trace-tz/);
    assert.ok(linked(r) < linked(truth), `${JSON.stringify(o)}: ${linked(r)} of ${linked(truth)}`);
  }
  // each side its own zone: the traces' +02:00, the log's UTC (explicitly, or as --tz when --trace-tz overrides it)
  for (const o of [{ traceTz: '+02:00' }, { tz: '+02:00', logTz: 'UTC' }, { traceTz: 'Etc/GMT-2', logTz: '+00:00' }]) {
    const r = await run(o);
    // (Etc/GMT-2 is the IANA name of +02:00, its sign POSIX's)
    assert.equal(clockNote(r), undefined, JSON.stringify(o));
    assert.equal(linked(r), linked(truth), JSON.stringify(o));
  }
});
