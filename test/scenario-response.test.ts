// policy.response.kill through the real system, inside the lab: a miner stand-in left running in
// the background by step 1 reaches for its pool during step 2; with the response configured its
// processes (step 1's cgroup) are killed at once, the alert says so, step 2 runs on untouched; the
// same episode without the response lets the miner live (the control). A foreground call that
// triggers the response ends at once and reads why; scope 'session' also stops later calls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';
import { parsePolicy, PolicyError } from '../src/policy/index.js';
import { existsSync } from 'node:fs';

/** The kernel records UDP source ports (Linux 6.3+): DNS queries are joined to their sender exactly. */
const SOURCE_PORTS = existsSync('/sys/kernel/tracing/events/sock/sock_send_length');

let fx: Fixture;
before(async () => { fx = await startFixture(DEMO_FAR_HOSTS, 'labrs'); });
after(async () => { await fx?.close(); });

// Sleeps, reaches for the pool (refused by name: a mining alert), then, if still alive, leaves a mark.
// The pool's name is spelled backwards so that neither the command screen nor the exec rules see it:
// the first sighting is the DNS lookup during step 2.
const MINER = `import socket, time
time.sleep(1.0)
try:
    socket.create_connection(("tset.rmxenim.loop"[::-1], 3333), timeout=2).close()
except Exception:
    pass
time.sleep(2.5)
open("/workspace/survived", "w").write("yes")`;

const KILL_MINING = 'response:\n  kill:\n    categories: [mining]\n';

interface EpisodeOptions {
  /** The runtime (default: the shared fixture's). */
  rt?: Fixture['rt'];
  /** Python source left running in the background by step 1; it writes /workspace/survived unless killed. */
  miner?: string;
  episode?: string;
  /** Tool call ids are `${id}-1` … `${id}-3`. */
  id?: string;
  /** Seconds step 2 sleeps while the background process acts; seconds step 3 waits before it looks. */
  wait?: number;
  settle?: number;
  skipScreen?: boolean;
}

/** Step 1 leaves `miner` running in the background, step 2 sleeps, step 3 reports whether it survived; then the session closes. */
async function episode(policyYaml: string, o: EpisodeOptions = {}) {
  const { rt = fx.rt, miner = MINER, episode = 'resp', id = 'resp', wait = 5, settle = 0, skipScreen = false } = o;
  const s = await rt.createSession({ policy: labPolicy(policyYaml), episode });
  try {
    const r1 = await s.exec({ command: `nohup python3 -c '${miner}' >/dev/null 2>&1 & echo started`, step: 1, toolCallId: `${id}-1`, skipScreen });
    const r2 = await s.exec({ command: `sleep ${wait}; echo done`, step: 2, toolCallId: `${id}-2`, timeoutMs: (wait + 20) * 1000 });
    const r3 = await s.exec({ command: `${settle ? `sleep ${settle}; ` : ''}test -e /workspace/survived && echo survived || echo gone`, step: 3, toolCallId: `${id}-3` });
    const { alerts } = await s.close();
    return { s, r1, r2, r3, alerts };
  } finally { await s.close(); }
}

test('response.kill: the background miner of step 1 is killed when it reaches for its pool during step 2; step 2 is untouched', async () => {
  const { r1, r2, r3, alerts } = await episode(KILL_MINING);
  assert.equal(r1.stdout, 'started\n');
  assert.equal(r2.exitCode, 0, r2.stderr);
  assert.equal(r2.stdout, 'done\n', 'the call running at the time is not the one killed');
  assert.equal(r3.stdout, 'gone\n', 'the miner never lived to leave its mark');
  const all = JSON.stringify(alerts.map((a) => [a.tool_call, a.payload.rule, a.payload.layer, a.payload.action, a.payload.message]));
  const mining = alerts.filter((a) => a.payload.category === 'mining' && a.payload.layer !== 'command');
  assert.ok(mining.length >= 1, all);
  assert.ok(mining.every((a) => a.tool_call === 'resp-1'), `attributed to the step that started the miner: ${all}`);
  assert.ok(mining.some((a) => a.payload.action === 'killed' && a.payload.layer === 'network' && /killed the processes of tool call resp-1/.test(a.payload.message)), all);
  assert.ok(!alerts.some((a) => a.tool_call === 'resp-1' && a.payload.layer === 'command'), `the screen did not see the pool: ${all}`);
  assert.equal(mining.filter((a) => a.payload.action === 'killed').length, 1, `one behaviour, one alert: ${all}`);
});

