// Why: writes dist/rules-cache.json: each built-in rule file's items, parsed from YAML once at build
// time and keyed by a hash of the file's text, so processes skip the YAML parse (see
// src/detect/engine/rule-cache.ts). A file that cannot load on its own (an override) is not cached.
import { writeFileSync } from 'node:fs';
import { builtinRuleSources, ruleCachePath } from '../dist/src/detect/engine/ruleset.js';
import { emptyStore, loadSource } from '../dist/src/detect/engine/loader.js';
import { serializeFileStores } from '../dist/src/detect/engine/rule-cache.js';

const files = [];
for (const src of builtinRuleSources()) {
  const store = emptyStore();
  try { loadSource(store, src); } catch { continue; }
  files.push({ file: src.file, text: src.text, store });
}
writeFileSync(ruleCachePath(), serializeFileStores(files));
