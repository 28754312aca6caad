// Why: the engine's fast path (one generated program per event kind, evt.kind folded, fields read
// into locals, kind-specialised getters, string tests gated by the literal prefilter, argv scanned
// in place) must decide exactly what each rule's own predicate decides. These tests use the rule's
// plain compiled predicate (rule.matches: no dispatch, no prefilter, generic getters) as the oracle
// over the benchmark's mixed stream, every rule example, mutated and hostile events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamGen } from '../bench/engine-throughput.js';
import { DetectionEngine, type EngineEvent, loadBuiltinRules, loadRuleSources } from '../src/detect/engine/api.js';
import { exampleEvents } from '../src/detect/engine/examples.js';
import { LiteralScanner } from '../src/detect/engine/prefilter.js';

const set = loadBuiltinRules();
const stateless = set.rules.filter((r) => r.window === undefined);

function corpus(): EngineEvent[] {
  const events: EngineEvent[] = new StreamGen(7).next(20_000);
  for (const r of set.rules) for (const ex of [...r.examples.match, ...r.examples.nomatch]) {
    if (typeof ex !== 'string') events.push(...exampleEvents(ex, `x-${r.id}`));
  }
  const execs = events.filter((e) => e.kind === 'exec' || e.kind === 'command').slice(-400);
  for (const e of execs) {
    const p = e.payload as { argv?: unknown[] };
    const argv = Array.isArray(p.argv) ? p.argv : [];
    events.push({ ...e, id: `${e.id}-up`, payload: { ...e.payload, argv: argv.map((a) => String(a).toUpperCase()) } });
    events.push({ ...e, id: `${e.id}-na`, payload: { ...e.payload, argv: [...argv, 'ſtratum+tcp://x'] } });
    events.push({ ...e, id: `${e.id}-nofile`, payload: { argv } });
    events.push({ ...e, id: `${e.id}-empty`, payload: { argv: [] } });
    events.push({ ...e, id: `${e.id}-mixed`, payload: { argv: [7, ...argv, null] } });
  }
  // The same payloads under other kinds (fields a kind does not carry must read as absent).
  for (const e of events.slice(0, 3000)) events.push({ ...e, id: `${e.id}-k`, kind: e.kind === 'exec' ? 'dns' : e.kind === 'dns' ? 'connect' : 'exec' });
  return events;
}

