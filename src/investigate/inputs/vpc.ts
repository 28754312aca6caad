// Why: AWS VPC Flow Logs are often the only network record of a cloud training fleet. The
// default (v2) format is 14 space-separated fields; custom formats choose their own fields and
// name them in a header line ("${version} ${vpc-id} ${srcaddr} …" or the plain names that the
// S3/CloudWatch exports write). start/end are epoch seconds. NODATA/SKIPDATA rows carry no
// flow and are skipped (counted). Rows of the wrong width are bad records. A custom format with
// pkt-srcaddr / pkt-dstaddr (v3+) names the packet's own addresses: srcaddr is then the interface the
// traffic passed through — a NAT gateway's, or an EKS node's while pkt-srcaddr is its pod's — and the
// pod's (the sandbox's) address is the one that ties a flow to an episode.
import { isBlank, mkRecord, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { DelimScan } from './flow-pairs.js';
import { normaliseAction, normaliseProto, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';

export const VPC_V2_FIELDS = ['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status'];
const WANTED = ['srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'bytes', 'start', 'end', 'action', 'log-status', 'interface-id', 'instance-id', 'pkt-srcaddr', 'pkt-dstaddr'] as const;
const [SA, DA, SP, DP, PR, BY, ST, EN, AC, LS, IF, INST, PSA, PDA] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];

/** "${srcaddr}" / "srcaddr" / "src_addr"-style names → VPC's hyphenated names. */
export function vpcFieldName(tok: string): string {
  let t = tok.trim();
  if (t.startsWith('${') && t.endsWith('}')) t = t.slice(2, -1);
  return t.replace(/_/g, '-').toLowerCase();
}

/** A field-list line (every one contains one of VPC_HEADER_NEEDLES). */
export const VPC_HEADER_NEEDLES = ['srcaddr', '${'];
export function isVpcHeader(text: string): boolean {
  return text.includes('srcaddr') || text.includes('${');
}

export const vpcFlowReader: NetReader = {
  format: 'vpc-flow',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'vpc-flow', opts, (ctx) => {
      const { file, stats, ts, cats } = ctx;
      let slotOf: Int8Array | undefined;
      let ncols = 0;
      const vals: (string | undefined)[] = new Array(WANTED.length);
      // Plain flows straight from the bytes (native), with the field list in force.
      const scan = ctx.pairs && new DelimScan(ctx.pairs, stats, ts);
      if (scan) ctx.bulk = scan;
      const setFields = (names: string[], line: number): void => {
        ncols = names.length;
        slotOf = new Int8Array(ncols).fill(-1);
        names.forEach((n, i) => { const k = (WANTED as readonly string[]).indexOf(n); if (k >= 0) slotOf![i] = k; });
        const missing = ['srcaddr', 'dstaddr'].filter((n) => !names.includes(n));
        if (!names.includes('start') && !names.includes('end')) missing.push('start');
        if (missing.length) { stats.badLine(line, `field list lacks ${missing.join(', ')}`); slotOf = undefined; }
        const col = (n: string): number => names.lastIndexOf(n);
        // (the native scan reads one source and one destination column: with packet-level addresses, which win
        //  where set and give way to srcaddr/dstaddr where "-", every row is read here)
        const pkt = names.includes('pkt-srcaddr') || names.includes('pkt-dstaddr');
        if (pkt && slotOf) stats.note('pkt-srcaddr/pkt-dstaddr in the field list: flows keyed by the packet\'s own addresses (a pod\'s behind its node, a host\'s behind a NAT gateway) where set');
        scan?.configure(pkt ? undefined : slotOf && {
          mode: 'vpc', sep: ' ', ncols, unset: '-', empty: '-', ts: col('start'), ts2: col('end'), src: col('srcaddr'), dst: col('dstaddr'),
          dport: col('dstport'), action: col('action'), status: col('log-status'),
        });
      };
      if (opts.vpcFields) setFields(opts.vpcFields.map(vpcFieldName), 0);
      return (text, line, info) => {
        if (isBlank(text)) return;
        if (isVpcHeader(text)) {
          setFields(text.trim().split(/\s+/).map(vpcFieldName), line);
          if (slotOf) stats.note(`field list from the header at line ${line}`);
          return;
        }
        if (slotOf === undefined) {
          if (opts.vpcFields) return void stats.badLine(line, 'no usable field list');
          setFields(VPC_V2_FIELDS, line);
          stats.note('no header line: default v2 field list assumed');
        }
        vals.fill(undefined);
        let from = 0, col = 0;
        const n = text.length;
        while (from < n) {
          let e = text.indexOf(' ', from);
          if (e < 0) e = n;
          if (e > from) {
            if (col < ncols) { const k = slotOf![col]!; if (k >= 0) { const v = text.slice(from, e); vals[k] = v === '-' ? undefined : v; } }
            col++;
          }
          from = e + 1;
        }
        if (col !== ncols) { stats.badLine(line, lineError(`expected ${ncols} fields, found ${col}`, info.unterminated)); return; }
        const status = vals[LS];
        if (status === 'NODATA' || status === 'SKIPDATA') { stats.skip(status); return; }
        const src = vals[PSA] ?? vals[SA], dst = vals[PDA] ?? vals[DA];
        if (src === undefined || dst === undefined) { stats.badLine(line, 'srcaddr or dstaddr is "-" on a row that is not NODATA/SKIPDATA'); return; }
        const tv = vals[ST] ?? vals[EN];
        const t = tv === undefined ? NaN : ts.epoch(Number(tv), 's');
        if (Number.isNaN(t)) { stats.badLine(line, lineError(`unparseable start "${tv ?? '-'}"`, info.unterminated)); return; }
        const r = mkRecord(t, 'flow', src, dst, file, line);
        r.sport = toPort(vals[SP]);
        r.dport = toPort(vals[DP]);
        r.proto = normaliseProto(vals[PR]);
        r.bytes = toCount(vals[BY]);
        r.action = normaliseAction(vals[AC]);
        r.host = toStr(vals[IF]) ?? toStr(vals[INST]);
        r.category = deriveCategory({ kind: 'flow', dst, dport: r.dport }, cats);
        stats.records++;
        onRecord(r);
      };
    });
  },
};