test('without response.kill the same miner survives (the control)', async () => {
  const { r3, alerts } = await episode('');
  assert.equal(r3.stdout, 'survived\n');
  assert.ok(alerts.filter((a) => a.payload.category === 'mining').every((a) => a.payload.action !== 'killed'));
});

test('a foreground call that triggers the response ends at once and reads why; scope session stops the episode', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(`${KILL_MINING}    scope: session\n`), episode: 'resp-fg' });
  try {
    const t0 = Date.now();
    const py = 'import socket, time\ntry:\n    socket.create_connection(("pool.minexmr.test", 3333), timeout=2)\nexcept Exception:\n    pass\ntime.sleep(20)\nprint("finished")';
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'fg-1', timeoutMs: 30_000 });
    assert.ok(Date.now() - t0 < 10_000, 'did not sleep its 20 s');
    assert.equal(r.exitCode, 137, 'killed by SIGKILL (128 + 9, as a shell reports it)');
    assert.equal(r.signal, 'SIGKILL', 'and the signal is named (it was always null: a user review, session 41)');
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /corral: this tool call's processes were killed by policy \(response\.kill\): /);
    const next = await s.exec({ command: 'echo hi', step: 2, toolCallId: 'fg-2' });
    assert.equal(next.exitCode, 126);
    assert.equal(next.stdout, '');
    assert.match(next.stderr, /this session was stopped by policy \(response\.kill\)/);
    // (Corral refused it: a library caller tells this 126 from a command's own; a user review, session 43)
    assert.equal(next.refused?.by, 'stopped');
    assert.equal(r.verdict, 'killed');
    const { alerts } = await s.close();
    assert.ok(alerts.some((a) => a.tool_call === 'fg-1' && a.payload.action === 'killed' && /every process of this session/.test(a.payload.message)));
  } finally { await s.close(); }
});

test('an AF_INET6 socket to an IPv4-mapped address is tied to its process like an AF_INET one: the background miner is named by pid and killed', async () => {
  // ::ffff:203.0.113.20 is 203.0.113.20 on the wire. The kernel's record of the SYN used to carry the
  // mapped spelling, the gateway looked up the IPv4 4-tuple and found nothing: the flow was blamed by
  // time on the running call (step 2), with no pid, and response.kill never fired.
  const miner = `import socket, json, time
time.sleep(1.0)
try:
    s = socket.socket(socket.AF_INET6)
    s.settimeout(2)
    s.connect(("::ffff:203.0.113.20", 443))
    s.sendall((json.dumps({"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5"]}) + "\\n").encode())
    s.recv(512)
except Exception:
    pass
time.sleep(2.5)
open("/workspace/survived", "w").write("yes")`;
  const { s, r2, r3, alerts } = await episode(KILL_MINING, { miner, episode: 'resp-v6', id: 'v6' });
  assert.equal(r2.stdout, 'done\n', r2.stderr);
  const seen = JSON.stringify(s.events.filter((e) => e.kind === 'connect').map((e) => [e.tool_call, e.pid, e.payload.source, e.payload.family, e.payload['network.peer.address'], e.payload.attribution]));
  const sys = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'syscall' && e.payload['network.peer.port'] === 443);
  assert.deepEqual([sys?.payload.family, sys?.payload.v4_mapped, sys?.payload['network.peer.address']], ['inet', true, '203.0.113.20'], seen);
  const gw = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload['network.peer.address'] === '203.0.113.20');
  assert.equal(gw?.payload.attribution, 'kernel', seen);
  assert.equal(gw?.tool_call, 'v6-1', seen);
  assert.equal(gw?.pid, sys?.pid, `the gateway's flow names the connecting process: ${seen}`);
  const mining = alerts.filter((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
  const all = JSON.stringify(alerts.map((a) => [a.tool_call, a.payload.rule, a.payload.action]));
  assert.ok(mining.length >= 1 && mining.every((a) => a.tool_call === 'v6-1'), all);
  assert.ok(mining.some((a) => a.payload.action === 'killed'), all);
  assert.equal(r3.stdout, 'gone\n', 'the miner never lived to leave its mark');
});

