// Why: a session's network reports — the gateway's connect, DNS and flow records and the kernel's
// dropped packets — become events and alerts attributed to the tool call whose process sent them.
// Split out of session.ts, which keeps the calls, the sensor's process records and the rule engine.
// Threats handled here: blame put on the wrong call (the kernel's 4-tuple record first, after a
// sensor barrier; then connect() records that all name one call; only then a guess, marked
// inferred and never killed on), a scan hidden in many small refusals (one internal-probe alert
// with the count), and an alert flood from retries (repeats of one refusal are one alert).
import { FanoutAggregator, type Probe } from '../alerts/fanout.js';
import { alertForConnect, alertForDns, alertForDrop, observedNote, type AlertDraft } from '../alerts/network-alerts.js';
import { monoToEpochNs, type AlertEvent, type Attribution, type CorralEvent, type EventKind } from '../events/event.js';
import type { ConnectReport, FlowReport, GatewayReport } from '../gateway/types.js';
import type { DropRecord } from '../sensors/kmsg-drops.js';
import { ConnectRing } from './connect-ring.js';
import type { Runtime } from './runtime.js';

/** How long a gateway report waits for the kernel's record of its connection (after a sensor barrier) before other evidence decides. */
export const ATTRIBUTION_WAIT_MS = 2000;

/** How an open allowed connection was attributed, kept for its flow records (interim and last). */
interface FlowAttribution { attr: Attribution & { inferred?: boolean }; pid?: number; how: 'kernel' | 'kernel-connect' | 'inferred' }

type Action = 'blocked' | 'observed';

/** What of its session the network reports need. */
export interface NetworkReportsHost {
  sessionId: string;
  rt: Pick<Runtime, 'sensor' | 'sensorBarrier' | 'classifyIp' | 'pools' | 'index'>;
  lease: { hostIp: string; sandboxIp: string };
  /** The session is closing: no sensor barrier (the sensor may be gone). */
  closed(): boolean;
  emit(kind: EventKind, payload: Record<string, unknown>, o: { attr?: Attribution; pid?: number; ts?: string }): CorralEvent;
  alert(attr: Attribution, d: AlertDraft, evidence: string[], action: Action, extra: { pid?: number; count?: number; ts?: string }): AlertEvent;
  /** The call a cgroup belongs to (the kernel's word). */
  attrOf(cgroupId: string): Attribution | undefined;
  /** The best guess when no kernel record names the sender. */
  inferred(atNs: bigint): Attribution & { inferred: true };
  /** The watched program a process's file copies (a renamed nc), for the connect event. */
  copyOf(pid: number | undefined): string | undefined;
}

/** One session's network reports: see the file's comment. */
export class NetworkReports {
  /** The kernel's recent connect, sendto and UDP source records of this session's processes (connect-ring.ts). */
  readonly connects = new ConnectRing();
  /** The attribution of open allowed connections, for their flow records (interim and last). */
  private readonly flowAttr = new Map<string, FlowAttribution>();
  /** Internal probes per tool call, one alert per group. */
  readonly fanout: FanoutAggregator<Attribution & { pid?: number; action: Action }>;
  /** Repeats of one refusal per tool call, one alert with a count. */
  readonly repeats: FanoutAggregator<{ attr: Attribution; pid?: number; draft: AlertDraft; action: Action }>;

  /** hold: the aggregators wait while the session still has reports being attributed. */
  constructor(private h: NetworkReportsHost, hold: { busy: () => boolean; maxHoldMs: number }) {
    this.fanout = new FanoutAggregator(1500, (key, probes) => this.emitFanout(key, probes), hold);
    this.repeats = new FanoutAggregator(1000, (k, probes) => {
      this.h.alert(k.attr, k.draft, probes.map((p) => p.evidence), k.action, { pid: k.pid, count: probes.length, ts: probes[0]!.ts });
    }, hold);
  }

  /** Sends every group held back (the session is closing, or its detections are due). */
  flush(): void {
    this.fanout.flush();
    this.repeats.flush();
  }

  /** Sends a tool call's groups held back (the call has ended and its reports are in). */
  flushCall(toolCallId: string): void {
    this.fanout.flushPrefix(toolCallId);
    this.repeats.flushPrefix(`${toolCallId}|`);
  }

