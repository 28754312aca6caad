// Why: agents change files through file tools (Anthropic's text editor: create, view, str_replace,
// insert; Claude Code's Edit, also with replace_all, and MultiEdit; a trainer's
// write_file/read_file), not only through a shell. A sandbox that can only run commands makes the
// trainer smuggle files through `cat > f <<EOF` (quoting bugs, no binary) and makes `corral replay`
// skip those steps, so a trajectory that writes miner.sh with the editor and then runs it cannot be
// reproduced. Each file operation here is one tool call of the session: it runs inside the sandbox
// as the agent (file-tool-program.ts), in the call's own cgroup, with its step and tool-call id,
// and it is screened first on what it really does — the path it writes (persistence places: the
// command rules' write list) and the code it writes (a shell script, a crontab, a Python file: the
// command analyser) — like the Claude Code hook screens Write/Edit. Threat it stops: persistence
// and hostile code planted through a file tool instead of a command the screen would read; host
// files reached through a file tool (it never runs as root on the host).
import type { CheckResult, Verdict } from '../detect/check.js';
import type { CommandScreen } from './runtime.js';
import { writeRecord } from '../detect/write-record.js';
import type { CommandRecord } from '../detect/command/types.js';
import { codeUnits } from '../hook/written-content.js';
import { EDIT_CONTEXT_MAX, FILE_TOOL_EXIT, FILE_TOOL_PATH, FILE_TOOL_SAYS, fileToolArgv } from './file-tool-program.js';
import type { InternalCallSpec, ToolCallResult } from './session.js';

/** The sandbox's working and home directory by default (filesystem.workspace_path): relative paths and `~` resolve there. */
export const DEFAULT_WORKSPACE = '/workspace';
/** The most a read returns by default, and at all. */
export const READ_DEFAULT_BYTES = 1 << 20;
export const READ_MAX_BYTES = 64 << 20;
/** The most one write may carry (the daemon's body limit is set from it). */
export const WRITE_MAX_BYTES = 32 << 20;

/** The most edits one multi_edit may carry. */
export const MULTI_EDIT_MAX = 1000;

/** One edit of a multi_edit: `old` becomes `new`, at its one occurrence, or at every one with replaceAll. */
export interface TextEdit { old: string; new: string; replaceAll?: boolean }

export type FileOperation =
  | { op: 'write'; path: string; content: string | Uint8Array; append?: boolean }
  | { op: 'read'; path: string; maxBytes?: number }
  /** The one occurrence of `old` becomes `new` (Claude Code's Edit; with replaceAll, every occurrence, at least one). */
  | { op: 'str_replace'; path: string; old: string; new: string; replaceAll?: boolean }
  /**
   * Claude Code's MultiEdit: the edits in order, each to the text the ones before it left; if one does
   * not apply, none is (the file is unchanged) and `problem` names it ("edit 2 of 3", counted from 1).
   */
  | { op: 'multi_edit'; path: string; edits: TextEdit[] }
  | { op: 'insert'; path: string; line: number; text: string };

export type FileCallSpec = FileOperation & { step?: number; toolCallId?: string; timeoutMs?: number };

export interface FileCallResult extends ToolCallResult {
  /** The operation was done (exit 0); otherwise `problem` says why, as the agent should read it. */
  ok: boolean;
  problem?: string;
  /** The absolute path inside the sandbox. */
  path: string;
  /** write/str_replace/multi_edit/insert: the file's size afterwards. read: the file's size. */
  size?: number;
  /** read of a file: its bytes (up to maxBytes); `truncated` when more follow. */
  content?: Buffer;
  truncated?: boolean;
  /** read of a directory: its entries, directories ending in "/" (`size`: how many it has; `truncated` when not all fit in maxBytes). */
  entries?: string[];
}

