// Why: every built-in rule carries events that must match it and events that must not. This runs
// all of them, so a rule that silently stops matching its attack (or starts flagging benign
// activity) fails the suite. It also checks the examples are meaningful: a rule's match examples
// must not match when the rule is absent, and each rule is honest about bypasses in its desc.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinRuleSources, loadRuleSources, runRuleExamples } from '../src/detect/engine/api.js';

const set = loadRuleSources([], { builtins: true });
const runtime = set.rules.filter((r) => r.source.file.startsWith('rules/runtime-'));

describe('built-in rules', () => {
  it('load from the package and include the runtime rule files', () => {
    const files = builtinRuleSources().map((s) => s.file);
    assert.equal(files[0], 'rules/lists.yaml');
    for (const f of ['runtime-mining', 'runtime-tunnel', 'runtime-shell', 'runtime-probe', 'runtime-persistence', 'runtime-evasion', 'runtime-exfil', 'runtime-resource']) {
      assert.ok(files.includes(`rules/${f}.yaml`), f);
    }
    assert.ok(runtime.length >= 40, `only ${runtime.length} runtime rules`);
  });

  it('every rule has at least one match and one nomatch example', () => {
    const missing = set.rules.filter((r) => r.examples.match.length === 0 || r.examples.nomatch.length === 0).map((r) => r.id);
    assert.deepEqual(missing, []);
  });

  it('every runtime rule says how it can be bypassed (or that it cannot)', () => {
    const silent = runtime.filter((r) => !/bypass|false positive|benign|also/i.test(r.desc)).map((r) => r.id);
    assert.deepEqual(silent, []);
  });

  it('covers every category the runtime can see', () => {
    const cats = new Set(runtime.map((r) => r.category));
    for (const c of ['mining', 'tunnel', 'reverse_shell', 'internal_probe', 'metadata_access', 'exfiltration', 'persistence', 'defense_evasion', 'ingress_transfer', 'resource_abuse', 'sandbox_escape']) {
      assert.ok(cats.has(c as never), c);
    }
    const windowed = runtime.filter((r) => r.window);
    for (const mode of ['count', 'distinct', 'sum', 'mean'] as const) assert.ok(windowed.some((r) => r.window![mode] !== undefined), mode);
    assert.ok(windowed.some((r) => r.window!.group_by), 'group_by');
  });

  const results = runRuleExamples(set);
  for (const r of set.rules) {
    const mine = results.filter((x) => x.rule === r.id);
    const run = mine.filter((x) => !x.skipped);
    it(`${r.id}: ${run.length} examples${mine.length > run.length ? ` (${mine.length - run.length} command strings need the analyzer)` : ''}`, () => {
      const bad = mine.filter((x) => !x.ok).map((x) => `${x.kind}[${x.index}]: ${x.error}`);
      assert.deepEqual(bad, []);
    });
  }

  it('runtime rules run their examples here (none skipped)', () => {
    const skipped = results.filter((x) => x.skipped && runtime.some((r) => r.id === x.rule));
    assert.deepEqual(skipped, []);
    const ran = results.filter((x) => !x.skipped && runtime.some((r) => r.id === x.rule));
    assert.ok(ran.length >= 2 * runtime.length);
  });

  it('examples fail when the rule is changed to never match (they test something)', () => {
    // Disable every runtime condition by appending "and evt.kind = nothing": all match examples must fail.
    const kill = runtime.map((r) => `- rule: ${r.id}\n  override: { condition: append }\n  condition: and evt.kind = never_kind\n`).join('');
    const dead = loadRuleSources([{ file: 'kill.yaml', text: kill }], { builtins: true });
    const res = runRuleExamples(dead).filter((x) => runtime.some((r) => r.id === x.rule));
    const stillMatching = res.filter((x) => x.kind === 'match' && x.ok).map((x) => x.rule);
    assert.deepEqual(stillMatching, []);
  });
});
