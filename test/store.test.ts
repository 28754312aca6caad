// Why: proves the event store keeps every event (JSONL + SQLite index), answers each filter in
// time order, survives concurrent writers and torn log tails, and that `corral events` prints
// readable, injection-safe output in both table and JSON modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CorralEvent } from '../src/events/event.js';
import { EventStore, FLUSH_EVENTS } from '../src/store/event-store.js';
import { sessionLogPath } from '../src/store/home.js';
import { summarizeEvent } from '../src/store/summary.js';
import { makeStyle, safeText, table } from '../src/cli/style.js';
import { escapeHtml, scriptSafeJson } from '../src/investigate/report/html-data.js';
import { eventsCommand } from '../src/cli/events-command.js';
import { Collect } from './helpers/collect.js';

const run = promisify(execFile);

function tempHome(t: { after(fn: () => void): void }): string {
  const home = mkdtempSync(join(tmpdir(), 'corral-store-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

let seq = 0;
function ev(partial: Partial<CorralEvent> & Pick<CorralEvent, 'kind' | 'session'>): CorralEvent {
  seq++;
  return { id: `e${String(seq).padStart(6, '0')}`, ts: String(1_700_000_000_000_000_000n + BigInt(seq) * 1000n), payload: {}, ...partial };
}

function alert(session: string, category: string, severity: string, extra: Partial<CorralEvent> = {}): CorralEvent {
  return ev({
    kind: 'alert', session, ...extra,
    payload: { rule: `rule.${category}`, category, severity, attack: ['T1496'], message: `${category} seen`, reason: 'r', evidence: [], action: 'observed' },
  });
}

function logLines(home: string, session: string): string[] {
  const p = sessionLogPath(home, session);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').split('\n').filter((l) => l !== '');
}


function fixture(): CorralEvent[] {
  return [
    ev({ kind: 'session.start', session: 's1', run: 'r1', episode: 'ep1', payload: {} }),
    ev({ kind: 'exec', session: 's1', run: 'r1', episode: 'ep1', step: 1, tool_call: 'tc1', pid: 100, payload: { argv: ['ls', '-la', 'my dir'] } }),
    ev({ kind: 'connect', session: 's1', run: 'r1', episode: 'ep1', step: 2, tool_call: 'tc2', pid: 101, payload: { dst_ip: '203.0.113.7', dst_port: 3333, decision: 'block' } }),
    alert('s1', 'mining', 'high', { run: 'r1', episode: 'ep1', step: 2, tool_call: 'tc2', pid: 101 }),
    ev({ kind: 'dns', session: 's2', run: 'r2', episode: 'ep2', step: 1, tool_call: 'tc3', payload: { name: 'pool.minexmr.test', answers: ['198.51.100.9'], verdict: 'refused' } }),
    alert('s2', 'tunnel', 'medium', { run: 'r2', episode: 'ep2', step: 1, tool_call: 'tc3' }),
    ev({ kind: 'resource', session: 's2', run: 'r2', episode: 'ep2', step: 1, payload: { cpu_pct: 97.5, mem_bytes: 512 * 1024 * 1024, pids: 12 } }),
  ];
}

test('append + query: every filter selects exactly the matching events', (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const evs = fixture();
  for (const e of evs) store.append(e);
  const ids = (q: Parameters<EventStore['query']>[0]) => store.query(q).map((e) => e.id);
  const want = (pred: (e: CorralEvent) => boolean) => evs.filter(pred).map((e) => e.id);

  assert.deepEqual(ids({}), evs.map((e) => e.id));
  assert.deepEqual(ids({ session: 's2' }), want((e) => e.session === 's2'));
  assert.deepEqual(ids({ run: 'r1' }), want((e) => e.run === 'r1'));
  assert.deepEqual(ids({ episode: 'ep2' }), want((e) => e.episode === 'ep2'));
  assert.deepEqual(ids({ episode: 'ep1', step: 2 }), want((e) => e.episode === 'ep1' && e.step === 2));
  assert.deepEqual(ids({ step: 1 }), want((e) => e.step === 1));
  assert.deepEqual(ids({ tool_call: 'tc3' }), want((e) => e.tool_call === 'tc3'));
  assert.deepEqual(ids({ kind: ['exec', 'dns'] }), want((e) => e.kind === 'exec' || e.kind === 'dns'));
  assert.deepEqual(ids({ category: ['tunnel'] }), want((e) => e.kind === 'alert' && e.payload.category === 'tunnel'));
  assert.deepEqual(ids({ session: 's1', kind: ['alert'] }), want((e) => e.session === 's1' && e.kind === 'alert'));
  assert.deepEqual(ids({ since: evs[4]!.ts }), evs.slice(4).map((e) => e.id));
  assert.deepEqual(ids({ limit: 2 }), evs.slice(0, 2).map((e) => e.id));
  assert.deepEqual(ids({ session: 'nope' }), []);
  // The full event round-trips through the index.
  assert.deepEqual(store.query({ tool_call: 'tc1' })[0], evs[1]);
  store.close();
});

test('ordering: by numeric ts (different digit counts, ISO) then id, not by insertion', (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const mk = (id: string, ts: string): CorralEvent => ({ id, ts, kind: 'exec', session: 'ord', payload: {} });
  store.append(mk('c', '1000'));
  store.append(mk('b', '999'));
  store.append(mk('z', '1000'));
  store.append(mk('a', '1000'));
  store.append(mk('iso', '2024-01-01T00:00:00.000Z')); // 1704067200000000000 ns
  store.append(mk('late', '1704067200000000001'));
  assert.deepEqual(store.query({ session: 'ord' }).map((e) => e.id), ['b', 'a', 'c', 'z', 'iso', 'late']);
  assert.deepEqual(store.query({ since: '2024-01-01T00:00:00Z' }).map((e) => e.id), ['iso', 'late']);
  store.close();
});

test('JSONL log: one line per event in append order, 0600, flushed by size, by timer and on close', async (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  store.append(ev({ kind: 'exec', session: 'timer', payload: {} }));
  assert.equal(logLines(home, 'timer').length, 0, 'a single event stays buffered');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(logLines(home, 'timer').length, 1, 'timer flush wrote it within ~50 ms');
  assert.equal(statSync(sessionLogPath(home, 'timer')).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'index.sqlite')).mode & 0o777, 0o600);

  const batch = Array.from({ length: FLUSH_EVENTS }, () => ev({ kind: 'exec', session: 'size', payload: {} }));
  for (const e of batch) store.append(e);
  assert.deepEqual(logLines(home, 'size').map((l) => (JSON.parse(l) as CorralEvent).id), batch.map((e) => e.id), 'the 256th append flushed synchronously');

  store.append(ev({ kind: 'exec', session: 'close', payload: {} }));
  store.close();
  assert.equal(logLines(home, 'close').length, 1, 'close flushed synchronously');
  assert.throws(() => store.query({}), /closed/);
});

test('bad events are counted, never thrown, and never escape the sessions directory', (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad: unknown[] = [
    null,
    { id: 'x1', ts: 'yesterday', kind: 'exec', session: 's', payload: {} },
    { id: 'x2', ts: '1', kind: 'exec', session: '../../escape', payload: {} },
    { id: 'x3', ts: '1', kind: 'exec', session: 's', payload: cyclic },
    { id: 'x4', ts: '1', kind: 'exec', session: 's', step: -1, payload: {} },
    { id: 'x5', ts: '1', kind: 'exec', payload: {} },
  ];
  for (const b of bad) assert.doesNotThrow(() => store.append(b as CorralEvent));
  const good = ev({ kind: 'exec', session: 's', payload: {} });
  store.append(good);
  assert.deepEqual(store.query({}).map((e) => e.id), [good.id]);
  const st = store.stats();
  assert.equal(st.errors, bad.length);
  assert.equal(st.appended, 1);
  assert.match(st.lastError ?? '', /session must match/);
  assert.deepEqual(readdirSync(join(home, 'sessions')), ['s.jsonl']);
  assert.equal(existsSync(join(home, '..', 'escape.jsonl')), false);
  store.close();
});

test('two EventStore instances on one home interleave without losing or tearing events', (t) => {
  const home = tempHome(t);
  const a = EventStore.open({ home });
  const b = EventStore.open({ home });
  const all: CorralEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    const e = ev({ kind: 'exec', session: i % 3 === 0 ? 'shared' : `own${i % 2}`, payload: { argv: ['echo', 'x'.repeat(i % 50)] } });
    all.push(e);
    (i % 2 === 0 ? a : b).append(e);
  }
  // Each store's query flushes its own buffer; the other's buffered events are not visible yet.
  const seenByA = a.query({}).length;
  assert.ok(seenByA < all.length, 'b still holds buffered events');
  b.flush();
  assert.deepEqual(a.query({}).map((e) => e.id), all.map((e) => e.id));
  assert.deepEqual(b.query({ session: 'shared' }).map((e) => e.id), all.filter((e) => e.session === 'shared').map((e) => e.id));
  a.close();
  b.close();
  const lines = logLines(home, 'shared');
  assert.equal(lines.length, all.filter((e) => e.session === 'shared').length);
  for (const l of lines) JSON.parse(l); // every line is a whole event
});

