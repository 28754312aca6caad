// Why: plain-HTTP egress (and HTTP CONNECT to proxies) names its real destination in the request
// line or Host header; the gateway needs that name to apply per-host policy.
// Threat stopped: a client that reaches an allowed address but asks it (or a proxy behind it) for
// another host, CONNECT tunnels through an open proxy, and Host-header games (several conflicting
// Host headers, "Host :" variants) meant to make the gateway and the upstream disagree: any such
// ambiguity yields no host, so host-based allow rules cannot match.

import type { SniffResult } from './index.js';

export const HTTP_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PRI',
];
const METHOD_SET = new Set(HTTP_METHODS);
/**
 * Any other method in a complete request line (WebDAV's PROPFIND and MKCOL, a server's own): servers
 * answer methods no list here names, so a request line with one is still a request whose Host is judged
 * (a review, session 31, fronted a keep-alive connection with MKCOL). Partial first bytes still need a
 * listed method's prefix to be held as HTTP (plausibleStart).
 */
const METHOD_TOKEN = /^[A-Z][A-Z_-]{0,31}$/;
/**
 * A request head still unterminated after this many bytes is judged as HTTP whose host is ambiguous
 * (refused): a Host line past the bytes read cannot be judged, and the server reads it (a review,
 * session 34: a 9 000-byte header first, then `Host: pool.example`, was allowed by the resolved
 * name). 32 KiB is above what common servers accept (Node 16 KiB, nginx 4 × 8 KiB).
 */
export const MAX_HTTP_HEAD = 32 * 1024;

/** A request whose head or request line is too long to be read whole: HTTP, with no host any rule can match. */
function tooLong(method: string | undefined): SniffResult {
  return {
    status: 'done', protocol: 'http', ...(method ? { method } : {}), detail: `${method ?? 'request'} (head over ${MAX_HTTP_HEAD} bytes)`,
    hostAmbiguous: true, ambiguousWhy: `The HTTP request head is longer than ${MAX_HTTP_HEAD} bytes, so its Host cannot be read`,
  };
}

/** The method token a buffer begins with ("GET" of "GET /…"), when it is followed by a space. */
function methodOf(buf: Buffer, start: number): string | undefined {
  let i = start;
  while (i < buf.length && i - start < 32 && isUpperAlpha(buf[i]!)) i++;
  return i > start && buf[i] === 0x20 ? buf.toString('latin1', start, i) : undefined;
}
const MAX_LEADING_EMPTY_LINES = 4;

const DNS_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;
const IPV6 = /^[0-9a-f:.]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Fresh objects each time: callers may annotate results. */
const OTHER = (): SniffResult => ({ status: 'done', protocol: 'other' });

function isUpperAlpha(c: number): boolean { return c >= 0x41 && c <= 0x5a; }
function isVisible(c: number): boolean { return c >= 0x21 && c <= 0x7e; }

/** 'Registry.Test:8080' -> 'registry.test', '[::1]:80' -> '::1'; undefined if not a plain host. */
export function normalizeAuthority(authority: string): string | undefined {
  const a = authority.trim().toLowerCase();
  if (a.length === 0 || a.length > 300 || a.includes('@')) return undefined;
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    if (close < 0) return undefined;
    const rest = a.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    const ip = a.slice(1, close);
    return ip.length > 0 && IPV6.test(ip) ? ip : undefined;
  }
  const colon = a.lastIndexOf(':');
  let host = a;
  if (colon >= 0) {
    if (!/^\d{0,5}$/.test(a.slice(colon + 1))) return undefined;
    host = a.slice(0, colon);
  }
  if (host.length === 0 || host.length > 254 || !DNS_NAME.test(host)) return undefined;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/**
 * The port an authority names ('a.test:6379' -> 6379, '[::1]:80' -> 80); undefined when it names none
 * ('a.test', 'a.test:'), null when what it names is no port (0, over 65535): a proxy could read it as
 * another port (a wrap to 16 bits), so it is refused as ambiguous rather than ignored.
 */
export function authorityPort(authority: string): number | undefined | null {
  const m = /:(\d*)$/.exec(authority.trim());
  if (!m || m[1] === '') return undefined;
  const n = Number(m[1]);
  return m[1]!.length <= 5 && n >= 1 && n <= 65535 ? n : null;
}

/** Authority of an absolute-form target ('http://a.test:8080/x' -> 'a.test:8080'). */
function absoluteAuthority(target: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target);
  return m ? m[1] : undefined;
}

function detailOf(method: string, target: string): string {
  return `${method} ${target.length > 256 ? `${target.slice(0, 256)}...` : target}`;
}

/** Is buf[start..] a possible prefix of "METHOD SP target" with no line end yet? */
function plausibleStart(buf: Buffer, start: number): boolean {
  let i = start;
  while (i < buf.length && isUpperAlpha(buf[i]!)) i++;
  const tok = buf.toString('latin1', start, i);
  if (i === buf.length) return HTTP_METHODS.some((m) => m.startsWith(tok));
  if (buf[i] !== 0x20 || !METHOD_SET.has(tok)) return false;
  for (i++; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x0d) return i === buf.length - 1; // CR must be followed by LF
    if (c !== 0x20 && !isVisible(c)) return false;
  }
  return true;
}

