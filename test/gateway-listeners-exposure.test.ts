// Why: the gateway's TCP proxy and resolver listen on every address of the namespace they run in
// (the host's, in production), because each sandbox's flows are redirected to the address of its own
// veth. Anyone else who reaches the host — another machine on its network, a local user — could then
// open connections to them; the proxy and resolver only answer sandbox sources, but that is one check
// in JavaScript between an outsider and Corral's way out. The kernel now refuses such flows first
// (nft-ruleset.ts), while a sandbox's redirected flows still reach both. Real runtime, in the lab: the
// outsider is a far host's namespace on the lab network, and the lab's own loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

const FAR = '203.0.113.10';
let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'far.test', ip: FAR, services: [{ kind: 'http', port: 80 }] }], 'labgx'); });
after(async () => { await fx?.close(); });

/** Python run in netns `ns` (or here): a TCP connect and a UDP DNS query to addr; prints what each got. */
function probe(addr: string, tcpPort: number, udpPort: number, ns?: string): { tcp: string; udp: string } {
  const py = [
    'import socket, sys, json',
    'a, tp, up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])',
    'out = {}',
    's = socket.socket(); s.settimeout(2)',
    'try:',
    '    s.connect((a, tp)); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); out["tcp"] = "connected:" + repr(s.recv(100))',
    'except Exception as e: out["tcp"] = type(e).__name__',
    'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.connect((a, up))',
    'q = b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x03far\\x04test\\x00\\x00\\x01\\x00\\x01"',
    'try:',
    '    u.send(q); out["udp"] = "answered:%d" % len(u.recv(512))',
    'except Exception as e: out["udp"] = type(e).__name__',
    'print(json.dumps(out))',
  ].join('\n');
  const argv = ['python3', '-c', py, addr, String(tcpPort), String(udpPort)];
  const r = ns ? spawnSync('nsenter', [`--net=${ns}`, '--', ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { tcp: string; udp: string };
}

test('the gateway\'s listeners refuse every flow but a sandbox\'s redirected ones: a neighbour on the network and the host\'s loopback are turned away by the kernel', { timeout: 60_000 }, async () => {
  const { tcpPort, dnsPort } = fx.rt.gateway;
  const labIp = /inet (\d+\.\d+\.\d+\.\d+)/.exec(execFileSync('ip', ['-4', 'addr', 'show', 'dev', fx.far.labIf], { encoding: 'utf8' }))?.[1];
  assert.ok(labIp, 'the lab side of the far hosts\' link has an address');
  // A machine on the host's network (the far host's namespace routes to the lab through its link).
  const neighbour = probe(labIp, tcpPort, dnsPort, fx.far.netnsPath);
  assert.equal(neighbour.tcp, 'ConnectionRefusedError', `a neighbour's connection to the proxy is refused by the kernel: ${neighbour.tcp}`);
  assert.equal(neighbour.udp, 'ConnectionRefusedError', `a neighbour's query to the resolver is refused by the kernel: ${neighbour.udp}`);
  // A local user on the host.
  const local = probe('127.0.0.1', tcpPort, dnsPort);
  assert.equal(local.tcp, 'ConnectionRefusedError', `a local connection to the proxy is refused: ${local.tcp}`);
  assert.equal(local.udp, 'ConnectionRefusedError', `a local query to the resolver is refused: ${local.udp}`);
  // A sandbox still reaches both: its query is answered by Corral's resolver and its HTTP judged by the proxy.
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'listeners' });
  try {
    const r = await s.exec({ command: `python3 -c 'import socket; print(socket.gethostbyname("registry.test"))'; curl -sS -m 3 -o /dev/null -w "%{http_code}" http://${FAR}/` });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['198.51.100.10', '403'], 'the sandbox resolves through the gateway and its HTTP is answered by it');
  } finally { await s.close(); }
});
