// Why: turns the simulation into files, the way a real fleet's sensors would have written
// them: traces (canonical JSONL, one OTLP document), a placements file, network logs in
// Suricata eve, Zeek conn.log, VPC flow and iptables syslog form (each sorted by its own
// clock, skewed from the trace clock), and ground truth naming every planted incident's
// alerts by file and line with the tool call that caused it. Traces stream to disk (10 M
// calls fit); network events are held in memory until sorted (~150 B each).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsoFormatter, eveAlert, eveFlow, iptablesLine, canonicalLine, otlpEpisode, vpcRow, zeekRow, VPC_HEADER, ZEEK_HEADER, syslogTime, type NetEvent } from './formats.js';
import { hostName, withDefaults, type FleetOptions, type GroundTruth, type NetOutput, type TruthAlert } from './model.js';
import { simulate } from './simulate.js';
import { Rng } from './rng.js';
import { LineWriter } from './writer.js';

const FILES: Record<NetOutput, string> = { 'suricata-eve': 'firewall/eve.json', 'zeek-conn-tsv': 'firewall/conn.log', 'vpc-flow': 'firewall/vpc-flow.log', 'iptables-log': 'firewall/iptables.log' };

/** Which events each format records. */
function takes(f: NetOutput, e: NetEvent): boolean {
  if (f === 'suricata-eve') return e.sink === 'ids' || e.sink === 'flow';
  if (f === 'iptables-log') return e.sink === 'hostfw';
  return e.sink === 'flow';
}

function badLine(f: NetOutput, fw: number): string {
  if (f === 'suricata-eve') return '{"timestamp":"2024-05-01T00:00:00.000000+0000","event_type":"alert","src_ip":';
  if (f === 'zeek-conn-tsv') return 'garbage line written by a crashed logger';
  if (f === 'vpc-flow') return '2 123456789012 eni-00000000 10.20.1.10';
  return `${syslogTime(fw)} host-000 kernel: FW-DROP-INTERNAL IN=eth0 OUT= SRC= DST= LEN=60`;
}

export async function generateFleet(opts: FleetOptions, outDir: string): Promise<GroundTruth> {
  const o = withDefaults(opts);
  mkdirSync(join(outDir, 'traces'), { recursive: true });
  mkdirSync(join(outDir, 'firewall'), { recursive: true });
  const canon = new LineWriter(join(outDir, 'traces/canonical.jsonl'));
  const otlp = o.otlp ? new LineWriter(join(outDir, 'traces/otlp.json')) : undefined;
  const place = new LineWriter(join(outDir, 'placements.csv'));
  place.line('ip,from,to,host,sandbox,episode');
  otlp?.line('{"resourceSpans":[');
  let firstEp = true;
  const iso = new IsoFormatter();
  const events: NetEvent[] = [];
  const sim = simulate(opts, {
    call: (c) => { canon.line(canonicalLine(c, o.traceIps, iso)); },
    episode: (calls, modelStarts, traceId) => { if (otlp) { otlp.line((firstEp ? '' : ',') + otlpEpisode(calls, traceId, modelStarts, o.traceIps)); firstEp = false; } },
    net: (e) => { events.push(e); },
    placement: (p) => { place.line(`${p.ip},${iso.format(p.from)},${iso.format(p.to)},${p.host ?? ''},${p.sandbox ?? ''},${p.episode ?? ''}`); },
  });
  otlp?.line(']}');
  canon.close(sim.end); otlp?.close(sim.end); place.close(sim.end);

  o.onProgress?.('sort', 0, events.length);
  events.sort((a, b) => a.fw - b.fw);
  const truth: GroundTruth = {
    seed: o.seed,
    options: { ...opts, onProgress: undefined } as GroundTruth['options'],
    clockSkewMs: o.clockSkewMs,
    files: { traces: [{ path: 'traces/canonical.jsonl', format: 'canonical-jsonl' }, ...(o.otlp ? [{ path: 'traces/otlp.json', format: 'otlp-json' }] : [])], network: [], placements: 'placements.csv' },
    counts: { hosts: o.hosts, sandboxes: o.hosts * o.sandboxesPerHost, episodes: sim.episodes, toolCalls: sim.toolCalls, flows: sim.flows, noiseAlerts: 0, incidentAlerts: 0, networkRecords: 0 },
    timeRange: { start: sim.start, end: sim.end },
    natIps: sim.natIps,
    incidents: sim.incidents,
    badLines: [],
  };
  delete (truth.options as { onProgress?: unknown }).onProgress;
  const rng = new Rng(o.seed ^ 0x5eed);
  const lastFw = events.length ? events[events.length - 1]!.fw + 1000 : sim.end;
  for (const f of o.formats) {
    const rel = FILES[f];
    const w = new LineWriter(join(outDir, rel));
    const mine = events.filter((e) => takes(f, e));
    const bad = new Set<number>();
    const nBad = Math.min(o.badLinesPerFile, mine.length);
    while (bad.size < Math.max(0, nBad - 1)) bad.add(rng.int(0, mine.length - 1));
    if (f === 'zeek-conn-tsv') for (const l of ZEEK_HEADER) w.line(l);
    if (f === 'zeek-conn-tsv') w.line(`#open\t${new Date(sim.start).toISOString().slice(0, 19).replace(/[T:]/g, '-')}`);
    if (f === 'vpc-flow') w.line(VPC_HEADER);
    let flowId = 1_000_000, records = 0;
    mine.forEach((e, i) => {
      if (bad.has(i)) truth.badLines.push({ file: rel, line: w.line(badLine(f, e.fw)) });
      const sensor = hostName(e.host);
      const text = f === 'suricata-eve' ? (e.sink === 'flow' ? eveFlow(e, flowId++, sensor) : eveAlert(e, flowId++, sensor))
        : f === 'zeek-conn-tsv' ? zeekRow(e, `C${(flowId++).toString(36)}${e.host.toString(36)}`)
          : f === 'vpc-flow' ? vpcRow(e, `eni-${(0x0a000000 + e.host).toString(16)}`)
            : iptablesLine(e, sensor, sim.start - (e.host + 1) * 86_400_000, 1 + (i % 65535));
      const line = w.line(text);
      records++;
      if (e.sink !== 'flow') {
        if (e.noise) truth.counts.noiseAlerts++;
        if (e.incident >= 0) {
          truth.counts.incidentAlerts++;
          const a: TruthAlert = { file: rel, line, ts: f === 'iptables-log' ? Math.floor(e.fw / 1000) * 1000 : e.fw, trueTs: e.t, src: e.src, dst: e.dst, dport: e.dport, rule: e.rule ?? '' };
          truth.incidents[e.incident]!.alerts.push(a);
        }
      }
      if (o.onProgress && (records & 0xffff) === 0) o.onProgress(`write ${f}`, records, mine.length);
    });
    if (f === 'zeek-conn-tsv') w.line(`#close\t${new Date(lastFw).toISOString().slice(0, 19).replace(/[T:]/g, '-')}`);
    if (nBad > 0) truth.badLines.push({ file: rel, line: w.tail(badLine(f, lastFw).slice(0, -5)) });
    w.close(lastFw);
    truth.files.network.push({ path: rel, format: f, records });
    truth.counts.networkRecords += records;
  }
  writeFileSync(join(outDir, 'ground-truth.json'), JSON.stringify(truth, null, 1) + '\n');
  return truth;
}

