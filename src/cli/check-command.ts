// Why: `corral check` screens shell commands before they run, from the terminal, from scripts and
// replay files, and as a Claude Code PreToolUse hook. Threat it stops: an agent's miner, tunnel,
// reverse shell, scan, credential grab, persistence, evasion or exfiltration command reaching a
// shell (as a hook, also the same harm done through Claude Code's file tools or WebFetch: src/hook/).
// Output shows the span of the original command that triggered each finding and the chain of
// unwrapped layers, with agent-controlled text escaped (safeText) so it cannot drive the terminal.
// Exit codes: 0 allow, 1 warn, 2 deny (the worst over all commands checked; at least 1 when an input
// line could not be screened); 64 usage error;
// 65 unreadable input or invalid rule file. In hook mode it always exits 0 (the protocol's way).
import { readNamedFile } from '../util/read-named-file.js';
import { availableParallelism, homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import type { Severity } from '../events/event.js';
import type { CheckResult, CommandChecker, Finding, Policy, Verdict } from '../detect/check.js';
import type { RuleSource } from '../detect/engine/api.js';
import { SCREENED_TOOLS, screenToolCall } from '../hook/tool-call-screen.js';
import { decodeLines, parseReplayInput } from '../trace/replay-input.js';
import type { FileOperation } from '../session/file-tools.js';
import { Progress, readBytesFile, severityColor, skippedList, writeInputProblems, type CliIO } from './io.js';
import { makeStyle, safeText, type Style } from './style.js';
import { shellJoin } from '../util/shell-join.js';

export const CHECK_USAGE = `Usage: corral check [options] -- COMMAND...      check one command (or: corral check "COMMAND"; several words: an argv)
       corral check --stdin [options]             one command per line on stdin
       corral check --jsonl FILE|- [options]      tool calls in the canonical replay format
       corral check --hook claude-code            Claude Code PreToolUse hook (JSON on stdin and stdout): screens
                                                  Bash, Write, Edit, MultiEdit, NotebookEdit and WebFetch calls
options: --json  --rules FILE (repeatable)  --tool bash|python  --deny-at SEV  --warn-at SEV  --hook-allow
         --workers N  threads for --stdin/--jsonl batches of 2000+ commands (default: cores - 1; 1 = one thread)
exit: 0 allow, 1 warn, 2 deny (worst of all commands; at least 1 if a line could not be read), 64 usage error, 65 bad input or rules`;

const EXIT: Record<Verdict, number> = { allow: 0, warn: 1, deny: 2 };
const SEVERITIES = new Set(['low', 'medium', 'high', 'critical']);
const MAX_STDIN = 64 * 1024 * 1024;
/** Batches at least this long are screened by worker threads (below it, each thread's start-up and JIT warm-up dominate). */
const POOL_MIN_ITEMS = 2000;
/** Below this many commands, baseline-compiled wasm finishes sooner than waiting for optimised code. */
const LIFTOFF_MAX_ITEMS = 20_000;

export type CheckIO = CliIO;

class InputError extends Error {}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return (await readAllBytes(stream)).toString('utf8');
}

