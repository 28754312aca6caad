// Why: `corral investigate` must handle a fleet's worth of logs on a 2-core machine: 10 M tool
// calls and 1 M firewall records end to end in ≤ 60 s with ≤ 2 GB peak memory, and within 2×
// of the time DuckDB needs merely to count the rows of the same files. This benchmark
// generates the inputs with the fleet simulator (cached under /tmp, reused by later runs),
// runs `corral investigate` as a child process (wall time, CPU time and peak RSS from
// /usr/bin/time -v, or /proc polling without it), times DuckDB counting the rows of the same
// files in the same run, prints both and the ratio, and a growth table (time and memory
// from 10 k to 1 M tool calls, or to 10 M with --full). Lab/.test addresses only; no sockets.
//
// Run: node dist/bench/investigate-speed.js            (quick: growth 10k…1M, side-by-side at 1M)
//      node dist/bench/investigate-speed.js --full     (adds 10 M calls + 1 M records; ~5 min the first time)
//      options: --cache DIR (default /tmp/corral-inv-speed) --jobs N --sizes 10000,100000
//               --repeat N: run investigate and the DuckDB count N times each, alternating, and
//               report medians and the median of the per-pair ratios (steadier on a shared machine)
import { existsSync, readFileSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, nowMs, printTable } from './bench-util.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..');
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
const full = argv.includes('--full') && argv[0] !== '--child';
const cache = opt('cache') ?? '/tmp/corral-inv-speed';
const jobs = opt('jobs');
const repeat = Math.max(1, Number(opt('repeat') ?? 1));
const TIME = '/usr/bin/time';

/** Records per tool call in the generated fleets: 1 M firewall records per 10 M calls. */
const RECORDS_PER_CALL = 0.1;

interface RunStats { wallS: number; cpuS: number; rssMb: number; code: number }

function run(cmd: string, args: string[], cwd?: string): Promise<RunStats & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const useTime = existsSync(TIME);
    const t0 = nowMs();
    const child = useTime ? spawn(TIME, ['-v', cmd, ...args], { cwd }) : spawn(cmd, args, { cwd });
    let stdout = '', stderr = '', peakKb = 0;
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 1 << 20) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); });
    // Without /usr/bin/time: poll the child's resident set (coarse, may miss a short peak).
    const poll = useTime ? undefined : setInterval(() => {
      try { const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8')); if (m) peakKb = Math.max(peakKb, Number(m[1])); } catch { /* gone */ }
    }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const wallS = (nowMs() - t0) / 1000;
      const num = (re: RegExp): number => Number(re.exec(stderr)?.[1] ?? NaN);
      const rssKb = useTime ? num(/Maximum resident set size \(kbytes\): (\d+)/) : peakKb;
      const cpuS = useTime ? num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/) : NaN;
      resolve({ wallS, cpuS, rssMb: rssKb / 1024, code: code ?? -1, stdout, stderr });
    });
  });
}

interface Fleet { dir: string; calls: number; records: number; logs: { path: string; format: string }[]; traces: string; bytes: number }

async function ensureFleet(calls: number): Promise<Fleet> {
  const records = Math.round(calls * RECORDS_PER_CALL);
  const dir = join(cache, `tc${calls}-r${records}`);
  const truthPath = join(dir, 'ground-truth.json');
  if (!existsSync(truthPath)) {
    process.stderr.write(`generating ${calls.toLocaleString('en')} tool calls + ${records.toLocaleString('en')} records into ${dir} …\n`);
    const g = await run(process.execPath, [join(dist, 'src/investigate/generate/cli.js'), '--out', dir, '--tool-calls', String(calls), '--records', String(records), '--seed', '7']);
    if (g.code !== 0) throw new Error(`generator failed: ${g.stderr.slice(-2000)}`);
  }
  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as { files: { network: { path: string; format: string }[]; traces: { path: string; format: string }[] } };
  const logs = truth.files.network.map((f) => ({ path: join(dir, f.path), format: f.format }));
  const traces = join(dir, truth.files.traces.find((t) => t.format === 'canonical-jsonl')!.path);
  const bytes = [...logs.map((l) => l.path), traces].reduce((n, p) => n + statSync(p).size, 0);
  return { dir, calls, records, logs, traces, bytes };
}

/** `corral investigate` on a fleet, as a child process (the same entry the CLI dispatches to). */
async function investigateRun(f: Fleet): Promise<RunStats & { incidents: number }> {
  const args = [fileURLToPath(import.meta.url), '--child', ...f.logs.map((l) => l.path), '--traces', f.traces, '--quiet'];
  if (jobs) args.push('--jobs', jobs);
  const r = await run(process.execPath, args);
  if (r.code !== 0 && r.code !== 3) throw new Error(`investigate failed (${r.code}): ${r.stderr.slice(-2000)}`);
  // The terminal summary (the default output) says "Incidents: N likely …".
  const incidents = Number(/Incidents: (\d+) likely/.exec(r.stdout)?.[1] ?? 0);
  return { ...r, incidents };
}