/** The absolute sandbox path a tool gave (relative to the workspace, `~` = the workspace), or why not. */
export function sandboxPath(raw: unknown, ws = DEFAULT_WORKSPACE): { path: string } | { problem: string } {
  if (typeof raw !== 'string' || raw === '') return { problem: 'path must be a non-empty string' };
  if (raw.includes('\0')) return { problem: 'path holds a NUL byte' };
  if (raw.length > 4096) return { problem: 'path is longer than 4096 characters' };
  let p = raw === '~' ? ws : raw.startsWith('~/') ? ws + raw.slice(1) : raw;
  if (!p.startsWith('/')) p = `${ws}/${p}`;
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop(); else parts.push(part);
  }
  // /proc/self/root/workspace/.bashrc is /workspace/.bashrc: every process of the sandbox has its
  // root (the agent cannot chroot), so the screen judges the file by its own name, not the alias.
  while (parts[0] === 'proc' && parts[2] === 'root' && /^(self|thread-self|\d+)$/.test(parts[1] ?? '')) parts.splice(0, 3);
  return { path: `/${parts.join('/')}` };
}

/**
 * Places a file tool does not write: /proc (a process's cwd, fds and root are other names of files
 * the screen would then judge by the alias: `/proc/self/cwd/.bashrc`, `/proc/1/cwd/.git/hooks/…`)
 * and the descriptor links of /dev. Nothing an editor writes lives there.
 */
function aliasWriteProblem(path: string): string | undefined {
  if (path === '/proc' || path.startsWith('/proc/') || path.startsWith('/dev/fd/') || /^\/dev\/std(in|out|err)$/.test(path)) {
    return `file tools do not write under ${path.startsWith('/dev/') ? '/dev' : '/proc'} (${path}): it names processes and descriptors, not files; give the file's own path`;
  }
  return undefined;
}

/** What is wrong with a file call, if anything (the library, the API and replay all check here). */
export function fileCallProblem(spec: FileCallSpec): string | undefined {
  if (typeof spec !== 'object' || spec === null) return 'expected a file operation object';
  const where = sandboxPath(spec.path);
  if ('problem' in where) return where.problem;
  if (spec.op !== 'read') { const alias = aliasWriteProblem(where.path); if (alias) return alias; }
  switch (spec.op) {
    case 'write': {
      const c = spec.content;
      if (typeof c !== 'string' && !(c instanceof Uint8Array)) return 'content must be a string or bytes';
      if ((typeof c === 'string' ? Buffer.byteLength(c) : c.length) > WRITE_MAX_BYTES) return `content is larger than ${WRITE_MAX_BYTES} bytes`;
      return undefined;
    }
    case 'read':
      if (spec.maxBytes !== undefined && !(Number.isSafeInteger(spec.maxBytes) && spec.maxBytes >= 0 && spec.maxBytes <= READ_MAX_BYTES)) return `maxBytes must be a whole number from 0 to ${READ_MAX_BYTES}`;
      return undefined;
    case 'str_replace':
      return editProblem(spec, '') ?? (Buffer.byteLength(spec.old) + Buffer.byteLength(spec.new) > WRITE_MAX_BYTES ? `old and new are larger than ${WRITE_MAX_BYTES} bytes` : undefined);
    case 'multi_edit': {
      const edits: unknown = spec.edits;
      if (!Array.isArray(edits) || edits.length === 0) return 'edits must be a non-empty list of {old, new, replaceAll?}';
      if (edits.length > MULTI_EDIT_MAX) return `edits has ${edits.length} edits; a multi_edit takes at most ${MULTI_EDIT_MAX}`;
      let bytes = 0;
      for (const [i, e] of edits.entries()) {
        const problem = editProblem(e, `edit ${i + 1} of ${edits.length}: `);
        if (problem) return problem;
        bytes += Buffer.byteLength((e as TextEdit).old) + Buffer.byteLength((e as TextEdit).new);
      }
      return bytes > WRITE_MAX_BYTES ? `the edits' old and new texts are larger than ${WRITE_MAX_BYTES} bytes` : undefined;
    }
    case 'insert':
      if (!(Number.isSafeInteger(spec.line) && spec.line >= 0)) return 'line must be a whole number ≥ 0 (0: before the first line)';
      if (typeof spec.text !== 'string') return 'text must be a string';
      if (Buffer.byteLength(spec.text) > WRITE_MAX_BYTES) return `text is larger than ${WRITE_MAX_BYTES} bytes`;
      return undefined;
    default:
      return `op must be write, read, str_replace, multi_edit or insert, got ${JSON.stringify((spec as { op?: unknown }).op)}`;
  }
}

