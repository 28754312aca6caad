// Why: an execve that fails is recorded too (the kernel sensor sees the attempt), but it must not
// read as a program that ran: a shell's or execvp's PATH search tries each directory in turn, so one
// `sh -c …` showed up as two identical execs, and `xmrig` run through a three-entry PATH as three.
// The event says which attempt failed and why (errno name), so timelines, process counts and the
// runtime rules (macro exec_event) count only programs that ran, while an attempt stays on the record.

import { constants } from 'node:os';
import type { ExecRecord } from './bpftrace-records.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The errno's symbolic name (ENOENT), or `errno N` for one this platform does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** Payload fields of an exec event beyond argv: nothing for one that ran, else its result (and error). */
export function execOutcome(rec: Pick<ExecRecord, 'result' | 'errno'>): { result?: 'failed' | 'unknown'; errno?: number; error?: string } {
  if (rec.result === 'failed') return rec.errno !== undefined ? { result: 'failed', errno: rec.errno, error: errnoName(rec.errno) } : { result: 'failed' };
  if (rec.result === 'unknown') return { result: 'unknown' };
  return {};
}
