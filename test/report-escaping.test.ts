// Why: `corral report` renders fields read back from the store, and a store is not trusted — a copied
// one, or events a NATS publisher wrote, can hold anything in any field. A security review found the
// terminal report printing category, severity, ATT&CK ids, action, layer, rule, cancelled and the
// session id raw, and the HTML report inserting step, pid, during_step and gap_ms unescaped.
// Threat: terminal escapes (an OSC 52 clipboard write, a screen clear) reaching an operator's
// terminal, and markup (<img onerror>) reaching a reviewer's browser, through stored fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSessionReport, type SessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { renderSessionHtml } from '../src/report/session-html.js';
import { makeStyle } from '../src/cli/style.js';
import type { CorralEvent } from '../src/events/event.js';

const plain = makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' });
const OSC52 = '\u001b]52;c;cm0gLXJmIH4K\u0007';
const CLEAR = '\u001b[2J\u001b[H';
const IMG = '<img src=x onerror=alert(1)>';
const HOSTILE = `${OSC52}${CLEAR}${IMG}\u009b31m`;
/** Raw control bytes a terminal acts on (a newline between lines is the renderer's own). */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

/** A stored value the types say is a number, as a hostile store holds it. */
const bad = <T>(v: string): T => v as unknown as T;

function ts(ms: number): string { return (1_700_000_000_000_000_000n + BigInt(ms) * 1_000_000n).toString(); }

function event(kind: CorralEvent['kind'], ms: number, extra: Partial<CorralEvent>, payload: Record<string, unknown> = {}): CorralEvent {
  return { id: `${kind}-${ms}`, ts: ts(ms), kind, session: HOSTILE, run: HOSTILE, episode: HOSTILE, payload, ...extra };
}

function alertPayload(): Record<string, unknown> {
  return { rule: HOSTILE, category: HOSTILE, severity: HOSTILE, attack: [HOSTILE, 'T1090'], message: HOSTILE, reason: HOSTILE, action: HOSTILE, layer: HOSTILE, evidence: [HOSTILE] };
}

/** A session whose stored events carry hostile text in every field a renderer reads. */
function hostileEvents(): CorralEvent[] {
  const step = bad<number>(IMG), later = bad<number>(`${OSC52}${IMG}`);
  return [
    event('session.start', 0, {}, { policy: HOSTILE, sandbox_ip: HOSTILE, mode: HOSTILE }),
    event('toolcall.start', 10, { step, tool_call: HOSTILE }, { command: HOSTILE }),
    event('alert', 20, { step, tool_call: HOSTILE, pid: bad<number>(IMG) }, alertPayload()),
    event('toolcall.end', 30, { step, tool_call: HOSTILE }, { exit_code: 1, cancelled: HOSTILE }),
    event('toolcall.start', 40, { step: later, tool_call: 'second' }, { command: 'sleep 1' }),
    event('alert', 50, { step, tool_call: HOSTILE, pid: bad<number>(`${CLEAR}${IMG}`) }, { ...alertPayload(), layer: 'network' }),
    event('alert', 55, { step: later }, alertPayload()),
    event('sensor', 60, {}, { state: 'down', error: HOSTILE }),
    event('sensor', 70, {}, { state: 'up', gap_ms: IMG }),
    event('sensor', 75, {}, { state: 'gateway_rules_restored', what: HOSTILE, restored_ms: 3 }),
    event('toolcall.end', 80, { step: later, tool_call: 'second' }, { exit_code: 0 }),
    event('session.end', 90, {}),
  ];
}

