// Why: one event shape for every sensor (exec, connect, dns, flow, resource, alerts),
// so storage, queries, detection and reports never special-case a source.
// Field names follow OpenTelemetry conventions where one exists.

export const ALERT_CATEGORIES = [
  'mining', 'tunnel', 'reverse_shell', 'internal_probe', 'metadata_access', 'exfiltration',
  'persistence', 'defense_evasion', 'ingress_transfer', 'resource_abuse', 'sandbox_escape',
  'policy_violation',
] as const;
export type AlertCategory = (typeof ALERT_CATEGORIES)[number];

export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Most severe first: sort keys and thresholds compare these. */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };
export type AlertLayer = 'command' | 'process' | 'network' | 'resource';

export type EventKind =
  | 'session.start' | 'session.end' | 'toolcall.start' | 'toolcall.end'
  | 'exec' | 'exit' | 'connect' | 'dns' | 'flow' | 'drop' | 'resource' | 'alert'
  /**
   * The kernel sensor went down or came back (state 'down' / 'up': a capture gap every open session
   * records), or lost records to a full ring (state 'lost', records_lost, records_lost_total,
   * since_ts, note: every open session records it, at most once a second; src/session/capture-loss.ts).
   */
  | 'sensor'
  /** A socket() the sandbox's seccomp filter refused (raw, packet, vsock, other families). */
  | 'socket'
  /** A persistence file (shell start-up file, Python start-up hook, git hook, …) appeared or changed in the workspace. */
  | 'file';

/** Every event kind, in a form code can list (a new EventKind fails to compile here until it is added). */
const ALL_KINDS = {
  'session.start': 1, 'session.end': 1, 'toolcall.start': 1, 'toolcall.end': 1, exec: 1, exit: 1,
  connect: 1, dns: 1, flow: 1, drop: 1, resource: 1, alert: 1, sensor: 1, socket: 1, file: 1,
} satisfies Record<EventKind, 1>;
export const EVENT_KINDS = Object.keys(ALL_KINDS) as EventKind[];

/** Attribution labels. They come from Corral's own bookkeeping (cgroup lineage), never from the agent. */
export interface Attribution {
  session: string;
  run?: string;
  episode?: string;
  step?: number;
  tool_call?: string;
}

export interface CorralEvent<P = Record<string, unknown>> extends Attribution {
  id: string;
  /** Epoch nanoseconds as a decimal string (JSON-safe, sortable at fixed width). */
  ts: string;
  kind: EventKind;
  pid?: number;
  ppid?: number;
  /** The cgroup path (relative to Corral's root) of the process. */
  cgroup?: string;
  payload: P;
}

/** What every alerting layer (gateway, limits, rule engine, command screen, GPU) produces. */
export interface AlertDraft {
  rule: string;
  category: AlertCategory;
  severity: Severity;
  /** ATT&CK technique ids (v19 and legacy forms are both valid). */
  attack: string[];
  message: string;
  /** Short reason the agent itself can read and act on. */
  reason: string;
}

export interface AlertPayload extends AlertDraft {
  evidence: string[];
  count?: number;
  /** 'blocked' when enforcement stopped it, 'observed' in observe mode or when detection only. */
  action: 'blocked' | 'killed' | 'observed';
  /** Where it was seen: the command text before it ran, a process (exec), the network (gateway, sockets, DNS), or resource counters. */
  layer?: AlertLayer;
  /**
   * The other tool call to blame: the process the alert is about was started by this alert's call (a job
   * runner it left running) but runs code another call wrote (session/code-origin.ts); `file` is that code,
   * relative to the workspace. `loaded`: the process loaded that code after its exec (a module it imported);
   * `also`: other calls whose code it loaded (which of them did the deed cannot be told from outside).
   */
  co_culprit?: { tool_call: string; step?: number; file: string; why: string; loaded?: boolean; also?: { tool_call: string; step?: number; file: string }[] };
}

export type AlertEvent = CorralEvent<AlertPayload> & { kind: 'alert' };

/** Wall-clock anchor for the monotonic clock (process.hrtime and bpf nsecs share CLOCK_MONOTONIC). */
const WALL_ANCHOR_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Converts a CLOCK_MONOTONIC reading (ns) to an epoch-ns string. */
export function monoToEpochNs(mono: bigint): string {
  return (WALL_ANCHOR_NS + mono).toString();
}

export function nowNs(): string {
  return monoToEpochNs(process.hrtime.bigint());
}

export function nsToIso(ts: string): string {
  // (total: a stored ts that is not decimal nanoseconds in Date's range reads as such, never a throw)
  const d = typeof ts === 'string' && /^\d{1,20}$/.test(ts) ? new Date(Number(BigInt(ts) / 1_000_000n)) : undefined;
  return d && Number.isFinite(d.getTime()) ? d.toISOString() : '(unreadable time)';
}
