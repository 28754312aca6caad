// Why: a policy is read by `corral run`, `corral replay` and by the daemon for every session a client
// opens. Parsing YAML with positions costs about 2 s and 250 MB per MiB, and a 16 MiB policy
// (200 000 rules) took 20 s and 1.7 GB — in the daemon, on the event loop every other session waits
// on. Threat it stops: a huge or deeply chained policy (mistaken, generated, or handed to the daemon
// by a socket user) stalling or exhausting the process that enforces every sandbox. The limits sit
// far above any hand-written policy; each refusal names the file, the line and the limit.
import type { Document, LineCounter } from 'yaml';
import { locate, PolicyError } from './errors.js';

/** The largest policy file read (bytes). Presets are about 1 KiB. */
export const POLICY_FILE_MAX = 1024 * 1024;
/** Rules in network.allow, network.deny, and entries in network.hosts, each, after `extends` is merged. */
export const MAX_POLICY_ENTRIES = 10_000;
/** Files in one `extends` chain, the policy itself included. */
export const MAX_EXTENDS_CHAIN = 8;

const COUNTED: ReadonlyArray<readonly ['allow' | 'deny' | 'hosts', string]> = [
  ['allow', 'rules'], ['deny', 'rules'], ['hosts', 'host entries'],
];

function count(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  return typeof v === 'object' && v !== null ? Object.keys(v).length : 0;
}

/**
 * Refuses a raw policy whose lists exceed MAX_POLICY_ENTRIES. With `doc`, the error points at the
 * list in that file; `merged` says the count includes what the file extends.
 */
export function refuseOversizedLists(raw: Record<string, unknown>, file: string, where?: { doc: Document.Parsed; lc: LineCounter }, merged = false): void {
  const net = raw.network;
  if (typeof net !== 'object' || net === null || Array.isArray(net)) return;
  for (const [key, what] of COUNTED) {
    const n = count((net as Record<string, unknown>)[key]);
    if (n <= MAX_POLICY_ENTRIES) continue;
    const at = where ? locate(where.doc, where.lc, ['network', key]) : undefined;
    throw new PolicyError(file, {
      ...(at && { line: at.line, column: at.column }),
      field: `network.${key}`,
      message: `${n} ${what}${merged ? ' with those of the policies it extends' : ''}, more than the ${MAX_POLICY_ENTRIES} a policy may hold; use wildcard domains (*.example.test) or CIDR ranges instead of listing each name or address`,
    });
  }
}
