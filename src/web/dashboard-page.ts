// Why: the dashboard's single page: counters, alerts by category, the alerts, the sessions and
// the latest events of this machine (or of the fleet, with a machine column), refreshed every
// second from the server's snapshot.
// Threat stopped: an agent's text (commands, DNS names, messages) running as script in the
// operator's browser. Everything agent-made is set with textContent, never parsed as HTML; the
// page loads nothing external and its Content-Security-Policy (set by the server) allows only
// this page's own nonce'd script and style, and fetches to its own origin.
export function dashboardPage(nonce: string, machine: string, fleet = false): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corral — ${escapeHtml(machine)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#0f1419;color:#d8dee9}
header{padding:10px 16px;background:#1b2430;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
h1{font-size:16px;margin:0} h2{font-size:14px;margin:18px 16px 6px}
.k{color:#8b98a9} .n{font-size:18px;font-weight:600;margin-left:4px}
#cats{display:flex;gap:8px;flex-wrap:wrap;margin:0 16px}
.chip{padding:2px 8px;border-radius:10px;background:#2b3645}
table{border-collapse:collapse;margin:0 16px;width:calc(100% - 32px)}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #243040;vertical-align:top;white-space:nowrap}
td.msg{white-space:normal;word-break:break-all}
tr.critical td,tr.high td{color:#ff8a80} tr.medium td{color:#ffd180} tr.low td{color:#80d8ff}
.open{color:#a5d6a7} .ended{color:#8b98a9} #status{margin-left:auto}
</style></head><body>
<header><h1>Corral · <span id="machine"></span></h1>
${fleet ? '<span class="k">machines<span class="n" id="c-hosts">0</span></span>' : ''}<span class="k">sessions<span class="n" id="c-sessions">0</span></span>
<span class="k">open<span class="n" id="c-open">0</span></span>
<span class="k">tool calls<span class="n" id="c-calls">0</span></span>
<span class="k">alerts<span class="n" id="c-alerts">0</span></span>
<span class="k">events<span class="n" id="c-events">0</span></span>
<span class="k" id="status">connecting…</span></header>
<h2>Alerts by category</h2><div id="cats"></div>
<h2>Alerts</h2><table id="alerts"><thead><tr><th>time</th><th>session</th><th>episode</th><th>step</th><th>tool call</th><th>category</th><th>severity</th><th>action</th><th>rule</th><th>message</th></tr></thead><tbody></tbody></table>
<h2>Sessions</h2><table id="sessions"><thead><tr><th>session</th><th>run</th><th>episode</th><th>started</th><th>state</th><th>calls</th><th>alerts</th><th>blocked</th><th>killed</th></tr></thead><tbody></tbody></table>
<h2>Latest events</h2><table id="events"><thead><tr><th>time</th><th>session</th><th>step</th><th>tool call</th><th>kind</th><th>pid</th><th>summary</th></tr></thead><tbody></tbody></table>
<script nonce="${nonce}">
(function () {
  'use strict';
  document.getElementById('machine').textContent = ${JSON.stringify(machine)};
  var FLEET = ${fleet ? 'true' : 'false'};
  if (FLEET) ['alerts', 'sessions', 'events'].forEach(function (id) {
    var th = document.createElement('th'); th.textContent = 'machine';
    var row = document.querySelector('#' + id + ' thead tr'); row.insertBefore(th, row.firstChild);
  });
  function time(ts) {
    var ms = /^[0-9]+$/.test(ts) ? Number(BigInt(ts) / 1000000n) : Date.parse(ts);
    return isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : String(ts);
  }
  function fill(id, rows, cells, cls) {
    var body = document.querySelector('#' + id + ' tbody');
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      if (cls) tr.className = cls(r);
      var cs = cells(r);
      if (FLEET) cs.unshift(r.host);
      cs.forEach(function (c, i) {
        var td = document.createElement('td');
        td.textContent = c === undefined || c === null ? '-' : String(c);
        if (i === cs.length - 1) td.className = 'msg';
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
  }
  function render(s) {
    var open = s.sessions.filter(function (x) { return !x.ended; }).length;
    if (FLEET) document.getElementById('c-hosts').textContent = String(s.hosts.length);
    document.getElementById('c-sessions').textContent = String(s.sessions.length);
    document.getElementById('c-open').textContent = String(open);
    document.getElementById('c-calls').textContent = String(s.counts['toolcall.start'] || 0);
    document.getElementById('c-alerts').textContent = String(s.counts.alert || 0);
    document.getElementById('c-events').textContent = String(Object.values(s.counts).reduce(function (a, b) { return a + b; }, 0));
    var cats = document.getElementById('cats');
    cats.replaceChildren.apply(cats, Object.keys(s.alertsByCategory).sort().map(function (c) {
      var span = document.createElement('span'); span.className = 'chip';
      span.textContent = c + ' ' + s.alertsByCategory[c]; return span;
    }));
    fill('alerts', s.alerts, function (a) { return [time(a.ts), a.session.slice(0, 12), a.episode, a.step, a.tool_call, a.category, a.severity, a.action, a.rule, a.message]; }, function (a) { return a.severity; });
    fill('sessions', s.sessions, function (x) { return [x.session.slice(0, 12), x.run, x.episode, time(x.started), x.ended ? 'ended' : 'open', x.calls, x.alerts, x.blocked, x.killed]; }, function (x) { return x.ended ? 'ended' : 'open'; });
    fill('events', s.events, function (e) { return [time(e.ts), e.session.slice(0, 12), e.step, e.tool_call, e.kind, e.pid, e.summary]; });
    document.getElementById('status').textContent = 'live · ' + new Date().toISOString().slice(11, 19) + (s.dropped ? ' · ' + s.dropped + ' dropped' : '') + (s.rejected ? ' · ' + s.rejected + ' rejected (not events)' : '');
  }
  function tick() {
    fetch('state', { cache: 'no-store' }).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render, function (e) { document.getElementById('status').textContent = 'disconnected: ' + e.message; })
      .finally(function () { setTimeout(tick, 1000); });
  }
  tick();
})();
</script></body></html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
