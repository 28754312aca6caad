// Why: the joins that tie gateway evidence to the process behind it are pure functions of the
// kernel's records; this pins their edge cases without a sandbox. The DNS sender is found by the
// query's source port, newest send first, within 2 s before the query; a port that two tool calls'
// sockets shared (SO_REUSEPORT) makes the answer a guess, which must never be mistaken for exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectRing } from '../src/session/connect-ring.js';
import type { UdpSourceRecord } from '../src/sensors/bpftrace-sensor.js';

const S = 1_000_000_000n;
const src = (cgroupId: string, pid: number, sport: number, tsNs: bigint): UdpSourceRecord => ({ kind: 'udp_source', tsNs, pid, cgroupId, sport, dport: 53 });

test('dnsSender: the newest send from the query\'s source port within 2 s before it; shared ports are ambiguous', () => {
  const r = new ConnectRing();
  r.pushSource(src('cg-2', 21, 40000, 5n * S)); // older than the window of a query at 10 s
  r.pushSource(src('cg-1', 10, 40000, 10n * S));
  r.pushSource(src('cg-2', 20, 40001, 10n * S + 5n));
  assert.deepEqual(r.dnsSender(40000, 10n * S + 100n), { rec: src('cg-1', 10, 40000, 10n * S), ambiguous: false });
  assert.deepEqual(r.dnsSender(40001, 10n * S + 100n)?.rec.pid, 20);
  assert.equal(r.dnsSender(40002, 10n * S + 100n), undefined, 'no send from that port');
  assert.equal(r.dnsSender(40000, 10n * S - 1n), undefined, 'a send after the query is not its sender');
  assert.equal(r.dnsSender(40000, 13n * S), undefined, 'past 2 s');
  // another call's socket on the same port (SO_REUSEPORT) within the window: a guess
  r.pushSource(src('cg-3', 30, 40000, 11n * S));
  assert.deepEqual(r.dnsSender(40000, 11n * S + 1n), { rec: src('cg-3', 30, 40000, 11n * S), ambiguous: true });
  // the same call sending again from its port is not ambiguous
  const q = new ConnectRing();
  q.pushSource(src('cg-1', 10, 40000, 1n * S));
  q.pushSource(src('cg-1', 11, 40000, 1n * S + 10n));
  assert.deepEqual(q.dnsSender(40000, 2n * S), { rec: src('cg-1', 11, 40000, 1n * S + 10n), ambiguous: false });
});

test('a cgroup past its record budget makes a join that found someone else\'s record a guess (both joins)', () => {
  const r = new ConnectRing();
  // call 2 resolved from port 40000 (on record); call 1 then spent its budget and sent unrecorded
  r.pushSource(src('cg-2', 20, 40000, 10n * S));
  r.push({ kind: 'connect', tsNs: 10n * S, pid: 20, ppid: 1, cgroupId: 'cg-2', family: 'inet', ip: '10.0.0.1', port: 53, comm: 'getent' });
  assert.equal(r.dnsSender(40000, 10n * S + 100n)?.ambiguous, false, 'no overflow yet: exact');
  r.pushOverflow({ kind: 'overflow', tsNs: 10n * S + 50n, pid: 10, cgroupId: 'cg-1' });
  assert.equal(r.dnsSender(40000, 10n * S + 100n)?.ambiguous, true);
  assert.equal(r.findDns(10n * S + 100n)?.ambiguous, true);
  // the overflowing call's own record stays exact; an overflow long before the window does not count
  r.pushOverflow({ kind: 'overflow', tsNs: 10n * S + 60n, pid: 20, cgroupId: 'cg-2' });
  r.pushSource(src('cg-1', 10, 40001, 20n * S));
  assert.equal(r.dnsSender(40001, 20n * S + 100n)?.ambiguous, false);
});
