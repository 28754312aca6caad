// Why: `corral replay` re-runs recorded trajectories. Traces arrive as JSON lines in two
// forms: Corral's canonical one-tool-call-per-line form, and one episode per line in chat
// format — OpenAI's (assistant tool_calls) or Anthropic's (tool_use content blocks). Bad lines
// are reported with file and line and never stop the rest. File editors' calls (Anthropic's text
// editor, Claude Code's Write/Edit/MultiEdit/Read, an Edit with replace_all, write_file/read_file
// tools) become file operations, so a trajectory that writes a script with the editor and then runs
// it replays as it happened.
import type { FileOperation, TextEdit } from '../session/file-tools.js';
import { EDITOR_VERB, editorCallProblem } from './editor-call-shape.js';
import { argvCommand, argvOf } from './argv-command.js';

export interface ToolCallLine {
  run?: string;
  episode: string;
  step: number;
  tool_call_id?: string;
  tool: 'bash' | 'python';
  /** The command; for a file tool's call, what it does in words. */
  command: string;
  ts?: string;
  /** A file editor's call (create, view, str_replace, insert; Write, Edit, MultiEdit, Read …): replayed as a file operation. */
  file?: FileOperation;
}

export interface Episode { run?: string; episode: string; calls: ToolCallLine[] }

/** A bad input: `call` when one tool call of a chat line was skipped and the rest of the line was read. */
export interface InputProblem { file: string; line: number; error: string; call?: true }

/** The longest tool call id a session accepts (Session's toolCallSpecProblem). */
export const MAX_TOOL_CALL_ID = 256;

/**
 * A recorded tool call id as replay uses it: a non-empty string of at most 256 characters, or a
 * whole number (some frameworks number their calls) as its decimal text; absent (undefined or null)
 * when the call has none (replay then names it EPISODE:STEP). Anything else is why not: a call with
 * such an id used to reach Session.exec, which refused it, and the call was silently never run.
 */
export function toolCallIdOf(v: unknown): { id?: string } | { problem: string } {
  if (v === undefined || v === null) return {};
  if (typeof v === 'number' && Number.isSafeInteger(v)) return { id: String(v) };
  if (typeof v !== 'string') return { problem: `tool call id must be a string or a whole number, got ${typeof v === 'object' ? (Array.isArray(v) ? 'a list' : 'an object') : `a ${typeof v}`}` };
  if (v === '') return { problem: 'tool call id is empty' };
  if (v.length > MAX_TOOL_CALL_ID) return { problem: `tool call id is ${v.length} characters long (at most ${MAX_TOOL_CALL_ID})` };
  return { id: v };
}

/** The map key of an episode: its run and its name (one episode name in two runs is two episodes, two sandboxes). */
export function episodeKey(run: string | undefined, episode: string): string {
  return JSON.stringify([run ?? null, episode]);
}

/**
 * A line's `run` as replay uses it: a string, or absent (undefined or null). Any other type is why
 * not: `str` turned a list or an object into no run at all, and the call silently joined the
 * run-less episode of the same name (its sandbox, its files); a number joined the run of its text.
 */
export function runOf(v: unknown): { run?: string } | { problem: string } {
  if (v === undefined || v === null) return {};
  const name = nameOf('run', v);
  return 'problem' in name ? name : { run: name.name };
}

/** What a JSON value is, for a message: `a list`, `a JSON object`, `a number out of range` (1e400 parses as Infinity) … */
function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number' && !Number.isFinite(v)) return 'a number out of range';
  return typeof v === 'object' ? (v === null ? 'null' : 'a JSON object') : `a ${typeof v}`;
}

/**
 * A run's or an episode's name: a non-empty string, or a whole number used as its decimal text (as a tool call id's
 * is). An empty name made tool call ids like ":12", and `"run": 5` was refused where `"episode": 5` was read (a review, session 40).
 */
export function nameOf(field: string, v: unknown): { name: string } | { problem: string } {
  if (typeof v === 'string') return v !== '' ? { name: v } : { problem: `field "${field}" is empty` };
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return { name: String(v) };
  return { problem: `field "${field}" must be a string or a whole number, got ${kindOf(v)}` };
}

/**
 * A file's bytes as text, each line decoded as strict UTF-8. A line that is not UTF-8 is a bad line
 * (file:line, "invalid UTF-8") left blank, so the other lines keep their numbers and are still read:
 * decoding the whole file leniently made such a line's bytes U+FFFD, and a command that was not what
 * the agent ran was replayed. (Splitting on the newline byte is safe: 0x0A is never inside a UTF-8 sequence.)
 */
