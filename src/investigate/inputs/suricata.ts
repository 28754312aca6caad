// Why: Suricata's eve.json is the most common IDS output next to a cloud firewall. Its alert
// events carry the signature that says "crypto mining" or "SSH tunnel"; its flow events give
// the benign background. Other event types (dns, http, tls, stats, …) are skipped and
// counted without a full JSON parse, because they dominate eve files. Lines are read through
// the native JSON Lines scanner (fields indexed in C, every byte validated); a line it cannot
// vouch for is parsed with JSON.parse. Both paths run the same field logic (eventFields).
import { isBlank, isObj, lineCtx, mkRecord, parseObject, type LineCtx, type NetReader } from './base.js';
import { deriveCategory, METADATA_DSTS, MINING_PORTS } from './category.js';
import type { FlowPairs } from './flow-pairs.js';
import { F_ESC, F_HIGH, T_ABSENT, T_NUM, T_OBJ, T_STR, type JsonLineScanner, type KeyPath } from './json-lines.js';
import { readJsonLines } from './json-lines-read.js';
import { given, normaliseAction, normaliseProto, normaliseSeverity, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';
import type { TsParser } from './timestamps.js';

/** The fields an eve event is read by; index = position in KEYS. */
const KEYS: readonly KeyPath[] = [
  'event_type', 'src_ip', 'dest_ip', 'src_port', 'dest_port', 'proto', 'host', 'in_iface', 'timestamp', 'direction', 'flow',
  ['flow', 'src_ip'], ['flow', 'dest_ip'], ['flow', 'src_port'], ['flow', 'dest_port'], ['flow', 'start'],
  ['flow', 'bytes_toserver'], ['flow', 'bytes_toclient'], ['flow', 'action'],
  'alert', ['alert', 'signature'], ['alert', 'signature_id'], ['alert', 'severity'], ['alert', 'action'], ['alert', 'category'],
];
const EVENT_TYPE = 0, SRC_IP = 1, DEST_IP = 2, SRC_PORT = 3, DEST_PORT = 4, PROTO = 5, HOST = 6, IN_IFACE = 7, TIMESTAMP = 8, DIRECTION = 9, FLOW = 10;
const F_SRC_IP = 11, F_DEST_IP = 12, F_SRC_PORT = 13, F_DEST_PORT = 14, F_START = 15, F_TOSERVER = 16, F_TOCLIENT = 17, F_ACTION = 18;
const ALERT = 19, A_SIGNATURE = 20, A_SID = 21, A_SEVERITY = 22, A_ACTION = 23, A_CATEGORY = 24;

/** One event's fields, from a parsed object or from the scanner's index. */
interface EventView {
  get(k: number): unknown;
  isObj(k: number): boolean;
  /** The timestamp in key k through the reader's TsParser (NaN when unusable). */
  time(k: number): number;
}

/**
 * The value of "event_type" found by text search, or undefined when it cannot be found that way
 * (the line is then parsed whole). Only trusted for the event's own key: no other object or list
 * opens before it (one nested earlier, {"tls":{"event_type":"dns"},"event_type":"alert"}, is not
 * the event's) except AWS Network Firewall's "event":{ envelope, with no second "event_type"
 * after it; and only for a value without escapes ("\u0061lert" is "alert").
 */
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
  if (e < 0) return undefined;
  const v = text.slice(i + 1, e);
  if (v.includes('\\')) return undefined;
  const top = text.indexOf('{');
  let inner = -1;
  for (let j = top + 1; j < k; j++) {
    const c = text.charCodeAt(j);
    if (c !== 123 && c !== 91) continue;
    if (c === 123 && inner < 0 && /"event"\s*:\s*$/.test(text.slice(Math.max(top, j - 16), j))) { inner = j; continue; }
    return undefined;
  }
  if (inner >= 0 && text.indexOf('"event_type"', e) >= 0) return undefined;
  return v;
}

