// Why: the public entry of the command analyzer. `CommandAnalyzer.analyze(text)` parses a tool
// call's shell text with a real bash grammar and returns one CommandRecord per simple command
// found after unwrapping every layer (wrappers, bash -c, eval, pipes into shells, decoders,
// inline interpreter code), plus parse-error notes. It never throws on bad input: malformed
// shell gives a note and a best-effort result, and hostile input is bounded (see AnalysisLimits).
import { ShellParser } from './parser.js';
import { Run } from './run.js';
import { DEFAULT_LIMITS, type Analysis, type AnalysisLimits, type Layer } from './types.js';

export class CommandAnalyzer {
  constructor(private readonly parser: ShellParser, readonly limits: AnalysisLimits = DEFAULT_LIMITS) {}

  /** Loads the bash grammar (once, ~30 ms) and returns a ready analyzer. */
  static async load(limits: Partial<AnalysisLimits> = {}): Promise<CommandAnalyzer> {
    return new CommandAnalyzer(await ShellParser.load(), { ...DEFAULT_LIMITS, ...limits });
  }

  /** Analyzes `text` as bash (tool: 'bash') or as Python source (tool: 'python'). Synchronous. */
  analyze(text: string, tool: 'bash' | 'python' = 'bash'): Analysis {
    const run = new Run(this.parser, this.limits);
    let input = text;
    if (input.length > this.limits.maxInputChars) {
      input = input.slice(0, this.limits.maxInputChars);
      run.note('input', `input of ${text.length} characters cut to ${this.limits.maxInputChars} (limit); the rest was not analysed`);
    }
    try {
      if (tool === 'python') {
        // A python tool call is code for `python3 -`: analyse it as a heredoc-fed interpreter.
        const layer: Layer = { text: 'python3 -', depth: 0, via: [], chain: [], map: { exact: false, start: 0, end: input.length } };
        run.analyzeLayer('python3 -', layer, { stdin: Buffer.from(input, 'utf8') });
      } else {
        run.analyzeLayer(input, { text: input, depth: 0, via: [], chain: [], map: { exact: true, base: 0 } });
      }
    } catch (e) {
      // A bug in the analyzer must not crash the caller or hide what was found so far.
      run.note('error', `analyzer error: ${(e as Error).message}; result is partial`);
    }
    return run.result();
  }
}
