// Why: Zeek's conn.log is the connection record many fleets already keep: it shows which
// sandbox IP talked to which destination and port, and when. Two encodings: the classic TSV
// (self-describing: #separator, #fields, #types header lines; '-' unset, '(empty)' empty;
// several logs may be concatenated, each with its own header) and JSON lines. Other Zeek logs
// (#path dns, http, …) are skipped and counted.
import type { NetRecord } from '../types.js';
import { isBlank, mkRecord, parseObject, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { DelimScan } from './flow-pairs.js';
import { normaliseProto, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';

const WANTED = ['ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_bytes', 'resp_bytes', '_node_name'] as const;
const [TS, OH, OP, RH, RP, PROTO, OB, RB, NODE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

function unescapeZeek(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export const zeekConnTsvReader: NetReader = {
  format: 'zeek-conn-tsv',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'zeek-conn-tsv', opts, (ctx) => {
      const { file, stats, ts, cats } = ctx;
      let sep = '\t';
      let unset = '-';
      let empty = '(empty)';
      let logPath = 'conn';
      /** column index → slot in WANTED, or -1 */
      let slotOf: Int8Array | undefined;
      let names: string[] = [];
      let ncols = 0;
      const vals: (string | undefined)[] = new Array(WANTED.length);
      // Plain flows straight from the bytes (native), with the layout the header lines set.
      const scan = ctx.pairs && new DelimScan(ctx.pairs, stats, ts);
      if (scan) ctx.bulk = scan;
      const layout = (): void => scan?.configure(logPath !== 'conn' || !slotOf ? undefined : {
        mode: 'zeek', sep, ncols, unset, empty, ts: names.lastIndexOf('ts'), ts2: -1, src: names.lastIndexOf('id.orig_h'), dst: names.lastIndexOf('id.resp_h'),
        dport: names.lastIndexOf('id.resp_p'), action: -1, status: -1,
      });
      return (text, line, info) => {
        if (text.charCodeAt(0) === 35) { // '#'
          if (text.startsWith('#separator')) { sep = unescapeZeek(text.slice(11).trim() || '\\x09'); layout(); return; }
          const sp = text.indexOf(sep);
          const key = sp < 0 ? text : text.slice(0, sp);
          const rest = sp < 0 ? '' : text.slice(sp + sep.length);
          if (key === '#unset_field') unset = rest;
          else if (key === '#empty_field') empty = rest;
          else if (key === '#path') logPath = rest;
          else if (key === '#fields') {
            names = rest.split(sep);
            ncols = names.length;
            slotOf = new Int8Array(ncols).fill(-1);
            names.forEach((n, i) => { const k = (WANTED as readonly string[]).indexOf(n); if (k >= 0) slotOf![i] = k; });
            const missing = ['ts', 'id.orig_h', 'id.resp_h'].filter((n) => !names.includes(n));
            if (missing.length && logPath === 'conn') stats.badLine(line, `#fields lacks ${missing.join(', ')}: not a conn.log header`);
          }
          layout();
          return;
        }
        if (isBlank(text)) return;
        if (logPath !== 'conn') { stats.skip(`zeek-${logPath}`); return; }
        if (slotOf === undefined) { stats.badLine(line, 'data line before any #fields header'); return; }
        vals.fill(undefined);
        let from = 0, col = 0;
        for (;;) {
          const e = text.indexOf(sep, from);
          const stop = e < 0 ? text.length : e;
          if (col < ncols) { const k = slotOf[col]!; if (k >= 0) { const v = text.slice(from, stop); vals[k] = v === unset || v === empty ? undefined : v; } }
          col++;
          if (e < 0) break;
          from = e + sep.length;
        }
        if (col !== ncols) { stats.badLine(line, lineError(`expected ${ncols} fields, found ${col}`, info.unterminated)); return; }
        const src = vals[OH], dst = vals[RH], tsv = vals[TS];
        if (src === undefined || dst === undefined) { stats.badLine(line, 'missing id.orig_h or id.resp_h'); return; }
        const t = tsv === undefined ? NaN : ts.epoch(Number(tsv), 's');
        if (Number.isNaN(t)) { stats.badLine(line, lineError(`unparseable ts "${tsv ?? unset}"`, info.unterminated)); return; }
        const r = mkRecord(t, 'flow', src, dst, file, line);
        fill(r, vals[OP], vals[RP], vals[PROTO], vals[OB], vals[RB], vals[NODE]);
        r.category = deriveCategory({ kind: 'flow', dst, dport: r.dport }, cats);
        stats.records++;
        onRecord(r);
      };
    });
  },
};

function fill(r: NetRecord, sp: unknown, dp: unknown, proto: unknown, ob: unknown, rb: unknown, node: unknown): void {
  r.sport = toPort(sp);
  r.dport = toPort(dp);
  r.proto = normaliseProto(proto);
  const up = toCount(ob), down = toCount(rb);
  if (up !== undefined || down !== undefined) r.bytes = (up ?? 0) + (down ?? 0);
  r.host = toStr(node);
}

export const zeekConnJsonReader: NetReader = {
  format: 'zeek-conn-json',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'zeek-conn-json', opts, ({ file, stats, ts, cats }) => (text, line, info) => {
      if (isBlank(text)) return;
      const o = parseObject(text);
      if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
      if (typeof o._path === 'string' && o._path !== 'conn') { stats.skip(`zeek-${o._path}`); return; }
      const src = o['id.orig_h'], dst = o['id.resp_h'];
      if (typeof src !== 'string' || typeof dst !== 'string') { stats.badLine(line, 'missing field "id.orig_h" or "id.resp_h" (string)'); return; }
      // Zeek JSON writes ts as float epoch seconds, or ISO 8601 with JSON::TS_ISO8601.
      const t = ts.parse(o.ts, 's');
      if (Number.isNaN(t)) { stats.badLine(line, `missing or unparseable "ts" ${JSON.stringify(o.ts)}`); return; }
      const r = mkRecord(t, 'flow', src, dst, file, line);
      fill(r, o['id.orig_p'], o['id.resp_p'], o.proto, o.orig_bytes, o.resp_bytes, o._node_name ?? o.peer);
      r.category = deriveCategory({ kind: 'flow', dst, dport: r.dport }, cats);
      stats.records++;
      onRecord(r);
    });
  },
};
