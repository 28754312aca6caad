// Why: the webhook's queue is bounded, and an agent can fill it at will — a thousand low alerts (a loop of denied
// lookups) while the receiver is slow. A full queue dropped whatever came next, so the critical alert that followed
// (a reverse shell, a miner) never reached the on-call channel. Now the least severe waiting alert gives way.
// Real HTTP receiver on 127.0.0.1 that holds its first request until the queue is full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlertWebhook, QUEUE_MAX } from '../src/server/alert-webhook.js';
import type { CorralEvent } from '../src/events/event.js';

const alert = (n: number, severity: string): CorralEvent => ({
  id: `s-${n}`, ts: String(1_700_000_000_000_000_000n + BigInt(n)), kind: 'alert', session: 's', episode: 'e', step: 1, tool_call: `c${n}`,
  payload: { rule: `r${n}`, category: severity === 'critical' ? 'reverse_shell' : 'policy_violation', severity, attack: [], message: `m${n}`, evidence: [], action: 'blocked' },
} as unknown as CorralEvent);

test('a full webhook queue gives way by severity: low alerts make room for a critical one, never the reverse', async () => {
  const got: { rule: string; severity: string }[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let first = true;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      got.push((JSON.parse(body) as { alert: { rule: string; severity: string } }).alert);
      const answer = () => res.end('ok');
      if (first) { first = false; void held.then(answer); } else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const hook = new AlertWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    // one in flight (held by the receiver), then the queue filled with low alerts
    for (let i = 0; i <= QUEUE_MAX; i++) hook.offer(alert(i, 'low'));
    assert.equal(hook.stats().queued, QUEUE_MAX);
    assert.equal(hook.stats().dropped, 1, 'one more low than the queue holds: dropped');
    // a critical and a high arrive at a full queue: each takes a low one's place
    hook.offer(alert(5000, 'critical'));
    hook.offer(alert(5001, 'high'));
    // a low one arriving now finds nothing less severe to replace: it is the one dropped
    hook.offer(alert(5002, 'low'));
    assert.deepEqual([hook.stats().queued, hook.stats().dropped], [QUEUE_MAX, 4]);
    release();
    await hook.drain(20_000);
    const s = hook.stats();
    assert.deepEqual([s.sent, s.failed, s.queued], [QUEUE_MAX, 0, 0]);
    assert.equal(got[0]!.rule, 'r0', 'the one in flight was not taken back');
    assert.ok(got.some((a) => a.rule === 'r5000' && a.severity === 'critical'), 'the critical alert was delivered');
    assert.ok(got.some((a) => a.rule === 'r5001'), 'the high alert was delivered');
    assert.ok(!got.some((a) => a.rule === 'r5002'), 'the late low alert was the one dropped');
    // what made room were the newest low ones waiting (the oldest are delivered in order)
    assert.deepEqual(got.slice(0, 5).map((a) => a.rule), ['r0', 'r1', 'r2', 'r3', 'r4']);
    assert.ok(!got.some((a) => a.rule === 'r1000' || a.rule === 'r999'));
  } finally { server.close(); }
});
