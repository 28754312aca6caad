// The dashboard's counters stay numbers whatever an event's kind or an alert's category says.
// Threat: in the fleet view those are text from NATS (anyone who can publish there; messages are
// checked to be events, not to use Corral's kinds): "toString" or "constructor" read
// Object.prototype's function and put "function toString() { [native code] }1" on the page as the
// count, and "__proto__" events were not counted at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardState } from '../src/web/dashboard-state.js';
import type { CorralEvent } from '../src/events/event.js';

const ev = (kind: string, payload: Record<string, unknown> = {}): CorralEvent => ({ id: `e-${kind}`, ts: '1796312966800131790', session: 's1', kind, payload } as unknown as CorralEvent);

test('kinds and categories named like Object.prototype\'s members are counted as numbers', () => {
  const s = new DashboardState();
  for (const k of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'toString']) s.add(ev(k));
  s.add(ev('alert', { category: 'constructor', severity: 'valueOf', rule: 'r', message: 'm' }));
  s.add(ev('alert', { category: '__proto__', severity: 'high', rule: 'r', message: 'm' }));
  const snap = JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<DashboardState['snapshot']>;
  // (expected values parsed from JSON: a literal `__proto__:` would set the prototype, not a key)
  assert.deepEqual(snap.counts, JSON.parse('{"toString":2,"__proto__":1,"constructor":1,"hasOwnProperty":1,"alert":2}'));
  assert.deepEqual(snap.alertsByCategory, JSON.parse('{"constructor":1,"__proto__":1}'));
  for (const v of Object.values(snap.counts)) assert.equal(typeof v, 'number');
  assert.equal(snap.sessions[0]!.worst, 'high', 'an unknown severity ranks below every real one');
});
