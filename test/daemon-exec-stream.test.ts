// Why: proves `exec` with `stream: true` through a real daemon, real sandboxes and the real
// gateway, inside the lab: output arrives while the call runs (not at its end), an alert arrives
// as a line of its own, attributed to the call, before the result; the last line is the same
// result a plain exec answers; bad requests still get plain 4xx answers; a client that goes away
// mid-stream gets its call stopped (the session is free again at once); a streamed call has its
// access-log line once it ends, as a plain one (it had none); the Python client's
// on_stdout/on_alert callbacks see the same; and a quiet call gets keepalive lines, so a client's
// read timeout bounds the daemon's silence, not the call's run time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon, type RequestLogEntry } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { runPythonClient } from './helpers/python-client.js';

let dir: string;
let sock: string;
let d: CorralDaemon;
/** The daemon's access-log lines (corral serve prints them). */
const logged: RequestLogEntry[] = [];

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-stream-test-'));
  sock = join(dir, 'corral.sock');
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: true, poolSize: 1 }, sessionIdleMs: 60_000, streamKeepaliveMs: 400, onRequest: (e) => logged.push(e) });
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Line { at: number; line: Record<string, unknown> }

/** POSTs an exec with stream: true; resolves with the status and each NDJSON line with the ms it arrived at. */
function streamExec(session: string, body: Record<string, unknown>, o: { abortAfterFirst?: boolean; pauseMs?: number } = {}): Promise<{ status: number; lines: Line[]; raw: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ socketPath: sock, path: `/v1/sessions/${session}/exec`, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const lines: Line[] = [];
      let buf = '';
      let raw = '';
      res.setEncoding('utf8');
      // (a reader that stops reading for a while: the daemon must not buffer the call's output for it)
      if (o.pauseMs) { res.pause(); setTimeout(() => res.resume(), o.pauseMs); }
      res.on('data', (c: string) => {
        raw += c;
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text.trim() === '') continue;
          lines.push({ at: performance.now() - t0, line: JSON.parse(text) as Record<string, unknown> });
          if (o.abortAfterFirst) { req.destroy(); resolve({ status: res.statusCode ?? 0, lines, raw }); return; }
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, lines, raw }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, lines, raw }));
    });
    req.on('error', (e) => { if (!o.abortAfterFirst) reject(e); });
    req.end(JSON.stringify({ ...body, stream: true }));
  });
}

async function openSession(episode: string): Promise<string> {
  const r = await daemonRequest(sock, 'POST', '/v1/sessions', { policy: 'default', episode });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return (r.json as { session: string }).session;
}

test('a streamed exec sends output while the call runs, an alert as its own line, then the plain result', async () => {
  const id = await openSession('stream-1');
  try {
    const command = 'echo first; sleep 1.5; (echo > /dev/tcp/10.0.0.9/22) 2>/dev/null; echo second >&2; sleep 0.5; echo third';
    const r = await streamExec(id, { command, step: 1, tool_call_id: 'st-1' });
    assert.equal(r.status, 200, r.raw);
    const types = r.lines.map((l) => l.line.type);
    assert.equal(types.at(-1), 'result', r.raw);
    assert.equal(types.filter((t) => t === 'result').length, 1);
    const result = r.lines.at(-1)!;
    const first = r.lines.find((l) => l.line.type === 'stdout')!;
    assert.equal(first.line.data, 'first\n');
    assert.ok(result.at - first.at > 1000, `the first output came ${Math.round(result.at - first.at)} ms before the result: it was streamed, not sent at the end`);
    const streamed = (t: string) => r.lines.filter((l) => l.line.type === t).map((l) => l.line.data).join('');
    assert.equal(streamed('stdout'), 'first\nthird\n');
    assert.equal(streamed('stderr'), 'second\n');
    const alert = r.lines.find((l) => l.line.type === 'alert');
    assert.ok(alert, `an alert line: ${r.raw}`);
    assert.ok(alert.at <= result.at);
    assert.equal((alert.line.alert as { tool_call: string }).tool_call, 'st-1');
    assert.equal((alert.line.alert as { category: string }).category, 'internal_probe');
    // the last line is what a plain exec answers
    const res = result.line as { session: string; tool_call_id: string; step: number; exit_code: number; stdout: string; stderr: string; alerts: { category: string }[] };
    assert.equal(res.session, id);
    assert.equal(res.tool_call_id, 'st-1');
    assert.equal(res.step, 1);
    assert.equal(res.exit_code, 0);
    assert.equal(res.stdout, 'first\nthird\n');
    assert.equal(res.stderr, 'second\n');
    assert.ok(res.alerts.some((a) => a.category === 'internal_probe'));
    const plain = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'echo plain', step: 2 });
    assert.deepEqual(Object.keys(plain.json as object).sort(), Object.keys(res).filter((k) => k !== 'type').sort(), 'the same fields as a plain exec');
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
});

