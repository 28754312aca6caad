// Why: two session checks need to know what a shell or interpreter process was asked to run from its
// argv alone (the kernel's record, not the agent's account): whether a shell reads its commands from stdin
// (a relayed reverse shell, fed-shells.ts) and which script file a process runs (the code's author, for
// attribution, code-origin.ts). Options that take a value are skipped as the programs themselves do.
import { SHELL_OPTS, interpreterOf, skipOptions } from '../detect/command/programs.js';

/** What a shell's argv asks for: `-c` text, commands from stdin (`-s`, or no operand), or a script file. */
export interface ShellArgv { dashC: boolean; fromStdin: boolean; script?: string }

/** Script operands that are stdin itself (`sh /dev/stdin`, `bash /proc/self/fd/0`: a red-team review, session 41). */
const STDIN_PATHS = /^\/(dev\/stdin|dev\/fd\/0|proc\/(self|thread-self|\d+)\/fd\/0)$/;

export function readShellArgv(argv: readonly string[]): ShellArgv {
  const a = readShellOptions(argv);
  return a.script !== undefined && STDIN_PATHS.test(a.script.replace(/\/{2,}/g, '/')) ? { dashC: false, fromStdin: true } : a;
}

function readShellOptions(argv: readonly string[]): ShellArgv {
  let dashS = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-' || a === '--') {
      const next = argv[i + 1];
      return { dashC: false, fromStdin: dashS || next === undefined, ...(!dashS && next !== undefined ? { script: next } : {}) };
    }
    if (a.startsWith('--')) {
      if (SHELL_OPTS.long?.includes(a)) i++;
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      for (const ch of a.slice(1)) {
        if (ch === 'c') return { dashC: true, fromStdin: false };
        if (ch === 's') dashS = true;
        if (SHELL_OPTS.short?.includes(ch)) i++;
      }
      continue;
    }
    return { dashC: false, fromStdin: dashS, ...(dashS ? {} : { script: a }) };
  }
  return { dashC: false, fromStdin: true };
}

/**
 * The script file an interpreter (python, perl, ruby, node, php, lua, awk -f is not one) runs from its
 * argv: the first operand after its options; none for inline code (`-c`, `-e`), a module (`python -m`)
 * or stdin.
 */
export function interpreterScript(name: string, argv: readonly string[]): string | undefined {
  const spec = interpreterOf(name);
  if (!spec || spec.lang === 'awk') return undefined;
  const { at } = skipOptions([...argv], 1, spec.spec);
  const inline = spec.lang === 'python' ? `${spec.clusterCode ?? ''}m` : spec.clusterCode ?? '';
  for (const a of argv.slice(1, at)) {
    if (spec.code.includes(a) || (spec.lang === 'python' && a === '-m')) return undefined;
    if (a.startsWith('--') || !a.startsWith('-')) continue;
    // a cluster (`-Bc`): letters up to the first that takes a value (`-Wonce` is -W once)
    for (const ch of a.slice(1)) {
      if (inline.includes(ch)) return undefined;
      if (spec.spec.short?.includes(ch)) break;
    }
  }
  const s = argv[at];
  return s === undefined || s === '-' ? undefined : s;
}
