// Why: each log source spells the same facts differently (ACCEPT/allowed/pass, severity 1..3
// or "high" or 0..10, protocol 6 or "TCP"). The analysis compares records across sources, so
// the readers agree on one spelling here. Unknown values are kept lowercased, never guessed.
import { isIPv6 } from 'node:net';

const ACTIONS: ReadonlyMap<string, string> = new Map(Object.entries({
  accept: 'allowed', accepted: 'allowed', allow: 'allowed', allowed: 'allowed', pass: 'allowed', permit: 'allowed', permitted: 'allowed',
  // FortiGate ends an allowed session with how it ended
  close: 'allowed', timeout: 'allowed', 'server-rst': 'allowed', 'client-rst': 'allowed',
  // Cilium Hubble's verdicts
  forwarded: 'allowed', audit: 'allowed', 'redirected': 'allowed', error: 'blocked',
  reject: 'blocked', rejected: 'blocked', deny: 'blocked', denied: 'blocked', drop: 'blocked', dropped: 'blocked', block: 'blocked', blocked: 'blocked',
}));

/** ACCEPT/allow/pass → allowed; REJECT/deny/drop/block → blocked; anything else lowercased (a Map: `__proto__` or `constructor` is a word, not Object.prototype). */
export function normaliseAction(a: unknown): string | undefined {
  if (typeof a !== 'string' || a === '' || a === '-') return undefined;
  const l = a.toLowerCase();
  return ACTIONS.get(l) ?? l;
}

const SEV_WORDS: ReadonlyMap<string, number> = new Map(Object.entries({ critical: 1, crit: 1, emergency: 1, alert: 1, high: 2, error: 2, major: 2, medium: 3, moderate: 3, warning: 3, warn: 3, low: 4, minor: 4, info: 4, informational: 4, notice: 4 }));

/**
 * Normalises to 1 (highest) .. 4. Integers 1..4 are taken as Suricata-style (1 = highest).
 * Larger numbers are read as a 0..10 score where higher is worse (9-10→1, 7-8→2, 4-6→3, else 4).
 * Words: critical→1, high→2, medium→3, low/info→4. Anything else → undefined.
 */
export function normaliseSeverity(v: unknown): number | undefined {
  if (typeof v === 'string') {
    if (v === '' || v === '-') return undefined;
    const w = SEV_WORDS.get(v.toLowerCase());
    if (w !== undefined) return w;
    v = decimal(v, true);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  if (v >= 1 && v <= 4 && Number.isInteger(v)) return v;
  if (v > 4 && v <= 10) return v >= 9 ? 1 : v >= 7 ? 2 : v >= 4 ? 3 : 4;
  if (v >= 0 && v < 1) return 4;
  return undefined;
}

const PROTO_NUM: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 58: 'ipv6-icmp', 132: 'sctp' };

/** IANA protocol number or name → lowercase name ('6' → 'tcp', 'TCP' → 'tcp'). */
export function normaliseProto(p: unknown): string | undefined {
  if (typeof p === 'number') return PROTO_NUM[p] ?? String(p);
  if (typeof p !== 'string' || p === '' || p === '-') return undefined;
  const c = p.charCodeAt(0);
  if (c >= 48 && c <= 57) { const n = decimal(p, false); return (Number.isInteger(n) ? PROTO_NUM[n] : undefined) ?? p; }
  return p.toLowerCase();
}

/**
 * A string of decimal digits (surrounding blanks allowed; a fraction too when fraction) as a
 * number, else NaN. Number() alone takes `0xD05`, `3.333e3` and `0b110100000101` (all 3333, a
 * mining port), `Infinity` and '' (0).
 */
export function decimal(s: string, fraction: boolean): number {
  const t = s.trim();
  return (fraction ? /^\d+(?:\.\d+)?$/ : /^\d+$/).test(t) ? Number(t) : NaN;
}

/** A TCP/UDP port from a number or a decimal string; undefined unless 0..65535. */
export function toPort(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? decimal(v, false) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

/** A non-negative count (bytes, packets) from a number or decimal string. */
export function toCount(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? decimal(v, true) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Whether a field holds a value at all (not absent, null, empty or "-"). */
export function given(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && v !== '-';
}

/** A string field, or undefined for missing / '-' / empty. */
export function toStr(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' || v === '-' ? undefined : v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/**
 * One spelling per address, so an alert and a call on the same IPv6 address meet: Suricata writes
 * IPv6 fully expanded ("fd00:0000:…:0009"), traces and Zeek compressed ("fd00::9"). IPv6 text
 * becomes RFC 5952's form (lowercase, no leading zeros, the longest run of two or more zero groups
 * as "::", the first on a tie); an IPv4-mapped address (::ffff:10.0.0.9, ::ffff:a00:9) becomes the
 * IPv4 address; a zone (%eth0) is kept. Anything that is not IPv6 text (IPv4, a name, garbage) is
 * returned unchanged. IPv4 costs one indexOf.
 */
export function canonicalIp(s: string): string {
  if (s.indexOf(':') < 0) return s;
  const pct = s.indexOf('%');
  const addr = pct < 0 ? s : s.slice(0, pct), zone = pct < 0 ? '' : s.slice(pct);
  if (!isIPv6(addr)) return s;
  // The WHATWG URL serialiser writes IPv6 as RFC 5952 does (lowercase, no leading zeros, the first
  // longest run of two or more zero groups as "::"), an embedded IPv4 in hex.
  const c = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (!m) return c + zone;
  const hi = parseInt(m[1]!, 16), lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}${zone}`;
}
