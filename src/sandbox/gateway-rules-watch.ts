// Why: Corral's redirect-or-reject rules live in the host's nft ruleset, which other tools rewrite: a
// host firewall reload (`nft flush ruleset` in nftables.service, firewalld, a hand-typed flush) deletes
// Corral's table with everyone else's, and every sandbox's traffic then goes wherever the host sends it
// (straight out on a host that forwards for others, as Docker hosts do; the host's own services). Threat it stops:
// containment silently switched off on the host. One `nft monitor` per runtime reports every change to
// the ruleset as it happens; a deletion or flush touching this runtime's table has the table put back
// (GatewayRules.repair) within milliseconds, and is reported — it is never silent. A monitor that dies
// is restarted (and the table checked at once: a flush may have come while none ran), the table is also
// checked every 30 s (a monitor can miss events), and the monitor dies with Corral, even by SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { GatewayRules } from './gateway-rules.js';

/** util-linux's setpriv: runs the monitor with a parent-death signal. */
const SETPRIV = '/usr/bin/setpriv';

export interface RulesTamper {
  /** What repair found wrong. */
  what: string;
  /** The monitor's line that raised it. */
  line: string;
  /** From that line to the table being whole again. */
  restoredMs: number;
}

/** Restart delays of a monitor that died (doubling from the first, up to the last). */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 30_000;
/** A monitor that ran this long was healthy: the next restart starts from the first delay again. */
const HEALTHY_AFTER_MS = 60_000;
/** The table is also checked this often: a monitor can miss events (netlink overruns) or be dead for a while. */
const AUDIT_EVERY_MS = 30_000;

export class GatewayRulesWatch {
  private child?: ChildProcess;
  private stopped = false;
  private pending?: { line: string; at: number };
  private running = false;
  private restartDelay = RESTART_FIRST_MS;
  private restartTimer?: NodeJS.Timeout;
  private auditTimer?: NodeJS.Timeout;
  /** Monitors started (the first and each restart). */
  starts = 0;

  constructor(
    private readonly rules: GatewayRules,
    private readonly onTamper: (t: RulesTamper) => void,
    private readonly onProblem: (why: string) => void,
    private readonly opts: { auditEveryMs?: number } = {},
  ) {}

  start(): void {
    this.spawnMonitor();
    const every = this.opts.auditEveryMs ?? AUDIT_EVERY_MS;
    if (every > 0) this.auditTimer = setInterval(() => this.check('periodic check of the table'), every).unref();
  }

  /** The pid of the running monitor (tests). */
  get monitorPid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  private spawnMonitor(): void {
    // (killed with Corral, even by SIGKILL: a monitor left behind would read every ruleset change of the host forever)
    const argv = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', 'nft', 'monitor'] : ['nft', 'monitor'];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const startedAt = Date.now();
    this.child = child;
    this.starts++;
    child.on('error', (e) => this.onProblem(`nft monitor could not start (${e.message}): changes to Corral's gateway rules by other tools are noticed only by the check every ${(this.opts.auditEveryMs ?? AUDIT_EVERY_MS) / 1000} s`));
    child.on('exit', (code, sig) => {
      if (this.stopped || this.child !== child) return;
      if (Date.now() - startedAt >= HEALTHY_AFTER_MS) this.restartDelay = RESTART_FIRST_MS;
      const delay = this.restartDelay;
      this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
      this.onProblem(`nft monitor exited (${sig ?? code}): restarted in ${delay} ms; the table is checked then (a change while none ran is found)`);
      this.restartTimer = setTimeout(() => {
        if (this.stopped) return;
        this.spawnMonitor();
        this.check('nft monitor restarted');
      }, delay);
      this.restartTimer.unref();
    });
    child.stderr!.resume();
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
  }

  /** Has the table checked (and put back if need be) as if the monitor had reported `why`. */
  private check(why: string): void {
    if (this.stopped) return;
    this.pending ??= { line: why, at: Date.now() };
    void this.run();
  }

  private onLine(line: string): void {
    if (this.stopped || !/^(delete|flush|destroy) /.test(line)) return;
    // (the table's own name, whole: flush ruleset shows as a delete of each table)
    if (!new RegExp(`\\binet ${this.rules.table}\\b`).test(line)) return;
    this.check(line);
  }

  /** Repairs once per burst of changes (a flush is many lines); changes during a repair get one more. */
  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending && !this.stopped) {
        const p = this.pending;
        this.pending = undefined;
        await new Promise((r) => setTimeout(r, 20));
        const what = await this.rules.repair();
        // our own element deletions (a slot destroyed) show as deletes too: repair finds nothing wrong then
        if (what && !this.stopped) this.onTamper({ what, line: p.line, restoredMs: Date.now() - p.at });
      }
    } catch (e) {
      this.onProblem(`Corral's gateway rules were changed and could not be put back: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.auditTimer);
    this.child?.kill('SIGKILL');
  }
}
