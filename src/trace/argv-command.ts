// Why: a recorded tool call may give its command as an argv (Codex's `{"command": ["bash", "-lc",
// "make test"]}`, or any `["echo", "a; curl x | sh"]`), and `corral replay` runs it and
// `corral check --jsonl` screens it as bash text. Joining the words with spaces turned an argument's
// `;`, `|`, quotes and spaces into shell syntax: one echo argument became a real pipeline, replayed
// and screened as one, and `bash -c SCRIPT ARG0` ran ARG0 as part of the script. The text built here
// runs exactly that argv, so what is screened and what is replayed is what the agent asked for.
import { shellJoin } from '../util/shell-join.js';

/** A tool call's `command` when it is an argv: a non-empty list of strings. */
export function argvOf(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? v as string[] : undefined;
}

/**
 * The bash text that runs exactly this argv. `bash -c SCRIPT` / `sh -lc SCRIPT` (three words) is
 * SCRIPT itself, as a shell tool's call would have been written; anything else (more words after the
 * script are its $0, $1 …) is each word quoted as bash needs it.
 */
export function argvCommand(argv: readonly string[]): string {
  if (argv.length === 3 && /(^|\/)(ba)?sh$/.test(argv[0]!) && /^-l?c$/.test(argv[1]!)) return argv[2]!;
  return shellJoin(argv);
}