async function readAllBytes(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    size += b.length;
    if (size > MAX_STDIN) throw new InputError(`stdin larger than ${MAX_STDIN} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function sev(v: string | undefined, flag: string): Severity | undefined {
  if (v === undefined) return undefined;
  if (!SEVERITIES.has(v)) throw new InputError(`${flag} must be one of low, medium, high, critical (got ${JSON.stringify(v)})`);
  return v as Severity;
}

/** One line of the original text with the span underlined (carets; colour when enabled). */
function underline(text: string, span: [number, number], st: Style): string[] {
  const lineStart = text.lastIndexOf('\n', span[0] - 1) + 1;
  let lineEnd = text.indexOf('\n', span[0]);
  if (lineEnd < 0) lineEnd = text.length;
  const s = span[0] - lineStart;
  const e = Math.min(span[1], lineEnd) - lineStart;
  let line = text.slice(lineStart, lineEnd);
  let from = 0;
  if (line.length > 160) { from = Math.max(0, Math.min(s - 40, line.length - 160)); line = line.slice(from, from + 160); }
  const a = Math.max(0, s - from);
  const b = Math.max(a + 1, Math.min(line.length, e - from));
  const pre = safeText(line.slice(0, a));
  const mid = safeText(line.slice(a, b));
  const post = safeText(line.slice(b));
  const more = span[1] > lineEnd ? st.dim(' …') : '';
  return [`${pre}${st.red(st.bold(mid))}${post}${more}`, `${' '.repeat(pre.length)}${st.red('^'.repeat(Math.max(1, mid.length)))}`];
}

/** `ownText`: the finding's span is in the code it judged (a file call's), not in `text`: its matched command is shown instead. */
function renderFinding(text: string, f: Finding, st: Style, ownText = false): string {
  const out: string[] = [];
  out.push(`  ${severityColor(st, f.severity, f.severity.toUpperCase().padEnd(8))} ${st.bold(f.category.padEnd(16))} ${safeText(f.message)}`);
  out.push(`           ${st.dim(`${f.rule} · ${f.attack.join(',')}${f.source === 'analyzer' ? ' · analyzer' : ''}`)}`);
  if (ownText) out.push(`           ${safeText(f.command.length > 160 ? `${f.command.slice(0, 160)}…` : f.command)}`);
  else for (const l of underline(text, f.span, st)) out.push(`           ${l}`);
  if (f.depth > 0) {
    out.push(`           ${st.dim(`unwrapped via ${safeText(f.via || '(layers)')}:`)}`);
    for (const c of f.chain.slice(-4)) out.push(`             ${st.cyan('→')} ${safeText(c.length > 200 ? `${c.slice(0, 200)}…` : c)}`);
  }
  out.push(`           ${st.dim(`agent reason: ${safeText(f.reason)}`)}`);
  return out.join('\n');
}

function renderResult(text: string, r: CheckResult, st: Style, label?: string, ownText = false): string {
  const v = r.verdict === 'deny' ? st.red(st.bold('DENY ')) : r.verdict === 'warn' ? st.yellow(st.bold('WARN ')) : st.green('ALLOW');
  const shown = text.length > 200 || text.includes('\n') ? `${text.slice(0, 200).split('\n')[0]}…` : text;
  const head = `${v} ${label ? `${st.dim(safeText(label))} ` : ''}${safeText(shown)}`;
  const body = r.findings.map((f) => renderFinding(text, f, st, ownText));
  const notes = r.parseErrors.map((e) => `  ${st.dim(`note: ${safeText(e)}`)}`);
  return [head, ...body, ...notes].join('\n');
}

function resultJson(command: string, r: CheckResult, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, command, verdict: r.verdict, findings: r.findings, parseErrors: r.parseErrors, unwrapped: r.unwrapped, durationUs: Math.round(r.durationUs) });
}

/** Writes a PreToolUse decision (null: no opinion, `{}`) and returns the hook's exit code, 0. */
function hookAnswer(io: CheckIO, decision: 'allow' | 'ask' | 'deny' | null, reason: string): number {
  const out = decision === null ? {} : { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: decision, permissionDecisionReason: reason } };
  io.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}

/**
 * Claude Code PreToolUse hook: JSON payload in, decision JSON out, exit 0. The payload is read
 * before the checker is built (an unscreened tool does not pay for the grammar and the rules).
 * Bash, Write, Edit, MultiEdit, NotebookEdit and WebFetch are screened (src/hook/tool-call-screen.ts).
 */
async function hook(makeChecker: () => Promise<CommandChecker>, io: CheckIO, allowClean: boolean): Promise<number> {
  const answer = (decision: 'allow' | 'ask' | 'deny' | null, reason: string): number => hookAnswer(io, decision, reason);
  let payload: Record<string, unknown>;
  try {
    const v = JSON.parse(await readAll(io.stdin ?? process.stdin)) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    payload = v as Record<string, unknown>;
  } catch (e) {
    return answer('ask', `corral could not read the hook payload (${(e as Error).message}); please review this command yourself.`);
  }
  // Registered under another event (PostToolUse, …) a permission decision means nothing: said, not decided.
  if (payload.hook_event_name !== undefined && payload.hook_event_name !== 'PreToolUse') {
    io.stderr.write(`corral check: hook event ${JSON.stringify(payload.hook_event_name)} is not PreToolUse: register the hook under PreToolUse to screen commands\n`);
    return answer(null, '');
  }
  if (typeof payload.tool_name !== 'string') return answer('ask', 'corral: the hook payload names no tool (tool_name); please review this call yourself.');
  const home = typeof io.env.HOME === 'string' && io.env.HOME.startsWith('/') ? io.env.HOME : homedir();
  const a = await screenToolCall(payload.tool_name, payload.tool_input, payload.cwd, { checker: makeChecker, allowClean, home, cwd: process.cwd() });
  if (a === undefined) return answer(allowClean ? 'allow' : null, `corral screens ${SCREENED_TOOLS.join(', ')} calls only`);
  return answer(a.decision, a.reason);
}

export async function checkCommandCli(argv: string[], io: CheckIO): Promise<number> {
  // In hook mode every failure (a typo in the hook's command line, an unreadable rule file, a bug)
  // must still answer with a decision: Claude Code runs the tool call on any other exit. Fail closed.
  const hookMode = argv.some((a) => a === '--hook' || a.startsWith('--hook='));
  if (!hookMode) return checkCli(argv, io, false);
  try {
    return await checkCli(argv, io, true);
  } catch (e) {
    return hookFailure(io, (e as Error).message);
  }
}

/** The hook could not screen: deny, saying why (and on stderr), exit 0. */
function hookFailure(io: CheckIO, why: string): number {
  io.stderr.write(`corral check: ${why}\n`);
  return hookAnswer(io, 'deny', `corral check could not screen this call (${why.split('\n')[0]!.slice(0, 300)}); it is denied until the hook's configuration is fixed.`);
}

async function checkCli(argv: string[], io: CheckIO, hookMode: boolean): Promise<number> {
  let opts;
  try {
    opts = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        json: { type: 'boolean' }, stdin: { type: 'boolean' }, jsonl: { type: 'string' }, rules: { type: 'string', multiple: true },
        hook: { type: 'string' }, 'hook-allow': { type: 'boolean' }, tool: { type: 'string' }, 'deny-at': { type: 'string' },
        'warn-at': { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    if (hookMode) return hookFailure(io, (e as Error).message);
    io.stderr.write(`corral check: ${(e as Error).message}\n${CHECK_USAGE}\n`);
    return 64;
  }
  const v = opts.values;
  if (v.help) { io.stdout.write(`${CHECK_USAGE}\n`); return 0; }
  const modes = [v.stdin, v.jsonl !== undefined, v.hook !== undefined, opts.positionals.length > 0].filter(Boolean).length;
  const usage = (msg: string): number => {
    if (hookMode) return hookFailure(io, msg);
    io.stderr.write(`corral check: ${msg}\n${CHECK_USAGE}\n`);
    return 64;
  };
  if (hookMode && (v.json || v.tool !== undefined || v.workers !== undefined || v.stdin || v.jsonl !== undefined)) return usage('--hook takes no --json, --tool, --workers, --stdin or --jsonl (the payload says what to screen, the answer is the hook protocol\'s JSON)');
  if (modes !== 1) return usage(modes === 0 ? 'give a command, --stdin, --jsonl FILE or --hook claude-code' : 'use only one input: a command, --stdin, --jsonl or --hook');
  if (v.hook !== undefined && v.hook !== 'claude-code') return usage(`unknown hook protocol ${JSON.stringify(v.hook)} (supported: claude-code)`);
  if (v.tool !== undefined && v.tool !== 'bash' && v.tool !== 'python') return usage('--tool must be bash or python');
  // One core is left to V8's own threads (GC, JIT), which take ~30 % of a core per checking thread:
  // on 2 cores, two checking threads are no faster than one (measured; docs/check.md).
  const workers = v.workers === undefined ? Math.max(1, availableParallelism() - 1) : Number(v.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) return usage('--workers must be an integer from 1 to 256');

  let policy: Policy;
  let extra: RuleSource[];
  // A severity that is not one is a usage error (64), like a bad --tool; 65 is for input and rule files.
  try {
    const p = { denyAt: sev(v['deny-at'], '--deny-at'), warnAt: sev(v['warn-at'], '--warn-at') };
    policy = { ...(p.denyAt ? { denyAt: p.denyAt } : {}), ...(p.warnAt ? { warnAt: p.warnAt } : {}) };
  } catch (e) {
    return usage((e as Error).message);
  }
  try {
    extra = (v.rules ?? []).map((f) => ({ file: f, text: readNamedFile(f) }));
  } catch (e) {
    if (hookMode) return hookFailure(io, (e as Error).message);
    io.stderr.write(`corral check: ${(e as Error).message}\n`);
    return 65;
  }
  const inProcess = async (): Promise<CommandChecker> => {
    const { CommandChecker: Checker } = await import('../detect/check.js');
    return Checker.create({ extraRules: extra, policy });
  };
  if (v.hook !== undefined) {
    // One-shot runs (a hook call, one command) finish before V8's optimizing wasm compiler would pay
    // off, and on exit the process waits for those background compiles (~0.7 s measured here).
    // Baseline-compiled wasm is enough for a handful of parses; bulk modes keep the default.
    setFlagsFromString('--liftoff-only');
    return await hook(inProcess, io, v['hook-allow'] === true); // (a failure building the checker: hookFailure, above)
  }

  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  const tool = (v.tool ?? 'bash') as 'bash' | 'python';
  // (file: a file editor's call of a trajectory, screened as the sandbox screens file tools — its words are no command)
  type Item = { command: string; tool: 'bash' | 'python'; label?: string; extra?: Record<string, unknown>; file?: FileOperation };
  const items: Item[] = [];
  /** Input lines that could not be screened (bad JSON, not UTF-8, malformed calls). */
  let unread = 0;
  try {
    // One word is the command's text (`corral check -- 'a | b'`); several are an argv, each word
    // quoted as a shell would need it: joined with spaces, `bash -c "git config core.fsmonitor ./x"`
    // was screened as `bash -c git …` and the inner command never seen.
    if (opts.positionals.length > 0) items.push({ command: opts.positionals.length === 1 ? opts.positionals[0]! : shellJoin(opts.positionals), tool });
    else if (v.stdin) {
      // (each line strict UTF-8: decoded leniently, a line's bad bytes became U+FFFD and a command that
      //  was not the one given was screened; such a line is a bad line instead, named on stderr)
      const { text, problems } = decodeLines(await readAllBytes(io.stdin ?? process.stdin), '<stdin>');
      // Commands are text: NUL bytes mean a binary file was piped in by mistake, not commands to judge.
      if (text.includes('\0')) { io.stderr.write('corral check: stdin holds binary data (NUL bytes), not one command per line\n'); return 65; }
      writeInputProblems(io, 'corral check', problems);
      unread = problems.length;
      for (const line of text.split('\n')) if (line.trim() !== '') items.push({ command: line, tool });
      if (items.length === 0 && problems.length) { io.stderr.write(`corral check: no command could be read (${problems.length} bad lines)\n`); return 65; }
      // (an empty pipe is a mistake upstream, never a clean "allow")
      if (items.length === 0) { io.stderr.write('corral check: no command on stdin (one command per line); nothing was screened\n'); return 65; }
    } else {
      const file = v.jsonl!;
      const name = file === '-' ? '<stdin>' : file;
      const decoded = decodeLines(file === '-' ? await readAllBytes(io.stdin ?? process.stdin) : await readBytesFile(file), name);
      const parsed = parseReplayInput(decoded.text, name);
      const { episodes, skipped, skippedTools } = parsed;
      // (lines that are not UTF-8 are bad lines too, in line order with the others)
      const problems = [...decoded.problems, ...parsed.problems].sort((a, b) => a.line - b.line);
      unread = problems.length;
      writeInputProblems(io, 'corral check', problems);
      // (MultiEdit and an Edit with replace_all are file calls like any other: screened on the path and each new text)
      if (skipped) io.stderr.write(`corral check: ${skipped} tool call(s) not screened: ${skippedList(skippedTools)} (tools that run no command or edit nothing)\n`);
      for (const ep of episodes) for (const c of ep.calls) items.push({ command: c.command, tool: c.tool, label: `${ep.episode}#${c.step}`, extra: { episode: ep.episode, step: c.step }, ...(c.file ? { file: c.file } : {}) });
      // Nothing readable at all: bad input, never a clean "allow".
      if (items.length === 0 && (problems.length > 0 || skipped > 0)) { io.stderr.write(`corral check: no tool call could be ${problems.length ? `read (${problems.length} bad lines)` : 'screened'}\n`); return 65; }
      if (items.length === 0) { io.stderr.write(`corral check: ${file === '-' ? 'stdin' : file} holds no tool call; nothing was screened\n`); return 65; }
    }
  } catch (e) {
    io.stderr.write(`corral check: ${(e as Error).message}\n`);
    return 65;
  }

  // Short runs finish before optimised wasm pays for its compile time (measured: one command 0.6 s →
  // 0.48 s; the 5,973-line benign file 1.93 s → 1.75 s); long batches keep V8's tier-up.
  if (items.length < LIFTOFF_MAX_ITEMS) setFlagsFromString('--liftoff-only');
  const progress = new Progress(io, items.length > 200 && !v.json);
  const counts: Record<Verdict, number> = { allow: 0, warn: 0, deny: 0 };
  let worst = 0;
  let done = 0;
  const emit = (i: number, r: CheckResult): void => {
    const it = items[i]!;
    counts[r.verdict]++;
    worst = Math.max(worst, EXIT[r.verdict]);
    if (v.json) io.stdout.write(`${resultJson(it.command, r, it.extra)}\n`);
    else if (items.length === 1 || r.verdict !== 'allow') io.stdout.write(`${renderResult(it.command, r, st, it.label, it.file !== undefined)}\n`);
    progress.update(`checked ${++done}/${items.length}`);
  };
  // File editors' calls (Write, the text editor's create …) are judged by the path and the code they
  // write, as in a sandbox (session/file-tools.ts); judged as the words "write PATH", a Write of a
  // reverse shell or of curl|sh into ~/.bashrc was allowed. They are few: checked on this thread.
  const fileTools = items.some((it) => it.file) ? await import('../session/file-tools.js') : undefined;
  const screen = (checker: CommandChecker, it: Item): CheckResult => {
    if (!it.file || !fileTools) return checker.check(it.command, { tool: it.tool });
    const where = fileTools.sandboxPath(it.file.path);
    return fileTools.screenFileCall(it.file, 'path' in where ? where.path : it.file.path, checker);
  };
  try {
    const commands = items.flatMap((it, i) => (it.file ? [] : [{ command: it.command, tool: it.tool, at: i }]));
    if (workers > 1 && commands.length >= POOL_MIN_ITEMS) {
      const { CheckPool } = await import('../detect/check-pool.js');
      const pool = await CheckPool.start({ workers: Math.min(workers, Math.ceil(commands.length / POOL_MIN_ITEMS)), extraRules: extra, policy });
      try { await pool.run(commands, (j, r) => emit(commands[j]!.at, r)); } finally { await pool.close(); }
      if (commands.length < items.length) {
        const checker = await inProcess();
        items.forEach((it, i) => { if (it.file) emit(i, screen(checker, it)); });
      }
    } else {
      const checker = await inProcess();
      items.forEach((it, i) => emit(i, screen(checker, it)));
    }
  } catch (e) {
    progress.done();
    io.stderr.write(`corral check: ${(e as Error).message}\n`);
    return 65;
  }
  progress.done();
  if (items.length > 1) io.stderr.write(`checked ${items.length} commands: ${counts.allow} allow, ${counts.warn} warn, ${counts.deny} deny\n`);
  // Lines that could not be screened make the answer at least warn: a torn line may hold anything,
  // and a gate must never read a clean allow for input it did not screen (a review, session 34).
  if (unread > 0 && worst < EXIT.warn) {
    io.stderr.write(`corral check: ${unread} input line(s) could not be screened: exit ${EXIT.warn} (warn), not allow\n`);
    return EXIT.warn;
  }
  return worst;
}
