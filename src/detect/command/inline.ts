// Why: reads inline interpreter code the way a reviewer would: folds string obfuscation, decodes
// embedded base64/hex payloads, and pulls out the shell commands the code would run
// (os.system, subprocess.*, pty.spawn, exec, backticks, child_process, IO.popen, awk system()).
// Threat it stops: a reverse shell, tunnel or miner launched from `python -c`/`perl -e`/`node -e`
// where the shell-level analyzer would only see an interpreter with an opaque string argument.
import { base64Decode, gunzip, hexDecode, looksLikeText } from './decode.js';
import { render, tokenize, type Tok } from './inline-tokens.js';

export interface InlineResult {
  /** Normalized code: comments removed, strings decoded and folded, one statement per line. */
  normalized: string;
  /** Shell command strings the code would run (os.system("…"), `…`, awk system("…")). */
  shell: string[];
  /** Argument vectors the code would exec directly (subprocess.call(["ssh","-R",…]), pty.spawn("sh")). */
  argv: string[][];
  /** Decoded payloads (base64/hex/zlib literals) that are themselves code in the same language. */
  payloads: string[];
}

const SHELL_CALL = /(?:^|\.|::|->)(system|popen[234]?|getoutput|getstatusoutput|check_output|check_call|call|run|Popen|spawn|spawnSync|exec|execSync|execFile|execFileSync|execl|execlp|execle|execv|execvp|execve|execvpe|spawnl|spawnlp|spawnv|spawnvp|shell_exec|passthru|proc_open|pcntl_exec|capture2e?|capture3|popen3|pipeline|Command|qx|syscall)$/;
const DECODE_CALL = /(?:^|\.|::)(b64decode|standard_b64decode|urlsafe_b64decode|decodebytes|decodestring|a2b_base64|decode_base64|decode64|strict_decode64|urlsafe_decode64|base64_decode|atob|unhexlify|a2b_hex|fromhex|hex2bin|decompress|gzdecode|gzinflate|inflate|inflateSync|gunzipSync|zlib_decode)$/;

function isStr(t: Tok | undefined): t is Tok & { t: 'str' } { return t?.t === 'str'; }

/** Finds the index of the matching close paren/bracket for toks[i] (an opener). */
function closeOf(toks: Tok[], i: number): number {
  const open = toks[i]!.v;
  const close = open === '(' ? ')' : open === '[' ? ']' : '}';
  let d = 0;
  for (let j = i; j < toks.length; j++) {
    if (toks[j]!.t !== 'op') continue;
    if (toks[j]!.v === open) d++;
    else if (toks[j]!.v === close && --d === 0) return j;
  }
  return -1;
}

function decodeValue(name: string, s: string): string | null {
  let b: Buffer | null = null;
  if (/hex|unhexlify|hex2bin/.test(name)) b = hexDecode(s);
  else if (/decompress|gzdecode|gzinflate|inflate|gunzip|zlib/.test(name)) b = gunzip(Buffer.from(s, 'latin1'));
  else b = base64Decode(s);
  if (!b) return null;
  return looksLikeText(b) ? b.toString('utf8') : b.toString('latin1');
}

/** One folding pass; returns true when something changed. */
function foldOnce(toks: Tok[], lang: string, payloads: string[]): boolean {
  let changed = false;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const nx = toks[i + 1];
    // decode("…") / base64.b64decode("…") / Buffer.from("…","base64") / unpack("m","…")
    if (t.t === 'id' && nx?.v === '(' && isStr(toks[i + 2])) {
      const end = closeOf(toks, i + 1);
      const strs = end > 0 ? toks.slice(i + 2, end).filter(isStr).map((x) => x.v) : [];
      let dec: string | null = null;
      if (DECODE_CALL.test(t.v)) dec = decodeValue(t.v, strs[0]!);
      else if (/(^|\.)from$/.test(t.v) && strs[1] === 'base64') dec = decodeValue('b64', strs[0]!);
      else if (/(^|\.)from$/.test(t.v) && strs[1] === 'hex') dec = decodeValue('hex', strs[0]!);
      else if (/(^|::)unpack1?$/.test(t.v) && /^m0?$/.test(strs[0] ?? '') && strs[1] !== undefined) dec = decodeValue('b64', strs[1]);
      if (dec !== null && end > 0) {
        payloads.push(dec);
        toks.splice(i, end - i + 1, { t: 'str', v: dec });
        changed = true; continue;
      }
    }
    // chr(99) / String.fromCharCode(99,117) → "c" / "cu"
    if (t.t === 'id' && /(^|\.)(chr|fromCharCode|pack)$/.test(t.v) && nx?.v === '(') {
      const end = closeOf(toks, i + 1);
      const inner = end > 0 ? toks.slice(i + 2, end) : [];
      const nums = inner.filter((x) => x.t === 'num').map((x) => Number(x.v));
      if (end > 0 && !/pack$/.test(t.v) && nums.length > 0 && inner.every((x) => x.t === 'num' || x.v === ',') && nums.every((x) => x >= 0 && x < 0x110000)) {
        toks.splice(i, end - i + 1, { t: 'str', v: String.fromCodePoint(...nums) });
        changed = true; continue;
      }
    }
    if (!isStr(t)) continue;
    // "…"[::-1] (python), "…".reverse (ruby), reverse("…") handled below
    if (nx?.v === '[' && toks[i + 2]?.v === ':' && toks[i + 3]?.v === ':' && toks[i + 4]?.v === '-' && toks[i + 5]?.v === '1' && toks[i + 6]?.v === ']') {
      toks.splice(i, 7, { t: 'str', v: [...t.v].reverse().join('') }); changed = true; continue;
    }
    if (nx?.t === 'id' && /^\.?reverse$/.test(nx.v) && lang === 'ruby') { toks.splice(i, 2, { t: 'str', v: [...t.v].reverse().join('') }); changed = true; continue; }
    // bytes.decode() / .decode('utf-8') / .encode() are identity for our purpose
    if (nx?.t === 'op' && nx.v === '.' && toks[i + 2]?.t === 'id' && /^(decode|encode|strip|toString)$/.test(toks[i + 2]!.v) && toks[i + 3]?.v === '(') {
      const end = closeOf(toks, i + 3);
      if (end > 0) { toks.splice(i + 1, end - i); changed = true; continue; }
    }
    // 'a' + 'b', 'a' . 'b', 'a' .. 'b', python 'a' 'b'
    const joiner = nx?.t === 'op' && (nx.v === '+' || (nx.v === '.' && (lang === 'perl' || lang === 'php')) || (nx.v === '..' && lang === 'lua'));
    if (joiner && isStr(toks[i + 2])) { toks.splice(i, 3, { t: 'str', v: t.v + (toks[i + 2] as { v: string }).v }); changed = true; i--; continue; }
    if ((lang === 'python' || lang === 'awk') && isStr(nx) && !t.shell && !nx.shell) { toks.splice(i, 2, { t: 'str', v: t.v + nx.v }); changed = true; i--; continue; }
  }
  return changed;
}

