// Why: proves the kernel event sensor sees what an agent does inside a tool call's cgroup:
// every one of 1000 rapid execs with argv, every connect attempt, the SYN source port the
// gateway needs to join proxied flows to a pid, exit codes, cgroup filtering, and the
// kernel-log reader for nft drops. Runs as root on the real kernel; skips otherwise.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { BpftraceSensor, type SensorRecord, type ExecRecord, type ConnectRecord, type SynRecord, type ExitRecord, type UdpSourceRecord } from '../src/sensors/bpftrace-sensor.js';
import { KmsgDropReader, parseDropMessage, parseKmsgRecord, type DropRecord } from '../src/sensors/kmsg-drops.js';
import { decodeSockaddr, RecordAssembler, unescapeBpfJson } from '../src/sensors/bpftrace-records.js';
import { buildProgram } from '../src/sensors/bpftrace-program.js';
import { sameFile } from '../src/session/binary-copies.js';
import { alertForDeniedSocket } from '../src/alerts/network-alerts.js';

const CG_ROOT = '/sys/fs/cgroup/unified';
const isRoot = process.getuid?.() === 0;
const avail = isRoot ? BpftraceSensor.available() : { ok: false, why: 'not root' };

function mkCgroup(): { dir: string; id: string } {
  const dir = `${CG_ROOT}/corral-test-${randomBytes(4).toString('hex')}`;
  mkdirSync(dir);
  return { dir, id: statSync(dir, { bigint: true }).ino.toString() };
}

async function rmCgroup(dir: string): Promise<void> {
  for (let i = 0; i < 50 && existsSync(dir); i++) {
    try { rmdirSync(dir); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
}

interface Ran { pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string }
/** Test-only launcher: a shell moves itself into the cgroup, then execs argv unchanged. */
function runIn(dir: string, argv: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({ pid: c.pid ?? -1, code, signal, stdout: out }));
  });
}

