// Why: `corral investigate --html FILE` writes one self-contained page an incident team can
// mail around and open offline: inline CSS, inline script, inline SVG, no external asset.
// Threats stopped: (1) HTML/JS injection from log content — the data travels as
// script-safe JSON and is rendered with textContent only; (2) the report phoning home —
// a Content-Security-Policy forbids every network fetch, so even injected markup could not load anything.
import type { InvestigationResult } from '../analysis/model.js';
import { reportMain } from './html-client.js';
import { escapeHtml, reportData, scriptSafeJson } from './html-data.js';

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #222; }
body { margin: 0; padding: 16px 24px; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 1px solid #ddd; }
h3 { margin: 4px 0; font-size: 15px; } h4 { margin: 8px 0 4px; font-size: 13px; }
#summary { display: flex; flex-wrap: wrap; gap: 8px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
.note { color: #8a5a00; width: 100%; }
.warning { font-weight: bold; border-left: 4px solid #d48a00; padding-left: 8px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; }
tr.incident { cursor: pointer; } tr.incident.possible { color: #777; } tr.incident:hover { background: #f3f7ff; } tr.incident.sel { background: #dde8ff; }
.flag { color: #b00; font-weight: bold; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; vertical-align: middle; }
.legend-item { margin-right: 12px; }
#timeline { overflow-x: hidden; background: #fff; border: 1px solid #ddd; }
#timeline svg text { font-size: 11px; fill: #333; } .tick { fill: #777 !important; }
.grid { stroke: #eee; } .lane-sep { stroke: #ccc; }
.lane-label { font-weight: bold; } .row-label { fill: #666 !important; }
.call-bar { fill: #b8c4d6; stroke: #7d8ca3; cursor: pointer; } .call-bar.guessed { fill-opacity: 0.5; stroke-dasharray: 3 2; }
.call-bar.sel { fill: #3b6fd8; stroke: #1d3f8a; }
.alert-mark { stroke: #fff; stroke-width: 1; } .alert-mark.sel { stroke: #000; stroke-width: 1.5; }
pre.cmd { background: #1e1e1e; color: #eee; padding: 8px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; margin: 4px 0; }
.attrib { border-left: 4px solid #3b6fd8; padding-left: 8px; margin: 8px 0; } .attrib.runner { border-color: #aaa; } .attrib.ambiguous { border-color: #d62728; }
.controls button { margin-right: 4px; } .meta { color: #666; font-size: 12px; }
#layout { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(420px, 1fr); gap: 16px; }
`;

/** The whole report as one HTML string. */
export function renderHtml(result: InvestigationResult, now = new Date()): string {
  const data = reportData(result, now);
  const title = `Corral investigation — ${data.incidents.length} incident${data.incidents.length === 1 ? '' : 's'}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CSP)}">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="meta">generated ${escapeHtml(data.generated)} · skew ${result.options.skewMs} ms · lag ${result.options.lagMs} ms · times in UTC</div>
<div id="summary"></div>
<h2>Timeline</h2>
<div class="controls"><button id="zoom-in" type="button">zoom in</button><button id="zoom-out" type="button">zoom out</button><button id="zoom-reset" type="button">show all</button> <span id="view-range" class="meta"></span> <span id="legend"></span></div>
<div id="timeline"></div>
<div id="call-detail"></div>
<div id="layout">
<section><h2>Incidents</h2><div id="incidents"></div></section>
<section><h2>Selected incident</h2><div id="detail"><p class="meta">Click an incident to zoom the timeline to it and see the commands involved.</p></div></section>
</div>
<h2>Does alerting coincide with tool use?</h2><div id="enrichment"></div>
<h2>Fleet view: command patterns that precede alerts</h2><div id="fleet"></div>
<h2>Alerts not linked to any tool call</h2><div id="unattributed"></div>
<h2>Inputs</h2><div id="inputs"></div>
<script type="application/json" id="report-data">${scriptSafeJson(data)}</script>
<script>(${reportMain.toString()})(JSON.parse(document.getElementById('report-data').textContent));</script>
</body></html>
`;
}