export interface FleetFilesOptions {
  outDir: string; toolCalls: number; records: number; seed: number;
  formats?: readonly NetOutput[]; otlp?: boolean; traceIps?: boolean; badLinesPerFile?: number; clockSkewMs?: number;
  noiseAlertsPerHour?: number; natShare?: number;
  onProgress?: FleetOptions['onProgress'];
}

/** Derives fleet options for about `toolCalls` calls and `records` network records in total (all formats together). */
export function fleetOptionsFor(f: FleetFilesOptions): FleetOptions {
  const N = Math.max(1, Math.min(20, f.toolCalls));
  const episodes = Math.max(1, Math.ceil(f.toolCalls / N));
  const hosts = Math.min(400, Math.max(2, Math.ceil(episodes / 1500)));
  const S = 8;
  const formats = f.formats ?? ['suricata-eve', 'zeek-conn-tsv', 'vpc-flow', 'iptables-log'];
  const flowFormats = formats.filter((x) => x !== 'iptables-log').length;
  const perIncidentKind = Math.min(50, Math.max(2, Math.round(episodes / 5000)));
  const noise = f.noiseAlertsPerHour ?? 2;
  // Mean model time 20 s·e^0.32 ≈ 27.5 s, mean call 3 s·e^0.5 ≈ 4.9 s, plus a closing turn and a gap.
  const episodeHours = (N * 32.4 + 27.5 + 16) / 3600;
  const hoursSpan = (episodes / (hosts * S)) * episodeHours;
  const estAlerts = noise * hosts * hoursSpan + perIncidentKind * 4 * 8;
  const flows = flowFormats > 0 ? Math.max(0, f.records - estAlerts) / flowFormats : 0;
  return {
    hosts, sandboxesPerHost: S, episodes, toolCallsPerEpisode: N, natShare: f.natShare ?? 0.25, noiseAlertsPerHour: noise,
    benignFlowsPerCall: flows / (episodes * N), clockSkewMs: f.clockSkewMs ?? 1500,
    incidents: { tunnel: perIncidentKind, minerBeacon: perIncidentKind, internalScan: perIncidentKind, metadata: perIncidentKind },
    seed: f.seed, formats, otlp: f.otlp ?? false, traceIps: f.traceIps, badLinesPerFile: f.badLinesPerFile, onProgress: f.onProgress,
  };
}

/** The streaming mode for benchmarks: about toolCalls tool calls and records network records. */
export async function generateFleetFiles(f: FleetFilesOptions): Promise<GroundTruth> {
  return generateFleet(fleetOptionsFor(f), f.outDir);
}