  /** Whether a group of a tool call's refusals is still open (its alert not out yet). */
  holds(toolCallId: string): boolean {
    return this.fanout.hasPrefix(toolCallId) || this.repeats.hasPrefix(`${toolCallId}|`);
  }

  async drop(d: DropRecord): Promise<void> {
    // (the reader put the kernel log's stamp on this process's monotonic clock: kmsg-drops.ts, offsetUs)
    const at = d.tsUs !== undefined ? BigInt(Math.round(d.tsUs)) * 1000n : process.hrtime.bigint();
    // ICMP has no port; the sender's record (connect or sendto) may still be in the sensor's buffers
    const port = d.proto === 'ICMP' ? undefined : d.dport;
    // (every sender's record up to the drop must be in before it is judged: a neighbour's record still in the
    //  sensor's buffers would make a guess look like proof — the kernel log is read faster than the sensor)
    if (this.h.rt.sensor && !this.h.closed()) await this.h.rt.sensorBarrier(at);
    const found = this.connects.dropSender(d.dst, port, at);
    const match = found?.rec;
    // (two calls' processes sending to the same place: the kernel log cannot say whose packet this was — a guess, never a kill)
    const exact = match && this.h.attrOf(match.cgroupId);
    const attr = exact ? (found!.ambiguous ? { ...exact, inferred: true } : exact) : this.h.inferred(at);
    // An ICMP error (destination unreachable, time exceeded, parameter problem) is the sandbox kernel's
    // answer to a packet it received — a DNS answer arriving after the resolver gave up is answered
    // "port unreachable" to the gateway. Agent code cannot send one (raw sockets are refused; ping
    // sockets send echo requests only): recorded as the kernel's, never judged or alerted.
    const kernelReply = /^ICMP/.test(d.proto) && (d.icmpType === 3 || d.icmpType === 11 || d.icmpType === 12);
    const ev = this.h.emit('drop', { proto: d.proto, 'network.peer.address': d.dst, 'network.peer.port': d.dport, icmp_type: d.icmpType, attribution: !exact ? 'inferred' : found!.ambiguous ? 'ambiguous' : 'syscall', ...(kernelReply ? { kernel_reply: true } : {}) }, { attr, pid: match?.pid });
    if (kernelReply) return;
    const cls = this.h.rt.classifyIp(d.dst);
    const draft = alertForDrop({ proto: d.proto, dst: d.dst, dport: d.dport }, cls);
    if (draft.category === 'internal_probe') this.fanout.add(attr.tool_call ?? this.h.sessionId, { ...attr, pid: match?.pid, action: 'blocked' }, { target: `${d.dst}:${d.dport ?? d.proto}`, evidence: ev.id, message: draft.message, ts: ev.ts });
    else this.h.alert(attr, draft, [ev.id], 'blocked', { pid: match?.pid });
  }

  // ---- gateway reports ----
  /** A flow record (bytes each way so far, or in all when it is the last) as an event. */
  private emitFlow(r: FlowReport, a: FlowAttribution): void {
    this.h.emit('flow', {
      ...netBase(r, a.how), bytes_up: r.bytesUp, bytes_down: r.bytesDown, bytes_up_prev: r.bytesUpPrev, bytes_down_prev: r.bytesDownPrev,
      ...(r.interim ? { interim: true } : {}), duration_ms: r.durationMs, connect_latency_us: r.connectLatencyUs, error: r.error,
      ...(r.uninspected ? { uninspected: r.uninspected } : {}), ...(r.uninspectedNew ? { uninspected_new: true } : {}),
    }, { attr: a.attr, pid: a.pid, ts: monoToEpochNs(r.tsNs) });
  }