/** Collects string literal arguments of a call starting at toks[i] = '(' ; lists become argv. */
function callArgs(toks: Tok[], i: number): { strs: string[]; list: string[] | null } {
  const end = closeOf(toks, i);
  if (end < 0) return { strs: [], list: null };
  // Only direct arguments count: strings nested in inner calls are not what this call receives.
  const inner: Tok[] = [];
  let d = 0;
  for (const t of toks.slice(i + 1, end)) {
    if (t.t === 'op' && (t.v === '(' || t.v === '{')) d++;
    if (d === 0 || (t.t === 'op' && (t.v === '[' || t.v === ']'))) inner.push(t);
    else if (d > 0 && inner.length === 0 && t.t === 'op' && t.v === '(') inner.push(t);
    if (t.t === 'op' && (t.v === ')' || t.v === '}')) d--;
  }
  const first = inner[0];
  if (first?.t === 'op' && (first.v === '[' || first.v === '(')) {
    const le = closeOf(inner, 0);
    const items = inner.slice(1, le > 0 ? le : inner.length);
    const strs = items.filter(isStr).map((x) => x.v);
    return { strs: [], list: strs.length ? strs : null };
  }
  // stop at keyword arguments (shell=True …)
  const kw = inner.findIndex((x, k) => x.t === 'id' && inner[k + 1]?.v === '=');
  return { strs: (kw >= 0 ? inner.slice(0, kw) : inner).filter(isStr).map((x) => x.v), list: null };
}

/** Analyzes inline code of `lang`. Bounded: at most `maxTokens` tokens and 16 folding passes. */
export function analyzeInline(code: string, lang: string): InlineResult {
  const toks = tokenize(code, lang);
  const payloads: string[] = [];
  for (let pass = 0; pass < 16 && foldOnce(toks, lang, payloads); pass++);
  const shell: string[] = [];
  const argv: string[][] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t === 'str' && t.shell) { shell.push(t.v); continue; }
    if (t.t !== 'id') continue;
    // perl/ruby `system "…"` / `exec "…"` without parentheses
    if ((lang === 'perl' || lang === 'ruby') && /^(system|exec)$/.test(t.v) && isStr(toks[i + 1])) { shell.push(toks[i + 1]!.v); continue; }
    if (lang === 'awk' && isStr(toks[i - 1]) && toks[i - 1] && t.v === 'getline') { shell.push((toks[i - 1] as { v: string }).v); continue; }
    if (toks[i + 1]?.v !== '(') continue;
    // python exec/eval/compile and node eval run code of the same language, not a shell. A node
    // `exec(…)` is child_process.exec (`require("child_process").exec(…)`, `const {exec} = …`): a shell.
    const method = toks[i - 1]?.t === 'op' && toks[i - 1]!.v === '.';
    const sameLang = lang === 'python' ? /^(exec|eval|compile)$/ : lang === 'node' ? /^eval$/ : null;
    if (sameLang && !method && sameLang.test(t.v) && toks[i + 1]?.v === '(') {
      const { strs } = callArgs(toks, i + 1);
      if (strs[0] && !payloads.includes(strs[0])) payloads.push(strs[0]);
      continue;
    }
    const isSpawn = /(^|\.)spawn$/.test(t.v) && /pty/.test(t.v);
    if (!SHELL_CALL.test(t.v) && !isSpawn) continue;
    const { strs, list } = callArgs(toks, i + 1);
    if (list) { argv.push(list); continue; }
    if (strs.length === 0) continue;
    if (isSpawn) { argv.push(strs); continue; }
    if (/exec[lv]p?e?$|spawn[lv]p?$/.test(t.v) && strs.length >= 2) { argv.push(strs.slice(1)); continue; }
    if (/(^|\.)(spawn|spawnSync|execFile|execFileSync|Command)$/.test(t.v)) { argv.push(strs); continue; }
    shell.push(strs[0]!);
  }
  // awk: print … | "sh"  — the printed text is a command for the shell
  if (lang === 'awk') {
    for (let i = 0; i + 1 < toks.length; i++) if (toks[i]!.v === '|' && isStr(toks[i + 1]) && /^(\/bin\/)?(ba|z|da)?sh$/.test((toks[i + 1] as { v: string }).v)) shell.push('sh');
  }
  return { normalized: render(toks), shell, argv, payloads: payloads.filter((p) => p.length > 3) };
}
