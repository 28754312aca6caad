// Why: the first pass of an investigation reads every firewall/network record once. It keeps
// the alert-like records as compact columns (they are what must be explained) and, from all
// records, how many distinct sources reached each destination (the rarity evidence). It then
// indexes alerts per source IP and per host, sorted by time, so that each tool call can find
// the alerts in its window with two binary searches instead of a scan.
import type { NetRecord } from '../types.js';
import { parseAddr } from '../../policy/ip.js';
import { classifyParsed, type AddressClass } from '../../policy/address-class.js';
import { f64, i32, StringTable, Growable } from './columns.js';
import type { SourcesExport } from './source-set.js';

/** Actions that make a plain flow record an alert: the firewall stopped or flagged it. */
const ALERT_ACTIONS = new Set(['blocked', 'block', 'drop', 'dropped', 'deny', 'denied', 'reject', 'rejected', 'alert', 'alerted']);

export function isAlertLike(r: NetRecord): boolean {
  return r.kind === 'alert' || r.category !== undefined || (r.action !== undefined && ALERT_ACTIONS.has(r.action));
}

/** Alerts of one source key, sorted by time: ts[i] belongs to alert number idx[i]. */
export interface KeyAlerts { ts: Float64Array; idx: Int32Array }

export class AlertTable {
  readonly strings = new StringTable();   // addresses, hosts, rules, categories, actions, protos, files
  readonly ts = f64();
  readonly src = i32(); readonly dst = i32(); readonly dport = i32(); readonly host = i32();
  readonly rule = i32(); readonly category = i32(); readonly action = i32(); readonly proto = i32();
  readonly file = i32(); readonly line = i32();
  readonly severity = new Growable(Int8Array); readonly kind = new Growable(Uint8Array);
  /** Every record (flows too): distinct sources per destination id. */
  private readonly dstSources = new Map<number, Set<number> | number>();
  private readonly allSources = new Set<number>();
  records = 0;
  minTs = Infinity; maxTs = -Infinity;
  private byIp?: Map<string, KeyAlerts>;
  private byHost?: Map<string, KeyAlerts>;

  get size(): number { return this.ts.length; }

  add(r: NetRecord): void {
    this.records++;
    const src = this.strings.id(r.src), dst = this.strings.id(r.dst);
    this.seen(src, dst);
    if (isAlertLike(r)) this.push(r, src, dst);
  }

  /**
   * What a log worker found (see log-pass.ts): the count of records and the alert-like records
   * in file order (their sources come through addSources). Same result as add() for each record.
   */
  addDigest(records: number, alerts: NetRecord[]): void {
    this.records += records;
    for (const r of alerts) this.push(r, this.strings.id(r.src), this.strings.id(r.dst));
  }

  /** The distinct (destination, source) pairs a log reader's thread saw (rarity evidence). */
  addSources(s: SourcesExport): void {
    const ids = s.ips.map((ip) => this.strings.id(ip));
    const p = s.pairs;
    for (let i = 0; i < p.length; i += 2) this.seen(ids[p[i + 1]!]!, ids[p[i]!]!);
  }

  private seen(src: number, dst: number): void {
    this.allSources.add(src);
    const seen = this.dstSources.get(dst);
    // Most destinations see one source: keep a bare number until a second one appears.
    if (seen === undefined) this.dstSources.set(dst, src);
    else if (typeof seen === 'number') { if (seen !== src) this.dstSources.set(dst, new Set([seen, src])); }
    else seen.add(src);
  }

  private push(r: NetRecord, src: number, dst: number): void {
    const s = this.strings;
    if (r.ts < this.minTs) this.minTs = r.ts;
    if (r.ts > this.maxTs) this.maxTs = r.ts;
    this.ts.push(r.ts); this.src.push(src); this.dst.push(dst);
    this.dport.push(r.dport ?? -1); this.host.push(s.id(r.host));
    this.rule.push(s.id(r.rule)); this.category.push(s.id(r.category)); this.action.push(s.id(r.action));
    this.proto.push(s.id(r.proto)); this.file.push(s.id(r.file)); this.line.push(r.line);
    this.severity.push(r.severity ?? 0); this.kind.push(r.kind === 'alert' ? 1 : 0);
  }

