// Why: a fleet on premises is often behind a Cisco ASA (or Firepower FTD), whose only log is
// syslog text — `%ASA-4-106023: Deny tcp src inside:10.20.1.5/40000 dst outside:203.0.113.10/22
// by access-group "OUT"` — neither CSV nor key=value, so no field map could read it. This reader
// takes the messages that name both ends of a connection: denies (106001, 106006/7, 106014, 106015,
// 106023, 106100 denied, 710003) become alerts with the ACL as the rule; permits (106100
// permitted) and built connections (302013/302015, direction from inbound/outbound, the real
// addresses, not the NAT-mapped ones in parentheses) become flows. Every other message is
// skipped and counted by its id. Time: a syslog or RFC 3339 prefix, else the ASA's own
// `logging timestamp` ("May 01 2024 12:00:00", no zone: --tz or UTC, stated).
// Threat stopped: probes and tunnels logged only by an enterprise firewall going unexplained.
import { isBlank, mkRecord, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { normaliseProto, toPort } from './normalise.js';
import { priorityTag } from './syslog-priority.js';

/** `%ASA-4-106023: ` (or %FTD-): level and message id, and where the text starts. */
const TAG = /%(?:ASA|FTD|PIX|FWSM)-(?:session-)?([0-7])-(\d{6}): ?/;

/** An `interface:address[/port]` end (IPv6 addresses hold colons; interface names do not). */
const END = '(\\S+?):([0-9A-Fa-f.:]+)(?:\\/(\\d+))?';
/** An `address/port` end. */
const AP = '([0-9A-Fa-f.:]+)\\/(\\d+)';

interface Parsed { src: string; dst: string; sport?: string; dport?: string; proto?: string; kind: 'alert' | 'flow'; rule?: string; iface?: string }

/** Message id → parser of its text. */
const MESSAGES: Record<string, (t: string) => Parsed | undefined> = {
  // Deny tcp src outside:198.51.100.2/24322 dst inside:10.1.1.5/22 by access-group "OUT_IN" [0x0, 0x0]
  '106023': (t) => {
    const m = new RegExp(`^Deny (\\w+) src ${END} dst ${END}(?: \\(type \\d+, code \\d+\\))? by access-group "([^"]*)"`).exec(t);
    return m ? { proto: m[1], iface: m[2], src: m[3]!, sport: m[4], dst: m[6]!, dport: m[7], kind: 'alert', rule: m[8] } : undefined;
  },
  // Inbound TCP connection denied from 10.1.1.1/1234 to 10.2.2.2/80 flags SYN on interface outside
  '106001': (t) => inboundDenied(t),
  // Deny inbound UDP from 10.1.1.1/1234 to 10.2.2.2/53 [due to DNS Query ]on interface outside
  '106006': (t) => inboundDenied(t),
  '106007': (t) => inboundDenied(t),
  // Deny TCP (no connection) from 10.1.1.1/1234 to 10.2.2.2/80 flags RST on interface inside
  '106015': (t) => {
    const m = new RegExp(`^Deny (\\w+) \\(no connection\\) from ${AP} to ${AP} .*?on interface (\\S+)`).exec(t);
    return m ? { proto: m[1], src: m[2]!, sport: m[3], dst: m[4]!, dport: m[5], kind: 'alert', rule: 'no connection', iface: m[6] } : undefined;
  },
  // Deny inbound icmp src outside:10.1.1.1 dst inside:10.2.2.2 (type 8, code 0)
  '106014': (t) => {
    const m = new RegExp(`^Deny (?:inbound|outbound) (\\w+) src ${END} dst ${END}`).exec(t);
    return m ? { proto: m[1], iface: m[2], src: m[3]!, dst: m[6]!, kind: 'alert' } : undefined;
  },
  // access-list OUT_IN denied tcp inside/10.1.1.5(40000) -> outside/203.0.113.10(22) hit-cnt 1 first hit [0x…]
  '106100': (t) => {
    const m = /^access-list (\S+) (permitted|denied|est-allowed) (\w+) (\S+?)\/([0-9A-Fa-f.:]+)\((\d+)\) -> (\S+?)\/([0-9A-Fa-f.:]+)\((\d+)\)/.exec(t);
    return m ? { rule: m[1], kind: m[2] === 'denied' ? 'alert' : 'flow', proto: m[3], iface: m[4], src: m[5]!, sport: m[6], dst: m[8]!, dport: m[9] } : undefined;
  },
  // TCP access denied by ACL from 10.1.1.1/1234 to outside:10.2.2.2/22
  '710003': (t) => {
    const m = new RegExp(`^(\\w+) access denied by ACL from ${AP} to ${END}`).exec(t);
    return m ? { proto: m[1], src: m[2]!, sport: m[3], iface: m[4], dst: m[5]!, dport: m[6], kind: 'alert', rule: 'to-the-box ACL' } : undefined;
  },
  // Built outbound TCP connection 123 for outside:203.0.113.10/443 (203.0.113.10/443) to inside:10.1.1.5/40000 (198.51.100.1/40000)
  '302013': (t) => built(t),
  '302015': (t) => built(t),
};

function inboundDenied(t: string): Parsed | undefined {
  const m = new RegExp(`^(?:Inbound (\\w+) connection denied|Deny inbound (\\w+)) from ${AP} to ${AP} .*?on interface (\\S+)`).exec(t);
  return m ? { proto: m[1] ?? m[2], src: m[3]!, sport: m[4], dst: m[5]!, dport: m[6], kind: 'alert', rule: 'inbound denied', iface: m[7] } : undefined;
}

function built(t: string): Parsed | undefined {
  const m = new RegExp(`^Built (inbound|outbound) (\\w+) connection \\d+ for ${END} \\([^)]*\\)(?:\\([^)]*\\))* to ${END}`).exec(t);
  if (!m) return undefined;
  const a = { iface: m[3]!, ip: m[4]!, port: m[5] }, b = { iface: m[6]!, ip: m[7]!, port: m[8] };
  // "for" names the lower-security side; outbound connections start on the "to" side.
  const [s, d] = m[1] === 'outbound' ? [b, a] : [a, b];
  return { proto: m[2], src: s.ip, sport: s.port, dst: d.ip, dport: d.port, kind: 'flow', iface: s.iface };
}

/** ASA levels 0–7 (0 emergency) → the record severity 1 (highest) … 4. */
function severityOf(level: number): number {
  return level <= 2 ? 1 : level === 3 ? 2 : level === 4 ? 3 : 4;
}

const MONTHS: Record<string, string> = { Jan: '01', Feb: '02', Mar: '03', Apr: '04', May: '05', Jun: '06', Jul: '07', Aug: '08', Sep: '09', Oct: '10', Nov: '11', Dec: '12' };
/** The ASA's own `logging timestamp`: "May 01 2024 12:00:00" (optionally with milliseconds). */
const ASA_TIME = /(?:^|\s)([A-Z][a-z]{2}) (\d\d) (\d{4}) (\d\d:\d\d:\d\d(?:\.\d+)?)(?: [A-Z]{2,5})?:?(?=\s)/;

/** Whether a line is an ASA/FTD syslog message. */
export function looksAsa(line: string): boolean {
  return TAG.test(line);
}

export const ciscoAsaReader: NetReader = {
  format: 'cisco-asa',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'cisco-asa', opts, ({ file, stats, ts, cats }) => (text, line) => {
      if (isBlank(text)) return;
      const tag = TAG.exec(text);
      if (!tag) { stats.skip('not an ASA message'); return; }
      const parse = MESSAGES[tag[2]!];
      if (!parse) { stats.skip(`ASA ${tag[2]}`); return; }
      const body = text.slice(tag.index + tag[0].length).replace(/\r$/, '');
      const p = parse(body);
      if (!p) { stats.badLine(line, `ASA ${tag[2]} message not in its documented form: "${body.slice(0, 80)}"`); return; }
      // Time: a syslog or RFC 3339 prefix (with the relay's host), else the ASA's own timestamp.
      // (a syslog priority in front, `<166>May  1 …`, is transport: read past it)
      const head = text.slice(0, tag.index);
      const pri = priorityTag(head);
      const before = pri.len ? head.slice(pri.len) : head;
      let t = NaN, host: string | undefined;
      const sys = ts.syslogPrefix(before);
      const own = ASA_TIME.exec(before);
      if (own) t = ts.iso(`${own[3]}-${MONTHS[own[1]!] ?? '00'}-${own[2]}T${own[4]}`);
      else if (sys) t = sys.ms;
      else if (/^\d{4}-\d\d-\d\dT/.test(before)) t = ts.iso(before.slice(0, before.indexOf(' ') < 0 ? before.length : before.indexOf(' ')));
      if (Number.isNaN(t)) { stats.badLine(line, `no time before the ASA message (syslog, RFC 3339 or "logging timestamp" form): "${before.slice(0, 40)}"`); return; }
      // The host (the ASA's `logging device-id`, or the relay's) follows the time.
      const after = own ? own.index + own[0].length : sys ? sys.next : /^\d{4}-/.test(before) ? before.indexOf(' ') : -1;
      if (after >= 0) {
        const word = before.slice(after).trim().split(/\s+/)[0];
        if (word && word !== ':' && !/^[A-Z][a-z]{2}$/.test(word)) host = word.replace(/:$/, '');
      }
      const r = mkRecord(t, p.kind, p.src, p.dst, file, line);
      r.proto = normaliseProto(p.proto);
      r.sport = toPort(p.sport);
      r.dport = toPort(p.dport);
      r.action = p.kind === 'alert' ? 'blocked' : 'allowed';
      r.rule = p.rule ? `${tag[2]} ${p.rule}` : tag[2];
      r.severity = severityOf(Number(tag[1]));
      r.host = host;
      r.category = deriveCategory({ kind: r.kind, dst: r.dst, dport: r.dport, text: r.rule }, cats);
      stats.records++;
      onRecord(r);
    });
  },
};
