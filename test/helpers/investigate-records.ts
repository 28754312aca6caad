// Why: the investigate tests build tool-call spans and firewall records by hand, on one clock and one address;
// one builder keeps their shape (and the line numbers the records carry) the same in every file.
import type { NetRecord, ToolCallSpan } from '../../src/investigate/types.js';

export const T0 = Date.parse('2025-03-01T10:00:00Z');
export const MIN = 60_000;
let line = 0;

/** A bash tool call of run-1 on 10.0.0.5, `startMin` minutes after T0, lasting `durS` seconds. */
export function call(episode: string, step: number, startMin: number, durS: number, command: string, extra: Partial<ToolCallSpan> = {}): ToolCallSpan {
  const start = T0 + startMin * MIN;
  return { episode, run: 'run-1', step, tool_call_id: `${episode}:${step}`, tool: 'bash', command, start, end: start + durS * 1000, endKnown: true, ips: ['10.0.0.5'], file: 'trace.jsonl', line: ++line, ...extra };
}

/** A firewall alert from 10.0.0.5 to dst:443, `atMin` minutes after T0. */
export function alert(atMin: number, dst: string, extra: Partial<NetRecord> = {}): NetRecord {
  return { ts: T0 + atMin * MIN, kind: 'alert', src: '10.0.0.5', dst, dport: 443, proto: 'TCP', severity: 2, rule: 'test rule', file: 'eve.json', line: ++line, ...extra };
}

/** Background flows from many sources so that rarity means something. */
export function background(n = 40): NetRecord[] {
  return Array.from({ length: n }, (_, i) => ({ ts: T0 + i * 1000, kind: 'flow' as const, src: `10.1.0.${i + 1}`, dst: '198.51.100.10', dport: 443, file: 'bg', line: i + 1 }));
}