  /** Number of distinct sources seen talking to this destination (flows and alerts). */
  sourcesOf(dstId: number): number {
    const v = this.dstSources.get(dstId);
    return v === undefined ? 0 : typeof v === 'number' ? 1 : v.size;
  }
  get sourceCount(): number { return this.allSources.size; }

  /**
   * IDF-like rarity of a destination in [0, 1]: 1 when only one source ever reached it,
   * near 0 when every source in the fleet does (a package mirror, a DNS server).
   */
  rarity(dstId: number): number {
    const n = this.allSources.size;
    if (n <= 1) return 1;
    const df = Math.max(1, this.sourcesOf(dstId));
    return Math.log((n + 1) / df) / Math.log(n + 1);
  }

  /** Builds the per-IP and per-host indexes (call once, after the last add). */
  buildIndex(): void {
    this.byIp = this.group(this.src.view());
    this.byHost = this.group(this.host.view());
  }

  private group(keyCol: Int32Array): Map<string, KeyAlerts> {
    const counts = new Map<number, number>();
    for (let i = 0; i < keyCol.length; i++) { const k = keyCol[i]!; if (k >= 0) counts.set(k, (counts.get(k) ?? 0) + 1); }
    const groups = new Map<number, Int32Array>();
    const fill = new Map<number, number>();
    for (const [k, n] of counts) { groups.set(k, new Int32Array(n)); fill.set(k, 0); }
    for (let i = 0; i < keyCol.length; i++) {
      const k = keyCol[i]!;
      if (k < 0) continue;
      const at = fill.get(k)!;
      groups.get(k)![at] = i; fill.set(k, at + 1);
    }
    const ts = this.ts.view();
    const out = new Map<string, KeyAlerts>();
    for (const [k, idx] of groups) {
      const order = Array.from(idx).sort((a, b) => ts[a]! - ts[b]! || a - b);
      const tsArr = new Float64Array(order.length);
      const idxArr = new Int32Array(order.length);
      order.forEach((a, j) => { tsArr[j] = ts[a]!; idxArr[j] = a; });
      out.set(this.strings.get(k)!, { ts: tsArr, idx: idxArr });
    }
    return out;
  }

  /** Alerts whose source IP is ip / whose sensor host is host (after buildIndex). */
  alertsByIp(): Map<string, KeyAlerts> { if (!this.byIp) this.buildIndex(); return this.byIp!; }
  alertsByHost(): Map<string, KeyAlerts> { if (!this.byHost) this.buildIndex(); return this.byHost!; }

  /** Address class of an alert's destination (metadata, private, public, …). */
  dstClass(alert: number): AddressClass | 'unknown' {
    const id = this.dst.data[alert]!;
    let c = this.classCache.get(id);
    if (c === undefined) {
      const d = this.strings.get(id);
      const a = d ? parseAddr(d) : null;
      c = a ? classifyParsed(a) : 'unknown';
      this.classCache.set(id, c);
    }
    return c;
  }
  private readonly classCache = new Map<number, AddressClass | 'unknown'>();

  /** The full record of one alert, rebuilt from the columns. */
  record(i: number): NetRecord {
    const s = this.strings;
    const dport = this.dport.data[i]!;
    const sev = this.severity.data[i]!;
    const r: NetRecord = {
      ts: this.ts.data[i]!, kind: this.kind.data[i] ? 'alert' : 'flow',
      src: s.get(this.src.data[i]!) ?? '', dst: s.get(this.dst.data[i]!) ?? '',
      file: s.get(this.file.data[i]!) ?? '', line: this.line.data[i]!,
    };
    if (dport >= 0) r.dport = dport;
    if (sev > 0) r.severity = sev;
    const opt = { rule: this.rule, category: this.category, action: this.action, proto: this.proto, host: this.host } as const;
    for (const [name, col] of Object.entries(opt)) {
      const v = s.get(col.data[i]!);
      if (v !== undefined) (r as unknown as Record<string, unknown>)[name] = v;
    }
    return r;
  }
}