/** Reads one alert/flow/netflow/drop event into a record (netflow: a flow, as AWS Network Firewall logs them), or reports why it is bad; other types are counted as skipped. */
function eventFields(v: EventView, { file, stats, cats }: LineCtx, line: number, onRecord: Parameters<NetReader['read']>[1]): void {
  const et = v.get(EVENT_TYPE);
  if (typeof et !== 'string') { stats.badLine(line, 'missing field "event_type" (string)'); return; }
  if (et !== 'alert' && et !== 'flow' && et !== 'drop' && et !== 'netflow') { stats.skip(et); return; }
  const flow = v.isObj(FLOW);
  // Alerts on a reply packet (direction to_client) have src/dest swapped; flow.* keeps the
  // orientation of the connection (who opened it), which is what ties it to a sandbox.
  const swap = v.get(DIRECTION) === 'to_client' && flow && typeof v.get(F_SRC_IP) === 'string';
  // Suricata before 7 writes neither `direction` nor `flow.src_ip`: an alert on a reply packet — a pool's job
  // notification, an SSH server's banner, which many mining and tunnel signatures match (`to_client`) — has the
  // server as its source, and keyed by it the alert met no tool call. Such an alert is read as a reply when its
  // ports say so: from a port below the ephemeral range to one in it (32768 and up: Linux's 32768–60999 and
  // Windows' 49152–65535), and the packet's addresses and ports are swapped back.
  // (a `to_client` alert without flow.* is turned around by its packet's own fields, no guess needed)
  const byPorts = !swap && et === 'alert' && v.get(DIRECTION) === undefined && v.get(F_SRC_IP) === undefined && replyPorts(v.get(SRC_PORT), v.get(DEST_PORT));
  const reply = byPorts || (!swap && et === 'alert' && v.get(DIRECTION) === 'to_client');
  if (byPorts) stats.tally('alerts on reply packets (no "direction": Suricata before 7) read by their ports, server port to ephemeral port, and turned around', line);
  const src = v.get(swap ? F_SRC_IP : reply ? DEST_IP : SRC_IP);
  const dst = v.get(swap ? F_DEST_IP : reply ? SRC_IP : DEST_IP);
  if (typeof src !== 'string' || typeof dst !== 'string') { stats.badLine(line, 'missing field "src_ip" or "dest_ip" (string)'); return; }
  const tk = et === 'flow' && flow && v.get(F_START) !== undefined ? F_START : TIMESTAMP;
  const t = v.time(tk);
  if (Number.isNaN(t)) { stats.badLine(line, `missing or unparseable timestamp ${JSON.stringify(v.get(tk))}`); return; }
  const r = mkRecord(t, et === 'alert' ? 'alert' : 'flow', src, dst, file, line);
  const sp = v.get(swap ? F_SRC_PORT : reply ? DEST_PORT : SRC_PORT), dp = v.get(swap ? F_DEST_PORT : reply ? SRC_PORT : DEST_PORT);
  r.sport = toPort(sp);
  r.dport = toPort(dp);
  // (-1, 70000, 80.5: no port; the record is kept without it, and that is said, as generic.ts does)
  if (r.sport === undefined && given(sp)) stats.tally('source ports not 0..65535 dropped, the records kept', line);
  if (r.dport === undefined && given(dp)) stats.tally('destination ports not 0..65535 dropped, the records kept', line);
  r.proto = normaliseProto(v.get(PROTO));
  r.host = toStr(v.get(HOST)) ?? toStr(v.get(IN_IFACE));
  if (flow) {
    const up = toCount(v.get(F_TOSERVER)), down = toCount(v.get(F_TOCLIENT));
    if (up !== undefined || down !== undefined) r.bytes = (up ?? 0) + (down ?? 0);
  }
  let text2: string | undefined;
  if (et === 'alert') {
    if (!v.isObj(ALERT)) { stats.badLine(line, 'alert event without an "alert" object'); return; }
    const sid = v.get(A_SID);
    r.rule = toStr(v.get(A_SIGNATURE)) ?? (sid !== undefined ? `sid:${String(sid)}` : undefined);
    r.severity = normaliseSeverity(v.get(A_SEVERITY));
    r.action = normaliseAction(v.get(A_ACTION)) ?? 'alert';
    const cat = toStr(v.get(A_CATEGORY));
    text2 = cat !== undefined && r.rule !== undefined ? `${cat} | ${r.rule}` : cat ?? r.rule;
  } else if (et === 'drop') {
    r.action = 'blocked';
  } else {
    r.action = normaliseAction(flow ? v.get(F_ACTION) : undefined) ?? undefined;
  }
  r.category = deriveCategory({ kind: r.kind, dst: r.dst, dport: r.dport, text: text2 }, cats);
  stats.records++;
  onRecord(r);
}

