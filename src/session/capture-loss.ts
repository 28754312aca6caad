// Why: when bpftrace's perf ring overflows, kernel records (exec, exit, connect) are dropped
// before Corral reads them, and nobody can say whose they were. Threat stopped: an agent that
// floods execs or connects until the ring overflows, then starts a miner whose exec record is
// lost, and gets a "clean" verdict. Every session open at the time records the loss in its own
// log (kind 'sensor', state 'lost'), so its report and close result say capture was incomplete.
// bpftrace may report losses many times a second: they are coalesced per session (at most one
// event per interval, with a running total), so a flood cannot in turn flood the event store.
// The capture status also counts execs the renamed-copy check left uncompared (its hash budget spent
// by same-sized decoys: binary-copies.ts), so that blind spot is not a silent one either.

/** At most one loss event per session this often (ms); losses in between are summed into the next. */
export const LOSS_EVENT_INTERVAL_MS = 1000;

export const LOSS_NOTE = 'the kernel sensor\'s ring buffer overflowed: these exec/exit/connect records were dropped before Corral read them; '
  + 'the loss is runtime-wide and cannot be attributed to one sandbox, so this session\'s processes and connections may be missing from its record';

/** The payload of a loss event (kind 'sensor'). */
export interface LossPayload extends Record<string, unknown> {
  state: 'lost';
  /** Records lost since the previous loss event of this session. */
  records_lost: number;
  /** Records lost in all while this session was open (running total). */
  records_lost_total: number;
  /** When the first of the losses this event sums was reported (epoch ns). */
  since_ts: string;
  note: string;
}

/** Per-session coalescer of the runtime's sensor losses. */
export class CaptureLoss {
  /** Records lost while this session was open. */
  total = 0;
  private pending = 0;
  private pendingSince?: string;
  private lastEmitMs = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly write: (p: LossPayload) => void,
    private readonly now: () => { ms: number; ns: string },
    private readonly intervalMs = LOSS_EVENT_INTERVAL_MS,
  ) {}

  /** The sensor reported `n` lost records. */
  add(n: number): void {
    if (!(n > 0)) return;
    const t = this.now();
    this.total += n;
    this.pending += n;
    this.pendingSince ??= t.ns;
    const wait = this.lastEmitMs + this.intervalMs - t.ms;
    if (wait <= 0) { this.flush(); return; }
    this.timer ??= setTimeout(() => this.flush(), wait);
    this.timer.unref();
  }

  /** Writes the losses not written yet (the session is ending, or the interval passed). */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (!this.pending) return;
    const p: LossPayload = { state: 'lost', records_lost: this.pending, records_lost_total: this.total, since_ts: this.pendingSince!, note: LOSS_NOTE };
    this.pending = 0;
    this.pendingSince = undefined;
    this.lastEmitMs = this.now().ms;
    this.write(p);
  }
}

/**
 * Whether a session's kernel capture is whole, as its close result and `corral run --json` say it:
 * a clean verdict with `complete: false` is a blind one, not a clean one.
 */
export interface CaptureStatus {
  /** True when the kernel sensor ran for the whole session and lost no record, and every exec was checked for renamed copies. */
  complete: boolean;
  /** Kernel records the sensor lost while the session was open (runtime-wide: not attributable to one sandbox). */
  records_lost: number;
  /** Times the kernel sensor was down while the session was open. */
  sensor_gaps: number;
  /** No kernel sensor ran when the session opened (--no-sensor, or unavailable). */
  sensor_off?: true;
  /**
   * The sensor did not confirm, before the session ended, that it had delivered every record
   * produced until then (its sync marker was not seen within the wait): the last records may be missing.
   */
  unsynced?: true;
  /**
   * Execs whose file had the size of a watched program (bash, nc, socat …) but was not compared with it,
   * because the renamed-copy check's hash budget was spent (binary-copies.ts; each such exec event has
   * `copy_unchecked`): a crowd of same-sized decoys spends it, so a renamed copy among them may have
   * passed unnamed. Absent when none.
   */
  copies_unchecked?: number;
  /**
   * Execs whose argv the kernel cut short because their tool call had spent its argv budget (an exec flood:
   * bpftrace-program.ts ARGV_BUDGET; each such exec event has `argv_cut`): a command line hidden in a flood
   * may be missing from the record and from every rule that reads argv. Absent when none.
   */
  argv_cut?: number;
  /**
   * Events not stored because the session spent its store budget (RuntimeOptions.sessionEventStoreCap; a
   * `sensor` event with state `store_cap` says when): execs, connects and the like past it were counted, not
   * kept; alerts and their evidence were. Absent when none.
   */
  events_unstored?: number;
  /**
   * Times the kernel overwrote its log's records before Corral read them (EPIPE on /dev/kmsg; a `sensor` event
   * with state `drop_log_overrun` each): dropped UDP/ICMP packets of unknown sandboxes went unrecorded. Absent when none.
   */
  drop_log_overruns?: number;
}

