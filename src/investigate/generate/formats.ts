// Why: one formatter per output format of the simulator, each writing the same simulated
// event the way that sensor really writes it (Suricata eve, Zeek conn.log TSV, VPC flow v2,
// iptables kernel lines in syslog, canonical trace JSONL, OTLP spans). The readers under
// ../inputs are tested against these and against hand-written fixtures.

/** One simulated network event. t is true time; fw is what the firewall clock said. */
export interface NetEvent {
  t: number; fw: number;
  sink: 'ids' | 'hostfw' | 'flow';
  src: string; sport: number; dst: string; dport: number; proto: 'TCP' | 'UDP';
  rule?: string; cat?: string; severity?: number;
  action: 'allowed' | 'blocked';
  up: number; down: number; durMs: number;
  host: number;
  /** Index of the planted incident this event belongs to, or -1. */
  incident: number;
  noise: boolean;
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

export function isoMs(ms: number): string { return new Date(Math.floor(ms)).toISOString(); }

/** toISOString for epoch ms, ~5x faster on runs of nearby times: the "YYYY-MM-DDTHH:MM:" prefix is cached. */
export class IsoFormatter {
  private minute = NaN;
  private prefix = '';
  format(ms: number): string {
    const m = Math.floor(ms / 60_000);
    if (m !== this.minute) { this.minute = m; this.prefix = new Date(m * 60_000).toISOString().slice(0, 17); }
    const r = Math.floor(ms - m * 60_000);
    const sec = Math.floor(r / 1000), milli = r - sec * 1000;
    return `${this.prefix}${sec < 10 ? '0' : ''}${sec}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }
}

/** Suricata's form: 2024-05-01T12:00:00.123456+0000 */
export function suricataTime(ms: number): string {
  const whole = Math.floor(ms / 1000) * 1000;
  const micros = Math.floor((ms - whole) * 1000);
  return `${new Date(whole).toISOString().slice(0, 19)}.${pad(micros, 6)}+0000`;
}

/** BSD syslog: "May  1 12:00:00" (UTC, no year). */
export function syslogTime(ms: number): string {
  const d = new Date(ms);
  const day = d.getUTCDate();
  return `${MON[d.getUTCMonth()]} ${day < 10 ? ' ' : ''}${day} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
}

export function eveAlert(e: NetEvent, flowId: number, sensor: string): string {
  const a = `{"action":"${e.action === 'blocked' ? 'blocked' : 'allowed'}","gid":1,"signature_id":${2_000_000 + (hashStr(e.rule ?? '') % 100_000)},"rev":1,"signature":${JSON.stringify(e.rule ?? '')},"category":${JSON.stringify(e.cat ?? '')},"severity":${e.severity ?? 3}}`;
  return `{"timestamp":"${suricataTime(e.fw)}","flow_id":${flowId},"in_iface":"eth0","event_type":"alert","src_ip":"${e.src}","src_port":${e.sport},"dest_ip":"${e.dst}","dest_port":${e.dport},"proto":"${e.proto}","alert":${a},"host":"${sensor}"}`;
}

export function eveFlow(e: NetEvent, flowId: number, sensor: string): string {
  const end = e.fw + e.durMs;
  const pk = (b: number): number => Math.max(1, Math.ceil(b / 1400));
  return `{"timestamp":"${suricataTime(end)}","flow_id":${flowId},"in_iface":"eth0","event_type":"flow","src_ip":"${e.src}","src_port":${e.sport},"dest_ip":"${e.dst}","dest_port":${e.dport},"proto":"${e.proto}","flow":{"pkts_toserver":${pk(e.up)},"pkts_toclient":${pk(e.down)},"bytes_toserver":${e.up},"bytes_toclient":${e.down},"start":"${suricataTime(e.fw)}","end":"${suricataTime(end)}","age":${Math.round(e.durMs / 1000)},"state":"${e.action === 'blocked' ? 'new' : 'closed'}","reason":"timeout","alerted":false},"host":"${sensor}"}`;
}

export const ZEEK_HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]',
];

export function zeekRow(e: NetEvent, uid: string): string {
  const blocked = e.action === 'blocked';
  const service = e.dport === 22 ? 'ssh' : e.dport === 443 ? 'ssl' : e.dport === 80 ? 'http' : '-';
  const op = Math.max(1, Math.ceil(e.up / 1400)), rp = blocked ? 0 : Math.max(1, Math.ceil(e.down / 1400));
  const local = e.dst.startsWith('10.') || e.dst.startsWith('172.16.') ? 'T' : 'F';
  return [(e.fw / 1000).toFixed(6), uid, e.src, e.sport, e.dst, e.dport, e.proto.toLowerCase(), service, (e.durMs / 1000).toFixed(6),
    blocked ? 0 : e.up, blocked ? 0 : e.down, blocked ? 'REJ' : 'SF', 'T', local, 0, blocked ? 'Sr' : 'ShADadFf', op, op * 60 + e.up, rp, rp * 52 + e.down, '(empty)'].join('\t');
}

