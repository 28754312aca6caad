// src/investigate/types.ts
// Why this file exists: the shared contract between the input readers (engineer E:
// firewall/network logs, agent traces, placements, fleet simulator) and the analysis/report
// side (engineer F) of `corral investigate`. Both sides import only these types, so either
// can change its internals without breaking the other. Do not change without both owners.
export type NetKind = 'alert' | 'flow';
/** One normalised firewall / network-log record. ts is epoch milliseconds (float) in UTC. */
export interface NetRecord {
  ts: number; kind: NetKind;
  src: string; dst: string; sport?: number; dport?: number; proto?: string;
  action?: string;            // allowed|blocked|alert|... as the source says, lowercased
  severity?: number;          // 1 (highest) .. 4, normalised; undefined if unknown
  rule?: string;              // signature / rule name / prefix
  category?: string;          // Corral category when derivable (mining, tunnel, internal_probe, metadata_access, …), else undefined
  host?: string;              // sensor / interface / ENI / hostname if present
  bytes?: number;
  file: string; line: number; // provenance
}
/** One tool call with its time window. start/end epoch ms UTC. */
export interface ToolCallSpan {
  run?: string; episode: string; step?: number; tool_call_id: string; tool?: string; command?: string;
  start: number; end: number; endKnown: boolean;    // endKnown=false when only ts was given (then end = start + assumed duration, documented)
  host?: string; sandbox?: string; ips?: string[];  // where it ran, when the trace says so
  file: string; line: number;
}
/** Where an episode ran: an IP (or host) bound to an episode/host/sandbox over a time interval (IPs get reused). */
/** An address bound to an episode, sandbox or host for an interval; `run` narrows an episode binding to one run (episode names repeat across runs). */
export interface Placement { ip: string; from: number; to: number; host?: string; sandbox?: string; episode?: string; run?: string }
export interface EpisodeWindow { episode: string; run?: string; start: number; end: number; host?: string; sandbox?: string }
export interface InputIssue { file: string; line: number; error: string }
export interface InputStats { file: string; format: string; records: number; bad: number; issues: InputIssue[] /* first 100 */; tsNote?: string /* e.g. 'timestamps had no timezone: assumed UTC' or 'epoch seconds detected' */ }
/** Streaming readers push records; they never hold a whole file in memory. */
export interface NetLogReader { format: string; read(path: string, onRecord: (r: NetRecord) => void, opts?: { map?: FieldMap; onProgress?: (bytes: number, total: number) => void }): Promise<InputStats> }
export type FieldMap = Partial<Record<'ts'|'src'|'dst'|'sport'|'dport'|'proto'|'action'|'severity'|'rule'|'host'|'bytes'|'category', string>>;
export interface TraceReader { format: string; read(path: string, onSpan: (s: ToolCallSpan) => void, opts?: { onProgress?: (bytes: number, total: number) => void; assumedDurationMs?: number }): Promise<InputStats> }
