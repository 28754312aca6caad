// Why: one place that turns shell text into a syntax tree, with a real bash grammar
// (tree-sitter-bash, compiled to WebAssembly and shipped inside @vscode/tree-sitter-wasm, so
// nothing is downloaded at runtime). Threat it stops: detection that splits commands on spaces
// with regexes and is fooled by quoting, heredocs, `$'…'`, substitutions and line breaks.
// Tree-sitter recovers from syntax errors (ERROR nodes) instead of throwing, so junk the agent
// types still yields a partial tree plus a parse-error note, and parsing is bounded in time.
// The tree is copied once into plain JS objects (SNode) so analysis never crosses into wasm again.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type * as TS from '@vscode/tree-sitter-wasm';

export interface SNode {
  type: string;
  /** [start, end) in UTF-16 code units of the parsed text (JS string indices). */
  start: number;
  end: number;
  /** Field name in the parent (name, argument, body, redirect, destination, value …). */
  field: string | null;
  named: boolean;
  /** A zero-width node the parser inserted to recover (e.g. a missing closing quote). */
  missing: boolean;
  children: SNode[];
}

export interface ParseResult {
  root: SNode | null;
  /** True when the tree holds ERROR or MISSING nodes (the text is not valid bash). */
  hasError: boolean;
  /** Set when parsing was cut off by the time budget (root is null then). */
  timedOut: boolean;
  /** Set when the tree had more than MAX_NODES nodes: the copy stops there and the rest is missing. */
  truncated: boolean;
}

export const MAX_NODES = 20_000;

/**
 * The binding's raw cursor calls. The JS TreeCursor re-writes its 4-int state into the shared
 * transfer buffer before, and reads it back after, every single call (~10 setValue/getValue per
 * node); the C side already leaves the buffer holding the current state, so one walk can call
 * these directly and marshal only once. Taken from the module object that Parser.init fills in
 * (emscripten's `Module = moduleArg`); when a binding version does not expose them, the
 * ordinary cursor API is used and results are identical (test/command-analyzer.test.ts).
 */
interface RawCursor {
  tb: number;
  setValue(ptr: number, v: number, type: 'i32'): void;
  getValue(ptr: number, type: 'i32'): number;
  first(tree: number): number;
  next(tree: number): number;
  parent(tree: number): number;
  type(tree: number): number;
  start(tree: number): number;
  end(tree: number): number;
  field(tree: number): number;
  missing(tree: number): number;
}

/** The module object of this process's tree-sitter binding (mirrors the binding's own per-process instance). */
let bindingModule: Record<string, unknown> | undefined;

function rawCursor(mod: Record<string, unknown>): RawCursor | undefined {
  const f = (n: string) => (typeof mod[n] === 'function' ? (mod[n] as (...a: unknown[]) => number) : undefined);
  const names = ['_ts_init', 'setValue', 'getValue', '_ts_tree_cursor_goto_first_child_wasm', '_ts_tree_cursor_goto_next_sibling_wasm',
    '_ts_tree_cursor_goto_parent_wasm', '_ts_tree_cursor_current_node_type_id_wasm', '_ts_tree_cursor_start_index_wasm',
    '_ts_tree_cursor_end_index_wasm', '_ts_tree_cursor_current_field_id_wasm', '_ts_tree_cursor_current_node_is_missing_wasm'];
  const fs = names.map(f);
  if (fs.some((x) => x === undefined)) return undefined;
  const [init, setValue, getValue, first, next, parent, type, start, end, field, missing] = fs as ((...a: unknown[]) => number)[];
  return {
    tb: init!(), // returns the static transfer buffer (idempotent: it only rewrites the version words)
    setValue: setValue as RawCursor['setValue'], getValue: getValue as RawCursor['getValue'],
    first: first!, next: next!, parent: parent!, type: type!, start: start!, end: end!, field: field!, missing: missing!,
  };
}

/**
 * A loaded bash parser. Load once (`await ShellParser.load()`, ~30 ms: compiles the grammar),
 * then `parse` is synchronous. One instance is not re-entrant but holds no state between calls.
 */
export class ShellParser {
  /** Per node-type id: its name and whether it is named (read once; saves wasm calls per node). */
  private readonly types: string[];
  private readonly named: boolean[];
  private readonly fields: (string | null)[];

  private constructor(private readonly parser: TS.Parser, lang: TS.Language, private readonly raw?: RawCursor) {
    this.types = lang.types.map((t) => t || 'ERROR');
    this.named = lang.types.map((_, id) => lang.nodeTypeIsNamed(id));
    this.fields = lang.fields;
  }

  /** Which cursor implementation copies trees ('raw' unless forced or unavailable). */
  get cursorKind(): 'raw' | 'js' { return this.raw ? 'raw' : 'js'; }