/** What is wrong with one replacement (a str_replace, or one edit of a multi_edit: `where` names it). */
function editProblem(e: unknown, where: string): string | undefined {
  if (typeof e !== 'object' || e === null) return `${where}expected {old, new, replaceAll?}`;
  const { old, new: neu, replaceAll } = e as Partial<TextEdit>;
  if (typeof old !== 'string' || typeof neu !== 'string') return `${where}old and new must be strings`;
  if (old === '') return `${where}old must not be empty`;
  if (replaceAll !== undefined && typeof replaceAll !== 'boolean') return `${where}replaceAll must be true or false`;
  return undefined;
}

const RANK: Record<Verdict, number> = { allow: 0, warn: 1, deny: 2 };

/** Several verdicts as one: the strictest verdict, everything else joined (`findings`: those kept, when some were left out). */
export function combineChecks(parts: CheckResult[], findings = parts.flatMap((p) => p.findings)): CheckResult {
  let verdict: Verdict = 'allow';
  for (const p of parts) if (RANK[p.verdict] > RANK[verdict]) verdict = p.verdict;
  return { verdict, findings, parseErrors: parts.flatMap((p) => p.parseErrors), unwrapped: parts.flatMap((p) => p.unwrapped), durationUs: parts.reduce((n, p) => n + p.durationUs, 0) };
}

/**
 * The texts a call puts into the file, each with its label: a write's content, an edit's new text, each
 * new text of a multi_edit. Bytes are decoded as UTF-8 with stray bytes replaced, never
 * skipped: bash and python run a script with one Latin-1 byte in a comment, so "not UTF-8, so data"
 * let `#!/bin/sh\n# caf\xe9\n./xmrig …` (or any content_base64 write) past the code screen.
 * Whether the text is code at all is still decided by its path and shebang (codeUnits).
 */
function writtenTexts(spec: FileOperation): { label: string; text: string }[] {
  switch (spec.op) {
    case 'str_replace': return [{ label: 'new', text: spec.new }];
    case 'multi_edit': return spec.edits.map((e, i) => ({ label: `new of edit ${i + 1}`, text: e.new }));
    case 'insert': return [{ label: 'text', text: spec.text }];
    case 'read': return [];
    case 'write': return [{ label: 'content', text: typeof spec.content === 'string' ? spec.content : Buffer.from(spec.content.buffer, spec.content.byteOffset, spec.content.length).toString('utf8') }];
  }
}

/**
 * The code a notebook's text holds, as notebook cells to screen: a whole notebook's code cells (its
 * JSON parsed), or for a fragment (an edit's new text or lines) each JSON string in it on a line of
 * its own. Judged as raw text, a cell's `!xmrig …` sat inside a JSON string ("!xmrig …\n",) and no
 * `!` line was found: a notebook written by a file tool hid any shell command from the screen.
 */
export function notebookSources(text: string): string[] {
  try {
    const nb = JSON.parse(text) as { cells?: unknown } | null;
    if (nb && typeof nb === 'object' && Array.isArray(nb.cells)) {
      return nb.cells.flatMap((c: unknown) => {
        const cell = c as { cell_type?: unknown; source?: unknown } | null;
        if (!cell || cell.cell_type !== 'code') return [];
        const src = Array.isArray(cell.source) ? cell.source.filter((x): x is string => typeof x === 'string').join('') : typeof cell.source === 'string' ? cell.source : '';
        return src.trim() ? [src] : [];
      });
    }
  } catch { /* not a whole notebook: a fragment */ }
  const strings = [...text.matchAll(/"((?:[^"\\\n]|\\.)*)"/g)].map((m) => { try { return JSON.parse(`"${m[1]}"`) as string; } catch { return ''; } });
  const joined = strings.map((x) => x.replace(/\n$/, '')).join('\n');
  return joined.trim() ? [joined] : [];
}

/** The code units of text written to a path (a notebook's cells, when the path is one). */
function unitsOf(path: string, label: string, text: string, shellStartup: boolean): ReturnType<typeof codeUnits> {
  if (!path.endsWith('.ipynb')) return codeUnits(path, [{ label, text }], { shellStartup });
  return codeUnits(path, notebookSources(text).map((src, i) => ({ label: `${label}, cell ${i + 1}`, text: src })), { notebook: true, shellStartup });
}

/** The `~/…` spelling of a path under the workspace (HOME), the form the command rules list. */
function tildeOf(path: string, ws: string): string | undefined {
  return path === ws || path.startsWith(`${ws}/`) ? `~${path.slice(ws.length)}` : undefined;
}

