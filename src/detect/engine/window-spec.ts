// Why: validates a rule's `window:` block (stateful detection: counts, distinct values such as
// scanned ports or the bytes of distinct DNS names, sustained conditions and means such as hidden
// mining load) and parses its durations.
import type { WindowKey, WindowSpec } from './api.js';
import { RuleError } from './errors.js';
import type { Located } from './loader.js';

const KEYS = new Set(['key', 'over', 'count', 'distinct', 'sum', 'threshold', 'sustained', 'mean', 'step', 'group_by']);
const WINDOW_KEYS = new Set<WindowKey>(['session', 'episode', 'tool_call']);
const DURATION = /^(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)$/;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Parses '500ms', '30s', '5m', '1h' into nanoseconds; undefined if malformed. */
export function parseDurationNs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = DURATION.exec(v.trim());
  return m ? Number(m[1]) * UNIT_NS[m[2]!]! : undefined;
}

export function parseWindow(raw: Record<string, unknown>, at: Located, rule: string): WindowSpec {
  const fail = (msg: string): never => { throw new RuleError(`window: ${msg}`, { file: at.file, rule, line: at.line, column: at.column }); };
  for (const k of Object.keys(raw)) if (!KEYS.has(k)) fail(`unknown key '${k}' (allowed: ${[...KEYS].join(', ')})`);
  const key = raw.key;
  if (typeof key !== 'string' || !WINDOW_KEYS.has(key as WindowKey)) fail("key must be session, episode or tool_call");
  const overNs = parseDurationNs(raw.over);
  if (overNs === undefined || overNs <= 0) fail("over must be a duration such as '30s', '5m' or '500ms'");
  const posInt = (name: string): number => {
    const v = raw[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`${name} must be a positive integer`);
    return v as number;
  };
  const posNum = (name: string): number => {
    const v = raw[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${name} must be a positive number`);
    return v as number;
  };
  const spec: WindowSpec = { key: key as WindowKey, overNs: overNs! };
  const modes = ['count', 'distinct', 'sustained', 'mean'].filter((m) => raw[m] !== undefined);
  if (modes.length !== 1) fail('give exactly one of count, distinct (+ threshold), sustained or mean (+ threshold)');
  if (raw.count !== undefined) spec.count = posInt('count');
  if (raw.sum !== undefined && raw.distinct === undefined) fail('sum goes with distinct');
  if (raw.step !== undefined && raw.mean === undefined) fail('step goes with mean');
  if (raw.distinct !== undefined) {
    if (typeof raw.distinct !== 'string') fail('distinct must name a field');
    spec.distinct = raw.distinct as string;
    if (raw.sum !== undefined) {
      if (typeof raw.sum !== 'string') fail('sum must name a numeric field');
      spec.sum = raw.sum as string;
      spec.threshold = posNum('threshold');
    } else spec.threshold = posInt('threshold');
  } else if (raw.mean !== undefined) {
    if (typeof raw.mean !== 'string') fail('mean must name a numeric field');
    spec.mean = raw.mean as string;
    spec.threshold = posNum('threshold');
    if (raw.step !== undefined) {
      const stepNs = parseDurationNs(raw.step);
      if (stepNs === undefined || stepNs <= 0) fail("step must be a duration such as '10s'");
      spec.stepNs = Math.min(stepNs!, overNs!);
    }
  } else if (raw.threshold !== undefined) fail('threshold goes with distinct or mean');
  if (raw.sustained !== undefined) {
    if (raw.sustained !== true) fail('sustained must be true');
    spec.sustained = true;
  }
  if (raw.group_by !== undefined) {
    if (typeof raw.group_by !== 'string') fail('group_by must name a field');
    spec.group_by = raw.group_by as string;
  }
  return spec;
}
