// Why: `corral report` for people at a terminal: one episode as a timeline of its tool calls,
// each with what it ran, how it ended and the alerts attributed to it — including those raised
// later by processes it left running — and a verdict. Agent-controlled text is made safe first
// (no terminal escapes from a command or a message reach the screen).
import { safeText, type Style } from '../cli/style.js';
import { severityColor } from '../cli/io.js';
import { nsToIso } from '../events/event.js';
import { formatBytes } from '../store/summary.js';
import type { SessionReport, Verdict } from './session-report.js';

const VERDICT_TEXT: Record<Verdict, string> = {
  clean: 'clean — no alerts',
  flagged: 'flagged — alerts recorded, nothing had to be stopped',
  blocked: 'blocked — Corral stopped at least one action',
  killed: 'killed — Corral killed processes under the policy\'s response',
};

export function renderSessionText(r: SessionReport, st: Style): string {
  const out: string[] = [];
  const head = [r.episode && `episode ${r.episode}`, r.run && `run ${r.run}`, r.policy && `policy ${r.policy}${r.policy_digest ? ` [${r.policy_digest.slice(0, 8)}]` : ''}${r.mode === 'observe' ? ' (observe)' : ''}`, r.sandbox_ip && `sandbox ${r.sandbox_ip}`].filter(Boolean).join(' · ');
  out.push(st.bold(`Session ${r.session}`) + (head ? `  ${st.dim(safeText(head))}` : ''));
  if (r.start_ts) out.push(st.dim(`  ${nsToIso(r.start_ts)}${r.duration_ms !== undefined ? `, ${(r.duration_ms / 1000).toFixed(1)} s` : ''}${r.closed ? '' : ', still open'}`));
  const color = r.verdict === 'clean' ? st.green : r.verdict === 'flagged' ? st.yellow : st.red;
  out.push(`  verdict: ${color(VERDICT_TEXT[r.verdict])}`);
  if (r.capture?.records_lost) {
    const c = r.capture;
    out.push(`  ${st.red(`capture incomplete: ${c.records_lost} kernel records lost`)} while this session was open${c.first_loss_ts ? ` (${nsToIso(c.first_loss_ts)}${c.last_loss_ts && c.last_loss_ts !== c.first_loss_ts ? ` … ${nsToIso(c.last_loss_ts)}` : ''})` : ''} — the sensor's ring overflowed; the loss cannot be attributed to one sandbox, so execs and connects of this session may be missing and the verdict is not proof of a clean run`);
  }
  if (r.capture?.unsynced) out.push(`  ${st.red('capture incomplete')}: the kernel sensor did not confirm, before the session ended, that it had delivered every record — its last execs and connects may be missing`);
  if (r.capture?.sensor_off) out.push(`  ${st.yellow('capture incomplete: no kernel sensor ran')} — execs and connects were not recorded (the gateway still judged every connection)`);
  for (const g of r.rules_restored ?? []) {
    out.push(`  ${st.red('containment gap')}: at ${nsToIso(g.ts)} another program on the host changed Corral's gateway rules (${safeText(g.what)}); put back${g.restored_ms !== undefined ? ` in ${g.restored_ms} ms` : ''} — meanwhile this sandbox's traffic was not redirected to the gateway`);
  }
  for (const g of r.sensor_gaps) {
    out.push(`  ${st.red('capture gap')}: the kernel sensor was down from ${nsToIso(g.down_ts)}${g.gap_ms !== undefined ? ` for ${g.gap_ms} ms` : ' (not back when the session ended)'} — execs and connects in that window were not recorded${g.error ? st.dim(` (${safeText(g.error)})`) : ''}`);
  }
  const t0 = r.start_ts;
  for (const c of r.calls) {
    const at = t0 && c.start_ts.length === t0.length ? `+${(Number((BigInt(c.start_ts) - BigInt(t0)) / 1_000_000n) / 1000).toFixed(1)}s` : '';
    const cmd = safeText(c.command.split('\n')[0] ?? '').slice(0, 100) + (c.command.includes('\n') || c.command.length > 100 ? '…' : '');
    const ended = c.end_ts === undefined ? st.yellow('running') : c.blocked ? st.red(`blocked (exit ${c.exit_code})`)
      : c.timed_out ? st.red('timed out') : c.cancelled ? st.yellow(`cancelled (${c.cancelled}), exit ${c.exit_code}`) : c.exit_code === 0 ? st.green('exit 0') : st.yellow(`exit ${c.exit_code}`);
    const facts = [c.duration_ms !== undefined && `${c.duration_ms} ms`, c.processes && `${c.processes} exec`, (c.connections.allowed + c.connections.denied) > 0 && `${c.connections.allowed} allowed / ${c.connections.denied} denied connections`, (c.bytes.up + c.bytes.down) > 0 && `↑${formatBytes(c.bytes.up)} ↓${formatBytes(c.bytes.down)}`, c.tls_clients?.length && `TLS ${c.tls_clients.map((f) => safeText(f)).join(' ')}`].filter(Boolean).join(', ');
    out.push('');
    out.push(`${st.dim(at.padStart(8))}  ${st.bold(`step ${c.step ?? '?'}`)} ${st.dim(safeText(c.tool_call))}  ${ended}  ${st.dim(facts)}`);
    out.push(`          ${cmd}`);
    for (const a of c.alerts) {
      const late = a.late ? st.cyan(` (later${a.during_step !== undefined ? `, during step ${a.during_step}` : ''}: a process this call left running${a.pid ? `, pid ${a.pid}` : ''})`) : '';
      out.push(`          ${severityColor(st, a.severity, `✖ ${a.category}`)} ${st.dim(`[${[a.severity, ...a.attack].join(', ')}]`)} ${safeText(a.message)}${a.count && a.count > 1 ? ` ×${a.count}` : ''}${late}`);
      out.push(`            ${st.dim(`${a.action}${a.layer ? ` at the ${a.layer} layer` : ''} · ${a.rule} · agent reads: ${safeText(a.reason)}`)}`);
    }
  }
  for (const a of r.other_alerts) out.push(`  ${severityColor(st, a.severity, `✖ ${a.category}`)} ${safeText(a.message)} ${st.dim('(no tool call)')}`);
  const cats = Object.entries(r.counts.by_category).map(([k, n]) => `${k} ${n}`).join(', ');
  out.push('', st.dim(`  ${r.counts.calls} tool call(s), ${r.counts.alerts} alert(s)${cats ? `: ${cats}` : ''}`));
  return `${out.join('\n')}\n`;
}
