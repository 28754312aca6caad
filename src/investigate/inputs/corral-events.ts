// Why: Corral's own event log (src/store, one JSON event per line, ts in epoch ns) can be fed
// to `corral investigate` like any firewall log, for example to cross-check a sandboxed fleet
// against an unsandboxed one. Mapping: 'alert' → alert (its destination comes from the
// connect/drop event it cites as evidence), 'flow' → flow, 'drop' → flow (action blocked).
// 'connect' events are not emitted (each connection also has a 'flow' event; emitting both
// would count it twice) but are remembered as evidence; nor are interim 'flow' records of open
// connections (the last record of each flow is). Other kinds are skipped and counted.
import { isBlank, isObj, mkRecord, parseObject, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { normaliseAction, normaliseProto, normaliseSeverity, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';
import { ALERT_CATEGORIES } from '../../events/event.js';

const CATS: ReadonlySet<string> = new Set(ALERT_CATEGORIES);

const MAX_EVIDENCE = 200_000;
interface Peer { dst: string; dport?: number; proto?: string }

function peerOf(p: Record<string, unknown>): Peer | undefined {
  const dst = toStr(p['network.peer.address']) ?? toStr(p.dst);
  if (dst === undefined) return undefined;
  return { dst, dport: toPort(p['network.peer.port'] ?? p.dport), proto: normaliseProto(p.proto ?? p.protocol) };
}

/** Whether a line is a session.start event (the header line a range of the log needs: analysis/log-pass.ts). */
export function isSessionStart(line: string): boolean {
  const o = parseObject(line);
  return typeof o !== 'string' && o.kind === 'session.start';
}

export const corralEventsReader: NetReader = {
  format: 'corral-events',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'corral-events', opts, ({ file, stats, ts, cats }) => {
      /** Sessions started earlier in the file, with their sandbox_ip (undefined when the session.start names none). */
      const sandboxIp = new Map<string, string | undefined>();
      const evidence = new Map<string, Peer>();
      return (text, line, info) => {
        if (isBlank(text)) return;
        const o = parseObject(text);
        if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
        const kind = o.kind, session = toStr(o.session), p = o.payload;
        if (typeof kind !== 'string' || session === undefined || !isObj(p)) { stats.badLine(line, 'not a Corral event (needs kind, session, payload)'); return; }
        if (kind === 'session.start') { sandboxIp.set(session, toStr(p.sandbox_ip)); stats.skip(kind); return; }
        if (kind === 'connect' || kind === 'drop') {
          const peer = peerOf(p);
          if (peer && typeof o.id === 'string') {
            if (evidence.size >= MAX_EVIDENCE) evidence.delete(evidence.keys().next().value as string);
            evidence.set(o.id, peer);
          }
          if (kind === 'connect') { stats.skip(kind); return; }
        }
        if (kind !== 'alert' && kind !== 'flow' && kind !== 'drop') { stats.skip(kind); return; }
        // an open connection's interim records: the flow is counted once, by its last record
        if (kind === 'flow' && p.interim === true) { stats.skip('flow (interim)'); return; }
        const t = ts.parse(o.ts, 'ns');
        if (Number.isNaN(t)) { stats.badLine(line, `missing or unparseable ts ${JSON.stringify(o.ts)}`); return; }
        const src = sandboxIp.get(session);
        // (a rotated segment: the session began in an earlier file; without its sandbox_ip the record has no source and could only link to nothing)
        if (src === undefined) {
          stats.badLine(line, `${kind} of session ${JSON.stringify(session)} without a source: ${sandboxIp.has(session) ? 'its session.start names no sandbox_ip' : 'its session.start (sandbox_ip) is not earlier in this file (a rotated segment? read the segments as one: cat them | corral investigate -)'}`);
          return;
        }
        if (kind === 'alert') {
          const ev = Array.isArray(p.evidence) ? p.evidence.map((e) => evidence.get(String(e))).find((x) => x !== undefined) : undefined;
          // Without evidence (e.g. a DNS alert) the destination is taken from "… to A.B.C.D:PORT" in the message, else left ''.
          const m = ev ? undefined : /(\d{1,3}(?:\.\d{1,3}){3}):(\d+)/.exec(String(p.message ?? ''));
          const r = mkRecord(t, 'alert', src, ev?.dst ?? m?.[1] ?? '', file, line);
          r.dport = ev?.dport ?? toPort(m?.[2]);
          r.proto = ev?.proto;
          r.rule = toStr(p.rule);
          r.severity = normaliseSeverity(p.severity);
          r.action = normaliseAction(p.action);
          r.host = session;
          // (only Corral's own categories, as the CSV reader keeps them: "constructor" is no category)
          const cat = toStr(p.category);
          r.category = cat !== undefined && CATS.has(cat) ? cat : deriveCategory({ kind: 'alert', dst: r.dst, dport: r.dport, text: r.rule }, cats);
          stats.records++;
          onRecord(r);
          return;
        }
        const peer = peerOf(p);
        if (!peer) { stats.badLine(line, `${kind} event without network.peer.address`); return; }
        const r = mkRecord(t, 'flow', src, peer.dst, file, line);
        r.dport = peer.dport;
        r.proto = peer.proto ?? (kind === 'flow' ? 'tcp' : undefined);
        r.action = kind === 'drop' ? 'blocked' : normaliseAction(p.decision);
        r.rule = toStr(p.rule);
        r.host = session;
        if (kind === 'flow') { const up = toCount(p.bytes_up), down = toCount(p.bytes_down); if (up !== undefined || down !== undefined) r.bytes = (up ?? 0) + (down ?? 0); }
        r.category = deriveCategory({ kind: 'flow', dst: r.dst, dport: r.dport }, cats);
        stats.records++;
        onRecord(r);
      };
    });
  },
};
