// Why: the egress decision must compare addresses numerically, never by string or regex, so that
// alternate spellings (IPv4-mapped IPv6, zero-compressed IPv6, upper-case hex, zone ids) cannot
// slip an internal or metadata address past a rule. Threat stopped: address-spelling bypasses of
// the always-denied ranges and CIDR rules (e.g. ::ffff:169.254.169.254 reaching cloud metadata).
// Parsing is hand-written (no regex) because it runs on every connection.

/** A parsed address. IPv4-mapped / IPv4-compatible IPv6 forms are normalised to v4. */
export type Addr = { v: 4; n: number } | { v: 6; w: [number, number, number, number] };

/** A compiled CIDR: network and mask as numbers (v4) or four 32-bit words (v6). */
export type Cidr =
  | { v: 4; net: number; mask: number; prefix: number }
  | { v: 6; net: [number, number, number, number]; mask: [number, number, number, number]; prefix: number };

/** Strict dotted-quad parser: exactly 4 decimal parts 0-255, no leading zeros. Returns -1 if invalid. */
export function parseIPv4(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  let leadingZero = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // virtual trailing '.'
    if (c === 46) {
      if (digits === 0) return -1;
      n = n * 256 + part;
      parts++;
      if (parts > 4) return -1;
      part = 0;
      digits = 0;
      leadingZero = false;
    } else if (c >= 48 && c <= 57) {
      if (leadingZero) return -1;
      if (digits === 0 && c === 48) leadingZero = true;
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? n >>> 0 : -1;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses an IPv6 address (no brackets, no zone) into 8 hextets, or null. Accepts a trailing dotted IPv4. */
export function parseIPv6Hextets(s: string): number[] | null {
  if (s.length < 2 || s.length > 45) return null;
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let seenDouble = false;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return null;
    seenDouble = true;
    cur = tail;
    i = 2;
    if (i === s.length) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  while (i < s.length) {
    // Read one group: either hex (1-4 digits) or a trailing dotted IPv4.
    let j = i;
    let val = 0;
    while (j < s.length && j - i < 5) {
      const h = hexVal(s.charCodeAt(j));
      if (h < 0) break;
      val = val * 16 + h;
      j++;
    }
    if (j < s.length && s.charCodeAt(j) === 46) {
      const v4 = parseIPv4(s.slice(i));
      if (v4 < 0) return null;
      cur.push(v4 >>> 16, v4 & 0xffff);
      i = s.length;
      break;
    }
    if (j === i || j - i > 4) return null;
    cur.push(val);
    i = j;
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 58) return null;
    i++;
    if (i < s.length && s.charCodeAt(i) === 58) {
      if (seenDouble) return null;
      seenDouble = true;
      cur = tail;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) {
      return null; // trailing single ':'
    }
  }
  const total = head.length + tail.length;
  if (seenDouble) {
    if (total > 7) return null;
    const out = head.slice();
    for (let k = total; k < 8; k++) out.push(0);
    for (const t of tail) out.push(t);
    return out;
  }
  return total === 8 ? head : null;
}

function hextetsToWords(h: number[]): [number, number, number, number] {
  return [
    (((h[0] ?? 0) << 16) | (h[1] ?? 0)) >>> 0,
    (((h[2] ?? 0) << 16) | (h[3] ?? 0)) >>> 0,
    (((h[4] ?? 0) << 16) | (h[5] ?? 0)) >>> 0,
    (((h[6] ?? 0) << 16) | (h[7] ?? 0)) >>> 0,
  ];
}

/**
 * Parses an IPv4 or IPv6 address. Accepts `[v6]` brackets and strips a `%zone`. IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, other than :: and ::1) addresses become v4,
 * because that is the address the kernel will actually reach.
 */
export function parseAddr(input: string): Addr | null {
  let s = input;
  if (s.length === 0) return null;
  if (s.charCodeAt(0) === 91 /* [ */) {
    if (s.charCodeAt(s.length - 1) !== 93) return null;
    s = s.slice(1, -1);
  }
  if (s.indexOf(':') < 0) {
    const n = parseIPv4(s);
    return n < 0 ? null : { v: 4, n };
  }
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const h = parseIPv6Hextets(s);
  if (!h) return null;
  const w = hextetsToWords(h);
  if (w[0] === 0 && w[1] === 0) {
    if (w[2] === 0xffff) return { v: 4, n: w[3] };
    if (w[2] === 0 && w[3] > 1) return { v: 4, n: w[3] };
  }
  return { v: 6, w };
}

/** A stable string key for an address (used for host-self sets). */
export function addrKey(a: Addr): string {
  return a.v === 4 ? formatIPv4(a.n) : a.w.map((x) => x.toString(16)).join(':');
}

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function maskWords(prefix: number): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefix - i * 32));
    out[i] = maskV4(bits);
  }
  return out;
}

