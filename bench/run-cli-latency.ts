// Benchmark: what a coding agent that wraps each tool call in the CLI pays, end to end, for
// `true`: `corral run` on its own (fresh eBPF sensor, sandbox, teardown), `corral run` through a
// warm `corral serve` daemon, and the peer CLI `srt` (@anthropic-ai/sandbox-runtime, default
// settings). Wall-clock from spawn to exit, as the agent sees it. Run inside the lab:
//   npm run bench -- run-cli-latency        (BENCH_N=30 calls per daemon/peer row, BENCH_COLD=5)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertInLab } from '../src/lab/lab-guard.js';
import { CorralDaemon } from '../src/server/daemon.js';
import { fmt, median, nowMs, percentile, printTable, spawnWait } from './bench-util.js';

const N = Number(process.env.BENCH_N ?? 30);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SRT = fileURLToPath(new URL('../../node_modules/@anthropic-ai/sandbox-runtime/dist/cli.js', import.meta.url));

async function times(n: number, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number[] | string> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = nowMs();
    const code = await spawnWait(cmd, args, { env });
    if (code !== 0) return `exit ${code}`;
    xs.push(nowMs() - t);
  }
  return xs;
}

async function main(): Promise<void> {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-cli-'));
  const sock = join(dir, 'corral.sock');
  const env = { ...process.env, NO_COLOR: '1' };
  const rows: (string | number)[][] = [];
  const row = (what: string, xs: number[] | string, note: string): number | undefined => {
    if (typeof xs === 'string') { rows.push([what, xs, '', '', note]); return undefined; }
    rows.push([what, fmt(median(xs), 0), fmt(percentile(xs, 90), 0), xs.length, note]);
    return median(xs);
  };
  try {
    const node = row('node -e 0 (floor for any Node CLI)', await times(N, process.execPath, ['-e', '0'], env), '');
    const cold = row('corral run -- true (no daemon)', await times(COLD, process.execPath, [MAIN, 'run', '--no-daemon', '--', 'true'], { ...env, CORRAL_HOME: join(dir, 'home-cold') }), 'starts the eBPF sensor each time');
    const d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), poolSize: 2 } });
    let warm: number | undefined;
    try {
      await times(3, process.execPath, [MAIN, 'run', '--', 'true'], { ...env, CORRAL_SOCKET: sock });
      warm = row('corral run -- true (through corral serve)', await times(N, process.execPath, [MAIN, 'run', '--', 'true'], { ...env, CORRAL_SOCKET: sock }), `sensor ${d.runtime.sensor ? 'ebpf' : 'off'}`);
    } finally { await d.close(); }
    const peer = row('srt true (sandbox-runtime CLI)', await times(N, process.execPath, [SRT, 'true'], { ...env, HOME: dir }), 'no CPU/memory/pid limits, no sensor');
    printTable('CLI latency per tool call, spawn to exit (ms)', rows, ['what', 'p50', 'p90', 'n', 'note']);
    if (warm !== undefined && peer !== undefined) console.log(`  corral run via daemon vs srt: ${fmt(warm / peer)}×   (no daemon: ${cold !== undefined ? fmt(cold / peer) : '?'}×; Node's own start-up: ${node !== undefined ? fmt(node, 0) : '?'} ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
