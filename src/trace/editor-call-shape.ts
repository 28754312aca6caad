// Why: a recorded file editor's call whose arguments are broken (a Write with no file_path, content
// that is a number, an Edit whose old_string is not a string, the text editor's create without
// file_text) is a damaged trajectory line, not a call that "edits nothing replayable". Counted among
// the skipped calls it vanished into a tally on stderr: `corral replay` and `corral check --jsonl`
// went on as if the episode were whole, and a screen of that trajectory missed the write without
// saying so. Checked here by the tool's name and its arguments' shape, such a call is a bad line with
// its file, line and what is wrong. A well-formed call that replay cannot redo (undo_edit, an Edit
// with replace_all, MultiEdit) stays a skipped call.

/** The text editor's verbs (Anthropic's str_replace_based_edit_tool and its kin). */
export const EDITOR_VERB = /^(view|create|str_replace|insert|undo_edit)$/;
/** Tool names that run their `command` in a shell or an interpreter: their `command` is no editor verb. */
const SHELL_NAME = /bash|shell|python|exec|run|terminal|cmd/i;
/** Tool names of a text editor that takes a verb as `command`. */
const EDITOR_NAME = /str_replace|text_?editor|edit/i;

/** What a value is, in words, for a message. */
function kind(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** The problem with a field that must be a string (`key` names it as the call wrote it), if any. */
function needString(args: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = args[key];
  if (typeof v === 'string' || (optional && v === undefined)) return undefined;
  return v === undefined ? `no "${key}" (a string)` : `"${key}" must be a string, got ${kind(v)}`;
}

/** The path field of a call (file_path or path), or the problem with it. */
function needPath(args: Record<string, unknown>, prefer: 'file_path' | 'path'): string | undefined {
  const key = 'file_path' in args ? 'file_path' : 'path' in args ? 'path' : prefer;
  const p = needString(args, key);
  if (p) return p;
  return args[key] === '' ? `"${key}" is empty` : undefined;
}

/** A text editor's call by its shape: an editor verb as `command`, with a path field or an editor's name. */
function textEditorCall(name: string, args: Record<string, unknown>): boolean {
  if (typeof args.command !== 'string' || !EDITOR_VERB.test(args.command)) return false;
  return 'path' in args || 'file_path' in args || (EDITOR_NAME.test(name) && !SHELL_NAME.test(name));
}

/** A malformed editor call: the tool as the message names it (`Write`, `str_replace_based_edit_tool create`) and what is wrong. */
export interface EditorCallProblem { tool: string; problem: string }

/**
 * Why a file editor's call cannot be what it claims, or undefined (a well-formed editor call, or a
 * call of another tool). Editor calls are known by their shape (the text editor's verbs) and by the
 * names of Claude Code's and common file tools (Write, Edit, MultiEdit, Read, write_file …).
 */
export function editorCallProblem(name: unknown, args: Record<string, unknown>): EditorCallProblem | undefined {
  const n = typeof name === 'string' ? name : '';
  const tool = `${n ? n.slice(0, 60) : 'unnamed tool'}${typeof args.command === 'string' && EDITOR_VERB.test(args.command) ? ` ${args.command}` : ''}`;
  const problem = shapeProblem(n, args);
  return problem === undefined ? undefined : { tool, problem };
}

function shapeProblem(n: string, args: Record<string, unknown>): string | undefined {
  if (textEditorCall(n, args)) {
    const path = needPath(args, 'path');
    if (path) return path;
    switch (args.command) {
      case 'create': return needString(args, 'file_text');
      case 'str_replace': return needString(args, 'old_str') ?? needString(args, 'new_str', true);
      case 'insert': {
        const line = args.insert_line;
        if (typeof line !== 'number' || !Number.isSafeInteger(line) || line < 0) return `"insert_line" must be a line number (0 or more), got ${typeof line === 'number' ? line : kind(line)}`;
        return 'insert_text' in args ? needString(args, 'insert_text') : needString(args, 'new_str');
      }
      default: return undefined; // view, undo_edit
    }
  }
  if (/^(write|create)(_?file)?$/i.test(n)) return needPath(args, 'file_path') ?? needString(args, 'content');
  if (/^(edit|str_replace|replace)(_?file)?$/i.test(n)) {
    return needPath(args, 'file_path') ?? needString(args, 'old_string') ?? needString(args, 'new_string')
      ?? (args.replace_all === undefined || typeof args.replace_all === 'boolean' ? undefined : `"replace_all" must be true or false, got ${kind(args.replace_all)}`);
  }
  if (/^multi_?edit(_?file)?$/i.test(n)) {
    const p = needPath(args, 'file_path');
    if (p) return p;
    if (!Array.isArray(args.edits) || args.edits.length === 0) return `"edits" must be a non-empty list of {old_string, new_string}, got ${Array.isArray(args.edits) ? 'an empty list' : kind(args.edits)}`;
    for (const [i, e] of args.edits.entries()) {
      if (!e || typeof e !== 'object' || Array.isArray(e)) return `edits[${i}] must be an object {old_string, new_string}, got ${kind(e)}`;
      const bad = needString(e as Record<string, unknown>, 'old_string') ?? needString(e as Record<string, unknown>, 'new_string');
      if (bad) return `edits[${i}]: ${bad}`;
    }
    return undefined;
  }
  if (/^(read|view|cat)(_?file)?$/i.test(n)) return needPath(args, 'file_path');
  return undefined;
}
