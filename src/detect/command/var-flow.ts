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
import { evalWord, listOf, REF_KEY, setList, type WordEnv } from './words.js';

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
const STDIN_THROUGH = new Set(['cat', 'tac', 'head', 'tail', 'tee', 'dd', 'tr', 'sed', 'cut', 'rev', 'base64', 'base32', 'xxd', 'gzip', 'gunzip', 'zcat', 'bzcat', 'xzcat', 'iconv', 'dos2unix',
  'grep', 'egrep', 'fgrep', 'awk', 'gawk', 'mawk', 'sort', 'uniq', 'fold', 'paste', 'expand', 'unexpand', 'strings', 'jq', 'perl', 'python3', 'python', 'ruby', 'node']);

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
    // (options first — `-o NAME` takes one, also at the end of a group: `-euo pipefail` — then the parameters: `set -e nc …`
    // sets them too; `--` or a lone `-` ends options)
    let i = 1;
    while (i < argv.length && /^[-+]/.test(argv[i]!) && argv[i] !== '--' && argv[i] !== '-') i += /^[-+][A-Za-z]*o$/.test(argv[i]!) ? 2 : 1;
    if (argv[i] === '--' || argv[i] === '-') i++;
    const ended = argv.slice(1, i).some((a) => a === '--' || a === '-');
    if (i < argv.length || ended) setPositional(vars, io.known ? argv.slice(Math.min(i, argv.length)) : undefined, io.from);
    return;
  }
  if (name === 'shift') {
    // (more than there are: bash's shift fails and leaves them as they were)
    const args = listOf(vars, '@'), n = argv[1] === undefined ? 1 : Number(argv[1]);
    if (args && io.known && Number.isInteger(n) && n >= 0 && n > args.length) return;
    setPositional(vars, args && io.known && Number.isInteger(n) && n >= 0 ? args.slice(n) : undefined, sourcesOf(vars, '@'));
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
    const key = refTarget(vars, v);
    if (out === null) vars.delete(key); else vars.set(key, out);
    return;
  }
  if (name !== 'read' && name !== 'mapfile' && name !== 'readarray') return;
  const withArg = name === 'read' ? /^-[adinNptu]$/ : /^-[dnOsuCc]$/;
  const names = argv.slice(1).filter((a, i, all) => !a.startsWith('-') && !withArg.test(all[i - 1] ?? ''));
  const text = io.stdin?.toString('utf8');
  const line = text?.split('\n')[0];
  // (mapfile's array is every line, `-t` without their newlines; session 46: only the first had been kept)
  if (name !== 'read') { const v = names[0] ?? 'MAPFILE'; if (ok(v)) setList(vars, refTarget(vars, v), text === undefined ? undefined : text.replace(/\n$/, '').split('\n')); return; }
  const ifs = io.ifs ?? ' \t\n'; // (`IFS=: read a b` splits on ':')
  const words = line === undefined ? undefined : ifs === '' ? [line] : line.split(new RegExp(`[${ifs.replace(/[\]\\^-]/g, '\\$&')}]+`)).filter((w, i, all) => w !== '' || (i > 0 && i < all.length - 1));
  // `read -a arr`: the words are the array's elements (session 46)
  const arrayName = argv.slice(1).reduce<string | undefined>((found, a, i, all) => found ?? (/^-[A-Za-z]*a$/.test(a) ? all[i + 1] : undefined), undefined);
  if (arrayName !== undefined) { if (ok(arrayName)) setList(vars, refTarget(vars, arrayName), words); return; }
  names.forEach((v, i) => {
    if (!ok(v)) return;
    const key = refTarget(vars, v);
    if (words === undefined) { vars.delete(key); return; }
    vars.set(key, i === names.length - 1 ? words.slice(i).join(' ') : (words[i] ?? ''));
  });
}

/** The positional parameters ("$@", $1 … ${64}) as `set --` leaves them; undefined: no longer known. `from`: what fed their words. */
function setPositional(vars: Map<string, string>, args: string[] | undefined, from: string[]): void {
  setList(vars, '@', args);
  setSources(vars, '@', from);
  for (let i = 1; i <= 64; i++) {
    const v = args?.[i - 1];
    if (v === undefined) vars.delete(String(i)); else vars.set(String(i), v);
    setSources(vars, String(i), v !== undefined || args === undefined ? from : []);
  }
}

/**
 * `a=(w1 w2 …)` or `a+=(…)`: an array of the words' values (all static), else unknown. `[N]=v` items go at index N
 * (bash's `"${a[@]}"` lists them by index; a gap is no element).
 */
export function assignArray(vars: Map<string, string>, name: string, array: SNode, env: WordEnv, append: boolean): void {
  const key = refTarget(vars, name);
  const words = array.children.filter((c) => c.named).map((c) => evalWord(c, env));
  const prior = append ? listOf(vars, key) : [];
  if (prior === undefined || !words.every((w) => w.exact)) { setList(vars, key, undefined); return; }
  const slots: (string | undefined)[] = [...prior];
  let next = slots.length;
  for (const w of words) {
    const m = /^\[(\d+)\]=(.*)$/s.exec(w.value);
    if (m) { const i = Number(m[1]); if (i > 4096) { setList(vars, key, undefined); return; } slots[i] = m[2]!; next = i + 1; continue; }
    for (const item of w.items ?? [w.value]) slots[next++] = item;
  }
  setList(vars, key, slots.filter((x): x is string => x !== undefined));
}

/** `a[N]=v`: element N of a known dense array (appended at its end, or replaced); anything else makes the array unknown. */
export function assignElement(vars: Map<string, string>, sub: SNode, val: SNode | undefined, env: WordEnv): void {
  const nameNode = sub.children.find((c) => c.type === 'variable_name');
  const open = sub.children.findIndex((c) => c.type === '[');
  const index = open >= 0 ? sub.children[open + 1] : undefined;
  if (!nameNode) return;
  const key = refTarget(vars, env.text.slice(nameNode.start, nameNode.end));
  const items = listOf(vars, key) ?? (vars.has(key) ? [vars.get(key)!] : []);
  const i = index ? Number(env.text.slice(index.start, index.end)) : NaN;
  const v = val ? evalWord(val, env) : { value: '', exact: true };
  if (!Number.isInteger(i) || i < 0 || i > items.length || !v.exact) { setList(vars, key, undefined); return; }
  items[i] = v.value;
  setList(vars, key, items);
}

/** `unset x`, `unset 'a[N]'` (element N leaves the array; later ones keep their order), `unset -v`/`-f` flags skipped. */
export function unsetName(vars: Map<string, string>, word: string): void {
  if (word.startsWith('-')) return;
  const m = /^(\w+)\[(\d+)\]$/.exec(word);
  // (unset, a variable is empty, and an array appended to afterwards starts from nothing)
  if (!m) { const key = refTarget(vars, word); setList(vars, key, []); vars.set(key, ''); return; }
  const key = refTarget(vars, m[1]!);
  const items = listOf(vars, key);
  if (items) setList(vars, key, items.filter((_, i) => i !== Number(m[2])));
}

/** The variable a name stands for: its target when it is a name reference (`declare -n r=x`), else itself. */
export function refTarget(vars: Map<string, string>, name: string): string {
  for (let hops = 0; hops < 8; hops++) {
    const t = vars.get(REF_KEY + name);
    if (t === undefined || t === '') return name;
    name = t;
  }
  return name;
}