test('two processes append to the same session and index concurrently', async (t) => {
  const home = tempHome(t);
  const storeUrl = new URL('../src/store/event-store.js', import.meta.url).href;
  const script = `
    const { EventStore } = await import(${JSON.stringify(storeUrl)});
    const [home, tag] = process.argv.slice(1);
    const s = EventStore.open({ home });
    for (let i = 0; i < 3000; i++) {
      s.append({ id: tag + '-' + i, ts: String(1700000000000000000n + BigInt(i)), kind: 'exec', session: 'mp', payload: { argv: ['w', tag, String(i)] } });
    }
    s.close();
    if (s.stats().errors || s.stats().indexErrors) { console.error(JSON.stringify(s.stats())); process.exit(1); }
  `;
  await Promise.all(['p1', 'p2'].map((tag) => run(process.execPath, ['--input-type=module', '-e', script, home, tag])));
  const lines = logLines(home, 'mp').map((l) => JSON.parse(l) as CorralEvent);
  assert.equal(lines.length, 6000);
  assert.equal(new Set(lines.map((e) => e.id)).size, 6000);
  const store = EventStore.open({ home });
  assert.equal(store.query({ session: 'mp' }).length, 6000);
  store.close();
});

test('reindexSession recovers a truncated JSONL tail and keeps earlier lines', (t) => {
  const home = tempHome(t);
  let store = EventStore.open({ home });
  const evs = [1, 2, 3].map(() => ev({ kind: 'exec', session: 'torn', payload: { argv: ['true'] } }));
  for (const e of evs) store.append(e);
  store.close();
  const path = sessionLogPath(home, 'torn');
  truncateSync(path, statSync(path).size - 10); // crash mid-write of the 3rd line

  store = EventStore.open({ home });
  const r = store.reindexSession('torn');
  assert.equal(r.indexed, 2);
  assert.equal(r.badLines.length, 1);
  assert.equal(r.badLines[0]!.line, 3);
  assert.match(r.badLines[0]!.error, /truncated/);
  assert.deepEqual(store.query({ session: 'torn' }).map((e) => e.id), [evs[0]!.id, evs[1]!.id]);

  // A later writer starts on a fresh line, so the torn line cannot swallow the next event.
  const next = ev({ kind: 'exec', session: 'torn', payload: {} });
  store.append(next);
  store.flush();
  appendFileSync(path, 'not json\n');
  const r2 = store.reindexSession('torn');
  assert.equal(r2.indexed, 3);
  assert.deepEqual(r2.badLines.map((b) => b.line), [3, 5]);
  assert.deepEqual(store.query({ session: 'torn' }).map((e) => e.id), [evs[0]!.id, evs[1]!.id, next.id]);
  assert.throws(() => store.reindexSession('../x'), /unsafe session/);
  store.close();
});

