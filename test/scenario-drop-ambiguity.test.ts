// Why: a dropped UDP or ICMP packet reaches Corral as a kernel-log line with its destination and no source port;
// it was joined to the newest sender on record to that destination, and that join was treated as proof. When two
// tool calls' processes send to the same place at once (a beacon left running by step 1, the same traffic from
// step 2), the log cannot say whose packet it was: the drop was pinned on one of them and response.kill killed that
// call on a guess. Now such a drop is `ambiguous`: attributed as a guess, and nothing is killed on its strength.
// Real sandbox, real sensor, real nft drops, inside the lab; the datagrams go to a TEST-NET address the sandbox's
// own firewall drops (SAFETY.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
// (a far host gives the lab a route to the destination: the sandbox's datagrams reach the gateway's firewall, which drops and logs them)
before(async () => { fx = await startFixture([{ name: 'udp-far', ip: '203.0.113.77', services: [{ kind: 'sink', port: 9 }] }], 'labda'); });
after(async () => { await fx?.close(); });

const sender = (seconds: number) => `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + ${seconds}
while time.time() < end:
    s.sendto(b"beacon", ("203.0.113.77", 7000))
    time.sleep(0.15)`;

test('a dropped datagram two calls\' processes could have sent is attributed as a guess (never a kill); one only one could have sent names it', { timeout: 90_000 }, async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'drop-ambiguity' });
  try {
    // step 1 leaves a beacon running; step 2 sends to the same destination while it does
    const r1 = await s.exec({ command: `nohup python3 -c '${sender(12)}' >/dev/null 2>&1 &`, step: 1, toolCallId: 'beacon', timeoutMs: 20_000, skipScreen: true });
    assert.equal(r1.exitCode, 0, r1.stderr);
    const r2 = await s.exec({ command: sender(4), tool: 'python', step: 2, toolCallId: 'same-place', timeoutMs: 30_000, skipScreen: true, syncSensor: true });
    // then the beacon sends alone for a while
    await s.exec({ command: 'sleep 3', step: 3, toolCallId: 'wait', timeoutMs: 20_000, syncSensor: true });
    await s.close();
    const drops = s.events.filter((e) => e.kind === 'drop' && e.payload['network.peer.address'] === '203.0.113.77');
    assert.ok(drops.length >= 2, `${drops.length} drops; ${fx.rt.warnings.join(' / ')} ${JSON.stringify(s.events.filter((e) => e.kind === 'drop' || e.kind === 'alert' || e.kind === 'connect').slice(0, 8).map((e) => [e.kind, e.tool_call, e.payload]))} ${r2.stderr}`);
    const seen = JSON.stringify(drops.map((e) => [e.tool_call, e.payload.attribution]));
    assert.equal(r2.exitCode, 0, r2.stderr);
    // while both sent, the drops are guesses: marked, and their alerts are not proof (response.kill needs proof)
    const guessed = drops.filter((e) => e.payload.attribution === 'ambiguous');
    assert.ok(guessed.length >= 1, seen);
    const alertsOf = (id: string) => s.alertEvents.filter((a) => a.payload.rule.startsWith('drop.') && (a.payload.evidence as string[]).includes(id));
    assert.ok(guessed.some((d) => alertsOf(d.id).length > 0), 'a guessed drop raised its alert');
    for (const d of guessed) for (const a of alertsOf(d.id)) assert.equal((a as unknown as { inferred?: boolean }).inferred, true, `alert ${a.payload.rule} on a guessed drop is marked inferred`);
    // the drops that only one call could have sent (the beacon alone, after step 2 ended) still name it
    assert.ok(drops.some((e) => e.payload.attribution === 'syscall' && e.tool_call === 'beacon'), JSON.stringify(drops.map((e) => [e.tool_call, e.payload.attribution])));
  } finally { await s.close(); }
});
