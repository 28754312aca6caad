// Why: proves the sensor's faster start (bpftrace reading a short tracefs event list of its own,
// tracefs-event-list.ts + native/corral-bind-exec.c) keeps what bpftrace sees correct: the short
// list holds exactly the program's tracepoints that the kernel has, a real bpftrace started that way
// sees it in its own mount namespace while the host still reads the whole list, the list's file is
// gone once bpftrace runs, the sensor still records an exec, and a bind the kernel refuses leaves
// the program running on the real list. Runs as root with bpftrace; the list's logic runs anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildProgram } from '../src/sensors/bpftrace-program.js';
import { BpftraceSensor, type ExecRecord, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { bpftraceTracefsDir, prepareEventList, shortEventList, tracepointsOf } from '../src/sensors/tracefs-event-list.js';
import { bindExecBinary } from '../src/sandbox/launcher.js';

const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };

test('the short list: the program\'s tracepoints, as the kernel lists them, and nothing the kernel lacks', () => {
  const names = tracepointsOf(buildProgram({ hostNetns: 1, udpSource: true, skipHostFor: 1 }))!;
  for (const n of ['syscalls:sys_enter_execve', 'syscalls:sys_enter_execveat', 'sched:sched_process_exec', 'sched:sched_process_exit', 'syscalls:sys_enter_connect', 'sock:inet_sock_set_state', 'sock:sock_send_length']) {
    assert.ok(names.has(n), n);
  }
  assert.ok(![...names].some((n) => n.includes('tracepoint') || n.includes(',')), [...names].join(' '));
  assert.equal(tracepointsOf('tracepoint:syscalls:sys_enter_* { }'), undefined, 'a wildcard needs the whole list');
  assert.equal(tracepointsOf('kprobe:do_exit { }')!.size, 0);
  const real = 'a:x\nsyscalls:sys_enter_execve\nsched:sched_process_exec\nb:y\n';
  assert.equal(shortEventList(real, new Set(['sched:sched_process_exec', 'syscalls:sys_enter_execve', 'sock:sock_send_length'])),
    'syscalls:sys_enter_execve\nsched:sched_process_exec\n', 'the real order; a tracepoint the kernel lacks stays missing');
});

/** Corral's tmpdir entries left by the short list (each start makes one and removes it). */
const leftovers = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('corral-sensor-'));

test('a real bpftrace reads the short list in its own mount namespace; the host keeps the whole list', { skip: avail.ok ? false : avail.why }, async () => {
  assert.ok(bindExecBinary(), 'corral-bind-exec is built');
  const before = leftovers();
  const s = await BpftraceSensor.start({});
  const seen: ExecRecord[] = [];
  s.on('record', (r: SensorRecord) => { if (r.kind === 'exec') seen.push(r); });
  try {
    const pid = s.pid!;
    assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /^bpftrace/, 'the helper became bpftrace (same pid)');
    assert.notEqual(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'), 'a mount namespace of its own');
    const target = `${bpftraceTracefsDir()}/available_events`;
    const host = readFileSync(target, 'latin1').split('\n').filter(Boolean);
    const theirs = readFileSync(`/proc/${pid}/root${target}`, 'latin1').split('\n').filter(Boolean);
    const wanted = tracepointsOf(buildProgram({ udpSource: true }))!;
    assert.ok(theirs.length > 5 && theirs.length <= wanted.size, `bpftrace sees ${theirs.length} lines`);
    assert.ok(theirs.every((l) => host.includes(l) && wanted.has(l)), theirs.join(' '));
    assert.ok(host.length > 100 * theirs.length, `the host still reads the whole list (${host.length} lines)`);
    assert.deepEqual(leftovers(), before, 'the list\'s file is removed once bpftrace runs');
    // and it still sees an exec, argv and all
    const mark = `corral-event-list-${process.pid}`;
    spawnSync('/bin/echo', [mark]);
    for (const t0 = Date.now(); !seen.some((r) => r.argv.includes(mark)) && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.some((r) => r.argv.join(' ') === `/bin/echo ${mark}`), 'the exec was recorded');
  } finally { await s.stop(); }
});

test('a short list left by a killed Corral is removed at the next start; a live one\'s is kept', () => {
  const dead = spawnSync('/bin/true').pid!;
  const stale = mkdtempSync(join(tmpdir(), `corral-sensor-${dead}-`));
  const live = mkdtempSync(join(tmpdir(), `corral-sensor-${process.ppid}-`));
  writeFileSync(join(stale, 'available_events'), 'x\n');
  try {
    const view = prepareEventList('tracepoint:sched:sched_process_exit { }');
    view?.cleanup();
    assert.ok(!existsSync(stale), 'the dead process\'s list is gone');
    assert.ok(existsSync(live), 'a running process\'s list stays');
  } finally { rmSync(stale, { recursive: true, force: true }); rmSync(live, { recursive: true, force: true }); }
  // a temporary directory Corral cannot write to costs only the faster start
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = '/nonexistent/corral-tmp';
  try { assert.equal(prepareEventList('tracepoint:sched:sched_process_exit { }'), undefined); } finally { if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved; }
});

test('with shortEventList: false bpftrace shares Corral\'s mount namespace (the old start)', { skip: avail.ok ? false : avail.why }, async () => {
  const s = await BpftraceSensor.start({ shortEventList: false });
  try { assert.equal(readlinkSync(`/proc/${s.pid!}/ns/mnt`), readlinkSync('/proc/self/ns/mnt')); } finally { await s.stop(); }
});

test('corral-bind-exec: a bind the kernel refuses still runs the program (one line says why); bad use is exit 2', { skip: bindExecBinary() ? false : 'not built' }, async () => {
  const bin = bindExecBinary()!;
  const r = spawnSync(bin, ['/nonexistent/list', '/nonexistent/target', '--', '/bin/echo', 'ran'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ran\n');
  if (process.getuid?.() === 0) assert.match(r.stderr, /^corral-bind-exec: cannot bind \/nonexistent\/list over \/nonexistent\/target \(No such file or directory\); it is read as it is\n$/);
  else assert.match(r.stderr, /^corral-bind-exec: no mount namespace/);
  assert.equal(spawnSync(bin, ['a', 'b', '--', 'echo'], { encoding: 'utf8' }).status, 2, 'a program by bare name is refused');
  assert.equal(spawnSync(bin, ['a', 'b', '/bin/echo'], { encoding: 'utf8' }).status, 2);
  const gone = await new Promise<number | null>((resolve) => spawn(bin, ['/x', '/y', '--', '/nonexistent/prog'], { stdio: 'ignore' }).on('exit', resolve));
  assert.equal(gone, 127);
});
