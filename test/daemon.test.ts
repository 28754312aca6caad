// `corral serve` through the real system, inside the lab: a daemon in this process, `corral run`
// as a child process talking to it over the Unix socket, real sandboxes, real far hosts.
// Proves: the client's own stdio reaches the sandboxed command (pipes, and a closed stdin), exit
// codes and alert summaries come back, a blocked connection is attributed and never reaches its
// far host, a client that dies mid-call gets its call killed, sessions keep state between calls
// and run calls in order, bad requests are refused with the field named, and the socket is
// root-only, single-owner and removed on close.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { FarHosts } from '../src/lab/far-hosts.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { runPythonClient } from './helpers/python-client.js';
import { DEMO_FAR_HOSTS } from '../src/cli/demo-scenario.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const spawnSyncNode = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
let dir: string;
let sock: string;
let far: FarHosts;
let d: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-daemon-test-'));
  sock = join(dir, 'run', 'corral.sock');
  far = await FarHosts.start(DEMO_FAR_HOSTS, { prefix: 'labdm' });
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: true, poolSize: 1 }, sessionIdleMs: 60_000 });
});
after(async () => {
  await d?.close();
  await far?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `corral run ARGS` as a child process aimed at the test daemon. */
function cli(args: string[], opts: { stdin?: string | 'closed'; onStdout?: (s: string) => void } = {}) {
  const child = spawn(process.execPath, [MAIN, 'run', ...args], {
    env: { ...process.env, CORRAL_SOCKET: sock, NO_COLOR: '1' },
    stdio: [opts.stdin === 'closed' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c; opts.onStdout?.(stdout); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c; });
  if (child.stdin) child.stdin.end(typeof opts.stdin === 'string' && opts.stdin !== 'closed' ? opts.stdin : '');
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Python that speaks SSH to the lab's outside SSH host and reports how the connection ended (in r). */
const SSH_PY = 'import socket\ntry:\n  s = socket.create_connection(("203.0.113.10", 22), timeout=3)\n  s.sendall(b"SSH-2.0-OpenSSH_9.2\\r\\n")\n  r = repr(s.recv(100))\nexcept Exception as e:\n  r = type(e).__name__\n';

const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').at(-1)!) as Record<string, unknown> & { alerts: { category: string; tool_call?: string; layer?: string }[] };

test('corral run goes through the daemon: its own stdin/stdout/stderr reach the sandboxed command, exit code and summary come back', async () => {
  const r = await cli(['--json', '--label', 'tool_call=tc-io', '--label', 'step=7', '--', '/bin/sh', '-c', 'read line; echo "got:$line uid:$(id -u)"; echo to-stderr >&2; exit 7'], { stdin: 'hello-daemon\n' }).done;
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, 'got:hello-daemon uid:65534\n', 'stdin and stdout are the client\'s own, the command ran as the sandbox uid');
  assert.match(r.stderr, /^to-stderr$/m);
  const s = lastJson(r.stderr);
  assert.equal(s.via, 'daemon');
  assert.equal(s.exit_code, 7);
  assert.deepEqual(s.labels, { tool_call: 'tc-io', step: '7' }, 'the labels are echoed');
  const rep = spawnSyncNode(['report', '--session', String(s.session), '--json', '--home', join(dir, 'home')]);
  assert.equal((JSON.parse(rep.stdout) as { calls: { step?: number }[] }).calls[0]!.step, 7, 'step=7 is the recorded step');
  assert.equal(s.sensor, 'ebpf');
  assert.equal(s.verdict, 'clean');
  assert.deepEqual(s.alerts, []);
  // a closed stdin stays closed (the command sees EOF / no descriptor, not the daemon's stdin)
  const c = await cli(['--', '/bin/sh', '-c', 'if read x; then echo "read:$x"; else echo eof; fi'], { stdin: 'closed' }).done;
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'eof\n');
  // Exit codes as a shell gives them: 127 no such command, 126 found but not executable.
  for (const [argv, code, msg] of [[['no-such-command-xyz'], 127, /No such file or directory/], [['/etc/passwd'], 126, /Permission denied/]] as const) {
    for (const via of [[], ['--no-daemon', '--no-sensor']]) {
      const x = await cli([...via, '--', ...argv]).done;
      assert.equal(x.code, code, `${argv.join(' ')} ${via.join(' ')}: ${x.stderr}`);
      assert.match(x.stderr, msg);
    }
  }
});

test('a blocked connection through the daemon is reported to the client, attributed to its call, and never reaches the far host', async () => {
  const before = await far.accepted('203.0.113.10', 22);
  // an SSH client's first bytes: the gateway accepts, sniffs the banner, refuses and resets
  const py = SSH_PY + 'print("cut", r)';
  const r = await cli(['--json', '--policy', 'lab-demo', '--label', 'tool_call=tc-ssh', '--label', 'episode=ep-d', '--', 'python3', '-c', py]).done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cut /);
  const s = lastJson(r.stderr);
  assert.equal(s.verdict, 'blocked');
  const net = s.alerts.filter((a) => a.layer !== 'command');
  assert.ok(net.length >= 1, JSON.stringify(s.alerts));
  assert.ok(net.every((a) => a.tool_call === 'tc-ssh'));
  assert.ok(net.some((a) => a.category === 'tunnel'), JSON.stringify(net));
  assert.equal(await far.accepted('203.0.113.10', 22), before, 'zero connections reached the SSH far host');
  // the answer comes before the sandbox's teardown; the session's report waits for it
  const rep = await daemonRequest(sock, 'GET', `/v1/sessions/${s.session}/report`);
  assert.equal(rep.status, 200);
  assert.equal(rep.json.closed, true, 'the report of a run that was answered is the ended session');
  assert.equal(rep.json.verdict, 'blocked');
  // the readable summary, too
  const h = await cli(['--policy', 'lab-demo', '--', 'python3', '-c', py]).done;
  assert.match(h.stderr, /corral: \d+ violation\(s\) in session [0-9a-f]+/);
  assert.match(h.stderr, /tunnel/);
});

test('a client that dies mid-call gets its call killed by the daemon', async () => {
  const started = new Promise<void>((resolve) => {
    const { child } = cli(['--', '/bin/sh', '-c', 'echo started; sleep 30; echo finished'], {
      onStdout: (s) => { if (s.includes('started')) { child.kill('SIGKILL'); resolve(); } },
    });
  });
  await started;
  const t0 = Date.now();
  let left = -1;
  while (Date.now() - t0 < 10_000) {
    const r = await daemonRequest(sock, 'GET', '/v1/sessions');
    left = (r.json.sessions as unknown[]).length;
    if (left === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(left, 0, 'the session ended long before its 30 s sleep would have');
  assert.ok(Date.now() - t0 < 10_000);
});

test('sessions over the API keep files and background processes between calls, run calls in order, and close with their alerts', async () => {
  const ws = join(dir, 'task-ws');
  mkdirSync(ws);
  // Without idmapped mounts (CORRAL_NO_IDMAP=1, or a filesystem that cannot) bwrap must pass through the
  // directories above a host workspace as the sandbox user: an unreachable one is a clear 400.
  process.env.CORRAL_NO_IDMAP = '1';
  const unreachable = await daemonRequest(sock, 'POST', '/v1/sessions', { workspace: ws });
  delete process.env.CORRAL_NO_IDMAP;
  assert.equal(unreachable.status, 400);
  assert.match((unreachable.json.error as { message: string }).message, /cannot reach it: .* is mode 0700 \(each directory above the workspace needs o\+x\)/);
  // With the idmapped view (the default) the workspace is reached through Corral's own session dir.
  writeFileSync(join(ws, 'task.txt'), 'seeded by the trainer\n');
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { policy: 'lab-demo', episode: 'ep-api', run: 'run-1', workspace: ws });
  assert.equal(open.status, 200, JSON.stringify(open.json));
  const id = open.json.session as string;
  const exec = (body: Record<string, unknown>) => daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, body);
  // step 1 leaves a file and a background process that connects out later
  assert.ok(!SSH_PY.includes("'"));
  const bg = `echo state > /workspace/f; nohup python3 -c 'import time\ntime.sleep(1.5)\n${SSH_PY}' >/dev/null 2>&1 &`;
  const s1 = await exec({ command: bg, step: 1, tool_call_id: 'api-1' });
  assert.equal(s1.status, 200, JSON.stringify(s1.json));
  assert.equal(s1.json.exit_code, 0);
  // while step 2 runs, a concurrent call in the same session is refused (calls run in order)
  const slow = exec({ command: 'cat /workspace/f; sleep 2.5', step: 2, tool_call_id: 'api-2' });
  await new Promise((r) => setTimeout(r, 300));
  const busy = await exec({ command: 'true', step: 3 });
  assert.equal(busy.status, 409);
  assert.match(String((busy.json.error as { message: string }).message), /calls in a session run in order/);
  const s2 = await slow;
  assert.equal(s2.json.stdout, 'state\n', 'the workspace persists between calls');
  const s3 = await exec({ command: 'cat task.txt; echo edited >> task.txt; echo result > out.txt; stat -c %u task.txt', step: 3, tool_call_id: 'api-3' });
  assert.equal(s3.json.stdout, 'seeded by the trainer\n65534\n', 'the trainer seeded the workspace; its root-owned file is the agent\'s in the sandbox');
  assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'result\n', 'and collects what the episode wrote');
  assert.equal(readFileSync(join(ws, 'task.txt'), 'utf8'), 'seeded by the trainer\nedited\n', 'the agent could change a seeded file');
  assert.equal(statSync(join(ws, 'out.txt')).uid, 0, 'new files land as the workspace owner on the host');
  assert.equal(statSync(ws).uid, 0, 'no host file or directory was chowned');
  // the open sessions name their run and episode (a trainer finds its rollouts by them)
  const listed = (await daemonRequest(sock, 'GET', '/v1/sessions')).json.sessions as { session: string; run?: string; episode?: string }[];
  assert.deepEqual(listed.filter((x) => x.session === id).map((x) => [x.run, x.episode]), [['run-1', 'ep-api']]);
  const live = await daemonRequest(sock, 'GET', `/v1/sessions/${id}/report`);
  assert.equal(live.status, 200);
  assert.equal(live.json.closed, false);
  assert.deepEqual((live.json.calls as { tool_call: string }[]).map((c) => c.tool_call), ['api-1', 'api-2', 'api-3']);
  // a call Corral cannot start says why in `error`: its 126 is not the command's own (a user review, session 41)
  const long = await exec({ command: `echo ${'x'.repeat(140_000)}`, step: 4, tool_call_id: 'api-4' });
  assert.equal(long.json.exit_code, 126);
  assert.match(String(long.json.error), /the command is too long to run/);
  assert.equal(s3.json.error, undefined, 'a call that ran has no error');
  assert.equal(s3.json.verdict, 'clean', 'each call answers with its own verdict');
  const closed = await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`);
  assert.equal(closed.status, 200);
  assert.equal(closed.json.verdict, 'blocked');
  const after = await daemonRequest(sock, 'GET', `/v1/sessions/${id}/report`);
  assert.equal(after.json.closed, true, 'a closed session is still reported, from the store');
  assert.equal(after.json.verdict, 'blocked');
  const alerts = closed.json.alerts as { category: string; tool_call: string; layer?: string; episode?: string }[];
  const net = alerts.filter((a) => a.layer !== 'command');
  assert.ok(net.some((a) => a.category === 'tunnel' && a.tool_call === 'api-1' && a.episode === 'ep-api'),
    `the background connection made during step 2 is attributed to step 1: ${JSON.stringify(alerts)}`);
  assert.equal((await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`)).status, 404);
});

