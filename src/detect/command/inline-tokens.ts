// Why: a light tokenizer for the inline code agents pass to interpreters (`python -c`, `perl -e`,
// `ruby -e`, `node -e`, `php -r`, `lua -e`, awk programs). It strips comments, decodes string
// literals and folds the obfuscations that hide a reverse shell or a miner from a regex:
// 'so'+'cket', "\x73ocket", chr(115)+…, b64decode("…"), "…"[::-1], String.fromCharCode(…).
// It is deliberately not a full parser for six languages (see docs/check.md, limitations).

export type Tok = { t: 'id' | 'num' | 'op' | 'nl'; v: string } | { t: 'str'; v: string; shell?: boolean };

export interface LangSyntax {
  hash: boolean; slashes: boolean; dashdash: boolean; triple: boolean; backtickShell: boolean;
  template: boolean; perlQ: boolean; rubyPct: boolean; sigils: boolean; rawSingle: boolean;
}

const BASE: LangSyntax = { hash: true, slashes: false, dashdash: false, triple: false, backtickShell: false, template: false, perlQ: false, rubyPct: false, sigils: false, rawSingle: false };
export const SYNTAX: Record<string, LangSyntax> = {
  python: { ...BASE, triple: true },
  perl: { ...BASE, backtickShell: true, perlQ: true, sigils: true, rawSingle: true },
  ruby: { ...BASE, backtickShell: true, rubyPct: true, sigils: true, rawSingle: true },
  node: { ...BASE, hash: false, slashes: true, template: true },
  php: { ...BASE, slashes: true, backtickShell: true, sigils: true, rawSingle: true },
  lua: { ...BASE, hash: false, dashdash: true },
  awk: { ...BASE },
};

const ESC: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', e: '\x1b' };

function unescape(body: string, raw: boolean, quote: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) { out += c; continue; }
    const n = body[i + 1]!;
    if (raw) { if (n === quote || n === '\\') { out += n; i++; } else out += c; continue; }
    let m: RegExpExecArray | null;
    const rest = body.slice(i + 1);
    if ((m = /^x\{?([0-9a-fA-F]{1,2})\}?/.exec(rest))) { out += String.fromCharCode(parseInt(m[1]!, 16)); i += m[0].length; continue; }
    if ((m = /^u\{?([0-9a-fA-F]{4,6})\}?/.exec(rest))) { const cp = parseInt(m[1]!, 16); out += cp <= 0x10ffff ? String.fromCodePoint(cp) : ''; i += m[0].length; continue; }
    if ((m = /^([0-7]{1,3})/.exec(rest)) && m[1] !== '0') { out += String.fromCharCode(parseInt(m[1]!, 8) & 0xff); i += m[0].length; continue; }
    out += ESC[n] ?? n;
    i++;
  }
  return out;
}

const PAIRS: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };

/** Finds the end of a delimited body starting after `open` (nesting for bracket pairs). */
function scanDelimited(s: string, i: number, open: string): { body: string; end: number } {
  const close = PAIRS[open] ?? open;
  let depth = 1;
  let j = i;
  for (; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') { j++; continue; }
    if (c === close && open !== close) { if (--depth === 0) break; } else if (c === open && open !== close) depth++;
    else if (c === close) break;
  }
  return { body: s.slice(i, j), end: Math.min(j + 1, s.length) };
}

/** Python's compound statements: a ':' at bracket depth 0 on a line that starts with one opens its body. */
const PY_BLOCK = /^(?:for|while|if|elif|else|try|except|finally|with|def|class|async|match|case)$/;