test('sessions() summarises each session', (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const evs = fixture();
  for (const e of evs) store.append(e);
  const s = store.sessions();
  assert.deepEqual(s.map((x) => [x.session, x.run, x.episode, x.events, x.alerts]), [['s1', 'r1', 'ep1', 4, 1], ['s2', 'r2', 'ep2', 3, 1]]);
  assert.equal(s[0]!.first_ts, evs[0]!.ts);
  assert.equal(s[0]!.last_ts, evs[3]!.ts);
  store.close();
});

test('style: colour on a TTY only, NO_COLOR wins, tables align ignoring ANSI codes', () => {
  const tty = new Collect();
  tty.isTTY = true;
  assert.equal(makeStyle(tty, {}).red('x'), '\x1b[31mx\x1b[39m');
  assert.equal(makeStyle(tty, { NO_COLOR: '1' }).red('x'), 'x');
  assert.equal(makeStyle(tty, { NO_COLOR: '1', FORCE_COLOR: '1' }).bold('x'), 'x');
  assert.equal(makeStyle(tty, { NO_COLOR: '' }).green('x'), '\x1b[32mx\x1b[39m', 'empty NO_COLOR does not count');
  assert.equal(makeStyle(tty, { TERM: 'dumb' }).cyan('x'), 'x');
  assert.equal(makeStyle(new Collect(), {}).yellow('x'), 'x', 'not a TTY');
  assert.equal(makeStyle(new Collect(), { FORCE_COLOR: '1' }).dim('x'), '\x1b[2mx\x1b[22m');

  const st = makeStyle(tty, {});
  const out = table([[st.red('a'), 'bb', 'c'], ['dddd', 'e', st.green('fff')]], ['H1', 'H2', 'H3']);
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  assert.deepEqual(plain, ['H1    H2  H3', 'a     bb  c', 'dddd  e   fff', '']);
  assert.equal(safeText('ok\x1b[2J\x07\r\n'), 'ok\\x1b[2J\\x07\\r\\n');
  // bidi overrides and zero-width characters would make a command read differently from what ran
  assert.equal(safeText('cat \u202ewodahs/cte/\u202c x\u200by'), 'cat \\u202ewodahs/cte/\\u202c x\\u200by');
  assert.equal(safeText('ok\u{e0072}\u{e006d}'), 'ok\\u{e0072}\\u{e006d}', 'tag characters (hidden ASCII) are shown');
  assert.equal(escapeHtml('<b>\u2066x\u2069'), '&#60;b&#62;\\u2066x\\u2069');
  assert.deepEqual(JSON.parse(scriptSafeJson({ cmd: 'cat \u202ex', n: 1 })), { cmd: 'cat \\u202ex', n: 1 }, 'the investigate report shows them too');
});