test('a session opened over the API with read-only mounts reads a root-only dataset and cannot change it', async () => {
  const data = join(dir, 'dataset');
  mkdirSync(data, { mode: 0o700 });
  writeFileSync(join(data, 'rows.jsonl'), '{"q":"2+2"}\n', { mode: 0o600 });
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { policy: 'lab-demo', episode: 'ep-mounts', mounts: [{ host: data, path: '/data/eval' }] });
  assert.equal(open.status, 200, JSON.stringify(open.json));
  const id = open.json.session as string;
  try {
    const r = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'cat /data/eval/rows.jsonl; echo x > /data/eval/new 2>&1 || echo refused', step: 1 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.json.stdout as string, /\{"q":"2\+2"\}\n/);
    assert.match(`${r.json.stdout as string}${r.json.stderr as string}`, /Read-only file system/);
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
  assert.deepEqual(readdirSync(data), ['rows.jsonl'], 'nothing written on the host');
});

test('corral run --mount HOST:PATH, through the daemon and without it; a mount over the sandbox\'s /etc is a usage error', async () => {
  const data = join(dir, 'dataset');
  const via = await cli(['--mount', `${data}:/data/eval`, '--', 'cat', '/data/eval/rows.jsonl']).done;
  assert.equal(via.code, 0, via.stderr);
  assert.equal(via.stdout, '{"q":"2+2"}\n');
  const local = await cli(['--no-daemon', '--mount', `${data}:/data/eval:ro`, '--', 'cat', '/data/eval/rows.jsonl']).done;
  assert.equal(local.code, 0, local.stderr);
  assert.equal(local.stdout, '{"q":"2+2"}\n');
  const etc = await cli(['--mount', `${data}:/etc/x`, '--', 'true']).done;
  assert.equal(etc.code, 2);
  assert.match(etc.stderr, /mounts.*0.*path.*would cover the sandbox's own \/etc/);
  const bad = await cli(['--mount', 'no-colon', '--', 'true']).done;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /expected HOST:PATH/);
});

