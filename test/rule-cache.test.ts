// Why: processes load the built-in rules from the build's cache (dist/rules-cache.json) instead
// of parsing their YAML (the Claude Code hook: 0.6 s → 0.35 s per call). The cache must be
// invisible: the same items with the same source positions for every character of every
// condition, the same compiled rules, user overrides that still apply (and do not leak into the
// next load), and never used for a file whose text changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { builtinRuleSources, loadRuleSources, ruleCachePath } from '../src/detect/engine/ruleset.js';
import { emptyStore, loadSource, type CondPiece, type Store } from '../src/detect/engine/loader.js';
import { RuleCache } from '../src/detect/engine/rule-cache.js';

const cache = (): RuleCache => RuleCache.parse(readFileSync(ruleCachePath(), 'utf8'));

/** A store as comparable data: positions of every piece sampled at every offset. */
function view(store: Store): string {
  return JSON.stringify({ lists: [...store.lists], macros: [...store.macros], rules: [...store.rules] }, function (this: Record<string, unknown>, key, value: unknown) {
    if (key === 'pos' && typeof value === 'function') {
      const piece = this as unknown as CondPiece;
      return Array.from({ length: piece.text.length + 2 }, (_, i) => piece.pos(i));
    }
    return value;
  });
}

test('the build wrote a rule cache, and every built-in file comes from it with identical items and positions', () => {
  assert.ok(existsSync(ruleCachePath()), 'npm run build writes dist/rules-cache.json');
  const c = cache();
  const sources = builtinRuleSources();
  assert.ok(sources.length >= 5);
  for (const src of sources) {
    const yaml = emptyStore();
    loadSource(yaml, src);
    const cached = emptyStore();
    assert.equal(c.apply(cached, src), true, `${src.file} is cached`);
    assert.equal(view(cached), view(yaml), `${src.file}: same items and positions`);
  }
});

test('rules compiled from the cache equal rules compiled from YAML; overrides apply and do not leak', () => {
  const fromCache = loadRuleSources([], { builtins: true });
  const yaml = emptyStore();
  for (const src of builtinRuleSources()) loadSource(yaml, src);
  const shape = (rs: ReturnType<typeof loadRuleSources>): unknown => rs.rules.map((r) => JSON.stringify(r, (k, v: unknown) => (typeof v === 'function' || k === 'fn' ? undefined : v instanceof Set ? [...v] : v)));
  const viaYaml = loadRuleSources([], { builtins: true, cache: false });
  assert.deepEqual(shape(fromCache), shape(viaYaml));
  assert.equal(fromCache.rules.length, [...yaml.rules.values()].length);
  // A user file appending to a built-in list changes this load only.
  const lists = [...yaml.lists.keys()];
  assert.ok(lists.length > 0);
  const name = lists[0]!;
  const extra = { file: 'user.yaml', text: `- list: ${name}\n  override: append\n  items: [corral-test-item-xyz]\n` };
  const withUser = loadRuleSources([extra], { builtins: true });
  assert.ok(withUser.lists.get(name)?.includes('corral-test-item-xyz'), 'the override applied to the cached list');
  const again = loadRuleSources([], { builtins: true });
  assert.ok(!again.lists.get(name)?.includes('corral-test-item-xyz'), 'the next load does not see it');
});

test('a cached file whose text changed, or whose names are already loaded, is read from YAML', () => {
  const c = cache();
  const src = builtinRuleSources()[0]!;
  const store = emptyStore();
  assert.equal(c.apply(store, { ...src, text: `${src.text}\n# edited\n` }), false, 'edited text');
  assert.equal(c.apply(store, { ...src, file: 'rules/not-there.yaml' }), false, 'unknown file');
  assert.equal(c.apply(store, src), true);
  assert.equal(c.apply(store, src), false, 'its names are in the store: loadSource must report the clash');
  assert.throws(() => loadSource(store, src), /already defined/);
  assert.equal(RuleCache.parse('{not json').apply(emptyStore(), src), false, 'a corrupt cache holds nothing');
  assert.equal(RuleCache.parse(JSON.stringify({ version: 999, files: {} })).apply(emptyStore(), src), false);
});