export type CidrParse = { ok: true; cidr: Cidr; canonical: string } | { ok: false; error: string };

/** Parses `ip` or `ip/prefix`. Host bits must be zero so that a typo is never silently widened. */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/');
  const ipPart = slash < 0 ? text : text.slice(0, slash);
  if (ipPart.includes('%') || ipPart.startsWith('[')) return { ok: false, error: `'${text}' is not an IP address or CIDR` };
  const isV6Text = ipPart.includes(':');
  const a = parseAddr(ipPart);
  if (!a) return { ok: false, error: `'${ipPart}' is not a valid IPv4 or IPv6 address` };
  if (isV6Text && a.v === 4) return { ok: false, error: `write the IPv4-mapped address '${ipPart}' in IPv4 form` };
  const max = a.v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return { ok: false, error: `prefix length '${p}' must be a number 0-${max}` };
    prefix = Number(p);
    if (prefix > max) return { ok: false, error: `prefix length /${prefix} is too long for IPv${a.v} (max /${max})` };
  }
  if (a.v === 4) {
    const mask = maskV4(prefix);
    const net = (a.n & mask) >>> 0;
    if (net !== a.n) return { ok: false, error: `host bits are set in '${text}'; did you mean ${formatIPv4(net)}/${prefix}?` };
    return { ok: true, cidr: { v: 4, net, mask, prefix }, canonical: `${formatIPv4(net)}/${prefix}` };
  }
  const mask = maskWords(prefix);
  const net: [number, number, number, number] = [
    (a.w[0] & mask[0]) >>> 0, (a.w[1] & mask[1]) >>> 0, (a.w[2] & mask[2]) >>> 0, (a.w[3] & mask[3]) >>> 0,
  ];
  if (net.some((x, i) => x !== a.w[i])) return { ok: false, error: `host bits are set in '${text}' for a /${prefix} network` };
  return { ok: true, cidr: { v: 6, net, mask, prefix }, canonical: `${ipPart.toLowerCase()}/${prefix}` };
}

/** Compiles a known-good CIDR literal (used for built-in tables). Throws on a bad literal. */
export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(`internal: bad built-in CIDR ${text}: ${r.error}`);
  return r.cidr;
}

export function cidrContains(c: Cidr, a: Addr): boolean {
  if (c.v === 4) return a.v === 4 && ((a.n & c.mask) >>> 0) === c.net;
  if (a.v !== 6) return false;
  const w = a.w;
  return (
    ((w[0] & c.mask[0]) >>> 0) === c.net[0] &&
    ((w[1] & c.mask[1]) >>> 0) === c.net[1] &&
    ((w[2] & c.mask[2]) >>> 0) === c.net[2] &&
    ((w[3] & c.mask[3]) >>> 0) === c.net[3]
  );
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  if (inner.v !== outer.v || inner.prefix < outer.prefix) return false;
  return inner.v === 4 ? cidrContains(outer, { v: 4, n: inner.net }) : cidrContains(outer, { v: 6, w: inner.net });
}

/** Is this text an IP literal (v4 or v6, optionally bracketed)? */
export function isIpLiteral(s: string): boolean {
  return parseAddr(s) !== null;
}
