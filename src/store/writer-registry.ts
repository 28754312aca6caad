// Why: `corral events --reindex` moves index.sqlite aside and puts a rebuilt one in its place. A
// process that still has the old index open (`corral serve`, a running `corral run`) would go on
// writing into the moved file, and everything it recorded from then on would be missing from the
// index people query. So every writer registers itself in `<home>/writers/` for as long as it has
// the store open; a rebuild refuses while a live writer is registered, and a writer refuses to open
// while a rebuild is running. Entries are `<pid>-<start time>-<n>`: a pid reused after a crash is
// not mistaken for the writer that left the entry (its start time differs), and stale entries are
// removed by whoever finds them.
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive, processStartTime, readStartTime } from '../util/pid-alive.js';
import { StoreError } from './store-error.js';

const LOCK = 'reindex.lock';
let serial = 0;

/** The process a registry entry names, when it is still that process. */
export function liveOwner(entry: string): { pid: number; command: string } | undefined {
  const m = /^(\d+)-(\d+)/.exec(entry);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const start = readStartTime(pid);
  // A /proc read that failed for another reason than the process being gone (EMFILE in a busy
  // daemon, …) proves nothing: judging that entry stale would let a rebuild move the index away
  // under a live writer, so a pid that still answers kill(0) is kept as the writer it names.
  if (start === 'unknown' ? !pidAlive(pid) : start !== m[2]) return undefined;
  let command = '';
  try { command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200); } catch { /* gone meanwhile */ }
  return { pid, command };
}

function writersDir(home: string): string {
  const dir = join(home, 'writers');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function describe(owners: { pid: number; command: string }[]): string {
  return owners.map((o) => `pid ${o.pid}${o.command ? ` (${o.command})` : ''}`).join(', ');
}

/**
 * Registers this process as a writer of `home` and returns the function that unregisters it.
 * Throws StoreError when a rebuild of the index is running.
 */
export function registerWriter(home: string): () => void {
  const dir = writersDir(home);
  const own = `${process.pid}-${processStartTime(process.pid) ?? '0'}-${++serial}`;
  const file = join(dir, own);
  closeSync(openSync(file, 'wx', 0o600));
  const release = (): void => rmSync(file, { force: true });
  const rebuild = lockOwner(dir);
  if (rebuild) {
    release();
    throw new StoreError('busy', `the event index in ${home} is being rebuilt by ${describe([rebuild])} (corral events --reindex): try again when it has finished`, join(dir, LOCK));
  }
  return release;
}

/**
 * The live owner of the rebuild lock, removing a stale lock. The lock is created whole (linked into
 * place, never seen empty), and a stale one is removed only if it is still the file judged stale
 * (moved aside first, its inode compared): two processes that found the same dead lock used to
 * remove it both — the second removing the first's fresh lock — and a lock read between its
 * creation and its write looked stale too, so two rebuilds ran at once.
 */
function lockOwner(dir: string): { pid: number; command: string } | undefined {
  const lock = join(dir, LOCK);
  let text: string;
  let ino: number;
  try {
    const fd = openSync(lock, 'r');
    try {
      ino = fstatSync(fd).ino;
      const buf = Buffer.alloc(256);
      text = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8').trim();
    } finally { closeSync(fd); }
  } catch { return undefined; }
  const owner = liveOwner(text);
  if (!owner) removeIfSame(lock, ino);
  return owner;
}

/** Removes `path` if it is still inode `ino`; a newer file that took its name meanwhile is put back. */
function removeIfSame(path: string, ino: number): void {
  const aside = `${path}.stale-${process.pid}-${++serial}`;
  try { renameSync(path, aside); } catch { return; }
  try {
    if (statSync(aside).ino !== ino) linkSync(aside, path);
  } catch { /* a third lock took the name: that one stands */ }
  rmSync(aside, { force: true });
}

/**
 * Takes the rebuild lock of `home` and returns the function that releases it. Throws StoreError
 * naming them when other live processes write to the store, or another rebuild runs.
 */
export function lockForRebuild(home: string): () => void {
  const dir = writersDir(home);
  const me = `${process.pid}-${processStartTime(process.pid) ?? '0'}-${++serial}`;
  const lock = join(dir, LOCK);
  // (written whole under a private name, then linked into place: the lock never exists empty)
  const draft = join(dir, `${LOCK}.new-${me}`);
  writeFileSync(draft, me, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
        const other = lockOwner(dir); // removes a stale lock
        if (other) throw new StoreError('busy', `another rebuild of the index in ${home} is running: ${describe([other])}`, lock);
      }
    }
  } finally { rmSync(draft, { force: true }); }
  // (only our own lock: never one that another rebuild took after ours was judged stale)
  const release = (): void => {
    try { if (readFileSync(lock, 'utf8').trim() === me) rmSync(lock, { force: true }); } catch { /* gone */ }
  };
  // Entries are written before their writers look for the lock, so any writer not listed here yet will see it.
  const writers: { pid: number; command: string }[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith(LOCK)) continue; // (the lock, and its drafts and stale copies in passing)
    const owner = liveOwner(entry);
    if (!owner) { rmSync(join(dir, entry), { force: true }); continue; }
    if (!writers.some((w) => w.pid === owner.pid)) writers.push(owner);
  }
  if (writers.length) {
    release();
    throw new StoreError('busy', `${writers.length} process(es) still write to ${home}: ${describe(writers)}; stop them first (corral serve, running corral run or replay): a writer that keeps the old index open would write into the file moved aside, and its events would be missing from the rebuilt index`, dir);
  }
  return release;
}
