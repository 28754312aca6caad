// Why: the fast trace scanner (src/investigate/analysis/trace-scan.ts) reads most lines from the
// native JSON Lines scanner's index instead of JSON.parse. These tests prove it builds exactly
// the linker state the full parser builds (counts, candidates with their lines, episode
// windows, exposure, bad lines with file:line) on traces that break its assumptions: field
// order and length changes, episodes switching, escaped quotes and UTF-8 in commands, CRLF, bad
// lines (also one corrupted only inside its command text), duplicate keys, Python-style
// spacing, and an episode that moves from an IP without alerts to one with alerts (its run,
// host and sandbox must come from its first line although the fast path opened it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeLinkStates, SpanLinker, type KeyAlertsInput, type LinkState } from '../src/investigate/analysis/linker.js';
import { scanCanonical } from '../src/investigate/analysis/trace-scan.js';
import { canonicalTraceReader } from '../src/investigate/inputs/traces-canonical.js';
import { investigate } from '../src/investigate/investigate.js';

const T0 = Date.UTC(2024, 4, 1, 12);
const OPTS = { skewMs: 2000, lagMs: 600_000, graceMs: 5000 };
const iso = (ms: number): string => new Date(ms).toISOString();

/** A deterministic trace with every kind of irregularity, and alert keys that make some calls candidates. */
function fixture(): { lines: string[]; keys: KeyAlertsInput[] } {
  const lines: string[] = [];
  let t = T0;
  const ips = ['10.0.0.5', '10.0.1.77', '10.0.0.5', '10.9.9.9', '10.0.12.130'];
  for (let e = 0; e < 60; e++) {
    const ip = ips[e % ips.length]!;
    const host = e % 4 === 0 ? 'h-1' : `host-${e}`;
    for (let step = 1; step <= 12; step++) {
      const start = t, end = t + 500 + ((e * 7 + step * 13) % 4000);
      t = end + 3000;
      const command = step === 3 ? `echo "quoted \\"${e}\\"" && nohup ./miner --pool x.test &` : step === 5 ? `python -c 'print("héllo ✓ ${e}")'` : step === 7 ? 'curl -s http://169.254.169.254/latest/meta-data/' : `ls -la ${'x'.repeat(step)}`;
      const o: Record<string, unknown> = { run: 'r1', episode: `ep-${e}`, step, tool_call_id: `ep-${e}-c${step}`, tool: step % 2 ? 'bash' : 'python', command, ts: iso(start), end_ts: iso(end), host, sandbox: `${host}-s1`, ip };
      let line = JSON.stringify(o);
      if (e === 7 && step === 4) line = line.replace(/,/g, ', ').replace(/":/g, '": '); // Python's json.dumps spacing
      if (e === 9 && step === 2) line = line.slice(0, 60); // torn line in the middle
      if (e === 11 && step === 6) line = JSON.stringify({ ...o, ts: 1714564800 + step }); // epoch seconds
      if (e === 13 && step === 8) line = JSON.stringify({ ...o, end_ts: iso(start - 10) }); // end before start
      if (e === 15) line = JSON.stringify({ ts: o.ts, end_ts: o.end_ts, episode: o.episode, command: o.command, ip: o.ip }); // other key order
      if (e === 17 && step === 9) line += '\r';
      if (e === 19 && step === 3) line = line.replace('"ip":', '"ip":"10.0.0.5","ip":'); // duplicate key: the last one counts
      if (e === 21 && step === 10) line = JSON.stringify({ ...o, ips: ['10.0.1.77', '10.0.0.5'] });
      if (e === 23 && step === 11) line = line.replace(`"episode":"ep-${e}"`, '"episode":""');
      if (e === 25 && step === 5) lines.push('');
      if (e === 27 && step === 4) line = line.replace('ls -la', 'ls\t-la'); // a raw tab inside the command: invalid JSON
      lines.push(line);
    }
  }
  // Alerts on two IPs (inside some calls, in the lag after others) and one host.
  const ts = (xs: number[]): Float64Array => Float64Array.from(xs.sort((a, b) => a - b));
  const span = t - T0;
  const keys: KeyAlertsInput[] = [
    { kind: 'ip', value: '10.0.0.5', ts: ts(Array.from({ length: 40 }, (_, i) => T0 + Math.floor((span * i) / 40) + 700)) },
    { kind: 'ip', value: '10.0.12.130', ts: ts(Array.from({ length: 12 }, (_, i) => T0 + Math.floor((span * i) / 12) + 9000)) },
    { kind: 'host', value: 'h-1', ts: ts([T0 + 5000]) },
  ];
  return { lines, keys };
}

/** A linker state in a comparable form (exposure sorted, candidates by number). */
function norm(s: LinkState): unknown {
  return {
    spans: s.spans,
    candidates: s.candidates.map((c) => ({ n: c.n, id: c.span.tool_call_id, line: c.span.line, command: c.span.command, keys: c.keys, detached: c.detached, start: c.span.start, end: c.span.end, ips: c.span.ips })),
    episodes: s.episodes.filter((e) => e.keys.length > 0).map((e) => ({ episode: e.episode, run: e.run, host: e.host, sandbox: e.sandbox, start: e.start, end: e.end, calls: e.calls, keys: e.keys })).sort((a, b) => (a.episode < b.episode ? -1 : 1)),
    episodeCount: s.episodeCount,
    exposure: s.exposure.map((x) => ({ key: x.key, starts: [...x.starts].sort((a, b) => a - b), ends: [...x.ends].sort((a, b) => a - b) })).sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
}

test('fast scanner: the same linker state and bad-line reports as the full parser, on an irregular trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-'));
  try {
    const { lines, keys } = fixture();
    const path = join(dir, 'trace.jsonl');
    writeFileSync(path, lines.join('\n') + '\n{"episode":"ep-last","command":"ls","ts":"2024-05-01T1'); // torn last line
    const full = new SpanLinker(keys, undefined, OPTS);
    const fullStats = await canonicalTraceReader.read(path, (s) => full.add(s));
    const fast = new SpanLinker(keys, undefined, OPTS);
    const r = await scanCanonical(path, fast, { assumedDurationMs: 30_000 });
    assert.ok(r.fast > lines.length / 2, `most lines read fast (${r.fast} of ${lines.length})`);
    assert.equal(r.lines, lines.length + 1);
    // ep-21 starts on a quiet IP and gains one with alerts (the "ips" line): the fast path opened
    // it and took run, host and sandbox from its first line, as the full parser does.
    const ep21 = fast.state().episodes.find((e) => e.episode === 'ep-21');
    assert.deepEqual([ep21?.run, ep21?.host, ep21?.sandbox], ['r1', 'host-21', 'host-21-s1']);
    assert.deepEqual(norm(fast.state()), norm(full.state()));
    assert.equal(r.stats.records, fullStats.records);
    assert.equal(r.stats.bad, fullStats.bad);
    assert.deepEqual(r.stats.issues, fullStats.issues);
    assert.equal(r.stats.tsNote, fullStats.tsNote);
    assert.ok(fullStats.bad >= 4, 'the fixture has bad lines');
    assert.ok(full.state().candidates.length >= 10, 'the fixture has candidates');
    // The bad lines are named where they are.
    const torn = lines.findIndex((l) => l.length === 60) + 1;
    assert.ok(fullStats.issues.some((i) => i.line === torn && /invalid JSON/.test(i.error)));
    assert.ok(fullStats.issues.some((i) => i.line === lines.length + 1 && /truncated last line/.test(i.error)));
    const tab = lines.findIndex((l) => l.includes('ls\t-la')) + 1;
    assert.ok(tab > 0 && fullStats.issues.some((i) => i.line === tab && /invalid JSON/.test(i.error)), 'a line corrupted only inside its command is reported (by both readers: compared above)');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('fast scanner: line ranges read without a line count report true line numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-'));
  try {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      lines.push(i === 2222 ? '{"episode":"ep-1","command":' : JSON.stringify({ episode: `ep-${Math.floor(i / 10)}`, command: 'ls', ts: iso(T0 + i * 1000), end_ts: iso(T0 + i * 1000 + 300), ip: `10.1.${i % 3}.1` }));
    }
    writeFileSync(join(dir, 'trace.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'eve.json'), JSON.stringify({ timestamp: iso(T0 + 2500 * 1000 + 100), event_type: 'alert', src_ip: '10.1.1.1', dest_ip: '192.0.2.8', dest_port: 443, proto: 'TCP', alert: { signature: 'x', severity: 2 } }) + '\n');
    const base = { logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, 'trace.jsonl') }], rules: 'off' as const };
    const one = await investigate({ ...base, jobs: 1 });
    const many = await investigate({ ...base, jobs: 4, parallelMinBytes: 1 });
    assert.deepEqual(many.inputs.traces[0]!.issues.map((i) => i.line), [2223]);
    assert.deepEqual(many.calls.map((c) => [c.tool_call_id, c.line]).sort(), one.calls.map((c) => [c.tool_call_id, c.line]).sort());
    assert.ok(one.calls.some((c) => c.line === 2501), 'the call at line 2501 is linked and named by its line');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('an episode that moves from an IP without alerts to one with alerts keeps the run, host and sandbox of its first call, in one reading', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-'));
  try {
    const lines: string[] = [];
    // ep-m runs 20 calls on a quiet IP, then 5 on an IP with alerts: the fast scanner opens it and
    // must take host (and sandbox or container) from its first line, as the full parser does. Its
    // run is 7 throughout (an episode is run + name): a number on the first line (JavaScript
    // formats it), the string "7" on the others (the native reader's).
    for (let i = 0; i < 3; i++) lines.push(JSON.stringify({ episode: 'ep-a', host: 'h-a', command: 'make', ts: iso(T0 - 600_000 + i * 60_000), end_ts: iso(T0 - 600_000 + i * 60_000 + 2000), ip: '10.2.0.9' }));
    for (let i = 0; i < 25; i++) lines.push(JSON.stringify({ episode: 'ep-m', ...(i === 0 ? { run: 7, host: 'h-m', container: 'c-\u00e9' } : { run: '7', host: 'h-later', sandbox: 's-later' }), command: 'make', ts: iso(T0 + i * 60_000), end_ts: iso(T0 + i * 60_000 + 2000), ip: i < 20 ? '10.2.0.1' : '10.2.0.2' }));
    writeFileSync(join(dir, 'trace.jsonl'), lines.join('\n') + '\n');
    const alertAt = T0 + 22 * 60_000 + 500;
    writeFileSync(join(dir, 'eve.json'), JSON.stringify({ timestamp: iso(alertAt), event_type: 'alert', src_ip: '10.2.0.2', dest_ip: '192.0.2.9', dest_port: 3333, proto: 'TCP', alert: { signature: 'miner', severity: 1 } }) + '\n');
    const r = await investigate({ logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, 'trace.jsonl') }], rules: 'off', jobs: 1 });
    // ep-m's first call has a numeric run (JavaScript formats it: the full parser reads that line)
    assert.ok(r.notes.some((n) => /26 of 28 tool calls read from the native scanner/.test(n)), r.notes.join('; '));
    const ep = r.episodes.find((e) => e.episode === 'ep-m');
    assert.ok(ep, 'the episode is involved');
    assert.equal(ep.start, T0, 'its window includes the calls on the quiet IP');
    assert.equal(ep.calls, 25);
    assert.deepEqual([ep.run, ep.host, ep.sandbox], ['7', 'h-m', 'c-é'], 'run, host and sandbox (from container) come from its first call');
    assert.equal(r.counts.toolCalls, 28);
    assert.equal(r.counts.episodes, 2);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('worker states merge episodes by their exact names, also names with newlines (compact states)', async () => {
  // Episode names come from JSON strings and may hold any character; the compact state of a
  // worker once joined the names of its episodes without alert keys with '\n', which split
  // "a\nb" into "a" and "b" at the merge (three episodes instead of one; "b" merged into a
  // keyed episode of that name).
  const key: KeyAlertsInput = { kind: 'ip', value: '10.0.0.9', ts: Float64Array.from([T0 + 3_600_000]) };
  const span = (episode: string, ip: string, start: number) => ({ episode, command: 'ls', start, end: start + 1000, endKnown: true, ips: [ip], tool_call_id: 'c', file: 't.jsonl', line: 1 });
  const a = new SpanLinker([key], undefined, OPTS, 0), b = new SpanLinker([key], undefined, OPTS, 100);
  a.add(span('a\nb', '10.0.0.1', T0));
  a.add(span('plain', '10.0.0.1', T0 + 10));
  b.add(span('a\nb', '10.0.0.2', T0 + 5000));
  b.add({ ...span('b', '10.0.0.9', T0 + 6000), run: 'r1', host: 'h-1', sandbox: 'h-1-s2' }); // keyed: under an IP with alerts
  const merged = await mergeLinkStates([a.state(true), b.state(true)]);
  assert.equal(merged.episodeCount, 3, 'episodes "a\\nb", "plain" and "b"');
  const eb = merged.episodes.find((e) => e.episode === 'b');
  assert.equal(eb?.calls, 1, 'the keyed episode "b" got no calls of "a\\nb"');
  // keyed episodes travel as columns (EpisodeColumns): every field comes back
  assert.deepEqual(eb?.keys, [{ key: 'ip:10.0.0.9', from: -Infinity, to: Infinity }]);
  assert.equal(eb?.start, T0 + 6000);
  assert.equal(eb?.end, T0 + 7000);
  assert.deepEqual([eb?.run, eb?.host, eb?.sandbox], ['r1', 'h-1', 'h-1-s2']);
  assert.equal(merged.spans, 4);
});

