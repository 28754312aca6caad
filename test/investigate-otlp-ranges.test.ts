// Why: one OTLP document of many GB is now read in parallel, cut at its ResourceSpans elements
// (inputs/otlp-resync.ts). These tests prove the cuts land on element starts, that a document
// read by several threads gives exactly the result one thread gives (every call, its number and
// line, every bad span with its true line, compact and pretty-printed), and that a document
// which only looks cuttable — a decoy `{"resource":` nested in a span, a truncated end, junk
// after it — is read again whole, again with exactly the one-thread result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvestigationResult } from '../src/investigate/investigate.js';
import { documentRanges } from '../src/investigate/inputs/otlp-resync.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');
const ns = (ms: number): string => `${ms}000000`;
const str = (key: string, v: string): unknown => ({ key, value: { stringValue: v } });

/** 300 episodes, one resource each, a model span and an execute_tool span per call; call c2001 reads the metadata service. */
function resources(opts: { decoy?: boolean; badSpan?: number } = {}): unknown[] {
  const out: unknown[] = [];
  for (let e = 0; e < 300; e++) {
    const spans: unknown[] = [];
    for (let k = 0; k < 10; k++) {
      const i = e * 10 + k, start = T0 + i * 1000;
      spans.push({ traceId: `t${e}`, spanId: `m${i}`, name: 'chat model', startTimeUnixNano: ns(start - 300), endTimeUnixNano: ns(start), attributes: [str('gen_ai.operation.name', 'chat')] });
      spans.push({
        // A decoy: an object whose first key is "resource", nested in a span (valid JSON, not OTLP).
        ...(opts.decoy ? { extra: { resource: 'x' } } : {}),
        traceId: `t${e}`, spanId: `s${i}`, name: 'execute_tool bash',
        ...(i === opts.badSpan ? {} : { startTimeUnixNano: ns(start) }), endTimeUnixNano: ns(start + 600),
        attributes: [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.name', 'bash'), str('gen_ai.tool.call.id', `c${i}`),
          str('gen_ai.tool.call.arguments', JSON.stringify({ command: i === 2001 ? 'curl http://169.254.169.254/latest/meta-data/' : 'python step.py' })), { key: 'step', value: { intValue: String(k) } }],
      });
    }
    out.push({ resource: { attributes: [str('episode', `ep-${e}`), str('host.name', `h${e % 5}`), { key: 'host.ip', value: { arrayValue: { values: [{ stringValue: `10.0.${e % 7}.9` }] } } }] }, scopeSpans: [{ scope: { name: 't' }, spans }] });
  }
  return out;
}

function eve(): string {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return [
    JSON.stringify({ timestamp: iso(T0 + 2001 * 1000 + 300), event_type: 'alert', src_ip: '10.0.4.9', src_port: 1, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'metadata', severity: 2 } }),
    ...Array.from({ length: 30 }, (_, k) => JSON.stringify({ timestamp: iso(T0 + k * 97_000 + 50), event_type: 'alert', src_ip: `10.0.${k % 7}.9`, src_port: 1, dest_ip: '192.0.2.50', dest_port: 443, proto: 'TCP', alert: { signature: 'telemetry', severity: 3 } })),
  ].join('\n') + '\n';
}

/** The whole result but what may differ by design (timings, notes, the thread count). */
const whole = (r: InvestigationResult): string => JSON.stringify({ ...r, timings: undefined, notes: undefined, options: { ...r.options, jobs: undefined } });
const REREAD = /did not join up/;

async function oneAndMany(dir: string, file: string, text: string): Promise<{ one: InvestigationResult; many: InvestigationResult }> {
  const { investigate } = await import('../src/investigate/investigate.js');
  writeFileSync(join(dir, file), text);
  const base = { logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, file), format: 'otlp-json' }], rules: 'off' as const };
  const one = await investigate({ ...base, jobs: 1 });
  const many = await investigate({ ...base, jobs: 3, parallelMinBytes: 1 });
  assert.ok(many.notes.some((n) => /traces read by \d+ worker threads/.test(n)), `${file}: ${many.notes.join('; ')}`);
  assert.equal(whole(many), whole(one), `${file}: the result read by three threads equals the one-thread result`);
  return { one, many };
}

