// Why: proves `corral events --reindex` cannot race a live writer. A real second process holding
// the store open (as `corral serve` does) makes the rebuild refuse, naming that process, with the
// index untouched; once it has closed the store the rebuild runs and nothing is lost. A writer
// that starts while a rebuild holds the store refuses instead of writing into the file about to
// be moved aside, and entries left by crashed processes (a dead pid, a reused pid) are ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { EventStore } from '../src/store/event-store.js';
import { rebuildIndex } from '../src/store/reindex.js';
import { StoreError } from '../src/store/store-error.js';
import { lockForRebuild } from '../src/store/writer-registry.js';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const STORE = join(process.cwd(), 'dist', 'src', 'store', 'event-store.js');

function homeWithEvents(t: { after(fn: () => void): void }): string {
  const home = mkdtempSync(join(tmpdir(), 'corral-writers-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const store = EventStore.open({ home });
  for (let i = 0; i < 50; i++) store.append({ id: `s1-${i}`, ts: String(1_700_000_000_000_000_000n + BigInt(i)), kind: 'exec', session: 's1', payload: { argv: ['true'] } });
  store.close();
  return home;
}

test('a rebuild refuses while another process writes to the store, and runs once it has closed it', async (t) => {
  const home = homeWithEvents(t);
  // A real writer in another process: opens the store, appends, says "open", waits for a line on stdin.
  const script = `import { EventStore } from ${JSON.stringify(STORE)};
const s = EventStore.open({ home: process.argv[1] });
s.append({ id: 'w-1', ts: '1700000000000000999', kind: 'exec', session: 's2', payload: { argv: ['w'] } });
s.flush();
process.stdout.write('open\\n');
process.stdin.once('data', () => { s.close(); process.stdout.write('closed\\n'); });`;
  const writer = spawn(process.execPath, ['--input-type=module', '-e', script, home], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => writer.kill('SIGKILL'));
  const [first] = await once(writer.stdout, 'data') as [Buffer];
  assert.equal(first.toString(), 'open\n');

  const indexBefore = readFileSync(join(home, 'index.sqlite'));
  const r = spawnSync(process.execPath, [CLI, 'events', '--reindex', '--home', home, '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 1, r.stderr);
  // --json: the error object ends stderr
  const err = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
  assert.equal(err.error.kind, 'failure');
  assert.match(err.error.message, new RegExp(`1 process\\(es\\) still write to ${home}: pid ${writer.pid} \\(`));
  assert.match(err.error.message, /stop them first/);
  assert.deepEqual(readFileSync(join(home, 'index.sqlite')), indexBefore, 'the index was not touched');
  assert.ok(!readdirSync(home).some((f) => f.includes('before-reindex') || f.includes('rebuild')), readdirSync(home).join());

  writer.stdin.write('x\n');
  const [second] = await once(writer.stdout, 'data') as [Buffer];
  assert.equal(second.toString(), 'closed\n');
  const ok = rebuildIndex(home);
  assert.equal(ok.events, 51, 'every event, the writer\'s too');
  assert.equal(readdirSync(join(home, 'writers')).length, 0, 'no entry left behind');
});

test('a writer refuses while a rebuild holds the store; entries of dead or reused pids are ignored and removed', (t) => {
  const home = homeWithEvents(t);
  const unlock = lockForRebuild(home);
  try {
    assert.throws(() => EventStore.open({ home }), (e: unknown) => e instanceof StoreError && e.kind === 'busy' && /is being rebuilt by pid \d+/.test(e.message));
    // the refused writer left no entry behind
    assert.deepEqual(readdirSync(join(home, 'writers')), ['reindex.lock']);
    // another rebuild at the same time is refused too
    assert.throws(() => rebuildIndex(home), /another rebuild of the index in .* is running: pid \d+/);
  } finally { unlock(); }
  // A crashed writer's entry (a pid that no longer exists) and one whose pid was reused (start time differs).
  const dead = spawnSync('true').pid!;
  writeFileSync(join(home, 'writers', `${dead}-12345-1`), '');
  writeFileSync(join(home, 'writers', `${process.ppid}-1-1`), '');
  writeFileSync(join(home, 'writers', 'reindex.lock'), `${dead}-12345`);
  const store = EventStore.open({ home }); // a stale lock does not block a writer
  store.close();
  const res = rebuildIndex(home);
  assert.equal(res.events, 50);
  assert.deepEqual(readdirSync(join(home, 'writers')), [], 'stale entries and the stale lock were removed');
  assert.ok(existsSync(join(home, 'index.sqlite')));
});