export const VPC_HEADER = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';

export function vpcRow(e: NetEvent, eni: string): string {
  const start = Math.floor(e.fw / 1000);
  const pk = Math.max(1, Math.ceil((e.up + e.down) / 1400));
  return `2 123456789012 ${eni} ${e.src} ${e.dst} ${e.sport} ${e.dport} ${e.proto === 'TCP' ? 6 : 17} ${pk} ${e.up + e.down} ${start} ${start + 60} ${e.action === 'blocked' ? 'REJECT' : 'ACCEPT'} OK`;
}

export function iptablesLine(e: NetEvent, host: string, bootMs: number, ipId: number): string {
  const up = ((e.fw - bootMs) / 1000).toFixed(6).padStart(12, ' ');
  return `${syslogTime(e.fw)} ${host} kernel: [${up}] ${e.rule ?? 'FW-DROP'} IN=veth${e.sport % 16} OUT=eth0 MAC=02:42:ac:11:00:02:02:42:ac:11:00:03:08:00 SRC=${e.src} DST=${e.dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${ipId} DF PROTO=${e.proto} SPT=${e.sport} DPT=${e.dport} WINDOW=64240 RES=0x00 SYN URGP=0`;
}

export interface SimCall {
  run: string; episode: string; step: number; id: string; tool: 'bash' | 'python'; command: string;
  start: number; end: number; host: string; sandbox: string; ip: string;
}

export function canonicalLine(c: SimCall, withIp: boolean, iso: IsoFormatter): string {
  return `{"run":"${c.run}","episode":"${c.episode}","step":${c.step},"tool_call_id":"${c.id}","tool":"${c.tool}","command":${JSON.stringify(c.command)},"ts":"${iso.format(c.start)}","end_ts":"${iso.format(c.end)}","host":"${c.host}","sandbox":"${c.sandbox}"${withIp ? `,"ip":"${c.ip}"` : ''}}`;
}

const sAttr = (k: string, v: string): string => `{"key":"${k}","value":{"stringValue":${JSON.stringify(v)}}}`;
const iAttr = (k: string, v: number): string => `{"key":"${k}","value":{"intValue":"${v}"}}`;

/** One resourceSpans element for an episode: a chat span per model turn and an execute_tool span per call. */
export function otlpEpisode(calls: SimCall[], traceId: string, modelStarts: number[], withIp: boolean): string {
  const c0 = calls[0]!;
  const res = [sAttr('host.name', c0.host), sAttr('container.id', c0.sandbox), sAttr('service.name', 'rl-agent'), sAttr('run', c0.run), sAttr('episode', c0.episode)];
  if (withIp) res.push(`{"key":"host.ip","value":{"arrayValue":{"values":[{"stringValue":"${c0.ip}"}]}}}`);
  const spans: string[] = [];
  calls.forEach((c, i) => {
    const ms = modelStarts[i];
    if (ms !== undefined) spans.push(`{"traceId":"${traceId}","spanId":"${traceId.slice(0, 12)}m${pad(i, 3)}","name":"chat model","kind":3,"startTimeUnixNano":"${ns(ms)}","endTimeUnixNano":"${ns(c.start)}","attributes":[${sAttr('gen_ai.operation.name', 'chat')}]}`);
    const args = JSON.stringify(JSON.stringify(c.tool === 'python' ? { code: c.command } : { command: c.command }));
    spans.push(`{"traceId":"${traceId}","spanId":"${traceId.slice(0, 12)}t${pad(i, 3)}","name":"execute_tool ${c.tool}","kind":1,"startTimeUnixNano":"${ns(c.start)}","endTimeUnixNano":"${ns(c.end)}","attributes":[${sAttr('gen_ai.operation.name', 'execute_tool')},${sAttr('gen_ai.tool.name', c.tool)},${sAttr('gen_ai.tool.call.id', c.id)},{"key":"gen_ai.tool.call.arguments","value":{"stringValue":${args}}},${iAttr('step', c.step)}]}`);
  });
  return `{"resource":{"attributes":[${res.join(',')}]},"scopeSpans":[{"scope":{"name":"corral-fleet-sim"},"spans":[${spans.join(',')}]}]}`;
}

function ns(ms: number): string { return `${Math.floor(ms)}${pad(Math.min(999_999, Math.round((ms - Math.floor(ms)) * 1e6)), 6)}`; }

function hashStr(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