/** A packet from a server's port (below the ephemeral range) to a client's ephemeral port (32768 and up). */
function replyPorts(sp: unknown, dp: unknown): boolean {
  const s = toPort(sp), d = toPort(dp);
  return s !== undefined && d !== undefined && s > 0 && s < 32768 && d >= 32768;
}

/** The same fields from a JSON.parse'd object. */
class ObjectView implements EventView {
  o: Record<string, unknown> = {};
  constructor(private readonly ts: TsParser) {}
  get(k: number): unknown {
    const key = KEYS[k]!;
    if (typeof key === 'string') return this.o[key];
    const p = this.o[key[0]];
    return isObj(p) ? p[key[1]] : undefined;
  }
  isObj(k: number): boolean { return isObj(this.get(k)); }
  time(k: number): number { return this.ts.parse(this.get(k)); }
}

/** The same fields from the scanner's index (strings are built only when asked for). */
class IndexView implements EventView {
  sc!: JsonLineScanner; buf!: Buffer; i = 0;
  constructor(private readonly ts: TsParser) {}
  get(k: number): unknown { return this.sc.value(this.buf, this.i, k); }
  isObj(k: number): boolean { return (this.sc.tf(this.i, k) & 15) === T_OBJ; }
  time(k: number): number {
    const tf = this.sc.tf(this.i, k), ms = this.sc.num(this.i, k);
    // A zoned ISO string was converted in C exactly as TsParser.iso() converts it.
    return (tf & 15) === T_STR && ms === ms ? this.ts.acceptZoned(ms) : this.ts.parse(this.get(k));
  }
}

const ET = Buffer.from('"event_type"');
const METADATA = [...METADATA_DSTS].map((a) => Buffer.from(a));

/** Key k is a non-empty string without escapes or bytes ≥ 0x80 (its bytes are its value). */
function plainString(sc: JsonLineScanner, i: number, k: number): boolean {
  return (sc.tf(i, k) & (15 | F_ESC | F_HIGH)) === T_STR && sc.len(i, k) > 0;
}

/**
 * A flow event that eventFields() would turn into a record that is not alert-like (plain ASCII
 * addresses, no metadata destination, no mining port or port 22, no flow.action, a zoned time
 * the scanner converted, not a reply-direction event): only counted and its addresses queued.
 */
function hasColon(buf: Buffer, off: number, len: number): boolean {
  for (let k = off; k < off + len; k++) if (buf[k] === 58) return true;
  return false;
}

