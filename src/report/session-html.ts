// Why: the same episode report as a file people can pass around: self-contained HTML (no scripts,
// no external assets; a CSP forbids both), with a timeline — one row per tool call, its run as a
// bar, each alert attributed to it as a mark at the moment it was raised, so a mark right of its
// bar is a process the call left running — and a table per call with the command and evidence.
// Threat: agent-controlled text (commands, hostnames, messages) injecting markup or script into a
// reviewer's browser; every string is escaped and nothing executes.
import { escapeHtml } from '../investigate/report/html-data.js';
import { nsToIso } from '../events/event.js';
import { formatBytes } from '../store/summary.js';
import type { ReportCall, SessionReport } from './session-report.js';

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

function fmtMs(n: number | undefined): string { return n === undefined ? '' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`; }

function timeline(r: SessionReport): string {
  const t0 = r.start_ts ? BigInt(r.start_ts) : undefined;
  if (t0 === undefined || !r.calls.length) return '<p class="meta">no tool calls</p>';
  const rel = (ts: string | undefined): number | undefined => (ts && ts.length === r.start_ts!.length ? Number((BigInt(ts) - t0) / 1_000_000n) : undefined);
  let tMax = 1;
  for (const c of r.calls) {
    tMax = Math.max(tMax, rel(c.end_ts) ?? rel(c.start_ts) ?? 0);
    for (const a of c.alerts) tMax = Math.max(tMax, rel(a.ts) ?? 0);
  }
  tMax = Math.max(tMax, r.duration_ms ?? 0);
  const W = 900, L = 150, rowH = 22, H = r.calls.length * rowH + 24;
  const x = (t: number): number => L + ((W - L - 10) * t) / tMax;
  const rows = r.calls.map((c: ReportCall, i) => {
    const y = 6 + i * rowH;
    const s = rel(c.start_ts) ?? 0, e = rel(c.end_ts) ?? tMax;
    const marks = c.alerts.map((a) => {
      const t = rel(a.ts) ?? s;
      const title = `${a.category}${a.late ? ' (raised after the call ended)' : ''}: ${a.message}`;
      return `<circle class="alert-mark" cx="${x(t).toFixed(1)}" cy="${y + 8}" r="5" fill="${CATEGORY_COLORS[a.category] ?? '#555'}"><title>${escapeHtml(title)}</title></circle>`;
    }).join('');
    return `<text x="4" y="${y + 12}">${escapeHtml(`step ${c.step ?? '?'} · ${c.tool_call}`.slice(0, 24))}</text>`
      + `<rect class="call-bar${c.blocked ? ' bar blocked' : ' bar'}" x="${x(s).toFixed(1)}" y="${y + 2}" width="${Math.max(2, x(e) - x(s)).toFixed(1)}" height="12"><title>${escapeHtml(c.command.slice(0, 300))}</title></rect>${marks}`;
  }).join('');
  const axis = `<line x1="${L}" y1="${H - 14}" x2="${W - 10}" y2="${H - 14}" stroke="#999"/><text x="${L}" y="${H - 2}">0 s</text><text x="${W - 60}" y="${H - 2}">${(tMax / 1000).toFixed(1)} s</text>`;
  return `<svg id="timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="tool calls and alerts over time">${rows}${axis}</svg>`;
}

