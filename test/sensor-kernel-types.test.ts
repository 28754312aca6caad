// Why: the sensor now hands bpftrace its own small definitions of the kernel structures it reads
// (sensor-types.ts, from the kernel's BTF via kernel-btf.ts) instead of letting bpftrace pull in the
// whole BTF closure. A wrong offset there would make the sensor read garbage — argv, pids, addresses —
// without any error, so the strongest check is used: bpftrace compiles the real program both ways
// and the two BPF objects must be byte for byte the same. Around it: the BTF reader against layouts
// the kernel ABI fixes, hostile BTF (a clear error, never a crash), structures that cannot be
// described exactly (refused, so the sensor starts the old way), and that fallback end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BTF_KIND, BtfError, KernelBtf } from '../src/sensors/kernel-btf.js';
import { sensorDefinitions, sensorStructs, structDefinitions, typedefMacros } from '../src/sensors/sensor-types.js';
import { buildProgram } from '../src/sensors/bpftrace-program.js';
import { BpftraceSensor, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { bpftraceTracefsDir, eventListEnv, tracepointsOf } from '../src/sensors/tracefs-event-list.js';
import { eventsShim } from '../src/sandbox/launcher.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const hasBtf = existsSync(VMLINUX);
const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };

/** A BTF blob from types written as [kind, name, sizeOrType, extra words, kflag] (names go in the string section). */
function blob(types: { kind: number; name?: string; sizeOrType: number; vlen?: number; kflag?: boolean; extra?: number[] }[]): Buffer {
  const strs: string[] = [''];
  const off = (s?: string): number => {
    if (!s) return 0;
    let at = 0;
    for (const x of strs) { if (x === s) return at; at += x.length + 1; }
    strs.push(s);
    return at;
  };
  const words: number[] = [];
  for (const t of types) {
    words.push(off(t.name), ((t.kflag ? 1 : 0) << 31 | t.kind << 24 | (t.vlen ?? 0)) >>> 0, t.sizeOrType, ...(t.extra ?? []));
  }
  const typeSec = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => typeSec.writeUInt32LE(w >>> 0, i * 4));
  const strSec = Buffer.from(`${strs.join('\0')}\0`, 'latin1');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0); hdr.writeUInt8(1, 2); hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8); hdr.writeUInt32LE(typeSec.length, 12); hdr.writeUInt32LE(typeSec.length, 16); hdr.writeUInt32LE(strSec.length, 20);
  return Buffer.concat([hdr, typeSec, strSec]);
}

test('the BTF reader finds what the kernel ABI fixes, through anonymous members too', { skip: hasBtf ? false : 'no kernel BTF' }, () => {
  const btf = KernelBtf.fromFile();
  assert.ok(btf.count > 10_000, `${btf.count} types`);
  const at = (s: string, m: string): number => btf.member(btf.struct(s).id, m)!.offset;
  assert.equal(btf.sizeOf(btf.struct('sockaddr').id), 16);
  assert.equal(at('sockaddr', 'sa_family'), 0);
  assert.equal(btf.sizeOf(btf.struct('user_msghdr').id), 56);
  assert.equal(at('user_msghdr', 'msg_name'), 0);
  assert.equal(at('user_msghdr', 'msg_namelen'), 8);
  assert.equal(at('mmsghdr', 'msg_len'), 56);
  assert.equal(btf.sizeOf(btf.struct('in6_addr').id), 16);
  if (process.arch === 'x64') {
    assert.equal(btf.sizeOf(btf.struct('pt_regs').id), 168);
    assert.deepEqual([at('pt_regs', 'si'), at('pt_regs', 'di')], [104, 112]);
  }
  // sock_common's addresses sit in anonymous unions and structs; the reader looks through them
  assert.deepEqual([at('sock_common', 'skc_daddr'), at('sock_common', 'skc_rcv_saddr')], [0, 4]);
  assert.ok(at('mm_struct', 'arg_end') === at('mm_struct', 'arg_start') + 8);
  assert.equal(btf.member(btf.struct('task_struct').id, 'no_such_member'), undefined);
  assert.throws(() => btf.struct('corral_no_such_struct'), /no struct corral_no_such_struct/);
  // elsewhere than x86_64 the program never reads pt_regs, so its layout is not asked for
  assert.ok(!('pt_regs' in sensorStructs('arm64')) && 'pt_regs' in sensorStructs('x64'));
  assert.doesNotMatch(structDefinitions(btf, sensorStructs('arm64')), /pt_regs/);
  const u16 = btf.typedef('__u16')!;
  assert.deepEqual([btf.resolve(u16).t.kind, btf.sizeOf(u16)], [BTF_KIND.INT, 2]);
});

