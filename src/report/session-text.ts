// Why: `corral report` for people at a terminal: one episode as a timeline of its tool calls,
// each with what it ran, how it ended and the alerts attributed to it — including those raised
// later by processes it left running — and a verdict. Agent-controlled text is made safe first
// (no terminal escapes from a command or a message reach the screen).
// Threat: a copied store or a NATS publisher writing terminal escapes (OSC 52 clipboard writes,
// screen clears, fake lines) into any stored field — ids, alert fields, a step or pid that is not a
// number — to act on the operator's terminal: every stored string goes through safeText, every
// stored number is printed only when it is a finite number.
import { safeText, type Style } from '../cli/style.js';
import { severityColor } from '../cli/io.js';
import { nsToIso } from '../events/event.js';
import { formatBytes } from '../store/summary.js';
import { captureNotes } from './capture-notes.js';
import { commandLines } from './command-text.js';
import { finiteOr, num, plantedHow, tsBig, type ReportAlert, type ReportCall, type SessionReport, type Verdict } from './session-report.js';

const VERDICT_TEXT: Record<Verdict, string> = {
  clean: 'clean — no alerts',
  flagged: 'flagged — alerts recorded, nothing had to be stopped',
  blocked: 'blocked — Corral stopped at least one action',
  killed: 'killed — Corral killed processes under the policy\'s response',
};

