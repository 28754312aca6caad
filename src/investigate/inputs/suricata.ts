// Why: Suricata's eve.json is the most common IDS output next to a cloud firewall. Its alert
// events carry the signature that says "crypto mining" or "SSH tunnel"; its flow events give
// the benign background. Other event types (dns, http, tls, stats, …) are skipped and
// counted without a full JSON parse, because they dominate eve files.
import { isBlank, isObj, mkRecord, parseObject, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { normaliseAction, normaliseProto, normaliseSeverity, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';

/** The value of "event_type" found by text search, or undefined when it cannot be found that way. */
function sniffEventType(text: string): string | undefined {
  const k = text.indexOf('"event_type"');
  if (k < 0) return undefined;
  let i = k + 12;
  while (text.charCodeAt(i) === 32) i++;
  if (text.charCodeAt(i) !== 58) return undefined;
  i++;
  while (text.charCodeAt(i) === 32) i++;
  if (text.charCodeAt(i) !== 34) return undefined;
  const e = text.indexOf('"', i + 1);
  return e < 0 ? undefined : text.slice(i + 1, e);
}

export const suricataEveReader: NetReader = {
  format: 'suricata-eve',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'suricata-eve', opts, ({ file, stats, ts, cats }) => (text, line, info) => {
      if (isBlank(text)) return;
      const sniffed = sniffEventType(text);
      if (sniffed !== undefined && sniffed !== 'alert' && sniffed !== 'flow' && sniffed !== 'drop') { stats.skip(sniffed); return; }
      const o = parseObject(text);
      if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
      const et = o.event_type;
      if (typeof et !== 'string') { stats.badLine(line, 'missing field "event_type" (string)'); return; }
      if (et !== 'alert' && et !== 'flow' && et !== 'drop') { stats.skip(et); return; }
      const flow = isObj(o.flow) ? o.flow : undefined;
      // Alerts on a reply packet (direction to_client) have src/dest swapped; flow.* keeps the
      // orientation of the connection (who opened it), which is what ties it to a sandbox.
      const swap = o.direction === 'to_client' && flow !== undefined && typeof flow.src_ip === 'string';
      const src = swap ? flow!.src_ip : o.src_ip;
      const dst = swap ? flow!.dest_ip : o.dest_ip;
      if (typeof src !== 'string' || typeof dst !== 'string') { stats.badLine(line, 'missing field "src_ip" or "dest_ip" (string)'); return; }
      const tsv = et === 'flow' && flow !== undefined && flow.start !== undefined ? flow.start : o.timestamp;
      const t = ts.parse(tsv);
      if (Number.isNaN(t)) { stats.badLine(line, `missing or unparseable timestamp ${JSON.stringify(tsv)}`); return; }
      const r = mkRecord(t, et === 'alert' ? 'alert' : 'flow', src, dst, file, line);
      r.sport = toPort(swap ? flow!.src_port : o.src_port);
      r.dport = toPort(swap ? flow!.dest_port : o.dest_port);
      r.proto = normaliseProto(o.proto);
      r.host = toStr(o.host) ?? toStr(o.in_iface);
      if (flow !== undefined) {
        const up = toCount(flow.bytes_toserver), down = toCount(flow.bytes_toclient);
        if (up !== undefined || down !== undefined) r.bytes = (up ?? 0) + (down ?? 0);
      }
      let text2: string | undefined;
      if (et === 'alert') {
        const a = o.alert;
        if (!isObj(a)) { stats.badLine(line, 'alert event without an "alert" object'); return; }
        r.rule = toStr(a.signature) ?? (a.signature_id !== undefined ? `sid:${String(a.signature_id)}` : undefined);
        r.severity = normaliseSeverity(a.severity);
        r.action = normaliseAction(a.action) ?? 'alert';
        const cat = toStr(a.category);
        text2 = cat !== undefined && r.rule !== undefined ? `${cat} | ${r.rule}` : cat ?? r.rule;
      } else if (et === 'drop') {
        r.action = 'blocked';
      } else {
        r.action = normaliseAction(flow?.action) ?? undefined;
      }
      r.category = deriveCategory({ kind: r.kind, dst: r.dst, dport: r.dport, text: text2 }, cats);
      stats.records++;
      onRecord(r);
    });
  },
};
