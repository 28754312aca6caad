// Why: firewall alerts arrive with their source's own vocabulary (Suricata categories and
// signature names, iptables prefixes, bare ports). The analysis groups incidents by Corral's
// fixed alert categories (src/events/event.ts), so this one small function maps a record to
// a category, in this order (first match wins):
//   1. keywords in the source's category / rule / signature text
//      (mining: coin|mining|miner|stratum|xmr|monero|cryptocurrency; tunnel: ssh|tunnel|
//       socks|proxy; reverse_shell: reverse shell; metadata_access: metadata|169.254.169.254;
//       internal_probe: scan|sweep|nmap|probe; exfiltration: exfil),
//   2. the destination: a cloud metadata or credential endpoint (the sandbox policy's list,
//      METADATA_ADDRESSES: 169.254.169.254, ECS's and EKS's credential agents, Azure, Alibaba …) → metadata_access,
//   3. the destination port: 3333, 4444, 5555, 7777, 14433, 14444, 45700 → mining;
//      22 to a public address → tunnel,
//   4. an alert (not a plain flow) to an RFC 1918 / ULA destination → internal_probe.
// A plain flow to a private address is normal (internal mirrors), so rule 4 is alerts only.
// Returns undefined when nothing matches: the category is never invented.
import type { NetKind } from '../types.js';
import { METADATA_ADDRESSES } from '../../policy/address-class.js';

/** Destinations that are metadata reads (canonical spellings; the flow fast paths, suricata.ts and native/flow-digest.c, leave them to the reader). */
export const METADATA_DSTS: ReadonlySet<string> = new Set(METADATA_ADDRESSES);

export const MINING_PORTS: ReadonlySet<number> = new Set([3333, 4444, 5555, 7777, 14433, 14444, 45700]);

const KEYWORDS: [RegExp, string][] = [
  [/coin|mining|miner|stratum|xmr|monero|cryptocurrency|crypto currency/, 'mining'],
  [/reverse.?shell/, 'reverse_shell'],
  [/metadata|169\.254\.169\.254|imds/, 'metadata_access'],
  [/\bssh\b|tunnel|socks|\bproxy\b/, 'tunnel'],
  [/\bscan|sweep|nmap|\bprobe/, 'internal_probe'],
  [/exfil/, 'exfiltration'],
];

export interface CategoryInput { kind: NetKind; dst: string; dport?: number; text?: string }

/** Per-reader memo of text → category (rule names repeat a lot); pass one to deriveCategory. */
export type CategoryCache = Map<string, string | null>;

/** See the file comment for the rules. */
export function deriveCategory(r: CategoryInput, cache?: CategoryCache): string | undefined {
  if (r.text) {
    let hit = cache?.get(r.text);
    if (hit === undefined) {
      const l = r.text.toLowerCase();
      hit = null;
      for (const [re, cat] of KEYWORDS) if (re.test(l)) { hit = cat; break; }
      if (cache && cache.size < 10_000) cache.set(r.text, hit);
    }
    if (hit) return hit;
  }
  const dst = r.dst;
  if (METADATA_DSTS.has(dst)) return 'metadata_access';
  if (r.dport !== undefined) {
    if (MINING_PORTS.has(r.dport)) return 'mining';
    if (r.dport === 22 && !isPrivateIp(dst)) return 'tunnel';
  }
  if (r.kind === 'alert' && isPrivateIp(dst)) return 'internal_probe';
  return undefined;
}

/** RFC 1918 (10/8, 172.16/12, 192.168/16), IPv6 ULA fc00::/7 and loopback. No regex: runs per record. */
export function isPrivateIp(ip: string): boolean {
  const c0 = ip.charCodeAt(0);
  if (c0 === 49) { // '1'
    if (ip.startsWith('10.')) return true;
    if (ip.startsWith('192.168.')) return true;
    if (ip.startsWith('127.')) return true;
    if (ip.startsWith('172.')) {
      const dot = ip.indexOf('.', 4);
      const b = Number(ip.slice(4, dot));
      return b >= 16 && b <= 31;
    }
    return false;
  }
  if (c0 === 102 || c0 === 70) { const c1 = ip.charCodeAt(1) | 32; return c1 === 99 || c1 === 100; } // fc/fd
  return ip === '::1';
}