/** Any stored field as terminal-safe text (a store may hold a number or nothing where text is expected). */
function shown(v: unknown): string {
  return safeText(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
}

/** How a call ended, in colour. */
function endedText(c: ReportCall, st: Style): string {
  const exit = c.exit_code === null ? 'null' : num(c.exit_code);
  return c.end_ts === undefined ? st.yellow('running') : c.blocked ? st.red(`blocked (exit ${exit})`)
    : c.timed_out ? st.red('timed out') : c.cancelled ? st.yellow(`cancelled (${shown(c.cancelled)}), exit ${exit}`) : c.exit_code === 0 ? st.green('exit 0') : st.yellow(`exit ${exit}`);
}

/** The two lines of an alert attributed to a call. */
function alertLines(a: ReportAlert, st: Style): string[] {
  const during = finiteOr(a.during_step, undefined), pid = finiteOr(a.pid, undefined), count = finiteOr(a.count, 0);
  const late = a.late ? st.cyan(` (later${during !== undefined ? `, during step ${during}` : ''}: a process this call left running${pid ? `, pid ${pid}` : ''})`) : '';
  return [
    `          ${severityColor(st, a.severity, `✖ ${shown(a.category)}`)} ${st.dim(`[${[a.severity, ...a.attack].map(shown).join(', ')}]`)} ${shown(a.message)}${count > 1 ? ` ×${count}` : ''}${late}`,
    `            ${st.dim(`${shown(a.action)}${a.layer ? ` at the ${shown(a.layer)} layer` : ''} · ${shown(a.rule)} · agent reads: ${shown(a.reason)}`)}`,
  ];
}

export function renderSessionText(r: SessionReport, st: Style): string {
  const out: string[] = [];
  const head = [r.episode && `episode ${r.episode}`, r.run && `run ${r.run}`, r.policy && `policy ${r.policy}${r.policy_digest ? ` [${r.policy_digest.slice(0, 8)}]` : ''}${r.mode === 'observe' ? ' (observe)' : ''}`, r.sandbox_ip && `sandbox ${r.sandbox_ip}`].filter(Boolean).join(' · ');
  out.push(st.bold(`Session ${shown(r.session)}`) + (head ? `  ${st.dim(safeText(head))}` : ''));
  const dur = finiteOr(r.duration_ms, undefined);
  if (r.start_ts) out.push(st.dim(`  ${nsToIso(r.start_ts)}${dur !== undefined ? `, ${(dur / 1000).toFixed(1)} s` : ''}${r.closed ? '' : ', still open'}`));
  const color = r.verdict === 'clean' ? st.green : r.verdict === 'flagged' ? st.yellow : st.red;
  out.push(`  verdict: ${color(VERDICT_TEXT[r.verdict])}`);
  const cut = r.cut_short;
  if (cut && finiteOr(cut.calls, 0) > 0) out.push(`  ${st.yellow('cut short')}: ${num(cut.calls)} call(s) stopped from outside (${(Array.isArray(cut.why) ? cut.why : []).map(shown).join(', ')}) — the verdict covers only what ran`);
  for (const n of captureNotes(r.capture)) out.push(`  ${(n.level === 'red' ? st.red : st.yellow)(n.head)}${n.rest}`);
  if (r.unreadable_events) out.push(`  ${st.yellow(`${num(r.unreadable_events)} event(s) left out`)}: their time is neither epoch nanoseconds nor ISO 8601 with a zone (a damaged store)`);
  for (const g of r.rules_restored ?? []) {
    const took = finiteOr(g.restored_ms, undefined);
    out.push(`  ${st.red('containment gap')}: at ${nsToIso(g.ts)} another program on the host changed Corral's gateway rules (${shown(g.what)}); put back${took !== undefined ? ` in ${took} ms` : ''} — meanwhile this sandbox's traffic was not redirected to the gateway`);
  }
  for (const g of r.sensor_gaps) {
    const gap = finiteOr(g.gap_ms, undefined);
    out.push(`  ${st.red('capture gap')}: the kernel sensor was down from ${nsToIso(g.down_ts)}${gap !== undefined ? ` for ${gap} ms` : g.gap_ms === undefined ? ' (not back when the session ended)' : ''} — execs and connects in that window were not recorded${g.error ? st.dim(` (${shown(g.error)})`) : ''}`);
  }
  const t0 = r.start_ts;
  for (const c of r.calls) {
    const s0 = tsBig(t0), s1 = tsBig(c.start_ts);
    const at = s0 !== undefined && s1 !== undefined ? `+${(Number((s1 - s0) / 1_000_000n) / 1000).toFixed(1)}s` : '';
    const ended = endedText(c, st);
    const facts = [c.duration_ms !== undefined && `${num(c.duration_ms)} ms`, finiteOr(c.processes, 0) > 0 && `${num(c.processes)} exec`, (finiteOr(c.connections.allowed, 0) + finiteOr(c.connections.denied, 0)) > 0 && `${num(c.connections.allowed)} allowed / ${num(c.connections.denied)} denied connections`, (c.bytes.up + c.bytes.down) > 0 && `↑${formatBytes(c.bytes.up)} ↓${formatBytes(c.bytes.down)}`, c.tls_clients?.length && `TLS ${c.tls_clients.map(shown).join(' ')}`].filter(Boolean).join(', ');
    out.push('');
    out.push(`${st.dim(at.padStart(8))}  ${st.bold(`step ${num(c.step)}`)} ${st.dim(shown(c.tool_call))}  ${ended}  ${st.dim(facts)}`);
    for (const l of commandLines(c.command)) out.push(`          ${l}`);
    for (const a of c.alerts) out.push(...alertLines(a, st));
    for (const x of c.planted ?? []) out.push(`          ${severityColor(st, x.severity, `⚑ ${shown(x.category)}`)} wrote the code (${shown(x.file)}) behind the ${shown(x.rule)} alert of ${x.step !== undefined ? `step ${num(x.step)}` : shown(x.tool_call)}${plantedHow(x)}`);
  }
  for (const a of r.other_alerts) out.push(`  ${severityColor(st, a.severity, `✖ ${shown(a.category)}`)} ${shown(a.message)} ${st.dim('(no tool call)')}`);
  const cats = Object.entries(r.counts.by_category).map(([k, n]) => `${shown(k)} ${num(n)}`).join(', ');
  out.push('', st.dim(`  ${num(r.counts.calls)} tool call(s), ${num(r.counts.alerts)} alert(s)${cats ? `: ${cats}` : ''}`));
  return `${out.join('\n')}\n`;
}