test('hostile BTF gets a clear error, never a crash', { skip: hasBtf ? false : 'no kernel BTF' }, () => {
  const real = readFileSync(VMLINUX);
  assert.throws(() => new KernelBtf(Buffer.from('not btf at all, not btf at all')), (e: unknown) => e instanceof BtfError && /magic/.test(e.message));
  assert.throws(() => new KernelBtf(real.subarray(0, 100_000)), (e: unknown) => e instanceof BtfError && /past the end/.test(e.message));
  const lying = Buffer.from(real.subarray(0, 4096));
  lying.writeUInt32LE(4096, 12); lying.writeUInt32LE(0, 16); lying.writeUInt32LE(0, 20); // types fill the file, no strings
  assert.throws(() => new KernelBtf(lying), (e: unknown) => e instanceof BtfError);
  assert.throws(() => new KernelBtf(blob([{ kind: 31, sizeOrType: 0 }])), /type 1: unknown kind 31/);
  assert.throws(() => new KernelBtf(blob([{ kind: BTF_KIND.STRUCT, name: 's', sizeOrType: 8, vlen: 3, extra: [0, 0, 0] }])), /runs past/);
});

test('only exact descriptions: a missing member, a bitfield or a packed member is refused', () => {
  // strings: '' 0, 'int' 1, 's' 5, 'p' 7, 'pid_t' 9, 'a' 15, 'b' 17 (blob() lays them out in order of first use)
  const A = 15, B = 17;
  const b = new KernelBtf(blob([
    { kind: BTF_KIND.INT, name: 'int', sizeOrType: 4, extra: [(1 << 24) | 32] },
    // struct s { int a; int b:3; } (kflag: bitfield sizes in the offsets)
    { kind: BTF_KIND.STRUCT, name: 's', sizeOrType: 8, vlen: 2, kflag: true, extra: [A, 1, 0, B, 1, (3 << 24) | 32] },
    // struct __attribute__((packed)) p { char x[2]; int a; }: a at byte 2
    { kind: BTF_KIND.STRUCT, name: 'p', sizeOrType: 6, vlen: 1, extra: [A, 1, 16] },
    { kind: BTF_KIND.TYPEDEF, name: 'pid_t', sizeOrType: 1 },
    { kind: BTF_KIND.TYPEDEF, name: 'a', sizeOrType: 1 },
    { kind: BTF_KIND.TYPEDEF, name: 'b', sizeOrType: 1 },
  ]));
  assert.equal(structDefinitions(b, { s: ['a'] }), 'struct s { signed int a; unsigned char __corral_tail[4]; };');
  assert.throws(() => structDefinitions(b, { s: ['c'] }), /struct s has no member c/);
  assert.throws(() => structDefinitions(b, { s: ['b'] }), /struct s\.b is a bitfield/);
  assert.throws(() => structDefinitions(b, { p: ['a'] }), /struct p\.a at offset 2 is not 4-byte aligned/);
  assert.equal(typedefMacros(b, ['\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n']).split('\n').find((l) => l.includes('pid_t')), '#define pid_t signed int');
  assert.throws(() => typedefMacros(b, ['\tfield:corral_odd_t x;\toffset:8;\tsize:4;\tsigned:1;\n']), /corral_odd_t is not a kernel typedef/);
});

