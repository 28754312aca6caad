// Why: an agent's file tools (write a file, view it, replace a string in it, make several edits at
// once, insert lines) change the sandbox without a shell, and they must run *inside* the sandbox as
// the agent's user, not as Corral (root) on the host. Threat it stops: a file tool that follows a
// symlink the agent planted (`ln -s /etc/shadow notes.txt`, then "view notes.txt") reading or
// writing the host's files with root's rights. Run in the sandbox, the path is resolved in the
// sandbox's own mount namespace with its uid: the read-only root, hidden secrets and the workspace
// are exactly what the agent's own `cat` would meet. The program is native/corral-file.c, static and
// bound read-only into every sandbox at FILE_TOOL_PATH, so the tools work in any root (an Alpine or
// distroless image has no perl, python or shell); it starts from an argv array [FILE_TOOL_PATH, op,
// arg?] with the path, a NUL and the data on stdin (never in argv: nothing the agent wrote is ever
// parsed as code, and a long path cannot push the call's recorded argv past the sensor's cap).
import { FILE_TOOL_PATH } from '../sandbox/bwrap-args.js';

export { FILE_TOOL_PATH };

/** Each message of the program for the agent starts with this on its own line of stderr (only those become the agent's message). */
export const FILE_TOOL_SAYS = 'corral-file-tool: ';

/**
 * An edit (str_replace, insert, append) prints, after the size, the lines around what it changed
 * (one more line either side, and the file's first line for its #!), at most this many bytes: the
 * screen judges the code as it is now (file-tools.ts screenEditedLines), not only the new text,
 * which can be one harmless half of a hostile line. An append sees the end of the file as it was.
 */
export const EDIT_CONTEXT_MAX = 1 << 20;

/**
 * The most one edit call (str_replace, multi_edit) may add to a file, as the program checks before it
 * builds the result: a replace_all of one byte by a long text multiplies, and would exhaust the call's
 * memory before the program could say why. The same bound a write has (file-tools.ts WRITE_MAX_BYTES).
 */
export const EDIT_GROWTH_MAX = 32 << 20;

/** 0 done, 2 bad use, 3 cannot read, 4 cannot write, 5 the edit does not apply (old text absent or repeated, line out of range, one edit of a multi_edit failed: nothing written). */
export const FILE_TOOL_EXIT = { ok: 0, usage: 2, read: 3, write: 4, noEdit: 5 } as const;

/** The argv of one file operation inside the sandbox. */
export function fileToolArgv(op: string, arg: string[]): string[] {
  return [FILE_TOOL_PATH, op, ...arg];
}