/** DuckDB counting the rows of the same files (its fastest reader for each format). */
async function duckCount(f: Fleet): Promise<{ seconds: number; rows: number; parseTracesS: number }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const q = (p: string): string => `'${p.replace(/'/g, "''")}'`;
  const sql = (l: { path: string; format: string }): string => {
    switch (l.format) {
      case 'suricata-eve': return `select count(*) from read_json(${q(l.path)}, format='newline_delimited')`;
      case 'zeek-conn-tsv': return `select count(*) from read_csv(${q(l.path)}, delim='\t', comment='#', header=false, quote='', escape='', all_varchar=true)`;
      case 'vpc-flow': return `select count(*) from read_csv(${q(l.path)}, delim=' ', header=true, all_varchar=true)`;
      default: return `select count(*) from read_csv(${q(l.path)}, delim='\x01', header=false, quote='', escape='', columns={'l':'VARCHAR'})`;
    }
  };
  const t0 = nowMs();
  let rows = 0;
  for (const l of f.logs) rows += Number((await c.runAndReadAll(sql(l))).getRows()[0]![0]);
  rows += Number((await c.runAndReadAll(`select count(*) from read_json(${q(f.traces)}, format='newline_delimited')`)).getRows()[0]![0]);
  const seconds = (nowMs() - t0) / 1000;
  // For the engine choice: DuckDB parsing the trace columns the join needs (not just counting).
  const t1 = nowMs();
  await c.runAndReadAll(`select count(*), max(epoch_ms(ts::TIMESTAMPTZ)), max(epoch_ms(end_ts::TIMESTAMPTZ)), count(distinct ip), count(distinct episode)
    from read_json(${q(f.traces)}, format='newline_delimited', columns={episode:'VARCHAR', ts:'VARCHAR', end_ts:'VARCHAR', ip:'VARCHAR'})`);
  return { seconds, rows, parseTracesS: (nowMs() - t1) / 1000 };
}

async function main(): Promise<void> {
  const sizes = opt('sizes')?.split(',').map(Number) ?? (full ? [10_000, 100_000, 1_000_000, 10_000_000] : [10_000, 100_000, 1_000_000]);
  const growth: (string | number)[][] = [];
  const side: (string | number)[][] = [];
  let last: { ratio: number; wall: number; rss: number; calls: number } | undefined;
  for (const n of sizes) {
    const f = await ensureFleet(n);
    // Alternate the two so that both see the same background load; keep the medians.
    const invs: Awaited<ReturnType<typeof investigateRun>>[] = [];
    const ducks: Awaited<ReturnType<typeof duckCount>>[] = [];
    const ratios: number[] = [];
    for (let k = 0; k < repeat; k++) {
      invs.push(await investigateRun(f));
      ducks.push(await duckCount(f));
      ratios.push(invs[k]!.wallS / ducks[k]!.seconds);
    }
    const inv = medianBy(invs, (r) => r.wallS);
    const duck = medianBy(ducks, (r) => r.seconds);
    const ratio = median(ratios);
    growth.push([n.toLocaleString('en'), f.records.toLocaleString('en'), fmt(f.bytes / 1e6, 0), fmt(inv.wallS, 2), fmt(inv.cpuS, 1), fmt(inv.rssMb, 0), fmt((inv.wallS * 1e6) / n, 2), inv.incidents]);
    side.push([n.toLocaleString('en'), fmt(inv.wallS, 2), fmt(duck.seconds, 2), `${fmt(ratio, 1)}×${repeat > 1 ? ` (${ratios.map((r) => fmt(r, 1)).join(', ')})` : ''}`, duck.rows.toLocaleString('en'), fmt(duck.parseTracesS, 2)]);
    last = { ratio, wall: inv.wallS, rss: inv.rssMb, calls: n };
  }
  printTable('corral investigate: growth (end to end as a child process; peak RSS includes worker threads)', growth,
    ['tool calls', 'fw records', 'input MB', 'wall s', 'cpu s', 'peak RSS MB', 'µs/call', 'likely incidents']);
  printTable(`side by side: corral investigate vs DuckDB counting the rows of the same files (same run${repeat > 1 ? `, medians of ${repeat} alternating runs` : ''})`, side,
    ['tool calls', 'investigate s', 'duckdb count s', 'ratio', 'rows counted', 'duckdb parse trace columns s']);
  if (last) {
    const goals = last.calls >= 10_000_000
      ? `10 M goals: ≤ 60 s ${last.wall <= 60 ? 'met' : 'NOT met'} (${fmt(last.wall, 1)} s), ≤ 2 GB ${last.rss <= 2048 ? 'met' : 'NOT met'} (${fmt(last.rss, 0)} MB), ≤ 2× DuckDB count ${last.ratio <= 2 ? 'met' : 'NOT met'} (${fmt(last.ratio, 1)}×)`
      : `largest run ${last.calls.toLocaleString('en')} calls: ${fmt(last.wall, 1)} s, ${fmt(last.rss, 0)} MB, ${fmt(last.ratio, 1)}× DuckDB count (run --full for the 10 M goals)`;
    console.log(`\n${goals}`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The element with the median key (the lower middle one for an even count). */
function medianBy<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
}

if (argv[0] === '--child') {
  // The child: exactly what `corral investigate ARGS` runs.
  const { investigateCommand } = await import('../src/cli/investigate-command.js');
  const { processIO } = await import('../src/cli/io.js');
  process.exitCode = await investigateCommand(argv.slice(1), processIO);
} else {
  main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
}