test('layouts C would place otherwise, and cycles in a hostile BTF, are refused with a BtfError, never a hang', () => {
  // names, in order of first use: '' 0, int 1, char 5, q 10, a 12, b 14, cyc 16, arr 20, self 24, q2 29, outer 32
  const a = 12, b = 14;
  const btf = new KernelBtf(blob([
    { kind: BTF_KIND.INT, name: 'int', sizeOrType: 4, extra: [(1 << 24) | 32] }, // 1
    { kind: BTF_KIND.INT, name: 'char', sizeOrType: 1, extra: [8] }, // 2
    { kind: BTF_KIND.STRUCT, name: 'q', sizeOrType: 5, vlen: 2, extra: [a, 1, 0, b, 2, 32] }, // 3: struct __packed q { int a; char b; }
    { kind: BTF_KIND.TYPEDEF, name: 'a', sizeOrType: 1 }, // 4
    { kind: BTF_KIND.TYPEDEF, name: 'b', sizeOrType: 1 }, // 5
    { kind: BTF_KIND.STRUCT, name: 'cyc', sizeOrType: 8, vlen: 1, extra: [a, 7, 0] }, // 6
    { kind: BTF_KIND.PTR, sizeOrType: 7 }, // 7: a pointer to itself
    { kind: BTF_KIND.STRUCT, name: 'arr', sizeOrType: 8, vlen: 1, extra: [a, 9, 0] }, // 8
    { kind: BTF_KIND.ARRAY, sizeOrType: 0, extra: [9, 1, 1] }, // 9: an array of itself
    { kind: BTF_KIND.STRUCT, name: 'self', sizeOrType: 8, vlen: 1, extra: [0, 10, 0] }, // 10: its own anonymous member
    { kind: BTF_KIND.STRUCT, name: 'q2', sizeOrType: 4, vlen: 1, extra: [a, 1, 0] }, // 11
    { kind: BTF_KIND.STRUCT, name: 'outer', sizeOrType: 9, vlen: 2, extra: [b, 2, 0, a, 11, 8] }, // 12: q2 at byte 1
  ]));
  const refused = (spec: Record<string, string[]>, re: RegExp): void => {
    assert.throws(() => structDefinitions(btf, spec), (e: unknown) => e instanceof BtfError && re.test(e.message), JSON.stringify(spec));
  };
  refused({ q: ['a', 'b'] }, /struct q's size 5 is not a multiple of its alignment 4/);
  refused({ q2: ['a'], outer: ['b', 'a'] }, /struct outer\.a at offset 1 is not 4-byte aligned/);
  refused({ cyc: ['a'] }, /cycle/);
  refused({ arr: ['a'] }, /cycle/);
  refused({ self: ['a'] }, /cycle/);
});

/** bpftrace's BPF object for `program` (--emit-elf, with the short event list for speed). */
async function elf(program: string, dir: string, name: string): Promise<Buffer> {
  const src = join(dir, `${name}.bt`), out = join(dir, `${name}.o`);
  writeFileSync(src, program);
  const env = { ...process.env, ...eventListEnv(program, eventsShim()) };
  const code = await new Promise<number | null>((resolve) => spawn('/usr/bin/bpftrace', ['--emit-elf', out, src], { stdio: 'ignore', env }).on('exit', resolve));
  assert.equal(code, 0, `bpftrace --emit-elf ${name}`);
  return readFileSync(out);
}

test('bpftrace compiles the sensor program to the same BPF object with Corral\'s definitions as with the kernel\'s BTF', { skip: avail.ok && existsSync('/usr/bin/bpftrace') ? false : 'needs root and bpftrace' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-types-'));
  try {
    const btf = KernelBtf.fromFile();
    for (const [i, opts] of [{ hostNetns: 4026531840, udpSource: true, skipHostFor: 1 }, { pidNs: true, udpSource: true }, { udpSource: false }].entries()) {
      const body = buildProgram(opts);
      const defs = sensorDefinitions(btf, bpftraceTracefsDir(), tracepointsOf(body)!);
      const theirs = await elf(body, dir, `btf${i}`);
      const ours = await elf(`${defs}${body}`, dir, `ours${i}`);
      assert.ok(theirs.length > 10_000);
      assert.ok(theirs.equals(ours), `variant ${i} (${JSON.stringify(opts)}): the BPF objects differ`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the sensor starts with Corral\'s definitions, and the old way (saying why) when bpftrace refuses them', { skip: avail.ok ? false : avail.why }, async () => {
  const fast = await BpftraceSensor.start({});
  try { assert.equal(fast.kernelTypes.from, 'corral'); assert.equal(fast.kernelTypes.why, undefined); } finally { await fast.stop(); }
  const s = await BpftraceSensor.start({ definitions: 'struct task_struct { int corral_broken; };\n' });
  const seen: string[] = [];
  s.on('record', (r: SensorRecord) => { if (r.kind === 'exec') seen.push(r.argv.join(' ')); });
  try {
    assert.equal(s.kernelTypes.from, 'bpftrace');
    assert.match(s.kernelTypes.why!, /^bpftrace refused Corral's kernel type definitions: bpftrace exited/);
    const mark = `corral-types-${process.pid}`;
    await new Promise((r) => spawn('/bin/echo', [mark], { stdio: 'ignore' }).on('exit', r));
    for (const t0 = Date.now(); !seen.includes(`/bin/echo ${mark}`) && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.includes(`/bin/echo ${mark}`), 'the fallback sensor records execs');
  } finally { await s.stop(); }
});

test('a sensor that fails after attaching is not started a second time the old way (only a refused compile is)', { skip: avail.ok ? false : avail.why }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-types-'));
  try {
    // a stand-in for bpftrace: attaches, then dies (as a kernel refusing a probe after the others would)
    const fake = join(dir, 'bpftrace');
    writeFileSync(fake, `#!/bin/sh\necho start >> ${join(dir, 'starts')}\necho '{"type": "attached_probes", "data": {"probes": 1}}'\necho 'ERROR: attach failed' >&2\nexit 1\n`, { mode: 0o755 });
    await assert.rejects(BpftraceSensor.start({ bpftracePath: fake }), /bpftrace exited \(code 1.*attach failed/);
    assert.equal(readFileSync(join(dir, 'starts'), 'utf8'), 'start\n', 'started once');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