describe('decoders (pure)', () => {
  it('inverts bpftrace 0.17 JSON escaping, including its \\uffffffXX form for bytes >= 0x80', () => {
    assert.equal(unescapeBpfJson('a\\tb\\nc\\"\\\\x09\\u0001\\uffffffc3\\uffffffa9').toString('utf8'), 'a\tb\nc"\\x09\u0001é');
  });
  it('decodes sockaddr_in / sockaddr_in6 (v4-mapped and compressed)', () => {
    assert.deepEqual(decodeSockaddr(Buffer.from('0200005012345678', 'hex')), { family: 'inet', ip: '18.52.86.120', port: 80 });
    const v6 = Buffer.alloc(24); v6.writeUInt16LE(10, 0); v6.writeUInt16BE(443, 2); v6[8] = 0x20; v6[9] = 0x01; v6[9 + 14] = 1;
    assert.deepEqual(decodeSockaddr(v6), { family: 'inet6', ip: '2001::1', port: 443 });
    const m = Buffer.alloc(24); m.writeUInt16LE(10, 0); m[18] = 0xff; m[19] = 0xff; m.set([127, 0, 0, 1], 20);
    assert.deepEqual(decodeSockaddr(m), { family: 'inet', ip: '127.0.0.1', port: 0, mapped: true }, 'a mapped address is IPv4 on the wire');
    assert.equal(decodeSockaddr(Buffer.from('0100000000000000', 'hex')), undefined);
  });
  it('keys an AF_INET6 socket\'s SYN to a mapped address as the IPv4 4-tuple the gateway sees', () => {
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: () => true, emit: (r) => out.push(r) });
    a.line('{"type": "printf", "data": "S\\t42\\t7\\t300\\t::ffff:10.200.0.2\\t40000\\t::ffff:203.0.113.66\\t443\\n"}');
    a.line('{"type": "printf", "data": "S\\t42\\t8\\t301\\tfd00::2\\t40001\\t2001:db8::1\\t443\\n"}');
    assert.deepEqual(out.map((r) => r.kind === 'syn' && [r.saddr, r.daddr]), [['10.200.0.2', '203.0.113.66'], ['fd00::2', '2001:db8::1']]);
  });
  it('joins exec lines that arrive out of order (exec trailer before enter header)', () => {
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: () => true, emit: (r) => out.push(r) });
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    a.line(L('P\\t42\\t7\\t100\\t/bin/x'));
    a.line(L('C\\t7\\t100\\t0\\t\\\\x78\\\\x00\\\\x61\\\\x09\\\\x62\\\\x00'));
    a.line(L('X\\t42\\t7\\t100\\t7\\t1\\t6\\t200'));
    assert.equal(out.length, 0, 'waits for the enter line');
    a.line(L('A\\t42\\t7\\t100\\t0\\tx'));
    a.line(L('E\\t42\\t7\\t100\\t7\\t1\\t0\\t/bin/x'));
    assert.equal(out.length, 1);
    const e = out[0] as ExecRecord;
    assert.deepEqual(e.argv, ['x', 'a\tb']);
    assert.equal(e.result, 'ok'); assert.equal(e.cgroupId, '42'); assert.equal(e.tsNs, 100n);
  });
  it('keeps the parent line of an exec\'s start when the parent exited before its end (the X line names the reaper)', () => {
    // 55 forked 60 and exited once 60's exec had dropped its close-on-exec fds: at sched_process_exec 60's parent
    // is the reaper (2), whose parents are nobody's business; at the execve's start it was 55, a child of 40
    for (const enterFirst of [true, false]) {
      const out: ExecRecord[] = [];
      const a = new RecordAssembler({ keep: () => true, emit: (r) => { if (r.kind === 'exec') out.push(r); } });
      const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
      const enter = [L('A\\t42\\t60\\t100\\t0\\tsh'), L('R\\t60\\t100\\t40\\t30'), L('E\\t42\\t60\\t100\\t60\\t55\\t0\\t/bin/sh')];
      const exec = [L('P\\t42\\t60\\t100\\t/bin/sh'), L('C\\t60\\t100\\t0\\t\\\\x73\\\\x68\\\\x00'), L('X\\t42\\t60\\t100\\t60\\t2\\t3\\t200\\t0\\t77\\t5\\t0\\t0\\t0\\t1\\t0')];
      for (const l of enterFirst ? [...enter, ...exec] : [...exec, ...enter]) a.line(l);
      assert.deepEqual(out.map((r) => [r.pid, r.ppid, r.grandparents, r.argv]), [[60, 55, [40, 30], ['sh']]], `enter first: ${String(enterFirst)}`);
    }
    // the same parent at both ends: the exec's own (later) line stands
    const out: ExecRecord[] = [];
    const a = new RecordAssembler({ keep: () => true, emit: (r) => { if (r.kind === 'exec') out.push(r); } });
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    for (const l of [L('R\\t61\\t101\\t40\\t30'), L('E\\t42\\t61\\t101\\t61\\t55\\t0\\t/bin/sh'), L('P\\t42\\t61\\t101\\t/bin/sh'), L('X\\t42\\t61\\t101\\t61\\t55\\t3\\t200\\t0\\t77\\t5\\t0\\t0\\t0\\t41\\t31')]) a.line(l);
    assert.deepEqual(out.map((r) => [r.ppid, r.grandparents]), [[55, [41, 31]]]);
  });
  it('decodes refused-socket lines (family, type and errno as numbers, comm last) and keeps only wanted cgroups', () => {
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: (cg) => cg === '42', emit: (r) => out.push(r) });
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    a.line(L('K\\t42\\t7\\t300\\t1\\t40\\t1\\t97\\tpy\\tthon'));
    a.line(L('K\\t43\\t8\\t301\\t1\\t2\\t3\\t1\\tping'));
    assert.deepEqual(out, [{ kind: 'socket_denied', tsNs: 300n, pid: 7, ppid: 1, cgroupId: '42', family: 40, type: 1, errno: 97, comm: 'py\tthon' }]);
  });

  it('names no tracepoint both alone in one probe and in a list in another (bpftrace 0.17 runs the lone probe\'s program for both)', () => {
    for (const pidNs of [false, true]) {
      const heads = buildProgram({ hostNetns: 1, pidNs }).split('\n').filter((l) => /^(tracepoint|kprobe|kretprobe):/.test(l)).map((l) => l.split(/[ /{]/)[0]!.split(','));
      const alone = new Set(heads.filter((h) => h.length === 1).flat());
      const listed = heads.filter((h) => h.length > 1).flat();
      assert.deepEqual(listed.filter((t) => alone.has(t)), [], `pidNs ${String(pidNs)}`);
      assert.ok(alone.has('tracepoint:syscalls:sys_exit_connect') && listed.includes('tracepoint:syscalls:sys_exit_sendto'));
    }
  });

  it('decodes a unix-socket-outside record (W), its path kept whole', () => {
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: (cg) => cg === '42', emit: (r) => out.push(r) });
    a.line('{"type": "printf", "data": "W\\t42\\t7\\t300\\t1\\t1\\t/work/host.sock\\n"}');
    a.line('{"type": "printf", "data": "W\\t43\\t8\\t301\\t1\\t2\\t/other\\n"}');
    assert.deepEqual(out, [{ kind: 'unix_outside', tsNs: 300n, pid: 7, ppid: 1, cgroupId: '42', type: 1, path: '/work/host.sock' }]);
  });

  it('reads socket() arguments from saved registers on x86_64 only; elsewhere a refused socket is still recorded, family and type unknown', () => {
    assert.match(buildProgram({ arch: 'x64' }), /struct pt_regs \*\)/);
    const other = buildProgram({ arch: 'arm64' });
    assert.doesNotMatch(other, /struct pt_regs \*\)/);
    assert.match(other, /tracepoint:syscalls:sys_exit_socket/);
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: () => true, emit: (r) => out.push(r) });
    a.line(`{"type": "printf", "data": "K\\t42\\t7\\t300\\t1\\t-1\\t-1\\t1\\tping\\n"}`);
    assert.deepEqual(out, [{ kind: 'socket_denied', tsNs: 300n, pid: 7, ppid: 1, cgroupId: '42', family: -1, type: -1, errno: 1, comm: 'ping' }]);
    const eperm = alertForDeniedSocket({ family: -1, type: -1, errno: 1 });
    assert.equal(eperm.rule, 'socket.raw');
    assert.match(eperm.message, /EPERM: a raw or packet socket; family and type not read/);
    assert.equal(alertForDeniedSocket({ family: -1, type: -1, errno: 97 }).rule, 'socket.family');
    assert.match(alertForDeniedSocket({ family: 17, type: 3, errno: 1 }).message, /^socket\(/);
  });

  it('decodes UDP source-port lines (the DNS join) and drops impossible ports and unwanted cgroups', () => {
    const out: SensorRecord[] = [];
    const a = new RecordAssembler({ keep: (cg) => cg === '42', emit: (r) => out.push(r) });
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    a.line(L('D\\t42\\t7\\t400\\t38199\\t53'));
    a.line(L('D\\t42\\t7\\t401\\t0\\t0'));
    a.line(L('D\\t42\\t7\\t402\\t70000\\t0'));
    a.line(L('D\\t43\\t8\\t403\\t5353\\t53'));
    assert.deepEqual(out, [{ kind: 'udp_source', tsNs: 400n, pid: 7, cgroupId: '42', sport: 38199, dport: 53 }]);
  });

  it('parses bpftrace lines fast (custom decoder vs JSON.parse of the same lines)', () => {
    const L = (d: string): string => `{"type": "printf", "data": "${d}\\n"}`;
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const key = 1000 + i;
      lines.push(L(`A\\t5\\t${i}\\t${key}\\t0\\t/bin/true`), L(`A\\t5\\t${i}\\t${key}\\t1\\ttag-${i}`), L(`E\\t5\\t${i}\\t${key}\\t${i}\\t1\\t0\\t/bin/true`),
        L(`P\\t5\\t${i}\\t${key}\\t/bin/true`), L(`C\\t${i}\\t${key}\\t0\\t\\\\x61\\\\x00`), L(`X\\t5\\t${i}\\t${key}\\t${i}\\t1\\t2\\t${key}`));
    }
    let n = 0;
    const a = new RecordAssembler({ keep: () => true, emit: () => { n++; } });
    let t0 = process.hrtime.bigint();
    for (const l of lines) a.line(l);
    const custom = Number(process.hrtime.bigint() - t0) / 1e9;
    t0 = process.hrtime.bigint();
    for (const l of lines) JSON.parse(l);
    const jsonOnly = Number(process.hrtime.bigint() - t0) / 1e9;
    assert.equal(n, 20000);
    console.log(`# assembler: ${(lines.length / custom / 1e6).toFixed(2)} M lines/s, ${(n / custom / 1e3).toFixed(0)} k exec records/s; JSON.parse alone: ${(lines.length / jsonOnly / 1e6).toFixed(2)} M lines/s`);
  });
  it('parses nft LOG lines and /dev/kmsg records', () => {
    const icmp = parseDropMessage('corral-drop sb1 IN= OUT=eth0 SRC=10.0.0.2 DST=192.0.2.1 LEN=84 PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1');
    assert.deepEqual({ ...icmp, raw: undefined }, { sandbox: 'sb1', proto: 'ICMP', src: '10.0.0.2', dst: '192.0.2.1', icmpType: 8, icmpCode: 0, raw: undefined });
    const k = parseKmsgRecord('4,1234,5678901,-;corral-drop sb2 IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=31 PROTO=UDP SPT=5000 DPT=53 LEN=11');
    assert.equal(k?.sandbox, 'sb2'); assert.equal(k?.sport, 5000); assert.equal(k?.dport, 53); assert.equal(k?.tsUs, 5678901);
    assert.equal(parseKmsgRecord('6,1,2,-;eth0: link up'), undefined);
    // a runtime's shared rules: the sandbox is the veth the kernel says the packet came in on
    const shared = parseKmsgRecord('4,1235,5678999,-;corral-drop IN=crl03a1h OUT= MAC=aa SRC=10.231.14.134 DST=203.0.113.10 LEN=29 TOS=0x00 PROTO=UDP SPT=40000 DPT=9999 LEN=9');
    assert.equal(shared?.sandbox, '03a1'); assert.equal(shared?.dst, '203.0.113.10'); assert.equal(shared?.dport, 9999);
    assert.equal(parseDropMessage('corral-drop IN=eth0 OUT= SRC=10.0.0.2 DST=192.0.2.1 PROTO=UDP SPT=1 DPT=2'), undefined, 'not a sandbox veth: no sandbox to blame');
  });
});

