// Why: domain rules are the main way a policy grants egress, so their syntax must be unambiguous and
// their matching must be exact. Threats stopped: over-broad wildcards ('*', '*.com', '*.test') that
// would silently open the whole internet, look-alike matches ('evilregistry.test' matching
// 'registry.test'), case/trailing-dot spelling bypasses, and DNS queries for cloud metadata names.
// Matching is by Map lookups over the name's parent suffixes: no regex per decision.

/** Lower-cases and drops one trailing dot. Does not validate. */
export function normaliseName(name: string): string {
  let n = name;
  if (n.length > 0 && n.charCodeAt(n.length - 1) === 46) n = n.slice(0, -1);
  return n.toLowerCase();
}

/** Multi-label public suffixes that a wildcard may not sit directly on (a small, safety-first list). */
const PUBLIC_MULTI_SUFFIXES = new Set([
  'co.uk', 'org.uk', 'ac.uk', 'gov.uk', 'me.uk', 'com.au', 'net.au', 'org.au', 'co.nz', 'co.jp', 'ne.jp',
  'or.jp', 'co.kr', 'co.in', 'com.br', 'com.cn', 'com.mx', 'co.za', 'com.tr', 'com.sg', 'com.hk', 'com.tw',
  'github.io', 'herokuapp.com', 'appspot.com', 'cloudfront.net', 'amazonaws.com',
  'azurewebsites.net', 'blob.core.windows.net', 'workers.dev', 'pages.dev', 'vercel.app', 'netlify.app',
  'ngrok.io', 'ngrok-free.app', 'trycloudflare.com', 'loca.lt', 'serveo.net',
]);

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export type DomainCheck = { ok: true; value: string; wildcard: boolean } | { ok: false; error: string };

/** Validates a name used as an exact host (hosts map keys, exact rules). */
export function checkHostName(raw: string): DomainCheck {
  const n = normaliseName(raw.trim());
  if (n.length === 0) return { ok: false, error: 'expected a host name, got an empty string' };
  if (n.length > 253) return { ok: false, error: 'host name is longer than 253 characters' };
  if (/[^\x21-\x7e]/.test(n)) return { ok: false, error: `'${raw}' contains non-ASCII or blank characters; use the punycode (xn--) form` };
  if (n.includes('*')) return { ok: false, error: `'${raw}': a wildcard is only allowed as a leading '*.' label` };
  for (const label of n.split('.')) {
    if (!LABEL.test(label)) return { ok: false, error: `'${raw}' has an invalid label '${label}' (letters, digits, '-' and '_' only, 1-63 chars)` };
  }
  if (/^[0-9.]+$/.test(n) || n.includes(':')) return { ok: false, error: `'${raw}' looks like an IP address; use a 'cidr:' rule for addresses` };
  return { ok: true, value: n, wildcard: false };
}

/**
 * Validates a domain pattern: an exact name, or '*.' + a name with at least two labels that is not
 * a public suffix. '*.pypi.test' matches 'a.pypi.test' and 'a.b.pypi.test' but not 'pypi.test'.
 */
export function checkDomainPattern(raw: string): DomainCheck {
  const t = raw.trim();
  if (t === '*' || t === '*.') return { ok: false, error: `'${t}' would allow every domain; list the domains you need` };
  if (t.startsWith('*.')) {
    const base = checkHostName(t.slice(2));
    if (!base.ok) return base;
    const labels = base.value.split('.');
    if (labels.length < 2 || PUBLIC_MULTI_SUFFIXES.has(base.value)) {
      return { ok: false, error: `'${t}' is over-broad: a wildcard must sit under a registrable domain (e.g. '*.example.test'), not a public suffix` };
    }
    return { ok: true, value: base.value, wildcard: true };
  }
  return checkHostName(t);
}

/** Names that reach cloud metadata services; always refused at DNS. */
export const METADATA_NAMES: readonly string[] = [
  'metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal',
  'metadata.azure.internal', 'metadata.azure.com', 'metadata.packet.net', 'metadata.platformequinix.com',
  'metadata.tencentyun.com', 'metadata.oraclecloud.com',
];
const METADATA_NAME_SET = new Set(METADATA_NAMES);

/** True for metadata names, including search-domain variants like 'metadata.c.proj.internal'. */
export function isMetadataName(n: string): boolean {
  if (METADATA_NAME_SET.has(n)) return true;
  const first = n.indexOf('.');
  const head = first < 0 ? n : n.slice(0, first);
  if ((head === 'metadata' || head === 'instance-data') && (n.endsWith('.internal') || n.endsWith('.local'))) return true;
  return false;
}

/**
 * An index from domain patterns to the rule indices that carry them. lookup() returns the smallest
 * rule index matching a name (or -1), walking only the name's own parent suffixes.
 */
export class DomainIndex {
  private readonly exact = new Map<string, number[]>();
  private readonly wild = new Map<string, number[]>();
  private hasWild = false;

  add(pattern: string, wildcard: boolean, ruleIndex: number): void {
    const m = wildcard ? this.wild : this.exact;
    if (wildcard) this.hasWild = true;
    const list = m.get(pattern);
    if (list) list.push(ruleIndex);
    else m.set(pattern, [ruleIndex]);
  }

  /** Calls visit(ruleIndex) for every matching rule; stops early when visit returns true. */
  forEach(name: string, visit: (ruleIndex: number) => boolean): boolean {
    const ex = this.exact.get(name);
    if (ex) for (const i of ex) if (visit(i)) return true;
    if (!this.hasWild) return false;
    let dot = name.indexOf('.');
    while (dot >= 0) {
      const parent = name.slice(dot + 1);
      const w = this.wild.get(parent);
      if (w) for (const i of w) if (visit(i)) return true;
      dot = name.indexOf('.', dot + 1);
    }
    return false;
  }

  /** Sorted list of rule indices matching the name. */
  matches(name: string): number[] {
    const out: number[] = [];
    this.forEach(name, (i) => {
      out.push(i);
      return false;
    });
    if (out.length > 1) out.sort((a, b) => a - b);
    return out;
  }
}