  async report(r: GatewayReport): Promise<void> {
    let attr: Attribution & { inferred?: boolean };
    let pid: number | undefined;
    if (r.kind === 'dns') {
      // The sender's own record may still be in flight while another call's older one is at hand:
      // the sensor is drained up to the query first, always.
      if (this.h.rt.sensor && !this.h.closed()) await this.h.rt.sensorBarrier(r.tsNs);
      const found = this.connects.findDns(r.tsNs);
      const c = found?.rec;
      // The datagram's own source port names its sender exactly (the kernel's record of the send).
      const sender = this.connects.dnsSender(r.sport, r.tsNs);
      const bySource = sender && this.h.attrOf(sender.rec.cgroupId);
      const exact = bySource || (c && this.h.attrOf(c.cgroupId));
      // Else (or a port two calls' sockets shared), two calls' processes querying within 2 s: the best
      // guess is kept, marked inferred (never killed on).
      const ambiguous = bySource ? sender.ambiguous : found?.ambiguous === true;
      attr = exact ? (ambiguous ? { ...exact, inferred: true } : exact) : this.h.inferred(r.tsNs);
      pid = bySource ? sender.rec.pid : c?.pid;
      const attribution = !exact ? 'inferred' : ambiguous ? 'ambiguous' : bySource ? 'kernel' : 'syscall';
      const server = r.dst ? { 'network.peer.address': r.dst.ip, 'network.peer.port': r.dst.port } : {};
      const ev = this.h.emit('dns', { name: r.name, qtype: r.qtype, verdict: r.verdict, rule: r.rule, answers: r.answers, rcode: r.rcode, attribution, 'client.port': r.sport, ...server }, { attr, pid, ts: monoToEpochNs(r.tsNs) });
      let d = alertForDns(r, this.h.rt.pools);
      // A query aimed at another resolver (`dig @203.0.113.53`) was redirected to Corral's: say so, and where.
      // Conntrack's original tuple names the resolver exactly; without it, the recent port-53 sends do when
      // they name one other resolver only (else the address would be a guess).
      const hostIp = this.h.lease.hostIp;
      const elsewhere = r.dst ? r.dst.ip !== hostIp : c !== undefined && c.ip !== hostIp;
      if (d && elsewhere) {
        const others = r.dst ? [`${r.dst.ip}:${r.dst.port}`] : [...this.connects.dnsTargets(r.tsNs)].filter((ip) => ip !== hostIp).map((ip) => `${ip}:53`);
        d = { ...d, message: `${d.message} — sent to ${others.length === 1 ? `${others[0]}, ` : ''}a resolver other than Corral's (redirected)` };
      }
      // A and AAAA queries (and resolver retries) for one name are one alert with a count.
      if (d) this.repeats.add(`${attr.tool_call ?? ''}|${d.rule}|${r.name}`, { attr, pid, draft: d, action: r.observed ? 'observed' : 'blocked' }, { target: r.name, evidence: ev.id, message: d.message, ts: ev.ts });
      return;
    }
    // A flow's records (interim and last) take the attribution its connection got.
    // So does a verdict given mid-stream (a pool login on an allowed flow): the 4-tuple index forgets a
    // connection after 120 s, and a fresh lookup then blamed the step running now, with no pid to kill.
    const known = r.kind === 'flow' || r.midstream ? this.flowAttr.get(r.flowId) : undefined;
    if (r.kind === 'flow' && !r.interim) this.flowAttr.delete(r.flowId);
    if (known && r.kind === 'flow') { this.emitFlow(r, known); return; }
    const lookup = (waitMs: number) => this.h.rt.index.byFlow(this.h.lease.sandboxIp, r.sport, r.dst.ip, r.dst.port, waitMs);
    let syn = known ? undefined : await lookup(this.h.rt.sensor ? 50 : 0);
    if (!known && !syn && this.h.rt.sensor) {
      // The kernel recorded the connection before the gateway accepted it; a sensor barrier, then a
      // grace for records still queued in another CPU's buffer (seconds under heavy load), makes sure we have read it.
      await this.h.rt.sensorBarrier(r.tsNs);
      syn = await lookup(ATTRIBUTION_WAIT_MS);
    }
    let how: 'kernel' | 'kernel-connect' | 'inferred' = known?.how ?? (syn ? 'kernel' : 'inferred');
    let viaConnect: { cgroupId: string; pid?: number } | undefined;
    if (!known && !syn) {
      // No 4-tuple record: fall back to the connect() syscall records to this destination. When they
      // all come from one cgroup (one tool call), that is still kernel evidence, not a guess.
      const cands = this.connects.toDestination(r.dst.ip, r.dst.port, r.tsNs);
      const cgs = new Set(cands.map((c) => c.cgroupId));
      if (cands.length && cgs.size === 1) {
        const pids = new Set(cands.map((c) => c.pid));
        viaConnect = { cgroupId: cands[0]!.cgroupId, pid: pids.size === 1 ? cands[0]!.pid : undefined };
        how = 'kernel-connect';
      }
    }
    attr = known?.attr ?? ((syn && this.h.attrOf(syn.cgroupId)) || (viaConnect && this.h.attrOf(viaConnect.cgroupId)) || this.h.inferred(r.tsNs));
    pid = known ? known.pid : syn?.pid ?? viaConnect?.pid;
    if (r.kind === 'flow') {
      if (r.interim) this.flowAttr.set(r.flowId, { attr, pid, how });
      this.emitFlow(r, { attr, pid, how });
      return;
    }
    if (r.decision.verdict === 'allow' || r.observed) this.flowAttr.set(r.flowId, { attr, pid, how });
    const base = netBase(r, how);
    const copy = this.h.copyOf(pid);
    const ev = this.h.emit('connect', { ...base, source: 'gateway', detail: r.detail, midstream: r.midstream, observed: r.observed, reason: r.decision.reason, ...(copy ? { copy_of: copy } : {}) }, { attr, pid, ts: monoToEpochNs(r.tsNs) });
    const d = alertForConnect(r, this.h.rt.pools);
    if (!d) return;
    const action = r.observed ? 'observed' : 'blocked';
    if (d.category === 'internal_probe') {
      this.fanout.add(`${attr.tool_call ?? this.h.sessionId}`, { ...attr, pid, action }, { target: `${r.dst.ip}:${r.dst.port}`, evidence: ev.id, message: d.message, ts: ev.ts });
    } else {
      // Repeats of the same refusal (same rule and destination) from one tool call are one alert with a count.
      this.repeats.add(`${attr.tool_call ?? ''}|${d.rule}|${r.dst.ip}:${r.dst.port}`, { attr, pid, draft: d, action }, { target: `${r.dst.ip}:${r.dst.port}`, evidence: ev.id, message: d.message, ts: ev.ts });
    }
  }

