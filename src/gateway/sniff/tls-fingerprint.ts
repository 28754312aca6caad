// Why: a TLS client announces what it is in its ClientHello — which ciphers, extensions, groups and
// signature algorithms, in which order — long before any certificate or byte of payload. JA3
// (Salesforce) and JA4 (FoxIO, BSD-3-Clause) turn that into short fingerprints that Suricata, Zeek
// and threat feeds share, so an agent's TLS tunnel client, a miner's TLS stack or a stock
// `python -c ...` can be told apart from the package manager on the same allowed address, and
// matched against fingerprints a team already has. The gateway computes both from the bytes it
// already sniffs (tls-client-hello.ts); nothing here touches a socket.
// Threat stopped: tools that hide in TLS to an allowed destination with an innocuous SNI —
// their fingerprint still says what they are.
// Specs: JA4 https://github.com/FoxIO-LLC/ja4 (technical_details/JA4.md), JA3 https://github.com/salesforce/ja3.
import { createHash } from 'node:crypto';

/** What a ClientHello declares, in wire order (GREASE values included: the fingerprints drop them). */
export interface HelloFields {
  /** legacy_version of the ClientHello body (0x0303 for TLS 1.2 and 1.3). */
  version: number;
  ciphers: number[];
  /** Extension types in the order they appear. */
  extensions: number[];
  /** supported_groups (10), ec_point_formats (11), signature_algorithms (13), supported_versions (43). */
  groups: number[]; pointFormats: number[]; sigAlgs: number[]; versions: number[];
  /** The first ALPN protocol's raw bytes (undefined: no ALPN extension or an empty list). */
  alpnFirst?: Buffer;
  sni: boolean;
}

export interface TlsFingerprint {
  /** JA3 MD5 (32 hex) and the string it hashes: version,ciphers,extensions,groups,point formats. */
  ja3: string; ja3_string: string;
  /** JA4 (sorted, hashed) and JA4_r (sorted, raw). */
  ja4: string; ja4_r: string;
}

/** RFC 8701 GREASE: 0x0a0a, 0x1a1a … 0xfafa. */
export const isGrease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const sha12 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

const VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0002: 's2', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };

const alnum = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/** JA4's ALPN part: first and last character of the first value, or of its hex when either is not alphanumeric; 00 when none. */
function alpnPart(a: Buffer | undefined): string {
  if (a === undefined || a.length === 0) return '00';
  const first = a[0]!, last = a[a.length - 1]!;
  if (alnum(first) && alnum(last)) return String.fromCharCode(first) + String.fromCharCode(last);
  const h = a.toString('hex');
  return h[0]! + h[h.length - 1]!;
}

const two = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');

export function tlsFingerprint(h: HelloFields): TlsFingerprint {
  const ciphers = h.ciphers.filter((v) => !isGrease(v));
  const exts = h.extensions.filter((v) => !isGrease(v));
  const groups = h.groups.filter((v) => !isGrease(v));
  const sigs = h.sigAlgs.filter((v) => !isGrease(v));
  const versions = h.versions.filter((v) => !isGrease(v));

  const ja3String = [String(h.version), ciphers.join('-'), exts.join('-'), groups.join('-'), h.pointFormats.join('-')].join(',');
  const ja3 = createHash('md5').update(ja3String).digest('hex');

  const top = versions.length ? Math.max(...versions) : h.version;
  const head = `t${VERSIONS[top] ?? '00'}${h.sni ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${alpnPart(h.alpnFirst)}`;
  const cipherList = ciphers.map(hex4).sort().join(',');
  const extList = exts.filter((v) => v !== 0x0000 && v !== 0x0010).map(hex4).sort().join(',');
  const sigList = sigs.map(hex4).join(',');
  const extPart = sigList === '' ? extList : `${extList}_${sigList}`;
  const b = cipherList === '' ? '000000000000' : sha12(cipherList);
  const c = extList === '' ? '000000000000' : sha12(extPart);
  return { ja3, ja3_string: ja3String, ja4: `${head}_${b}_${c}`, ja4_r: `${head}_${cipherList}_${extPart}` };
}
