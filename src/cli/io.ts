// Why: shared CLI plumbing: the streams a command writes to (injectable for tests), a
// progress line that redraws on a TTY and degrades to plain lines elsewhere, and
// readable rendering of alerts.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { makeStyle, safeText, type Style } from './style.js';
import { SEVERITY_RANK, type AlertEvent } from '../events/event.js';
import { alertJson, type AlertJson } from '../events/alert-json.js';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Standard input where a command reads it ("-", check --stdin); process.stdin when absent. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

export class UsageError extends Error {}

/**
 * Throws a UsageError when an output file could not be written (its directory missing or not
 * writable, or the path a directory), so a long run does not fail only at its very end.
 */
export function checkWritable(path: string, option: string): void {
  const abs = resolve(path);
  let why = '';
  try {
    const st = statSync(abs, { throwIfNoEntry: false });
    if (st?.isDirectory()) why = 'it is a directory';
    else if (st) accessSync(abs, constants.W_OK);
    else {
      const dir = statSync(dirname(abs), { throwIfNoEntry: false });
      if (!dir?.isDirectory()) why = `no directory ${dirname(abs)}`;
      else accessSync(dirname(abs), constants.W_OK);
    }
  } catch { why = 'not writable'; }
  if (why) throw new UsageError(`${option} ${safeText(path)}: cannot write there (${why})`);
}

export class Progress {
  private last = 0;
  private drawn = false;
  constructor(private io: CliIO, private enabled = true) {}
  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (this.io.stderr.isTTY) {
      if (!force && now - this.last < 100) return;
      this.io.stderr.write(`\r\x1b[K${text}`);
      this.drawn = true;
    } else if (force || now - this.last > 2000) {
      this.io.stderr.write(`${text}\n`);
    } else return;
    this.last = now;
  }
  done(text?: string): void {
    if (this.drawn && this.io.stderr.isTTY) this.io.stderr.write('\r\x1b[K');
    if (text) this.io.stderr.write(`${text}\n`);
    this.drawn = false;
  }
}

export function severityColor(st: Style, sev: string, s: string): string {
  return sev === 'critical' || sev === 'high' ? st.red(s) : sev === 'medium' ? st.yellow(s) : st.dim(s);
}

/** Alerts as people read them: severity first, then time. */
export function renderAlerts(alerts: AlertEvent[], io: CliIO, stream: NodeJS.WritableStream = io.stderr): string {
  return renderAlertSummaries(alerts.map(alertJson), io, stream);
}

/** Any field as terminal-safe text (a JSON alert from a daemon may hold a number or nothing where text is expected: safeText alone threw). */
const text = (v: unknown): string => safeText(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** The same for alerts in their JSON form (what `corral serve` returns to `corral run`). */
export function renderAlertSummaries(alerts: AlertJson[], io: CliIO, stream: NodeJS.WritableStream = io.stderr): string {
  const st = makeStyle(stream as NodeJS.WriteStream, io.env);
  const sorted = [...alerts].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || (a.ts ?? '').localeCompare(b.ts ?? ''));
  return sorted.map((p) => {
    const where = [p.episode && `episode ${p.episode}`, p.step !== undefined && `step ${p.step}`, p.tool_call && `call ${p.tool_call}`, p.pid && `pid ${p.pid}`].filter(Boolean).join(', ');
    return `  ${severityColor(st, p.severity, p.severity.toUpperCase().padEnd(8))} ${st.bold(p.category.padEnd(16))} ${text(p.message)}${p.count && p.count > 1 ? ` [x${p.count}]` : ''}\n` +
      // (the episode, tool call id and a policy's rule names are the trajectory's or the policy author's text: escaped like the message)
      `           ${st.dim(safeText(`${p.action}${p.layer ? ` at ${p.layer} layer` : ''} · ${p.rule} · ${p.attack.join(',')} · ${where}`))}\n` +
      `           ${st.dim(`agent reason: ${text(p.reason)}`)}`;
  }).join('\n');
}

export { alertJson, type AlertJson } from '../events/alert-json.js';

/**
 * A text file's content, decompressed when it is compressed (trajectories are often kept
 * gzipped): the same codec detection and decompressors as `corral investigate` (inputs/source.ts).
 */
export async function readBytesFile(path: string): Promise<Buffer> {
  const { openContent } = await import('../investigate/inputs/source.js'); // (not on every command's start-up)
  const parts: Buffer[] = [];
  for await (const c of openContent(path, { chunkBytes: 1 << 20 }).chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Bad input lines named one by one before the rest are only counted (a binary or foreign file would flood the terminal). */
export const MAX_PROBLEMS_SHOWN = 20;

/** Tool calls of a trajectory not replayed (or screened), by tool, most first (names are the trajectory's: escaped). */
export function skippedList(byTool: Record<string, number>): string {
  const all = Object.entries(byTool).sort((a, b) => b[1] - a[1]);
  const shown = all.slice(0, 6).map(([k, n]) => `${safeText(k)} ×${n}`).join(', ');
  return all.length > 6 ? `${shown}, … (${all.length - 6} more tools)` : shown;
}

/** Writes bad input lines to stderr as `cmd: FILE:LINE: error suffix`, their text escaped: the first MAX_PROBLEMS_SHOWN, then a count. */
export function writeInputProblems(io: CliIO, cmd: string, problems: readonly { file: string; line: number; error: string }[], suffix = ''): void {
  for (const p of problems.slice(0, MAX_PROBLEMS_SHOWN)) io.stderr.write(`${cmd}: ${safeText(p.file)}:${p.line}: ${safeText(p.error)}${suffix}\n`);
  if (problems.length > MAX_PROBLEMS_SHOWN) io.stderr.write(`${cmd}: … and ${problems.length - MAX_PROBLEMS_SHOWN} more bad lines\n`);
}