/**
 * Classifies bytes that may start an HTTP/1.x request. host: CONNECT authority, absolute-form
 * target authority, or the single Host header (lowercased, port stripped).
 */
export function parseHttpRequest(buf: Buffer): SniffResult {
  try {
    let start = 0;
    while (start < buf.length && start < MAX_LEADING_EMPTY_LINES * 2 && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    if (start >= buf.length) {
      return buf.length < MAX_LEADING_EMPTY_LINES * 2 ? { status: 'incomplete', protocol: 'other' } : OTHER();
    }
    if (!isUpperAlpha(buf[start]!)) return OTHER();
    const lf = buf.indexOf(0x0a, start);
    if (lf < 0) {
      if (!plausibleStart(buf, start)) return OTHER();
      return buf.length - start >= MAX_HTTP_HEAD ? tooLong(methodOf(buf, start)) : { status: 'incomplete', protocol: 'http' };
    }
    if (lf - start > MAX_HTTP_HEAD) return plausibleStart(buf.subarray(0, lf), start) ? tooLong(methodOf(buf, start)) : OTHER();
    const lineEnd = lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
    const line = buf.toString('latin1', start, lineEnd);
    const parts = line.split(' ');
    if (parts.length !== 3) return OTHER();
    const [method, target, version] = parts as [string, string, string];
    if (!(METHOD_SET.has(method) || METHOD_TOKEN.test(method)) || target.length === 0) return OTHER();
    for (let i = 0; i < target.length; i++) if (!isVisible(target.charCodeAt(i))) return OTHER();
    if (method === 'PRI') {
      // HTTP/2 with prior knowledge: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". No host in the preface.
      if (target !== '*' || version !== 'HTTP/2.0') return OTHER();
      return { status: 'done', protocol: 'http', method, detail: detailOf(method, target) };
    }
    if (!/^HTTP\/1\.\d$/.test(version)) return OTHER();

    // Header lines until the empty line.
    const hosts: string[] = [];
    let suspicious = false;
    let pos = lf + 1;
    let ended = false;
    while (pos < buf.length) {
      const next = buf.indexOf(0x0a, pos);
      if (next < 0 || next - start > MAX_HTTP_HEAD) break;
      const end = next > pos && buf[next - 1] === 0x0d ? next - 1 : next;
      if (end === pos) { ended = true; break; }
      const h = buf.toString('latin1', pos, end);
      pos = next + 1;
      const colon = h.indexOf(':');
      if (h.charCodeAt(0) === 0x20 || h.charCodeAt(0) === 0x09) {
        // obs-fold continuation: if it continues a Host header the value is ambiguous.
        if (hosts.length > 0) suspicious = true;
        continue;
      }
      if (colon <= 0) continue;
      const rawName = h.slice(0, colon);
      const name = rawName.trim().toLowerCase();
      if (name !== 'host') continue;
      if (rawName !== name && !HEADER_NAME.test(rawName)) suspicious = true; // "Host :" etc.
      hosts.push(h.slice(colon + 1).trim());
    }
    if (!ended && buf.length - start < MAX_HTTP_HEAD) return { status: 'incomplete', protocol: 'http', method };

    const res: SniffResult = { status: 'done', protocol: 'http', method, detail: detailOf(method, target) };
    let authority: string | undefined;
    if (method === 'CONNECT') authority = target;
    else if (!target.startsWith('/') && target !== '*') authority = absoluteAuthority(target);
    // The port a CONNECT or an absolute-form target (a forward proxy's `GET http://a.test:6379/`) names
    // is where the proxy goes: judged like a connection to it (a review, session 35: only CONNECT's was).
    const port = authority === undefined ? undefined : authorityPort(authority);
    if (port === null) {
      res.detail += ' (invalid port)';
      res.hostAmbiguous = true;
      res.ambiguousWhy = 'The HTTP request names a port that is not one (0, or over 65535)';
      return res;
    }
    if (port !== undefined) res.connectPort = port;
    if (authority === undefined) {
      const distinct = new Set(hosts.map((h) => h.toLowerCase()));
      if (distinct.size > 1 || suspicious) {
        res.detail += ' (conflicting Host headers)';
        res.hostAmbiguous = true;
        return res;
      }
      authority = hosts[0];
    }
    const host = authority === undefined ? undefined : normalizeAuthority(authority);
    if (host !== undefined) res.host = host;
    else if (authority !== undefined) { res.detail += ' (invalid host)'; res.hostAmbiguous = true; }
    // (a head not ended within MAX_HTTP_HEAD: a Host line, or a second one, may come after what was read)
    if (!ended) return { ...tooLong(method), detail: `${res.detail} (head over ${MAX_HTTP_HEAD} bytes)` };
    return res;
  } catch {
    return OTHER();
  }
}