test('response.kill is validated: unknown categories and severities are errors naming the line', () => {
  assert.throws(() => parsePolicy('name: x\nresponse:\n  kill:\n    categories: [mining, bitcoin]\n', 'x.yaml'),
    (e: unknown) => e instanceof PolicyError && /x\.yaml:4:\d+: response\.kill\.categories: expected a list of alert categories .* got 'bitcoin'/.test(e.message));
  assert.throws(() => parsePolicy('name: x\nresponse:\n  kill:\n    categories: [mining]\n    min_severity: severe\n', 'x.yaml'),
    (e: unknown) => e instanceof PolicyError && /x\.yaml:5:\d+: response\.kill\.min_severity: expected one of low \| medium \| high \| critical/.test(e.message));
  const p = parsePolicy('name: x\n', 'x.yaml');
  assert.deepEqual(p.response.kill, { categories: [], min_severity: 'high', scope: 'tool_call' }, 'off by default');
});

test('a DNS query is joined to its sender by its source port: with another call resolving meanwhile, the beacon\'s call is blamed and killed, never the resolving call', async () => {
  // Step 1's beacon looks a pool name up (refused: a mining alert) while step 2 resolves a name every
  // 50 ms: the resolver sees a query from each. The kernel's record of each UDP send carries its source
  // port, which the resolver sees too: the pool lookup is step 1's, exactly, and only step 1 is killed.
  const beacon = `import socket, time
time.sleep(1.0)
try:
    socket.getaddrinfo("tset.rmxtroppus.loop"[::-1], 443)
except Exception:
    pass
time.sleep(2.5)
open("/workspace/survived", "w").write("yes")`;
  const s = await fx.rt.createSession({ policy: labPolicy(KILL_MINING), episode: 'resp-dns' });
  try {
    await s.exec({ command: `nohup python3 -c '${beacon}' >/dev/null 2>&1 & echo started`, step: 1, toolCallId: 'dns-1' });
    const r2 = await s.exec({ command: 'for i in $(seq 50); do getent hosts registry.test >/dev/null; sleep 0.05; done; echo done', step: 2, toolCallId: 'dns-2', timeoutMs: 20_000 });
    assert.equal(r2.exitCode, 0, `the resolving call was not killed: ${r2.stderr}`);
    assert.equal(r2.stdout.trim(), 'done');
    const r3 = await s.exec({ command: 'sleep 2.5; test -e survived && echo alive || echo gone', step: 3, toolCallId: 'dns-3', timeoutMs: 20_000 });
    const { alerts } = await s.close();
    const dnsAlert = alerts.find((a) => a.payload.rule === 'dns.mining_pool');
    assert.ok(dnsAlert, JSON.stringify(alerts.map((a) => [a.tool_call, a.payload.rule])));
    const q = s.events.find((e) => e.kind === 'dns' && /supportxmr/.test(String(e.payload.name)));
    const seen = JSON.stringify(s.events.filter((e) => e.kind === 'dns').map((e) => [e.tool_call, e.pid, e.payload.name, e.payload.attribution]));
    if (!SOURCE_PORTS) {
      // A kernel before 6.3 (no sock:sock_send_length): the join is by time, a guess here — kept, marked, and never killed on.
      assert.equal(q?.payload.attribution, 'ambiguous', seen);
      assert.notEqual(dnsAlert.payload.action, 'killed');
      return;
    }
    assert.equal(r3.stdout.trim(), 'gone', 'the beacon (step 1) was killed before it could finish');
    assert.equal(dnsAlert.tool_call, 'dns-1');
    assert.equal(dnsAlert.payload.action, 'killed', 'the beacon, step 1\'s process, was killed');
    assert.equal(q?.payload.attribution, 'kernel', seen);
    assert.equal(q?.tool_call, 'dns-1', seen);
    // every one of step 2's lookups is step 2's, by its source port too
    const reg = s.events.filter((e) => e.kind === 'dns' && e.payload.name === 'registry.test');
    assert.ok(reg.length >= 50, seen);
    // (a lookup is 'ambiguous' — still step 2's, marked a guess, never killed on — when the sensor's rate budget dropped
    // another call's records in that window, connect-ring.ts othersUnrecorded: seen once under CI load, session 21; and
    // 'syscall' — step 2's exactly, by its connect record — when the send's own record was not at hand: once, session 39)
    assert.ok(reg.every((e) => e.tool_call === 'dns-2' && ['kernel', 'ambiguous', 'syscall'].includes(String(e.payload.attribution))), seen);
    assert.ok(reg.filter((e) => e.payload.attribution === 'kernel').length >= reg.length * 0.9, seen);
  } finally { await s.close(); }
});

