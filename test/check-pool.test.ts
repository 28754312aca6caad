// Why: batch screening on worker threads must give exactly the answers of one in-process
// checker, in input order, repeats included, and must fail loudly (never invent results) when a
// worker cannot start. Runs the real analyzer and rules on real threads over the labelled corpora.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { CommandChecker, type CheckResult } from '../src/detect/check.js';
import { CheckPool, type PoolItem } from '../src/detect/check-pool.js';
import { checkCommandCli } from '../src/cli/check-command.js';
import { Collect } from './helpers/collect.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const corpus = (f: string): string[] => readFileSync(`${ROOT}corpus/${f}`, 'utf8').split('\n').filter((l) => l.trim())
  .map((l) => (JSON.parse(l) as { command: string }).command);
const hostile = corpus('hostile.jsonl');
const benign = corpus('benign-tricky.jsonl');

/** The answer without its timing (the only field that may differ between two runs). */
const stable = (r: CheckResult): unknown => ({ ...r, durationUs: 0 });

test('the pool gives the in-process answers, in input order, repeats included', async () => {
  // interleave hostile and benign, and repeat some commands far apart
  const items: PoolItem[] = [];
  for (let i = 0; i < Math.max(hostile.length, benign.length); i++) {
    if (i < hostile.length) items.push({ command: hostile[i]!, tool: 'bash' });
    if (i < benign.length) items.push({ command: benign[i]!, tool: 'bash' });
  }
  items.push(...items.slice(0, 50));
  items.push({ command: 'import socket; s=socket.socket(); s.connect(("10.0.0.1", 4444))', tool: 'python' });
  const local = CommandChecker.create({ cacheSize: 0 });
  const want = items.map((it) => stable(local.check(it.command, { tool: it.tool })));
  const pool = await CheckPool.start({ workers: 2, batch: 16 });
  try {
    assert.equal(pool.size, 2);
    const order: number[] = [];
    const got: unknown[] = [];
    const n = await pool.run(items, (i, r) => { order.push(i); got.push(stable(r)); });
    assert.equal(n, items.length);
    assert.deepEqual(order, items.map((_, i) => i), 'results arrive in input order');
    assert.deepEqual(got, want);
    const denies = got.filter((r) => (r as CheckResult).verdict === 'deny').length;
    assert.ok(denies > hostile.length / 2, `${denies} denies: the hostile corpus was really screened`);
    // a repeat is a copy: editing one answer cannot change another
    const seen: CheckResult[] = [];
    await pool.run([{ command: hostile[0]!, tool: 'bash' }, { command: hostile[0]!, tool: 'bash' }], (_, r) => seen.push(r));
    seen[0]!.findings[0]!.span[0] = -1;
    assert.notEqual(seen[1]!.findings[0]!.span[0], -1);
    assert.equal(await pool.run([], () => assert.fail('no items')), 0);
  } finally { await pool.close(); }
});

test('a rule file that does not compile fails pool start with its name', async () => {
  await assert.rejects(CheckPool.start({ workers: 2, extraRules: [{ file: 'site-rules.yaml', text: '- rule: x\n  condtion: oops\n' }] }), /site-rules\.yaml/);
});


test('corral check --stdin --workers 2 prints the same JSON lines as --workers 1', async () => {
  // 2000+ lines so the CLI uses the pool (hostile and benign corpora, repeated with distinct suffixes)
  const base = [...hostile, ...benign].filter((c) => !c.includes('\n'));
  const lines = Array.from({ length: 2100 }, (_, i) => i < base.length ? base[i]! : `${base[i % base.length]!} ; : ${i}`);
  const run = async (w: string): Promise<{ code: number; out: unknown[] }> => {
    const stdout = new Collect();
    const stderr = new Collect();
    const code = await checkCommandCli(['--stdin', '--json', '--workers', w], { stdout, stderr, env: { NO_COLOR: '1' }, stdin: Readable.from([`${lines.join('\n')}\n`]) });
    return { code, out: stdout.text.trim().split('\n').map((l) => ({ ...(JSON.parse(l) as object), durationUs: 0 })) };
  };
  const one = await run('1');
  const two = await run('2');
  assert.equal(one.out.length, lines.length);
  assert.equal(one.code, 2);
  assert.equal(two.code, 2);
  assert.deepEqual(two.out, one.out);
});
