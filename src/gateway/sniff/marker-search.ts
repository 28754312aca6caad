// Why: every upload byte of a scanned flow is searched for the strings every mining message holds, for the
// flow's whole life (a pool login after a long benign prefix must still be seen). This is that search: native
// (native/mining-markers.c, ≈ 3× the regular expression's speed; the regular expression was the largest cost
// of the gateway's upload path) when the gateway's addon is built, else the regular expression. Both give the
// same answer: the leftmost offset at or after `from` where a marker begins (test/mining-marker-search.test.ts).
import { gatewayNativeFn } from '../../sandbox/launcher.js';

/**
 * Every mining message without \u escapes contains one of these strings; one with escapes contains \u.
 * (native/mining-markers.c holds the same list: change both.)
 */
export const MARKER_RE = /mining\.|eth_submit|eth_getWork|"(?:login|submit|getjob|keepalived|getblocktemplate|getwork|submitblock|getauxblock|createauxblock|submitauxblock)"|\\u/g;

/** Where the next marker begins in the chunk at or after `from`, or -1. */
export type MarkerFinder = (from: number) => number;

type NativeSearch = (buf: Uint8Array, from: number) => number;

/** The addon's search, loaded once per process (an immutable function, not state); null when it is not built. */
let nativeSearch: NativeSearch | null | undefined;

function native(): NativeSearch | null {
  if (nativeSearch === undefined) nativeSearch = gatewayNativeFn<NativeSearch>('miningMarkerAt') ?? null;
  return nativeSearch;
}

/** The regular expression over the chunk's latin1 view (string index == byte index). */
export function regexFinder(chunk: Buffer): MarkerFinder {
  const text = chunk.toString('latin1');
  const re = new RegExp(MARKER_RE.source, 'g');
  return (from) => {
    re.lastIndex = from;
    const m = re.exec(text);
    return m ? m.index : -1;
  };
}

/** The native search over the chunk's bytes. */
export function nativeFinder(chunk: Buffer): MarkerFinder | undefined {
  const f = native();
  return f ? (from) => f(chunk, from) : undefined;
}

/** The fastest search this process has for the chunk. */
export function markerFinder(chunk: Buffer): MarkerFinder {
  return nativeFinder(chunk) ?? regexFinder(chunk);
}