test('one OTLP document (compact, pretty-printed, several concatenated or in an array) is cut at element starts and read in parallel exactly as one thread reads it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-otlp-ranges-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'eve.json'), eve());
  const compact = `{"resourceSpans":[\n${resources().map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
  // Pretty-printed, with one span missing its start time far into the file: its bad-span report must name its true line.
  const pretty = JSON.stringify({ resourceSpans: resources({ badSpan: 2605 }) }, null, 2) + '\n';
  // Several documents: concatenated (pretty-printed, so not JSON lines), and inside one top-level array.
  const rs = resources();
  const concatenated = [rs.slice(0, 100), rs.slice(100)].map((part) => JSON.stringify({ resourceSpans: part }, null, 1)).join('\n') + '\n';
  const array = JSON.stringify([{ resourceSpans: rs.slice(0, 150) }, { resourceSpans: rs.slice(150) }], null, 1) + '\n';
  for (const [file, text] of [['compact.json', compact], ['pretty.json', pretty], ['concatenated.json', concatenated], ['array.json', array]] as const) {
    const { one, many } = await oneAndMany(dir, file, text);
    const ranges = await documentRanges(join(dir, file), 6);
    assert.ok(ranges && ranges.length >= 4, `${file}: cut into ${ranges?.length} ranges`);
    for (const r of ranges.slice(1)) assert.match(text.slice(r.start, r.start + 40), /^\{\s*"resource"\s*:/, `${file}: a cut at an element start`);
    assert.equal(ranges.at(-1)!.end, Buffer.byteLength(text));
    assert.ok(!many.notes.some((n) => REREAD.test(n)), `${file}: read in parallel, not again whole: ${many.notes.join('; ')}`);
    assert.equal(one.counts.toolCalls, file === 'pretty.json' ? 2999 : 3000, file);
    assert.ok(one.incidents.some((i) => i.category === 'metadata_access' && one.calls[i.attributed[0]!.call]!.tool_call_id === 'c2001'), file);
    if (file === 'pretty.json') {
      const issue = many.inputs.traces[0]!.issues[0]!;
      const lines = text.split('\n');
      // The reported line is the span's opening line: the object holding spanId s2605 starts there.
      const at = lines.findIndex((l) => l.includes('"spanId": "s2605"'));
      assert.ok(issue.line < at + 1 && issue.line > at - 5 && lines[issue.line - 1]!.trim() === '{', `bad span reported at line ${issue.line} (spanId on ${at + 1}): ${issue.error}`);
    }
  }
});

test('a document that only looks cuttable (decoy element starts, truncated, junk after it) is read again whole, with the one-thread result', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-otlp-ranges-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'eve.json'), eve());
  const decoy = `{"resourceSpans":[\n${resources({ decoy: true }).map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
  const good = `{"resourceSpans":[\n${resources().map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
  const cases: [string, string][] = [
    ['decoy.json', decoy],
    ['truncated.json', good.slice(0, Math.floor(good.length * 0.8))],
    ['junk.json', `${good}this is not JSON\n`],
  ];
  for (const [file, text] of cases) {
    const { one, many } = await oneAndMany(dir, file, text);
    assert.ok(many.notes.some((n) => REREAD.test(n)), `${file}: read again whole: ${many.notes.join('; ')}`);
    assert.ok(one.counts.toolCalls > 2000, `${file}: ${one.counts.toolCalls} calls`);
  }
  // The decoy is taken for an element start by the cutter (so the check above is what saved the result).
  const ranges = await documentRanges(join(dir, 'decoy.json'), 6);
  assert.ok(ranges?.slice(1).some((r) => readFileSync(join(dir, 'decoy.json'), 'latin1').startsWith('{"resource":"x"}', r.start)), 'a cut landed on a decoy');
  // Truncated: the break is reported as one thread reports it.
  const trunc = await oneAndMany(dir, 'truncated.json', cases[1]![1]);
  assert.ok(trunc.many.inputs.traces[0]!.issues.some((i) => /truncated/.test(i.error)), JSON.stringify(trunc.many.inputs.traces[0]!.issues));
});
