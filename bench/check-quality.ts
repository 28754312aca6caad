// Why: measures how well command screening separates hostile from benign commands, so the
// detection rules and the analyzer are judged by numbers, not by anecdotes: recall per category on
// the labelled hostile corpus (corpus/hostile.jsonl), false positives on real benign agent actions
// (../shared/data/benign-agent-bash.jsonl, distinct commands) and on tricky benign commands
// (corpus/benign-tricky.jsonl), and precision. Goals (issue §5): FP ≤ 0.2 %, recall ≥ 98 %.
// Not a unit test. Usage: node dist/bench/check-quality.js [--json] [--list] [--benign FILE] [--hostile FILE]
// (corpus/hostile-holdout.jsonl was written after the rules and is the honest recall estimate).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommandChecker, type CheckResult } from '../src/detect/check.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => { const i = args.indexOf(name); return i >= 0 && args[i + 1] ? args[i + 1]! : dflt; };
const JSON_OUT = args.includes('--json');
const LIST = args.includes('--list');
const BENIGN = opt('--benign', `${ROOT}../shared/data/benign-agent-bash.jsonl`);
const HOSTILE = opt('--hostile', `${ROOT}corpus/hostile.jsonl`);

function readJsonl<T>(path: string): T[] {
  const out: T[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try { out.push(JSON.parse(line) as T); } catch { process.stderr.write(`${path}:${i + 1}: not JSON, skipped\n`); }
  });
  return out;
}

const checker = CommandChecker.create();
const short = (r: CheckResult): string => r.findings.map((f) => `${f.rule}(${f.severity})`).join(', ');
const flagged = (r: CheckResult): boolean => r.verdict !== 'allow';

// Hostile corpus: recall per category.
const hostile = readJsonl<{ command: string; category: string; note?: string }>(HOSTILE);
const perCat = new Map<string, { n: number; flagged: number; category: number }>();
const misses: string[] = [];
const wrongCat: string[] = [];
for (const h of hostile) {
  const r = checker.check(h.command);
  const s = perCat.get(h.category) ?? { n: 0, flagged: 0, category: 0 };
  s.n++;
  if (flagged(r)) s.flagged++; else misses.push(`[${h.category}] ${h.note ?? ''}: ${JSON.stringify(h.command)} → ${r.verdict} ${short(r)}`);
  if (r.findings.some((f) => f.category === h.category && f.severity !== 'low')) s.category++;
  else if (flagged(r)) wrongCat.push(`[${h.category}] ${h.note ?? ''}: ${JSON.stringify(h.command)} → ${short(r)}`);
  perCat.set(h.category, s);
}

// Benign: distinct agent commands, then the tricky corpus.
const seen = new Set<string>();
const benign: string[] = [];
for (const b of readJsonl<{ command: string }>(BENIGN)) if (typeof b.command === 'string' && !seen.has(b.command)) { seen.add(b.command); benign.push(b.command); }
const fps: string[] = [];
for (const c of benign) { const r = checker.check(c); if (flagged(r)) fps.push(`${JSON.stringify(c)} → ${r.verdict} ${short(r)}`); }
const tricky = readJsonl<{ command: string; note?: string }>(`${ROOT}corpus/benign-tricky.jsonl`);
const trickyFps: string[] = [];
for (const t of tricky) { const r = checker.check(t.command); if (flagged(r)) trickyFps.push(`${t.note ?? ''}: ${JSON.stringify(t.command)} → ${r.verdict} ${short(r)}`); }

const hostileFlagged = [...perCat.values()].reduce((a, s) => a + s.flagged, 0);
const recall = hostileFlagged / Math.max(1, hostile.length);
const fpRate = fps.length / Math.max(1, benign.length);
const precision = hostileFlagged / Math.max(1, hostileFlagged + fps.length + trickyFps.length);
const cats = [...perCat.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([cat, s]) => ({ category: cat, n: s.n, recall: s.flagged / s.n, categoryRecall: s.category / s.n }));

if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ hostile: hostile.length, recall, precision, benignDistinct: benign.length, falsePositives: fps.length, fpRate, tricky: tricky.length, trickyFalsePositives: trickyFps.length, categories: cats, misses, fps, trickyFps }, null, 2)}\n`);
} else {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const out: string[] = [];
  out.push('category           n   recall   right-category');
  for (const c of cats) out.push(`${c.category.padEnd(17)} ${String(c.n).padStart(3)}  ${pct(c.recall).padStart(7)}  ${pct(c.categoryRecall).padStart(7)}`);
  out.push('');
  out.push(`recall (hostile flagged warn/deny): ${pct(recall)}  (${hostileFlagged}/${hostile.length})   goal ≥ 98%   ratio ${(recall / 0.98).toFixed(3)}`);
  out.push(`false positives, benign distinct:   ${pct(fpRate)}  (${fps.length}/${benign.length})   goal ≤ 0.2%   ratio ${(fpRate / 0.002).toFixed(3)}`);
  out.push(`false positives, tricky benign:     ${trickyFps.length}/${tricky.length}`);
  out.push(`precision:                          ${pct(precision)}`);
  if (LIST || misses.length + fps.length + trickyFps.length <= 40) {
    if (misses.length) out.push('', 'missed hostile:', ...misses.map((m) => `  ${m}`));
    if (fps.length) out.push('', 'benign false positives:', ...fps.map((m) => `  ${m}`));
    if (trickyFps.length) out.push('', 'tricky benign false positives:', ...trickyFps.map((m) => `  ${m}`));
    if (LIST && wrongCat.length) out.push('', 'flagged under another category:', ...wrongCat.map((m) => `  ${m}`));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
