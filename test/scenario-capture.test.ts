// Capture completeness through the real kernel sensor: 1,000 rapid short-lived execs in one
// tool call all appear with their argv and tool call; 500 connect attempts (half allowed,
// half blocked) each appear with their pid, both as syscalls and as gateway decisions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }, { kind: 'sink', port: 8081 }] }], 'labcp'); });
after(async () => { await fx?.close(); });

test('1,000 rapid execs inside one tool call are all captured with argv and attribution', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'capture' });
  try {
    const r = await s.exec({ command: 'for i in $(seq 1000); do /bin/true "cap-$i" "second arg $i"; done; echo done', step: 1, toolCallId: 'execs' });
    assert.equal(r.stdout.trim(), 'done');
    await s.close();
    const execs = s.events.filter((e) => e.kind === 'exec' && (e.payload.argv as string[])[0] === '/bin/true');
    const seen = new Set(execs.map((e) => (e.payload.argv as string[])[1]));
    for (let i = 1; i <= 1000; i++) assert.ok(seen.has(`cap-${i}`), `exec cap-${i} missing`);
    assert.ok(execs.every((e) => e.tool_call === 'execs' && e.step === 1 && e.pid! > 0 && e.ppid! > 0));
    assert.ok(execs.every((e) => (e.payload.argv as string[])[2] === `second arg ${(e.payload.argv as string[])[1]!.slice(4)}`));
    assert.equal(fx.rt.sensor!.lost, 0);
    // and they are in the store, queryable by tool call
    const stored = fx.rt.store.query({ session: s.id, tool_call: 'execs', kind: ['exec'] });
    assert.ok(stored.length >= 1000);
  } finally { await s.close(); }
});

test('a PATH search records each failed execve as a failed attempt, the program that ran once, and the runtime rules judge only that one', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'capture' });
  try {
    // dash's `exec` (execvp-like: bash and a plain dash lookup stat() first) execve()s each PATH entry in turn: two misses (ENOENT), then the stand-in (a copy of true) runs;
    // then a file without the exec bit (EACCES): nothing runs at all.
    // (the miner's name is assembled at run time, so the command screen cannot flag it first and the runtime rule speaks)
    const cmd = `printf 'xm%s' rig > n && cp /bin/true "./$(cat n)" && cp /bin/true ./noexec && chmod 0644 noexec && /bin/sh -c 'm=$(cat n); PATH=/nope1:/nope2:$PWD; exec "$m" --version'; ./noexec; echo rc=$?`;
    const r = await s.exec({ command: cmd, step: 1, toolCallId: 'pathsearch' });
    assert.match(r.stdout, /rc=126/, JSON.stringify(r));
    const byName = await s.exec({ command: '', argv: ['sh', '-c', 'exit 0', 'by-name-tag'], step: 2, toolCallId: 'byname' });
    assert.equal(byName.exitCode, 0, byName.stderr);
    await s.close();
    const miner = s.events.filter((e) => e.kind === 'exec' && (e.payload.argv as string[])[0] === 'xmrig');
    const failed = miner.filter((e) => e.payload.result === 'failed');
    assert.deepEqual(failed.map((e) => [e.payload.filename, e.payload.error]), [['/nope1/xmrig', 'ENOENT'], ['/nope2/xmrig', 'ENOENT']], JSON.stringify(s.events.filter((e) => e.kind === 'exec').map((e) => e.payload)));
    const ran = miner.filter((e) => e.payload.result === undefined);
    assert.equal(ran.length, 1, JSON.stringify(miner.map((e) => e.payload)));
    assert.equal(ran[0]!.payload.filename, '/workspace/xmrig');
    assert.ok(miner.every((e) => e.pid === ran[0]!.pid && e.tool_call === 'pathsearch'));
    const noexec = s.events.filter((e) => e.kind === 'exec' && (e.payload.argv as string[])[0] === './noexec');
    assert.deepEqual(noexec.map((e) => [e.payload.result, e.payload.error]), [['failed', 'EACCES']]);
    // the runtime miner rule matched the exec that ran and none of the misses: the alert's evidence (the union of
    // every detection of this call and category; the command screen's own may lead it) holds that exec alone of these
    const evidence = s.alertEvents.filter((a) => a.payload.category === 'mining').flatMap((a) => a.payload.evidence);
    assert.ok(s.alertEvents.some((a) => a.payload.rule === 'miner_binary_exec' || /miner_binary_exec/.test(a.payload.message)), JSON.stringify(s.alertEvents.map((a) => a.payload)));
    assert.ok(evidence.includes(ran[0]!.id), 'the exec that ran is the evidence');
    for (const f of failed) assert.ok(!evidence.includes(f.id), `a failed attempt (${String(f.payload.filename)}) is not evidence of a miner that ran`);
    // the launcher looks a command name up itself (as a shell does): an argv call by bare name is one exec, no misses,
    // and the name it was given stays argv[0]
    const sh = s.events.filter((e) => e.kind === 'exec' && e.tool_call === 'byname' && (e.payload.argv as string[]).includes('by-name-tag'));
    assert.deepEqual(sh.map((e) => [e.payload.argv, e.payload.filename, e.payload.result]), [[['sh', '-c', 'exit 0', 'by-name-tag'], '/usr/bin/sh', undefined]]);
    // the store and the table say which attempts failed
    const stored = fx.rt.store.query({ session: s.id, tool_call: 'pathsearch', kind: ['exec'] }).filter((e) => e.payload.result === 'failed');
    assert.equal(stored.length, 3);
  } finally { await s.close(); }
});

