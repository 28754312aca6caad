// Why: each sandbox holds at most 8 192 connection-tracking entries (gateway-conntrack-cap.test.ts),
// but many hostile sandboxes, each under its own cap, could still fill the host's table together —
// and the gateway's own upstream connections, every sandbox's way out, need room in it. The runtime
// caps all its sandboxes together (RuntimeOptions.conntrackTotal; nft-ruleset.ts). This floods from
// two real sandboxes, each below its own cap, with a runtime-wide cap lowered so that two suffice,
// and reads the kernel's own count. Inside the lab; every query is redirected to Corral's resolver
// (TEST-NET destinations), so no packet leaves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

const TOTAL = 3000;
const PER_SANDBOX = 2500;

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labctt', { conntrackTotal: TOTAL }); });
after(async () => { await fx?.close(); });

const count = (): number => Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_count', 'utf8'));

/** Python that sends one DNS query to each of n addresses of its own /16 (a new conntrack entry each, kept 30 s). */
function flood(octet: number, n: number): string {
  return [
    'import socket',
    'q = b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x04host\\x04test\\x00\\x00\\x01\\x00\\x01"',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    `for i in range(${n}):`,
    '    try:',
    `        s.sendto(q, ("198.${octet}.%d.%d" % (i // 250, i % 250 + 1), 53))`,
    '    except OSError:',
    '        pass',
    'print("sent")',
  ].join('\n');
}

test('all of a runtime\'s sandboxes together hold at most its conntrack cap: two floods, each under its own cap, are capped together', { timeout: 120_000 }, async () => {
  const a = await fx.rt.createSession({ policy: labPolicy(), episode: 'ct-total-a' });
  const b = await fx.rt.createSession({ policy: labPolicy(), episode: 'ct-total-b' });
  try {
    const before = count();
    const ra = await a.exec({ tool: 'python', command: flood(18, PER_SANDBOX), step: 1, toolCallId: 'flood-a', timeoutMs: 60_000 });
    assert.equal(ra.exitCode, 0, ra.stderr);
    const afterA = count() - before;
    assert.ok(afterA > PER_SANDBOX * 0.8, `the first sandbox's flood made its entries (${afterA}): under both caps, it is not refused`);
    const rb = await b.exec({ tool: 'python', command: flood(19, PER_SANDBOX), step: 1, toolCallId: 'flood-b', timeoutMs: 60_000 });
    assert.equal(rb.exitCode, 0, rb.stderr);
    const grown = count() - before;
    // Without the runtime-wide cap the two would hold ≈ 5 000.
    assert.ok(grown > TOTAL * 0.8, `the floods made entries (${grown}): the test measures something`);
    assert.ok(grown <= TOTAL + 300, `the runtime's sandboxes together hold at most its cap (grown by ${grown}, cap ${TOTAL})`);
  } finally { await Promise.all([a.close(), b.close()]); }
});
