// Why: proves the event store fails safe and recovers. A damaged index (garbage, truncated) or
// one deleted next to its logs is never a stack trace: events, report and doctor name the file
// and the repair, a writer refuses instead of starting an empty index, and `--reindex` rebuilds
// it from the logs without losing one event and without deleting the old file. Queries open the
// index read-only: another user reads a read-only copy, and a read-only mount, without writing a
// byte; an unreadable store says "permission", not "missing". One session log that is huge (over
// V8's ~512 MiB string limit: an agent can grow its own log that far), corrupt or unreadable costs
// only itself: it is named, every other log is indexed (a review found the huge one failing the
// whole rebuild with a stack trace, and the unreadable one failing it with nothing rebuilt).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, ftruncateSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CorralEvent } from '../src/events/event.js';
import { EventStore } from '../src/store/event-store.js';
import { EventIndex } from '../src/store/sqlite-index.js';
import { LISTED_BAD_LINES, rebuildIndex, type ReindexResult } from '../src/store/reindex.js';
import { StoreError } from '../src/store/store-error.js';
import { checkStore } from '../src/store/store-check.js';
import { eventsCommand } from '../src/cli/events-command.js';
import { Collect } from './helpers/collect.js';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');


function tempHome(t: { after(fn: () => void): void }): string {
  const home = mkdtempSync(join(tmpdir(), 'corral-recovery-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** A store of 3 sessions × 400 events (payloads padded so the index spans many pages); returns every id, in query order. */
function filledHome(t: { after(fn: () => void): void }): { home: string; ids: string[] } {
  const home = tempHome(t);
  const store = EventStore.open({ home });
  let n = 0;
  for (const session of ['alpha', 'beta', 'gamma']) {
    for (let i = 0; i < 400; i++) {
      n++;
      const ev: CorralEvent = {
        id: `${session}-${String(i).padStart(4, '0')}`, ts: String(1_700_000_000_000_000_000n + BigInt(n) * 1000n), kind: i % 50 === 0 ? 'alert' : 'exec',
        session, episode: 'ep', step: i, payload: i % 50 === 0
          ? { rule: 'r', category: 'mining', severity: 'high', attack: [], message: 'm', reason: 'r', evidence: [], action: 'observed' }
          : { argv: ['echo', 'x'.repeat(200)] },
      };
      store.append(ev);
    }
  }
  const ids = store.query({}).map((e) => e.id);
  store.close();
  assert.equal(ids.length, 1200);
  return { home, ids };
}

async function events(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new Collect();
  const stderr = new Collect();
  const code = await eventsCommand(args, { stdout, stderr, env: {} });
  return { code, out: stdout.text, err: stderr.text };
}

/** The built `corral` (main.ts runs on import, so it is spawned). */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CORRAL_NO_DAEMON: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function idsOf(jsonLines: string): string[] {
  return jsonLines.trimEnd().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as CorralEvent).id);
}

const NO_STACK = /SqliteError|\n\s+at /;

for (const [name, damage] of [
  ['garbage', (file: string) => writeFileSync(file, Buffer.alloc(statSync(file).size, 'not a database. '))],
  ['truncated', (file: string) => truncateSync(file, Math.floor(statSync(file).size / 2))],
] as const) {
  test(`a ${name} index: events, report, doctor and a writer name the file and the repair; --reindex loses no event and keeps the old file`, async (t) => {
    const { home, ids } = filledHome(t);
    const file = join(home, 'index.sqlite');
    damage(file);
    const damagedBytes = readFileSync(file);

    const ev = await events(['--json', '--home', home]);
    assert.equal(ev.code, 1, ev.err);
    assert.equal(ev.out, '');
    assert.match(ev.err, new RegExp(`the event index ${file} is damaged .*corral events --reindex --home ${home}`));
    assert.doesNotMatch(ev.err, NO_STACK);

    const report = await cli(['report', '--home', home, '--json']);
    assert.equal(report.code, 1, report.err);
    assert.match(report.err, /^corral report: the event index .* is damaged/);
    assert.match(report.err.trim().split('\n').at(-1)!, /^\{"error":\{"kind":"failure","message":"the event index /);
    assert.doesNotMatch(report.err, NO_STACK);

    const doctor = checkStore(home);
    assert.equal(doctor.ok, false);
    assert.match(doctor.detail, /damaged/);
    assert.equal(doctor.fix, `run: corral events --reindex --home ${home}`);

    assert.throws(() => EventStore.open({ home }), (e: unknown) => e instanceof StoreError && e.kind === 'damaged' && e.message.includes('--reindex'));

    const re = await events(['--reindex', '--home', home]);
    assert.equal(re.code, 0, re.err);
    assert.match(re.err, /reindexing: 3\/3 session logs, 1200 events/);
    assert.match(re.err, /reindexed 1200 event\(s\) from 3 session log\(s\)/);
    const kept = readdirSync(home).filter((f) => f.startsWith('index.sqlite.before-reindex-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
    assert.equal(kept.length, 1, readdirSync(home).join(' '));
    assert.deepEqual(readFileSync(join(home, kept[0]!)), damagedBytes, 'the damaged index is kept, byte for byte');
    assert.match(re.err, new RegExp(`kept as ${join(home, kept[0]!)}`));

    const after = await events(['--json', '--home', home]);
    assert.equal(after.code, 0, after.err);
    assert.deepEqual(idsOf(after.out), ids, 'every event is back, in order');
    assert.equal(checkStore(home).ok, true);
    const store = EventStore.open({ home });
    store.close();
  });
}

test('a deleted (or emptied) index next to logs: readers say so, a writer refuses and creates nothing, --reindex brings every session back', async (t) => {
  const { home, ids } = filledHome(t);
  const file = join(home, 'index.sqlite');
  unlinkSync(file);

  const ev = await events(['--sessions', '--home', home]);
  assert.equal(ev.code, 1, ev.err);
  assert.match(ev.err, new RegExp(`the event index ${file} is missing but .* holds 3 session log\\(s\\): .*corral events --reindex --home ${home}`));
  assert.doesNotMatch(ev.err, /no event store/);
  assert.throws(() => EventStore.open({ home }), (e: unknown) => e instanceof StoreError && e.kind === 'unindexed');
  assert.equal(existsSync(file), false, 'the refused writer did not start an empty index');
  assert.equal(checkStore(home).ok, false);

  writeFileSync(file, '');
  assert.throws(() => EventStore.open({ home }), (e: unknown) => e instanceof StoreError && /is empty but/.test(e.message));
  unlinkSync(file);

  const re = await events(['--reindex', '--home', home, '--json']);
  assert.equal(re.code, 0, re.err);
  const summary = JSON.parse(re.out) as { sessions: number; events: number; kept: string[] };
  assert.deepEqual({ sessions: summary.sessions, events: summary.events, kept: summary.kept }, { sessions: 3, events: 1200, kept: [] });
  const after = await events(['--json', '--home', home]);
  assert.deepEqual(idsOf(after.out), ids);
});

test('a damaged store stops `corral run` (exit 125, the repair named, no stack) before any sandbox exists', async (t) => {
  const { home } = filledHome(t);
  writeFileSync(join(home, 'index.sqlite'), 'garbage'.repeat(1000));
  const r = await cli(['run', '--no-daemon', '--no-sensor', '--home', home, '--', 'true']);
  assert.equal(r.code, 125, r.err);
  assert.match(r.err, /^corral run: the event index .* is damaged .*corral events --reindex/);
  assert.doesNotMatch(r.err, NO_STACK);
});

test('a --home that is a file: doctor says so (not "not created yet"), and corral run stops with that reason (no stack), before any sandbox exists', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-home-file-'));
  try {
    const file = join(dir, 'afile');
    writeFileSync(file, 'not a store\n');
    for (const home of [file, join(file, 'below')]) {
      const doctor = checkStore(home);
      assert.equal(doctor.ok, false, home);
      assert.equal(doctor.detail, `${home}: ${file} is a file, not a directory: no store can be created there`);
      assert.ok(doctor.fix);
      assert.throws(() => EventStore.open({ home }), (e: unknown) => e instanceof StoreError && /it \(or a directory above it\) is a file, not a directory/.test(e.message));
    }
    const r = await cli(['run', '--no-daemon', '--no-sensor', '--home', file, '--', 'true']);
    assert.equal(r.code, 125, r.err);
    assert.match(r.err, /^corral run: cannot use .*afile as the event store: it \(or a directory above it\) is a file/);
    assert.doesNotMatch(r.err, NO_STACK);
    assert.equal(readFileSync(file, 'utf8'), 'not a store\n', 'the file is left as it was');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('reindex reports log lines it cannot index, counts a repeated id once, and the old index is never overwritten', async (t) => {
  const { home, ids } = filledHome(t);
  const log = join(home, 'sessions', 'beta.jsonl');
  appendFileSync(log, `${readFileSync(log, 'utf8').split('\n')[0]}\n`); // beta-0000 again
  appendFileSync(join(home, 'sessions', 'alpha.jsonl'), '{"id":"torn","ts":"1","ki');
  const first = rebuildIndex(home);
  assert.equal(first.events, 1200);
  assert.equal(first.duplicates, 1);
  assert.equal(first.previousEvents, 1200);
  assert.deepEqual(first.badLines.map((b) => [b.session, b.line]), [['alpha', 401]]);
  assert.match(first.badLines[0]!.error, /^truncated last line/);
  const second = rebuildIndex(home);
  assert.equal(second.events, 1200);
  assert.notEqual(second.kept[0], first.kept[0], 'a second rebuild in the same second keeps both old files');
  assert.ok(existsSync(first.kept[0]!) && existsSync(second.kept[0]!));
  const store = EventStore.open({ home });
  assert.deepEqual(store.query({}).map((e) => e.id), ids);
  store.close();
});

test('doctor: --json carries the event store check; sessions whose logs are not in the index are found', async (t) => {
  const { home } = filledHome(t);
  const ok = await cli(['doctor', '--json', '--home', home]);
  const okCheck = (JSON.parse(ok.out) as { checks: { name: string; ok: boolean; required: boolean; detail: string }[] }).checks.find((c) => c.name === 'event store');
  assert.deepEqual({ ok: okCheck?.ok, required: okCheck?.required }, { ok: true, required: true });
  assert.match(okCheck!.detail, /3 session\(s\), 1200 event\(s\), index quick_check ok/);

  // What a writer that started a fresh index next to the logs left behind: sessions the index does not know.
  const index = new EventIndex(join(home, 'index.sqlite'));
  index.replace('beta', []);
  index.close();
  const bad = await cli(['doctor', '--json', '--home', home]);
  assert.equal(bad.code, 1);
  const badCheck = (JSON.parse(bad.out) as { ok: boolean; checks: { name: string; ok: boolean; detail: string; fix?: string }[] }).checks.find((c) => c.name === 'event store');
  assert.equal(badCheck?.ok, false);
  assert.match(badCheck!.detail, /1 of 3 session log\(s\) .* have no events in the index \(e\.g\. beta\)/);
  assert.equal(badCheck!.fix, `run: corral events --reindex --home ${home}`);
  const text = await cli(['doctor', '--home', home]);
  assert.match(text.out, /^FAIL event store\s+1 of 3 session log/m);
  assert.match(text.out, /^\s+fix: run: corral events --reindex --home /m);
  assert.match(text.out, /not ready/);

  const fresh = join(home, 'not-yet');
  assert.deepEqual(checkStore(fresh), { ok: true, detail: `${fresh}: not created yet (the first corral run creates it)` });
});

/** Runs the built CLI as uid/gid 65534 (nobody); undefined when setpriv is not installed. */
function asNobody(args: string[]): ReturnType<typeof spawnSync> | undefined {
  if (spawnSync('setpriv', ['--version']).status !== 0) return undefined;
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, NO_COLOR: '1' } });
}

/** An auditor's copy: root's files, 0755 directories and 0644 files, which nobody may read and not write. */
function auditorCopy(home: string): void {
  for (const d of [home, join(home, 'sessions')]) chmodSync(d, 0o755);
  for (const f of readdirSync(home)) if (f !== 'sessions') chmodSync(join(home, f), 0o644);
}

function snapshot(home: string): string {
  return readdirSync(home).sort().map((f) => `${f}:${statSync(join(home, f)).size}:${statSync(join(home, f)).mtimeMs}`).join(' ');
}

test('queries open the index read-only: another user reads a read-only copy without writing a byte', (t) => {
  const { home, ids } = filledHome(t);
  auditorCopy(home);
  const before = snapshot(home);
  const indexBytes = readFileSync(join(home, 'index.sqlite'));
  const r = asNobody(['events', '--json', '--home', home]);
  if (r === undefined) return t.skip('setpriv is not installed');
  assert.equal(r.status, 0, String(r.stderr));
  assert.deepEqual(idsOf(String(r.stdout)), ids);
  const rep = asNobody(['report', '--home', home, '--session', 'beta', '--json']);
  assert.equal(rep?.status, 3, String(rep?.stderr)); // beta has alerts
  assert.equal(snapshot(home), before, 'no file created, grown or touched');
  assert.deepEqual(readFileSync(join(home, 'index.sqlite')), indexBytes);
  // The same user cannot write there, so the answer above cannot have come from a write-capable open.
  const w = asNobody(['events', '--reindex', '--home', home]);
  assert.equal(w?.status, 1);
  assert.match(String(w?.stderr), /permission denied/);
  assert.doesNotMatch(String(w?.stderr), NO_STACK);
});

test('queries work on a read-only mount, as root too', (t) => {
  const { home, ids } = filledHome(t);
  const before = snapshot(home);
  const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', home, 'true']);
  if (probe.status !== 0) return t.skip(`no private read-only bind mount here: ${String(probe.stderr).trim()}`);
  const inRo = (args: string[]) => spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', home, process.execPath, CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const r = inRo(['events', '--json', '--home', home]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(idsOf(r.stdout), ids);
  const d = inRo(['doctor', '--json', '--home', home]);
  assert.equal((JSON.parse(d.stdout) as { checks: { name: string; ok: boolean }[] }).checks.find((c) => c.name === 'event store')?.ok, true, d.stdout);
  const w = inRo(['events', '--reindex', '--home', home]);
  assert.equal(w.status, 1);
  assert.match(w.stderr, /read-only/);
  assert.equal(snapshot(home), before);
});

test('an unreadable store (root\'s 0700, read by another user) says permission, not "missing"', (t) => {
  const { home } = filledHome(t);
  chmodSync(home, 0o700);
  const r = asNobody(['events', '--home', home]);
  if (r === undefined) return t.skip('setpriv is not installed');
  assert.equal(r.status, 1);
  assert.match(String(r.stderr), new RegExp(`permission denied reading ${home}: Corral's event store is root's \\(directory 0700, files 0600\\) by design`));
  assert.doesNotMatch(String(r.stderr), /missing|no event store/);
  const rep = asNobody(['report', '--home', home]);
  assert.equal(rep?.status, 1);
  assert.match(String(rep?.stderr), /^corral report: permission denied/);
  chmodSync(home, 0o755);
  chmodSync(join(home, 'index.sqlite'), 0o600);
  const idx = asNobody(['events', '--home', home]);
  assert.match(String(idx?.stderr), new RegExp(`permission denied reading ${join(home, 'index.sqlite')}`));
});

/** One valid event line of `session` (as a writer logs it). */
function eventLine(session: string, id: string, n: number): string {
  return JSON.stringify({ id, ts: String(1_700_000_000_000_000_000n + BigInt(n) * 1000n), kind: 'exec', session, payload: { argv: ['true'] } });
}

async function sessionIds(home: string, session: string): Promise<string[]> {
  const r = await events(['--json', '--home', home, '--session', session]);
  assert.equal(r.code, 0, r.err);
  return idsOf(r.out);
}

/** Past V8's longest string (0x1fffffe8 characters, ~512 MiB): the old reader held each log as one string. */
const OVER_STRING_LIMIT = 600 << 20;

test('a session log over V8\'s string limit is read as a stream: --reindex indexes it and every other log, names its overlong line, no stack', async (t) => {
  const { home, ids } = filledHome(t);
  // Line 1 an event; line 2 600 MiB of NUL bytes, a hole (the file is sparse: cheap to write and to read); lines 3-4 events.
  const log = join(home, 'sessions', 'huge.jsonl');
  const fd = openSync(log, 'w', 0o600);
  try {
    writeSync(fd, `${eventLine('huge', 'huge-1', 1)}\n`);
    ftruncateSync(fd, fstatSync(fd).size + OVER_STRING_LIMIT);
    writeSync(fd, `\n${eventLine('huge', 'huge-3', 3)}\n${eventLine('huge', 'huge-4', 4)}\n`, fstatSync(fd).size);
  } finally { closeSync(fd); }
  assert.ok(statSync(log).size > 0x1fffffe8);
  unlinkSync(join(home, 'index.sqlite')); // the index lost: the documented repair is --reindex

  const re = await cli(['events', '--reindex', '--home', home, '--json']);
  assert.doesNotMatch(re.err, NO_STACK);
  assert.equal(re.code, 0, re.err);
  const r = JSON.parse(re.out) as ReindexResult;
  assert.deepEqual({ sessions: r.sessions, events: r.events, failed: r.failed, unlisted: r.unlistedBadLines }, { sessions: 4, events: ids.length + 3, failed: [], unlisted: 0 });
  const overlong = `a line of ${OVER_STRING_LIMIT} bytes, longer than an event line may be (64 MiB): not read`;
  assert.deepEqual(r.badLines, [{ session: 'huge', line: 2, error: overlong }]);
  assert.match(re.err, /reindexed 1203 event\(s\) from 4 session log\(s\)/);
  assert.ok(re.err.includes(`sessions/huge.jsonl:2: ${overlong}`), re.err);
  assert.deepEqual(await sessionIds(home, 'huge'), ['huge-1', 'huge-3', 'huge-4'], 'the events on both sides of the huge line are indexed');
  assert.deepEqual(await sessionIds(home, 'beta'), ids.filter((id) => id.startsWith('beta-')));
  assert.equal(checkStore(home).ok, true);

  // doctor and a live store's reindexSession read the same log the same way.
  const index = new EventIndex(join(home, 'index.sqlite'));
  index.replace('huge', []);
  index.close();
  assert.match(checkStore(home).detail, /1 of 4 session log\(s\) .* \(e\.g\. huge\)/);
  const store = EventStore.open({ home });
  try {
    const again = store.reindexSession('huge');
    assert.deepEqual({ indexed: again.indexed, bad: again.badLines }, { indexed: 3, bad: [{ line: 2, error: overlong }] });
  } finally { store.close(); }
  assert.equal(checkStore(home).ok, true);
});

/** Deterministic junk: bytes of every value (NULs, invalid UTF-8, about one newline in 256). */
function junk(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

test('a corrupt session log (binary junk) costs only its bad lines: named by line, listed up to a cap (memory stays bounded), the events around them and every other log indexed', async (t) => {
  const { home, ids } = filledHome(t);
  const noise = junk(1 << 20, 0x5eed);
  const badInNoise = noise.toString('latin1').split('\n').filter((l) => l !== '').length;
  assert.ok(badInNoise > LISTED_BAD_LINES, `${badInNoise} junk lines`);
  writeFileSync(join(home, 'sessions', 'junk.jsonl'), Buffer.concat([Buffer.from(`${eventLine('junk', 'junk-1', 1)}\n`), noise, Buffer.from(`\n${eventLine('junk', 'junk-2', 2)}\n`)]), { mode: 0o600 });

  const re = await cli(['events', '--reindex', '--home', home, '--json']);
  assert.doesNotMatch(re.err, NO_STACK);
  assert.equal(re.code, 0, re.err);
  const r = JSON.parse(re.out) as ReindexResult;
  assert.equal(r.events, ids.length + 2);
  assert.deepEqual(r.failed, []);
  assert.equal(r.badLines.length, LISTED_BAD_LINES);
  assert.equal(r.unlistedBadLines, badInNoise - LISTED_BAD_LINES);
  assert.ok(r.badLines.every((b) => b.session === 'junk' && b.line >= 2), 'every bad line is named by its log and line');
  assert.equal(r.badLines[0]!.line, 2);
  assert.match(re.err, new RegExp(`${badInNoise} log line\\(s\\) could not be indexed`));
  assert.match(re.err, new RegExp(`… and ${badInNoise - 20} more \\(--json lists the first ${LISTED_BAD_LINES} of each log\\)`));
  assert.deepEqual(await sessionIds(home, 'junk'), ['junk-1', 'junk-2']);
  assert.deepEqual(await sessionIds(home, 'gamma'), ids.filter((id) => id.startsWith('gamma-')));
});

test('a session log this user may not read is named (exit 1, no stack) while every other log is still indexed', async (t) => {
  const { home, ids } = filledHome(t);
  if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv is not installed');
  if (process.getuid?.() !== 0) return t.skip('needs root (to hand the store to another user)');
  // The store belongs to nobody, except one log that stays root's 0600.
  assert.equal(spawnSync('chown', ['-R', '65534:65534', home]).status, 0);
  const secret = join(home, 'sessions', 'secret.jsonl');
  writeFileSync(secret, `${eventLine('secret', 'secret-1', 1)}\n`, { mode: 0o600 });
  const r = asNobody(['events', '--reindex', '--home', home, '--json'])!;
  const err = String(r.stderr);
  assert.doesNotMatch(err, NO_STACK);
  assert.equal(r.status, 1, err);
  const res = JSON.parse(String(r.stdout)) as ReindexResult;
  assert.equal(res.events, ids.length, 'the readable logs are indexed');
  assert.deepEqual(res.failed.map((f) => [f.session, f.line, f.offset]), [['secret', 0, 0]]);
  assert.match(res.failed[0]!.error, new RegExp(`^permission denied reading ${secret}`));
  assert.match(err, /error: 1 session log\(s\) could not be read to the end/);
  assert.match(err, /sessions\/secret\.jsonl: permission denied reading /);
  assert.deepEqual(idsOf((await events(['--json', '--home', home])).out), ids);
});

test('reindexSession on a log it cannot read throws naming the file, and leaves the session\'s indexed events as they were', (t) => {
  const { home, ids } = filledHome(t);
  const log = join(home, 'sessions', 'beta.jsonl');
  renameSync(log, `${log}.moved`);
  const store = EventStore.open({ home });
  try {
    assert.throws(() => store.reindexSession('beta'), (e: unknown) => e instanceof Error && e.message.startsWith(`${log}: cannot open it (ENOENT`) && e.message.includes('left as it was'));
    assert.deepEqual(store.query({ session: 'beta' }).map((e) => e.id), ids.filter((id) => id.startsWith('beta-')));
  } finally { store.close(); }
});
