// Shared helpers for Corral's benchmarks: timing, percentiles and side-by-side printing.
import { spawn } from 'node:child_process';

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
export const median = (xs: number[]) => percentile(xs, 50);

export function nowMs(): number { return Number(process.hrtime.bigint()) / 1e6; }

export function spawnWait(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore', env: opts.env ?? process.env });
    c.on('error', reject);
    c.on('close', (code) => resolve(code ?? -1));
  });
}

export function printTable(title: string, rows: (string | number)[][], header: string[]): void {
  const all = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? '').length)));
  console.log(`\n${title}`);
  for (const r of all) console.log('  ' + r.map((c, i) => String(c).padEnd(w[i]!)).join('  '));
}

export const fmt = (n: number, d = 2) => n.toFixed(d);
