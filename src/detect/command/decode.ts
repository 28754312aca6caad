// Why: static re-implementations of the small text tools an agent chains to hide a payload
// (`echo … | base64 -d | sh`, `printf '\x63…'`, `rev`, `xxd -r -p`, `tr` rot13, `gunzip`), so
// the analyzer can read the decoded command before anything runs. Threat it stops: encoded
// payloads that no rule could match in their encoded form. Every decoder is bounded in output
// size and returns null (not a guess) when the input is not what the tool would accept.
import { gunzipSync, inflateSync } from 'node:zlib';

export const MAX_DECODED = 256 * 1024;

/** `base64 -d` (standard or URL-safe alphabet; whitespace ignored; `ignoreGarbage` = `-i`). */
export function base64Decode(s: string, ignoreGarbage = false): Buffer | null {
  let t = s.replace(/\s+/g, '');
  if (ignoreGarbage) t = t.replace(/[^A-Za-z0-9+/=_-]/g, '');
  if (t.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return null;
  if (t.length % 4 === 1) return null;
  const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return b.length > MAX_DECODED ? null : b;
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** `base32 -d`. */
export function base32Decode(s: string): Buffer | null {
  const t = s.replace(/\s+/g, '').replace(/=+$/, '').toUpperCase();
  if (t.length === 0 || !/^[A-Z2-7]+$/.test(t) || t.length > MAX_DECODED * 2) return null;
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of t) {
    acc = (acc << 5) | B32.indexOf(ch);
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 0xff); }
  }
  return Buffer.from(out);
}

/** Plain hex (`xxd -r -p`): every pair of hex digits is one byte; whitespace ignored. */
export function hexDecode(s: string): Buffer | null {
  const t = s.replace(/\s+/g, '').replace(/^0x/i, '');
  if (t.length === 0 || t.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(t) || t.length > MAX_DECODED * 2) return null;
  return Buffer.from(t, 'hex');
}

/** `xxd -r` of a classic dump (`00000000: 6375 726c  curl`). */
export function xxdDumpDecode(s: string): Buffer | null {
  const parts: Buffer[] = [];
  for (const line of s.split('\n')) {
    const m = /^\s*[0-9a-fA-F]+:\s+((?:[0-9a-fA-F]{2,4}\s?)+)/.exec(line);
    if (!m) continue;
    const b = hexDecode(m[1]!.replace(/\s+/g, ''));
    if (b) parts.push(b);
  }
  return parts.length ? Buffer.concat(parts) : null;
}

/** Backslash escapes understood by `printf` formats, `printf %b` and `echo -e`. */
export function expandEscapes(s: string, mode: 'printf' | 'echo'): { out: string; stop: boolean } {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) { out += c; continue; }
    const rest = s.slice(i + 1);
    let m: RegExpExecArray | null;
    const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (rest[0]! in simple) { out += simple[rest[0]!]; i++; continue; }
    if (rest[0] === 'c') return { out, stop: true };
    if ((m = /^x([0-9a-fA-F]{1,2})/.exec(rest))) { out += String.fromCharCode(parseInt(m[1]!, 16)); i += m[0].length; continue; }
    if ((m = (mode === 'echo' ? /^0([0-7]{0,3})/ : /^([0-7]{1,3})/).exec(rest))) { out += String.fromCharCode(parseInt(m[1]! || '0', 8) & 0xff); i += m[0].length; continue; }
    if ((m = /^u([0-9a-fA-F]{1,4})/.exec(rest)) || (m = /^U([0-9a-fA-F]{1,8})/.exec(rest))) {
      const cp = parseInt(m[1]!, 16);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
      i += m[0].length; continue;
    }
    out += c;
  }
  return { out, stop: false };
}