/** Shortfalls a session or report counts: renamed-copy checks skipped, argv cut by the budget, events not stored, drop-log overruns. */
export interface ExecShortfalls { copiesUnchecked: number; argvCut: number; eventsUnstored?: number; dropLogOverruns?: number }

export function captureStatus(recordsLost: number, sensorGaps: number, sensorOff: boolean, unsynced = false, execs: ExecShortfalls = { copiesUnchecked: 0, argvCut: 0 }): CaptureStatus {
  const { copiesUnchecked, argvCut, eventsUnstored = 0, dropLogOverruns = 0 } = execs;
  return {
    complete: recordsLost === 0 && sensorGaps === 0 && !sensorOff && !unsynced && copiesUnchecked === 0 && argvCut === 0 && eventsUnstored === 0 && dropLogOverruns === 0,
    records_lost: recordsLost, sensor_gaps: sensorGaps,
    ...(sensorOff ? { sensor_off: true as const } : {}), ...(unsynced ? { unsynced: true as const } : {}),
    ...(copiesUnchecked > 0 ? { copies_unchecked: copiesUnchecked } : {}),
    ...(argvCut > 0 ? { argv_cut: argvCut } : {}),
    ...(eventsUnstored > 0 ? { events_unstored: eventsUnstored } : {}),
    ...(dropLogOverruns > 0 ? { drop_log_overruns: dropLogOverruns } : {}),
  };
}

/** The counted shortfalls of a capture that are not zero, as `session.end` carries them (records_lost, argv_cut, …). */
export function captureShortfalls(c: CaptureStatus): Partial<Pick<CaptureStatus, 'records_lost' | 'copies_unchecked' | 'argv_cut' | 'events_unstored' | 'drop_log_overruns'>> {
  const out: Partial<Record<'records_lost' | 'copies_unchecked' | 'argv_cut' | 'events_unstored' | 'drop_log_overruns', number>> = {};
  for (const k of ['records_lost', 'copies_unchecked', 'argv_cut', 'events_unstored', 'drop_log_overruns'] as const) if (c[k]) out[k] = c[k];
  return out;
}

/** Why a capture is incomplete, for people ("" when only the sensor was off and `sensorOff` is false, or when it is complete). */
export function captureIncompleteText(c: CaptureStatus, sensorOff = false): string {
  const why = [
    c.records_lost > 0 && `${c.records_lost} kernel records lost (sensor ring overflow; not attributable to one sandbox)`,
    c.sensor_gaps > 0 && `the kernel sensor was down ${c.sensor_gaps} time(s)`,
    c.unsynced && 'the kernel sensor did not confirm it had delivered its last records before the session ended',
    c.copies_unchecked && `${c.copies_unchecked} exec(s) not checked for renamed copies of system programs (the hash budget was spent)`,
    c.argv_cut && `${c.argv_cut} exec(s) with argv cut short by the kernel (the tool call's argv budget was spent: an exec flood)`,
    c.drop_log_overruns && `the kernel log overwrote drop records ${c.drop_log_overruns} time(s) before they were read (dropped UDP/ICMP packets may be missing)`,
    c.events_unstored && `${c.events_unstored} event(s) counted but not stored (the session's store budget was spent: a flood; alerts and their evidence were stored)`,
    sensorOff && c.sensor_off && 'no kernel sensor ran',
  ].filter(Boolean);
  return why.join('; ');
}
