// Why: an investigation holds millions of records; one JS object each would cost hundreds of
// bytes and blow the 2 GB budget. These helpers keep records as columns (typed arrays that
// grow by doubling) and repeated strings (IPs, hosts, rules, episodes) as small integer ids.

/** Interns strings to dense ids (0..size-1); id -1 stands for "absent". */
export class StringTable {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(s: string | undefined): number {
    if (s === undefined) return -1;
    let i = this.ids.get(s);
    if (i === undefined) { i = this.values.length; this.values.push(s); this.ids.set(s, i); }
    return i;
  }
  /** Id of a string already seen, else -1 (never adds). */
  find(s: string): number { return this.ids.get(s) ?? -1; }
  get(id: number): string | undefined { return id < 0 ? undefined : this.values[id]; }
  get size(): number { return this.values.length; }
}

type TypedCtor<T> = { new (n: number): T };

/** A typed array that grows by doubling. `view()` returns the filled prefix without copying. */
export class Growable<T extends Float64Array | Int32Array | Uint8Array | Int8Array> {
  data: T;
  length = 0;
  constructor(private readonly ctor: TypedCtor<T>, initial = 1024) { this.data = new ctor(initial); }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new this.ctor(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): T { return this.data.subarray(0, this.length) as T; }
}

export const f64 = (n = 1024): Growable<Float64Array> => new Growable(Float64Array, n);
export const i32 = (n = 1024): Growable<Int32Array> => new Growable(Int32Array, n);

/** First index i in sorted a[lo..hi) with a[i] ≥ x. */
export function lowerBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** First index i in sorted a[lo..hi) with a[i] > x. */
export function upperBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Measure (total length) of the union of intervals [starts[i], ends[i]]. Sorting starts and ends
 * separately is enough: a sweep over both counts how many intervals cover each stretch of time.
 * Sorts the arrays in place (unless the caller says they are sorted already).
 */
export function unionLength(starts: Float64Array, ends: Float64Array, sorted = false): number {
  if (!sorted) { starts.sort(); ends.sort(); }
  let i = 0, j = 0, depth = 0, from = 0, total = 0;
  const n = starts.length;
  while (i < n || j < n) {
    if (i < n && starts[i]! <= ends[j]!) {
      if (depth === 0) from = starts[i]!;
      depth++; i++;
    } else {
      depth--;
      if (depth === 0) total += ends[j]! - from;
      j++;
    }
  }
  return total;
}

/** Union of intervals as a sorted, merged list of [from, to] pairs (small inputs: episode windows). */
export function mergeIntervals(iv: [number, number][]): [number, number][] {
  const s = [...iv].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** True when t lies in one of the merged, sorted intervals. */
export function inIntervals(merged: [number, number][], t: number): boolean {
  let lo = 0, hi = merged.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (merged[mid]![1] < t) lo = mid + 1; else hi = mid;
  }
  const m = merged[lo];
  return m !== undefined && m[0] <= t;
}

/** Merges sorted arrays into one sorted array (linear; for call windows sorted by each worker). */
export function mergeSorted(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  let out = parts[0]!;
  for (let p = 1; p < parts.length; p++) {
    const a = out, b = parts[p]!;
    const m = new Float64Array(a.length + b.length);
    let i = 0, j = 0, k = 0;
    while (i < a.length && j < b.length) m[k++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
    while (i < a.length) m[k++] = a[i++]!;
    while (j < b.length) m[k++] = b[j++]!;
    out = m;
  }
  return out;
}
