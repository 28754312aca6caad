// Why: turns bpftrace's JSON lines into typed sensor records. Kept pure (no processes)
// so the decoding of hostile input can be unit-tested: argv is attacker-controlled, so a
// tab, newline, quote or non-UTF-8 byte in it must never shift fields or forge a record.
// bpftrace 0.17's JSON escaper is non-standard (bytes >= 0x80 come out as \uffffffXX), so
// JSON.parse is not used on printf lines; `unescapeBpfJson` is its exact inverse.

import { ARGV_CHUNK, ARGV_MAX_CHUNKS, BPF_STRLEN, READY_TOKEN } from './bpftrace-program.js';

/** Timestamps are CLOCK_MONOTONIC ns (bpf ktime), the same clock as process.hrtime.bigint(). */
export interface ExecRecord {
  /** ppid (and grandparents): the parent line when the exec started, if its parent exited before the exec ended (withEnterParents). */
  kind: 'exec'; tsNs: bigint; pid: number; ppid: number; cgroupId: string; argv: string[]; filename: string; truncated: boolean;
  /** argv left out by the kernel because the tool call's argv budget was spent (an exec flood): truncated too. */
  argvCut?: true;
  /** Which of fds 0, 1, 2 the new image got as a TCP socket (successful execs; absent when none). */
  stdioSocket?: number[];
  /** Which of them are a pipe or a unix stream socket (absent when none). */
  stdioPipe?: number[];
  /** Which of them are a pseudo-terminal (/dev/pts; absent when none). */
  stdioPty?: number[];
  /** The pid at the other end of a unix stream socket on stdin (its listener, or the socketpair's maker); absent when none. */
  stdinPeer?: number;
  /** The parent's parent and the one above it, as the kernel had them at the exec (absent when unknown). */
  grandparents?: number[];
  /** Inode of the pipe or FIFO on stdin, and of the one on stdout (else stderr); each absent when none. */
  pipeIn?: number;
  pipeOut?: number;
  /** ok: the new image runs (argv read from its memory after exec); failed: execve returned errno; unknown: no result seen. */
  result?: 'ok' | 'failed' | 'unknown';
  errno?: number;
  /** The kernel's exe_file of the new image has no link left (a memfd, O_TMPFILE, a deleted file): fileless. */
  exeUnlinked?: true;
  /** The new image's file as `dev:inode` (what a process forked from it later still runs). */
  exe?: string;
}
export interface ExitRecord { kind: 'exit'; tsNs: bigint; pid: number; ppid: number; cgroupId: string; exitCode: number; signal?: number; comm: string }
/** A connect() attempt, or (via 'sendto') a datagram sent to an explicit destination (sendto/sendmsg). */
export interface ConnectRecord { kind: 'connect'; tsNs: bigint; pid: number; ppid: number; cgroupId: string; family: 'inet' | 'inet6'; ip: string; port: number; comm: string; via?: 'sendto'; /** The file the process runs, `dev:inode` (the kernel's, not its comm). */ exe?: string; /** An AF_INET6 socket to an IPv4-mapped address (ip is the IPv4). */ mapped?: true }
export interface SynRecord { kind: 'syn'; tsNs: bigint; pid: number; cgroupId: string; saddr: string; sport: number; daddr: string; dport: number }
/** A socket() the sandbox's seccomp filter refused: family and type as asked, errno as answered (1 EPERM, 97 EAFNOSUPPORT). */
export interface SocketDeniedRecord { kind: 'socket_denied'; tsNs: bigint; pid: number; ppid: number; cgroupId: string; family: number; type: number; errno: number; comm: string }
/** A UDP datagram's source port, sent to port 53 (connected socket) or unconnected (dport 0): joins a DNS query to its sender. */
export interface UdpSourceRecord { kind: 'udp_source'; tsNs: bigint; pid: number; cgroupId: string; sport: number; dport: number }
/** A cgroup went past a datagram record budget (U, D, or N on a non-stream socket): its next sends in that window are unrecorded. */
export interface BudgetOverflowRecord { kind: 'overflow'; tsNs: bigint; pid: number; cgroupId: string }
/** A sandbox process connected a unix socket by path whose listener is outside its sandbox (a host process, another sandbox). */
export interface UnixOutsideRecord { kind: 'unix_outside'; tsNs: bigint; pid: number; ppid: number; cgroupId: string; type: number; path: string }