export function decodeLines(bytes: Uint8Array, file: string): { text: string; problems: InputProblem[] } {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try { return { text: fatal.decode(bytes), problems: [] }; } catch { /* some line is not UTF-8: line by line below */ }
  const lines: string[] = [];
  const problems: InputProblem[] = [];
  for (let start = 0, n = 1; start <= bytes.length; n++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    try { lines.push(fatal.decode(bytes.subarray(start, end))); } catch { lines.push(''); problems.push({ file, line: n, error: 'invalid UTF-8' }); }
    start = end + 1;
  }
  return { text: lines.join('\n'), problems };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * Tools that take a `command` argument but do not run it in a shell: file editors (Anthropic's
 * text editor tool: `command: "view" | "create" | "str_replace" …` with a `path`), browsers, computer
 * use. Replaying their `command` as bash would run `view` (vim) or worse.
 */
const NOT_SHELL = /(?:str_replace|text_editor|edit|write|read|view|browser|computer|search|fetch)/i;

/**
 * Tools named for a language other than the shell's or Python's (`execute_javascript`, `run_node`,
 * `ruby`): their `command` or `code` is that language's source, which replay cannot run — as bash,
 * `console.log(1)` is a syntax error and a wrong exit code, not what the agent ran.
 */
const OTHER_LANGUAGE = /(?:^|[^a-z])(?:javascript|typescript|js|ts|node|nodejs|deno|bun|ruby|perl|php|lua|julia|golang|rust|java|kotlin|scala|swift|csharp|sql)(?:$|[^a-z])/i;

/** Whether a tool call runs its command in a shell or an interpreter (the calls a replay re-runs). */
function runsCommand(name: unknown, args: Record<string, unknown>): boolean {
  if (editorCall(args)) return false;
  if (typeof name === 'string' && OTHER_LANGUAGE.test(name) && !/bash|shell|python|(?:^|[^a-z])sh(?:$|[^a-z])/i.test(name)) return false;
  return !(typeof name === 'string' && NOT_SHELL.test(name) && !/bash|shell|python|exec|run|terminal|cmd/i.test(name));
}

const str0 = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * A text editor's call by its shape: an editor verb as `command` with a path field of any type. Its
 * `command` is never a shell command, even when the path is missing its string (`"path": 7`): run
 * as bash, `view` is vim and `create` whatever the sandbox's PATH holds under that name.
 */
function editorCall(args: Record<string, unknown>): boolean {
  return typeof args.command === 'string' && EDITOR_VERB.test(args.command) && ('path' in args || 'file_path' in args);
}

/** MultiEdit's edits (`edits: [{old_string, new_string, replace_all?}]`, their shape checked by editor-call-shape.ts) as a multi_edit's. */
function multiEditsOf(edits: Record<string, unknown>[]): TextEdit[] {
  return edits.map((e) => ({ old: String(e.old_string), new: String(e.new_string), ...(e.replace_all === true ? { replaceAll: true } : {}) }));
}

/**
 * The file operation a tool call does, if it is a file editor's: Anthropic's text editor
 * (`command`: create / view / str_replace / insert, with `path`), Claude Code's Write / Edit (also
 * with replace_all) / MultiEdit / Read (`file_path`), and write_file / create_file / read_file /
 * view_file tools (`path`, `content`). Returns 'skip' for an editor call that changes nothing
 * replayable (undo_edit), undefined when the call is not a file tool's. Call it after
 * editorCallProblem (editor-call-shape.ts), which turns a malformed editor call into a bad line.
 */
export function fileOperationOf(name: unknown, args: Record<string, unknown>): FileOperation | 'skip' | undefined {
  const n = typeof name === 'string' ? name : '';
  const path = str0(args.path) ?? str0(args.file_path);
  if (path === undefined) return undefined;
  const editor = str0(args.command);
  if (editor !== undefined && EDITOR_VERB.test(editor)) {
    switch (editor) {
      case 'create': return typeof args.file_text === 'string' ? { op: 'write', path, content: args.file_text } : 'skip';
      case 'view': return { op: 'read', path };
      case 'str_replace': return typeof args.old_str === 'string' ? { op: 'str_replace', path, old: args.old_str, new: str0(args.new_str) ?? '' } : 'skip';
      case 'insert': {
        const text = str0(args.insert_text) ?? str0(args.new_str);
        return typeof args.insert_line === 'number' && Number.isSafeInteger(args.insert_line) && args.insert_line >= 0 && text !== undefined ? { op: 'insert', path, line: args.insert_line, text } : 'skip';
      }
      default: return 'skip';
    }
  }
  if (/^(write|create)(_?file)?$/i.test(n) && typeof args.content === 'string') return { op: 'write', path, content: args.content };
  if (/^(edit|str_replace|replace)(_?file)?$/i.test(n) && typeof args.old_string === 'string' && typeof args.new_string === 'string') {
    return { op: 'str_replace', path, old: args.old_string, new: args.new_string, ...(args.replace_all === true ? { replaceAll: true } : {}) };
  }
  if (/^multi_?edit(_?file)?$/i.test(n)) return { op: 'multi_edit', path, edits: multiEditsOf(args.edits as Record<string, unknown>[]) };
  if (/^(read|view|cat)(_?file)?$/i.test(n)) return { op: 'read', path };
  return undefined;
}

/**
 * How a call that is not replayed is named in the count on stderr: the tool, and the editor verb
 * that made it one (`NotebookEdit`, `WebSearch`, `str_replace_based_edit_tool undo_edit`).
 */
export function skipLabel(name: unknown, args: Record<string, unknown>): string {
  const n = typeof name === 'string' && name !== '' ? name.slice(0, 60) : 'unnamed tool';
  return typeof args.command === 'string' && EDITOR_VERB.test(args.command) ? `${n} ${args.command}` : n;
}

/** Counts a call that is not replayed under its label. */
function countSkip(into: Record<string, number>, name: unknown, args: Record<string, unknown>): void {
  const k = skipLabel(name, args);
  into[k] = (into[k] ?? 0) + 1;
}

/** A file operation's words, shown as the call's command. */
function fileCommand(f: FileOperation): string {
  switch (f.op) {
    case 'write': return `write ${f.path}`;
    case 'read': return `read ${f.path}`;
    case 'str_replace': return `str_replace${f.replaceAll ? ' (every occurrence)' : ''} in ${f.path}`;
    case 'multi_edit': return `multi_edit in ${f.path} (${f.edits.length} edit${f.edits.length === 1 ? '' : 's'})`;
    case 'insert': return `insert after line ${f.line} of ${f.path}`;
  }
}

/**
 * The command a shell or code tool's arguments hold: `command` (text, or a Codex-style argv —
 * ["bash", "-lc", "…"] is its script, other argv is quoted word by word: argv-command.ts), `cmd` or `code`.
 */
function inputCommand(args: Record<string, unknown>): string | undefined {
  const argv = argvOf(args.command);
  if (argv) return argvCommand(argv);
  return [args.command, args.cmd, args.code].find((v) => typeof v === 'string') as string | undefined;
}

/** Tool names that run their `command` in a shell or an interpreter (as editor-call-shape.ts names them). */
const SHELL_NAME = /bash|shell|python|exec|run|terminal|cmd/i;

/**
 * What a replay runs for a tool call that is not a file operation: the command and how (bash or
 * python); 'not replayed' for a tool that runs nothing replayable (a browser, `submit {"answer":…}`,
 * a JavaScript tool's `code`: only a python-named or unnamed tool's `code` is run, as python);
 * 'no command' for a shell tool without a command (a damaged call: a bad line).
 */
function commandOfCall(name: unknown, args: Record<string, unknown>): { command: string; tool: 'bash' | 'python' } | 'not replayed' | 'no command' {
  if (!runsCommand(name, args)) return 'not replayed';
  const command = inputCommand(args);
  const named = typeof name === 'string' && name !== '';
  if (command === undefined) {
    // (a tool with a path is a file tool replay does not know: a bad line, never a silent skip — it may write)
    return named && !SHELL_NAME.test(name) && !('path' in args || 'file_path' in args) ? 'not replayed' : 'no command';
  }
  if (argvOf(args.command)) return { command, tool: 'bash' };
  const codeOnly = typeof args.code === 'string' && args.command === undefined && args.cmd === undefined;
  if (!codeOnly) return { command, tool: toolOf(name) };
  return !named || toolOf(name) === 'python' ? { command, tool: 'python' } : 'not replayed';
}

function toolOf(name: unknown): 'bash' | 'python' {
  const n = String(name ?? 'bash').toLowerCase();
  return n.includes('python') || n === 'ipython' || n === 'code_interpreter' ? 'python' : 'bash';
}

/**
 * Parses one file's text into episodes, in first-seen order, steps sorted. Pass the same `into` map
 * for several files: an episode whose steps are spread over files is one episode (its sandbox and
 * files persist across them), and a canonical line and a chat line of one episode add up.
 */
export function parseReplayInput(text: string, file: string, into: Map<string, Episode> = new Map()): { episodes: Episode[]; problems: InputProblem[]; skipped: number; skippedTools: Record<string, number> } {
  const problems: InputProblem[] = [];
  const episodes = into;
  let skipped = 0;
  /** The calls not replayed, by tool (skipLabel). */
  const skippedTools: Record<string, number> = {};
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const at = { file, line: i + 1 };
    let obj: unknown;
    try { obj = JSON.parse(line); } catch (e) { problems.push({ ...at, error: `invalid JSON: ${(e as Error).message}` }); return; }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) { problems.push({ ...at, error: 'expected a JSON object' }); return; }
    // (a canonical line's `command` may be an argv too: bash text that runs exactly it)
    const argvLine = argvOf((obj as Record<string, unknown>).command);
    const o = argvLine ? { ...(obj as Record<string, unknown>), command: argvCommand(argvLine), tool: 'bash' } : obj as Record<string, unknown>;
    const runGot = runOf(o.run);
    if ('problem' in runGot) { problems.push({ ...at, error: runGot.problem }); return; }
    const run = runGot.run;
    const named = o.episode === undefined || o.episode === null ? undefined : nameOf('episode', o.episode);
    if (named && 'problem' in named) { problems.push({ ...at, error: named.problem }); return; }
    if (Array.isArray(o.messages)) {
      const ep = named?.name ?? `${file}#${i + 1}`;
      const before = problems.length;
      const got = fromMessages(o.messages, ep, run, at, problems, skippedTools);
      skipped += got.skipped;
      // (a line none of whose calls could be read is a bad line, as a whole: its problems are no longer one call's)
      if (!got.calls.length && !got.skipped) for (const p of problems.slice(before)) delete p.call;
      const key = episodeKey(run, ep);
      const cur = episodes.get(key);
      // (steps continue after the episode's calls read so far: a chat line adds to, never replaces, them)
      const base = cur ? Math.max(0, ...cur.calls.map((c) => c.step)) : 0;
      for (const c of got.calls) c.step += base;
      episodes.set(key, { run, episode: ep, calls: [...(cur?.calls ?? []), ...got.calls] });
      return;
    }
    const episode = named?.name;
    // (a canonical line of a file tool: its arguments as "input" or "args"; or the line itself when it
    // names a tool that does not run its `command` in a shell — the text editor's
    // {"tool":"str_replace_based_edit_tool","command":"view","path":…}: run as bash, `view` was vim)
    const given = [o.input, o.args, o.arguments].find((v) => v && typeof v === 'object' && !Array.isArray(v)) as Record<string, unknown> | undefined;
    const lineIsArgs = given === undefined && typeof o.command === 'string' && (editorCall(o) || (o.tool !== undefined && !runsCommand(o.tool, o)));
    const input = lineIsArgs ? o : given;
    const commandText = lineIsArgs ? undefined : typeof o.command === 'string' ? o.command : undefined;
    // (a broken editor call is a bad line, never a call counted as "not replayed": editor-call-shape.ts)
    const shape = commandText === undefined && input ? editorCallProblem(o.tool, input) : undefined;
    if (shape) { problems.push({ ...at, error: `malformed ${shape.tool} call: ${shape.problem}` }); return; }
    const fop = commandText === undefined && input ? fileOperationOf(o.tool, input) : undefined;
    if (fop === 'skip') { skipped++; countSkip(skippedTools, o.tool, input!); return; }
    if (lineIsArgs && !fop) {
      if (editorCall(o)) { problems.push({ ...at, error: `a text editor's ${String(o.command)} whose path is not a string` }); return; }
      skipped++; countSkip(skippedTools, o.tool, o); return; // (a browser's or a search's `command`: nothing run)
    }
    // (else a shell tool's own arguments — `"tool":"bash","input":{"command":…}` — as a chat line's are read)
    let fromInput: string | undefined;
    let codeTool: 'bash' | 'python' | undefined;
    if (commandText === undefined && input !== undefined && !fop) {
      const how = commandOfCall(o.tool, input);
      // (a tool that runs no command — submit {"answer":…}, a JavaScript tool's code — is not replayed; a canonical
      // line of a browser or an editor with arguments replay cannot read stays a bad line that says why, as before)
      if (how === 'not replayed' && episode !== undefined && runsCommand(o.tool, input)) { skipped++; countSkip(skippedTools, o.tool, input); return; }
      if (how !== 'not replayed' && how !== 'no command') { fromInput = how.command; codeTool = how.tool; }
    }
    const command = commandText ?? (fop ? fileCommand(fop) : fromInput);
    const step = typeof o.step === 'number' && Number.isSafeInteger(o.step) && o.step >= 0 ? o.step : typeof o.step === 'string' && /^\d{1,15}$/.test(o.step) ? Number(o.step) : undefined;
    const id = toolCallIdOf(o.tool_call_id);
    if (episode === undefined) { problems.push({ ...at, error: 'missing field "episode" (string)' }); return; }
    if (command === undefined) { problems.push({ ...at, error: input ? `tool ${JSON.stringify(String(o.tool ?? ''))}: not a file tool this replay knows (its input has no path, or no command/file_text/old_str/content), and no "command"` : 'missing field "command" (string)' }); return; }
    if (step === undefined) { problems.push({ ...at, error: `missing or bad field "step" (a whole number ≥ 0, or its decimal text), got ${o.step === undefined ? 'nothing' : typeof o.step === 'number' && !Number.isFinite(o.step) ? kindOf(o.step) : JSON.stringify(o.step)}` }); return; }
    if ('problem' in id) { problems.push({ ...at, error: `field "tool_call_id": ${id.problem}` }); return; }
    const key = episodeKey(run, episode);
    const ep = episodes.get(key) ?? { run, episode, calls: [] };
    const tool = fop ? 'bash' : codeTool ?? toolOf(o.tool);
    ep.calls.push({ run, episode, step, tool_call_id: id.id, tool, command, ts: str(o.ts), ...(fop ? { file: fop } : {}) });
    episodes.set(key, ep);
  });
  for (const ep of episodes.values()) ep.calls.sort((a, b) => a.step - b.step);
  return { episodes: [...episodes.values()], problems, skipped, skippedTools };
}