/** Tokenizes `code` in language `lang` (unknown languages use the python-like default). */
export function tokenize(code: string, lang: string, maxTokens = 20_000): Tok[] {
  const L = Object.prototype.hasOwnProperty.call(SYNTAX, lang) ? SYNTAX[lang]! : BASE;
  const toks: Tok[] = [];
  let i = 0;
  const n = code.length;
  // (Python only: the indentation of the current line, where its first token is, whether a block header's ':' was
  //  seen on it, and the bracket depth — a ':' inside brackets is a slice or a dict, not a header's)
  const py = lang === 'python';
  let lineIndent = '', lineStart = 0, header = false, depth = 0;
  { let j = 0; while (j < n && (code[j] === ' ' || code[j] === '\t')) j++; lineIndent = code.slice(0, j); }
  while (i < n && toks.length < maxTokens) {
    const c = code[i]!;
    const two = code.slice(i, i + 2);
    if (c === '\n' || c === ';') {
      // Python's blocks are its indentation: a line break keeps the next line's (a run of blank lines, the last
      // one's), and a ';' after a block header (`for p in ports: s = socket(); s.connect_ex(…)`) stays in the body,
      // one space deeper than the header's line — a loop's body can then be told from the code after it.
      let v = '\n';
      if (py) {
        if (c === '\n') {
          let j = i + 1;
          while (j < n && (code[j] === ' ' || code[j] === '\t')) j++;
          lineIndent = code.slice(i + 1, j);
          header = false;
        }
        v = `\n${lineIndent}${c === ';' && header ? ' ' : ''}`;
      }
      const last = toks.at(-1);
      if (last?.t === 'nl') last.v = v; else toks.push({ t: 'nl', v });
      if (c === '\n') lineStart = toks.length;
      i++;
      continue;
    }
    if (py && c === ':' && depth === 0 && toks.length >= lineStart && toks[lineStart]?.t === 'id' && PY_BLOCK.test(toks[lineStart]!.v)) header = true;
    if (py && (c === '(' || c === '[' || c === '{')) depth++;
    if (py && (c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\\' && code[i + 1] === '\n') { i += c === '\\' ? 2 : 1; continue; }
    if ((L.hash && c === '#' && !(lang === 'ruby' && code[i - 1] === '{')) || (L.slashes && two === '//') || (L.dashdash && two === '--' && code[i + 2] !== '[')) {
      while (i < n && code[i] !== '\n') i++;
      continue;
    }
    if (L.slashes && two === '/*') { const e = code.indexOf('*/', i + 2); i = e < 0 ? n : e + 2; continue; }
    if (L.dashdash && code.startsWith('--[[', i)) { const e = code.indexOf(']]', i); i = e < 0 ? n : e + 2; continue; }
    // Python string prefixes (r, b, f, u and pairs).
    let pre = '';
    if (lang === 'python') { const m = /^([rRbBuUfF]{1,2})['"]/.exec(code.slice(i, i + 3)); if (m) { pre = m[1]!.toLowerCase(); i += pre.length; } }
    const q = code[i]!;
    if (L.triple && (code.startsWith("'''", i) || code.startsWith('"""', i))) {
      const d = code.slice(i, i + 3);
      const e = code.indexOf(d, i + 3);
      const body = code.slice(i + 3, e < 0 ? n : e);
      toks.push({ t: 'str', v: unescape(body, pre.includes('r'), q) });
      i = e < 0 ? n : e + 3; continue;
    }
    if (q === '"' || q === "'" || (q === '`' && (L.template || L.backtickShell))) {
      const { body, end } = scanDelimited(code, i + 1, q);
      const raw = pre.includes('r') || (q === "'" && L.rawSingle);
      toks.push(q === '`' && L.backtickShell ? { t: 'str', v: body, shell: true } : { t: 'str', v: unescape(body, raw, q) });
      i = end; continue;
    }
    if (pre) { i -= pre.length; }
    if (L.perlQ) {
      const m = /^(qq|qx|qw|q)\s*([^\w\s])/.exec(code.slice(i, i + 4));
      if (m && !/[\w$]/.test(code[i - 1] ?? '')) {
        const { body, end } = scanDelimited(code, i + m[0].length, m[2]!);
        toks.push(m[1] === 'qx' ? { t: 'str', v: body, shell: true } : { t: 'str', v: m[1] === 'q' || m[1] === 'qw' ? body : unescape(body, false, m[2]!) });
        i = end; continue;
      }
    }
    if (L.rubyPct && c === '%') {
      const m = /^%([xqQwWi]?)([({[<|!\/])/.exec(code.slice(i, i + 3));
      if (m) {
        const { body, end } = scanDelimited(code, i + m[0].length, m[2]!);
        toks.push(m[1] === 'x' ? { t: 'str', v: body, shell: true } : { t: 'str', v: m[1] === 'q' ? body : unescape(body, false, m[2]!) });
        i = end; continue;
      }
    }
    if (lang === 'lua' && /^\[=*\[/.test(code.slice(i, i + 8))) {
      const lvl = /^\[(=*)\[/.exec(code.slice(i))![1]!;
      const close = `]${lvl}]`;
      const e = code.indexOf(close, i);
      toks.push({ t: 'str', v: code.slice(i + lvl.length + 2, e < 0 ? n : e) });
      i = e < 0 ? n : e + close.length; continue;
    }
    const idm = (L.sigils ? /^[$@%]?[A-Za-z_][\w]*(?:(?:\.|::|->)[A-Za-z_]\w*)*/ : /^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*/).exec(code.slice(i, i + 256));
    if (idm && (idm[0].length > 1 || /[A-Za-z_]/.test(idm[0]))) { toks.push({ t: 'id', v: idm[0] }); i += idm[0].length; continue; }
    const num = /^(0x[0-9a-fA-F]+|\d+(?:\.\d+)?)/.exec(code.slice(i, i + 64));
    if (num) { toks.push({ t: 'num', v: num[0] }); i += num[0].length; continue; }
    const op = /^(::|->|=>|==|!=|<=|>=|\.\.|\*\*|<<|>>|&&|\|\||[^\s\w])/.exec(code.slice(i, i + 2));
    toks.push({ t: 'op', v: op ? op[0] : c });
    i += op ? op[0].length : 1;
  }
  return toks;
}

/** Renders tokens as one normalized line per statement; strings become JSON strings. */
export function render(toks: Tok[]): string {
  let out = '';
  let prevWord = false;
  for (const t of toks) {
    if (t.t === 'nl') { out += t.v; prevWord = false; continue; }
    const word = t.t === 'id' || t.t === 'num';
    if (prevWord && (word || t.t === 'str')) out += ' ';
    out += t.t === 'str' ? (t.shell ? `\`${t.v}\`` : JSON.stringify(t.v)) : t.v;
    prevWord = word;
  }
  return out.replace(/^\s+|\s+$/g, '');
}
