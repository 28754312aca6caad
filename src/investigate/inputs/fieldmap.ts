// Why: cloud firewalls (GCP, Azure, vendor appliances) export CSV or JSON with their own column
// names. A field map ("ts=EventTime,src=SourceIP,dst=DestIP") tells the generic readers which
// column is which; columns not named in the map are looked up among common names, and what
// was guessed is stated in the read's notes so a wrong guess is visible.
import type { FieldMap } from '../types.js';

export const FIELD_KEYS = ['ts', 'src', 'dst', 'sport', 'dport', 'proto', 'action', 'severity', 'rule', 'host', 'bytes', 'category'] as const;
export type FieldKey = (typeof FIELD_KEYS)[number];

/** Common column names / JSON paths per field, tried in order (case-insensitive for CSV). */
export const FIELD_CANDIDATES: Record<FieldKey, string[]> = {
  ts: ['ts', 'timestamp', '@timestamp', 'time', 'event_time', 'eventtime', 'datetime', 'date', 'start', 'start_time', 'starttime', 'receive_time', 'generated_time', 'timegenerated'],
  src: ['src', 'src_ip', 'srcip', 'srcaddr', 'source_ip', 'sourceip', 'source.ip', 'source_address', 'source', 'client_ip', 'id.orig_h', 'saddr', 'src_addr', 'connection.src_ip', 'jsonPayload.connection.src_ip'],
  dst: ['dst', 'dst_ip', 'dstip', 'dstaddr', 'dest_ip', 'destip', 'destination_ip', 'destinationip', 'destination.ip', 'destination_address', 'destination', 'dest', 'server_ip', 'id.resp_h', 'daddr', 'dst_addr', 'connection.dest_ip', 'jsonPayload.connection.dest_ip'],
  sport: ['sport', 'src_port', 'srcport', 'source_port', 'sourceport', 'source.port', 'spt', 'id.orig_p', 'connection.src_port', 'jsonPayload.connection.src_port'],
  dport: ['dport', 'dst_port', 'dstport', 'dest_port', 'destport', 'destination_port', 'destinationport', 'destination.port', 'dpt', 'id.resp_p', 'port', 'connection.dest_port', 'jsonPayload.connection.dest_port'],
  proto: ['proto', 'protocol', 'transport', 'ip_protocol', 'network.transport', 'connection.protocol', 'jsonPayload.connection.protocol'],
  action: ['action', 'disposition', 'decision', 'verdict', 'event.action', 'jsonPayload.disposition'],
  severity: ['severity', 'priority', 'level', 'alert.severity', 'event.severity'],
  rule: ['rule', 'rule_name', 'rulename', 'signature', 'alert.signature', 'rule.name', 'policy', 'policyname', 'attack', 'threat', 'msg', 'jsonPayload.rule_details.reference'],
  host: ['host', 'hostname', 'sensor', 'interface', 'interface_id', 'device', 'devname', 'node_name', 'observer.name', 'host.name', 'jsonPayload.instance.vm_name'],
  bytes: ['bytes', 'total_bytes', 'bytes_sent', 'sentbytes', 'sentbyte', 'network.bytes'],
  category: ['category', 'alert.category', 'threat_category', 'event.category'],
};

/** Parses "ts=EventTime,src=SourceIP,…" (spaces around items allowed). Throws a readable error on unknown keys. */
export function parseFieldMap(spec: string): FieldMap {
  const out: FieldMap = {};
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new Error(`field map item "${item}" is not KEY=COLUMN (keys: ${FIELD_KEYS.join(', ')})`);
    const key = item.slice(0, eq).trim();
    if (!(FIELD_KEYS as readonly string[]).includes(key)) throw new Error(`unknown field map key "${key}" (keys: ${FIELD_KEYS.join(', ')})`);
    if (out[key as FieldKey] !== undefined) throw new Error(`field map key "${key}" is given twice (${key}=${out[key as FieldKey]} and ${item})`);
    out[key as FieldKey] = item.slice(eq + 1).trim();
  }
  return out;
}