describe('bpftrace sensor (root, real kernel)', { skip: avail.ok ? false : `sensor unavailable: ${avail.why}` }, () => {
  let sensor: BpftraceSensor;
  let A: { dir: string; id: string };
  let B: { dir: string; id: string };
  const recs: SensorRecord[] = [];
  const errors: Error[] = [];
  let filterCalls = 0;

  before(async () => {
    A = mkCgroup();
    B = mkCgroup();
    const t0 = Date.now();
    sensor = await BpftraceSensor.start({ cgroupFilter: (id) => { filterCalls++; return id === A.id; } });
    console.log(`# sensor startup: ${Date.now() - t0} ms (attach ${sensor.startupMs.toFixed(0)} ms)`);
    sensor.on('record', (r: SensorRecord) => recs.push(r));
    sensor.on('error', (e: Error) => errors.push(e));
  });

  after(async () => {
    await sensor?.stop();
    if (A) await rmCgroup(A.dir);
    if (B) await rmCgroup(B.dir);
    assert.ok(!A || !existsSync(A.dir), 'cgroup A removed');
    assert.ok(!B || !existsSync(B.dir), 'cgroup B removed');
  });

  it('captures all 1000 rapid execs with argv, cgroup id, pid and ppid', async () => {
    const start = recs.length;
    const t0 = process.hrtime.bigint();
    const r = await runIn(A.dir, ['/bin/bash', '-c', 'for i in $(seq 1000); do /bin/true tag-$i; done']);
    assert.equal(r.code, 0);
    await sensor.sync();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const mine = recs.slice(start);
    const execs = mine.filter((x): x is ExecRecord => x.kind === 'exec' && x.argv[0] === '/bin/true' && /^tag-\d+$/.test(x.argv[1] ?? ''));
    const tags = new Set(execs.map((e) => e.argv[1]));
    assert.equal(tags.size, 1000, `captured ${tags.size}/1000 (lost=${sensor.lost})`);
    for (let i = 1; i <= 1000; i++) assert.ok(tags.has(`tag-${i}`), `tag-${i}`);
    for (const e of execs) {
      assert.equal(e.cgroupId, A.id);
      assert.equal(e.ppid, r.pid, 'parent is the loop shell');
      assert.equal(e.result, 'ok');
      assert.equal(e.truncated, false);
      assert.equal(e.filename, '/bin/true');
      // the kernel's dev:inode of the file that ran names /bin/true as stat() sees it (binary-copies.ts reads it so)
      assert.ok(e.exe !== undefined && sameFile(e.exe, statSync('/bin/true')), `exe ${e.exe}`);
    }
    assert.equal(sameFile('1:' + String(statSync('/bin/true').ino), statSync('/bin/true')), false, 'another device is another file');
    assert.equal(new Set(execs.map((e) => e.pid)).size, 1000, 'one distinct pid per exec');
    const exits = mine.filter((x) => x.kind === 'exit' && execs.some((e) => e.pid === x.pid));
    assert.equal(exits.length, 1000, 'every /bin/true exit seen');
    assert.equal(sensor.lost, 0);
    console.log(`# 1000 execs: ${mine.length} records in ${secs.toFixed(2)} s = ${(mine.length / secs).toFixed(0)} records/s (bpftrace lines read: ${sensor.linesRead})`);
  });

  it('captures 500 connect attempts (open and closed ports) and SYN source ports', async () => {
    const srv = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const open = (srv.address() as net.AddressInfo).port;
    const closed: number[] = [];
    for (let i = 0; i < 250; i++) {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      closed.push((s.address() as net.AddressInfo).port);
      await new Promise((r) => s.close(r));
    }
    const ports = closed.flatMap((c) => [open, c]);
    const script = `const net=require('net');const ports=JSON.parse(process.argv[1]);const out=[];
(async()=>{for(const p of ports){await new Promise(r=>{const s=net.connect({host:'127.0.0.1',port:p});
s.on('connect',()=>{out.push([p,s.localPort]);s.destroy();r()});s.on('error',()=>{out.push([p,0]);r()})})}
process.stdout.write(JSON.stringify(out))})()`;
    const start = recs.length;
    const r = await runIn(A.dir, [process.execPath, '-e', script, JSON.stringify(ports)]);
    srv.close();
    assert.equal(r.code, 0);
    const results = JSON.parse(r.stdout) as [number, number][];
    await sensor.sync();
    const mine = recs.slice(start);
    const conns = mine.filter((x): x is ConnectRecord => x.kind === 'connect' && x.pid === r.pid && x.ip === '127.0.0.1');
    const want = new Map<number, number>();
    for (const p of ports) want.set(p, (want.get(p) ?? 0) + 1);
    const got = new Map<number, number>();
    for (const c of conns) { got.set(c.port, (got.get(c.port) ?? 0) + 1); assert.equal(c.cgroupId, A.id); assert.equal(c.family, 'inet'); }
    assert.equal(conns.length, 500);
    assert.deepEqual([...got.entries()].sort(), [...want.entries()].sort());
    const syns = mine.filter((x): x is SynRecord => x.kind === 'syn' && x.pid === r.pid);
    const connected = results.filter(([, lp]) => lp > 0);
    assert.ok(connected.length >= 250, 'all connects to the open port succeeded');
    for (const [p, lp] of connected) {
      assert.ok(syns.some((s) => s.sport === lp && s.dport === p && s.saddr === '127.0.0.1' && s.daddr === '127.0.0.1' && s.cgroupId === A.id), `SYN for local port ${lp}`);
    }
    assert.equal(syns.length, 500, 'one SYN record per TCP connect, refused ones included');
  });

  it('records exit codes and fatal signals', async () => {
    const start = recs.length;
    const a = await runIn(A.dir, ['/bin/sh', '-c', 'exit 7']);
    const b = await runIn(A.dir, ['/bin/sh', '-c', 'kill -KILL $$']);
    assert.equal(a.code, 7); assert.equal(b.signal, 'SIGKILL');
    await sensor.sync();
    const exits = recs.slice(start).filter((x): x is ExitRecord => x.kind === 'exit');
    const ea = exits.find((e) => e.pid === a.pid);
    const eb = exits.find((e) => e.pid === b.pid);
    assert.equal(ea?.exitCode, 7); assert.equal(ea?.signal, undefined); assert.equal(ea?.cgroupId, A.id);
    assert.equal(eb?.signal, 9);
  });

  it('records the source port of UDP sends to port 53 (connected) and of unconnected sends, outside the host netns only', { skip: existsSync('/sys/kernel/tracing/events/sock/sock_send_length') ? false : 'no sock:sock_send_length (Linux < 6.3)' }, async () => {
    // In a network namespace of its own (like a sandbox); the same sends from the host's namespace are not recorded.
    const py = `import socket, json
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(("127.0.0.1", 53)); c.send(b"q")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"q", ("127.0.0.1", 5353))
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); o.connect(("127.0.0.1", 9999)); o.send(b"q")
print(json.dumps([c.getsockname()[1], u.getsockname()[1], o.getsockname()[1]]))`;
    const start = recs.length;
    const inNs = await runIn(A.dir, ['unshare', '--net', 'sh', '-c', 'ip link set lo up && exec python3 -c "$0"', py]);
    assert.equal(inNs.code, 0, inNs.stdout);
    const onHost = await runIn(A.dir, ['python3', '-c', py]);
    assert.equal(onHost.code, 0);
    await sensor.sync();
    const [dnsPort, unconnected, other] = JSON.parse(inNs.stdout) as number[];
    const srcs = recs.slice(start).filter((x): x is UdpSourceRecord => x.kind === 'udp_source');
    assert.deepEqual(srcs.map((x) => [x.sport, x.dport, x.cgroupId]).sort(), [[dnsPort, 53, A.id], [unconnected, 0, A.id]].sort(), 'a connected send to another port is not recorded');
    assert.ok(srcs.every((x) => x.sport !== other));
    assert.ok(srcs.every((x) => x.pid !== onHost.pid), 'nothing from the host\'s own namespace');
  });

  it('starts without the source-port probe, as on kernels before 6.3 (no sock:sock_send_length)', async () => {
    const old = await BpftraceSensor.start({ cgroupFilter: () => false, udpSource: false });
    await old.stop();
  });

  it('drops records from cgroups the filter rejects', async () => {
    const start = recs.length;
    const before = filterCalls;
    const other = await runIn(B.dir, ['/bin/true', 'other-cgroup-tag']);
    const mine = await runIn(A.dir, ['/bin/true', 'my-cgroup-tag']);
    await sensor.sync();
    const got = recs.slice(start);
    assert.ok(filterCalls > before);
    assert.ok(got.some((x) => x.kind === 'exec' && x.pid === mine.pid && x.argv[1] === 'my-cgroup-tag'));
    assert.ok(!got.some((x) => x.cgroupId === B.id || x.pid === other.pid), 'nothing from cgroup B');
    assert.ok(got.every((x) => x.cgroupId === A.id));
    assert.deepEqual(errors, []);
  });
});