test('a streamed exec: unknown and busy sessions get plain 4xx answers; a client that leaves mid-stream has its call stopped', async () => {
  const missing = await streamExec('0123abcd', { command: 'true' });
  assert.equal(missing.status, 404);
  assert.equal((missing.lines[0]!.line as { error: { kind: string } }).error.kind, 'not_found');
  const id = await openSession('stream-2');
  try {
    const t0 = performance.now();
    const gone = await streamExec(id, { command: 'echo started; sleep 30; echo never', step: 1 }, { abortAfterFirst: true });
    assert.equal(gone.lines[0]!.line.data, 'started\n');
    // the session is free again well before the 30 s sleep would end
    let next: Awaited<ReturnType<typeof daemonRequest>> | undefined;
    for (let i = 0; i < 100; i++) {
      next = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'echo next', step: 2 });
      if (next.status !== 409) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(next!.status, 200, JSON.stringify(next!.json));
    assert.equal((next!.json as { stdout: string }).stdout, 'next\n');
    assert.ok(performance.now() - t0 < 15_000, 'the abandoned call was stopped');
    const rep = await daemonRequest(sock, 'GET', `/v1/sessions/${id}/report`);
    const calls = (rep.json as { calls: { step?: number; cancelled?: string }[] }).calls;
    assert.ok(calls.find((c) => c.step === 1)?.cancelled, JSON.stringify(calls));
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
});

test('the Python client streams with on_stdout / on_alert and returns the same result', async () => {
  const script = `
import json, time
from corral_client import Corral
c = Corral()
seen = []
t0 = time.monotonic()
with c.session(policy="default", episode="py-stream") as s:
    r = s.exec("echo one; sleep 1.2; (echo > /dev/tcp/10.0.0.9/22) 2>/dev/null; echo two", step=1, tool_call_id="pys-1",
               on_stdout=lambda t: seen.append(["out", t, time.monotonic() - t0]),
               on_alert=lambda a: seen.append(["alert", a["category"], time.monotonic() - t0]))
    end = time.monotonic() - t0
print(json.dumps({"seen": seen, "end": end, "stdout": r["stdout"], "exit_code": r["exit_code"], "tool_call_id": r["tool_call_id"]}))
`;
  const r = await runPythonClient(script, sock);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { seen: [string, string, number][]; end: number; stdout: string; exit_code: number; tool_call_id: string };
  assert.equal(out.stdout, 'one\ntwo\n');
  assert.equal(out.exit_code, 0);
  assert.equal(out.tool_call_id, 'pys-1');
  const first = out.seen.find((s) => s[0] === 'out')!;
  assert.equal(first[1], 'one\n');
  assert.ok(out.end - first[2] > 1.0, `on_stdout ran ${out.end - first[2]} s before the call returned`);
  assert.ok(out.seen.some((s) => s[0] === 'alert' && s[1] === 'internal_probe'), JSON.stringify(out.seen));
});

