// Why: where a shell variable's value came from, and builtins that set variables from static text. A value set from
// a download or a raw network tool (`x=$(curl …)`, `read x < <(curl …)`, `printf -v x %s "$(curl …)"`) carries those
// tools' names, so a later `eval "$x"`, `sh -c "$x"`, `bash <<< "$x"` or `echo "$x" | sh` is judged as if the download
// were piped into it; `printf -v`, `read` and `mapfile` from a here-string set the value itself, so `printf -v x nc;
// $x -e /bin/sh …` is `nc -e /bin/sh …`. Threat it stops: a payload or a tool name routed through a variable past
// every rule (two red-team rounds, session 45). Only downloaders and network tools are carried: `out=$(bash -c …);
// nc h p <<< "$out"` (a shell long finished) is no relayed shell.
import type { SNode } from './parser.js';
import { printfOutput } from './decode.js';
import { basename, DOWNLOADERS } from './programs.js';
import type { CommandRecord } from './types.js';
import { evalWord, listOf, setList, type WordEnv } from './words.js';

/** The key a variable's sources sit under, beside it, a name no shell variable can have. */
const FROM_KEY = '\0from:';

/** Commands that print their arguments: a downloaded value given whole to one flows on down its pipe (`echo "$x" | sh`). */
export const PASS_THROUGH = new Set(['echo', 'printf']);

/** Records `from`'s downloaders and network tools as where `name`'s value came from (or forgets, when none). */
export function setSources(vars: Map<string, string>, name: string, from: readonly string[]): void {
  const remote = [...new Set(from)].filter((x) => DOWNLOADERS.has(x));
  if (remote.length) vars.set(FROM_KEY + name, remote.join('\0')); else vars.delete(FROM_KEY + name);
}

/** The downloaders and network tools `name`'s value came from. */
export function sourcesOf(vars: Map<string, string>, name: string): string[] {
  const from = vars.get(FROM_KEY + name);
  return from ? from.split('\0') : [];
}

/**
 * Filters that copy their input to their output, changed or not: what feeds one flows on down its pipe (`exec 3< <(curl
 * …); cat <&3 | sh`, session 46), as the words of echo and printf do.
 */
const STDIN_THROUGH = new Set(['cat', 'tac', 'head', 'tail', 'tee', 'dd', 'tr', 'sed', 'cut', 'rev', 'base64', 'base32', 'xxd', 'gzip', 'gunzip', 'zcat', 'bzcat', 'xzcat', 'iconv', 'dos2unix']);

/** The downloaders and network tools some records were fed by: what a pipe or substitution they sit in carries on. */
export function carried(records: CommandRecord[]): string[] {
  return records.flatMap((r) => {
    const name = basename(r.argv[0] ?? '');
    return PASS_THROUGH.has(name) || STDIN_THROUGH.has(name) ? r.input_from.filter((x) => DOWNLOADERS.has(x)) : [];
  });
}

/** Is the word one expansion and nothing else (`$x`, `"${x}"`)? */
export function wholeExpansion(w: SNode, text: string): boolean {
  return /^"?\$(?:\w+|\{[^}]*\})"?$/.test(text.slice(w.start, w.end));
}

/**
 * Builtins that set variables: `printf -v x FMT ARGS` (also `-vx`), `read [-r] a b … <<< WORD` (split on IFS),
 * `mapfile -t x <<< WORD` (its first element, which `$x` reads). `known`: every word was static; `stdin`: the
 * static input, if any; `from`: the commands feeding the words and the input. Anything else leaves `vars` alone.
 */
export function builtinAssign(vars: Map<string, string>, argv: string[], io: { known: boolean; stdin: Buffer | null; ifs: string | undefined; from: string[] }): void {
  const name = argv[0];
  // `set -- a b c` (or `set a b c`): the positional parameters; options before `--` are the shell's own (`set -e --`)
  if (name === 'set') {
    const dd = argv.indexOf('--');
    const args = dd > 0 ? argv.slice(dd + 1) : argv.length > 1 && !/^[-+]/.test(argv[1]!) ? argv.slice(1) : undefined;
    if (args) setPositional(vars, io.known ? args : undefined);
    return;
  }
  if (name === 'shift') {
    const args = listOf(vars, '@'), n = argv[1] === undefined ? 1 : Number(argv[1]);
    setPositional(vars, args && io.known && Number.isInteger(n) && n >= 0 ? args.slice(n) : undefined);
    return;
  }
  const ok = (v: string | undefined): v is string => {
    if (v === undefined || !/^[A-Za-z_]\w*$/.test(v)) return false;
    setSources(vars, v, io.from);
    return true;
  };
  if (name === 'printf' && argv[1]?.startsWith('-v')) {
    const [v, args] = argv[1] === '-v' ? [argv[2], argv.slice(3)] : [argv[1].slice(2), argv.slice(2)];
    if (!ok(v)) return;
    const out = io.known ? printfOutput(args) : null;
    if (out === null) vars.delete(v); else vars.set(v, out);
    return;
  }
  if (name !== 'read' && name !== 'mapfile' && name !== 'readarray') return;
  const withArg = name === 'read' ? /^-[adinNptu]$/ : /^-[dnOsuCc]$/;
  const names = argv.slice(1).filter((a, i, all) => !a.startsWith('-') && !withArg.test(all[i - 1] ?? ''));
  const line = io.stdin?.toString('utf8').split('\n')[0];
  if (name !== 'read') { const v = names[0]; if (ok(v)) { if (line === undefined) vars.delete(v); else vars.set(v, line); } return; }
  const ifs = io.ifs ?? ' \t\n'; // (`IFS=: read a b` splits on ':')
  const words = line === undefined ? undefined : ifs === '' ? [line] : line.split(new RegExp(`[${ifs.replace(/[\]\\^-]/g, '\\$&')}]+`)).filter((w, i, all) => w !== '' || (i > 0 && i < all.length - 1));
  names.forEach((v, i) => {
    if (!ok(v)) return;
    if (words === undefined) { vars.delete(v); return; }
    vars.set(v, i === names.length - 1 ? words.slice(i).join(' ') : (words[i] ?? ''));
  });
}

/** The positional parameters ("$@", $1 …) as `set --` leaves them; undefined: no longer known. */
function setPositional(vars: Map<string, string>, args: string[] | undefined): void {
  setList(vars, '@', args);
  for (let i = 1; i <= 9; i++) {
    const v = args?.[i - 1];
    if (v === undefined) vars.delete(String(i)); else vars.set(String(i), v);
  }
}

/** `a=(w1 w2 …)` or `a+=(…)`: an array of the words' values (all static), else unknown. */
export function assignArray(vars: Map<string, string>, key: string, array: SNode, env: WordEnv, append: boolean): void {
  const words = array.children.filter((c) => c.named).map((c) => evalWord(c, env));
  const prior = append ? listOf(vars, key) : [];
  const known = prior !== undefined && words.every((w) => w.exact);
  setList(vars, key, known ? [...prior, ...words.flatMap((w) => w.items ?? [w.value])] : undefined);
}