test('native linker: calls and episodes read by both readers come out as one reader gives them (seeded random traces)', async () => {
  // Episodes interleave and change IPs; alerts fall inside calls (full parser), only after the
  // grace (the command decides: "nohup … &" or not), or nowhere; some first lines have fields
  // only JavaScript reads (a numeric run, an escaped host), some lines are bad or use
  // duration_ms. Candidate numbers, episode windows, run/host/sandbox of first calls, exposure,
  // counts and bad lines must equal the full parser's, whichever reader took each line.
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-'));
  try {
    for (const seed of [1, 2, 3, 4]) {
      let x = seed * 7919;
      const rnd = (n: number): number => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
      const ips = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
      const lines: string[] = [];
      let t = T0;
      const active = [0, 1, 2];
      let nextEp = 3;
      // Two traces span several scan batches (4096 lines), so commands judged in one batch meet
      // the native linker's memory of them in the next.
      for (let i = 0; i < (seed <= 2 ? 12_000 : 2500); i++) {
        if (rnd(40) === 0) active[rnd(3)] = nextEp++;
        const e = active[rnd(3)]!;
        const start = t, end = t + 200 + rnd(3000);
        t += 500 + rnd(2000);
        const o: Record<string, unknown> = { run: rnd(30) === 0 ? 7 : `r${e % 3}`, episode: `ep-${e}`, command: rnd(5) === 0 ? `nohup ./w${rnd(3)} &` : `ls ${rnd(9)}`, ts: iso(start), host: rnd(25) === 0 ? 'h\\u0041' : `h-${rnd(3)}`, ip: ips[(e + (rnd(10) === 0 ? 1 : 0)) % 4] };
        if (rnd(3) === 0) o.duration_ms = end - start; else o.end_ts = iso(end);
        if (rnd(4) === 0) o.sandbox = `s-${e}`; else if (rnd(3) === 0) o.container = `c-${e}`;
        // Rarer shapes, each of which one of the readers must hand to the other or reject alike.
        switch (rnd(60)) {
          case 0: o.episode = `ép-${e}`; break; // UTF-8 in the name
          case 1: o.ip = `${o.ip as string},10.0.0.9`; break; // a list in "ip"
          case 2: o.episode = '-'; break; // no episode
          case 3: o.ts = Math.floor(start / 1000); break; // epoch seconds
          case 4: delete o.end_ts; o.duration_ms = -5; break; // a bad duration
          case 5: delete o.end_ts; delete o.duration_ms; break; // no end: assumed
          case 6: o.end_ts = null; o.duration_ms = 10; break;
          case 7: o.ts = '2024-05-01 12:00:00'; break; // no zone
          case 8: o.host = ''; o.run = '-'; break; // empty values are absent
          case 9: o.sandbox = 12; break; // a number JavaScript formats
          case 10: o.ts = iso(Date.UTC(1990, 0, 1)); o.end_ts = iso(Date.UTC(1990, 0, 1) + 5); break; // implausible
          case 11: o.ips = ['10.0.0.3']; break;
          case 12: o.end_ts = iso(start - 1000); break; // end before start
        }
        let line = JSON.stringify(o).replace('"h\\\\u0041"', '"h\\u0041"');
        if (rnd(200) === 0) line = line.slice(0, 40);
        lines.push(line);
      }
      // Dense alerts on two IPs: some inside calls, many between calls (after some calls' grace).
      const alerts = (n: number, off: number): Float64Array => Float64Array.from(Array.from({ length: n }, (_, i) => T0 + Math.floor(((t - T0) * i) / n) + off).sort((a, b) => a - b));
      const keys: KeyAlertsInput[] = [{ kind: 'ip', value: '10.0.0.1', ts: alerts(300, 350) }, { kind: 'ip', value: '10.0.0.3', ts: alerts(120, 9000) }, { kind: 'host', value: 'h-2', ts: alerts(5, 100) }];
      const path = join(dir, `trace-${seed}.jsonl`);
      writeFileSync(path, lines.join('\n') + '\n');
      const full = new SpanLinker(keys, undefined, OPTS, 1000);
      const fullStats = await canonicalTraceReader.read(path, (s) => full.add(s));
      const fast = new SpanLinker(keys, undefined, OPTS, 1000);
      const r = await scanCanonical(path, fast, { assumedDurationMs: 30_000 });
      assert.ok(r.fast > lines.length / 3 && r.fast < lines.length, `both readers took lines (seed ${seed}: ${r.fast} of ${lines.length} natively)`);
      assert.deepEqual(norm(fast.state()), norm(full.state()), `seed ${seed}`);
      const keyedOrder = (st: LinkState): string[] => st.episodes.filter((e) => e.keys.length).map((e) => e.episode);
      assert.deepEqual(keyedOrder(fast.state()), keyedOrder(full.state()), `seed ${seed}: episodes in the order of their first call`);
      assert.deepEqual(keyedOrder(await mergeLinkStates([fast.state(true)])), keyedOrder(await mergeLinkStates([full.state(true)])), `seed ${seed}: the same after a compact state`);
      // Compact states' exposure is sorted (the merge and the enrichment's union length rely on it): exactly the full parser's.
      assert.deepEqual(fast.state(true).exposure, full.state(true).exposure, `seed ${seed}: compact exposure`);
      assert.ok(full.state().candidates.some((c) => c.detached) && full.state().candidates.length > 20, 'the trace has candidates, some detached');
      // Every keyed episode's run/host/sandbox, also through the compact state and the merge.
      const meta = (s: LinkState): string[] => s.episodes.filter((e) => e.keys.length).map((e) => JSON.stringify([e.episode, e.run, e.host, e.sandbox, e.start, e.end, e.calls, e.keys.map((k) => k.key).sort()])).sort();
      assert.deepEqual(meta(await mergeLinkStates([fast.state(true)])), meta(await mergeLinkStates([full.state(true)])));
      assert.equal((await mergeLinkStates([fast.state(true)])).episodeCount, full.state().episodeCount);
      assert.equal(r.stats.records, fullStats.records);
      assert.deepEqual(r.stats.issues, fullStats.issues);
      assert.equal(r.stats.tsNote, fullStats.tsNote, 'timestamp notes (units, zones, implausible) alike');
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('native linker: an episode whose first call the native linker read keeps its place before episodes the full parser met first', async () => {
  // Line 1: ep-A on a quiet IP (taken natively). Line 2: ep-B, line 3: ep-A, both candidates on an
  // IP with alerts (the full parser). Folded, ep-A's first call is line 1, so it comes before ep-B.
  const dir = mkdtempSync(join(tmpdir(), 'corral-scan-'));
  try {
    const line = (episode: string, ip: string, at: number): string => JSON.stringify({ episode, command: 'ls', ts: iso(T0 + at), end_ts: iso(T0 + at + 1000), ip, host: `h-${episode}` });
    const path = join(dir, 't.jsonl');
    writeFileSync(path, [line('ep-A', '10.3.0.1', 0), line('ep-B', '10.3.0.9', 10_000), line('ep-A', '10.3.0.9', 20_000)].join('\n') + '\n');
    const keys: KeyAlertsInput[] = [{ kind: 'ip', value: '10.3.0.9', ts: Float64Array.from([T0 + 10_500, T0 + 20_500]) }];
    const full = new SpanLinker(keys, undefined, OPTS);
    await canonicalTraceReader.read(path, (s) => full.add(s));
    const fast = new SpanLinker(keys, undefined, OPTS);
    const r = await scanCanonical(path, fast, { assumedDurationMs: 30_000 });
    assert.equal(r.fast, 1, 'line 1 natively, lines 2 and 3 by the full parser');
    const order = (s: LinkState): string[] => s.episodes.filter((e) => e.keys.length).map((e) => `${e.episode}/${e.host}/${e.start}`);
    assert.deepEqual(order(full.state()), [`ep-A/h-ep-A/${T0}`, `ep-B/h-ep-B/${T0 + 10_000}`]);
    assert.deepEqual(order(fast.state()), order(full.state()));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