/**
 * The command record of "the file tool reads PATH": `head` (a data tool: it shows bytes, runs
 * nothing) with the path and its `~/…` spelling as file operands. Judged as `cat -- /workspace/…`
 * a view of `~/.ssh/id_rsa` passed (the credential rule lists `~/.ssh`, not /workspace) while a view
 * of docs/xmrig-setup.md or notes/169.254.169.254.txt was a critical miner/metadata finding (cat is
 * not a data tool, so the content rules matched the file's name) and, with on_finding: block, refused.
 */
function readRecord(path: string, ws: string): CommandRecord {
  const tilde = tildeOf(path, ws);
  const files = tilde === undefined ? [path] : [path, tilde];
  const text = `file read ${path}`;
  return { argv: ['head', ...files], text, depth: 0, via: '', span: [0, text.length], chain: [text], redirects: [], input_from: [], files, ips: [], flags: [] };
}

/**
 * The screen's verdict on a file call: a read is judged as `head PATH ~/PATH` (credential files, the
 * host's secrets), a write by its path (the command rules' list of persistence places, as `tee
 * PATH`) and by the code it writes (shell, crontab, Python: the command analyser).
 */
export function screenFileCall(spec: FileOperation, path: string, checker: CommandScreen, ws = DEFAULT_WORKSPACE): CheckResult {
  const parts: CheckResult[] = [];
  if (spec.op === 'read') parts.push(checker.checkRecords([readRecord(path, ws)]));
  else {
    const where = checker.checkRecords([writeRecord(`file ${spec.op}`, path, tildeOf(path, ws))]);
    parts.push(where);
    const shellStartup = where.findings.some((f) => f.rule === 'cmd_persistence_rc_write');
    for (const { label, text } of writtenTexts(spec)) {
      for (const u of unitsOf(path, label, text, shellStartup)) parts.push(checker.check(u.text, { tool: u.tool }));
    }
  }
  return combineChecks(parts);
}

/**
 * The screen's verdict on the lines an edit left (str_replace, multi_edit, insert, append: the
 * program prints them — around every change, for a replace_all or a multi_edit — with one line either
 * side and the file's first line, after the size). The new text alone
 * can be half of a hostile line (`nc -QQ …` then QQ → e), finish the last line (an append to
 * `nc -`), or land in a script known as one only by its #! (an edit's text has none). Findings the
 * pre-screen already had are left out. Undefined when the call wrote nothing, or nothing is code.
 */
export function screenEditedLines(spec: FileOperation, path: string, stdout: string, checker: CommandScreen, prescreen: CheckResult | undefined, when = 'as this call left it'): CheckResult | undefined {
  if (spec.op === 'read' || (spec.op === 'write' && !spec.append)) return undefined;
  const m = /^\d+\n/.exec(stdout);
  if (!m) return undefined;
  const text = stdout.slice(m[0].length);
  if (text.trim() === '') return undefined;
  const shellStartup = prescreen?.findings.some((f) => f.rule === 'cmd_persistence_rc_write') ?? false;
  const units = unitsOf(path, 'the edited lines', text, shellStartup);
  if (units.length === 0) return undefined;
  const had = new Set(prescreen?.findings.map((f) => f.rule));
  const parts = units.map((u) => checker.check(u.text, { tool: u.tool }));
  const findings = parts.flatMap((p) => p.findings).filter((f) => !had.has(f.rule)).map((f) => ({ ...f, message: `${f.message} (found in the file ${when})` }));
  return findings.length ? combineChecks(parts, findings) : undefined;
}

/**
 * Every file a call really opened when a link made it another than the path given (native/corral-file.c
 * says so on stderr, one line each, its control bytes and backslashes written as \ooo). All of them,
 * decoded: read as the first line's raw text, a file whose directory holds a newline
 * (`repo\nx/.git/hooks/pre-commit`) was judged as `/workspace/repo`, and an edit whose write opened
 * another file than its read (a link swapped meanwhile) was judged by the file it read.
 */