test('summaries per kind', () => {
  const s = (kind: CorralEvent['kind'], payload: Record<string, unknown>) => summarizeEvent({ id: 'i', ts: '1', kind, session: 's', payload });
  assert.equal(s('exec', { argv: ['sh', '-c', 'echo hi'] }), `sh -c 'echo hi'`);
  assert.equal(s('connect', { 'destination.address': '2001:db8::1', 'destination.port': 22, decision: 'allow' }), '[2001:db8::1]:22 allow');
  assert.equal(s('connect', { 'network.peer.address': '203.0.113.20', 'network.peer.port': 443, sni: 'mirror.test', decision: 'deny', rule: 'deny-tls:t13d3112h1_e8f1e7e78f70_d41ae481755e', 'tls.client.ja4': 't13d3112h1_e8f1e7e78f70_d41ae481755e' }),
    'mirror.test (203.0.113.20:443) deny (deny-tls:t13d3112h1_e8f1e7e78f70_d41ae481755e) tls t13d3112h1_e8f1e7e78f70_d41ae481755e');
  assert.equal(s('dns', { name: 'a.test', answers: [{ data: '192.0.2.1' }], verdict: 'allowed' }), 'a.test → 192.0.2.1 / allowed');
  assert.equal(s('flow', { dst_ip: '192.0.2.5', dst_port: 443, host: 'registry.test', bytes_up: 2048, bytes_down: 10, decision: 'allow', rule: 'allow-registry' }),
    'registry.test (192.0.2.5:443) ↑2.0KiB ↓10B allow (allow-registry)');
  assert.equal(s('alert', { severity: 'critical', category: 'mining', rule: 'stratum', message: 'stratum login' }), 'critical mining stratum stratum login');
  assert.equal(s('resource', { cpu_pct: 99, mem_bytes: 1048576, pids: 3 }), 'cpu 99.0% mem 1.0MiB pids 3');
  assert.equal(s('flow', { dst_ip: '192.0.2.5', dst_port: 80, bytes_up: 4096, bytes_down: 0, interim: true, decision: 'allow' }), '192.0.2.5:80 ↑4.0KiB ↓0B (still open: so far) allow');
  assert.equal(s('toolcall.end', { exit_code: 0, signal: null, duration_ms: 38.49, timed_out: false, stdout_bytes: 2048, stderr_bytes: 0 }), 'exit 0 after 38 ms, 2.0KiB out, 0B err');
  assert.equal(s('toolcall.end', { exit_code: null, signal: 'SIGKILL', duration_ms: 5000, timed_out: true }), 'timed out after 5000 ms');
  assert.equal(s('session.end', { alerts: 1, cpu_ns: 31_489_899, memory_peak_bytes: 6_426_624 }), 'ended: 1 alert(s), cpu 31 ms, memory peak 6.1MiB');
  assert.equal(s('session.end', { reason: 'holder exited unexpectedly' }), 'ended: holder exited unexpectedly');
});

