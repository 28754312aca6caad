// Why: every DNS query to a new address and every TCP attempt from a sandbox is a connection-tracking
// entry in the gateway's namespace (the host's, in production), charged to no cgroup. A sandbox
// sending DNS to ever-changing addresses once filled a quarter of the host's table in seconds. The
// gateway's ruleset caps the entries one sandbox holds (nft-ruleset.ts, CONNTRACK_PER_SANDBOX); this
// floods from a real sandbox, inside the lab, and reads the kernel's own count. No packet leaves:
// every query is redirected to Corral's resolver (the destinations are TEST-NET addresses).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { CONNTRACK_PER_SANDBOX } from '../src/sandbox/nft-ruleset.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labct'); });
after(async () => { await fx?.close(); });

const COUNT = '/proc/sys/net/netfilter/nf_conntrack_count';
const count = (): number => Number(readFileSync(COUNT, 'utf8'));

test('one sandbox cannot hold more than its share of the kernel\'s connection tracking: a DNS flood to changing addresses is capped, then refused', { timeout: 120_000 }, async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ct-flood' });
  try {
    const before = count();
    // 12 000 queries, each to its own address (a new conntrack entry each, kept 30 s): the cap is 8 192
    const py = [
      'import socket, struct',
      'q = b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x04host\\x04test\\x00\\x00\\x01\\x00\\x01"',
      'socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]',
      'refused = 0',
      'for i in range(12000):',
      '    s = socks[i % 16]',
      '    try:',
      '        s.sendto(q, ("198.18.%d.%d" % (i // 250, i % 250 + 1), 53))',
      '    except OSError:',
      '        refused += 1',
      'print("sent", refused)',
    ].join('\n');
    const r = await s.exec({ tool: 'python', command: py, step: 1, toolCallId: 'flood', timeoutMs: 90_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^sent \d+/);
    const grown = count() - before;
    assert.ok(grown > CONNTRACK_PER_SANDBOX / 2, `the flood made entries (${grown}): the test measures something`);
    assert.ok(grown <= CONNTRACK_PER_SANDBOX + 600, `the sandbox holds at most its cap (grown by ${grown}, cap ${CONNTRACK_PER_SANDBOX})`);
  } finally { await s.close(); }
});
