// Why: a store, a policy or a rule file that Corral reads may be damaged or hostile — an alert
// written without its ATT&CK list, a FIFO or a link to /dev/zero among the session logs, an index
// that is a directory, a policy path naming a device. Each must give an error that names the file,
// never hang, grow memory or print a stack trace, and never lose the records that are fine.
// (A review, session 24, found each of these failing: every case here failed on the old code.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '../src/store/index.js';
import { loadPolicyFile } from '../src/policy/load.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const corral = (args: string[], input?: string) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000, input, env: { ...process.env, NO_COLOR: '1' } });
const T = 1714564800000000000n;

/** A store home with one session whose alert payload is `alert` (as another tool or a damaged log may have written it). */
function storeWith(t: { after: (fn: () => void) => void }, alert: Record<string, unknown>): string {
  const home = mkdtempSync(join(tmpdir(), 'corral-hostile-store-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const store = EventStore.open({ home });
  let n = 0;
  const ev = (kind: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) => store.append({ id: `a${++n}`, ts: String(T + BigInt(n) * 1_000_000_000n), kind, session: 'a', run: 'r', episode: 'e', payload, ...extra } as never);
  ev('session.start', { policy: 'default' });
  ev('toolcall.start', { command: 'ssh -N x' }, { step: 1, tool_call: 'c1' });
  ev('alert', alert, { step: 1, tool_call: 'c1' });
  ev('toolcall.end', { exit_code: 0 }, { step: 1, tool_call: 'c1' });
  store.close();
  return home;
}

const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .*\(.*:\d+:\d+\)/, s);

test('corral report renders alerts whose fields are missing or of the wrong type (text, HTML, JSON)', (t) => {
  const base = { rule: 'gateway.ssh_tunnel', severity: 'high', action: 'blocked', message: 'SSH blocked', evidence: [], reason: 'r' };
  for (const alert of [{ ...base, category: 'tunnel' }, { ...base, category: 'tunnel', attack: 'T1572' }, { ...base, category: null, attack: [1, 'T1572'] }]) {
    const home = storeWith(t, alert);
    const text = corral(['report', '--home', home]);
    assert.equal(text.status, 3, text.stderr);
    noStack(text.stderr);
    assert.match(text.stdout, /✖ (tunnel|unknown) \[high(, T1572)?\] SSH blocked/);
    const html = join(home, 'r.html');
    const h = corral(['report', '--home', home, '--html', html]);
    assert.equal(h.status, 3, h.stderr);
    const j = corral(['report', '--home', home, '--json']);
    const alerts = (JSON.parse(j.stdout) as { calls: { alerts: { attack: unknown; category: unknown }[] }[] }).calls[0]!.alerts;
    assert.ok(Array.isArray(alerts[0]!.attack));
    assert.equal(typeof alerts[0]!.category, 'string');
  }
});

test('a FIFO and a link to /dev/zero among the session logs are skipped with their names; the real logs are indexed', (t) => {
  const home = storeWith(t, { rule: 'x', category: 'tunnel', severity: 'high', action: 'blocked', message: 'm', evidence: [], attack: [], reason: 'r' });
  execFileSync('mkfifo', [join(home, 'sessions', 'f.jsonl')]);
  symlinkSync('/dev/zero', join(home, 'sessions', 'z.jsonl'));
  const r = corral(['events', '--reindex', '--home', home]);
  assert.equal(r.error, undefined, 'finished (the old code waited on the FIFO forever)');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /reindexed 4 event\(s\) from 3 session log\(s\)/);
  assert.match(r.stderr, /f\.jsonl is not a regular file \(a FIFO\)/);
  assert.match(r.stderr, /z\.jsonl is a symbolic link, not a session log/);
});

test('a damaged store layout is one sentence naming the file: an index that is a directory, a sessions entry that is a file', (t) => {
  const a = mkdtempSync(join(tmpdir(), 'corral-hostile-layout-'));
  t.after(() => rmSync(a, { recursive: true, force: true }));
  mkdirSync(join(a, 'index.sqlite'));
  const r = corral(['events', '--home', a]);
  assert.notEqual(r.status, 0);
  noStack(r.stderr);
  assert.match(r.stderr, /the event index .*index\.sqlite is damaged \(it is not a regular file\)/);
  const b = mkdtempSync(join(tmpdir(), 'corral-hostile-layout-'));
  t.after(() => rmSync(b, { recursive: true, force: true }));
  writeFileSync(join(b, 'sessions'), 'x');
  const s = corral(['events', '--reindex', '--home', b]);
  assert.notEqual(s.status, 0);
  noStack(s.stderr);
  assert.match(s.stderr, /the session log directory .*sessions is not a directory/);
});

test('a session log time that is not epoch ns or ISO 8601 with a zone is a bad line, not a date in 2001', (t) => {
  const home = storeWith(t, { rule: 'x', category: 'tunnel', severity: 'high', action: 'blocked', message: 'm', evidence: [], attack: [], reason: 'r' });
  writeFileSync(join(home, 'sessions', 'b.jsonl'), `${JSON.stringify({ id: 'b1', ts: '-5', kind: 'exec', session: 'b', payload: {} })}\n${JSON.stringify({ id: 'b2', ts: '2024-05-01T12:00:00Z', kind: 'exec', session: 'b', payload: {} })}\n`);
  const r = corral(['events', '--reindex', '--home', home]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /sessions\/b\.jsonl:1: ts is neither epoch nanoseconds nor ISO 8601 with a zone: "-5"/);
  assert.match(r.stderr, /reindexed 5 event\(s\)/);
});

test('a policy or rule file that is a device, a FIFO or a directory is refused by name; a policy hosts name like `constructor` is a name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-hostile-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(() => loadPolicyFile('/dev/zero'), /cannot read policy file \/dev\/zero: is not a regular file \(a device\)/);
  writeFileSync(join(dir, 'ext.yaml'), 'name: x\nextends: /dev/zero\n');
  assert.throws(() => loadPolicyFile(join(dir, 'ext.yaml')), /\/dev\/zero: is not a regular file/);
  execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
  assert.throws(() => loadPolicyFile(join(dir, 'fifo.yaml')), /is not a regular file \(a FIFO\)/);
  writeFileSync(join(dir, 'hosts.yaml'), 'name: h\nextends: default\nnetwork:\n  hosts:\n    constructor: 198.51.100.4\n    toString: 198.51.100.5\n');
  assert.deepEqual(loadPolicyFile(join(dir, 'hosts.yaml')).network.hosts, { constructor: '198.51.100.4', tostring: '198.51.100.5' });
  // the hook denies (never fails open) when its rule file cannot be read
  const hook = corral(['check', '--rules', '/dev/zero', '--hook', 'claude-code'], JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' } }));
  assert.equal(hook.status, 0, hook.stderr);
  assert.equal(JSON.parse(hook.stdout).hookSpecificOutput.permissionDecision, 'deny');
  const d = corral(['check', '--rules', dir, '--', 'ls']);
  assert.equal(d.status, 65);
  assert.match(d.stderr, new RegExp(`${dir}: is a directory, not a file`));
});
