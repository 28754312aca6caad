// Why: the hook payload's tool_input is agent-produced JSON, and each Claude Code file tool shapes
// it differently: Write {file_path, content}, Edit {file_path, old_string, new_string, replace_all?},
// MultiEdit {file_path, edits: [{old_string, new_string}]}, NotebookEdit {notebook_path, new_source,
// cell_type?, edit_mode?}. Threat it stops: a malformed or unexpected input (no path, content that is
// not a string) being waved through unscreened, or crashing the hook. Anything that does not have
// the documented shape is a problem the hook answers with "ask", naming what is wrong.

export type FileTool = 'Write' | 'Edit' | 'MultiEdit' | 'NotebookEdit';

/** Text the call writes, and which input field it came from (for the reason string). */
export interface WrittenText { label: string; text: string }

export interface FileToolCall {
  tool: FileTool;
  /** The path as given (resolve it with resolveToolPath). */
  path: string;
  texts: WrittenText[];
  /** NotebookEdit only: 'code', 'markdown', or undefined when the call keeps the cell's type (unknown here). */
  cellType?: 'code' | 'markdown';
}

const NAMES: Record<string, FileTool> = { write: 'Write', edit: 'Edit', multiedit: 'MultiEdit', notebookedit: 'NotebookEdit' };

/** The file tool a tool_name names (case-insensitive, like the Bash match), or undefined. */
export function fileToolNamed(name: string): FileTool | undefined {
  return NAMES[name.toLowerCase()];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a file tool's input. Returns the call, or a problem (a sentence naming the field) when the
 * input does not have the tool's documented shape.
 *
 * @example readFileToolInput('Write', { file_path: '/w/a.sh', content: 'ls' })
 *   // → { tool: 'Write', path: '/w/a.sh', texts: [{ label: 'content', text: 'ls' }] }
 */
export function readFileToolInput(tool: FileTool, input: unknown): FileToolCall | { problem: string } {
  if (!isObject(input)) return { problem: `the ${tool} call has no tool_input object` };
  const pathField = tool === 'NotebookEdit' ? 'notebook_path' : 'file_path';
  const path = input[pathField];
  if (typeof path !== 'string' || path === '') return { problem: `the ${tool} call has no ${pathField} string` };
  const text = (field: string): WrittenText | { problem: string } => {
    const v = input[field];
    return typeof v === 'string' ? { label: field, text: v } : { problem: `the ${tool} call's ${field} is ${v === undefined ? 'missing' : `not a string (${Array.isArray(v) ? 'array' : typeof v})`}` };
  };
  switch (tool) {
    case 'Write': case 'Edit': {
      const t = text(tool === 'Write' ? 'content' : 'new_string');
      return 'problem' in t ? t : { tool, path, texts: [t] };
    }
    case 'MultiEdit': {
      const edits = input.edits;
      if (!Array.isArray(edits)) return { problem: 'the MultiEdit call has no edits array' };
      const texts: WrittenText[] = [];
      for (const [i, e] of edits.entries()) {
        if (!isObject(e) || typeof e.new_string !== 'string') return { problem: `the MultiEdit call's edits[${i}] has no new_string string` };
        texts.push({ label: `edits[${i}].new_string`, text: e.new_string });
      }
      return { tool, path, texts };
    }
    case 'NotebookEdit': {
      const mode = input.edit_mode;
      if (mode !== undefined && mode !== 'replace' && mode !== 'insert' && mode !== 'delete') return { problem: `the NotebookEdit call's edit_mode ${JSON.stringify(mode)} is not replace, insert or delete` };
      const cell = input.cell_type;
      if (cell !== undefined && cell !== 'code' && cell !== 'markdown') return { problem: `the NotebookEdit call's cell_type ${JSON.stringify(cell)} is not code or markdown` };
      // A delete writes no source; any other mode must say what it writes.
      if (mode === 'delete' && input.new_source === undefined) return { tool, path, texts: [] };
      const t = text('new_source');
      return 'problem' in t ? t : { tool, path, texts: [t], ...(cell === undefined ? {} : { cellType: cell }) };
    }
  }
}
