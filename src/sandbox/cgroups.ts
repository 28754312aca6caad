// Why: resource caps and unforgeable attribution. Each session owns a cgroup with CPU,
// memory and pid limits (threat: a miner or fork bomb starving the host); each tool call
// is a child cgroup its processes are born into (threat: a background process hiding
// which tool call started it). cgroup2 (possibly without controllers, as on hybrid hosts)
// provides kill, freeze and the populated flag; v1 controllers provide the limits when
// cgroup2 has none.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupLimits { cpus?: number; memoryBytes?: number; pids?: number }

export interface CgroupStats {
  cpuNs?: number;
  memoryBytes?: number;
  memoryPeakBytes?: number;
  pids?: number;
  pidsMaxHits?: number;
  oomKills?: number;
  throttledPeriods?: number;
}

export interface CgroupLayout {
  /** Directory of the cgroup2 hierarchy used for kill/freeze/populated (and limits when v2 has controllers). */
  unified: string;
  /** True when cgroup2 has the cpu, memory and pids controllers (pure v2 host). */
  unifiedControllers: boolean;
  /** v1 controller mount points by controller name (hybrid hosts). */
  v1: Partial<Record<'cpu' | 'cpuacct' | 'memory' | 'pids' | 'freezer', string>>;
}

export function detectCgroupLayout(root = '/sys/fs/cgroup'): CgroupLayout {
  if (existsSync(join(root, 'cgroup.controllers'))) {
    const ctl = readFileSync(join(root, 'cgroup.controllers'), 'utf8');
    return { unified: root, unifiedControllers: /\bmemory\b/.test(ctl) && /\bpids\b/.test(ctl), v1: {} };
  }
  const v1: CgroupLayout['v1'] = {};
  const unified = existsSync(join(root, 'unified', 'cgroup.procs')) ? join(root, 'unified') : '';
  // Every hierarchy a process joins costs a cgroup migration on each tool call, so only the
  // ones Corral uses are taken: freezer only as the kill fallback when there is no cgroup2.
  const wanted = unified ? ['cpu', 'cpuacct', 'memory', 'pids'] as const : ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const;
  for (const c of wanted) {
    if (existsSync(join(root, c, 'cgroup.procs'))) v1[c] = join(root, c);
  }
  return { unified, unifiedControllers: false, v1 };
}

