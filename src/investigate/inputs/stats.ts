// Why: a forensic tool that silently drops records gives false negatives nobody can see. Every
// reader counts what it kept, what it could not parse (with file and line, first 100 kept)
// and what it skipped on purpose (event types that are not alerts or flows), and states its
// timestamp assumptions. The result is InputStats plus the skip counts.
import type { InputStats } from '../types.js';
import type { TsParser } from './timestamps.js';

export const MAX_ISSUES = 100;
/** An issue's text is cut here: a reader may quote a field of a garbage or binary line. */
export const MAX_ISSUE_CHARS = 300;

/** InputStats plus counts of records skipped on purpose (not errors), by kind. */
export interface ReadStats extends InputStats {
  skipped: number;
  skippedKinds: Record<string, number>;
  bytes: number;
}

export class StatsBuilder {
  records = 0;
  bad = 0;
  skipped = 0;
  readonly issues: InputStats['issues'] = [];
  readonly skippedKinds: Record<string, number> = {};
  private notes: string[] = [];
  private readonly tallies = new Map<string, { n: number; first: number }>();
  /** While true, nothing is counted (a range reader replaying header lines that the range before reports). */
  muted = false;

  constructor(readonly file: string, readonly format: string) {}

  badLine(line: number, error: string): void {
    if (this.muted) return;
    this.bad++;
    if (this.issues.length < MAX_ISSUES) this.issues.push({ file: this.file, line, error: error.length > MAX_ISSUE_CHARS ? `${error.slice(0, MAX_ISSUE_CHARS)}… (${error.length} characters)` : error });
  }

  skip(kind: string): void {
    if (this.muted) return;
    this.skipped++;
    this.skippedKinds[kind] = (this.skippedKinds[kind] ?? 0) + 1;
  }

  note(s: string): void { if (!this.muted && !this.notes.includes(s)) this.notes.push(s); }

  /**
   * Something worth saying about some records that did not make them bad (a port of 99999 dropped,
   * arguments that are not JSON taken raw): counted per kind, one note "N what (first at line L)".
   */
  tally(what: string, line: number): void {
    if (this.muted) return;
    const d = this.tallies.get(what);
    if (d) d.n++; else this.tallies.set(what, { n: 1, first: line });
  }

  finish(ts: TsParser | undefined, bytes: number, overlong: { line: number; bytes: number }[] = []): ReadStats {
    for (const o of overlong) this.badLine(o.line, `line of ${o.bytes} bytes is longer than the limit; skipped`);
    const tallied = [...this.tallies].map(([what, d]) => `${d.n} ${what} (first at line ${d.first})`);
    const tsNote = [ts?.note(), ...this.notes, ...tallied].filter((x): x is string => !!x).join('; ');
    const out: ReadStats = { file: this.file, format: this.format, records: this.records, bad: this.bad, issues: this.issues, skipped: this.skipped, skippedKinds: this.skippedKinds, bytes };
    if (tsNote) out.tsNote = tsNote;
    return out;
  }
}

/** "truncated last line" hint for a parse failure on an unterminated final line. */
export function lineError(msg: string, unterminated: boolean): string {
  return unterminated ? `truncated last line (no newline): ${msg}` : msg;
}