/**
 * The tool calls of one episode's messages, in order: OpenAI `tool_calls` of assistant messages
 * (`function.arguments`, JSON text or an object), and Anthropic `tool_use` content blocks of
 * assistant messages (`input`, an object).
 */
function fromMessages(messages: unknown[], episode: string, run: string | undefined, at: { file: string; line: number }, problems: InputProblem[], skippedTools: Record<string, number>): { calls: ToolCallLine[]; skipped: number } {
  const out: ToolCallLine[] = [];
  let step = 0, skipped = 0, seen = 0;
  const add = (rawId: unknown, name: unknown, a: unknown): void => {
    const idOf = toolCallIdOf(rawId);
    const id = 'id' in idOf ? idOf.id : undefined;
    // (one call of the line is skipped, the rest of the line is read: `call`, so it is worded as such)
    const problem = (error: string): void => { problems.push({ ...at, error: `tool call ${id ?? seen}: ${error}`, call: true }); };
    seen++;
    if ('problem' in idOf) { problem(idOf.problem); return; }
    let args: Record<string, unknown> = {};
    let parsed: unknown = a;
    if (typeof a === 'string') {
      try { parsed = JSON.parse(a); } catch { problem('arguments are not valid JSON'); return; }
    }
    // (`"arguments": "null"`, a number or a list: no field can be read from it, and reading one crashed the whole parse)
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
    else if (typeof a === 'string' || (parsed !== undefined && parsed !== null)) { problem('arguments are not a JSON object'); return; }
    const shape = editorCallProblem(name, args);
    if (shape) { problem(`malformed ${shape.tool} call: ${shape.problem}`); return; }
    const file = fileOperationOf(name, args);
    const unreplayable = (): void => { skipped++; countSkip(skippedTools, name, args); };
    if (file === 'skip') { unreplayable(); return; }
    if (file) { step++; out.push({ run, episode, step, tool_call_id: id, tool: 'bash', command: fileCommand(file), file }); return; }
    if (editorCall(args)) { problem(`a text editor's ${String(args.command)} whose path is not a string`); return; }
    // (a browser, a search, NotebookEdit, submit, a JavaScript tool's code: nothing run)
    const how = commandOfCall(name, args);
    if (how === 'not replayed') { unreplayable(); return; }
    if (how === 'no command') { problem('no command, cmd or code argument'); return; }
    step++;
    out.push({ run, episode, step, tool_call_id: id, tool: how.tool, command: how.command });
  };
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const msg = m as { role?: string; tool_calls?: unknown[]; content?: unknown };
    if (msg.role !== 'assistant') continue;
    if (Array.isArray(msg.tool_calls)) {
      for (const tc of msg.tool_calls) {
        const t = (tc && typeof tc === 'object' ? tc : {}) as { id?: unknown; function?: { name?: string; arguments?: unknown } };
        add(t.id, t.function?.name, t.function?.arguments);
      }
    } else if (Array.isArray(msg.content)) {
      for (const b of msg.content) {
        const u = b as { type?: string; id?: unknown; name?: string; input?: unknown };
        if (u && u.type === 'tool_use') add(u.id, u.name, u.input);
      }
    }
  }
  return { calls: out, skipped };
}