/**
 * Splits one CSV line. Fast path: no quote → indexOf splitting. Otherwise RFC 4180 quoting
 * ("" inside quotes). Returns an error string for an unterminated quote (a field with an
 * embedded newline is not supported: the line is reported bad).
 */
export function splitCsv(line: string, delim: string, out: string[]): string | undefined {
  out.length = 0;
  if (line.indexOf('"') < 0) {
    let from = 0;
    for (;;) {
      const e = line.indexOf(delim, from);
      if (e < 0) { out.push(line.slice(from)); return undefined; }
      out.push(line.slice(from, e));
      from = e + 1;
    }
  }
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line.charCodeAt(i) === 34) {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return `unterminated quoted field at column ${i}`;
        v += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) { v += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i >= n) return undefined;
      if (line[i] !== delim) return `unexpected character after a quoted field at column ${i + 1}`;
      i++;
    } else {
      const e = line.indexOf(delim, i);
      if (e < 0) { out.push(line.slice(i)); return undefined; }
      out.push(line.slice(i, e));
      i = e + 1;
    }
  }
}

/** The most frequent of , \t ; | in a header line. */
export function sniffDelimiter(header: string): string {
  let best = ',', bestN = 0;
  for (const d of [',', '\t', ';', '|']) {
    const n = header.split(d).length - 1;
    if (n > bestN) { best = d; bestN = n; }
  }
  return best;
}

/** A getter for a JSON path: the literal key first (Zeek's "id.orig_h"), then dotted segments. */
export function compilePath(path: string): (o: Record<string, unknown>) => unknown {
  if (!path.includes('.')) return (o) => o[path];
  const segs = path.split('.');
  return (o) => {
    const lit = o[path];
    if (lit !== undefined) return lit;
    let cur: unknown = o;
    for (const s of segs) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[s];
    }
    return cur;
  };
}

/** A field or column name compared loosely: lowercase, without blanks, '_' and '-' ("Source address" = source_address). */
export function looseName(s: string): string { return s.toLowerCase().replace(/[\s_-]+/g, ''); }

/**
 * The object's leaf paths (dotted, objects up to four levels down, arrays not entered), for
 * guessing fields of exports that nest and capitalise them (Azure Firewall's properties.SourceIp).
 */
function leafPaths(o: Record<string, unknown>, prefix = '', depth = 0, out: string[] = []): string[] {
  for (const [k, v] of Object.entries(o)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) { if (depth < 3) leafPaths(v as Record<string, unknown>, p, depth + 1, out); }
    else out.push(p);
  }
  return out;
}

/**
 * The object's leaf paths by their loose names (looseName of the whole path, and of each tail after a
 * dot), the first path in the object's order for each: built once per kind of line, so a line of
 * 600 000 keys is one walk, not one per field looked for (it took 17 s).
 */
export function looseIndex(o: Record<string, unknown>): Map<string, string> {
  const index = new Map<string, string>();
  for (const p of leafPaths(o)) {
    const l = looseName(p);
    if (!index.has(l)) index.set(l, p);
    for (let i = l.indexOf('.'); i >= 0; i = l.indexOf('.', i + 1)) {
      const tail = l.slice(i + 1);
      if (!index.has(tail)) index.set(tail, p);
    }
  }
  return index;
}

/**
 * A path of the object indexed by looseIndex for one of the candidates, compared loosely (case, '_'
 * and '-') and allowed to sit under any parent ("sourceip" finds properties.SourceIp;
 * "connection.src_ip" finds jsonPayload.connection.src_ip). The candidates are tried in order;
 * undefined when none is there.
 */
export function looseFind(index: Map<string, string>, candidates: readonly string[]): string | undefined {
  for (const c of candidates) {
    const hit = index.get(looseName(c));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