test('bad requests get a 4xx naming the field; the CLI maps them to usage errors', async () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ['POST', '/v1/run', { argv: [] }, 400, /^argv: argv must name a command/],
    ['POST', '/v1/run', { argv: ['true'], bogus: 1 }, 400, /Unrecognized key\(s\) in object: 'bogus'/],
    ['POST', '/v1/run', { argv: ['true'], labels: { step: 'x' } }, 400, /^labels\.step: step must be a whole number, got "x"/],
    ['POST', '/v1/run', { argv: ['true'], policy: 'rel/p.yaml' }, 400, /^policy: a path must be absolute/],
    ['POST', '/v1/run', { argv: ['true'], policy: 'p.yaml' }, 400, /^policy: a path must be absolute/],
    ['POST', '/v1/run', { argv: ['true'], policy: 'no-such-preset' }, 400, /unknown preset 'no-such-preset'/],
    ['POST', '/v1/sessions/abc/exec', { command: 'true' }, 404, /no open session abc/],
    ['POST', '/v1/sessions', { workspace: '/etc/x' }, 400, /^workspace: must not be a system directory/],
    ['POST', '/v1/sessions', { workspace: '/' }, 400, /^workspace: must not be a system directory/],
    ['POST', '/v1/sessions', { workspace: 'rel/dir' }, 400, /^workspace: must be an absolute path/],
    ['POST', '/v1/sessions', { mounts: [{ host: '/srv/x', path: '/etc/x' }] }, 400, /^mounts\.0\.path: '\/etc\/x' would cover the sandbox's own \/etc/],
    ['POST', '/v1/sessions', { mounts: [{ host: '/srv/x', path: '/data', mode: 'rw' }] }, 400, /^mounts\.0\.mode: mounts are read-only/],
    ['POST', '/v1/sessions', { mounts: [{ host: '/srv/x-no-such-dir', path: '/data' }] }, 400, /filesystem\.mounts \/srv\/x-no-such-dir: no such file or directory on this host/],
    ['POST', '/v1/sessions/abc/exec', {}, 400, /command: give command or argv/],
    ['POST', '/v1/sessions/abc/exec', { command: 'echo a\u0000b' }, 400, /^command: contains a NUL byte, which no command can receive/],
    ['POST', '/v1/sessions/abc/exec', { argv: ['echo', 'a\u0000b'] }, 400, /^argv\.1: contains a NUL byte/],
    ['POST', '/v1/sessions', { workspace_path: '/usr/src/app' }, 400, /^workspace_path: must not be under \/usr/],
    ['POST', '/v1/sessions', { root: 'images/swe' }, 400, /^root: must be an absolute path without \.\./],
    ['POST', '/v1/sessions', { root: '/usr' }, 400, /^filesystem\.root \/usr: must not be the host's \/ , a top-level directory/],
    ['POST', '/v1/sessions/abc/files', { op: 'write', path: 'x' }, 400, /^content: a write needs content or content_base64/],
    ['POST', '/v1/sessions/abc/files', { op: 'write', path: 'x', content_base64: 'no spaces allowed' }, 400, /^content_base64: not base64/],
    ['POST', '/v1/sessions/abc/files', { op: 'write', path: 'x', content_base64: 'aGk' }, 400, /^content_base64: not base64: its length must be a multiple of 4/],
    ['POST', '/v1/sessions/abc/files', { op: 'insert', path: 'x', text: 'y' }, 400, /^line: insert needs line/],
    ['POST', '/v1/sessions/abc/files', { op: 'chmod', path: 'x' }, 400, /^op: Invalid enum value/],
    // (a field of another op is refused: encoding on a write wrote the base64 text as it was, answered ok)
    ['POST', '/v1/sessions/abc/files', { op: 'write', path: 'x', content: 'aGk=', encoding: 'base64' }, 400, /^encoding: encoding is for read, not write \(a write takes bytes as content_base64\)/],
    ['POST', '/v1/sessions/abc/files', { op: 'read', path: 'x', old: 'y' }, 400, /^old: old is for str_replace, not read/],
    ['POST', '/v1/sessions/abc/files', { op: 'multi_edit', path: 'x' }, 400, /^edits: multi_edit needs edits: \[\{old, new, replace_all\?\}, …\]/],
    ['POST', '/v1/sessions/abc/files', { op: 'multi_edit', path: 'x', edits: [] }, 400, /^edits: Array must contain at least 1 element/],
    ['POST', '/v1/sessions/abc/files', { op: 'multi_edit', path: 'x', edits: [{ old: 'a', new: 'b' }, { old: 'c' }] }, 400, /^edits\.1\.new: Required/],
    ['POST', '/v1/sessions/abc/files', { op: 'multi_edit', path: 'x', edits: [{ old: 'a', new: 'b', all: true }] }, 400, /^edits\.0: Unrecognized key\(s\) in object: 'all'/],
    ['POST', '/v1/sessions/abc/files', { op: 'write', path: 'x', content: 'y', replace_all: true }, 400, /^replace_all: replace_all is for str_replace, not write/],
    ['POST', '/v1/sessions/abc/files', { op: 'str_replace', path: 'x', old: 'a', new: 'b', edits: [{ old: 'a', new: 'b' }] }, 400, /^edits: edits is for multi_edit, not str_replace/],
    ['POST', '/v1/sessions/abc/files', { op: 'read', path: 'x' }, 404, /no open session abc/],
    ['GET', '/v1/nothing', undefined, 404, /no route GET \/v1\/nothing/],
    // (a known path with another method is 405, not a 404 that reads as "no such session")
    ['PUT', '/v1/sessions/abc', undefined, 405, /^\/v1\/sessions\/abc takes DELETE, not PUT$/],
    ['GET', '/v1/run', undefined, 405, /takes POST, not GET/],
    ['DELETE', '/v1/sessions', undefined, 405, /takes GET or POST, not DELETE/],
    ['POST', '/v1/sessions/abc/report', {}, 405, /takes GET, not POST/],
  ];
  for (const [method, path, body, status, re] of cases) {
    const r = await daemonRequest(sock, method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}`);
    assert.match((r.json.error as { message: string }).message, re);
  }
  const notJson = await new Promise<number>((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request({ socketPath: sock, method: 'POST', path: '/v1/run' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end('{"argv": [');
    }, reject);
  });
  assert.equal(notJson, 400);
  // (a raw request on the socket, its whole answer as text)
  const raw = (request: string) => new Promise<string>((resolve, reject) => {
    import('node:net').then(({ connect }) => {
      const c = connect(sock);
      let got = '';
      c.on('data', (d: Buffer) => { got += d.toString(); });
      c.on('end', () => resolve(got)); c.on('close', () => resolve(got)); c.on('error', reject);
      c.write(request);
    }, reject);
  });
  // A request target Node's parser accepts but URL cannot parse once ended the whole daemon.
  const rawLine = await raw('GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(rawLine, /^HTTP\/1\.1 400 /);
  assert.match(rawLine, /request target: not a URL path/);
  const wrongMethod = await raw('PATCH /v1/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(wrongMethod, /^HTTP\/1\.1 405 /);
  assert.match(wrongMethod, /\r\nallow: GET, POST\r\n/i);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'name: bad\nresources:\n  memory: lots\n');
  const r = await cli(['--policy', bad, '--', 'true']).done;
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid policy: .*bad\.yaml:3.*memory/);
  const health = await daemonRequest(sock, 'GET', '/v1/health');
  assert.equal(health.json.ok, true, 'the daemon is healthy after all of that');
  assert.equal(typeof (health.json.workspace_disk as { ready: number }).ready, 'number', 'it says how many disk-capped workspaces are ready');
  assert.equal((health.json.workspace_disk as { unavailable?: string }).unavailable, undefined, 'and that this host can make them');
});

test('the socket is root-only, a second daemon on it is refused, and close() kills held sessions and removes it', async () => {
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  await assert.rejects(CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home2'), sensor: false, poolSize: 0 } }), /another corral daemon is listening/);
  // a separate daemon (its own socket): a session left open is killed when the daemon closes
  const sock2 = join(dir, 'other.sock');
  // a regular file where the socket goes is refused and kept (never deleted to make room)
  writeFileSync(sock2, 'not a socket');
  await assert.rejects(CorralDaemon.start({ socketPath: sock2, runtime: { home: join(dir, 'home3'), sensor: false, poolSize: 0 } }), /is a regular file, not a socket; refusing to replace it/);
  assert.equal(readFileSync(sock2, 'utf8'), 'not a socket');
  rmSync(sock2);
  // a stale socket (bound by a process that is gone, nobody listening) is replaced
  const bound = spawnSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sock2]);
  assert.equal(bound.status, 0, String(bound.stderr));
  assert.ok(statSync(sock2).isSocket());
  const d2 = await CorralDaemon.start({ socketPath: sock2, maxSessions: 1, runtime: { home: join(dir, 'home3'), sensor: false, poolSize: 0 } });
  // Opened at once, they all passed a count of the sessions already held: exactly one may open.
  const racing = await Promise.all(Array.from({ length: 5 }, () => daemonRequest(sock2, 'POST', '/v1/sessions', {})));
  assert.deepEqual(racing.map((x) => x.status).sort(), [200, 503, 503, 503, 503], '--max-sessions holds for concurrent opens');
  const o = racing.find((x) => x.status === 200)!;
  const id = o.json.session as string;
  const full = await daemonRequest(sock2, 'POST', '/v1/sessions', {});
  assert.equal(full.status, 503, '--max-sessions holds');
  assert.match((full.json.error as { message: string }).message, /too many open sessions \(1\)/);
  const running = daemonRequest(sock2, 'POST', `/v1/sessions/${id}/exec`, { command: 'sleep 30' }).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await d2.close();
  assert.ok(Date.now() - t0 < 10_000, 'close() did not wait for the 30 s sleep');
  // the pending call is killed, and its client reads why rather than a hang-up
  const answered = await running;
  assert.ok(!(answered instanceof Error), `the pending call got an answer, not ${String(answered)}`);
  assert.equal(answered.status, 200, JSON.stringify(answered.json));
  assert.equal(answered.json.cancelled, 'the corral daemon is stopping');
  assert.notEqual(answered.json.exit_code, 0);
  assert.throws(() => statSync(sock2), /ENOENT/);
});

test('corral run without a daemon: Ctrl-C kills the call, still tears the sandbox down and reports, exits 130', async () => {
  const t0 = Date.now();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const { child, done } = cli(['--no-daemon', '--no-sensor', '--json', '--home', join(dir, 'home-local'), '--', '/bin/sh', '-c', 'echo started; sleep 30; echo finished'], {
      onStdout: (s) => { if (s === 'started\n') child.kill('SIGINT'); },
    });
    void done.then(resolve);
  });
  assert.ok(Date.now() - t0 < 20_000, 'did not wait for the 30 s sleep');
  assert.equal(r.code, 130, r.stderr);
  assert.equal(r.stdout, 'started\n');
  const s = lastJson(r.stderr);
  assert.equal(s.via, 'local');
  assert.equal(s.exit_code, 130);
  assert.equal(s.verdict, 'clean');
  // The record says why the call ended: the operator's Ctrl-C, not a crash or a kill.
  const rep = spawnSyncNode(['report', '--session', String(s.session), '--json', '--home', join(dir, 'home-local')]);
  const calls = (JSON.parse(rep.stdout) as { calls: { cancelled?: string }[] }).calls;
  assert.equal(calls[0]!.cancelled, 'SIGINT', rep.stdout.slice(0, 400));
  // the report says the verdict covers only what ran (it read `clean` like a whole episode: a user review, session 41)
  assert.deepEqual((JSON.parse(rep.stdout) as { cut_short?: unknown }).cut_short, { calls: 1, why: ['SIGINT'] });
  const text = spawnSyncNode(['report', '--session', String(s.session), '--home', join(dir, 'home-local')]).stdout;
  assert.match(text, /cancelled \(SIGINT\)/);
  assert.match(text, /cut short: 1 call\(s\) stopped from outside \(SIGINT\) — the verdict covers only what ran/);
});

test('the Python client (clients/python, standard library only) drives sessions and gets typed errors', async () => {
  const script = `
import json, sys
from corral_client import Corral, CorralError
c = Corral()
out = {"health": c.health()["ok"]}
with c.session(policy="lab-demo", run="py-run", episode="py-ep") as s:
    r1 = s.exec(${JSON.stringify(SSH_PY + 'print("cut", r)')}, tool="python", step=1, tool_call_id="py-1")
    r2 = s.exec("echo ok", step=2, tool_call_id="py-2")
    out["r1"] = {"exit_code": r1["exit_code"], "stdout": r1["stdout"], "stderr": r1["stderr"], "categories": sorted({a["category"] for a in r1["alerts"] if a.get("layer") != "command"})}
    out["r2"] = {"exit_code": r2["exit_code"], "stdout": r2["stdout"], "alerts": len(r2["alerts"])}
out["closed"] = sorted({(a["tool_call"], a["category"]) for a in s.alerts if a.get("layer") != "command"})
out["verdict"] = s.verdict
out["report_calls"] = [c["tool_call"] for c in s.report()["calls"]]
out["run"] = c.run(["sh", "-c", "echo captured; exit 4"])["exit_code"]
out["env"] = c.run(["sh", "-c", "echo $TERM:\${SECRET_X:-none}"], env={"TERM": "vt-py", "SECRET_X": "leak"})["stdout"]
with c.session(policy="lab-demo", mounts=[{"host": ${JSON.stringify(join(dir, 'dataset'))}, "path": "/data/eval"}]) as m:
    out["mounted"] = m.exec("cat /data/eval/rows.jsonl", step=1)["stdout"]
with c.session(policy="lab-demo", episode="py-files") as f:
    w = f.write_file("src/app.py", "def f():\\n    return 1\\n", step=1, tool_call_id="ed-1")
    e = f.str_replace("src/app.py", "return 1", "return 2", step=2)
    i = f.insert("src/app.py", 0, "# top", step=3)
    b = f.write_file("blob.bin", bytes(range(256)), step=4)
    t = f.read_file("src/app.py", step=5)
    rb = f.read_file("blob.bin", step=6)
    miss = f.str_replace("src/app.py", "nowhere", "x", step=7)
    piped = f.exec("wc -c; cat src/app.py | head -1", step=8, stdin="12345")
    f.write_file("cfg.ini", "a=1\\nb=1\\nc=2\\n", step=9)
    ra = f.str_replace("cfg.ini", "=1", "=5", replace_all=True, step=10)
    me = f.multi_edit("cfg.ini", [("a=5", "a=6"), {"old": "=5", "new": "=7", "replace_all": True}, ("c=2", "c=3")], step=11, tool_call_id="me-11")
    bad = f.multi_edit("cfg.ini", [("a=6", "a=0"), ("nowhere", "x")], step=12)
    try:
        f.multi_edit("cfg.ini", [("a", "b"), ("", "x")], step=13)
    except CorralError as err:
        out["empty_old"] = [err.status, err.message]
    out["edits"] = {"ok": [ra["ok"], me["ok"], bad["ok"]], "id": me["tool_call_id"], "bad": bad["problem"], "text": f.read_file("cfg.ini", step=14)["content"]}
    out["files"] = {"ok": [w["ok"], e["ok"], i["ok"], b["ok"]], "text": t["content"], "bin": rb["content"] == bytes(range(256)),
                    "miss": [miss["ok"], miss["problem"]], "piped": piped["stdout"], "ids": [w["tool_call_id"], t["step"]]}
try:
    c.run([])
except CorralError as e:
    out["error"] = [e.status, e.kind, e.message]
# (a user review, session 41) no daemon: a CorralError, not a bare FileNotFoundError
try:
    Corral(socket_path="/nonexistent/corral.sock").health()
except CorralError as e:
    out["no_daemon"] = [e.status, e.kind, "start one with: corral serve" in e.message]
# a session the daemon closed already: close() takes its verdict from the report; the trainer's own error survives __exit__
gone = c.session(policy="lab-demo", episode="py-gone")
gone.exec("echo hi", step=1)
c.request("DELETE", f"/v1/sessions/{gone.id}")
gone.close()
out["gone"] = [gone.closed, gone.verdict]
try:
    with c.session(policy="lab-demo", episode="py-raise") as r:
        c.request("DELETE", f"/v1/sessions/{r.id}")
        raise ValueError("the trainer's own")
except ValueError as e:
    out["own_error"] = str(e)
print(json.dumps(out))
`;
  const r = await runPythonClient(script, sock);
  assert.equal(r.code, 0, `python exited ${r.code}: ${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout) as { health: boolean; r1: { exit_code: number; stdout: string; stderr: string; categories: string[] }; r2: { exit_code: number; stdout: string; alerts: number }; closed: [string, string][]; verdict: string; report_calls: string[]; run: number; error: [number, string, string] };
  assert.equal(out.health, true);
  assert.equal(out.r1.exit_code, 0, out.r1.stderr);
  assert.match(out.r1.stdout, /^cut /);
  assert.deepEqual(out.r1.categories, ['tunnel']);
  assert.deepEqual(out.r2, { exit_code: 0, stdout: 'ok\n', alerts: 0 });
  assert.deepEqual(out.closed, [['py-1', 'tunnel']]);
  assert.equal(out.verdict, 'blocked');
  assert.deepEqual(out.report_calls, ['py-1', 'py-2']);
  const files = (out as unknown as { files: { ok: boolean[]; text: string; bin: boolean; miss: [boolean, string]; piped: string; ids: [string, number] } }).files;
  assert.deepEqual(files.ok, [true, true, true, true]);
  assert.equal(files.text, '# top\ndef f():\n    return 2\n');
  assert.equal(files.bin, true, 'bytes round-trip through content_base64');
  assert.equal(files.miss[0], false);
  assert.match(files.miss[1], /does not appear verbatim in \/workspace\/src\/app\.py/);
  assert.equal(files.piped, '5\n# top\n', 'exec stdin reaches the command');
  assert.deepEqual(files.ids, ['ed-1', 5]);
  // replace_all and multi_edit: in order, all or none, the failing edit named (counted from 1); a bad edit is a 400 naming it
  const edits = (out as unknown as { edits: { ok: boolean[]; id: string; bad: string; text: string }; empty_old: [number, string] });
  assert.deepEqual(edits.edits, { ok: [true, true, false], id: 'me-11', bad: 'no edit was made (edit 2 of 2 failed): the old text does not appear verbatim in /workspace/cfg.ini', text: 'a=6\nb=7\nc=3\n' });
  assert.deepEqual(edits.empty_old, [400, 'edit 2 of 2: old must not be empty']);
  assert.equal((out as unknown as { mounted: string }).mounted, '{"q":"2+2"}\n', 'mounts from Python (the dataset of the test above)');
  assert.equal(out.run, 4);
  const more = out as unknown as { no_daemon: [null, string, boolean]; gone: [boolean, string]; own_error: string };
  assert.deepEqual(more.no_daemon, [null, 'daemon', true]);
  assert.deepEqual(more.gone, [true, 'clean']);
  assert.equal(more.own_error, "the trainer's own");
  // env: the policy's env_allow variables come from the given environment, nothing else of it passes
  assert.equal((out as unknown as { env: string }).env, 'vt-py:none\n');
  assert.deepEqual(out.error.slice(0, 2), [400, 'bad_request']);
  assert.match(out.error[2], /argv/);
});

test('the Python client: a write over the daemon\'s body limit is a CorralError 413 (the daemon\'s answer), not a broken pipe', async () => {
  // (the daemon answers 413 without reading the rest of the body, so the client's send fails first)
  const script = `
import json
from corral_client import Corral, CorralError
out = {}
with Corral().session(policy="lab-demo", episode="py-big") as s:
    try:
        s.write_file("big.bin", b"a" * (33 << 20), step=1)
        out["big"] = "written"
    except CorralError as e:
        out["big"] = [e.status, e.kind, e.message]
    out["after"] = s.write_file("small.txt", "x", step=2)["ok"]
print(json.dumps(out))
`;
  const r = await runPythonClient(script, sock);
  assert.equal(r.code, 0, `python exited ${r.code}: ${r.stdout}${r.stderr}`);
  const out = JSON.parse(r.stdout) as { big: [number, string, string]; after: boolean };
  assert.deepEqual(out.big.slice(0, 2), [413, 'bad_request'], JSON.stringify(out));
  assert.match(out.big[2], /body: larger than/);
  assert.equal(out.after, true, 'the session goes on');
});

test('corral serve (the CLI): ready line, one access-log line per request, clean stop on SIGTERM', async () => {
  const sock3 = join(dir, 'cli.sock');
  const serve = spawn(process.execPath, [MAIN, 'serve', '--socket', sock3, '--home', join(dir, 'home-cli'), '--no-sensor', '--pool', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  serve.stderr.on('data', (c: Buffer) => { err += c; });
  const lines = (): Record<string, unknown>[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  serve.stdout.on('data', (c: Buffer) => { out += c; });
  const waitFor = async (pred: () => boolean): Promise<void> => {
    for (const t0 = Date.now(); !pred(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > 20_000) throw new Error(`timed out; stdout=${out} stderr=${err}`);
    }
  };
  try {
    await waitFor(() => lines().some((l) => l.ready === true));
    assert.equal(lines()[0]!.socket, sock3);
    const r = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [MAIN, 'run', '--socket', sock3, '--', 'sh', '-c', 'exit 5'], { stdio: 'ignore' });
      c.on('close', resolve);
    });
    assert.equal(r, 5);
    await waitFor(() => lines().some((l) => l.path === '/v1/run'));
    const entry = lines().find((l) => l.path === '/v1/run')!;
    assert.equal(entry.status, 200);
    assert.equal(entry.exit_code, 5);
    assert.match(String(entry.session), /^[0-9a-f]{12}$/);
  } finally {
    const code = await new Promise<number | null>((resolve) => { serve.on('close', resolve); serve.kill('SIGTERM'); });
    assert.equal(code, 0, err);
  }
  assert.throws(() => statSync(sock3), /ENOENT/, 'the socket is removed on stop');
});

test('a session dies with the client process that opened it, unless it asked to be kept', async () => {
  const openAndExit = (keep: boolean) => new Promise<string>((resolve, reject) => {
    const py = `import sys, json\nsys.path.insert(0, ${JSON.stringify(join(process.cwd(), 'clients', 'python'))})\nfrom corral_client import Corral\nc = Corral(${JSON.stringify(sock)})\n` +
      `body = {"episode": "orphan"${keep ? ', "keep_after_client_exit": True' : ''}}\ns = c.request("POST", "/v1/sessions", body)["session"]\n` +
      `c.request("POST", f"/v1/sessions/{s}/exec", {"command": "nohup sleep 300 >/dev/null 2>&1 & echo bg"})\nprint(s)`;
    const child = spawn('python3', ['-c', py]);
    let out = '', err = '';
    child.stdout.on('data', (c: Buffer) => { out += c; });
    child.stderr.on('data', (c: Buffer) => { err += c; });
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`python exited ${code}: ${err}`))));
  });
  const listed = async (): Promise<string[]> => ((await daemonRequest(sock, 'GET', '/v1/sessions')).json.sessions as { session: string }[]).map((s) => s.session);
  const gone = await openAndExit(false);
  const kept = await openAndExit(true);
  const t0 = Date.now();
  while ((await listed()).includes(gone) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
  const now = await listed();
  assert.ok(!now.includes(gone), 'the orphaned session was closed (its background sleep killed with it)');
  assert.ok(now.includes(kept), 'the session that asked to be kept is still open');
  // A call to the closed session is told why it is gone (a curl that opened one exits at once), not only that it is.
  const late = await daemonRequest(sock, 'POST', `/v1/sessions/${gone}/exec`, { command: 'true' });
  assert.equal(late.status, 404);
  assert.match((late.json as { error: { message: string } }).error.message, /no open session \w+ \(closed when the process that opened it \(pid \d+\) exited; open it with keep_after_client_exit: true/);
  assert.equal((await daemonRequest(sock, 'DELETE', `/v1/sessions/${kept}`)).status, 200);
  const again = await daemonRequest(sock, 'DELETE', `/v1/sessions/${kept}`);
  assert.match((again.json as { error: { message: string } }).error.message, /\(closed by DELETE\)/);
});

