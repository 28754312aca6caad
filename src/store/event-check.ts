// Why: the store accepts events from many sensors; one malformed event (missing session, bad
// ts, unserialisable payload) must be rejected on its own instead of crashing the writer or
// poisoning the index. Threat stopped: a crafted session label escaping the log directory.
import type { CorralEvent } from '../events/event.js';
import { isSafeSessionName } from './home.js';
import { tsKey } from './ts-key.js';

/** An event that passed the checks, with its serialised line and its sortable time key. */
export interface CheckedEvent {
  ev: CorralEvent;
  line: string;
  key: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  return v === undefined || typeof v === 'string' ? null : `${k} must be a string`;
}

function optInt(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  return v === undefined || (Number.isSafeInteger(v) && (v as number) >= 0) ? null : `${k} must be a non-negative integer`;
}

/** Check one event; returns the checked form or throws an Error naming the problem. */
export function checkEvent(ev: unknown): CheckedEvent {
  if (!isObject(ev)) throw new Error('event must be an object');
  if (typeof ev.id !== 'string' || ev.id === '') throw new Error('id must be a non-empty string');
  if (typeof ev.kind !== 'string' || ev.kind === '') throw new Error('kind must be a non-empty string');
  if (!isSafeSessionName(ev.session)) throw new Error(`session must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}`);
  if (!isObject(ev.payload)) throw new Error('payload must be an object');
  const problem = optString(ev, 'run') ?? optString(ev, 'episode') ?? optString(ev, 'tool_call')
    ?? optInt(ev, 'step') ?? optInt(ev, 'pid');
  if (problem) throw new Error(problem);
  const key = tsKey(ev.ts);
  const line = JSON.stringify(ev); // throws on cycles / BigInt
  if (line.includes('\n')) throw new Error('serialised event contains a newline'); // cannot happen with JSON.stringify, kept as a guard for the line format
  return { ev: ev as unknown as CorralEvent, line, key };
}
