// Why: the default output of `corral investigate`: what an operator reads first. Ranked
// incidents with the call that most likely caused each (and the runner-up when ambiguous),
// the enrichment test in one sentence, the command patterns behind alerts, and every input
// problem with file:line. Untrusted text (commands, rules, hosts) goes through safeText.
import type { InvestigationResult } from '../analysis/model.js';
import { formatP } from '../analysis/stats.js';
import { safeText, table, type Style } from '../../cli/style.js';

/** Largest |ms| a Date holds (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;
const iso = (t: number): string => (Number.isFinite(t) && Math.abs(t) <= MAX_DATE_MS ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const fmtN = (n: number): string => n.toLocaleString('en');
function dur(ms: number): string {
  const a = Math.abs(ms);
  return a < 1000 ? `${Math.round(a)}ms` : a < 120_000 ? `${(a / 1000).toFixed(1)}s` : a < 7_200_000 ? `${(a / 60_000).toFixed(1)}m` : `${(a / 3_600_000).toFixed(1)}h`;
}
const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export interface SummaryOptions { maxIncidents?: number; width?: number }

export function renderSummary(r: InvestigationResult, st: Style, o: SummaryOptions = {}): string {
  const out: string[] = [];
  const maxInc = o.maxIncidents ?? 20;
  const c = r.counts;
  out.push(st.bold(`corral investigate: ${fmtN(c.records)} network records (${fmtN(c.alerts)} alert-like) · ${fmtN(c.toolCalls)} tool calls in ${fmtN(c.episodes)} episodes · ${dur(r.timings.totalMs ?? 0)}`));

  // Inputs and their problems.
  for (const s of [...r.inputs.net, ...r.inputs.traces, ...r.inputs.placementFiles]) {
    const bad = s.bad ? st.yellow(`, ${fmtN(s.bad)} bad`) : '';
    out.push(`  ${safeText(s.file)} (${s.format}): ${fmtN(s.records)} records${bad}${s.tsNote ? st.dim(` · ${safeText(s.tsNote)}`) : ''}`);
    for (const i of s.issues.slice(0, 3)) out.push(st.dim(`    ${safeText(i.file)}:${i.line}: ${safeText(i.error)}`));
    if (s.issues.length > 3 || s.bad > s.issues.length) out.push(st.dim(`    … ${fmtN(s.bad - Math.min(3, s.issues.length))} more bad records (see --json)`));
  }

  // What makes the whole result doubtful comes before it.
  for (const w of r.warnings ?? []) out.push(st.yellow(`WARNING: ${safeText(w)}`));

  // Enrichment in one sentence.
  const f = r.enrichment.fleet;
  if (f.total > 0) {
    const busy = f.observedMs > 0 ? (100 * f.insideMs) / f.observedMs : 0;
    const rr = Number.isFinite(f.rateRatio) ? `${f.rateRatio.toFixed(1)}×` : 'n/a';
    const sig = f.p < 0.001 ? st.red : f.p < 0.05 ? st.yellow : st.dim;
    out.push('', `${st.bold('Coincidence with tool use:')} ${fmtN(f.inside)} of ${fmtN(f.total)} alerts on agent sources fell inside tool calls, which cover ${busy.toFixed(1)}% of their time (expected ${f.expectedInside.toFixed(1)}): rate ratio ${rr}, ${sig(`p = ${formatP(f)}`)} (${f.method}).`);
  }

  // Incidents.
  out.push('');
  if (!r.incidents.length) out.push(st.green('No incidents: no alert could be linked to a tool call.'));
  else {
    const likely = r.incidents.filter((i) => i.likely).length;
    out.push(st.bold(`Incidents: ${likely} likely (a call with confidence ≥ 67%), ${r.incidents.length - likely} possible${r.incidents.length > maxInc ? `; top ${maxInc} shown` : ''}:`));
    const rows = r.incidents.slice(0, maxInc).map((inc) => {
      const top = inc.attributed[0];
      const call = top ? r.calls[top.call]! : undefined;
      const pct = top ? `${Math.round(top.confidence * 100)}%` : '';
      const who = call ? `${safeText(clip(call.episode, 24))}${call.step !== undefined ? ` #${call.step}` : ''} (${inc.likely ? pct : st.dim(`${pct} possible`)})` : '-';
      const cat = inc.severity !== undefined && inc.severity <= 2 ? st.red(inc.category) : st.yellow(inc.category);
      return [inc.id, cat, safeText(clip(inc.source, 22)), String(inc.alertCount), `${iso(inc.start)} +${dur(inc.end - inc.start)}`, who + (inc.ambiguous ? st.red(' ambiguous') : '')];
    });
    out.push(table(rows, ['ID', 'CATEGORY', 'SOURCE', 'ALERTS', 'WHEN (UTC)', 'MOST LIKELY CALL']).trimEnd());
    out.push('');
    for (const inc of r.incidents.slice(0, Math.min(maxInc, 5)).filter((i) => i.likely)) {
      out.push(st.bold(`${inc.id} ${inc.category} from ${safeText(inc.source)}: ${inc.alertCount} alert${inc.alertCount === 1 ? '' : 's'} (${safeText(inc.kind)})`));
      for (const at of inc.attributed.slice(0, 3)) {
        const k = r.calls[at.call]!;
        out.push(`  ${Math.round(at.confidence * 100)}%  ${safeText(k.episode)}${k.step !== undefined ? ` step ${k.step}` : ''} ${st.dim(safeText(k.tool_call_id))}`);
        out.push(`       $ ${safeText(clip(k.command ?? '(no command)', o.width ?? 110))}`);
        if (at.reasons.length) out.push(st.dim(`       ${at.reasons.join('; ')}`));
      }
      if (inc.runnerUp) {
        const k = r.calls[inc.runnerUp.call]!;
        out.push(`  ${inc.ambiguous ? st.red('runner-up') : st.dim('runner-up')} ${Math.round(inc.runnerUp.confidence * 100)}% ${safeText(k.episode)}${k.step !== undefined ? ` step ${k.step}` : ''}: ${safeText(clip(k.command ?? '', 80))}`);
      }
    }
  }

  // Fleet view.
  const fl = r.fleet;
  if (fl.patterns.length) {
    out.push('', st.bold('Command patterns that precede alerts:'));
    out.push(table(fl.patterns.slice(0, 10).map((p) => [String(p.incidents), String(p.episodes), p.categories.join(','), iso(p.firstSeen), safeText(clip(p.pattern, 70))]),
      ['INCIDENTS', 'EPISODES', 'CATEGORIES', 'FIRST SEEN', 'PATTERN']).trimEnd());
    const fa = fl.firstAppeared;
    if (fa) out.push(`First appeared ${iso(fa.ts)} in ${fa.run !== undefined ? `run ${safeText(fa.run)} ` : ''}episode ${safeText(fa.episode ?? '?')}${fa.step !== undefined ? ` step ${fa.step}` : ''} (${fa.incident}).`);
    if (fl.steps.length) out.push(st.dim(`Steps of blamed calls: ${fl.steps.slice(0, 20).map((s) => `${s.step}:${s.calls}`).join(' ')}`));
  }
  if (c.unlinkedAlerts) {
    const srcs = new Set(r.unattributed.map((u) => u.source)).size;
    out.push('', st.dim(`${fmtN(c.unlinkedAlerts)} alert-like records matched no tool call (${srcs}${r.unattributed.length >= 500 ? '+' : ''} sources; not agent traffic, or outside every window). Top: ${r.unattributed.slice(0, 3).map((u) => `${safeText(u.source)} ${safeText(u.kind)} ×${u.alerts}`).join(', ')}`));
  }
  for (const n of r.notes) out.push(st.dim(`note: ${safeText(n)}`));
  return `${out.join('\n')}\n`;
}
