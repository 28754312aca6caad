// Why: Corral's redirect-or-reject rules live in the host's nft ruleset, which other tools rewrite: a
// host firewall reload (`nft flush ruleset` in nftables.service, firewalld, a hand-typed flush) deletes
// Corral's table with everyone else's, and every sandbox's traffic then goes wherever the host sends it
// (straight out on a host that forwards for others, as Docker hosts do; the host's own services). Threat it stops:
// containment silently switched off on the host. One `nft monitor` per runtime reports every change to
// the ruleset as it happens; a deletion or flush touching this runtime's table has the table put back
// (GatewayRules.repair) within milliseconds, and is reported — it is never silent.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { GatewayRules } from './gateway-rules.js';

export interface RulesTamper {
  /** What repair found wrong. */
  what: string;
  /** The monitor's line that raised it. */
  line: string;
  /** From that line to the table being whole again. */
  restoredMs: number;
}

export class GatewayRulesWatch {
  private child?: ChildProcess;
  private stopped = false;
  private pending?: { line: string; at: number };
  private running = false;

  constructor(
    private readonly rules: GatewayRules,
    private readonly onTamper: (t: RulesTamper) => void,
    private readonly onProblem: (why: string) => void,
  ) {}

  start(): void {
    const child = spawn('nft', ['monitor'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.on('error', (e) => this.onProblem(`nft monitor could not start (${e.message}): changes to Corral's gateway rules by other tools will not be noticed`));
    child.on('exit', (code, sig) => { if (!this.stopped) this.onProblem(`nft monitor exited (${sig ?? code}): changes to Corral's gateway rules by other tools will not be noticed`); });
    child.stderr!.resume();
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
  }

  private onLine(line: string): void {
    if (this.stopped || !/^(delete|flush|destroy) /.test(line)) return;
    // (the table's own name, whole: flush ruleset shows as a delete of each table)
    if (!new RegExp(`\\binet ${this.rules.table}\\b`).test(line)) return;
    this.pending ??= { line, at: Date.now() };
    void this.run();
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
    this.child?.kill('SIGKILL');
  }
}
