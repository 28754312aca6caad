// Why: the one import for the analysis side of `corral investigate`: format detection, the
// reader for each format, placements, field maps, and the extra options and stats types.
import type { NetLogReader, TraceReader } from '../types.js';
import { StatsBuilder } from './stats.js';
import { looksBinary } from './detect.js';
import { codecOf, headBytes } from './source.js';
import type { NetReader, SpanReader } from './base.js';
import { suricataEveReader } from './suricata.js';
import { zeekConnJsonReader, zeekConnTsvReader } from './zeek.js';
import { iptablesLogReader } from './iptables.js';
import { vpcFlowReader } from './vpc.js';
import { csvReader, jsonlReader } from './generic.js';
import { kvReader } from './kv.js';
import { ciscoAsaReader } from './cisco-asa.js';
import { corralEventsReader } from './corral-events.js';
import { canonicalTraceReader } from './traces-canonical.js';
import { otlpTraceReader } from './traces-otlp.js';
import { openaiMessagesReader } from './traces-openai.js';

export { detectNetFormat, detectTraceFormat } from './detect.js';
export { readPlacements, readPlacementsDetailed } from './placements.js';
export { parseFieldMap, FIELD_KEYS, FIELD_CANDIDATES } from './fieldmap.js';
export { deriveCategory, isPrivateIp, MINING_PORTS } from './category.js';
export { splitLineRanges, forEachLine, type LineRange } from './lines.js';
export { TsParser, checkTz, epochUnitOf, type EpochUnit, type TsOptions } from './timestamps.js';
export { DEFAULT_ASSUMED_DURATION_MS, type NetReadOptions, type TraceReadOptions, type NetReader, type SpanReader } from './base.js';
export type { ReadStats } from './stats.js';

const NET: Record<string, NetReader> = {
  'suricata-eve': suricataEveReader,
  'zeek-conn-tsv': zeekConnTsvReader,
  'zeek-conn-json': zeekConnJsonReader,
  'iptables-log': iptablesLogReader,
  'vpc-flow': vpcFlowReader,
  csv: csvReader,
  jsonl: jsonlReader,
  kv: kvReader,
  'cisco-asa': ciscoAsaReader,
  'corral-events': corralEventsReader,
};

const TRACE: Record<string, SpanReader> = {
  'canonical-jsonl': canonicalTraceReader,
  'otlp-json': otlpTraceReader,
  'openai-messages': openaiMessagesReader,
};

export const NET_FORMATS = Object.keys(NET);
export const TRACE_FORMATS = Object.keys(TRACE);

/** A reader that reads nothing and reports the file as one bad record (format not recognised). */
function unknownReader(kind: string, formats: string[], option: string): NetReader & SpanReader {
  return {
    format: 'unknown',
    async read(path: string) {
      const s = new StatsBuilder(path, 'unknown');
      const codec = codecOf(path);
      const why = codec !== 'plain' && headBytes(path, 64).length === 0
        ? `the file is ${codec}-compressed and nothing could be decompressed from its start (truncated or corrupt)`
        : looksBinary(path) ? 'the file looks like binary data, not a text log' : 'not recognised from the first lines';
      s.badLine(1, `unknown ${kind} format: ${why}; name it with ${option} (${formats.join(', ')})`);
      return s.finish(undefined, 0);
    },
  };
}

/** The reader for a format name. 'unknown' gives a reader that reports the file as unreadable; any other unknown name throws. */
export function netReader(format: string): NetReader & NetLogReader {
  if (format === 'unknown') return unknownReader('network log', NET_FORMATS, '--format');
  const r = NET[format];
  if (!r) throw new Error(`unknown network log format "${format}" (formats: ${NET_FORMATS.join(', ')})`);
  return r;
}

export function traceReader(format: string): SpanReader & TraceReader {
  if (format === 'unknown') return unknownReader('trace', TRACE_FORMATS, '--trace-format');
  const r = TRACE[format];
  if (!r) throw new Error(`unknown trace format "${format}" (formats: ${TRACE_FORMATS.join(', ')})`);
  return r;
}
