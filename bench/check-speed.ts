// Why: command screening runs before every tool call, so its cost must be negligible next to the
// tool call itself. This measures throughput (commands/s) and per-command latency (p50/p99/max)
// of CommandChecker.check over the distinct benign agent commands, on one thread, after a warm-up
// pass, and splits the cost between the analyzer and the rule engine. Goals (issue §5): ≥ 10,000
// commands/s and p99 ≤ 2 ms. Peer for scale: sandbox-runtime's library adds ~27 ms per command.
// Throughput comes from untimed passes with the result cache off (every check parses); a final
// row replays the log in order, repeats included, with the default cache. Bounded: at most --rounds timed passes (default 3) and --seconds of timing (default 20).
// Usage: node dist/bench/check-speed.js [--rounds N] [--seconds S] [--json]
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CommandChecker } from '../src/detect/check.js';
import { CheckPool } from '../src/detect/check-pool.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const num = (name: string, d: number): number => { const i = args.indexOf(name); const v = i >= 0 ? Number(args[i + 1]) : NaN; return Number.isFinite(v) && v > 0 ? v : d; };
const ROUNDS = num('--rounds', 3);
const SECONDS = num('--seconds', 20);
const FILE = (() => { const i = args.indexOf('--benign'); return i >= 0 && args[i + 1] ? args[i + 1]! : `${ROOT}../shared/data/benign-agent-bash.jsonl`; })();