export type SensorRecord = ExecRecord | ExitRecord | ConnectRecord | SynRecord | SocketDeniedRecord | UdpSourceRecord | BudgetOverflowRecord | UnixOutsideRecord;

const PRINTF_PREFIX = '{"type": "printf", "data": "';
const PRINTF_SUFFIX = '\\n"}';

/** Control lines of bpftrace's JSON output that are not printf records. */
export type ControlLine = { type: 'attached'; probes: number } | { type: 'lost'; events: number } | { type: 'ready' } | { type: 'mark'; cpu: number; token: string } | { type: 'other'; line: string };

/** Inverse of bpftrace 0.17 JsonOutput::json_escape, on a latin1 string (1 char = 1 byte). Returns bytes. */
export function unescapeBpfJson(s: string): Buffer {
  if (s.indexOf('\\') < 0) return Buffer.from(s, 'latin1');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c) { out.push(c & 0xff); continue; }
    const n = s[i + 1];
    i++;
    switch (n) {
      case '"': out.push(0x22); break;
      case '\\': out.push(0x5c); break;
      case 'n': out.push(0x0a); break;
      case 'r': out.push(0x0d); break;
      case 't': out.push(0x09); break;
      case 'u':
        if (s.startsWith('ffffff', i + 1)) { out.push(parseInt(s.slice(i + 7, i + 9), 16)); i += 8; }
        else { out.push(parseInt(s.slice(i + 1, i + 5), 16) & 0xff); i += 4; }
        break;
      default: out.push(0x5c); if (n !== undefined) out.push(n.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** `%rx` output (each byte as \xNN; JSON-escaped as \\xNN) to bytes. */
export function decodeHexField(s: string): Buffer {
  return Buffer.from(s.replace(/\\\\x/g, ''), 'hex');
}

function text(s: string): string { return unescapeBpfJson(s).toString('utf8'); }

/** Splits the first n tab-separated numeric fields off a data string; the rest is the free-text field. */
function fields(data: string, n: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let k = 0; k < n; k++) {
    const j = data.indexOf('\\t', start);
    if (j < 0) { out.push(data.slice(start)); return out; }
    out.push(data.slice(start, j));
    start = j + 2;
  }
  out.push(data.slice(start));
  return out;
}

export function formatIpv6(b: Buffer): string {
  if (b.length !== 16) return '';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestS = -1, bestL = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && g[j] === 0) j++;
    if (j - i > bestL && j - i > 1) { bestS = i; bestL = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestS < 0) return hex.join(':');
  return `${hex.slice(0, bestS).join(':')}::${hex.slice(bestS + bestL).join(':')}`;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is on the wire; others unchanged.
 * Threat it stops: an AF_INET6 socket connecting to ::ffff:203.0.113.66 gave the kernel's 4-tuple
 * record a key the gateway (which sees IPv4) never looked up, so the flow lost its process: no pid,
 * attribution inferred to whatever call was running, and response.kill never fired.
 */
export function unmapIpv4(ip: string): string {
  const m = MAPPED_V4.exec(ip);
  return m ? m[1]! : ip;
}

/**
 * Decodes the sockaddr bytes captured at connect(): AF_INET (8 bytes) or AF_INET6 (24 bytes). An
 * IPv4-mapped AF_INET6 destination is IPv4 on the wire and is reported as such (`mapped: true`).
 */
export function decodeSockaddr(b: Buffer): { family: 'inet' | 'inet6'; ip: string; port: number; mapped?: true } | undefined {
  if (b.length < 8) return undefined;
  const fam = b.readUInt16LE(0);
  const port = b.readUInt16BE(2);
  if (fam === 2) return { family: 'inet', ip: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port };
  if (fam === 10 && b.length >= 24) {
    const ip = formatIpv6(b.subarray(8, 24));
    const v4 = unmapIpv4(ip);
    return v4 !== ip ? { family: 'inet', ip: v4, port, mapped: true } : { family: 'inet6', ip, port };
  }
  return undefined;
}

interface EnterState { args: string[]; full: boolean[]; cg: string; tid: number; arrived: number }
interface PendingExec { enter?: { pid: number; ppid: number; above: number[]; more: boolean; cut: boolean; filename: string; args: string[]; truncated: boolean; cg: string; ts: bigint }; arrived: number }
interface PostExec { cg: string; filename: string; chunks: { at: number; bytes: Buffer }[]; pipes?: Pick<ExecRecord, 'pipeIn' | 'pipeOut'> }

export interface AssemblerOptions {
  /** Cheap pre-filter on the cgroup id (decimal string); false drops the line before decoding. */
  keep: (cgroupId: string, pid: number) => boolean;
  emit: (r: SensorRecord) => void;
  control?: (c: ControlLine) => void;
  /** Ms before an exec with no result line is emitted as result 'unknown'. */
  staleMs?: number;
}

/**
 * Stateful line consumer. Exec lines of one execve are contiguous per CPU, but the enter
 * and the exec/fail lines may come from different CPUs and thus out of order; they are
 * joined on (tid, enter timestamp).
 */
export class RecordAssembler {
  private argsByKey = new Map<string, EnterState>();
  /** The R lines: the parent's parents while an exec starts, until its E line takes them. */
  private enterParents = new Map<string, { above: number[]; arrived: number }>();
  private pending = new Map<string, PendingExec>();
  private post = new Map<string, PostExec>();
  /** Keys already resolved by an exec/fail line that arrived before their enter line. */
  private resolved = new Map<string, { at: number; errno?: number; rec?: ExecRecord }>();
  readonly staleMs: number;
  lines = 0;

  constructor(private opts: AssemblerOptions) { this.staleMs = opts.staleMs ?? 3000; }

  line(raw: string): void {
    this.lines++;
    if (!raw.startsWith(PRINTF_PREFIX)) { this.controlLine(raw); return; }
    const end = raw.endsWith(PRINTF_SUFFIX) ? raw.length - PRINTF_SUFFIX.length : raw.length - 2;
    const data = raw.slice(PRINTF_PREFIX.length, end);
    const tag = data[0];
    const body = data.slice(3);
    switch (tag) {
      case 'A': return this.onA(body);
      case 'R': return this.onR(body);
      case 'E': return this.onE(body);
      case 'P': return this.onP(body);
      case 'C': return this.onC(body);
      case 'I': return this.onI(body);
      case 'X': return this.onX(body);
      case 'F': return this.onF(body);
      case 'Q': return this.onQ(body);
      case 'N': return this.onN(body);
      case 'U': return this.onN(body, 'sendto');
      case 'S': return this.onS(body);
      case 'K': return this.onK(body);
      case 'W': return this.onW(body);
      case 'D': return this.onD(body);
      case 'O': return this.onO(body);
      case 'B': if (body.endsWith(READY_TOKEN)) this.opts.control?.({ type: 'ready' }); return;
      case 'M': { const [cpu = '', lo = '', hi = ''] = fields(body, 2); this.opts.control?.({ type: 'mark', cpu: Number(cpu), token: `${lo}:${hi}` }); return; }
      default: this.opts.control?.({ type: 'other', line: raw });
    }
  }

  private controlLine(raw: string): void {
    const t = raw.trim();
    if (!t) return;
    try {
      const j = JSON.parse(t) as { type?: string; data?: { probes?: number; events?: number } };
      if (j.type === 'attached_probes') return this.opts.control?.({ type: 'attached', probes: Number(j.data?.probes ?? 0) });
      if (j.type === 'lost_events') return this.opts.control?.({ type: 'lost', events: Number(j.data?.events ?? 0) });
    } catch { /* text line */ }
    const m = /^Lost (\d+) events/.exec(t);
    if (m) return this.opts.control?.({ type: 'lost', events: Number(m[1]) });
    this.opts.control?.({ type: 'other', line: t });
  }

  private onA(b: string): void {
    const [cg = '', tid = '', key = '', , arg = ''] = fields(b, 4);
    if (!this.opts.keep(cg, Number(tid))) return;
    const k = `${tid}:${key}`;
    let st = this.argsByKey.get(k);
    if (!st) { st = { args: [], full: [], cg, tid: Number(tid), arrived: Date.now() }; this.argsByKey.set(k, st); }
    const s = text(arg);
    st.args.push(s);
    st.full.push(Buffer.byteLength(s) >= BPF_STRLEN - 1);
  }

  private onR(b: string): void {
    const [tid = '', key = '', gpp = '', ggpp = ''] = fields(b, 3);
    this.enterParents.set(`${tid}:${key}`, { above: grandparents(gpp, ggpp).grandparents ?? [], arrived: Date.now() });
  }

  private onE(b: string): void {
    const [cg = '', tid = '', key = '', pid = '', ppid = '', more = '', filename = ''] = fields(b, 6);
    const k = `${tid}:${key}`;
    const st = this.argsByKey.get(k);
    this.argsByKey.delete(k);
    const above = this.enterParents.get(k)?.above ?? [];
    this.enterParents.delete(k);
    if (!this.opts.keep(cg, Number(tid))) return;
    const enter = {
      pid: Number(pid), ppid: Number(ppid), above, more: more === '1' || more === '2', cut: more === '2', filename: text(filename),
      args: st?.args ?? [], truncated: more === '1' || more === '2' || (st?.full.some(Boolean) ?? false), cg, ts: BigInt(key),
    };
    const r = this.resolved.get(k);
    if (r) {
      this.resolved.delete(k);
      if (r.rec) { this.opts.emit(withEnterParents(r.rec, enter)); return; }
      this.emitEnter(enter, 'failed', r.errno);
      return;
    }
    this.pending.set(k, { enter, arrived: Date.now() });
  }

  private emitEnter(e: NonNullable<PendingExec['enter']>, result: 'failed' | 'unknown', errno?: number): void {
    const rec: ExecRecord = { kind: 'exec', tsNs: e.ts, pid: e.pid, ppid: e.ppid, cgroupId: e.cg, argv: e.args, filename: e.filename, truncated: e.truncated, result, ...(e.cut ? { argvCut: true as const } : {}) };
    if (errno !== undefined) rec.errno = errno;
    this.opts.emit(rec);
  }

  private onP(b: string): void {
    const [cg = '', tid = '', key = '', filename = ''] = fields(b, 3);
    if (!this.opts.keep(cg, Number(tid))) return;
    this.post.set(`${tid}:${key}`, { cg, filename: text(filename), chunks: [] });
  }

  private onI(b: string): void {
    const [tid = '', key = '', pin = '', pout = ''] = fields(b, 3);
    const p = this.post.get(`${tid}:${key}`);
    if (p) p.pipes = pipeInodes(pin, pout);
  }

  private onC(b: string): void {
    const [tid = '', key = '', at = '', hex = ''] = fields(b, 3);
    const p = this.post.get(`${tid}:${key}`);
    if (p && /^-?\d+$/.test(at)) p.chunks.push({ at: Number(at), bytes: decodeHexField(hex) });
  }

  private onX(b: string): void {
    const [cg = '', tid = '', key = '', pid = '', ppid = '', total = '', ts = '', unlinked = '', ino = '', dev = '', cut = '', stdio = '', peer = '', gpp = '', ggpp = ''] = fields(b, 14);
    const k = `${tid}:${key}`;
    const p = this.post.get(k);
    this.post.delete(k);
    if (!p) return;
    const totalN = Number.isFinite(Number(total)) ? Number(total) : 0;
    const cap = ARGV_CHUNK * ARGV_MAX_CHUNKS;
    // each chunk in its place (the last may overlap the one before, or start before argv: those bytes are not argv);
    // a chunk lost on the way (a full ring) leaves a gap: the argv ends where the gap starts, marked truncated
    const size = Math.max(0, Math.min(totalN, cap));
    let bytes: Buffer = Buffer.alloc(size);
    const ranges: [number, number][] = [];
    for (const c of p.chunks) {
      const from = Math.max(0, -c.at), to = Math.min(c.bytes.length, size - c.at);
      if (to > from) { c.bytes.copy(bytes, c.at + from, from, to); ranges.push([c.at + from, c.at + to]); }
    }
    let covered = 0;
    for (const [a, b] of ranges.sort((x, y) => x[0] - y[0])) { if (a > covered) break; covered = Math.max(covered, b); }
    bytes = bytes.subarray(0, covered);
    const truncated = totalN > cap || covered < size;
    if (bytes.length && bytes[bytes.length - 1] === 0) bytes = bytes.subarray(0, bytes.length - 1);
    const argv = bytes.length || (totalN > 0 && covered > 0) ? bytes.toString('latin1').split('\0').map((a) => Buffer.from(a, 'latin1').toString('utf8')) : [];
    const rec: ExecRecord = {
      kind: 'exec', tsNs: key !== '0' ? BigInt(key) : BigInt(ts), pid: Number(pid), ppid: Number(ppid), cgroupId: cg,
      argv, filename: p.filename, truncated, result: 'ok', ...(unlinked === '1' ? { exeUnlinked: true as const } : {}),
      ...(cut === '1' ? { argvCut: true as const } : {}), ...stdioFds(stdio), ...(/^[1-9]\d{0,9}$/.test(peer) ? { stdinPeer: Number(peer) } : {}),
      ...grandparents(gpp, ggpp), ...p.pipes,
      ...exeKey(ino, dev),
    };
    if (key === '0') { this.opts.emit(rec); return; }
    const enter = this.pending.get(k)?.enter;
    if (this.pending.delete(k)) { this.opts.emit(withEnterParents(rec, enter)); return; }
    // Enter line not here yet (other CPU): emit when it arrives, or on sweep.
    this.resolved.set(k, { at: Date.now(), rec });
  }

  private onF(b: string): void {
    const [cg = '', tid = '', key = '', ret = ''] = fields(b, 3);
    if (!this.opts.keep(cg, Number(tid))) return;
    const k = `${tid}:${key}`;
    const p = this.pending.get(k);
    if (p?.enter) { this.pending.delete(k); this.emitEnter(p.enter, 'failed', -Number(ret)); return; }
    this.resolved.set(k, { at: Date.now(), errno: -Number(ret) });
  }

  private onQ(b: string): void {
    const [cg = '', pid = '', ts = '', ppid = '', code = '', comm = ''] = fields(b, 5);
    if (!this.opts.keep(cg, Number(pid))) return;
    const c = Number(code);
    const rec: ExitRecord = { kind: 'exit', tsNs: BigInt(ts), pid: Number(pid), ppid: Number(ppid), cgroupId: cg, exitCode: (c >> 8) & 0xff, comm: text(comm) };
    if (c & 0x7f) rec.signal = c & 0x7f;
    this.opts.emit(rec);
  }

  private onN(b: string, via?: 'sendto'): void {
    const [cg = '', pid = '', ts = '', ppid = '', hex = '', ino = '', dev = '', comm = ''] = fields(b, 7);
    if (!this.opts.keep(cg, Number(pid))) return;
    const a = decodeSockaddr(decodeHexField(hex));
    if (!a) return;
    this.opts.emit({ kind: 'connect', tsNs: BigInt(ts), pid: Number(pid), ppid: Number(ppid), cgroupId: cg, ...a, comm: text(comm), ...(via ? { via } : {}), ...exeKey(ino, dev) });
  }

  private onS(b: string): void {
    const [cg = '', pid = '', ts = '', saddr = '', sport = '', daddr = '', dport = ''] = fields(b, 6);
    if (!this.opts.keep(cg, Number(pid))) return;
    // An AF_INET6 socket's mapped addresses are keyed as the IPv4 the gateway sees.
    this.opts.emit({ kind: 'syn', tsNs: BigInt(ts), pid: Number(pid), cgroupId: cg, saddr: unmapIpv4(saddr), sport: Number(sport), daddr: unmapIpv4(daddr), dport: Number(dport) });
  }

  private onD(b: string): void {
    const [cg = '', pid = '', ts = '', sport = '', dport = ''] = fields(b, 4);
    if (!this.opts.keep(cg, Number(pid))) return;
    const rec: UdpSourceRecord = { kind: 'udp_source', tsNs: BigInt(ts), pid: Number(pid), cgroupId: cg, sport: Number(sport), dport: Number(dport) };
    if (!Number.isInteger(rec.sport) || rec.sport <= 0 || rec.sport > 65535) return;
    this.opts.emit(rec);
  }

  private onO(b: string): void {
    const [cg = '', pid = '', ts = ''] = fields(b, 2);
    if (!this.opts.keep(cg, Number(pid))) return;
    this.opts.emit({ kind: 'overflow', tsNs: BigInt(ts), pid: Number(pid), cgroupId: cg });
  }

  private onW(b: string): void {
    const [cg = '', pid = '', ts = '', ppid = '', type = '', path = ''] = fields(b, 5);
    if (!this.opts.keep(cg, Number(pid))) return;
    this.opts.emit({ kind: 'unix_outside', tsNs: BigInt(ts), pid: Number(pid), ppid: Number(ppid), cgroupId: cg, type: Number(type), path: text(path) });
  }

  private onK(b: string): void {
    const [cg = '', pid = '', ts = '', ppid = '', family = '', type = '', errno = '', comm = ''] = fields(b, 7);
    if (!this.opts.keep(cg, Number(pid))) return;
    this.opts.emit({ kind: 'socket_denied', tsNs: BigInt(ts), pid: Number(pid), ppid: Number(ppid), cgroupId: cg, family: Number(family), type: Number(type), errno: Number(errno), comm: text(comm) });
  }

  /** Emits execs whose result never arrived, and forgets stale partial state. */
  sweep(now = Date.now(), force = false): void {
    const limit = force ? Infinity : now - this.staleMs;
    for (const [k, p] of this.pending) if (p.arrived <= limit && p.enter) { this.pending.delete(k); this.emitEnter(p.enter, 'unknown'); }
    for (const [k, r] of this.resolved) if (r.at <= limit) { this.resolved.delete(k); if (r.rec) this.opts.emit(r.rec); }
    for (const [k, a] of this.argsByKey) if (a.arrived <= limit) this.argsByKey.delete(k);
    for (const [k, a] of this.enterParents) if (a.arrived <= limit) this.enterParents.delete(k);
    if (force) this.post.clear();
  }
}

/** The X line's stdio bits as the fds they name, per kind (each absent when none; all when the field is damaged). */
export function stdioFds(bits: string): Pick<ExecRecord, 'stdioSocket' | 'stdioPipe' | 'stdioPty'> {
  const n = /^\d{1,3}$/.test(bits) && Number(bits) < 512 ? Number(bits) : 0;
  const at = (shift: number): number[] | undefined => {
    const fds = [0, 1, 2].filter((k) => n & (1 << (k + shift)));
    return fds.length ? fds : undefined;
  };
  const socket = at(0), pipe = at(3), pty = at(6);
  return { ...(socket ? { stdioSocket: socket } : {}), ...(pipe ? { stdioPipe: pipe } : {}), ...(pty ? { stdioPty: pty } : {}) };
}

/** An executable's identity from the kernel's inode and device numbers (`dev:inode`); none when either is not a number or is 0. */
function exeKey(ino: string, dev: string): { exe?: string } {
  return /^[1-9]\d*$/.test(ino) && /^[1-9]\d*$/.test(dev) ? { exe: `${dev}:${ino}` } : {};
}

/**
 * A successful exec's parent line as it was when the exec started, when the parent changed before it ended: the
 * parent exited in between (it forked, the child exec'd, and it did not wait) and the X line names the reaper that
 * adopted the new image. Its true parent is the one that matters for lineage (a relayed shell's feeder, a loaded
 * module's origin passed down), and the kernel still had it at the exec's start.
 */
export function withEnterParents(rec: ExecRecord, enter: { pid: number; ppid: number; above: number[] } | undefined): ExecRecord {
  if (!enter || enter.pid !== rec.pid || !(enter.ppid > 0) || enter.ppid === rec.ppid) return rec;
  const { grandparents: _later, ...rest } = rec;
  return { ...rest, ppid: enter.ppid, ...(enter.above.length ? { grandparents: enter.above } : {}) };
}

/** The X (or R) line's parent's parent and the one above as a chain, nearest first; it stops at the first that is not a pid. */
export function grandparents(...ids: string[]): Pick<ExecRecord, 'grandparents'> {
  const chain: number[] = [];
  for (const id of ids) {
    if (!/^[1-9]\d{0,9}$/.test(id) || Number(id) > 0x7fffffff) break;
    chain.push(Number(id));
  }
  return chain.length ? { grandparents: chain } : {};
}

/** The I line's pipe inodes (each absent when 0 or not a number). */
export function pipeInodes(pin: string, pout: string): Pick<ExecRecord, 'pipeIn' | 'pipeOut'> {
  const ino = (v: string): number | undefined => (/^[1-9]\d{0,15}$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : undefined);
  const a = ino(pin), b = ino(pout);
  return { ...(a !== undefined ? { pipeIn: a } : {}), ...(b !== undefined ? { pipeOut: b } : {}) };
}