function tryRead(p: string): string | undefined {
  try { return readFileSync(p, 'utf8'); } catch { return undefined; }
}
function kv(text: string | undefined, key: string): number | undefined {
  if (!text) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** One cgroup (same relative path in every hierarchy Corral uses). */
export class Cgroup {
  constructor(readonly layout: CgroupLayout, readonly path: string) {}

  private dirs(): string[] {
    const d = new Set<string>();
    if (this.layout.unified) d.add(join(this.layout.unified, this.path));
    for (const m of Object.values(this.layout.v1)) d.add(join(m, this.path));
    return [...d];
  }

  get unifiedDir(): string { return join(this.layout.unified, this.path); }

  create(limits: CgroupLimits = {}): this {
    for (const d of this.dirs()) mkdirSync(d, { recursive: true });
    this.setLimits(limits);
    return this;
  }

  setLimits(l: CgroupLimits): void {
    const u = this.unifiedDir;
    if (this.layout.unifiedControllers) {
      const parent = join(u, '..');
      try { writeFileSync(join(parent, 'cgroup.subtree_control'), '+cpu +memory +pids'); } catch { /* already enabled */ }
      if (l.cpus) writeFileSync(join(u, 'cpu.max'), `${Math.round(l.cpus * 100000)} 100000`);
      if (l.memoryBytes) { writeFileSync(join(u, 'memory.max'), String(l.memoryBytes)); tryWrite(join(u, 'memory.swap.max'), '0'); }
      if (l.pids) writeFileSync(join(u, 'pids.max'), String(l.pids));
      return;
    }
    const { cpu, memory, pids } = this.layout.v1;
    if (l.cpus && cpu) {
      writeFileSync(join(cpu, this.path, 'cpu.cfs_period_us'), '100000');
      writeFileSync(join(cpu, this.path, 'cpu.cfs_quota_us'), String(Math.round(l.cpus * 100000)));
    }
    if (l.memoryBytes && memory) {
      writeFileSync(join(memory, this.path, 'memory.limit_in_bytes'), String(l.memoryBytes));
      tryWrite(join(memory, this.path, 'memory.memsw.limit_in_bytes'), String(l.memoryBytes));
      // cgroup v1 charges TCP socket buffers to a cgroup only once it has a TCP limit (v2 charges them
      // to memory.max). Threat: a sandbox holding gigabytes in its own loopback connections' buffers,
      // outside its memory limit, up to the host-wide tcp_mem cap — past which TCP fails for the whole
      // host: the gateway, every other sandbox (a review, session 23). Capped at the memory limit.
      tryWrite(join(memory, this.path, 'memory.kmem.tcp.limit_in_bytes'), String(l.memoryBytes));
    }
    if (l.pids && pids) writeFileSync(join(pids, this.path, 'pids.max'), String(l.pids));
  }

  /** The cgroup.procs files a new process must write itself into (handed to corral-enter). */
  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, 'cgroup.procs'));
  }

  /** The cgroup2 membership file alone (kill and attribution live there). */
  unifiedProcsFile(): string {
    return join(this.unifiedDir, 'cgroup.procs');
  }

  /** cgroup2 id, as reported by eBPF's cgroup builtin (the directory's inode). */
  id(): string {
    return String(statSync(this.unifiedDir).ino);
  }

  pids(): number[] {
    const t = tryRead(join(this.unifiedDir, 'cgroup.procs')) ?? '';
    return t.split('\n').filter(Boolean).map(Number);
  }

  populated(): boolean {
    const ev = tryRead(join(this.unifiedDir, 'cgroup.events'));
    if (ev !== undefined) return kv(ev, 'populated') === 1;
    return this.pids().length > 0;
  }

  /** Kills every process in the cgroup and its children (cgroup.kill: atomic, no fork race). */
  kill(): void {
    if (tryWrite(join(this.unifiedDir, 'cgroup.kill'), '1')) return;
    // Fallback for kernels without cgroup.kill: freeze, signal, thaw.
    const fz = this.layout.v1.freezer;
    if (fz) tryWrite(join(fz, this.path, 'freezer.state'), 'FROZEN');
    for (const pid of this.pids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (fz) tryWrite(join(fz, this.path, 'freezer.state'), 'THAWED');
  }

  freeze(on: boolean): boolean {
    return tryWrite(join(this.unifiedDir, 'cgroup.freeze'), on ? '1' : '0');
  }

  stats(): CgroupStats {
    const s: CgroupStats = {};
    const u = this.unifiedDir;
    if (this.layout.unifiedControllers) {
      const cpu = tryRead(join(u, 'cpu.stat'));
      const usec = kv(cpu, 'usage_usec');
      if (usec !== undefined) s.cpuNs = usec * 1000;
      s.throttledPeriods = kv(cpu, 'nr_throttled');
      const mem = tryRead(join(u, 'memory.current'));
      if (mem) s.memoryBytes = Number(mem);
      const peak = tryRead(join(u, 'memory.peak'));
      if (peak) s.memoryPeakBytes = Number(peak);
      s.oomKills = kv(tryRead(join(u, 'memory.events')), 'oom_kill');
      const pc = tryRead(join(u, 'pids.current'));
      if (pc) s.pids = Number(pc);
      s.pidsMaxHits = kv(tryRead(join(u, 'pids.events')), 'max');
      return s;
    }
    const { cpu, cpuacct, memory, pids } = this.layout.v1;
    if (cpuacct) { const t = tryRead(join(cpuacct, this.path, 'cpuacct.usage')); if (t) s.cpuNs = Number(t); }
    if (cpu) s.throttledPeriods = kv(tryRead(join(cpu, this.path, 'cpu.stat')), 'nr_throttled');
    if (memory) {
      const m = tryRead(join(memory, this.path, 'memory.usage_in_bytes'));
      if (m) s.memoryBytes = Number(m);
      const p = tryRead(join(memory, this.path, 'memory.max_usage_in_bytes'));
      if (p) s.memoryPeakBytes = Number(p);
      s.oomKills = kv(tryRead(join(memory, this.path, 'memory.oom_control')), 'oom_kill');
    }
    if (pids) {
      const c = tryRead(join(pids, this.path, 'pids.current'));
      if (c) s.pids = Number(c);
      s.pidsMaxHits = kv(tryRead(join(pids, this.path, 'pids.events')), 'max');
    }
    return s;
  }

  /** Removes the cgroup in every hierarchy (children first). Kills leftovers first. */
  async remove(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (!this.populated()) break;
      this.kill();
      await new Promise((r) => setTimeout(r, 10));
    }
    // A v1 hierarchy still lists a killed process until its parent reaps it (cgroup2's populated
    // already says no), and its directory is busy until then: a session closed mid-call left its
    // v1 cgroups behind for good in a long-lived runtime. Retried briefly (at most ~2 s).
    for (let attempt = 0; attempt < 100; attempt++) {
      for (const d of this.dirs()) removeTree(d);
      if (!this.dirs().some((d) => existsSync(d))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function tryWrite(p: string, text: string): boolean {
  try { writeFileSync(p, text); return true; } catch { return false; }
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch { /* vanished */ }
  for (const e of entries) removeTree(join(dir, e));
  try { rmdirSync(dir); } catch { /* busy or gone; orphan cleanup retries */ }
}

