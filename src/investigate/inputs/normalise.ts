// Why: each log source spells the same facts differently (ACCEPT/allowed/pass, severity 1..3
// or "high" or 0..10, protocol 6 or "TCP"). The analysis compares records across sources, so
// the readers agree on one spelling here. Unknown values are kept lowercased, never guessed.
const ACTIONS: Record<string, string> = {
  accept: 'allowed', accepted: 'allowed', allow: 'allowed', allowed: 'allowed', pass: 'allowed', permit: 'allowed', permitted: 'allowed',
  // FortiGate ends an allowed session with how it ended
  close: 'allowed', timeout: 'allowed', 'server-rst': 'allowed', 'client-rst': 'allowed',
  // Cilium Hubble's verdicts
  forwarded: 'allowed', audit: 'allowed', 'redirected': 'allowed', error: 'blocked',
  reject: 'blocked', rejected: 'blocked', deny: 'blocked', denied: 'blocked', drop: 'blocked', dropped: 'blocked', block: 'blocked', blocked: 'blocked',
};

/** ACCEPT/allow/pass → allowed; REJECT/deny/drop/block → blocked; anything else lowercased. */
export function normaliseAction(a: unknown): string | undefined {
  if (typeof a !== 'string' || a === '' || a === '-') return undefined;
  const l = a.toLowerCase();
  return ACTIONS[l] ?? l;
}

const SEV_WORDS: Record<string, number> = { critical: 1, crit: 1, emergency: 1, alert: 1, high: 2, error: 2, major: 2, medium: 3, moderate: 3, warning: 3, warn: 3, low: 4, minor: 4, info: 4, informational: 4, notice: 4 };

/**
 * Normalises to 1 (highest) .. 4. Integers 1..4 are taken as Suricata-style (1 = highest).
 * Larger numbers are read as a 0..10 score where higher is worse (9-10→1, 7-8→2, 4-6→3, else 4).
 * Words: critical→1, high→2, medium→3, low/info→4. Anything else → undefined.
 */
export function normaliseSeverity(v: unknown): number | undefined {
  if (typeof v === 'string') {
    if (v === '' || v === '-') return undefined;
    const w = SEV_WORDS[v.toLowerCase()];
    if (w !== undefined) return w;
    v = Number(v);
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
  if (c >= 48 && c <= 57) { const n = Number(p); return PROTO_NUM[n] ?? p; }
  return p.toLowerCase();
}

/** A TCP/UDP port from a number or a decimal string; undefined unless 0..65535. */
export function toPort(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' && v !== '-' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

/** A non-negative count (bytes, packets) from a number or decimal string. */
export function toCount(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' && v !== '-' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
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
  const g = parseV6(addr);
  if (!g) return s;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}${zone}`;
  }
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number, b: number): string => g.slice(a, b).map((x) => x.toString(16)).join(':');
  return (best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`) + zone;
}

/** IPv6 text (with "::" and a trailing dotted IPv4 allowed) as 8 groups, or undefined. */
function parseV6(s: string): number[] | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const side = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      if (k === items.length - 1 && it.includes('.')) {
        const v4 = it.split('.');
        if (v4.length !== 4 || v4.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return undefined;
        const b = v4.map(Number);
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  if (dbl < 0) { const all = side(s); return all && all.length === 8 ? all : undefined; }
  const head = side(s.slice(0, dbl)), tail = side(s.slice(dbl + 2));
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
