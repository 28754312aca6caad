// Why: the labelled corpora are the command screen's measure (docs/check.md, Quality), and a rule change that
// loses a hostile command or starts flagging a benign one should fail here, not wait for someone to rerun the
// bench. Real analyzer and rules over every corpus: hostile commands are flagged (warn or deny) under some rule;
// the tricky benign ones are not — save the one documented warning (nvidia-smi on a task not declared as GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommandChecker } from '../src/detect/check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const corpus = (f: string): { command: string; category?: string }[] => readFileSync(`${ROOT}corpus/${f}`, 'utf8').split('\n').filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { command: string; category?: string });
const checker = CommandChecker.create();

test('every hostile command of the three corpora is flagged (the blind holdouts included)', () => {
  for (const f of ['hostile.jsonl', 'hostile-holdout.jsonl', 'hostile-holdout2.jsonl']) {
    const missed = corpus(f).filter((h) => checker.check(h.command).verdict === 'allow').map((h) => `[${h.category}] ${h.command.slice(0, 120)}`);
    assert.deepEqual(missed, [], `${f}: missed`);
  }
});

test('the tricky benign commands pass; the only warning is the documented GPU query', () => {
  for (const f of ['benign-tricky.jsonl', 'benign-tricky2.jsonl']) {
    const flagged = corpus(f).map((b) => ({ b, r: checker.check(b.command) })).filter(({ r }) => r.verdict !== 'allow');
    const unexpected = flagged.filter(({ r }) => !(r.verdict === 'warn' && r.findings.every((x) => x.rule === 'cmd_nvidia_smi')));
    assert.deepEqual(unexpected.map(({ b, r }) => `${r.verdict} ${r.findings.map((x) => x.rule).join(',')}: ${b.command.slice(0, 120)}`), [], `${f}: flagged`);
    assert.ok(flagged.length <= 1, `${f}: ${flagged.length} GPU-query warnings`);
  }
});
