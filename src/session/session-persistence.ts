// Why: persistence planted in the sandbox — shell start-up files, Python start-up hooks, git hooks,
// autostart entries, SSH keys, in the workspace or a writable root — is found after each call (and
// at the close) and blamed on the call whose process wrote it: the kernel's record of the writer
// first (file-writers.ts), then a process holding the file open, then the file's change time
// against the calls' times. Split out of session.ts.
// Threat stopped: a process a call left running (`nohup … &`) plants a hook while a later, innocent
// call runs or after the last one; the alert names the call that started it, not the one running.
import type { AlertDraft } from '../alerts/network-alerts.js';
import { monoToEpochNs, SEVERITY_RANK, type AlertEvent, type AlertLayer, type Attribution, type CorralEvent, type EventKind } from '../events/event.js';
import type { CallState } from './call-state.js';
import type { FileWriter, FileWriters } from './file-writers.js';
import { openForWriting } from './open-writers.js';
import { persistenceChanges, snapshotPersistence, type ListCache, type PersistenceSnapshot, type RepoSearchCache } from './persistence-watch.js';
import { snapshotRootPersistence } from './root-persistence-watch.js';
import type { SessionFiles } from './session-files.js';

/** File times come from a coarse kernel clock (a tick late at most): a change this close before a call's start still counts as its. */
const PERSISTENCE_CLOCK_MARGIN_MS = 50;
/** An epoch-ns string from a file time in ms (fractional). */
const msToNs = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

/** What of its session the persistence look needs. */
export interface PersistenceHost {
  wsPath: string;
  files: SessionFiles;
  calls: ReadonlyMap<string, CallState>;
  /** The call of a recently seen process (the sensor's exec and exit records). */
  pidCall: ReadonlyMap<number, string>;
  /** Who writes the workspace's files, once watched. */
  writers(): FileWriters | undefined;
  sensorOn(): boolean;
  /** Drains the kernel sensor (its records of writers' pids). */
  drainSensor(): Promise<unknown>;
  emit(kind: EventKind, payload: Record<string, unknown>, o: { attr?: Attribution }): CorralEvent;
  alert(attr: Attribution, d: AlertDraft, evidence: string[], action: 'observed', extra: { layer?: AlertLayer; count?: number }): AlertEvent;
  attr(state?: Attribution): Attribution;
}

/** A session's persistence look: baseline() once the sandbox is up, look() after each call and at the close. */
export class PersistenceLook {
  /** The workspace's persistence files as the last look left them (persistence-watch.ts). */
  private snap?: PersistenceSnapshot;
  private rootSnap?: PersistenceSnapshot;
  /** The directories searched for nested repositories at the last look (read again only when changed). */
  private readonly repoSearch: RepoSearchCache = new Map();
  private readonly persistLists: ListCache = new Map();

  constructor(private h: PersistenceHost) {}

  /** What the workspace holds before the first call (a host workspace's files are not the agent's doing). */
  baseline(): void {
    this.snap = snapshotPersistence(this.h.files.workspace, this.h.wsPath, this.repoSearch, this.persistLists);
  }

  /** baseline() has run: the sandbox started. */
  get started(): boolean { return this.snap !== undefined; }

  /**
   * Persistence files (shell start-up files, Python start-up hooks, git hooks, autostart, SSH keys)
   * that appeared or changed in the workspace since the last look (a call's end, or the session's
   * close): a `file` event each and one alert per call blamed (see persistence-watch.ts). Who wrote
   * it (persistenceBlame): a file changed while `current` ran is its; one changed before it started —
   * between calls, or after the last — can only be a process an earlier call left running.
   */
  async look(current: CallState | undefined, fallback: CallState, live: CallState[], closing = false): Promise<void> {
    const now = snapshotPersistence(this.h.files.workspace, this.h.wsPath, this.repoSearch, this.persistLists);
    const changes: (ReturnType<typeof persistenceChanges>[number] & { rel?: string })[] = persistenceChanges(this.snap ?? new Map(), now).map((c) => ({ ...c, rel: c.path, path: `${this.h.wsPath}/${c.path}` }));
    this.snap = now;
    if (this.h.files.rootUpper) {
      const root = snapshotRootPersistence(this.h.files.rootUpper, this.h.files.image);
      changes.push(...persistenceChanges(this.rootSnap ?? new Map(), root).map((c) => ({ ...c, path: `/${c.path}` })));
      this.rootSnap = root;
    }
    if (changes.length === 0) return;
    await this.writersKnown(changes.flatMap((c) => (c.rel === undefined ? [] : [c.rel])));
    const groups = new Map<CallState, { found: string; changes: typeof changes }>();
    for (const c of changes) {
      const b = this.writerBlame(c.rel, current, closing) ?? this.holderBlame(c.rel, current, closing) ?? this.persistenceBlame(current, fallback, live, c.ctimeMs, closing);
      const g = groups.get(b.state) ?? { found: b.found, changes: [] };
      g.changes.push(c);
      groups.set(b.state, g);
    }
    for (const [state, { found, changes: mine }] of groups) {
      // one event per file, one alert per call (the most severe place first, the others listed and counted)
      const events = mine.slice(0, 32).map((c) => this.h.emit('file', { path: c.path, change: c.created ? 'created' : 'modified', place: c.place.what, changed_ts: msToNs(c.ctimeMs) }, { attr: this.h.attr(state) }));
      const sorted = [...mine].sort((a, b) => SEVERITY_RANK[a.place.severity] - SEVERITY_RANK[b.place.severity]);
      const top = sorted[0]!;
      const others = sorted.slice(1).map((c) => c.path);
      const more = others.length ? `; also ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}` : '';
      this.h.alert(this.h.attr(state), {
        rule: 'persistence.file_written', category: 'persistence', severity: top.place.severity, attack: [...new Set(sorted.flatMap((c) => c.place.attack))],
        message: `${top.path} ${top.created ? 'created' : 'modified'} (${found}): a ${top.place.what}${more}`,
        reason: 'Planting start-up hooks or other persistence in the sandbox is not allowed; it runs again in later tool calls.',
      }, events.map((e) => e.id), 'observed', { layer: 'process', count: mine.length });
    }
  }

