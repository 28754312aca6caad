// Benchmark: added latency per tool call in a warm session (`true`), against a bare spawn
// and against @anthropic-ai/sandbox-runtime's library (empty allowlist). Also session
// creation + teardown. Run inside the lab: npm run bench -- toolcall-latency
// Goals (issue 2): median added latency ≤ 10 ms and ≤ 0.5× the peer's; session create+teardown median ≤ 100 ms.
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, percentile, nowMs, spawnWait, printTable, fmt } from './bench-util.js';

const N = Number(process.env.BENCH_N ?? 200);

async function bare(): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < N; i++) { const t = nowMs(); await spawnWait('/bin/true', []); xs.push(nowMs() - t); }
  return xs;
}

async function peer(): Promise<number[] | string> {
  try {
    const { SandboxManager } = await import('@anthropic-ai/sandbox-runtime');
    await SandboxManager.initialize({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowWrite: [], denyWrite: [] } } as never);
    const xs: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = nowMs();
      const cmd = await SandboxManager.wrapWithSandbox('true');
      const code = await spawnWait('/bin/bash', ['-c', cmd]);
      if (code !== 0 && i === 0) return `sandbox-runtime's wrapped command failed (exit ${code})`;
      xs.push(nowMs() - t);
    }
    await SandboxManager.reset();
    return xs;
  } catch (e) {
    return `unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** A host directory holding a clone of the checkout the bench runs from (undefined outside a git checkout). */
async function repoWorkspace(): Promise<{ dir: string; root: string; files: number } | undefined> {
  const root = mkdtempSync(join(tmpdir(), 'corral-bench-repo-'));
  const dir = join(root, 'ws');
  if (await spawnWait('git', ['clone', '-q', '--no-hardlinks', process.cwd(), dir]).catch(() => -1) !== 0) { rmSync(root, { recursive: true, force: true }); return undefined; }
  let files = 0;
  const walk = (d: string): void => { for (const e of readdirSync(d, { withFileTypes: true })) { if (e.isDirectory()) walk(join(d, e.name)); else files++; } };
  walk(dir);
  return { dir, root, files };
}

async function main(): Promise<void> {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-bench-'));
  const rt = await Runtime.start({ home, poolSize: 2 });
  try {
    const policy = loadPreset('default');
    const base = await bare();
    const s = await rt.createSession({ policy, episode: 'bench' });
    const argvTimes: number[] = [];
    const bashTimes: number[] = [];
    for (let i = 0; i < 10; i++) await s.exec({ command: 'true', argv: ['/bin/true'] });
    for (let i = 0; i < N; i++) { const t = nowMs(); await s.exec({ command: 'true', argv: ['/bin/true'] }); argvTimes.push(nowMs() - t); }
    for (let i = 0; i < N; i++) { const t = nowMs(); await s.exec({ command: 'true' }); bashTimes.push(nowMs() - t); }
    // File tools (one tool call each, screened, run in the sandbox by perl) against what a trainer
    // does without them: the same bytes through a shell's stdin.
    const text = `${'x'.repeat(63)}\n`.repeat(64); // 4 KiB of text
    const fileWrite: number[] = [], fileRead: number[] = [], shellWrite: number[] = [];
    for (let i = 0; i < N; i++) { const t = nowMs(); await s.file({ op: 'write', path: `f/${i % 8}.txt`, content: text }); fileWrite.push(nowMs() - t); }
    for (let i = 0; i < N; i++) { const t = nowMs(); await s.file({ op: 'read', path: `f/${i % 8}.txt` }); fileRead.push(nowMs() - t); }
    for (let i = 0; i < N; i++) { const t = nowMs(); await s.exec({ command: `mkdir -p g && cat > g/${i % 8}.txt`, stdin: text }); shellWrite.push(nowMs() - t); }
    await s.close();
    // The same call with a coding agent's workspace: a clone of this checkout (its files, its .git). What the per-call
    // persistence look (shell files, hooks and configs of every repository, nested ones searched) adds there.
    const repo = await repoWorkspace();
    const repoTimes: number[] = [];
    if (repo) {
      const r = await rt.createSession({ policy, episode: 'bench-repo', workspace: repo.dir });
      try {
        for (let i = 0; i < 10; i++) await r.exec({ command: 'true', argv: ['/bin/true'] });
        for (let i = 0; i < N; i++) { const t = nowMs(); await r.exec({ command: 'true', argv: ['/bin/true'] }); repoTimes.push(nowMs() - t); }
      } finally { await r.close(); rmSync(repo.root, { recursive: true, force: true }); }
    }
    const bareBash: number[] = [];
    for (let i = 0; i < N; i++) { const t = nowMs(); await spawnWait('/bin/bash', ['-c', 'true']); bareBash.push(nowMs() - t); }
    const p = await peer();
    // Session create + teardown. The default workspace is a disk-capped filesystem from the runtime's
    // pool, which makes the next one (~50 ms of mkfs and mount work) once a session has started:
    // (1) sessions at a fleet's pace (a pause between them, not timed, long enough for that refill);
    // (2) back to back, where the refills compete with the sessions on this VM's two cores;
    // (3) sessions at a fleet's pace without the disk cap (`workspace_disk: unlimited`).
    const plain = { ...policy, resources: { ...policy.resources, workspace_disk: 'unlimited' as const } };
    const lifeOnce = async (p: typeof policy, i: number): Promise<number> => {
      const t = nowMs();
      const x = await rt.createSession({ policy: p, episode: `life-${i}` });
      await x.close();
      return nowMs() - t;
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // (1) and (3), interleaved so both see the same machine: default, pause, unlimited, pause …
    const life: number[] = [], lifePlain: number[] = [], lifeBack: number[] = [];
    await pause(2000);
    for (let i = 0; i < Math.min(N, 40); i++) {
      life.push(await lifeOnce(policy, i)); await pause(300);
      lifePlain.push(await lifeOnce(plain, i)); await pause(300);
    }
    // (2)
    await pause(2000);
    for (let i = 0; i < Math.min(N, 40); i++) lifeBack.push(await lifeOnce(policy, i));
    const mb = median(base);
    const added = median(argvTimes) - mb;
    const rows: (string | number)[][] = [
      ['bare spawn /bin/true', fmt(mb), fmt(percentile(base, 99)), '—', '—'],
      ['corral tool call (argv true)', fmt(median(argvTimes)), fmt(percentile(argvTimes, 99)), fmt(added), ''],
      ...(repo ? [[`corral tool call (argv true), workspace: a clone of this repository (${repo.files} files)`, fmt(median(repoTimes)), fmt(percentile(repoTimes, 99)), fmt(median(repoTimes) - mb), '']] : []),
      ['corral tool call (bash -c true)', fmt(median(bashTimes)), fmt(percentile(bashTimes, 99)), fmt(median(bashTimes) - median(bareBash)), '(vs bare bash -c true)'],
    ];
    let ratio = 'n/a';
    if (Array.isArray(p)) {
      const peerAdded = median(p) - median(bareBash);
      rows.push(['sandbox-runtime wrapWithSandbox + bash', fmt(median(p)), fmt(percentile(p, 99)), fmt(peerAdded), '(vs bare bash -c true)']);
      ratio = fmt((median(bashTimes) - median(bareBash)) / peerAdded, 2);
    } else rows.push(['sandbox-runtime', '—', '—', '—', p]);
    rows.push(
      ['corral file write (4 KiB)', fmt(median(fileWrite)), fmt(percentile(fileWrite, 99)), fmt(median(fileWrite) - median(bareBash)), '(vs bare bash -c true)'],
      ['corral file read (4 KiB)', fmt(median(fileRead)), fmt(percentile(fileRead, 99)), fmt(median(fileRead) - median(bareBash)), '(vs bare bash -c true)'],
      ['corral exec cat > f, stdin (4 KiB)', fmt(median(shellWrite)), fmt(percentile(shellWrite, 99)), fmt(median(shellWrite) - median(bareBash)), '(the same write without file tools)'],
    );
    printTable(`Tool call latency, warm session, N=${N} (ms)`, rows, ['path', 'median', 'p99', 'added (median)', 'note']);
    console.log(`  corral added / sandbox-runtime added (both via bash -c): ${ratio}   goal: ≤ 0.5 and corral added ≤ 10 ms`);
    printTable('Session create + teardown (ms)', [
      ['corral session (default: 4 GiB disk-capped workspace), 300 ms apart', fmt(median(life)), fmt(percentile(life, 99)), 'goal: median ≤ 100 ms'],
      ['the same, back to back', fmt(median(lifeBack)), fmt(percentile(lifeBack, 99)), 'pool refills compete'],
      ['corral session, workspace_disk: unlimited, 300 ms apart', fmt(median(lifePlain)), fmt(percentile(lifePlain, 99)), 'a plain directory (interleaved with the first row)'],
    ], ['what', 'median', 'p99', 'note']);
    console.log(`  sensor: ${rt.sensor ? 'eBPF on' : `off (${rt.sensorError})`}`);
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