describe('compiled kind programs', () => {
  it('fire exactly the stateless rules whose own predicate matches', () => {
    const engine = new DetectionEngine(set);
    let fired = 0;
    let checked = 0;
    for (const e of corpus()) {
      const got = engine.process(e).filter((d) => d.count === undefined).map((d) => d.rule).sort();
      const want = stateless.filter((r) => r.matches(e)).map((r) => r.id).sort();
      assert.deepEqual(got, want, `event ${e.id} (${e.kind})`);
      checked++;
      if (want.length) fired++;
    }
    assert.ok(checked > 25_000 && fired > 150, `${checked} events, ${fired} with a detection`);
    assert.equal(engine.stats().ruleErrors, 0);
  });

  it('are sound for user rules too: string tests gated by literals inside or/not', () => {
    const rules = loadRuleSources([{ file: 'u.yaml', text: `
- rule: gated_inside
  desc: literal tests under or/not, on cmdline, args and argv elements
  condition: >
    evt.kind = exec and (proc.cmdline icontains "Secret-Token" or not proc.args contains "--safe-mode"
    or proc.arg[1] startswith "zzz" or proc.cmdline regex "ab(c|d)efg")
  severity: low
  category: exfiltration
  attack: [T1041]
  output: "x %proc.cmdline"
  reason: r
` }]);
    const engine = new DetectionEngine(rules);
    const r = rules.rules[0]!;
    const argvs = [['tool', '--safe-mode'], ['tool', '--SAFE-MODE'], ['tool', 'a', '--safe-mode'], ['x', 'SECRET-token'], ['x', 'zzzz', '--safe-mode'],
      ['x', 'abdefg', '--safe-mode'], ['x', '--safe-', 'mode'], ['x', '--safe-mode', 'ſ'], ['only'], []];
    let n = 0;
    for (const argv of argvs) {
      const e: EngineEvent = { id: `u${n++}`, ts: '1', kind: 'exec', session: 's', payload: { argv } };
      assert.equal(engine.process(e).length === 1, r.matches(e), JSON.stringify(argv));
    }
  });

  it('treat a throwing payload getter as an absent field, like the plain predicate', () => {
    const engine = new DetectionEngine(set);
    const payload = { filename: '/tmp/x' };
    Object.defineProperty(payload, 'argv', { get() { throw new Error('hostile'); }, enumerable: true });
    const e = { id: 'h1', ts: '1', kind: 'exec', session: 's', payload } as unknown as EngineEvent;
    const got = engine.process(e).map((d) => d.rule).sort();
    assert.deepEqual(got, stateless.filter((r) => r.matches(e)).map((r) => r.id).sort());
    assert.ok(got.includes('exec_from_temp'), got.join(','));
  });

  it('return one shared frozen array when nothing matched', () => {
    const engine = new DetectionEngine(set);
    const a = engine.process({ id: 'n1', ts: '1', kind: 'exit', session: 's', payload: { exit_code: 0 } });
    const b = engine.process({ id: 'n2', ts: '1', kind: 'dns', session: 's', payload: { name: 'pypi.registry.test' } });
    assert.equal(a.length, 0);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
    const hit = engine.process({ id: 'n3', ts: '1', kind: 'exec', session: 's', payload: { argv: ['./x'], filename: '/tmp/x' } });
    assert.ok(hit.length > 0 && !Object.isFrozen(hit));
  });

  it('share one compiled plan between engines over the same rule set', () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) new DetectionEngine(set);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 500, `20 engines took ${ms.toFixed(0)} ms`);
  });
});

describe('kind-specialised getters', () => {
  it('read every field exactly as the generic getters do, whatever payload a kind carries', async () => {
    const { internals } = await import('../src/detect/engine/ruleset.js');
    const { FIELDS } = await import('../src/detect/engine/fields.js');
    const { table } = internals(set);
    const kinds = ['exec', 'command', 'exit', 'connect', 'flow', 'drop', 'dns', 'resource', 'toolcall.start'];
    const samples = new StreamGen(3).next(400);
    let defined = 0;
    for (const s of samples) for (const kind of kinds) {
      const e = { ...s, kind } as EngineEvent;
      const a = table.newCache().reset(e);
      const b = table.newCache().reset(e, table.gettersFor(kind));
      for (const f of FIELDS) {
        const slot = table.resolve(f.name)!.slot;
        const v = a.g(slot);
        assert.deepEqual(b.g(slot), v, `${s.kind} payload as ${kind}: ${f.name}`);
        if (v !== undefined) defined++;
      }
    }
    assert.ok(defined > 10_000, `${defined}`);
  });
});

describe('literal scanner', () => {
  it('scanParts(argv) marks exactly what scan(argv.join(" ")) marks', () => {
    const groups = [['abc', 'x y'], ['b c'], ['--flag'], ['zz z'], ['aaa']];
    const sc = new LiteralScanner(groups);
    let seed = 9;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    const alphabet = 'abcxyz -flagZAB';
    for (let t = 0; t < 3000; t++) {
      const parts = Array.from({ length: Math.floor(rnd() * 4) }, () => Array.from({ length: Math.floor(rnd() * 6) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''));
      const whole = sc.scan(parts.join(' '));
      const a = whole === undefined ? undefined : [...whole];
      const p = sc.scanParts(parts);
      assert.deepEqual(p === undefined ? undefined : [...p], a, JSON.stringify(parts));
      const lower = parts.join(' ').toLowerCase();
      if (a) groups.forEach((ls, g) => assert.equal(a[g] === 1, ls.some((l) => lower.includes(l)), `${JSON.stringify(parts)} group ${g}`));
    }
    assert.equal(sc.scanParts(['abc', 'ſ']), undefined);
  });
});