test('eventsCommand: table and --json output, filters, --sessions', async (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const evs = fixture();
  for (const e of evs) store.append(e);
  // Agent-controlled text carrying a terminal escape sequence.
  const evil = ev({ kind: 'exec', session: 's3', payload: { argv: ['echo', '\x1b]0;pwned\x07\x1b[2K'] } });
  store.append(evil);
  store.close();

  const stdout = new Collect();
  const stderr = new Collect();
  const io = { stdout, stderr, env: { CORRAL_HOME: home } };
  assert.equal(await eventsCommand([], io), 0);
  const lines = stdout.text.trimEnd().split('\n');
  assert.match(lines[0]!, /^TIME \(UTC\)\s+SESSION\s+EPISODE\s+STEP\s+TOOL CALL\s+KIND\s+PID\s+SUMMARY$/);
  assert.equal(lines.length, evs.length + 2);
  assert.ok(!stdout.text.includes('\x1b'), 'no colour and no raw escapes when not a TTY');
  assert.match(stdout.text, /exec\s+100\s+ls -la 'my dir'/);
  assert.match(stdout.text, /203\.0\.113\.7:3333 block/);
  assert.match(stdout.text, /pool\.minexmr\.test → 198\.51\.100\.9 \/ refused/);
  assert.match(stdout.text, /alert\s+101\s+high mining rule\.mining mining seen/);
  assert.match(stdout.text, /cpu 97\.5% mem 512\.0MiB pids 12/);
  assert.ok(stdout.text.includes('\\x1b]0;pwned\\x07'), 'escape sequence printed escaped');
  const col = lines[0]!.indexOf('KIND');
  for (const l of lines.slice(1)) assert.ok(/\S/.test(l[col] ?? ''), `column aligned: ${l}`);

  const json = new Collect();
  assert.equal(await eventsCommand(['--json', '--session', 's1', '--kind', 'exec,alert'], { stdout: json, stderr, env: { CORRAL_HOME: home } }), 0);
  assert.deepEqual(json.text.trimEnd().split('\n').map((l) => JSON.parse(l)), evs.filter((e) => e.session === 's1' && (e.kind === 'exec' || e.kind === 'alert')));

  const byCat = new Collect();
  assert.equal(await eventsCommand(['--json', '--category', 'tunnel', '--home', home], { stdout: byCat, stderr, env: {} }), 0);
  assert.deepEqual(byCat.text.trimEnd().split('\n').map((l) => (JSON.parse(l) as CorralEvent).id), [evs[5]!.id]);

  const step = new Collect();
  assert.equal(await eventsCommand(['--json', '--episode', 'ep1', '--step', '2', '--tool-call', 'tc2', '--limit', '1', '--home', home], { stdout: step, stderr, env: {} }), 0);
  assert.deepEqual(step.text.trimEnd().split('\n').map((l) => (JSON.parse(l) as CorralEvent).id), [evs[2]!.id]);

  const tty = new Collect();
  tty.isTTY = true;
  assert.equal(await eventsCommand(['--sessions'], { stdout: tty, stderr, env: { CORRAL_HOME: home } }), 0);
  assert.ok(tty.text.includes('\x1b[1mSESSION'), 'colour on a TTY');
  const plainSessions = tty.text.replace(/\x1b\[[0-9;]*m/g, '').trimEnd().split('\n');
  assert.equal(plainSessions.length, 4);
  assert.match(plainSessions[1]!, /^s1\s+r1\s+ep1\s+\S+\s+\S+\s+4\s+1$/);
  const oneEp = new Collect();
  assert.equal(await eventsCommand(['--sessions', '--episode', 'ep1', '--json'], { stdout: oneEp, stderr, env: { CORRAL_HOME: home } }), 0);
  assert.deepEqual(oneEp.text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { session: string }).session), ['s1'], '--sessions takes the episode filter');

  const noColor = new Collect();
  noColor.isTTY = true;
  assert.equal(await eventsCommand(['--kind', 'alert'], { stdout: noColor, stderr, env: { CORRAL_HOME: home, NO_COLOR: '1' } }), 0);
  assert.ok(!noColor.text.includes('\x1b'), 'NO_COLOR respected');
  assert.match(noColor.text, /medium tunnel/);

  // A session id that the store does not hold is an error (exit 2, named), not an empty answer;
  // a known session with no match for the other filters is an empty answer (exit 0).
  for (const json of [[], ['--json']]) {
    const missOut = new Collect();
    const missErr = new Collect();
    assert.equal(await eventsCommand([...json, '--session', 'nosuch'], { stdout: missOut, stderr: missErr, env: { CORRAL_HOME: home } }), 2);
    assert.equal(missOut.text, '');
    assert.match(missErr.text, /no session nosuch in .*--sessions lists them/);
  }
  const none = new Collect();
  assert.equal(await eventsCommand(['--json', '--session', 's1', '--category', 'exfiltration'], { stdout: none, stderr: new Collect(), env: { CORRAL_HOME: home } }), 0);
  assert.equal(none.text, '');
});