  /**
   * Before a look blames workspace files: every write the watcher's kernel queue holds is read (a file
   * closed just before the call ended), and when a writer had exited before its cgroup was read and
   * the sensor has not yet delivered the record of its pid, the sensor is drained — so the writer, not
   * the file's times, decides. Only when files changed: the per-call path stays short.
   */
  private async writersKnown(rels: string[]): Promise<void> {
    const writers = this.h.writers();
    if (rels.length === 0 || !writers) return;
    await writers.sync();
    if (this.h.sensorOn() && writers.unresolved(rels, (pid) => this.h.pidCall.has(pid))) await this.h.drainSensor();
  }

  /**
   * The call one of whose processes holds the workspace file `rel` open for writing now, when no
   * close of it was seen (open-writers.ts): a process an earlier call left running that keeps its
   * descriptor past the end of a later call. Undefined when none does.
   */
  private holderBlame(rel: string | undefined, current: CallState | undefined, closing: boolean): { state: CallState; found: string } | undefined {
    if (rel === undefined || closing) return undefined;
    const calls = [...this.h.calls.values()].filter((c) => c.cgroup.populated());
    for (const state of calls) {
      const pid = openForWriting(`${this.h.files.workspace}/${rel}`, state.cgroup.pids());
      if (pid === undefined) continue;
      const own = state === current || state.running;
      return { state, found: own ? `found when this call ended; held open for writing by its pid ${pid}` : `found when step ${current?.step ?? '?'} ended; held open for writing by pid ${pid} of this call, after it ended: by a process it left running` };
    }
    return undefined;
  }

  /** The call a file's writer belonged to: its cgroup's, or when it had exited before that was read, its pid's. */
  callOfWriter(w: FileWriter): CallState | undefined {
    const byCgroup = w.cgroup === undefined ? undefined : [...this.h.calls.values()].find((c) => w.cgroup === `/${c.cgroup.path}`);
    return byCgroup ?? this.h.calls.get(this.h.pidCall.get(w.pid) ?? '');
  }

  /**
   * The call whose process last wrote the workspace file `rel`, as the kernel told (file-writers.ts):
   * the writer's cgroup, or, when it had exited before that was read, the sensor's record of its pid.
   * Undefined when unknown (not watched, not seen, a writer outside every call): file times decide.
   */
  private writerBlame(rel: string | undefined, current: CallState | undefined, closing: boolean): { state: CallState; found: string } | undefined {
    const w = rel === undefined ? undefined : this.h.writers()?.take(rel);
    const state = w && this.callOfWriter(w);
    if (!w || !state) return undefined;
    const own = state === current || state.running;
    const when = closing ? 'found when the session closed' : own ? 'found when this call ended' : `found when step ${current?.step ?? '?'} ended`;
    return { state, found: own ? `${when}; written by its pid ${w.pid}` : `${when}; written by pid ${w.pid} of this call, after it ended: by a process it left running` };
  }

  /**
   * The call a persistence file changed at `ctimeMs` is blamed on. The inode's change time is the
   * kernel's clock, which no file call sets back (touch -d sets the modification time only). Changed
   * while `current` ran (or within a small margin before: the clock is coarse): `current`. Before it
   * started — or after the last call, at the close — no call was running, so a process one left
   * running wrote it: the latest such call that ended before the change, preferring one whose
   * processes still run (`live`); the others are named. None: `fallback`.
   */
  private persistenceBlame(current: CallState | undefined, fallback: CallState, live: CallState[], ctimeMs: number, closing: boolean): { state: CallState; found: string } {
    const wallMs = (mono: bigint): number => Number(BigInt(monoToEpochNs(mono)) / 1_000_000n);
    const at = new Date(ctimeMs).toISOString();
    if (current && ctimeMs >= wallMs(current.startedNs) - PERSISTENCE_CLOCK_MARGIN_MS) {
      const bg = live.filter((c) => c !== current && c.step !== undefined).map((c) => c.step);
      return { state: current, found: `found when ${closing ? 'the session closed, while this call ran' : 'this call ended'}${bg.length ? `; processes step ${bg.join(', ')} left running were also running` : ''}` };
    }
    const calls = [...this.h.calls.values()].filter((c) => c !== current && c.leftRunning && c.endedNs !== undefined && wallMs(c.endedNs) <= ctimeMs + PERSISTENCE_CLOCK_MARGIN_MS);
    const pick = calls.filter((c) => live.includes(c)).at(-1) ?? calls.at(-1);
    if (!pick) return { state: current ?? fallback, found: current && !closing ? `found when this call ended, changed at ${at} before it started` : 'found when the session closed, after this call ended' };
    const others = calls.filter((c) => c !== pick && c.step !== undefined).map((c) => c.step);
    const when = current && !closing ? `found when step ${current.step ?? '?'} ended` : 'found when the session closed';
    return { state: pick, found: `${when}; changed at ${at}, after this call ended, while no call ran: by a process it left running${others.length ? ` (step ${others.join(', ')} also left processes running)` : ''}` };
  }
}
