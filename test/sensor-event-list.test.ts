// Why: proves the sensor's faster start (bpftrace reading a short tracefs event list from memory:
// tracefs-event-list.ts + native/tracefs-events-shim.c, preloaded into bpftrace only) keeps what
// bpftrace sees correct: the short list holds exactly the program's tracepoints that the kernel has;
// bpftrace really reads it (a wildcard probe expands over the short list); every other path and program reads the real files; the sensor still records an exec; and
// the shim touches nothing outside bpftrace (no mount, no file). Runs as root with bpftrace; the
// list's logic runs anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { buildProgram } from '../src/sensors/bpftrace-program.js';
import { BpftraceSensor, type ExecRecord, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { bpftraceTracefsDir, eventListEnv, shortEventList, tracepointsOf } from '../src/sensors/tracefs-event-list.js';
import { eventsShim } from '../src/sandbox/launcher.js';

const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const LIST = `${bpftraceTracefsDir()}/available_events`;

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
  assert.equal(eventListEnv('tracepoint:sched:sched_process_exit { }', undefined), undefined, 'no shim built: the real list');
  assert.equal(eventListEnv('tracepoint:syscalls:sys_enter_* { }', '/x/shim.so'), undefined, 'a wildcard: the real list');
});

test('the shim answers only the event list\'s path, read-only, with the list; everything else reads the real files', { skip: eventsShim() ? false : 'not built' }, () => {
  const env = { ...process.env, LD_PRELOAD: eventsShim()!, CORRAL_EVENTS_PATH: '/etc/hostname', CORRAL_EVENTS_LIST: 'one:two\n' };
  const py = (code: string): string => spawnSync('python3', ['-c', code], { env, encoding: 'utf8' }).stdout;
  assert.equal(spawnSync('cat', ['/etc/hostname'], { env, encoding: 'utf8' }).stdout, 'one:two\n', 'open()');
  assert.equal(py('print(open("/etc/hostname").read(), end="")'), 'one:two\n', 'openat()');
  assert.equal(py('import os\nf=os.open("/etc/hostname", os.O_RDWR)\nprint(os.read(f, 4096).decode(), end="")'), readFileSync('/etc/hostname', 'utf8'), 'a read-write open gets the real file');
  assert.equal(spawnSync('cat', ['/etc/os-release'], { env, encoding: 'utf8' }).stdout, readFileSync('/etc/os-release', 'utf8'), 'other paths untouched');
  // two opens are two independent files, each from its start
  assert.equal(py('a=open("/etc/hostname"); b=open("/etc/hostname"); print(a.read()+b.read(), end="")'), 'one:two\none:two\n');
});

/** How many probes a real bpftrace attaches for `program` under `env` (read from its "Attaching N probes" line). */
function probesAttached(program: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('bpftrace', ['-e', program], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { c.kill('SIGKILL'); reject(new Error(`bpftrace did not attach: ${out}`)); }, 30_000);
    const look = (d: Buffer): void => {
      out += d;
      const m = /Attaching (\d+) probe/.exec(out);
      if (m) { clearTimeout(timer); c.kill('SIGKILL'); resolve(Number(m[1])); }
    };
    c.stdout.on('data', look);
    c.stderr.on('data', look);
  });
}

test('a real bpftrace reads the short list (a wildcard expands over it, not over the real one)', { skip: avail.ok && eventsShim() ? false : 'needs root, bpftrace and the shim' }, async () => {
  // exact names are what the sensor uses; a wildcard shows which list bpftrace matched against
  const exact = eventListEnv('tracepoint:sched:sched_process_exit { } tracepoint:sched:sched_process_exec { }', eventsShim())!;
  assert.deepEqual(exact.CORRAL_EVENTS_LIST!.split('\n').filter(Boolean).sort(), ['sched:sched_process_exec', 'sched:sched_process_exit']);
  const wildcard = 'tracepoint:sched:sched_process_e* { }';
  assert.ok(await probesAttached(wildcard, process.env) >= 2, 'the real list: exec and exit at least');
  assert.equal(await probesAttached(wildcard, { ...process.env, ...exact, CORRAL_EVENTS_LIST: 'sched:sched_process_exit\n' }), 1, 'the short list: exit alone');
});

test('the sensor starts with the short list and records as before; bpftrace stays in Corral\'s mount namespace', { skip: avail.ok ? false : avail.why }, async () => {
  const s = await BpftraceSensor.start({});
  const seen: ExecRecord[] = [];
  s.on('record', (r: SensorRecord) => { if (r.kind === 'exec') seen.push(r); });
  try {
    const pid = s.pid!;
    assert.equal(s.shortEventList, true);
    assert.match(readFileSync(`/proc/${pid}/maps`, 'utf8'), /tracefs-events-shim\.so/, 'the shim is loaded in bpftrace');
    assert.equal(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'), 'no mount namespace of its own: nothing is pinned');
    assert.ok(readFileSync(LIST, 'latin1').split('\n').length > 100, 'the host reads the whole list');
    const mark = `corral-event-list-${process.pid}`;
    spawnSync('/bin/echo', [mark]);
    for (const t0 = Date.now(); !seen.some((r) => r.argv.includes(mark)) && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.some((r) => r.argv.join(' ') === `/bin/echo ${mark}`), 'the exec was recorded');
  } finally { await s.stop(); }
  const old = await BpftraceSensor.start({ shortEventList: false });
  try {
    assert.equal(old.shortEventList, false);
    assert.doesNotMatch(readFileSync(`/proc/${old.pid!}/maps`, 'utf8'), /tracefs-events-shim/);
  } finally { await old.stop(); }
});
