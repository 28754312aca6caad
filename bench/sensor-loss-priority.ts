// Why: the kernel sensor loses records when its reader (bpftrace, then Corral's Node process)
// falls behind the sandboxes that produce them, and sandboxes compete with both for CPU. This
// measures how many records a fixed, bounded load loses with Corral's processes at their usual
// priority and with each candidate priority change, so a change is made only on evidence.
// No network: every sandbox only execs /bin/true with long arguments and burns CPU for ≤ 3 s.
// Run in the lab: [VARIANTS=a,b] node dist/src/lab/lab-exec.js -- node dist/bench/sensor-loss-priority.js [rounds] [sessions] [pages] [execs] [args]
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';

type Variant = 'baseline' | 'bpftrace-nice-10' | 'corral-procs-nice-10' | 'corral-cgroup-low-weight';

/** Each session: a CPU burner (bounded, 3 s) and `execs` execs of `args` long arguments each. */
const load = (execs: number, args: number): string => `( timeout 3 sh -c "while :; do :; done" & ); a=$(printf "%0190d" 0); for i in $(seq ${execs}); do /bin/true "l-$i"${' "$a"'.repeat(args)}; done; wait`;

/** The cgroup v1 cpu hierarchy's `corral` group, or cgroup2's, whichever holds sandboxes' CPU. */
function weightFile(rt: Runtime): { file: string; low: string } | undefined {
  const v1 = rt.layout.v1.cpu;
  if (v1 && existsSync(join(v1, rt.cgroupRoot, 'cpu.shares'))) return { file: join(v1, rt.cgroupRoot, 'cpu.shares'), low: '64' };
  const v2 = join(rt.layout.unified, rt.cgroupRoot, 'cpu.weight');
  if (rt.layout.unifiedControllers && existsSync(v2)) return { file: v2, low: '6' };
  return undefined;
}

async function round(variant: Variant, sessions: number, pages: number, execs: number, args: number): Promise<{ lost: number; ms: number }> {
  const home = mkdtempSync(join(tmpdir(), 'corral-bench-loss-'));
  const rt = await Runtime.start({ home, sensor: true, poolSize: 0, commandCheck: false, perfRbPages: pages, resourceSampleMs: 0 });
  const w = weightFile(rt);
  const before = w ? readFileSync(w.file, 'utf8').trim() : undefined;
  try {
    if (variant === 'bpftrace-nice-10' || variant === 'corral-procs-nice-10') setPriority((rt.sensor as unknown as { child: { pid: number } }).child.pid, -10);
    if (variant === 'corral-procs-nice-10') setPriority(process.pid, -10);
    if (variant === 'corral-cgroup-low-weight') { if (!w) throw new Error('no cpu weight file'); writeFileSync(w.file, w.low); }
    const ss = await Promise.all(Array.from({ length: sessions }, (_, i) => rt.createSession({ policy: loadPreset('default'), episode: `loss-${i}` })));
    const lost0 = rt.sensorLost;
    const t0 = Date.now();
    await Promise.all(ss.map((s) => s.exec({ command: load(execs, args), step: 1, syncSensor: true, timeoutMs: 60_000 })));
    const ms = Date.now() - t0;
    const lost = rt.sensorLost - lost0;
    await Promise.all(ss.map((s) => s.close()));
    return { lost, ms };
  } finally {
    if (w && before !== undefined) writeFileSync(w.file, before);
    setPriority(process.pid, 0);
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  assertInLab();
  const [rounds = 3, sessions = 6, pages = 8, execs = 150, args = 40] = process.argv.slice(2).map(Number);
  console.log(`${rounds} round(s): ${sessions} sessions, ${pages} ring pages per CPU, ${execs} execs of ${args} long arguments each, plus a 3 s CPU burner per session`);
  const variants = (process.env.VARIANTS?.split(',') ?? ['baseline', 'bpftrace-nice-10', 'corral-procs-nice-10', 'corral-cgroup-low-weight']) as Variant[];
  const out = Object.fromEntries(variants.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const { lost, ms } = await round(v, sessions, pages, execs, args);
      out[v].push(lost);
      console.log(`round ${r + 1} ${v}: ${lost} records lost (${ms} ms)`);
    }
  }
  for (const v of variants) console.log(`${v}: lost ${out[v].join(', ')} (sum ${out[v].reduce((a, b) => a + b, 0)})`);
}

await main();
