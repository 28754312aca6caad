// Why: finds the inline code an interpreter will run (`python3 -c CODE`, `perl -e CODE`,
// `python3 - <<EOF`, `echo CODE | python3`, `node -e`, `ruby -rsocket -e`, an awk program, a
// script written earlier in the same call) and hands it to the inline analyzer; the shell
// commands and argv the code would spawn are analysed again as commands. Threat it stops:
// Python/Perl/Ruby reverse shells, subprocess-launched tunnels and miners, base64-wrapped code.
import { receivedExec } from './inline-received.js';
import type { SNode } from './parser.js';
import { analyzeInline } from './inline.js';
import type { InterpreterSpec } from './programs.js';
import { emitCommand, subLayer, type RunState, type Step } from './exec.js';
import type { Layer } from './types.js';

interface Found { code: string; from: number; to: number; pre: string[] }

/** Locates inline code in argv (or stdin / a script written earlier). */
function findCode(run: RunState, st: Step, spec: InterpreterSpec): Found | null {
  const a = st.argv;
  const pre: string[] = [];
  const pieces: { code: string; idx: number }[] = [];
  let i = 1;
  if (spec.lang === 'awk') {
    let file = false;
    while (i < a.length) {
      const x = a[i]!;
      if (x === '--') { i++; break; }
      if (!x.startsWith('-') || x === '-') break;
      if (x === '-f' || x === '--file') file = true;
      i += /^-[fFvW]$/.test(x) || ['--file', '--field-separator', '--assign'].includes(x) ? 2 : 1;
    }
    return !file && i < a.length ? { code: a[i]!, from: i, to: i + 1, pre } : null;
  }
  outer: while (i < a.length) {
    const x = a[i]!;
    if (x === '--') { i++; break; }
    if (spec.code.includes(x)) {
      if (i + 1 < a.length) pieces.push({ code: a[i + 1]!, idx: i + 1 });
      i += 2;
      if (spec.lang === 'python') break;
      continue;
    }
    const eq = spec.code.find((c) => c.startsWith('--') && x.startsWith(`${c}=`));
    if (eq) { pieces.push({ code: x.slice(eq.length + 1), idx: i }); i++; continue; }
    if (x.startsWith('--')) { i += !x.includes('=') && spec.spec.long?.includes(x) ? 2 : 1; continue; }
    if (!x.startsWith('-') || x === '-') break;
    for (let k = 1; k < x.length; k++) {
      const ch = x[k]!;
      const rest = x.slice(k + 1);
      if (spec.clusterCode?.includes(ch)) {
        if (rest) { pieces.push({ code: rest, idx: i }); i++; } else { if (i + 1 < a.length) pieces.push({ code: a[i + 1]!, idx: i + 1 }); i += 2; }
        if (spec.lang === 'python') break outer;
        continue outer;
      }
      if (spec.spec.short?.includes(ch)) {
        const val = rest || a[i + 1] || '';
        if (spec.lang === 'perl' && ch === 'M') pre.push(`use ${val.replace(/=.*/, '')};`);
        if (spec.lang === 'ruby' && ch === 'r') pre.push(`require "${val}"`);
        if (spec.lang === 'node' && ch === 'r') pre.push(`require("${val}")`);
        if (spec.lang === 'python' && ch === 'm') return null; // python -m MODULE runs a module, not inline code
        i += rest ? 1 : 2;
        continue outer;
      }
    }
    i++;
  }
  if (pieces.length) {
    const idx = pieces.map((p) => p.idx);
    if (idx.some((k) => st.exact[k] === false)) st.rec.flags.push('code_from_input');
    return { code: pieces.map((p) => p.code).join('\n'), from: Math.min(...idx), to: Math.max(...idx) + 1, pre };
  }
  if (i < a.length && a[i] !== '-') {
    const node = st.nodes[i];
    if (node?.type === 'process_substitution') {
      st.rec.flags.push('code_from_input');
      const out = run.visitSubst(node, st.inp.ctx).out;
      return out ? { code: out.toString('utf8'), from: i, to: i + 1, pre } : null;
    }
    const f = run.readFile(a[i]!);
    return f ? { code: f.toString('utf8'), from: i, to: i + 1, pre } : null;
  }
  if (st.inp.inputFrom.length || st.inp.stdin) st.rec.flags.push('code_from_input');
  return st.inp.stdin ? { code: st.inp.stdin.toString('utf8'), from: -1, to: -1, pre } : null;
}

/** Words of a synthetic argv laid out in a text, so records get text and offsets. */
function synthetic(argv: string[]): { text: string; nodes: SNode[] } {
  const nodes: SNode[] = [];
  let text = '';
  for (const w of argv) {
    if (text) text += ' ';
    nodes.push({ type: 'word', start: text.length, end: text.length + w.length, field: null, named: true, missing: false, children: [] });
    text += w;
  }
  return { text, nodes };
}

