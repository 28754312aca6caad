// Why: the shapes the command analyzer produces and passes around: one CommandRecord per simple
// command found after unwrapping (it becomes the payload of a `command` event for the rule
// engine), the text layers it unwrapped (so a person or model can see why), and the limits that
// keep hostile input from blowing up time or memory.

export interface CommandRecord {
  /** argv after quote removal, variable resolution and unwrapping (argv[0] is the program). */
  argv: string[];
  /** Text of this command in the layer it was found in (what to read). */
  text: string;
  /** Unwrapping layers above it: text layers (bash -c, eval, base64 …) plus argv wrappers. */
  depth: number;
  /** Wrapper chain, outermost first, e.g. 'bash -c > base64 -d > sudo'. */
  via: string;
  /** [start, end) in the ORIGINAL text (UTF-16 indices) of what triggered this command. */
  span: [number, number];
  /** Texts of the unwrapped layers above this command, outermost first, then this command's text. */
  chain: string[];
  inline_lang?: string;
  /** Normalized inline code (comments stripped, strings decoded and folded). */
  inline_code?: string;
  /** Inline code that runs what it read from a network connection: `sink ← source` (inline-received.ts). */
  inline_received_exec?: string;
  /** Redirections with operator and target: `>/root/.bashrc`, `<>/dev/tcp/h/80`. */
  redirects: string[];
  /** Names of commands whose output feeds this one (pipeline upstream, `$(…)`, `<(…)`). */
  input_from: string[];
  /** Operands naming files it acts on (patterns, programs and echo data excluded). */
  files: string[];
  /** IP literals its arguments name (URL hosts, user@host, host:port, operands), canonical (see ips.ts). */
  ips: string[];
  /** The working directory a literal `cd` before it in the same shell left (absent when unknown: see exec.ts changeDir). */
  cwd?: string;
  /** argv[0] resolved against cwd when it is a relative path with a slash (`./kworker` after `cd /tmp/.x`): proc.exe. */
  program?: string;
  /** The script a shell, interpreter or `source` runs (programs.ts scriptOperand), resolved against cwd when relative. */
  script?: string;
  /** Analyzer facts: in_loop, background, dynamic_name, exec_downloaded, decoded, from_parse_error … */
  flags: string[];
}

export interface AnalysisLimits {
  /**
   * Longest input analysed (longer input is cut, with a parse-error note: a warning). The default is the kernel's
   * limit for one argument (MAX_ARG_STRLEN, 128 KiB with its NUL): every `bash -c TEXT` that can run is analysed
   * whole, so padding cannot push a command's payload past the cut (a user review, session 41, padded `nc -e` past
   * the old 64 KiB limit and ran it under `on_finding: block`). What is still cut is file content written by a file
   * tool (a generated 200 KB module: asked about, not denied) and an argv call longer than that in all.
   */
  maxInputChars: number;
  /** Most nested text layers (bash -c inside base64 inside eval …). */
  maxDepth: number;
  /** Total characters parsed across all layers of one analysis. */
  maxTotalChars: number;
  /** Most distinct command records produced by one analysis (repeats are capped at 5× this). */
  maxCommands: number;
  /** Parser time budget per layer, milliseconds. */
  parseBudgetMs: number;
}

export const DEFAULT_LIMITS: AnalysisLimits = {
  maxInputChars: 128 * 1024,
  maxDepth: 8,
  maxTotalChars: 512 * 1024,
  maxCommands: 2000,
  parseBudgetMs: 500,
};

export interface Analysis {
  commands: CommandRecord[];
  /** Readable notes: syntax errors (with position), truncation, limits hit. Never thrown. */
  parseErrors: string[];
  /** Every unwrapped text layer (decoded payloads, bash -c strings, inline code), in order found. */
  unwrapped: string[];
  /** Why part of the input was NOT analysed (limit hit, parse timeout, input cut); empty when complete. */
  incomplete: string[];
  /**
   * The subset of `incomplete` from limits that padding reaches (distinct-command count, syntax-tree
   * size): the part left unscreened is the end of the input, where a padded payload sits.
   */
  cutShort: string[];
}

/** How positions in a layer's text map back to the original text. */
export type SpanMap = { exact: true; base: number } | { exact: false; start: number; end: number };

export interface Layer {
  text: string;
  depth: number;
  via: string[];
  chain: string[];
  map: SpanMap;
}

export function mapSpan(m: SpanMap, s: number, e: number): [number, number] {
  return m.exact ? [m.base + s, m.base + e] : [m.start, m.end];
}
