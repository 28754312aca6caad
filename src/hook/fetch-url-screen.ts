// Why: Claude Code's WebFetch tool makes an HTTP request from the user's machine, outside any sandbox
// and any gateway. Threat it stops: an agent reading cloud credentials from the metadata service
// (169.254.169.254 and its decimal/hex/octal/IPv4-mapped spellings, metadata.google.internal …),
// reaching the host's own or its network's services (loopback, link-local, RFC 1918, CGNAT, ULA), or
// contacting a known mining pool, by fetching a URL instead of running curl. The URL is parsed the
// way the fetch will parse it (WHATWG URL: `http://2852039166/` is 169.254.169.254, `\` ends the
// host), IP hosts are canonicalised by the command analyser's ips.ts and classed by the gateway's
// address classes; names are compared with the rules' lists (metadata_names, metadata_ips,
// mining_pool_domains in rules/lists.yaml, so a site's overrides apply). Static only: no name is
// resolved, so a public name that resolves to an internal address passes (that is the gateway's and
// the runtime sensors' job).
import type { Finding } from '../detect/check.js';
import { ipLiterals } from '../detect/command/ips.js';
import type { RuleSet } from '../detect/engine/api.js';
import { classifyAddress } from '../policy/address-class.js';
import { isMetadataName, normaliseName } from '../policy/domain.js';

export interface FetchLists { metadataIps: ReadonlySet<string>; metadataNames: ReadonlySet<string>; poolDomains: readonly string[] }

/** The lists WebFetch is judged by, from a compiled rule set (after the site's overrides). */
export function fetchLists(rules: RuleSet): FetchLists {
  const list = (name: string): string[] => rules.lists.get(name) ?? [];
  return {
    metadataIps: new Set(ipLiterals(list('metadata_ips'))),
    metadataNames: new Set(list('metadata_names').map(normaliseName)),
    poolDomains: list('mining_pool_domains').map(normaliseName),
  };
}

/** Names that reach the machine itself (RFC 6761 .localhost and the usual /etc/hosts aliases). */
const LOOPBACK_NAME = /^(localhost|ip6-localhost|ip6-loopback|localhost\.localdomain)$|\.localhost$/;
/** Names with no public suffix: resolved by search domains, mDNS or a private zone, to internal hosts. */
const PRIVATE_NAME = /^[^.]+$|\.(local|internal|lan|intranet|corp|home\.arpa)$/;

type Draft = Pick<Finding, 'rule' | 'category' | 'severity' | 'attack' | 'message' | 'reason'>;

const METADATA_REASON = 'The cloud metadata service holds instance credentials; fetching it is not allowed.';
const INTERNAL_REASON = 'WebFetch may reach public web addresses only; loopback, link-local and private-network addresses are the machine\'s and its network\'s own services.';

/** `spelt`: the host and its other canonical forms, e.g. "::ffff:a9fe:a9fe (169.254.169.254)". */
function ipFinding(ip: string, spelt: string, lists: FetchLists): Draft | undefined {
  const cls = lists.metadataIps.has(ip) ? 'metadata' : classifyAddress(ip);
  if (cls === 'metadata') {
    return { rule: 'hook_webfetch_metadata', category: 'metadata_access', severity: 'critical', attack: ['T1552.005'], message: `URL host ${spelt} is a cloud metadata address (list metadata_ips)`, reason: METADATA_REASON };
  }
  if (cls === 'public') return undefined;
  return { rule: 'hook_webfetch_internal_address', category: 'internal_probe', severity: 'high', attack: ['T1046'], message: `URL host ${spelt} is a ${cls.replace('_', '-')} address, not a public one`, reason: INTERNAL_REASON };
}

function nameFinding(name: string, lists: FetchLists): Draft | undefined {
  if (lists.metadataNames.has(name) || isMetadataName(name)) {
    return { rule: 'hook_webfetch_metadata', category: 'metadata_access', severity: 'critical', attack: ['T1552.005'], message: `URL host ${name} is a cloud metadata name (list metadata_names)`, reason: METADATA_REASON };
  }
  const pool = lists.poolDomains.find((d) => name === d || name.endsWith(`.${d}`));
  if (pool !== undefined) {
    return { rule: 'hook_webfetch_mining_pool', category: 'mining', severity: 'high', attack: ['T1496'], message: `URL host ${name} is a known mining pool (${pool}, list mining_pool_domains)`, reason: 'Contacting mining pools is not allowed.' };
  }
  if (LOOPBACK_NAME.test(name)) {
    return { rule: 'hook_webfetch_internal_address', category: 'internal_probe', severity: 'high', attack: ['T1046'], message: `URL host ${name} names this machine (loopback)`, reason: INTERNAL_REASON };
  }
  if (PRIVATE_NAME.test(name)) {
    return { rule: 'hook_webfetch_private_name', category: 'internal_probe', severity: 'medium', attack: ['T1046'], message: `URL host ${name} has no public suffix; it resolves to a host on the local network`, reason: 'This URL names a host on the local network, not the public web; explain why it is needed.' };
  }
  return undefined;
}

/**
 * Screens a WebFetch URL. Returns the findings (empty: nothing known against it), or a problem when
 * the URL cannot be parsed or is not http/https.
 *
 * @example screenFetchUrl('http://2852039166/latest/', fetchLists(rules))
 *   // → { findings: [{ rule: 'hook_webfetch_metadata', severity: 'critical', … }] }
 */
export function screenFetchUrl(raw: string, lists: FetchLists): { findings: Finding[] } | { problem: string } {
  let url: URL;
  try { url = new URL(raw); } catch { return { problem: 'the WebFetch url is not a valid absolute URL' }; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `the WebFetch url's scheme ${url.protocol} is not http or https` };
  let host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  host = host.replace(/\.+$/, '').toLowerCase();
  const ips = ipLiterals([host]);
  const others = ips.filter((ip) => ip !== host);
  const spelt = others.length > 0 ? `${host} (${others.join(', ')})` : host;
  const drafts = ips.length > 0 ? ips.map((ip) => ipFinding(ip, spelt, lists)) : [nameFinding(host, lists)];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const d of drafts) {
    if (d === undefined || seen.has(d.rule)) continue;
    seen.add(d.rule);
    findings.push({ ...d, span: [0, raw.length], command: raw, chain: [raw], via: '', depth: 0, source: 'analyzer' });
  }
  return { findings };
}