const seen = new Set<string>();
const cmds: string[] = [];
/** Every command in log order, repeats included (for the cached replay). */
const all: string[] = [];
for (const line of readFileSync(FILE, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  try { const c = (JSON.parse(line) as { command?: unknown }).command; if (typeof c === 'string') { all.push(c); if (!seen.has(c)) { seen.add(c); cmds.push(c); } } } catch { /* skip bad line */ }
}

// The result cache is off for the main figures: every timed check parses and runs the rules.
const checker = CommandChecker.create({ cacheSize: 0 });
const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Wall-clock and CPU time of this thread (the machine may be shared: CPU time is the fair measure). */
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** Throughput pass: no per-command timers (process.cpuUsage is a syscall costing ~20 % of a check). */
function bulk(list: string[], fn: (c: string) => unknown): { secs: number; cpuSecs: number } {
  const t0 = process.hrtime.bigint();
  const c0 = cpuMs();
  for (let i = 0; i < list.length; i++) fn(list[i]!);
  return { secs: Number(process.hrtime.bigint() - t0) / 1e9, cpuSecs: (cpuMs() - c0) / 1000 };
}

/** Latency pass: wall and CPU time of every command (includes the timers' own cost). */
function pass(fn: (c: string) => unknown): { lat: number[]; cpu: number[]; secs: number; cpuSecs: number } {
  const lat = new Array<number>(cmds.length);
  const cpu = new Array<number>(cmds.length);
  const t0 = process.hrtime.bigint();
  const c0 = cpuMs();
  for (let i = 0; i < cmds.length; i++) {
    const a = process.hrtime.bigint();
    const ca = cpuMs();
    fn(cmds[i]!);
    cpu[i] = cpuMs() - ca;
    lat[i] = Number(process.hrtime.bigint() - a) / 1e6;
  }
  return { lat, cpu, secs: Number(process.hrtime.bigint() - t0) / 1e9, cpuSecs: (cpuMs() - c0) / 1000 };
}

process.stderr.write(`warm-up over ${cmds.length} distinct commands…\n`);
pass((c) => checker.check(c));
const lat: number[] = [];
const clat: number[] = [];
const alat: number[] = [];
let secs = 0;
let csecs = 0;
let asecs = 0;
let checks = 0;
let analyses = 0;
const start = Date.now();
for (let r = 0; r < ROUNDS && (Date.now() - start) / 1000 < SECONDS; r++) {
  const tp = bulk(cmds, (c) => checker.check(c));
  secs += tp.secs; csecs += tp.cpuSecs; checks += cmds.length;
  const atp = bulk(cmds, (c) => checker.analyzer.analyze(c));
  asecs += atp.secs; analyses += cmds.length;
  const full = pass((c) => checker.check(c));
  lat.push(...full.lat); clat.push(...full.cpu);
  const an = pass((c) => checker.analyzer.analyze(c));
  alat.push(...an.lat);
  process.stderr.write(`round ${r + 1}: ${(cmds.length / tp.secs).toFixed(0)} cmds/s\n`);
}
// Cached replay: the benign log in order, repeats included, through a checker with the default cache.
// Each replay gets a fresh (empty) cache but shares the compiled rule set, as a long-lived process
// does (rules compile once per process; a new RuleSet would mean cold, never-run compiled code).
// Median of ROUNDS replays.
const replays: { secs: number; cpuSecs: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const cached = CommandChecker.create({ rules: checker.rules });
  replays.push(bulk(all, (c) => cached.check(c)));
}
replays.sort((a, b) => a.secs - b.secs);
const rp = replays[Math.floor(replays.length / 2)]!;

// Batch screening on every core (CheckPool, what `corral check --stdin/--jsonl` uses): distinct
// commands, worker caches off, after warm-up rounds; wall-clock throughput.
const nWorkers = availableParallelism();
const pool = await CheckPool.start({ workers: nWorkers, cacheSize: 0 });
const items = cmds.map((command) => ({ command, tool: 'bash' as const }));
// two warm-up rounds: each worker is a fresh isolate whose JIT must warm up on its own
for (let r = 0; r < 2; r++) await pool.run(items, () => {});
let poolSecs = 0;
let poolChecks = 0;
for (let r = 0; r < ROUNDS; r++) {
  const t0 = process.hrtime.bigint();
  poolChecks += await pool.run(items, () => {});
  poolSecs += Number(process.hrtime.bigint() - t0) / 1e9;
}
await pool.close();

// The command itself, end to end (process start, grammar, rules, reading, JSON output) over the
// benign file as a replay log (every line, repeats included), one thread vs all cores.
function cliRun(workers: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [`${ROOT}dist/src/cli/main.js`, 'check', '--jsonl', FILE, '--json', '--workers', String(workers)], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`corral check exited ${r.status}: ${r.stderr.slice(-500)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
const cli1 = Math.min(cliRun(1), cliRun(1));
const cliN = Math.min(cliRun(nWorkers), cliRun(nWorkers));
lat.sort((a, b) => a - b);
clat.sort((a, b) => a - b);
alat.sort((a, b) => a - b);
const rate = checks / secs;
const cpuRate = checks / csecs;
const res = {
  commands: cmds.length, checks, cmdsPerSec: rate, cmdsPerCpuSec: cpuRate,
  p50ms: pct(lat, 0.5), p90ms: pct(lat, 0.9), p99ms: pct(lat, 0.99), maxMs: lat[lat.length - 1]!,
  cpu: { p50ms: pct(clat, 0.5), p99ms: pct(clat, 0.99) },
  loadavg: loadavg()[0], cpus: (await import('node:os')).cpus().length,
  cachedReplay: { commands: all.length, cmdsPerSec: all.length / rp.secs, cmdsPerCpuSec: all.length / rp.cpuSecs },
  analyzerOnly: { cmdsPerSec: analyses / asecs, p50ms: pct(alat, 0.5), p99ms: pct(alat, 0.99) },
  pool: { workers: nWorkers, cmdsPerSec: poolChecks / poolSecs },
  cli: { commands: all.length, oneThreadCmdsPerSec: all.length / cli1, allCoresCmdsPerSec: all.length / cliN, oneThreadSecs: cli1, allCoresSecs: cliN },
  node: process.version,
};
if (args.includes('--json')) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
else {
  process.stdout.write([
    `corral check over ${res.commands} distinct benign commands, ${res.checks} timed checks, one thread (${res.node}); load average ${(res.loadavg ?? 0).toFixed(2)} on ${res.cpus} CPUs`,
    `throughput (wall): ${rate.toFixed(0)} commands/s      goal ≥ 10,000   ratio ${(rate / 10_000).toFixed(2)}`,
    `throughput (CPU):  ${cpuRate.toFixed(0)} commands per CPU-second   ratio ${(cpuRate / 10_000).toFixed(2)}   (fair on a shared machine)`,
    `latency (wall): p50 ${res.p50ms.toFixed(3)} ms  p90 ${res.p90ms.toFixed(3)} ms  p99 ${res.p99ms.toFixed(3)} ms  max ${res.maxMs.toFixed(2)} ms   goal p99 ≤ 2 ms   ratio ${(res.p99ms / 2).toFixed(2)}`,
    `latency (CPU):  p50 ${res.cpu.p50ms.toFixed(3)} ms  p99 ${res.cpu.p99ms.toFixed(3)} ms`,
    `analyzer only: ${res.analyzerOnly.cmdsPerSec.toFixed(0)} commands/s, p50 ${res.analyzerOnly.p50ms.toFixed(3)} ms, p99 ${res.analyzerOnly.p99ms.toFixed(3)} ms (rest is the rule engine)`,
    `cached replay (log order, ${res.cachedReplay.commands} commands incl. repeats, default cache, median of ${ROUNDS} fresh caches): ${res.cachedReplay.cmdsPerSec.toFixed(0)} commands/s, ${res.cachedReplay.cmdsPerCpuSec.toFixed(0)} per CPU-second`,
    `batch on ${nWorkers} worker threads (CheckPool, distinct commands, caches off): ${res.pool.cmdsPerSec.toFixed(0)} commands/s   goal ≥ 10,000   ratio ${(res.pool.cmdsPerSec / 10_000).toFixed(2)}`,
    `corral check --jsonl over the benign file (${res.cli.commands} lines), end to end incl. start-up: ${res.cli.oneThreadCmdsPerSec.toFixed(0)} commands/s on one thread (${res.cli.oneThreadSecs.toFixed(2)} s), ${res.cli.allCoresCmdsPerSec.toFixed(0)}/s with ${nWorkers} workers (${res.cli.allCoresSecs.toFixed(2)} s)`,
    `peer: sandbox-runtime library ~27 ms per command → corral check p50 is ${(27 / res.p50ms).toFixed(0)}x lower`,
  ].join('\n') + '\n');
}
