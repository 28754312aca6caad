// Why: the investigate tests that compare a damaged, wrapped or compressed log with the plain file
// need the same two things: a private scratch directory removed after the test, and a reader's
// whole output (records and stats) as one comparable string without the file names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectNetFormat, netReader } from '../../src/investigate/inputs/index.js';

/** The investigate fixtures (test/fixtures/investigate/, read from the source tree). */
export const FIX = fileURLToPath(new URL('../../../test/fixtures/investigate/', import.meta.url));

/** A scratch directory named prefix…, removed when the test ends. */
export function tmpDir(t: { after(fn: () => void): void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Records and stats of path as its detected format reads them, without file names or sizes. */
export async function readNetView(path: string): Promise<string> {
  const recs: unknown[] = [];
  const st = await netReader(await detectNetFormat(path)).read(path, (r) => recs.push(r));
  const { file: _f, bytes: _b, ...rest } = st as unknown as Record<string, unknown>;
  return JSON.stringify({ recs: recs.map((r) => ({ ...(r as Record<string, unknown>), file: undefined })), st: { ...rest, issues: st.issues.map((i) => ({ ...i, file: undefined })) } });
}
