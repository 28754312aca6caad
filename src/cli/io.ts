// Why: shared CLI plumbing: the streams a command writes to (injectable for tests), a
// progress line that redraws on a TTY and degrades to plain lines elsewhere, and
// readable rendering of alerts.
import { makeStyle, safeText, type Style } from './style.js';
import type { AlertEvent } from '../events/event.js';

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

export class UsageError extends Error {}

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

const SEV_ORDER = { critical: 0, high: 1, medium: 2, low: 3 } as const;

export function severityColor(st: Style, sev: string, s: string): string {
  return sev === 'critical' || sev === 'high' ? st.red(s) : sev === 'medium' ? st.yellow(s) : st.dim(s);
}

export function renderAlerts(alerts: AlertEvent[], io: CliIO, stream: NodeJS.WritableStream = io.stderr): string {
  const st = makeStyle(stream as NodeJS.WriteStream, io.env);
  const sorted = [...alerts].sort((a, b) => SEV_ORDER[a.payload.severity] - SEV_ORDER[b.payload.severity] || a.ts.localeCompare(b.ts));
  return sorted.map((a) => {
    const p = a.payload;
    const where = [a.episode && `episode ${a.episode}`, a.step !== undefined && `step ${a.step}`, a.tool_call && `call ${a.tool_call}`, a.pid && `pid ${a.pid}`].filter(Boolean).join(', ');
    return `  ${severityColor(st, p.severity, p.severity.toUpperCase().padEnd(8))} ${st.bold(p.category.padEnd(16))} ${safeText(p.message)}${p.count && p.count > 1 ? ` [x${p.count}]` : ''}\n` +
      `           ${st.dim(`${p.action}${p.layer ? ` at ${p.layer} layer` : ''} · ${p.rule} · ${p.attack.join(',')} · ${where}`)}\n` +
      `           ${st.dim(`agent reason: ${safeText(p.reason)}`)}`;
  }).join('\n');
}

export function alertJson(a: AlertEvent): Record<string, unknown> {
  return { rule: a.payload.rule, category: a.payload.category, severity: a.payload.severity, attack: a.payload.attack, message: a.payload.message, reason: a.payload.reason, action: a.payload.action, layer: a.payload.layer, count: a.payload.count, pid: a.pid, step: a.step, tool_call: a.tool_call, evidence: a.payload.evidence };
}
