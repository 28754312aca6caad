// Why: `corral investigate` must read 10 M tool calls and 1 M firewall records in ≤ 60 s on
// 2 cores, so each input reader's throughput matters. This generates a fleet with the
// simulator (deterministic seed, lab/.test addresses only, no sockets), then times, per
// format, (1) the peer: node:readline + JSON.parse / String.split per line, (2) our bare line
// splitter, (3) the full reader (parse, validate, normalise, NetRecord/ToolCallSpan objects).
// Prints lines/s, MB/s and reader/peer ratios. Best of --reps runs; bounded by --max-seconds.
//
// Run: node dist/bench/investigate-readers.js [--tool-calls 200000] [--records 200000] [--reps 3] [--max-seconds 90] [--keep DIR]
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFleetFiles } from '../src/investigate/generate/index.js';
import { forEachLine } from '../src/investigate/inputs/lines.js';
import { netReader, traceReader, readPlacementsDetailed } from '../src/investigate/inputs/index.js';
import { fmt, nowMs, printTable } from './bench-util.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}
const keepAt = process.argv.indexOf('--keep');
const keep = keepAt >= 0 ? process.argv[keepAt + 1] : undefined;

async function readlinePeer(path: string, json: boolean): Promise<number> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0, x = 0;
  for await (const line of rl) {
    n++;
    if (json) { if (line[0] === '{') { try { x += Object.keys(JSON.parse(line) as object).length; } catch { /* bad line */ } } }
    else x += line.split(' ').length;
  }
  return n + (x & 0);
}

async function best(reps: number, deadline: number, f: () => Promise<unknown>): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = nowMs(); await f(); b = Math.min(b, nowMs() - t);
    if (Date.now() > deadline) break;
  }
  return b;
}

/** CSV and generic JSONL variants of the VPC file, to time the field-map readers on the same rows. */
function deriveGeneric(dir: string): { csv: string; jsonl: string } {
  const rows = readFileSync(join(dir, 'firewall/vpc-flow.log'), 'utf8').split('\n').slice(1).filter((l) => l.split(' ').length === 14);
  const csv = ['ts,src_ip,dst_ip,src_port,dst_port,protocol,action,bytes,interface'];
  const jsonl: string[] = [];
  for (const r of rows) {
    const f = r.split(' ');
    const iso = new Date(Number(f[10]) * 1000).toISOString();
    csv.push(`${iso},${f[3]},${f[4]},${f[5]},${f[6]},${f[7]},${f[12]},${f[9]},${f[2]}`);
    jsonl.push(JSON.stringify({ timestamp: iso, source: { ip: f[3], port: Number(f[5]) }, destination: { ip: f[4], port: Number(f[6]) }, network: { transport: 'tcp', bytes: Number(f[9]) }, event: { action: f[12] } }));
  }
  writeFileSync(join(dir, 'firewall/generic.csv'), csv.join('\n') + '\n');
  writeFileSync(join(dir, 'firewall/generic.jsonl'), jsonl.join('\n') + '\n');
  return { csv: join(dir, 'firewall/generic.csv'), jsonl: join(dir, 'firewall/generic.jsonl') };
}

async function main(): Promise<void> {
  const toolCalls = arg('tool-calls', 200_000), records = arg('records', 200_000), reps = arg('reps', 3);
  const deadline = Date.now() + arg('max-seconds', 90) * 1000;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'corral-bench-readers-'));
  let t = nowMs();
  const truth = await generateFleetFiles({ outDir: dir, toolCalls, records, seed: 42, otlp: true });
  const genMs = nowMs() - t;
  console.log(`generated ${truth.counts.toolCalls.toLocaleString('en-US')} tool calls and ${truth.counts.networkRecords.toLocaleString('en-US')} network records in ${fmt(genMs / 1000, 1)} s (${dir})`);
  const g = deriveGeneric(dir);
  const inputs: { label: string; path: string; kind: 'net' | 'trace' | 'placements'; format: string; json: boolean }[] = [
    ...truth.files.network.map((f) => ({ label: f.format, path: join(dir, f.path), kind: 'net' as const, format: f.format, json: f.format === 'suricata-eve' })),
    { label: 'csv (field map)', path: g.csv, kind: 'net', format: 'csv', json: false },
    { label: 'jsonl (field map)', path: g.jsonl, kind: 'net', format: 'jsonl', json: true },
    ...truth.files.traces.map((f) => ({ label: f.format, path: join(dir, f.path), kind: 'trace' as const, format: f.format, json: true })),
    { label: 'placements', path: join(dir, truth.files.placements), kind: 'placements', format: 'placements', json: false },
  ];
  const rows: (string | number)[][] = [];
  for (const inp of inputs) {
    if (Date.now() > deadline) { rows.push([inp.label, 'skipped (time budget)', '', '', '', '', '']); continue; }
    const mb = statSync(inp.path).size / 1e6;
    let lines = 0, recs = 0;
    const split = await best(reps, deadline, async () => { lines = (await forEachLine(inp.path, () => {})).lines; });
    const peer = inp.format === 'otlp-json' ? NaN : await best(reps, deadline, () => readlinePeer(inp.path, inp.json));
    const reader = await best(reps, deadline, async () => {
      recs = 0;
      if (inp.kind === 'net') recs = (await netReader(inp.format).read(inp.path, () => {})).records;
      else if (inp.kind === 'trace') recs = (await traceReader(inp.format).read(inp.path, () => {})).records;
      else recs = (await readPlacementsDetailed(inp.path)).placements.length;
    });
    rows.push([inp.label, fmt(mb, 1), lines.toLocaleString('en-US'), recs.toLocaleString('en-US'),
      `${Math.round(lines / (split / 1000)).toLocaleString('en-US')}`,
      Number.isNaN(peer) ? 'n/a' : `${Math.round(lines / (peer / 1000)).toLocaleString('en-US')}`,
      `${Math.round(lines / (reader / 1000)).toLocaleString('en-US')} (${fmt(mb / (reader / 1000), 0)} MB/s)`,
      Number.isNaN(peer) ? 'n/a' : `${fmt(peer / reader)}x`]);
  }
  printTable(`Reader throughput, best of ${reps} (lines/s; single thread)`, rows,
    ['format', 'MB', 'lines', 'records', 'splitter only', 'peer: readline+parse', 'corral reader', 'reader vs peer']);
  console.log('\npeer = node:readline with JSON.parse (JSON formats) or String.split(" ") (text formats); >1x means the reader (which does more work) is faster.');
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