  /** `cursor: 'js'` forces the binding's own cursor API (the raw calls are the default when available). */
  static async load(opts: { cursor?: 'raw' | 'js' } = {}): Promise<ShellParser> {
    const req = createRequire(import.meta.url);
    const ts = req('@vscode/tree-sitter-wasm') as typeof TS;
    // The binding is one wasm instance per process (Parser.init runs its factory once); the object
    // passed to the first init becomes that instance's module, so it is kept for later loads.
    const mod = bindingModule ?? {};
    await (ts.Parser.init as (m?: object) => Promise<void>)(mod);
    bindingModule ??= mod;
    const wasm = readFileSync(req.resolve('@vscode/tree-sitter-wasm/wasm/tree-sitter-bash.wasm'));
    const lang = await ts.Language.load(new Uint8Array(wasm));
    const parser = new ts.Parser();
    parser.setLanguage(lang);
    return new ShellParser(parser, lang, opts.cursor === 'js' ? undefined : rawCursor(mod));
  }

  /**
   * Parses `text` as bash. A newline is appended before parsing: bash treats a command string and
   * the same string plus a newline alike, and tree-sitter-bash parses pipelines at end-of-input
   * several times slower without one. Offsets stay those of `text`.
   */
  parse(text: string, budgetMs = 50): ParseResult {
    const deadline = performance.now() + budgetMs;
    let timedOut = false;
    const tree = this.parser.parse(`${text}\n`, null, {
      progressCallback: () => {
        if (performance.now() > deadline) { timedOut = true; return true; }
        return false;
      },
    } as TS.ParseOptions);
    if (!tree) { this.parser.reset(); return { root: null, hasError: true, timedOut, truncated: false }; }
    try {
      const hasError = tree.rootNode.hasError;
      const copy = this.copyTree(tree, text.length);
      return { root: copy.root, hasError, timedOut: false, truncated: copy.truncated };
    } finally {
      tree.delete();
    }
  }

  /** Copies the wasm tree into plain objects with one depth-first cursor walk (4 reads and a move per node). */
  private copyTree(tree: TS.Tree, limit: number): { root: SNode; truncated: boolean } {
    const cur = tree.walk();
    const w = this.raw ? rawWalker(this.raw, tree, cur) : jsWalker(cur);
    const mk = (): SNode => {
      const id = w.type();
      const start = Math.min(w.start(), limit);
      const end = Math.min(w.end(), limit);
      // Only zero-width nodes can be parser-inserted (missing) ones: ask the cursor just then.
      return { type: this.types[id] ?? 'ERROR', start, end, field: this.fields[w.field()] ?? null, named: this.named[id] ?? true, missing: start === end && w.missing(), children: [] };
    };
    const root = mk();
    const stack: SNode[] = [root];
    let count = 1;
    let truncated = false;
    try {
      for (;;) {
        if (count >= MAX_NODES) truncated = true;
        else if (w.first()) {
          const n = mk(); count++;
          stack[stack.length - 1]!.children.push(n);
          stack.push(n);
          continue;
        }
        for (;;) {
          if (stack.length > 1 && !truncated && w.next()) {
            stack.pop();
            const n = mk(); count++;
            stack[stack.length - 1]!.children.push(n);
            stack.push(n);
            break;
          }
          if (stack.length <= 1 || !w.parent()) return { root, truncated };
          stack.pop();
        }
      }
    } finally {
      w.done();
      cur.delete();
    }
  }
}

/** The moves and reads copyTree needs, over either cursor implementation. */
interface Walker { first(): boolean; next(): boolean; parent(): boolean; type(): number; start(): number; end(): number; field(): number; missing(): boolean; done(): void }

function jsWalker(cur: TS.TreeCursor): Walker {
  return {
    first: () => cur.gotoFirstChild(), next: () => cur.gotoNextSibling(), parent: () => cur.gotoParent(),
    type: () => cur.nodeTypeId, start: () => cur.startIndex, end: () => cur.endIndex, field: () => cur.currentFieldId,
    missing: () => cur.nodeIsMissing, done: () => {},
  };
}

/** The cursor state is marshalled once, then lives in the transfer buffer until done() hands it back. */
function rawWalker(r: RawCursor, tree: TS.Tree, cur: TS.TreeCursor): Walker {
  const t = (tree as unknown as Record<number, number>)[0]!;
  const c = cur as unknown as Record<number, number>;
  for (let i = 0; i < 4; i++) r.setValue(r.tb + 4 * i, c[i]!, 'i32');
  return {
    first: () => r.first(t) === 1, next: () => r.next(t) === 1, parent: () => r.parent(t) === 1,
    type: () => r.type(t), start: () => r.start(t), end: () => r.end(t), field: () => r.field(t), missing: () => r.missing(t) === 1,
    // hand the current state back to the JS cursor before it frees itself
    done: () => { for (let i = 0; i < 4; i++) c[i] = r.getValue(r.tb + 4 * i, 'i32'); },
  };
}