test('eventsCommand: --since takes a time ago (10m, 2h) as well as epoch ns and ISO 8601', async (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const now = Date.now();
  const at = (msAgo: number): string => String(BigInt(now - msAgo) * 1_000_000n);
  store.append(ev({ kind: 'exec', session: 's1', id: 'old', ts: at(3 * 3_600_000) }));
  store.append(ev({ kind: 'exec', session: 's1', id: 'recent', ts: at(30 * 60_000) }));
  store.append(ev({ kind: 'exec', session: 's1', id: 'now', ts: at(1000) }));
  store.close();
  const ids = async (since: string): Promise<string[]> => {
    const out = new Collect();
    assert.equal(await eventsCommand(['--since', since, '--json'], { stdout: out, stderr: new Collect(), env: { CORRAL_HOME: home } }), 0, since);
    return out.text.trimEnd().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
  };
  assert.deepEqual(await ids('1h'), ['recent', 'now']);
  assert.deepEqual(await ids('10m'), ['now']);
  assert.deepEqual(await ids('1d'), ['old', 'recent', 'now']);
  assert.deepEqual(await ids(new Date(now - 2 * 3_600_000).toISOString()), ['recent', 'now']);
  assert.deepEqual(await ids(at(60_000)), ['now'], 'digits alone stay epoch nanoseconds');
});