/**
 * A loop in inline code of any language: for/foreach/while/until, ruby's each…/times/upto/downto/step/loop, map, grep and
 * forEach callbacks, Array.from and itertools. Judged outside string literals (`print("waiting for db")` is no loop).
 */
const INLINE_LOOP = /\b(?:for|foreach|while|until)\b|\.(?:each\w*|times|upto|downto|step|forEach|map|flatMap|filter|reduce|starmap)\b|\b(?:map|grep)\s*[({]|\bloop\s*(?:do|\{)|Array\.from\(|\bitertools\b/;

/** Code with its quoted strings emptied (single, double and back quotes; escapes inside them kept inside). */
function withoutStrings(code: string): string {
  return code.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

/**
 * Analyzes inline code for the interpreter at `st` and records what it would run.
 * `codeOverride` is used for scripts whose content is already known (shebang files).
 */
export function runInline(run: RunState, st: Step, spec: InterpreterSpec, codeOverride?: string, hops = 0): void {
  const found = codeOverride !== undefined ? { code: codeOverride, from: -1, to: -1, pre: [] } : findCode(run, st, spec);
  if (!found || found.code.trim() === '') return;
  const code = [...found.pre, found.code].join('\n');
  // Files it acts on: a script file read as code, else the operands that are not code.
  st.rec.files = found.from >= 0 && found.to - found.from === 1 && st.argv[found.from] !== found.code
    ? [st.argv[found.from]!] : st.rec.files.filter((f) => f !== found.code && !found.code.includes(f) && f !== '-');
  const res = analyzeInline(code, spec.lang);
  st.rec.inline_lang = spec.lang;
  st.rec.inline_code = res.normalized;
  // awk running its input lines: `curl … | awk '{system($0)}'`, `{print | "sh"}`
  if (spec.lang === 'awk' && (st.inp.inputFrom.length || st.inp.stdin) && /system\(\s*\$|\|\s*"(?:\/(?:usr\/)?bin\/)?(?:ba|da|z)?sh"/.test(code)) st.rec.flags.push('code_from_input');
  const received = receivedExec(res.normalized, spec.lang);
  if (received) st.rec.inline_received_exec = `${received.sink} ← ${received.source}`;
  run.unwrapped.push(code);
  const codeLayer: Layer = found.from >= 0 ? subLayer(st, code, found.from, found.to, `${spec.lang} code`)
    : { text: code, depth: st.depth + 1, via: [...st.via, `${spec.lang} code`], chain: [...st.inp.ctx.layer.chain, code], map: { exact: false, start: st.rec.span[0], end: st.rec.span[1] } };
  const spanMap = codeLayer.map.exact ? { exact: false as const, start: codeLayer.map.base, end: codeLayer.map.base + code.length } : codeLayer.map;
  // (the commands the code runs are in a loop when the code loops, or when the shell ran the code in one: `for my $i
  // (1..254) { system("ping -c1 10.0.0.$i") }` is a sweep, one `system("ping -c1 $ip")` after a lookup is not)
  const inLoop = st.inp.ctx.inLoop || INLINE_LOOP.test(withoutStrings(res.normalized));
  const ctx = { ...st.inp.ctx, inLoop };
  for (const sh of res.shell) {
    if (run.full()) return;
    const layer: Layer = { text: sh, depth: st.depth + 1, via: [...st.via, `${spec.lang} shell`], chain: [...codeLayer.chain, sh], map: spanMap };
    run.analyzeLayer(sh, layer, { inputFrom: st.inp.inputFrom, inLoop });
  }
  for (const argv of res.argv) {
    if (run.full()) return;
    const { text, nodes } = synthetic(argv);
    const layer: Layer = { text, depth: st.depth + 1, via: [...st.via, `${spec.lang} exec`], chain: [...codeLayer.chain, text], map: spanMap };
    emitCommand(run, { argv, exact: argv.map(() => true), nodes, end: text.length, ctx: { ...ctx, layer }, stdin: null, inputFrom: st.inp.inputFrom, redirects: [], flags: [] });
  }
  if (hops >= 4 || st.depth + 1 > run.limits.maxDepth) return;
  for (const p of res.payloads) {
    if (run.full()) return;
    const layer: Layer = { text: p, depth: st.depth + 1, via: [...st.via, `${spec.lang} decode`], chain: [...codeLayer.chain, p], map: spanMap };
    const name = st.argv[0] ?? spec.lang;
    const { nodes } = synthetic([name]);
    const before = run.commands.length;
    emitCommand(run, { argv: [name], exact: [true], nodes, end: 0, ctx: { ...ctx, layer }, stdin: null, inputFrom: st.inp.inputFrom, redirects: [], flags: ['decoded'], via: layer.via, depth: layer.depth });
    const rec = run.commands[before];
    if (rec) { rec.text = p; rec.chain = [...codeLayer.chain, p]; }
    if (rec) runInline(run, { ...st, rec, via: layer.via, depth: layer.depth }, spec, p, hops + 1);
  }
}