test('a streamed exec to a reader that stops reading drops output lines past a bound (and says how much), never alerts or the result', async () => {
  const id = await openSession('stream-slow');
  try {
    const n = 24_000_000;
    const r = await streamExec(id, { command: `head -c ${n} /dev/zero | tr '\\0' a`, step: 1, max_output: 32 * 1024 * 1024 }, { pauseMs: 4000 });
    assert.equal(r.status, 200);
    const result = r.lines.at(-1)!.line as { type: string; stdout: string; exit_code: number };
    assert.equal(result.type, 'result');
    assert.equal(result.exit_code, 0);
    assert.equal(result.stdout.length, n, 'the result carries the whole output');
    const streamed = r.lines.filter((l) => l.line.type === 'stdout').reduce((k, l) => k + String(l.line.data).length, 0);
    const dropped = r.lines.filter((l) => l.line.type === 'dropped').reduce((k, l) => k + Number(l.line.stdout), 0);
    assert.ok(dropped > 0, 'output was left out while the reader lagged');
    assert.equal(streamed + dropped, n, 'every byte is either streamed or counted as dropped');
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
});

test('a quiet streamed call gets keepalive lines; the Python client\'s timeout bounds the daemon\'s silence, not a call\'s run time', async () => {
  const id = await openSession('stream-quiet');
  try {
    const r = await streamExec(id, { command: 'echo a; sleep 1.6; echo b', step: 1 });
    assert.equal(r.status, 200, r.raw);
    const types = r.lines.map((l) => l.line.type);
    const a = types.indexOf('stdout');
    const b = types.lastIndexOf('stdout');
    const quiet = types.slice(a + 1, b).filter((t) => t === 'keepalive').length;
    assert.ok(quiet >= 2 && quiet <= 5, `keepalive lines during the 1.6 s of quiet (every 0.4 s): ${JSON.stringify(types)}`);
    assert.equal(types.at(-1), 'result');
    // output past max_output is left out, and the answer says how much (it was cut silently)
    const cut = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'printf 0123456789abcdef; printf xyz >&2', step: 2, max_output: 10 });
    assert.equal((cut.json as { stdout: string }).stdout, '0123456789');
    assert.deepEqual((cut.json as { output_truncated?: unknown }).output_truncated, { stdout: 6, stderr: 0 });
    // the record says how much the command wrote (bytes, kept or not), not what was kept (a user review, session 41)
    const end = d.runtime.store.query({ tool_call: String((cut.json as { tool_call_id: string }).tool_call_id), kind: ['toolcall.end'] })[0];
    assert.deepEqual([end?.payload.stdout_bytes, end?.payload.stderr_bytes], [16, 3]);
    const whole = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'echo all', step: 3, max_output: 10 });
    assert.equal((whole.json as { output_truncated?: unknown }).output_truncated, undefined);
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
  // timeout=1: a plain exec of a 2.5 s call (its timeout_ms given), a streamed one with 2.5 s of quiet, a file
  // call and a one-off run of a 2.5 s command must all answer; before, each died with a socket timeout.
  const script = `
import json
from corral_client import Corral
c = Corral(timeout=1)
out = {}
with c.session(policy="default", episode="py-quiet") as s:
    out["plain"] = s.exec("sleep 2.5; echo plain", step=1, timeout_ms=20000)["stdout"]
    out["streamed"] = s.exec("sleep 2.5; echo streamed", step=2, on_stdout=lambda t: None)["stdout"]
    out["file"] = s.write_file("f.txt", "x", step=3, timeout_ms=20000)["ok"]
out["run"] = c.run(["sh", "-c", "sleep 2.5; echo run; pwd"], timeout_ms=20000, workspace_path="/testbed")["stdout"]
print(json.dumps(out))
`;
  const py = await runPythonClient(script, sock);
  assert.equal(py.code, 0, py.stderr);
  assert.deepEqual(JSON.parse(py.stdout), { plain: 'plain\n', streamed: 'streamed\n', file: true, run: 'run\n/testbed\n' });
});

test('a streamed exec gets its access-log line when its call ends, like a plain exec', async () => {
  const id = await openSession('stream-log');
  try {
    const r = await streamExec(id, { command: 'sleep 0.3; exit 7', step: 1 });
    assert.equal(r.lines.at(-1)!.line.type, 'result', r.raw);
    const line = logged.find((e) => e.path === `/v1/sessions/${id}/exec`);
    assert.ok(line, `an access-log line for the streamed exec: ${JSON.stringify(logged.slice(-3))}`);
    assert.equal(line.status, 200);
    assert.equal(line.session, id);
    assert.equal(line.exit_code, 7);
    assert.equal(line.alerts, 0);
    assert.ok(line.ms >= 300, `its time is the call's: ${line.ms} ms`);
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
});