test('eventsCommand: usage errors exit 2 with a clear message', async (t) => {
  const home = tempHome(t);
  EventStore.open({ home }).close();
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--bogus'], { CORRAL_HOME: home }, /unknown option --bogus/],
    [['--step', 'two'], { CORRAL_HOME: home }, /--step must be an integer/],
    [['--step', '-1'], { CORRAL_HOME: home }, /--step/],
    [['--limit', '0'], { CORRAL_HOME: home }, /--limit must be an integer ≥ 1/],
    [['--kind', 'execs'], { CORRAL_HOME: home }, /--kind: unknown value "execs"/],
    [['--category', 'bitcoin'], { CORRAL_HOME: home }, /--category: unknown value/],
    [['--since', 'soon'], { CORRAL_HOME: home }, /--since/],
    [['stray'], { CORRAL_HOME: home }, /unexpected argument/],
    [[], { CORRAL_HOME: join(home, 'missing') }, /no event store at .*missing/],
  ];
  for (const [argv, env, re] of cases) {
    const stdout = new Collect();
    const stderr = new Collect();
    assert.equal(await eventsCommand(argv, { stdout, stderr, env }), 2, argv.join(' '));
    assert.match(stderr.text, re);
    assert.equal(stdout.text, '');
  }
  assert.equal(existsSync(join(home, 'missing')), false, 'a missing home is not created');
  const help = new Collect();
  assert.equal(await eventsCommand(['--help'], { stdout: help, stderr: new Collect(), env: {} }), 0);
  assert.match(help.text, /Usage: corral events/);
});

test('throughput: append + flush of 100k events', (t) => {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  const n = 100_000;
  const base = 1_700_000_000_000_000_000n;
  const evs: CorralEvent[] = [];
  // Four sessions interleaved; within each, steps and tool calls advance as they do in a real episode.
  for (let i = 0; i < n; i++) {
    const s = i % 4;
    const k = Math.floor(i / 4);
    evs.push({
      id: `t${i}`, ts: (base + BigInt(i)).toString(), kind: i % 10 === 0 ? 'connect' : 'exec', session: `tp${s}`,
      run: 'r', episode: `tp${s}-ep${Math.floor(k / 2500)}`, step: Math.floor(k / 50) % 50, tool_call: `tp${s}-tc${Math.floor(k / 50)}`,
      pid: 1000 + (k % 500), payload: { argv: ['python3', '-c', `print(${i})`], cwd: '/work' },
    });
  }
  const t0 = process.hrtime.bigint();
  for (const e of evs) store.append(e);
  store.flush();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = Math.round(n / secs);
  console.log(`# store throughput: ${n} events in ${secs.toFixed(2)} s = ${rate} events/s`);
  t.diagnostic(`append+flush throughput: ${rate} events/s`);
  assert.equal(store.stats().indexed, n);
  assert.equal(store.query({ session: 'tp1', episode: 'tp1-ep3', step: 7 }).length, 50);
  store.close();
});
