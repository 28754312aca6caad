// Why: an IP address can be spelt many ways that all reach the same host: 169.254.169.254 is also
// 2852039166, 0xa9fea9fe, 0x00a9fea9fe, 0251.254.169.254, 169.254.43518, 169.16689662,
// [::ffff:a9fe:a9fe] and [0:0:0:0:0:ffff:a9fe:a9fe]. Threat it stops: a metadata or internal
// address hidden behind a spelling no rule regex lists. `ipLiterals` finds the IP literals a
// command's arguments name (URL hosts, user@host, host:port, bare operands) and returns each in
// one canonical form: dotted quad for IPv4 (parsed like inet_aton / the WHATWG URL parser: 1 to 4
// parts, each decimal, octal or hex), RFC 5952 text for IPv6, plus the dotted quad of an
// IPv4-mapped IPv6 address. The analyzer stores them as cmd.ips for rules to compare exactly.
import { isIPv4, isIPv6 } from 'node:net';

const URL_HOST = /[a-z][a-z0-9+.-]*:\/\/([^/?#\s'"]*)/gi;
const NUMERIC_HOST = /^[0-9][0-9a-fx.]*$/i;
const MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
const HAS_DIGIT = /[0-9]/;

/** Canonical IP literals named by `args` (duplicates removed, in order found). */
export function ipLiterals(args: string[]): string[] {
  const out = new Set<string>();
  for (const a of args) {
    if (a.length > 2048 || !HAS_DIGIT.test(a)) continue; // (every IP literal but '::' has a digit; most words have none)
    const hosts: string[] = [];
    for (const m of a.matchAll(URL_HOST)) hosts.push(m[1]!);
    if (hosts.length === 0 && !a.startsWith('-')) hosts.push(a);
    for (const h of hosts) for (const ip of canonical(hostPart(h))) out.add(ip);
  }
  return [...out];
}

/** The host of an authority or operand: userinfo and port removed, IPv6 brackets opened. */
function hostPart(auth: string): string {
  const h = auth.slice(auth.lastIndexOf('@') + 1);
  if (h.startsWith('[')) { const e = h.indexOf(']'); return e > 0 ? h.slice(1, e) : h; }
  const c = h.indexOf(':');
  if (c >= 0 && isIPv6(h)) return h;
  return c >= 0 ? h.slice(0, c) : h;
}

function canonical(h: string): string[] {
  if (h.indexOf(':') >= 0 && isIPv6(h)) {
    const v6 = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    const m = MAPPED.exec(v6);
    if (!m) return [v6];
    const n = (parseInt(m[1]!, 16) << 16 >>> 0) + parseInt(m[2]!, 16);
    return [v6, [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')];
  }
  if (!NUMERIC_HOST.test(h)) return [];
  try {
    const v4 = new URL(`http://${h}/`).hostname;
    return isIPv4(v4) ? [v4] : [];
  } catch {
    return [];
  }
}
