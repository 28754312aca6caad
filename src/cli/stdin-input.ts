// Why: logs often arrive as a stream, not a file — `aws s3 cp s3://…/flow.log.gz - |`, `journalctl -k -o
// short-iso |`, `zcat eve.json.*.gz |` — and asking users to save them first is friction. `-` as one input of
// `corral investigate` (a log, --traces or --placements) reads standard input: it is spooled to a private
// temporary file (mode 0600 in a 0700 directory, removed afterwards) so every reader, the format detection,
// the compression detection and the parallel ranges work on it as on any file, and the results name it `-`.
// Threat stopped: a pipe's contents being read twice or lost (stdin can be consumed once, so `-` may appear
// once), and a terminal left waiting for input nobody is typing (refused).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { UsageError } from './io.js';

export const STDIN_NAME = '-';

export interface SpooledStdin { path: string; bytes: number; cleanup(): void }

/** Checks that '-' appears at most once among the inputs, and that stdin is not a terminal when it does. */
export function stdinWanted(inputs: readonly string[], stdin: { isTTY?: boolean }): boolean {
  const n = inputs.filter((p) => p === STDIN_NAME).length;
  if (n > 1) throw new UsageError(`"${STDIN_NAME}" (standard input) may be given only once`);
  if (n === 1 && stdin.isTTY) throw new UsageError(`"${STDIN_NAME}" reads standard input, but it is a terminal: pipe the log in (for example: zcat eve.json.gz | corral investigate - --traces …)`);
  return n === 1;
}

/** Copies stdin into a private temporary file; onBytes reports the bytes copied so far. */
export async function spoolStdin(stdin: NodeJS.ReadableStream, onBytes: (bytes: number) => void): Promise<SpooledStdin> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-stdin-'));
  const path = join(dir, 'stdin');
  let bytes = 0;
  const count = new Transform({ transform(chunk: Buffer, _enc, cb) { bytes += chunk.length; onBytes(bytes); cb(null, chunk); } });
  try {
    await pipeline(stdin, count, createWriteStream(path, { mode: 0o600 }));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { path, bytes, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The value with every occurrence of from in its strings replaced by to (the spooled path by "-"). */
export function renamePath<T>(value: T, from: string, to: string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.includes(from) ? v.split(from).join(to) : v;
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = walk(v[i]); return v; }
    if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = walk(o[k]);
      return o;
    }
    return v;
  };
  return walk(value) as T;
}
