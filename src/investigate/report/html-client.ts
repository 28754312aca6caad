// Why: the interactive part of the self-contained HTML report (timeline, incident list,
// evidence). It is inlined into the page with Function.prototype.toString, so it must not use
// anything outside its own body. Threat stopped: HTML/JS injection from log content —
// commands, rule names and hosts come from untrusted logs, so this code only ever puts them
// into the page with textContent / setAttribute, never innerHTML.
import type { ReportData } from './html-data.js';

export function reportMain(data: ReportData): void {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const COLORS: Record<string, string> = {
    mining: '#d62728', tunnel: '#9467bd', reverse_shell: '#8c564b', internal_probe: '#ff7f0e', metadata_access: '#e377c2',
    exfiltration: '#17becf', persistence: '#bcbd22', defense_evasion: '#7f7f7f', ingress_transfer: '#1f77b4',
    resource_abuse: '#2ca02c', sandbox_escape: '#000000', policy_violation: '#aec7e8',
  };
  const color = (cat: string): string => COLORS[cat] ?? '#555555';
  const $ = (id: string): HTMLElement => document.getElementById(id)!;
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const k of kids) if (k !== undefined) e.append(typeof k === 'string' ? document.createTextNode(k) : k);
    return e;
  }
  function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }
  const iso = (t: number): string => (Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
  const dur = (ms: number): string => {
    const a = Math.abs(ms);
    const s = a < 1000 ? `${Math.round(a)} ms` : a < 120_000 ? `${(a / 1000).toFixed(1)} s` : a < 7_200_000 ? `${(a / 60_000).toFixed(1)} min` : `${(a / 3_600_000).toFixed(1)} h`;
    return ms < 0 ? `-${s}` : s;
  };
  const pct = (p: number): string => `${Math.round(p * 100)}%`;
  const pval = (t: { p: number; log10p: number }): string => t.p >= 0.001 ? t.p.toFixed(3) : t.p > 0 ? t.p.toExponential(1) : Number.isFinite(t.log10p) ? `1e${Math.floor(t.log10p)}` : '< 1e-300';
  // (an episode is its run and its name: two runs both have an episode "0")
  const epName = (run: string | undefined, episode: string | undefined): string => (run !== undefined ? `${run} / ${episode ?? '?'}` : episode ?? '?');
  const callLabel = (c: number): string => {
    const k = data.calls[c]!;
    return `${epName(k.run, k.episode)}${k.step !== undefined ? ` step ${k.step}` : ''} · ${k.tool_call_id}`;
  };
  function table(head: string[], rows: (string | Node)[][], cls = ''): HTMLTableElement {
    const t = el('table', cls ? { class: cls } : {});
    t.append(el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))));
    const tb = el('tbody');
    for (const r of rows) tb.append(el('tr', {}, ...r.map((c) => el('td', {}, c))));
    t.append(tb);
    return t;
  }

  // ---- Summary ----
  const r = data.result;
  const fleet = r.enrichment.fleet;
  $('summary').append(
    el('div', { class: 'card' }, el('b', {}, String(data.incidents.filter((i) => i.likely).length)), ` likely incidents (${data.incidents.filter((i) => !i.likely).length} possible)`),
    el('div', { class: 'card' }, el('b', {}, r.counts.alerts.toLocaleString('en')), ` alert-like records of ${r.counts.records.toLocaleString('en')}`),
    el('div', { class: 'card' }, el('b', {}, r.counts.toolCalls.toLocaleString('en')), ` tool calls in ${r.counts.episodes.toLocaleString('en')} episodes`),
    el('div', { class: 'card', id: 'enrichment-card' }, 'alerts during tool calls: ',
      el('b', {}, Number.isFinite(fleet.rateRatio) ? `${fleet.rateRatio.toFixed(1)}×` : 'n/a'), ` the idle rate, p = ${pval(fleet)}`),
  );
  for (const w of r.warnings ?? []) $('summary').append(el('div', { class: 'note warning' }, `Warning: ${w}`));
  if (data.truncated.length) $('summary').append(el('div', { class: 'note' }, `Not everything is drawn: ${data.truncated.join('; ')}.`));

  // ---- Incident list ----
  const list = $('incidents');
  const rows = data.incidents.map((inc, k) => {
    const top = inc.attributed[0];
    const tr = el('tr', { class: `incident${inc.likely ? '' : ' possible'}`, 'data-incident': String(k), tabindex: '0' },
      el('td', {}, String(inc.rank)),
      el('td', {}, el('span', { class: 'swatch', style: `background:${color(inc.category)}` }), ` ${inc.category}`),
      el('td', {}, inc.source),
      el('td', { class: 'num' }, String(inc.alertCount)),
      el('td', {}, iso(inc.start)),
      el('td', {}, top ? `${callLabel(top.call)} (${pct(top.confidence)}${inc.likely ? '' : ', possible'})` : '—', inc.ambiguous ? el('span', { class: 'flag' }, ' ambiguous') : undefined),
    );
    tr.addEventListener('click', () => select(k));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(k); });
    return tr;
  });
  const itab = el('table', { class: 'list' });
  itab.append(el('thead', {}, el('tr', {}, ...['#', 'category', 'source', 'alerts', 'start (UTC)', 'most likely call'].map((h) => el('th', {}, h)))));
  const ibody = el('tbody');
  ibody.append(...rows);
  itab.append(ibody);
  list.append(data.incidents.length ? itab : el('p', {}, 'No incidents: no alert could be linked to a tool call.'));

  // ---- Timeline ----
  const tl = $('timeline');
  const LANE_H = 18, LABEL_W = 190, W = Math.max(600, tl.clientWidth || 1000);
  let full: [number, number] = [Infinity, -Infinity];
  for (const a of data.alerts) { full[0] = Math.min(full[0], a.ts); full[1] = Math.max(full[1], a.ts); }
  for (const c of data.calls) { full[0] = Math.min(full[0], c.start); full[1] = Math.max(full[1], c.end); }
  if (!Number.isFinite(full[0])) full = [0, 1];
  const padFull = Math.max(1000, (full[1] - full[0]) * 0.02);
  full = [full[0] - padFull, full[1] + padFull];
  let view: [number, number] = [full[0], full[1]];
  let selected = -1;
  const selCalls = new Set<number>();
  const selAlerts = new Set<number>();

  function drawTimeline(): void {
    tl.textContent = '';
    let rowsN = 1;
    for (const l of data.lanes) rowsN += 1 + l.rows.length;
    const H = rowsN * LANE_H + 24;
    const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, id: 'timeline-svg', 'data-marks': 0 }) as SVGSVGElement;
    const x = (t: number): number => LABEL_W + ((t - view[0]) / (view[1] - view[0])) * (W - LABEL_W - 10);
    // Axis: 6 ticks.
    for (let i = 0; i <= 5; i++) {
      const t = view[0] + ((view[1] - view[0]) * i) / 5;
      s.append(svg('line', { x1: x(t), x2: x(t), y1: 14, y2: H, class: 'grid' }));
      const lab = svg('text', { x: x(t), y: 11, class: 'tick', 'text-anchor': i === 0 ? 'start' : i === 5 ? 'end' : 'middle' });
      lab.textContent = iso(t).slice(5);
      s.append(lab);
    }
    let y = 20, marks = 0;
    const clip = (a: number, b: number): [number, number] | undefined => {
      if (b < view[0] || a > view[1]) return undefined;
      return [Math.max(x(a), LABEL_W), Math.min(x(b), W - 10)];
    };
    for (const lane of data.lanes) {
      const head = svg('text', { x: 4, y: y + 12, class: 'lane-label' });
      head.textContent = lane.source;
      s.append(head, svg('line', { x1: 0, x2: W, y1: y, y2: y, class: 'lane-sep' }));
      for (const a of lane.alerts) {
        const al = data.alerts[a]!;
        if (al.ts < view[0] || al.ts > view[1]) continue;
        const m = svg('circle', { cx: x(al.ts), cy: y + 9, r: selAlerts.has(a) ? 5 : 3.5, fill: color(al.category), class: `alert-mark${selAlerts.has(a) ? ' sel' : ''}`, 'data-alert': a });
        const tt = svg('title', {});
        tt.textContent = `${iso(al.ts)} ${al.category} ${al.src} → ${al.dst}${al.dport !== undefined ? `:${al.dport}` : ''}${al.rule ? ` (${al.rule})` : ''}`;
        m.append(tt);
        s.append(m);
        marks++;
      }
      y += LANE_H;
      for (const row of lane.rows) {
        const lab = svg('text', { x: 14, y: y + 12, class: 'row-label' });
        const name = epName(row.run, row.episode);
        lab.textContent = name.length > 26 ? `${name.slice(0, 25)}…` : name;
        s.append(lab);
        for (const c of row.calls) {
          const k = data.calls[c]!;
          const span = clip(k.start, k.end);
          if (!span) continue;
          const b = svg('rect', { x: span[0], y: y + 3, width: Math.max(2, span[1] - span[0]), height: LANE_H - 6, class: `call-bar${selCalls.has(c) ? ' sel' : ''}${k.endKnown ? '' : ' guessed'}`, 'data-call': c });
          const tt = svg('title', {});
          tt.textContent = `${callLabel(c)}\n${iso(k.start)} – ${iso(k.end)}\n${k.command ?? ''}`;
          b.append(tt);
          b.addEventListener('click', () => showCall(c));
          s.append(b);
        }
        y += LANE_H;
      }
    }
    s.setAttribute('data-marks', String(marks));
    tl.append(s);
    $('view-range').textContent = `${iso(view[0])} – ${iso(view[1])}`;
  }

  function zoom(f: number): void {
    const mid = (view[0] + view[1]) / 2, half = ((view[1] - view[0]) / 2) * f;
    view = [mid - half, mid + half];
    drawTimeline();
  }
  $('zoom-in').addEventListener('click', () => zoom(0.5));
  $('zoom-out').addEventListener('click', () => zoom(2));
  $('zoom-reset').addEventListener('click', () => { view = [full[0], full[1]]; drawTimeline(); });

  function showCall(c: number): void {
    const k = data.calls[c]!;
    const box = $('call-detail');
    box.textContent = '';
    box.append(el('h4', {}, callLabel(c)), el('pre', { class: 'cmd' }, k.command ?? '(no command recorded)'),
      el('div', { class: 'meta' }, `${iso(k.start)} – ${iso(k.end)}${k.endKnown ? '' : ' (end assumed)'} · ${k.file}:${k.line}`));
  }

  // ---- Incident detail ----
  function select(k: number): void {
    const inc = data.incidents[k]!;
    selected = k;
    for (const tr of rows) tr.classList.toggle('sel', Number(tr.getAttribute('data-incident')) === selected);
    selCalls.clear(); selAlerts.clear();
    inc.calls.forEach((c) => selCalls.add(c));
    inc.alerts.forEach((a) => selAlerts.add(a));
    let a0 = inc.start, a1 = inc.end;
    for (const at of inc.attributed) { a0 = Math.min(a0, data.calls[at.call]!.start); a1 = Math.max(a1, data.calls[at.call]!.end); }
    const pad = Math.max(5000, (a1 - a0) * 0.15);
    view = [a0 - pad, a1 + pad];
    drawTimeline();
    const d = $('detail');
    d.textContent = '';
    d.append(el('h3', {}, `${inc.id} · ${inc.category} · ${inc.source}`),
      el('p', {}, `${inc.alertCount} alerts (${inc.kind}) from ${iso(inc.start)} to ${iso(inc.end)}; destination rarity ${inc.rarity.toFixed(2)}; rank score ${inc.score.toFixed(1)}.`));
    const cmds = el('div', { id: 'commands' });
    for (const at of inc.attributed) {
      const c = data.calls[at.call]!;
      cmds.append(el('div', { class: 'attrib' },
        el('h4', {}, `${callLabel(at.call)} — confidence ${pct(at.confidence)}`),
        el('pre', { class: 'cmd' }, c.command ?? '(no command recorded)'),
        el('ul', {}, ...at.reasons.map((s) => el('li', {}, s)))));
    }
    if (inc.runnerUp) {
      const c = data.calls[inc.runnerUp.call]!;
      cmds.append(el('div', { class: `attrib runner${inc.ambiguous ? ' ambiguous' : ''}` },
        el('h4', {}, `runner-up: ${callLabel(inc.runnerUp.call)} — ${pct(inc.runnerUp.confidence)}${inc.ambiguous ? ' (ambiguous)' : ''}`),
        el('pre', { class: 'cmd' }, c.command ?? '(no command recorded)')));
    }
    d.append(cmds);
    const ev: (string | Node)[][] = [];
    for (const a of inc.alerts) {
      const al = data.alerts[a]!;
      for (const e of al.candidates.slice(0, 4)) {
        ev.push([iso(al.ts), `${al.dst}${al.dport !== undefined ? `:${al.dport}` : ''}`, al.rule ?? '', callLabel(e.call),
          e.timing === 'after' ? `after (+${dur(e.offsetMs)})` : e.timing === 'skew' ? `edge (${dur(e.offsetMs)})` : 'inside',
          [e.mention ? `names ${e.mention}` : '', e.ruleMatch !== 'none' ? `rule: ${e.ruleMatch}` : '', data.calls[e.call]!.detached ? 'left process' : ''].filter(Boolean).join(', '),
          pct(e.p)]);
      }
    }
    d.append(el('h4', {}, 'Evidence'), table(['alert time', 'destination', 'rule', 'candidate call', 'timing', 'command evidence', 'p'], ev, 'evidence'));
    d.scrollIntoView({ block: 'nearest' });
  }

  // ---- Enrichment, fleet, inputs ----
  const en = $('enrichment');
  const test = (t: { inside: number; total: number; insideMs: number; observedMs: number; rateRatio: number; p: number; log10p: number }): string[] =>
    [String(t.inside), String(t.total), pct(t.observedMs > 0 ? t.insideMs / t.observedMs : 0), Number.isFinite(t.rateRatio) ? `${t.rateRatio.toFixed(1)}×` : 'n/a', pval(t)];
  en.append(el('p', {}, `Fleet-wide (${fleet.method}): ${fleet.inside} of ${fleet.total} alerts fell inside tool calls, which cover ${pct(fleet.observedMs > 0 ? fleet.insideMs / fleet.observedMs : 0)} of the observed time (expected ${fleet.expectedInside.toFixed(1)}); p = ${pval(fleet)}.`),
    table(['host', 'inside', 'alerts', 'busy time', 'rate ratio', 'p'], r.enrichment.perHost.slice(0, 20).map((h) => [h.key, ...test(h)])));
  $('fleet').append(
    table(['command pattern', 'incidents', 'episodes', 'categories', 'first seen', 'steps'], r.fleet.patterns.slice(0, 30).map((p) =>
      [el('code', {}, p.pattern), String(p.incidents), String(p.episodes), p.categories.join(', '), `${iso(p.firstSeen)} (${epName(p.firstRun, p.firstEpisode)})`, p.steps.slice(0, 12).join(', ')])),
    el('p', {}, r.fleet.firstAppeared ? `First appeared ${iso(r.fleet.firstAppeared.ts)} in ${epName(r.fleet.firstAppeared.run, r.fleet.firstAppeared.episode)} (${r.fleet.firstAppeared.incident}).` : 'No attributed incidents.'),
  );
  const issues: (string | Node)[][] = [];
  for (const s of [...r.inputs.net, ...r.inputs.traces, ...r.inputs.placementFiles]) {
    issues.push([s.file, s.format, String(s.records), String(s.bad), [s.tsNote ?? '', ...s.issues.slice(0, 3).map((i) => `line ${i.line}: ${i.error}`)].filter(Boolean).join(' · ')]);
  }
  $('inputs').append(table(['file', 'format', 'records', 'bad', 'notes'], issues),
    el('ul', {}, ...r.notes.map((n) => el('li', {}, n))));
  $('unattributed').append(table(['source', 'kind', 'alerts', 'first', 'last'], r.unattributed.slice(0, 20).map((u) => [u.source, u.kind, String(u.alerts), iso(u.first), iso(u.last)])));
  const legend = $('legend');
  for (const cat of [...new Set(data.alerts.map((a) => a.category))].sort()) legend.append(el('span', { class: 'legend-item' }, el('span', { class: 'swatch', style: `background:${color(cat)}` }), ` ${cat}`));
  drawTimeline();
  document.body.setAttribute('data-ready', '1');
}