test('a verdict late in a long-lived flow keeps the flow\'s attribution after the kernel\'s 4-tuple record is pruned: the background process of step 1 is blamed by pid and killed', async () => {
  // Step 1 leaves a client on an allowed HTTP flow; during step 2, after the 4-tuple index has forgotten the
  // connection (its TTL shortened here from 120 s to 1.5 s), the client sends a pool login on the same flow.
  // The midstream verdict used to look the 4-tuple up again: it blamed step 2 by time, with no pid, and killed nothing.
  const own = await startFixture([{ name: 'front', ip: '203.0.113.21', services: [{ kind: 'sink', port: 443 }] }], 'labrt', { synTtlMs: 1500 });
  const client = `import socket, time, json
s = socket.create_connection(("203.0.113.21", 443))
s.sendall(b"GET / HTTP/1.1\\r\\nHost: 203.0.113.21\\r\\n\\r\\n")
time.sleep(4)
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except Exception:
    pass
time.sleep(0.5)
s.sendall((json.dumps({"id": 1, "method": "mining.subscribe", "params": ["x"]}) + "\\n").encode())
time.sleep(4)
open("/workspace/survived", "w").write("yes")`;
  try {
    const allow21 = `${KILL_MINING}network:\n  allow:\n    - cidr: 203.0.113.21/32\n      ports: [443]\n      protocols: [http]\n`;
    const { s, r2, r3, alerts } = await episode(allow21, { rt: own.rt, miner: client, episode: 'resp-late', id: 'late', wait: 8, settle: 1, skipScreen: true });
    assert.equal(r2.stdout, 'done\n', r2.stderr);
    const gw = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload['network.peer.address'] === '203.0.113.21');
    const seen = JSON.stringify(gw.map((e) => [e.tool_call, e.pid, e.payload.midstream, e.payload.attribution]));
    const late = gw.find((e) => e.payload.midstream);
    assert.ok(late, seen);
    assert.equal(late.tool_call, 'late-1', `the late verdict is step 1's: ${seen}`);
    assert.equal(late.pid, gw[0]!.pid, seen);
    assert.equal(late.payload.attribution, 'kernel', seen);
    const all = JSON.stringify(alerts.map((a) => [a.tool_call, a.payload.rule, a.payload.action]));
    const mining = alerts.filter((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
    assert.ok(mining.length >= 1 && mining.every((a) => a.tool_call === 'late-1'), all);
    assert.ok(mining.some((a) => a.payload.action === 'killed'), all);
    assert.equal(r3.stdout, 'gone\n', 'the client was killed before it could leave its mark');
  } finally { await own.close(); }
});

test('a TCP Fast Open connect (sendto MSG_FASTOPEN, no connect()) right after a datagram burst is still tied to its process by the kernel: blamed on step 1 by pid and killed', async () => {
  // The kernel's 4-tuple record was printed only when connect() returned; a Fast Open client never calls it,
  // and the datagram burst spent the send budget its other record shared, so the flow was blamed by time on step 2.
  const miner = `import socket, json, time
time.sleep(1.0)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(8):
    u.sendto(b"x", ("127.0.0.1", 9))
t = socket.socket()
try:
    t.sendto((json.dumps({"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5"]}) + "\\n").encode(), socket.MSG_FASTOPEN, ("203.0.113.20", 443))
    t.recv(512)
except Exception:
    pass
time.sleep(2.5)
open("/workspace/survived", "w").write("yes")`;
  const { s, r2, r3, alerts } = await episode(KILL_MINING, { miner, episode: 'resp-tfo', id: 'tfo', skipScreen: true });
  assert.equal(r2.stdout, 'done\n', r2.stderr);
  const gw = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload['network.peer.address'] === '203.0.113.20');
  const seen = JSON.stringify(s.events.filter((e) => e.kind === 'connect').map((e) => [e.tool_call, e.pid, e.payload.source, e.payload.attribution]));
  assert.equal(gw?.payload.attribution, 'kernel', seen);
  assert.equal(gw?.tool_call, 'tfo-1', seen);
  const all = JSON.stringify(alerts.map((a) => [a.tool_call, a.payload.rule, a.payload.action])) + seen;
  const mining = alerts.filter((a) => a.payload.category === 'mining' && a.payload.layer === 'network');
  assert.ok(mining.length >= 1 && mining.every((a) => a.tool_call === 'tfo-1'), all);
  assert.ok(mining.some((a) => a.payload.action === 'killed'), all);
  assert.equal(r3.stdout, 'gone\n', 'the miner never lived to leave its mark');
});
