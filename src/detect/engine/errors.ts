// Why: a malformed rule file must fail loudly and precisely (file, rule, line, column), never
// crash the engine or silently drop a detection.
export class RuleError extends Error {
  file: string;
  rule?: string;
  line?: number;
  column?: number;
  constructor(message: string, at: { file: string; rule?: string; line?: number; column?: number }) {
    const where = `${at.file}${at.line !== undefined ? `:${at.line}${at.column !== undefined ? `:${at.column}` : ''}` : ''}`;
    super(`${where}: ${at.rule ? `${at.rule}: ` : ''}${message}`);
    this.name = 'RuleError';
    this.file = at.file;
    if (at.rule !== undefined) this.rule = at.rule;
    if (at.line !== undefined) this.line = at.line;
    if (at.column !== undefined) this.column = at.column;
  }
}

/** Several items of one file broken: the first one's place, every message (one a line). */
export class RuleErrors extends RuleError {
  readonly all: readonly RuleError[];
  constructor(all: RuleError[]) {
    const first = all[0]!;
    super('', { file: first.file, ...(first.rule !== undefined ? { rule: first.rule } : {}), ...(first.line !== undefined ? { line: first.line } : {}), ...(first.column !== undefined ? { column: first.column } : {}) });
    this.message = all.map((e) => e.message).join('\n');
    this.all = all;
  }
}
