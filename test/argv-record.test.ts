// An argv tool call (the daemon's `/v1/run` and exec `argv`, `corral run -- CMD ARGS…` without a
// daemon) is recorded with the command text that runs exactly that argv. The words joined with
// spaces made the record of `["echo", "a; b"]` read `echo a; b` — two commands that never ran —
// in events, `GET …/report` and `corral report`, which people and tools read to judge a call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const ARGV = ['echo', 'a; touch pwned', "it's"];
const QUOTED = `echo 'a; touch pwned' 'it'\\''s'`;
let dir: string;
let sock: string;
let d: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-argv-record-'));
  sock = join(dir, 'run', 'corral.sock');
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: false, poolSize: 0 }, sessionIdleMs: 60_000 });
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

const commands = async (session: string) => ((await daemonRequest(sock, 'GET', `/v1/sessions/${session}/report`)).json.calls as { tool_call: string; command: string }[]).map((c) => [c.tool_call, c.command]);

test('the daemon records an exec\'s argv as the quoted command that runs it', async () => {
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { episode: 'argv-exec' });
  assert.equal(open.status, 200, JSON.stringify(open.json));
  const id = open.json.session as string;
  try {
    const r = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { argv: ARGV, tool_call_id: 'av-1' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.stdout, "a; touch pwned it's\n", 'the argv ran as it is');
    assert.deepEqual(await commands(id), [['av-1', QUOTED]]);
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
});

test('the daemon records a /v1/run argv as the quoted command that runs it', async () => {
  const r = await daemonRequest(sock, 'POST', '/v1/run', { argv: ARGV, labels: { tool_call: 'av-run' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.stdout, "a; touch pwned it's\n");
  assert.deepEqual(await commands(r.json.session as string), [['av-run', QUOTED]]);
});

test('corral run without a daemon records its argv as the quoted command that runs it', () => {
  const home = join(dir, 'home-local');
  const r = spawnSync(process.execPath, [MAIN, 'run', '--no-daemon', '--no-sensor', '--json', '--home', home, '--label', 'tool_call=av-local', '--', ...ARGV], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "a; touch pwned it's\n");
  const session = (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { session: string }).session;
  const rep = spawnSync(process.execPath, [MAIN, 'report', '--session', session, '--json', '--home', home], { encoding: 'utf8' });
  assert.equal(rep.status, 0, rep.stderr);
  assert.deepEqual((JSON.parse(rep.stdout) as { calls: { tool_call: string; command: string }[] }).calls.map((c) => [c.tool_call, c.command]), [['av-local', QUOTED]]);
});