export function openedPaths(stderr: string): string[] {
  const out: string[] = [];
  for (const m of stderr.matchAll(/^corral-file-tool-opened: (\/.*)$/gm)) {
    const p = m[1]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** The file a call last opened through a link (the one an edit wrote), when it is another than the path given. */
export function openedPath(stderr: string): string | undefined {
  return openedPaths(stderr).at(-1);
}

/**
 * The screen's verdict on the file a call really opened through a link the agent planted earlier
 * (`ln -s ~/.bashrc notes.txt`, then write notes.txt; `ln -s ~/.ssh/id_rsa a.txt`, then view a.txt):
 * the pre-screen judged the name given, which says nothing. Judged as if the agent had named the
 * real file; findings the pre-screen already had are left out. Observed, as the call has run.
 */
export function screenOpenedFile(spec: FileOperation, path: string, stderr: string, checker: CommandScreen, prescreen: CheckResult | undefined, ws = DEFAULT_WORKSPACE): CheckResult | undefined {
  const had = new Set(prescreen?.findings.map((f) => f.rule));
  const parts: CheckResult[] = [];
  for (const real of openedPaths(stderr)) {
    if (real === path) continue;
    const res = screenFileCall(spec, real, checker, ws);
    const findings = res.findings.filter((f) => !had.has(f.rule)).map((f) => ({ ...f, message: `${f.message} (through a link: ${path} is ${real})` }));
    if (findings.length) { parts.push({ ...res, findings }); for (const f of findings) had.add(f.rule); }
  }
  return parts.length < 2 ? parts[0] : combineChecks(parts);
}

/** What a file call's output says it did, judged: the lines an edit left and the file a link led to. */
function screenAfter(spec: FileOperation, path: string, out: { stdout: string; stderr: string }, checker: CommandScreen, prescreen: CheckResult | undefined, ws: string): CheckResult | undefined {
  const parts = [screenOpenedFile(spec, path, out.stderr, checker, prescreen, ws), screenEditedLines(spec, openedPath(out.stderr) ?? path, out.stdout, checker, prescreen)].filter((p): p is CheckResult => p !== undefined);
  if (parts.length < 2) return parts[0];
  const seen = new Set<string>();
  return combineChecks(parts, parts.flatMap((p) => p.findings).filter((f) => !seen.has(f.rule) && (seen.add(f.rule), true)));
}

/** A short, readable line for the call's record (reports and timelines show it as the command). */
function describe(spec: FileOperation, path: string): string {
  switch (spec.op) {
    case 'write': return `${spec.append ? 'append to' : 'write'} ${path} (${typeof spec.content === 'string' ? Buffer.byteLength(spec.content) : spec.content.length} bytes)`;
    case 'read': return `read ${path}`;
    case 'str_replace': return `str_replace${spec.replaceAll ? ' (every occurrence)' : ''} in ${path}`;
    case 'multi_edit': return `multi_edit in ${path} (${spec.edits.length} edit${spec.edits.length === 1 ? '' : 's'})`;
    case 'insert': return `insert after line ${spec.line} of ${path}`;
  }
}

/** A multi_edit's input to the program: per edit "<old bytes> <new bytes> <0|1>\n", the old and the new text. */
function multiEditInput(edits: TextEdit[]): Buffer {
  return Buffer.concat(edits.flatMap((e) => {
    const old = Buffer.from(e.old), neu = Buffer.from(e.new);
    return [Buffer.from(`${old.length} ${neu.length} ${e.replaceAll ? 1 : 0}\n`), old, neu];
  }));
}

/** The tool call that does a file operation (its argv runs the file-tool program in the sandbox). */
export function fileToolCallSpec(spec: FileCallSpec, path: string, prescreen: CheckResult | undefined, checker?: CommandScreen, ws = DEFAULT_WORKSPACE): InternalCallSpec {
  let op: string = spec.op;
  let arg: string[] = [];
  let stdin: string | Uint8Array | undefined;
  let maxOutput: number | undefined;
  switch (spec.op) {
    case 'write': op = spec.append ? 'append' : 'write'; stdin = spec.content; break;
    // (the cap is stderr's too: a read of max_bytes 0 must still say in full why it failed)
    case 'read': { const max = spec.maxBytes ?? READ_DEFAULT_BYTES; arg = [String(max)]; maxOutput = Math.max(max + 64, 1 << 16); break; }
    case 'str_replace':
      if (spec.replaceAll) arg = ['all'];
      stdin = Buffer.concat([Buffer.from(`${Buffer.byteLength(spec.old)}\n`), Buffer.from(spec.old), Buffer.from(spec.new)]); break;
    case 'multi_edit': stdin = multiEditInput(spec.edits); break;
    case 'insert': arg = [String(spec.line)]; stdin = spec.text; break;
  }
  if (spec.op !== 'read') maxOutput = EDIT_CONTEXT_MAX + (1 << 12);
  const fields: Record<string, unknown> = { file_op: spec.op, path };
  if (spec.op === 'write') fields.bytes = typeof spec.content === 'string' ? Buffer.byteLength(spec.content) : spec.content.length;
  if (spec.op === 'str_replace' && spec.replaceAll) fields.replace_all = true;
  if (spec.op === 'multi_edit') fields.edits = spec.edits.length;
  return {
    command: describe(spec, path),
    argv: fileToolArgv(op, arg),
    step: spec.step, toolCallId: spec.toolCallId, timeoutMs: spec.timeoutMs,
    // (the path first, ended by a NUL no path holds: fileCallProblem refuses it)
    stdin: Buffer.concat([Buffer.from(`${path}\0`), typeof stdin === 'string' ? Buffer.from(stdin) : stdin ?? Buffer.alloc(0)]), binaryStdout: spec.op === 'read', maxOutput, ownRoot: true,
    ...(prescreen ? { prescreen } : { skipScreen: true }),
    ...(checker ? { postscreen: (out: { stdout: string; stderr: string }) => screenAfter(spec, path, out, checker, prescreen, ws) } : {}),
    record: { tool: 'file', fields },
  };
}

/** The call's outcome read back from the program's output and exit status. */
export function fileCallResult(spec: FileOperation, path: string, r: ToolCallResult): FileCallResult {
  // (the file program's stdout is Corral's own protocol — a size line, the edited text for the screen,
  // a read's header — not output of the agent's: the result carries what it means, `stdout` stays empty)
  const { stdoutBytes: _bytes, ...rest } = r;
  const base: FileCallResult = { ...rest, stdout: '', ok: false, path };
  if (r.timedOut) return { ...base, problem: `the file operation on ${path} did not finish within the call's time limit (${Math.round(r.durationMs / 1000)} s) and was stopped` };
  // (stopped from outside — cancelRunning, the session's close, a client gone: said, not a bare exit 137)
  if (r.cancelled) return { ...base, problem: `the file operation on ${path} was stopped before it finished (${r.cancelled})` };
  if (r.exitCode !== FILE_TOOL_EXIT.ok) {
    // (the program's own words are marked: a sanitizer or the C library may add lines)
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    const own = lines.filter((l) => l.startsWith(FILE_TOOL_SAYS)).map((l) => l.slice(FILE_TOOL_SAYS.length));
    const said = own.length ? own.join('; ') : lines.slice(-3).join('; ');
    const problem = r.exitCode === 127 ? `the sandbox has no ${FILE_TOOL_PATH} (Corral's file-tool program; run: npm run build)` : said || `the file tool exited with ${r.exitCode ?? r.signal}`;
    return { ...base, problem };
  }
  if (spec.op !== 'read') {
    const size = Number(/^(\d+)\n/.exec(r.stdout)?.[1]);
    return { ...base, ok: true, ...(Number.isFinite(size) ? { size } : {}) };
  }
  const out = r.stdoutBytes ?? Buffer.alloc(0);
  const nl = out.indexOf(10);
  const head = out.subarray(0, nl < 0 ? out.length : nl).toString('latin1');
  const file = /^F (\d+) ([01]) (\d+)$/.exec(head);
  if (file) {
    const got = Number(file[1]);
    const content = out.subarray(nl + 1, nl + 1 + got);
    return { ...base, ok: true, content: Buffer.from(content), truncated: file[2] === '1' || content.length < got, size: Number(file[3]) };
  }
  const dir = /^D (\d+)$/.exec(head);
  if (dir) {
    // (each name ends in a NUL: a listing cut at the output cap loses its last, unterminated name and says so)
    const parts = out.subarray(nl + 1).toString('utf8').split('\0');
    const entries = parts.slice(0, -1);
    return { ...base, ok: true, entries, truncated: entries.length < Number(dir[1]), size: Number(dir[1]) };
  }
  return { ...base, problem: 'the file tool answered in an unexpected form' };
}
