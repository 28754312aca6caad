// Why: sandboxes drop non-TCP egress (UDP, ICMP, raw IP) in nftables, and those packets
// never reach the gateway, so the only record of an attempted UDP exfiltration, DNS
// bypass or ICMP tunnel is nft's `log prefix "corral-drop "` line in the kernel log; the
// sandbox is the one whose veth the packet came in on (`IN=crl<id>h`, set by the kernel, not
// by the sandbox). This reader tails /dev/kmsg and turns those lines into drop records.
// Threat stopped: covert non-TCP channels going unnoticed because they were "only dropped".

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { leaseIdOfHostIf } from '../sandbox/address-leases.js';

export const DROP_PREFIX = 'corral-drop ';
const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';

export interface DropRecord {
  sandbox: string;
  proto: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /**
   * When the kernel logged it, in microseconds of this process's monotonic clock (process.hrtime) once the
   * reader has calibrated; before that, the kernel log's own clock (µs since boot, which drifts from it).
   */
  tsUs?: number;
  raw: string;
}

/** Undoes /dev/kmsg's \xNN escaping of non-printable bytes. */
function unescapeKmsg(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Parses one /dev/kmsg record ('prio,seq,ts,flags;message'); undefined unless it is a corral drop. */
export function parseKmsgRecord(rec: string): DropRecord | undefined {
  const semi = rec.indexOf(';');
  if (semi < 0) return undefined;
  const head = rec.slice(0, semi).split(',');
  const msg = unescapeKmsg(rec.slice(semi + 1).split('\n')[0] ?? '');
  const tsUs = Number(head[2]);
  const d = parseDropMessage(msg);
  if (d && Number.isFinite(tsUs)) d.tsUs = tsUs;
  return d;
}

/**
 * Parses the message part: 'corral-drop IN=crl<id>h OUT= … SRC=… DST=… … PROTO=UDP SPT=… DPT=…'
 * (the sandbox from IN=), or the older 'corral-drop <sandbox> IN=… …' of a per-sandbox table.
 */
export function parseDropMessage(msg: string): DropRecord | undefined {
  const at = msg.indexOf(DROP_PREFIX);
  if (at < 0) return undefined;
  let rest = msg.slice(at + DROP_PREFIX.length);
  let sandbox: string | undefined;
  const sp = rest.indexOf(' ');
  if (sp > 0 && !rest.slice(0, sp).includes('=')) { sandbox = rest.slice(0, sp); rest = rest.slice(sp + 1); }
  // ICMP errors quote the offending packet in [...]: only the outer header counts.
  const outer = rest.split('[')[0] ?? '';
  const kv = new Map<string, string>();
  for (const tok of outer.split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq > 0 && !kv.has(tok.slice(0, eq))) kv.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  const src = kv.get('SRC');
  const dst = kv.get('DST');
  sandbox ??= leaseIdOfHostIf(kv.get('IN') ?? '');
  if (!src || !dst || !sandbox) return undefined;
  const d: DropRecord = { sandbox, proto: kv.get('PROTO') ?? 'unknown', src, dst, raw: msg };
  const num = (k: string): number | undefined => { const v = kv.get(k); return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined; };
  const sport = num('SPT'); if (sport !== undefined) d.sport = sport;
  const dport = num('DPT'); if (dport !== undefined) d.dport = dport;
  if (/^ICMP/.test(d.proto)) {
    const t = num('TYPE'); if (t !== undefined) d.icmpType = t;
    const c = num('CODE'); if (c !== undefined) d.icmpCode = c;
  }
  return d;
}

/** nf_log drops log lines from non-init network namespaces unless this sysctl is 1. */
export function ensureNfLogAllNetns(): { ok: boolean; why?: string } {
  try {
    if (readFileSync(NF_LOG_ALL_NETNS, 'utf8').trim() !== '1') writeFileSync(NF_LOG_ALL_NETNS, '1\n');
    return { ok: true };
  } catch (e) {
    return { ok: false, why: `cannot set ${NF_LOG_ALL_NETNS}: ${(e as Error).message}` };
  }
}

/** Records read per timer tick at most (the rest on the next tick, at once: other work runs in between). */
const DRAIN_BATCH = 512;
/** The kernel log line a reader writes to learn its clock's offset. */
const CLOCK_MARK = 'corral-kmsg-clock ';
/** How often the offset is measured again (the two clocks drift apart ~0.5 ppm here: ~6 ms after 3.5 h up). */
const CALIBRATE_EVERY_MS = 5 * 60_000;

export class KmsgDropReader extends EventEmitter {
  /** Records the kernel overwrote before we read them (EPIPE on /dev/kmsg). */
  overruns = 0;
  /**
   * process.hrtime µs minus the kernel log's µs, from a line this reader wrote and read back (undefined until
   * then). Drops are stamped on the monotonic clock with it: a session tells its own drops from those a
   * previous session on the same veth caused but were read late by comparing them with when it took the slot,
   * and the kernel log's clock (local_clock) drifts from CLOCK_MONOTONIC as the machine stays up.
   */
  offsetUs?: number;
  private clockProbe?: { token: string; sentUs: number };
  private calibrateTimer?: NodeJS.Timeout;
  private fd: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private buf = Buffer.alloc(8192);

  private constructor(fd: number, private pollMs: number) { super(); this.fd = fd; }

  /** Opens /dev/kmsg non-blocking, skips everything already logged, then polls for new records. */
  static async start(opts: { pollMs?: number } = {}): Promise<KmsgDropReader> {
    const nf = ensureNfLogAllNetns();
    const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    const r = new KmsgDropReader(fd, opts.pollMs ?? 50);
    // Not fatal: logs from sandbox namespaces may still arrive if the host already set it (setup.sh does).
    if (!nf.ok) setImmediate(() => r.emit('warning', nf.why));
    r.skipToEnd();
    r.calibrate();
    r.calibrateTimer = setInterval(() => r.calibrate(), CALIBRATE_EVERY_MS);
    r.calibrateTimer.unref?.();
    r.schedule(0);
    return r;
  }

  /** Writes a marker line to the kernel log; its timestamp, read back, gives offsetUs. */
  private calibrate(): void {
    const token = randomBytes(6).toString('hex');
    try {
      // (level 7, debug: the marker is for this reader, not for whoever reads dmesg)
      const sentUs = Number(process.hrtime.bigint() / 1000n);
      writeFileSync('/dev/kmsg', `<7>${CLOCK_MARK}${token}\n`);
      this.clockProbe = { token, sentUs };
    } catch (e) {
      this.emit('warning', `cannot write /dev/kmsg to align its clock (${(e as Error).message}); drop times use the kernel log's clock`);
    }
  }

  /** A record of this reader's clock marker: sets offsetUs. */
  private clockMark(rec: string): boolean {
    const semi = rec.indexOf(';');
    if (!this.clockProbe || semi < 0 || !rec.startsWith(CLOCK_MARK, semi + 1)) return false;
    if (rec.slice(semi + 1 + CLOCK_MARK.length).trim() !== this.clockProbe.token) return true;
    const ts = Number(rec.slice(0, semi).split(',')[2]);
    if (Number.isFinite(ts)) this.offsetUs = this.clockProbe.sentUs - ts;
    this.clockProbe = undefined;
    return true;
  }

  /** Equivalent of lseek(SEEK_END), which Node cannot call: read until EAGAIN. */
  private skipToEnd(): void {
    for (let i = 0; i < 1_000_000; i++) {
      try { if (readSync(this.fd, this.buf, 0, this.buf.length, null) <= 0) return; }
      catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        if (code !== 'EPIPE') throw e;
      }
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.drain(), ms);
    this.timer.unref?.();
  }

  /**
   * Reads what the kernel logged since the last tick: up to DRAIN_BATCH records at once, each a plain
   * non-blocking read() (EAGAIN: nothing more). One read per timer tick, through the thread pool, was
   * slow enough under load that a sandbox flooding dropped datagrams made the kernel's log ring (128 KiB
   * here) overwrite another sandbox's drop before it was read. An overwrite (EPIPE) is counted and told
   * (`overrun`): the drops in it are lost, and whose they were is unknown.
   */
  private drain(): void {
    if (this.stopped) return;
    for (let i = 0; i < DRAIN_BATCH; i++) {
      let n: number;
      try { n = readSync(this.fd, this.buf, 0, this.buf.length, null); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') { this.overruns++; this.emit('overrun', this.overruns); continue; }
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') { this.schedule(this.pollMs); return; }
        this.emit('error', e);
        this.schedule(1000);
        return;
      }
      if (n <= 0) { this.schedule(this.pollMs); return; }
      const rec = this.buf.subarray(0, n).toString('utf8');
      const d = this.clockMark(rec) ? undefined : parseKmsgRecord(rec);
      if (d) {
        if (d.tsUs !== undefined && this.offsetUs !== undefined) d.tsUs += this.offsetUs;
        this.emit('drop', d);
      }
    }
    this.schedule(0);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.calibrateTimer) clearInterval(this.calibrateTimer);
    this.closeFd();
  }

  private closeFd(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
  }
}
