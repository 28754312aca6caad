// Why: resource limits are written by humans ('512MiB', '30s') but enforced by the kernel in bytes
// and by timers in milliseconds. One strict parser keeps a typo like '1 GB' vs '1Gb' from silently
// becoming an unlimited or tiny limit (threat: resource abuse by a runaway or mining workload).

export type UnitParse = { ok: true; value: number } | { ok: false; error: string };

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, ki: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/**
 * Bytes from a number (bytes) or a string: '512MiB', '1G', '1.5GiB', '100MB'. Bare K/M/G/T and the
 * *i / *iB forms are binary (1G = 1024^3, like docker); KB/MB/GB/TB are decimal.
 */
export function parseSize(v: unknown): UnitParse {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return { ok: false, error: `expected a positive size, got ${v}` };
    return sizeInRange(Math.round(v), String(v));
  }
  if (typeof v !== 'string') return { ok: false, error: `expected a size like 512MiB, 1G or a number of bytes, got ${describe(v)}` };
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? SIZE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) return { ok: false, error: `expected a size like 512MiB, 1G or a number of bytes, got '${v}'` };
  const value = Math.round(Number(m[1]) * unit);
  if (value <= 0) return { ok: false, error: `expected a positive size, got '${v}'` };
  return sizeInRange(value, `'${v}'`);
}

/** Past 2^53 bytes (8 PiB) a size is no longer an exact number, and no kernel limit takes it. */
function sizeInRange(value: number, shown: string): UnitParse {
  if (value > Number.MAX_SAFE_INTEGER) return { ok: false, error: `expected a size of at most 8 PiB, got ${shown}` };
  return { ok: true, value };
}

/** The longest timer Node can set (2^31 − 1 ms, ≈ 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** parseDuration for a timer (a tool call's timeout): also at most MAX_TIMER_MS. */
export function parseTimerDuration(v: unknown): UnitParse {
  const d = parseDuration(v);
  if (d.ok && d.value > MAX_TIMER_MS) return { ok: false, error: `expected a duration of at most 24 days (the longest timer this runtime can set), got ${typeof v === 'string' ? `'${v}'` : String(v)}` };
  return d;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from a number (seconds) or a string: '500ms', '30s', '5m', '1h', '7d', '90' (seconds). */
export function parseDuration(v: unknown): UnitParse {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return { ok: false, error: `expected a positive duration, got ${v}` };
    return { ok: true, value: Math.round(v * 1000) };
  }
  if (typeof v !== 'string') return { ok: false, error: `expected a duration like 500ms, 30s, 5m or a number of seconds, got ${describe(v)}` };
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/.exec(v);
  const unit = m ? DURATION_UNITS[m[2] ?? ''] : undefined;
  if (!m || unit === undefined) return { ok: false, error: `expected a duration like 500ms, 30s, 5m or a number of seconds, got '${v}'` };
  const value = Math.round(Number(m[1]) * unit);
  if (value <= 0) return { ok: false, error: `expected a positive duration, got '${v}'` };
  return { ok: true, value };
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `'${v}'`;
  return `${typeof v} ${String(v)}`;
}
