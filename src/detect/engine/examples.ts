// Why: every rule carries events that must match it and events that must not; this runs them,
// each against its rule alone with fresh window state, so a rule that silently stops matching
// (or starts matching benign activity) fails the test suite instead of production.
import type { EngineEvent, ExampleEvent, ExampleOptions, ExampleResult, RuleExample, RuleSet } from './api.js';
import { DetectionEngine } from './engine.js';
import { subset } from './ruleset.js';
import { parseDurationNs } from './window-spec.js';

const BASE_NS = 1_700_000_000_000_000_000n;
const EVENT_KEYS = new Set(['kind', 'payload', 'id', 'pid', 'ppid', 'session', 'episode', 'step', 'tool_call', 'cgroup', 'run', 'at', 'repeat', 'every']);

function subst<T>(v: T, i: number): T {
  if (typeof v === 'string') return v.replaceAll('{i}', String(i)) as T;
  if (Array.isArray(v)) return v.map((x) => subst(x, i)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x, i)])) as T;
  return v;
}

/** Expands an example into the events it stands for. Throws a plain Error on a malformed one. */
export function exampleEvents(ex: RuleExample, tag: string): EngineEvent[] {
  const list: unknown[] = typeof ex === 'object' && ex !== null && 'sequence' in ex ? (ex as { sequence: unknown }).sequence as unknown[] : [ex];
  if (!Array.isArray(list) || list.length === 0) throw new Error('sequence must be a non-empty list of events');
  const out: EngineEvent[] = [];
  let cursor = 0;
  for (const [j, raw] of list.entries()) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`event ${j}: must be a map with kind and payload`);
    const e = raw as ExampleEvent;
    for (const k of Object.keys(e)) if (!EVENT_KEYS.has(k)) throw new Error(`event ${j}: unknown key '${k}'`);
    if (typeof e.kind !== 'string') throw new Error(`event ${j}: needs a kind`);
    const argv = (e.payload as { argv?: unknown } | undefined)?.argv;
    if (argv !== undefined && (!Array.isArray(argv) || argv.some((a) => typeof a !== 'string'))) {
      throw new Error(`event ${j}: payload.argv must be a list of strings (quote numbers: "4444")`);
    }
    const every = e.every === undefined ? 1e9 : parseDurationNs(e.every);
    if (every === undefined) throw new Error(`event ${j}: bad every '${String(e.every)}'`);
    const at = e.at === undefined ? undefined : parseDurationNs(e.at);
    if (e.at !== undefined && at === undefined) throw new Error(`event ${j}: bad at '${String(e.at)}'`);
    const repeat = e.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100_000) throw new Error(`event ${j}: repeat must be an integer 1..100000`);
    let t = at ?? (j === 0 ? 0 : cursor + every);
    for (let i = 0; i < repeat; i++, t += every) {
      const ev: EngineEvent = {
        id: e.id !== undefined ? `${subst(e.id, i)}` : `${tag}-${j}-${i}`,
        ts: (BASE_NS + BigInt(Math.round(t))).toString(),
        kind: e.kind,
        session: e.session !== undefined ? subst(e.session, i) : 'ex-session',
        episode: e.episode !== undefined ? subst(e.episode, i) : 'ex-episode',
        tool_call: e.tool_call !== undefined ? subst(e.tool_call, i) : 'ex-tool-call',
        payload: subst(e.payload ?? {}, i),
      };
      for (const k of ['pid', 'ppid', 'step', 'cgroup', 'run'] as const) if (e[k] !== undefined) (ev as Record<string, unknown>)[k] = e[k];
      out.push(ev);
      cursor = t;
    }
  }
  return out;
}

export function runRuleExamples(rs: RuleSet, opts: ExampleOptions = {}): ExampleResult[] {
  const results: ExampleResult[] = [];
  for (const rule of rs.rules) {
    const sub = subset(rs, [rule]);
    for (const kind of ['match', 'nomatch'] as const) {
      rule.examples[kind].forEach((ex, index) => {
        const base = { rule: rule.id, kind, index };
        let events: EngineEvent[];
        try {
          if (typeof ex === 'string') {
            if (!opts.expandCommand) { results.push({ ...base, ok: true, skipped: true }); return; }
            events = opts.expandCommand(ex);
          } else events = exampleEvents(ex, `ex-${rule.id}-${kind}${index}`);
        } catch (e) {
          results.push({ ...base, ok: false, error: `bad example: ${(e as Error).message}` });
          return;
        }
        const engine = new DetectionEngine(sub);
        const hits = events.flatMap((ev) => engine.process(ev)).concat(engine.flush()).filter((d) => d.rule === rule.id);
        if (kind === 'match' && hits.length === 0) results.push({ ...base, ok: false, error: 'expected a detection, got none' });
        else if (kind === 'nomatch' && hits.length > 0) results.push({ ...base, ok: false, error: `expected no detection, got: ${hits[0]!.message}` });
        else results.push({ ...base, ok: true });
      });
    }
  }
  return results;
}