test('500 connect attempts, half allowed and half blocked, each with its pid', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'capture' });
  try {
    const py = `import socket
ok = 0
for i in range(500):
    port = 80 if i % 2 == 0 else 8081
    try:
        c = socket.create_connection(("198.51.100.10", port), timeout=3)
        if port == 80:
            c.sendall(b"GET / HTTP/1.0\\r\\nHost: registry.test\\r\\n\\r\\n")
            c.recv(10)
        c.close()
        ok += 1
    except OSError:
        pass
print(ok)`;
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'conns', timeoutMs: 60_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    await s.close();
    const sys = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'syscall' && e.payload['network.peer.address'] === '198.51.100.10');
    assert.equal(sys.length, 500);
    assert.ok(sys.every((e) => e.pid! > 0 && e.tool_call === 'conns'));
    const gw = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway');
    assert.equal(gw.filter((e) => e.payload.decision === 'allow').length, 250);
    assert.equal(gw.filter((e) => e.payload.decision === 'deny').length, 250);
    // every gateway decision names the right tool call and carries the pid from the kernel's record of
    // the same 4-tuple (printed once, at connect() return; an earlier two-path program raced and lost some)
    assert.ok(gw.every((e) => e.tool_call === 'conns'));
    const withoutPid = gw.filter((e) => !(e.pid! > 0 && (e.payload.attribution === 'kernel' || e.payload.attribution === 'kernel-connect')));
    assert.equal(withoutPid.length, 0, `${withoutPid.length} of 500 gateway decisions without a kernel pid`);
    assert.equal(await fx.far.accepted('198.51.100.10', 8081), 0, 'blocked port never reached');
    assert.equal(await fx.far.accepted('198.51.100.10', 80), 250);
    // 250 blocked attempts to one destination fold into one alert with the count (a pause longer than the
    // aggregation window on a loaded machine may split it, never lose attempts)
    const alerts = s.alertEvents.filter((a) => a.tool_call === 'conns' && a.payload.rule === 'gateway.policy');
    assert.ok(alerts.length >= 1 && alerts.length <= 3, `${alerts.length} alerts`);
    assert.equal(alerts.reduce((n, a) => n + (a.payload.count ?? 1), 0), 250);
  } finally { await s.close(); }
});