/** A report as a damaged or hostile source may hand one over: strings where numbers belong. */
function hostileReport(): SessionReport {
  const rep = buildSessionReport(hostileEvents());
  const call = rep.calls[0]!;
  Object.assign(call, { step: bad(IMG), exit_code: bad(IMG), duration_ms: bad(IMG), processes: bad(IMG), connections: { allowed: bad(IMG), denied: bad(IMG) }, tls_clients: [HOSTILE] });
  for (const a of call.alerts) Object.assign(a, { late: true, during_step: bad(`${OSC52}${IMG}`), pid: bad(IMG), count: bad(IMG) });
  Object.assign(rep, { duration_ms: bad(IMG), counts: { ...rep.counts, calls: bad(IMG), alerts: bad(IMG), by_category: { [HOSTILE]: bad(IMG) } } });
  rep.sensor_gaps = [{ down_ts: ts(60), up_ts: ts(70), gap_ms: bad(IMG), error: HOSTILE }];
  rep.rules_restored = [{ ts: ts(75), what: HOSTILE, restored_ms: bad(IMG) }];
  Object.assign(rep.capture, { records_lost: bad(IMG) });
  return rep;
}

function assertTerminalSafe(text: string): void {
  const hit = CONTROL.exec(text);
  assert.equal(hit, null, `a raw control byte ${hit ? JSON.stringify(hit[0]) : ''} at ${hit?.index}: ${JSON.stringify(text.slice(Math.max(0, (hit?.index ?? 0) - 60), (hit?.index ?? 0) + 20))}`);
  assert.ok(!text.includes('\u001b') && !text.includes('\u0007'), 'no ESC or BEL');
}

function assertHtmlSafe(html: string): void {
  assert.doesNotMatch(html, /<img/i, 'no element from a stored value');
  assert.doesNotMatch(html, /<script/i);
  const count = (s: string): number => html.split(s).length - 1;
  assert.equal(count('onerror='), count('&#60;img src=x onerror='), 'onerror only inside escaped text');
}

test('the terminal report prints no control byte from stored alert and event fields', () => {
  const rep = buildSessionReport(hostileEvents());
  assert.equal(rep.calls[0]!.alerts.length, 2, 'both alerts blamed on the hostile call');
  assert.ok(rep.calls[0]!.alerts.some((a) => a.late), 'one of them raised after the call ended');
  const text = renderSessionText(rep, plain);
  assertTerminalSafe(text);
  assert.match(text, /\\x1b\]52;c;/, 'the escape is shown, made visible, not dropped');
  assert.match(text, /cancelled \(\\x1b/, 'cancelled goes through safeText');
});

test('the terminal report prints no control byte when stored numbers are hostile strings', () => {
  const text = renderSessionText(hostileReport(), plain);
  assertTerminalSafe(text);
  assert.match(text, /step \?/, 'a step that is not a number is shown as unknown');
  assert.doesNotMatch(text, /(step|pid|for|in|exit|×) ?<img|<img (ms|exec|allowed|denied|tool call|alert|kernel)/, 'a number field that is not a number is not printed');
});

