// Why: the same episode report as a file people can pass around: self-contained HTML (no scripts,
// no external assets; a CSP forbids both), with a timeline — one row per tool call, its run as a
// bar, each alert attributed to it as a mark at the moment it was raised, so a mark right of its
// bar is a process the call left running — and a table per call with the command and evidence.
// Threat: agent-controlled text (commands, hostnames, messages) injecting markup or script into a
// reviewer's browser; every string is escaped and nothing executes. That covers stored fields
// too — ids, alert fields, and a step, pid, during_step or gap_ms that a copied store or a NATS
// publisher made a string with markup in it: every stored value is escaped, and a number is printed
// only when it is a finite number.
import { escapeHtml } from '../investigate/report/html-data.js';
import { nsToIso } from '../events/event.js';
import { formatBytes } from '../store/summary.js';
import { captureNotes, type CaptureNote } from './capture-notes.js';
import { finiteOr, num, plantedHow, tsBig, type ReportAlert, type ReportCall, type SessionReport } from './session-report.js';

export const CATEGORY_COLORS: Record<string, string> = {
  mining: '#d62728', tunnel: '#9467bd', reverse_shell: '#8c564b', internal_probe: '#ff7f0e', metadata_access: '#e377c2',
  exfiltration: '#17becf', persistence: '#bcbd22', defense_evasion: '#7f7f7f', ingress_transfer: '#1f77b4',
  resource_abuse: '#2ca02c', sandbox_escape: '#000000', policy_violation: '#6b8fc7',
};

const CSS = `body{font:14px system-ui,sans-serif;margin:16px 24px;background:#fafafa;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 6px} .meta{color:#666}
.verdict{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:600}
.v-clean{background:#2ca02c}.v-flagged{background:#c98a00}.v-blocked,.v-killed{background:#d62728}
table{border-collapse:collapse;margin:6px 0;width:100%} th,td{border:1px solid #e2e2e2;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0} pre{background:#1e1e1e;color:#eee;padding:6px;border-radius:4px;white-space:pre-wrap;word-break:break-all;margin:0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px} .late{color:#1f6f8b} .gap{color:#b00020}
svg text{font-size:11px;fill:#444} .bar{fill:#b8c4d6;stroke:#7d8ca3} .bar.blocked{fill:#f2b8b8}`;

