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
}

const MAX_NODES = 20_000;

/**
 * A loaded bash parser. Load once (`await ShellParser.load()`, ~30 ms: compiles the grammar),
 * then `parse` is synchronous. One instance is not re-entrant but holds no state between calls.
 */
export class ShellParser {
  /** Per node-type id: its name and whether it is named (read once; saves wasm calls per node). */
  private readonly types: string[];
  private readonly named: boolean[];
  private readonly fields: (string | null)[];

  private constructor(private readonly parser: TS.Parser, lang: TS.Language) {
    this.types = lang.types.map((t) => t || 'ERROR');
    this.named = lang.types.map((_, id) => lang.nodeTypeIsNamed(id));
    this.fields = lang.fields;
  }

  static async load(): Promise<ShellParser> {
    const req = createRequire(import.meta.url);
    const ts = req('@vscode/tree-sitter-wasm') as typeof TS;
    await ts.Parser.init();
    const wasm = readFileSync(req.resolve('@vscode/tree-sitter-wasm/wasm/tree-sitter-bash.wasm'));
    const lang = await ts.Language.load(new Uint8Array(wasm));
    const parser = new ts.Parser();
    parser.setLanguage(lang);
    return new ShellParser(parser, lang);
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
    if (!tree) { this.parser.reset(); return { root: null, hasError: true, timedOut }; }
    try {
      const hasError = tree.rootNode.hasError;
      return { root: this.copyTree(tree.walk(), text.length), hasError, timedOut: false };
    } finally {
      tree.delete();
    }
  }

  /** Copies the wasm tree into plain objects with one depth-first cursor walk (4 wasm reads per node). */
  private copyTree(cur: TS.TreeCursor, limit: number): SNode {
    const mk = (): SNode => {
      const id = cur.nodeTypeId;
      const start = Math.min(cur.startIndex, limit);
      const end = Math.min(cur.endIndex, limit);
      // Only zero-width nodes can be parser-inserted (missing) ones: ask the cursor just then.
      return { type: this.types[id] ?? 'ERROR', start, end, field: this.fields[cur.currentFieldId] ?? null, named: this.named[id] ?? true, missing: start === end && cur.nodeIsMissing, children: [] };
    };
    const root = mk();
    const stack: SNode[] = [root];
    let count = 1;
    try {
      for (;;) {
        if (count < MAX_NODES && cur.gotoFirstChild()) {
          const n = mk(); count++;
          stack[stack.length - 1]!.children.push(n);
          stack.push(n);
          continue;
        }
        for (;;) {
          if (stack.length > 1 && cur.gotoNextSibling()) {
            stack.pop();
            const n = mk(); count++;
            stack[stack.length - 1]!.children.push(n);
            stack.push(n);
            break;
          }
          if (stack.length <= 1 || !cur.gotoParent()) return root;
          stack.pop();
        }
      }
    } finally {
      cur.delete();
    }
  }
}