test('the HTML report escapes stored alert and event fields', () => {
  const html = renderSessionHtml([buildSessionReport(hostileEvents())]);
  assertHtmlSafe(html);
  assert.match(html, /&#60;img src=x onerror=alert\(1\)&#62;/, 'hostile text stays visible as text');
});

test('the HTML report prints step, pid, during_step and gap_ms only as finite numbers', () => {
  const html = renderSessionHtml([hostileReport()]);
  assertHtmlSafe(html);
  assert.match(html, /step \? · /, 'a step that is not a number is shown as unknown');
  assert.doesNotMatch(html, /pid &#60;|pid <|during step &#60;|during step <|for &#60;img|for <img/, 'not-a-number values are left out, not printed escaped');
});

test('a category named after an Object.prototype member gets the default colour', () => {
  const rep = buildSessionReport(hostileEvents());
  rep.calls[0]!.alerts[0]!.category = bad('constructor');
  const html = renderSessionHtml([rep]);
  assert.doesNotMatch(html, /native code/);
  assert.match(html, /background:#555/);
});

test('the HTML report shows control bytes as visible \\u escapes, and says when gateway rules were put back', () => {
  const html = renderSessionHtml([buildSessionReport(hostileEvents())]);
  assert.equal(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/.exec(html), null, 'no raw control byte');
  assert.match(html, /\\u001b\]52;c;/, 'the escape is shown, not dropped');
  assert.match(html, /Containment gap<\/b>: at 2023-11-14T22:13:20\.075Z another program on the host changed Corral's gateway rules \(\\u001b/);
});

test('events stamped in ISO 8601 are reported on the same timeline; an unreadable ts is counted, not a crash', () => {
  const iso = (ms: number): string => new Date(1_700_000_000_000 + ms).toISOString();
  const events: CorralEvent[] = [
    { id: 'a', ts: iso(0), kind: 'session.start', session: 's', payload: { policy: 'default' } },
    { id: 'b', ts: ts(1000), kind: 'toolcall.start', session: 's', step: 1, tool_call: 'tc1', payload: { command: 'true' } },
    { id: 'c', ts: iso(3000), kind: 'toolcall.end', session: 's', step: 1, tool_call: 'tc1', payload: { exit_code: 0 } },
    { id: 'd', ts: iso(5000), kind: 'alert', session: 's', step: 1, tool_call: 'tc1', payload: { rule: 'r', category: 'mining', severity: 'high', attack: [], message: 'late', action: 'flagged' } },
    { id: 'e', ts: 'yesterday <img>', kind: 'exec', session: 's', step: 1, tool_call: 'tc1', payload: { argv: ['x'] } },
    { id: 'f', ts: iso(6000), kind: 'session.end', session: 's', payload: {} },
  ];
  const rep = buildSessionReport(events);
  assert.equal(rep.unreadable_events, 1);
  assert.equal(rep.calls[0]!.processes, 0, 'the unreadable exec is left out');
  assert.equal(rep.start_ts, ts(0));
  assert.equal(rep.duration_ms, 6000);
  assert.equal(rep.calls[0]!.alerts[0]!.late, true, 'an ISO alert after an epoch-ns end is late');
  const text = renderSessionText(rep, plain);
  assert.match(text, /\+1\.0s {2}step 1/);
  assert.match(text, /1 event\(s\) left out: their time is neither/);
  const html = renderSessionHtml([rep]);
  assert.match(html, /1 event\(s\) left out/);
  assert.equal((html.match(/class="alert-mark"/g) ?? []).length, 1);
  // a hand-made report with a start_ts that is not a number still renders
  assert.doesNotThrow(() => renderSessionHtml([{ ...rep, start_ts: 'x' }]));
  assert.doesNotThrow(() => renderSessionText({ ...rep, start_ts: 'x', rules_restored: [{ ts: 'bad', what: 'w' }] }, plain));
});

test('the terminal report shows a tool call\'s whole command: every line, long ones wrapped, only a very long one\'s middle elided (a review, session 40)', () => {
  const cmd = `cd /workspace\necho alias ls=ls >> ~/.bashrc\necho ${'A'.repeat(300)}; echo tail-visible`;
  const events: CorralEvent[] = [
    { id: 's', ts: ts(0), kind: 'session.start', session: 's1', payload: {} },
    { id: 'a', ts: ts(10), kind: 'toolcall.start', session: 's1', step: 1, tool_call: 'c1', payload: { command: cmd } },
    { id: 'b', ts: ts(20), kind: 'toolcall.end', session: 's1', step: 1, tool_call: 'c1', payload: { exit_code: 0 } },
    { id: 'c', ts: ts(30), kind: 'toolcall.start', session: 's1', step: 2, tool_call: 'c2', payload: { command: Array.from({ length: 100 }, (_, i) => `echo line${i}`).join('\n') } },
    { id: 'd', ts: ts(40), kind: 'session.end', session: 's1', payload: {} },
  ];
  const text = renderSessionText(buildSessionReport(events), plain);
  assert.match(text, /^ {10}echo alias ls=ls >> ~\/\.bashrc$/m);
  assert.match(text, /tail-visible/);
  assert.ok(text.split('\n').every((l) => l.length <= 140), 'long lines are wrapped');
  // 100 lines: the first and the last kept, the middle counted
  assert.match(text, /echo line0\n/);
  assert.match(text, /echo line99\n/);
  assert.match(text, /… 77 more lines …/);
  assert.doesNotMatch(text, /echo line50\n/);
});