describe('kmsg drop reader (root)', { skip: isRoot && existsSync('/dev/kmsg') ? false : 'needs root and /dev/kmsg' }, () => {
  it('parses nft log lines from a sandbox network namespace', async () => {
    const ns = `corral-test-${randomBytes(3).toString('hex')}`;
    const run = (argv: string[], input?: string): void => {
      const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
      assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
    };
    const reader = await KmsgDropReader.start({ pollMs: 20 });
    const drops: DropRecord[] = [];
    reader.on('drop', (d: DropRecord) => drops.push(d));
    try {
      run(['ip', 'netns', 'add', ns]);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['nsenter', `--net=/run/netns/${ns}`, 'nft', '-f', '-'],
        'table inet corraltest {\n chain out {\n  type filter hook output priority 0; policy accept;\n  udp dport 9999 log prefix "corral-drop testbox " drop\n }\n}\n');
      const send = `const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{s.send('x',9999,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})})`;
      const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '-e', send], { encoding: 'utf8' });
      const sport = Number(r.stdout);
      for (let i = 0; i < 100 && !drops.some((d) => d.sandbox === 'testbox'); i++) await new Promise((res) => setTimeout(res, 30));
      const d = drops.find((x) => x.sandbox === 'testbox');
      assert.ok(d, 'drop record parsed');
      assert.equal(d.proto, 'UDP'); assert.equal(d.src, '127.0.0.1'); assert.equal(d.dst, '127.0.0.1');
      assert.equal(d.dport, 9999); assert.equal(d.sport, sport);
      assert.match(d.raw, /^corral-drop testbox /);
    } finally {
      reader.stop();
      spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'delete', 'table', 'inet', 'corraltest']);
      spawnSync('ip', ['netns', 'del', ns]);
    }
    assert.ok(!existsSync(`/run/netns/${ns}`), 'netns removed');
  });
});