test('a process that reuses one source port for several destinations keeps its kernel attribution: the gateway reads the port its socket has from conntrack, not the one the redirect gave the clash', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'capture' });
  try {
    // (every connection after the first has the reply tuple of the one before, still in conntrack: the kernel
    // resolves the clash by giving it another source port on the gateway's side, where the sensor saw this one)
    const py = `import socket, os
for dst in [("198.51.100.10", 80), ("198.51.100.10", 8081), ("10.77.0.1", 80), ("10.77.0.2", 22)]:
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("0.0.0.0", 40555))
    c.settimeout(3)
    try:
        c.connect(dst)
        c.sendall(b"GET / HTTP/1.0\\r\\nHost: registry.test\\r\\n\\r\\n")
        c.recv(10)
    except OSError:
        pass
    c.close()
print(os.getpid())`;
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'oneport', timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const pid = Number(r.stdout.trim());
    await s.close();
    const gw = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway');
    assert.equal(gw.length, 4, JSON.stringify(gw.map((e) => e.payload)));
    for (const e of gw) {
      assert.deepEqual([e.payload['client.port'], e.payload.attribution, e.tool_call], [40555, 'kernel', 'oneport'], `${e.payload['network.peer.address']}:${e.payload['network.peer.port']}`);
    }
    // (one process made all four: the same host pid on each, from the kernel's record; it printed its own, in its namespace)
    assert.ok(pid > 0 && gw[0]!.pid! > 0 && gw.every((e) => e.pid === gw[0]!.pid), JSON.stringify(gw.map((e) => e.pid)));
  } finally { await s.close(); }
});

test('DNS from one source port to three resolvers: each query keeps its kernel attribution and names the resolver it was sent to (conntrack\'s original tuple)', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'capture' });
  try {
    // (every query after the first has the reply tuple of the one before, still in conntrack: the redirect gives
    // it another source port on the gateway's side, and the datagram's destination is Corral's resolver for all)
    const py = `import socket, struct
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.bind(("0.0.0.0", 40556))
d.settimeout(3)
for i, (server, name) in enumerate([(ns, "one.denied.test"), ("203.0.113.53", "two.denied.test"), ("198.51.100.53", "three.denied.test")]):
    q = struct.pack(">HHHHHH", 0x1200 + i, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\x00\\x00\\x01\\x00\\x01"
    d.sendto(q, (server, 53))
    r, src = d.recvfrom(512)
    print(name, src[0], (r[3] & 15))
print(ns)`;
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'oneport-dns', timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const ns = lines.pop()!;
    // (each answer came back from the address it was sent to, NXDOMAIN: the redirect is undone on the way back)
    assert.deepEqual(lines, [`one.denied.test ${ns} 3`, 'two.denied.test 203.0.113.53 3', 'three.denied.test 198.51.100.53 3']);
    await s.close();
    const dns = s.events.filter((e) => e.kind === 'dns');
    assert.equal(dns.length, 3, JSON.stringify(dns.map((e) => e.payload)));
    const sentTo = Object.fromEntries(dns.map((e) => [e.payload.name, e.payload['network.peer.address']]));
    assert.deepEqual(sentTo, { 'one.denied.test': ns, 'two.denied.test': '203.0.113.53', 'three.denied.test': '198.51.100.53' });
    for (const e of dns) {
      assert.deepEqual([e.payload['client.port'], e.payload.attribution, e.tool_call], [40556, 'kernel', 'oneport-dns'], String(e.payload.name));
    }
    assert.ok(dns[0]!.pid! > 0 && dns.every((e) => e.pid === dns[0]!.pid), JSON.stringify(dns.map((e) => e.pid)));
    // The refusals of the two redirected queries name where each was sent (two outside resolvers within 2 s: the
    // kernel's send records alone could not say which).
    const msgs = s.alertEvents.filter((a) => a.payload.rule === 'dns.denied').map((a) => String(a.payload.message)).sort();
    assert.equal(msgs.length, 3, msgs.join('\n'));
    assert.match(msgs.find((m) => m.includes('three.denied.test'))!, /sent to 198\.51\.100\.53:53, a resolver other than Corral's/);
    assert.match(msgs.find((m) => m.includes('two.denied.test'))!, /sent to 203\.0\.113\.53:53, a resolver other than Corral's/);
    assert.doesNotMatch(msgs.find((m) => m.includes('one.denied.test'))!, /a resolver other than Corral's/);
  } finally { await s.close(); }
});