/** Any stored field as HTML text (a store may hold a number or nothing where text is expected). */
function h(v: unknown): string {
  return escapeHtml(typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
}

/** A category's colour; only the table's own entries (a category named `constructor` is not one). */
function colorOf(category: unknown): string {
  return typeof category === 'string' && Object.hasOwn(CATEGORY_COLORS, category) ? CATEGORY_COLORS[category]! : '#555';
}

function fmtMs(v: unknown): string {
  const n = finiteOr(v, undefined);
  return n === undefined ? '' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`;
}

function timeline(r: SessionReport): string {
  const t0 = tsBig(r.start_ts);
  if (t0 === undefined || !r.calls.length) return '<p class="meta">no tool calls</p>';
  const rel = (ts: string | undefined): number | undefined => { const t = tsBig(ts); return t === undefined ? undefined : Number((t - t0) / 1_000_000n); };
  let tMax = 1;
  for (const c of r.calls) {
    tMax = Math.max(tMax, rel(c.end_ts) ?? rel(c.start_ts) ?? 0);
    for (const a of c.alerts) tMax = Math.max(tMax, rel(a.ts) ?? 0);
  }
  tMax = Math.max(tMax, finiteOr(r.duration_ms, 0));
  const W = 900, L = 150, rowH = 22, H = r.calls.length * rowH + 24;
  const x = (t: number): number => L + ((W - L - 10) * t) / tMax;
  const rows = r.calls.map((c: ReportCall, i) => {
    const y = 6 + i * rowH;
    const s = rel(c.start_ts) ?? 0, e = rel(c.end_ts) ?? tMax;
    const marks = c.alerts.map((a) => {
      const t = rel(a.ts) ?? s;
      const title = `${a.category}${a.late ? ' (raised after the call ended)' : ''}: ${a.message}`;
      return `<circle class="alert-mark" cx="${x(t).toFixed(1)}" cy="${y + 8}" r="5" fill="${colorOf(a.category)}"><title>${h(title)}</title></circle>`;
    }).join('');
    return `<text x="4" y="${y + 12}">${h(`step ${num(c.step)} · ${c.tool_call}`.slice(0, 24))}</text>`
      + `<rect class="call-bar${c.blocked ? ' bar blocked' : ' bar'}" x="${x(s).toFixed(1)}" y="${y + 2}" width="${Math.max(2, x(e) - x(s)).toFixed(1)}" height="12"><title>${escapeHtml(c.command.slice(0, 300))}</title></rect>${marks}`;
  }).join('');
  const axis = `<line x1="${L}" y1="${H - 14}" x2="${W - 10}" y2="${H - 14}" stroke="#999"/><text x="${L}" y="${H - 2}">0 s</text><text x="${W - 60}" y="${H - 2}">${(tMax / 1000).toFixed(1)} s</text>`;
  return `<svg id="timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="tool calls and alerts over time">${rows}${axis}</svg>`;
}

/** One row of a call's alert table. */
function alertRow(a: ReportAlert): string {
  const during = finiteOr(a.during_step, undefined), pid = finiteOr(a.pid, undefined);
  return `<tr class="alert-row"><td><span class="swatch" style="background:${colorOf(a.category)}"></span>${h(a.category)}</td>`
    + `<td>${h(a.severity)}</td><td>${h(a.action)}${a.layer ? ` · ${h(a.layer)}` : ''}</td>`
    + `<td>${h(a.message)}${a.late ? `<div class="late">raised after this call ended${during !== undefined ? `, during step ${during}` : ''}: by a process it left running${pid ? ` (pid ${pid})` : ''}</div>` : ''}`
    + `<div class="meta">agent reads: ${h(a.reason)}</div></td><td>${h(a.rule)}<div class="meta">${h(a.attack.map(String).join(', '))}</div></td></tr>`;
}

function callTable(c: ReportCall): string {
  const alerts = c.alerts.map(alertRow).join('');
  const exit = c.exit_code === null ? 'null' : num(c.exit_code);
  const ended = c.end_ts === undefined ? 'running' : c.blocked ? `blocked (exit ${exit})` : c.timed_out ? 'timed out' : c.cancelled ? `cancelled (${c.cancelled}), exit ${exit}` : `exit ${exit}`;
  return `<h2 id="call-${h(c.tool_call)}">step ${num(c.step)} · ${h(c.tool_call)} · ${h(ended)} · ${fmtMs(c.duration_ms)}</h2>`
    + `<pre class="cmd">${h(c.command)}</pre>`
    + `<div class="meta">${num(c.processes)} process start(s) · ${num(c.connections.allowed)} allowed / ${num(c.connections.denied)} denied connection(s)${(c.bytes.up + c.bytes.down) > 0 ? ` · ↑${formatBytes(c.bytes.up)} ↓${formatBytes(c.bytes.down)}` : ''}${c.tls_clients?.length ? ` · TLS clients (JA4) ${h(c.tls_clients.map(String).join(', '))}` : ''}</div>`
    + (c.planted ?? []).map((x) => `<div class="late">wrote the code (${h(x.file)}) behind the ${h(x.category)} alert ${h(x.rule)} of ${x.step !== undefined ? `step ${num(x.step)}` : h(x.tool_call)}${h(plantedHow(x))}</div>`).join('')
    + (alerts ? `<table><thead><tr><th>category</th><th>severity</th><th>action</th><th>what happened</th><th>rule</th></tr></thead><tbody>${alerts}</tbody></table>` : '<div class="meta">no alerts</div>');
}

/** A time the kernel sensor was down while the session was open. */
function gapParagraph(g: SessionReport['sensor_gaps'][number]): string {
  const gap = finiteOr(g.gap_ms, undefined);
  return `<p class="gap"><b>Capture gap</b>: the kernel sensor was down from ${h(nsToIso(g.down_ts))}${gap !== undefined ? ` for ${gap} ms` : g.gap_ms === undefined ? ' until the session ended' : ''}; execs and connects in that window were not recorded.${g.error ? ` <span class="meta">${h(g.error)}</span>` : ''}</p>`;
}

/** A capture shortfall (capture-notes.ts) as a paragraph: its headline in bold, then what it means. */
function captureParagraph(n: CaptureNote): string {
  const head = n.head.charAt(0).toUpperCase() + n.head.slice(1);
  return `<p class="gap"><b>${h(head)}</b>${h(n.rest)}.</p>`;
}

/** A time another program changed Corral's gateway rules on the host, and Corral put them back. */
function restoredParagraph(g: SessionReport['rules_restored'][number]): string {
  const took = finiteOr(g.restored_ms, undefined);
  return `<p class="gap"><b>Containment gap</b>: at ${h(nsToIso(g.ts))} another program on the host changed Corral's gateway rules (${h(g.what)}); put back${took !== undefined ? ` in ${took} ms` : ''}. Meanwhile this sandbox's traffic was not redirected to the gateway.</p>`;
}

export function renderSessionHtml(reports: SessionReport[], generated = new Date()): string {
  const title = reports.length === 1 ? `Corral report: session ${String(reports[0]!.session)}` : `Corral report: ${reports.length} sessions`;
  const body = reports.map((r) => {
    const head = [r.episode && `episode ${r.episode}`, r.run && `run ${r.run}`, r.policy && `policy ${r.policy}${r.policy_digest ? ` [${r.policy_digest.slice(0, 8)}]` : ''}`, r.sandbox_ip && `sandbox ${r.sandbox_ip}`,
      r.start_ts && nsToIso(r.start_ts), r.duration_ms !== undefined && fmtMs(r.duration_ms)].filter(Boolean).join(' · ');
    return `<section class="session" id="s-${h(r.session)}"><h1>Session ${h(r.session)} <span class="verdict v-${h(r.verdict)}">${h(r.verdict)}</span></h1>`
      + `<div class="meta">${h(head)} · ${num(r.counts.calls)} tool call(s), ${num(r.counts.alerts)} alert(s)</div>`
      + captureNotes(r.capture).map(captureParagraph).join('')
      + (r.cut_short && finiteOr(r.cut_short.calls, 0) > 0 ? `<p class="gap">cut short: ${num(r.cut_short.calls)} call(s) stopped from outside (${h((Array.isArray(r.cut_short.why) ? r.cut_short.why : []).map(String).join(', '))}) — the verdict covers only what ran</p>` : '')
      + (r.rules_restored ?? []).map(restoredParagraph).join('')
      + (r.unreadable_events ? `<p class="gap">${num(r.unreadable_events)} event(s) left out: their time is neither epoch nanoseconds nor ISO 8601 with a zone (a damaged store).</p>` : '')
      + r.sensor_gaps.map(gapParagraph).join('')
      + timeline(r) + r.calls.map(callTable).join('') + '</section>';
  }).join('<hr>');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
    + `<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body>`
    + `<div class="meta">generated ${escapeHtml(generated.toISOString())} by corral report · times in UTC</div>${body}</body></html>\n`;
}
