// Why: a stream with a byte limit (`corral collect --stream-max-bytes`) has that much reserved on
// the NATS server's disk when it is created; a server without the room refuses with a bare
// "insufficient storage resources available", which names neither the setting nor how much would
// fit. JetStream tells clients no free space, so this measures it: throwaway streams with a byte
// limit are created and deleted (a binary search to 1 MiB) until the largest the server accepts
// is known. The error then names what was asked and what is left.
import { randomBytes } from 'node:crypto';
import { StorageType, type JetStreamManager } from 'nats';

/** JetStream's answer when a stream's reservation does not fit (err_code 10047). */
export function isStorageExceeded(e: unknown): boolean {
  const api = (e as { api_error?: { err_code?: number } })?.api_error;
  return api?.err_code === 10047 || /insufficient storage resources/i.test(String((e as Error)?.message ?? ''));
}

/** A byte limit the server cannot reserve: requested, and what the stream could have (undefined: not measurable). */
export class StreamStorageError extends Error {
  constructor(readonly stream: string, readonly requested: number, readonly available: number | undefined, cause: unknown) {
    super(`stream ${stream}: the NATS server cannot reserve ${requested} bytes (${String((cause as Error)?.message ?? cause)})`);
    this.name = 'StreamStorageError';
  }
}

const MIB = 1 << 20;

/**
 * The most bytes of file storage the server would reserve for one more stream now (to within
 * 1 MiB, at most upTo), or undefined when it cannot be measured (no right to create streams, an
 * unexpected answer, budgetMs spent). Each probe stream is deleted at once.
 */
export async function storageRoom(jsm: JetStreamManager, upTo: number, budgetMs = 5000): Promise<number | undefined> {
  const end = Date.now() + budgetMs;
  let lo = 0, hi = upTo; // lo: known to fit (0 always does); hi: known not to
  while (hi - lo > MIB) {
    if (Date.now() > end) return undefined;
    const mid = Math.floor((lo + hi) / 2);
    const name = `CORRAL_ROOM_PROBE_${randomBytes(6).toString('hex')}`;
    try {
      await jsm.streams.add({ name, subjects: [`corral-room-probe.${name}`], storage: StorageType.File, max_bytes: mid, max_msgs: 1 });
    } catch (e) {
      if (!isStorageExceeded(e)) return undefined;
      hi = mid;
      continue;
    }
    lo = mid;
    if (!(await jsm.streams.delete(name).catch(() => false))) return undefined; // (cannot clean up: stop probing)
  }
  return lo;
}