test('corral events --follow prints a session\'s events live from the daemon, filtered there', async () => {
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { policy: 'lab-demo', episode: 'ep-live' });
  const id = open.json.session as string;
  const follow = (args: string[]) => {
    const child = spawn(process.execPath, [MAIN, 'events', '--follow', '--socket', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    const out = { text: '' };
    child.stdout.on('data', (c: Buffer) => { out.text += c; });
    return { child, out };
  };
  const listening = d.runtime.listenerCount('event');
  const all = follow(['--session', id, '--json']);
  const alertsOnly = follow(['--session', id, '--kind', 'alert']);
  // both readers subscribed (a CLI start takes seconds on a loaded machine: wait for the daemon to see them)
  for (let i = 0; i < 300 && d.runtime.listenerCount('event') < listening + 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(d.runtime.listenerCount('event'), listening + 2, 'both followers are subscribed');
  const r = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: `/bin/echo live-marker; ${'python3 -c \'import socket\ntry:\n  socket.create_connection(("203.0.113.10", 22), timeout=2)\nexcept Exception: pass\''}`, step: 1, tool_call_id: 'live-1' });
  assert.equal(r.status, 200);
  const t0 = Date.now();
  const seen = (): CorralEventLike[] => all.out.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorralEventLike);
  while (!(seen().some((e) => e.kind === 'toolcall.end') && /ALERT/.test(alertsOnly.out.text)) && Date.now() - t0 < 15_000) await new Promise((res) => setTimeout(res, 100));
  all.child.kill('SIGINT');
  alertsOnly.child.kill('SIGINT');
  await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`);
  const evs = seen();
  assert.ok(evs.every((e) => e.session === id), 'only this session');
  const kinds = new Set(evs.map((e) => e.kind));
  for (const k of ['toolcall.start', 'exec', 'toolcall.end']) assert.ok(kinds.has(k), `${k} streamed live: ${[...kinds].join(',')}`);
  assert.ok(evs.some((e) => e.kind === 'exec' && (e.payload.argv as string[] | undefined)?.includes('live-marker')), 'the exec with its argv');
  const lines = alertsOnly.out.text.split('\n').filter(Boolean);
  assert.ok(lines.length >= 1 && lines.every((l) => /ALERT /.test(l)), alertsOnly.out.text);
  assert.match(alertsOnly.out.text, new RegExp(`${id} ep-live 1 live-1 ALERT (tunnel|policy_violation)`));
});

interface CorralEventLike { session: string; kind: string; payload: Record<string, unknown> }

test('corral events --follow without a daemon says how to start one', () => {
  const r = spawnSyncNode(['events', '--follow', '--socket', join(dir, 'nobody.sock')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--follow reads a running corral serve; none listens on .*nobody\.sock \(start one with: corral serve\)/);
});

test('--alert-webhook POSTs each alert at or above its severity as it is raised, retrying a failed delivery', async () => {
  const { createServer } = await import('node:http');
  const got: { alert: { category: string; severity: string; tool_call?: string }; session: string }[] = [];
  let requests = 0;
  const hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c; });
    req.on('end', () => {
      requests++;
      if (requests === 1) { res.writeHead(500).end(); return; } // the first delivery fails once
      got.push(JSON.parse(body) as (typeof got)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
  const port = (hookServer.address() as { port: number }).port;
  await assert.rejects(CorralDaemon.start({ socketPath: join(dir, 'bad-hook.sock'), alertWebhook: { url: 'ftp://x' } }), /http or https only/);
  const sock3 = join(dir, 'hook.sock');
  const d3 = await CorralDaemon.start({ socketPath: sock3, alertWebhook: { url: `http://127.0.0.1:${port}/hook`, minSeverity: 'high' }, runtime: { home: join(dir, 'home-hook'), sensor: false, poolSize: 0 } });
  try {
    const low = 'import socket\ntry:\n  socket.create_connection(("198.51.100.10", 81), timeout=2).recv(1)\nexcept Exception: pass';
    const r = await daemonRequest(sock3, 'POST', '/v1/run', { argv: ['python3', '-c', `${SSH_PY}\n${low}`], policy: 'lab-demo', labels: { tool_call: 'hooked-1' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const categories = (r.json.alerts as { category: string; severity: string }[]).map((a) => `${a.category}/${a.severity}`);
    assert.ok(categories.includes('policy_violation/low'), `a low alert was raised too: ${categories.join(', ')}`);
    const t0 = Date.now();
    while (!got.some((g) => g.alert.category === 'tunnel') && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 50));
    const tunnel = got.find((g) => g.alert.category === 'tunnel');
    assert.ok(tunnel, `delivered: ${JSON.stringify(got)}`);
    assert.equal(tunnel.session, r.json.session);
    assert.equal(tunnel.alert.tool_call, 'hooked-1');
    assert.ok(got.every((g) => g.alert.severity === 'high' || g.alert.severity === 'critical'), 'nothing below high was sent');
    const health = (await daemonRequest(sock3, 'GET', '/v1/health')).json.alert_webhook as { sent: number; failed: number };
    assert.ok(health.sent >= 1);
    assert.equal(health.failed, 0, 'the failed first delivery was retried');
    assert.ok(requests >= 2);
  } finally {
    await d3.close();
    hookServer.close();
  }
});

test('corral run --workspace DIR runs in the caller\'s project as /workspace, its files the agent\'s, nothing chowned on the host', async () => {
  const proj = join(dir, 'project');
  mkdirSync(proj);
  writeFileSync(join(proj, 'main.py'), 'print("v1")\n');
  const r = await cli(['--workspace', proj, '--', '/bin/sh', '-c', 'pwd; python3 main.py; echo \'print("v2")\' > main.py; python3 main.py; touch build.log']).done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '/workspace\nv1\nv2\n');
  assert.equal(readFileSync(join(proj, 'main.py'), 'utf8'), 'print("v2")\n', 'the agent edited the project file');
  assert.equal(statSync(join(proj, 'build.log')).uid, 0, 'new files belong to the project\'s owner on the host');
  assert.equal(statSync(proj).uid, 0, 'the project directory was not chowned');
  const local = await cli(['--no-daemon', '--no-sensor', '--home', join(dir, 'home-ws'), '--workspace', proj, '--', 'python3', 'main.py']).done;
  assert.equal(local.code, 0, local.stderr);
  assert.equal(local.stdout, 'v2\n', 'the same without a daemon');
  const bad = await cli(['--workspace', '/etc', '--', 'true']).done;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /workspace: must not be a system directory/);
});