/** Output of `printf FORMAT ARGS…` (the format is reused while arguments remain, like bash). */
export function printfOutput(args: string[]): string | null {
  if (args.length === 0) return null;
  let fmt = args[0]!;
  let rest = args.slice(1);
  if (fmt === '--') { fmt = rest[0] ?? ''; rest = rest.slice(1); }
  if (fmt === '-v') return null; // writes to a variable, not stdout
  let out = '';
  for (let round = 0; round < 64; round++) {
    let used = 0;
    const body = fmt.replace(/%([-+ #0]*\d*(?:\.\d+)?)([sbdicxXouf%])/g, (_m, _flags: string, conv: string) => {
      if (conv === '%') return '%';
      const a = rest[used++] ?? '';
      if (conv === 's') return a;
      if (conv === 'b') return expandEscapes(a, 'echo').out;
      if (conv === 'c') return a.charAt(0);
      const n = Number(a.startsWith("'") || a.startsWith('"') ? a.charCodeAt(1) : a || 0);
      if (!Number.isFinite(n)) return '';
      if (conv === 'x') return Math.trunc(n).toString(16);
      if (conv === 'X') return Math.trunc(n).toString(16).toUpperCase();
      if (conv === 'o') return Math.trunc(n).toString(8);
      return String(conv === 'f' ? n : Math.trunc(n));
    });
    const e = expandEscapes(body, 'printf');
    out += e.out;
    if (e.stop) break;
    rest = rest.slice(used);
    if (used === 0 || rest.length === 0) break;
    if (out.length > MAX_DECODED) return null;
  }
  return out;
}

/** Output of `echo ARGS…` (bash builtin: -n, -e, -E and their combinations). */
export function echoOutput(args: string[]): string {
  let i = 0;
  let newline = true;
  let escapes = false;
  while (i < args.length && /^-[neE]+$/.test(args[i]!)) {
    for (const f of args[i]!.slice(1)) { if (f === 'n') newline = false; else if (f === 'e') escapes = true; else escapes = false; }
    i++;
  }
  const text = args.slice(i).join(' ');
  if (!escapes) return newline ? `${text}\n` : text;
  const e = expandEscapes(text, 'echo');
  return e.stop || !newline ? e.out : `${e.out}\n`;
}

/** `rev`: reverses every line. */
export function revLines(s: string): string {
  return s.split('\n').map((l) => [...l].reverse().join('')).join('\n');
}

const CLASSES: Record<string, string> = {
  '[:upper:]': 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '[:lower:]': 'abcdefghijklmnopqrstuvwxyz',
  '[:digit:]': '0123456789', '[:space:]': ' \t\n\r\f\v', '[:blank:]': ' \t',
};

function expandSet(set: string): string | null {
  let s = expandEscapes(set, 'printf').out;
  for (const [k, v] of Object.entries(CLASSES)) s = s.split(k).join(v);
  if (s.includes('[:')) return null;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i + 2 < s.length && s[i + 1] === '-') {
      const a = s.charCodeAt(i);
      const b = s.charCodeAt(i + 2);
      if (b < a || b - a > 1024) return null;
      for (let c = a; c <= b; c++) out += String.fromCharCode(c);
      i += 2;
    } else out += s[i];
  }
  return out;
}

/** `tr SET1 SET2` and `tr -d SET1` (ranges and the common classes). */
export function trText(s: string, args: string[]): string | null {
  const opts = args.filter((a) => /^-[a-zA-Z]+$/.test(a)).join('');
  const sets = args.filter((a) => !/^-[a-zA-Z]+$/.test(a));
  if (/[cCs]/.test(opts)) return null;
  const a = expandSet(sets[0] ?? '');
  if (a === null) return null;
  if (opts.includes('d')) return [...s].filter((c) => !a.includes(c)).join('');
  const b = expandSet(sets[1] ?? '');
  if (b === null || b.length === 0) return null;
  const map = new Map<string, string>();
  for (let i = 0; i < a.length; i++) map.set(a[i]!, b[Math.min(i, b.length - 1)]!);
  return [...s].map((c) => map.get(c) ?? c).join('');
}

/** `gunzip`/`zcat`/`gzip -d` (and raw zlib for `openssl zlib -d`), bounded. */
export function gunzip(b: Buffer): Buffer | null {
  try {
    if (b[0] === 0x1f && b[1] === 0x8b) return gunzipSync(b, { maxOutputLength: MAX_DECODED });
    return inflateSync(b, { maxOutputLength: MAX_DECODED });
  } catch {
    return null;
  }
}

/** True when a byte string reads as text (a decoded payload worth parsing). */
export function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let bad = 0;
  for (const c of b) if (c < 9 || (c > 13 && c < 32) || c === 127) bad++;
  return bad / b.length < 0.05;
}