function plainFlow(sc: JsonLineScanner, buf: Buffer, i: number, ctx: LineCtx, pairs: FlowPairs): boolean {
  const o = sc.off(i, EVENT_TYPE);
  if (sc.len(i, EVENT_TYPE) !== 4 || buf[o] !== 102 || buf[o + 1] !== 108 || buf[o + 2] !== 111 || buf[o + 3] !== 119) return false; // "flow"
  if ((sc.tf(i, DIRECTION) & 15) !== T_ABSENT) return false;
  if (!plainString(sc, i, SRC_IP) || !plainString(sc, i, DEST_IP)) return false;
  const dOff = sc.off(i, DEST_IP), dLen = sc.len(i, DEST_IP);
  // IPv6 (a ':' in either address) is spelt canonically by the record path (normalise.ts canonicalIp).
  if (hasColon(buf, sc.off(i, SRC_IP), sc.len(i, SRC_IP)) || hasColon(buf, dOff, dLen)) return false;
  for (const m of METADATA) if (dLen === m.length && buf.compare(m, 0, m.length, dOff, dOff + dLen) === 0) return false;
  const flow = (sc.tf(i, FLOW) & 15) === T_OBJ;
  if (flow && (sc.tf(i, F_ACTION) & 15) !== T_ABSENT) return false;
  const pt = sc.tf(i, DEST_PORT) & 15;
  if (pt === T_NUM) { const p = sc.num(i, DEST_PORT); if (!Number.isInteger(p) || p < 0 || p > 65535 || p === 22 || MINING_PORTS.has(p)) return false; }
  else if (pt !== T_ABSENT) return false;
  const tk = flow && (sc.tf(i, F_START) & 15) !== T_ABSENT ? F_START : TIMESTAMP;
  const ms = sc.num(i, tk);
  if ((sc.tf(i, tk) & 15) !== T_STR || ms !== ms) return false;
  ctx.ts.acceptZoned(ms);
  ctx.stats.records++;
  pairs.taken++;
  pairs.push(buf, dOff, dLen, sc.off(i, SRC_IP), sc.len(i, SRC_IP));
  return true;
}

export const suricataEveReader: NetReader = {
  format: 'suricata-eve',
  async read(path, onRecord, opts = {}) {
    const ctx = lineCtx(path, 'suricata-eve', opts);
    const { stats, ts } = ctx;
    const ov = new ObjectView(ts), iv = new IndexView(ts);
    const pairs = opts.pairs;
    const slow = (text: string, line: number, info: { unterminated: boolean }): void => {
      if (isBlank(text)) return;
      const sniffed = sniffEventType(text);
      if (sniffed !== undefined && sniffed !== 'alert' && sniffed !== 'flow' && sniffed !== 'drop' && sniffed !== 'netflow') { stats.skip(sniffed); return; }
      const o = parseObject(text);
      if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
      // AWS Network Firewall wraps each eve event: {"firewall_name", "event_timestamp", "event": {…}}.
      const inner = o.event_type === undefined ? o.event : undefined;
      if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && typeof (inner as Record<string, unknown>).event_type === 'string') {
        const e = inner as Record<string, unknown>;
        ov.o = e.host === undefined && typeof o.firewall_name === 'string' ? { ...e, host: o.firewall_name } : e;
      } else ov.o = o;
      eventFields(ov, ctx, line, onRecord);
    };
    const fast = (sc: JsonLineScanner, buf: Buffer, i: number, line: number): boolean => {
      // The text search of the full path must find this same "event_type" (not one nested
      // earlier), and read the same value (it does not decode escapes).
      // (The key is on this line, so the search never runs past it.)
      const tf = sc.tf(i, EVENT_TYPE);
      if ((tf & 15) !== T_STR || (tf & F_ESC) || buf.indexOf(ET, sc.lineStart(i)) + 14 !== sc.off(i, EVENT_TYPE)) return false;
      if (pairs && plainFlow(sc, buf, i, ctx, pairs)) return true;
      iv.sc = sc; iv.buf = buf; iv.i = i;
      eventFields(iv, ctx, line, onRecord);
      return true;
    };
    // Queued address pairs point into the scanner's buffer: added before its bytes change.
    const batch = (): void => pairs?.flush();
    const res = await readJsonLines(path, KEYS, { fast, slow, batch }, { range: opts.range, onProgress: opts.onProgress });
    opts.onLines?.(res.lines);
    if (res.error) stats.badLine(res.error.line, res.error.message);
    return stats.finish(ts, res.bytes, res.overlong);
  },
};