  /** One internal-probe alert for a group of blocked (or observed) attempts: a probe of one target, or a scan with its count. */
  private emitFanout(key: Attribution & { pid?: number; action: 'blocked' | 'observed' }, probes: Probe[]): void {
    const targets = new Set(probes.map((p) => p.target));
    const hosts = new Set(probes.map((p) => p.target.split(':')[0]));
    const evidence = probes.map((p) => p.evidence);
    const { pid, action, ...attr } = key;
    const observeNote = action === 'observed' ? observedNote('these connections') : '';
    if (targets.size === 1) {
      this.h.alert(attr, { rule: 'gateway.internal_probe', category: 'internal_probe', severity: 'medium', attack: ['T1046', 'T1018'],
        message: probes[0]!.message + (probes.length > 1 ? ` (${probes.length} attempts)` : ''),
        reason: `${observeNote}Internal, private and host addresses are not reachable from this sandbox.` }, evidence, action, { pid, count: probes.length, ts: probes[0]!.ts });
      return;
    }
    this.h.alert(attr, { rule: 'gateway.internal_scan', category: 'internal_probe', severity: 'high', attack: ['T1046', 'T1018'],
      message: `Internal network scan: ${probes.length} ${action === 'observed' ? 'attempts (observe mode: would have been blocked)' : 'blocked attempts'} to ${targets.size} targets on ${hosts.size} host${hosts.size === 1 ? '' : 's'} (${[...targets].slice(0, 5).join(', ')}${targets.size > 5 ? ', …' : ''})`,
      reason: `${observeNote}Internal, private and host addresses are not reachable from this sandbox; scanning them is recorded.` }, evidence, action, { pid, count: probes.length, ts: probes[0]!.ts });
  }

}

/** The fields connect and flow events share (flow_id ties one connection's records together). */
function netBase(r: ConnectReport | FlowReport, how: string): Record<string, unknown> {
  return {
    flow_id: r.flowId, 'network.peer.address': r.dst.ip, 'network.peer.port': r.dst.port, 'server.address': r.name, 'client.port': r.sport,
    protocol: r.protocol, sni: r.sniHost, decision: r.decision.verdict, rule: r.decision.rule,
    address_class: r.decision.addressClass, attribution: how,
    ...(r.tls ? { 'tls.client.ja3': r.tls.ja3, 'tls.client.ja4': r.tls.ja4 } : {}),
  };
}