function callTable(c: ReportCall): string {
  const alerts = c.alerts.map((a) => `<tr class="alert-row"><td><span class="swatch" style="background:${CATEGORY_COLORS[a.category] ?? '#555'}"></span>${escapeHtml(a.category)}</td>`
    + `<td>${escapeHtml(a.severity)}</td><td>${escapeHtml(a.action)}${a.layer ? ` · ${escapeHtml(a.layer)}` : ''}</td>`
    + `<td>${escapeHtml(a.message)}${a.late ? `<div class="late">raised after this call ended${a.during_step !== undefined ? `, during step ${a.during_step}` : ''}: by a process it left running${a.pid ? ` (pid ${a.pid})` : ''}</div>` : ''}`
    + `<div class="meta">agent reads: ${escapeHtml(a.reason)}</div></td><td>${escapeHtml(a.rule)}<div class="meta">${escapeHtml(a.attack.join(', '))}</div></td></tr>`).join('');
  const ended = c.end_ts === undefined ? 'running' : c.blocked ? `blocked (exit ${c.exit_code})` : c.timed_out ? 'timed out' : c.cancelled ? `cancelled (${c.cancelled}), exit ${c.exit_code}` : `exit ${c.exit_code}`;
  return `<h2 id="call-${escapeHtml(c.tool_call)}">step ${c.step ?? '?'} · ${escapeHtml(c.tool_call)} · ${escapeHtml(ended)} · ${fmtMs(c.duration_ms)}</h2>`
    + `<pre class="cmd">${escapeHtml(c.command)}</pre>`
    + `<div class="meta">${c.processes} process start(s) · ${c.connections.allowed} allowed / ${c.connections.denied} denied connection(s)${(c.bytes.up + c.bytes.down) > 0 ? ` · ↑${formatBytes(c.bytes.up)} ↓${formatBytes(c.bytes.down)}` : ''}${c.tls_clients?.length ? ` · TLS clients (JA4) ${escapeHtml(c.tls_clients.join(', '))}` : ''}</div>`
    + (alerts ? `<table><thead><tr><th>category</th><th>severity</th><th>action</th><th>what happened</th><th>rule</th></tr></thead><tbody>${alerts}</tbody></table>` : '<div class="meta">no alerts</div>');
}

export function renderSessionHtml(reports: SessionReport[], generated = new Date()): string {
  const title = reports.length === 1 ? `Corral report: session ${reports[0]!.session}` : `Corral report: ${reports.length} sessions`;
  const body = reports.map((r) => {
    const head = [r.episode && `episode ${r.episode}`, r.run && `run ${r.run}`, r.policy && `policy ${r.policy}${r.policy_digest ? ` [${r.policy_digest.slice(0, 8)}]` : ''}`, r.sandbox_ip && `sandbox ${r.sandbox_ip}`,
      r.start_ts && nsToIso(r.start_ts), r.duration_ms !== undefined && fmtMs(r.duration_ms)].filter(Boolean).join(' · ');
    return `<section class="session" id="s-${escapeHtml(r.session)}"><h1>Session ${escapeHtml(r.session)} <span class="verdict v-${r.verdict}">${r.verdict}</span></h1>`
      + `<div class="meta">${escapeHtml(head)} · ${r.counts.calls} tool call(s), ${r.counts.alerts} alert(s)</div>`
      + (r.capture?.records_lost ? `<p class="gap"><b>Capture incomplete: ${r.capture.records_lost} kernel records lost</b> while this session was open${r.capture.first_loss_ts ? ` (${escapeHtml(nsToIso(r.capture.first_loss_ts))}${r.capture.last_loss_ts && r.capture.last_loss_ts !== r.capture.first_loss_ts ? ` … ${escapeHtml(nsToIso(r.capture.last_loss_ts))}` : ''})` : ''}: the sensor's ring overflowed; the loss cannot be attributed to one sandbox, so execs and connects of this session may be missing and the verdict is not proof of a clean run.</p>` : '')
      + (r.capture?.sensor_off ? '<p class="gap"><b>Capture incomplete</b>: no kernel sensor ran; execs and connects were not recorded.</p>' : '')
      + (r.capture?.unsynced ? '<p class="gap"><b>Capture incomplete</b>: the kernel sensor did not confirm, before the session ended, that it had delivered every record; its last execs and connects may be missing.</p>' : '')
      + r.sensor_gaps.map((g) => `<p class="gap"><b>Capture gap</b>: the kernel sensor was down from ${escapeHtml(nsToIso(g.down_ts))}${g.gap_ms !== undefined ? ` for ${g.gap_ms} ms` : ' until the session ended'}; execs and connects in that window were not recorded.${g.error ? ` <span class="meta">${escapeHtml(g.error)}</span>` : ''}</p>`).join('')
      + timeline(r) + r.calls.map(callTable).join('') + '</section>';
  }).join('<hr>');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
    + `<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body>`
    + `<div class="meta">generated ${escapeHtml(generated.toISOString())} by corral report · times in UTC</div>${body}</body></html>\n`;
}
