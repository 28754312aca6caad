// Why: evaluates redirections the way bash applies them: `>`/`>>` targets (recorded for the
// rules and for same-call file bookkeeping), `<` inputs, here-strings and heredocs (quoted or
// expanded, `<<-` tab stripping) as static stdin, and `<(…)` process substitutions. Threat it
// stops: `bash -i >& /dev/tcp/…`, writes to ~/.bashrc or authorized_keys, and payloads fed to a
// shell through a heredoc or here-string going unseen.
import { posix } from 'node:path';
import type { SNode } from './parser.js';
import type { Ctx, Run } from './run.js';
import { evalWord } from './words.js';

export interface Redir {
  list: string[]; stdin: Buffer | null; stdinFrom: string[]; outFiles: { path: string; append: boolean }[];
  /** Descriptors other than stdin opened for reading on a process substitution (`3< <(curl …)`): the commands feeding each. */
  fdFrom: Map<string, string[]>;
  /** Output substitutions stdout is sent to (`> >(sh)`): they read what the command prints. */
  feeds: SNode[];
}

/** The key the commands feeding a descriptor a bare `exec 3< <(…)` opened sit under: no shell name starts with NUL. */
const FD_KEY = '\0fd:';

/** A bare `exec` keeps its redirections for the rest of the shell: what feeds each descriptor it opened is remembered. */
export function keepDescriptors(vars: Map<string, string>, r: Redir): void {
  for (const [fd, names] of r.fdFrom) vars.set(FD_KEY + fd, names.join('\0'));
}

/** The commands feeding descriptor `fd` of this shell (`exec 3< <(curl …)`; 0: a bare `exec < <(curl …)`). */
export function descriptorFrom(vars: Pick<Map<string, string>, 'get'>, fd: string): string[] {
  return vars.get(FD_KEY + fd)?.split('\0') ?? [];
}

/** The descriptor a path names (`/dev/fd/3`, `/proc/self/fd/3`, `/proc/$$/fd/3`), if any. */
export function fdOfPath(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined; // (every word of every command comes here: most are not paths)
  return /^\/(?:dev\/fd|proc\/(?:self|\$\$|\d+)\/fd)\/(\d+)$/.exec(posix.normalize(path))?.[1];
}

/** A path that names the reader's own standard input (`/dev/stdin`, `/dev/fd/0`, `/proc/self/fd/0` …). */
export function isStdinPath(path: string): boolean {
  return posix.normalize(path) === '/dev/stdin' || fdOfPath(path) === '0';
}

export function evalRedirects(run: Run, nodes: SNode[], ctx: Ctx): Redir {
  const r: Redir = { list: [], stdin: null, stdinFrom: [], outFiles: [], fdFrom: new Map(), feeds: [] };
  const t = ctx.layer.text;
  for (const n of nodes) {
    if (n.type === 'heredoc_redirect') {
      const start = n.children.find((c) => c.type === 'heredoc_start');
      const body = n.children.find((c) => c.type === 'heredoc_body');
      const quoted = start ? /['"\\]/.test(t.slice(start.start, start.end)) : true;
      let s = body ? (quoted ? t.slice(body.start, body.end) : heredocText(run, body, ctx, r.stdinFrom)) : '';
      if (n.children.some((c) => c.type === '<<-')) s = s.replace(/^\t+/gm, '');
      r.stdin = Buffer.from(s, 'utf8');
      continue;
    }
    if (n.type === 'herestring_redirect') {
      const w = n.children.find((c) => c.named);
      if (w) { const v = evalWord(w, run.wordEnv(ctx, r.stdinFrom)); r.stdin = v.exact ? Buffer.from(`${v.value}\n`) : null; }
      continue;
    }
    const op = n.children.find((c) => !c.named)?.type ?? '';
    const dest = n.children.find((c) => c.field === 'destination') ?? n.children.filter((c) => c.named && c.type !== 'file_descriptor').at(-1);
    if (!dest) continue;
    const fd = n.children.find((c) => c.type === 'file_descriptor');
    if (dest.type === 'process_substitution') {
      const sub = run.visitSubst(dest, ctx);
      r.stdinFrom.push(...sub.names);
      if (op === '<' && fd && t.slice(fd.start, fd.end) !== '0') r.fdFrom.set(t.slice(fd.start, fd.end), sub.names);
      else if (op === '<') { r.stdin = sub.out; r.fdFrom.set('0', sub.names); }
      else if (/^(>|>>|>\||&>|&>>)$/.test(op) && (!fd || t.slice(fd.start, fd.end) === '1')) r.feeds.push(dest);
      r.list.push(`${op}${t.slice(dest.start, dest.end)}`);
      continue;
    }
    const v = evalWord(dest, run.wordEnv(ctx, r.stdinFrom)).value;
    if (/^[&>]*$/.test(op) && /^\d+$|^-$/.test(v) && op.includes('&')) continue; // 2>&1, >&-
    // `bash <&3` after `exec 3< <(curl …)` (or on the same command), `<&3-`, `< /dev/fd/3`: stdin is what feeds
    // descriptor 3; `exec 4<&3` makes 4 a copy of it (session 46)
    const src = op === '<&' ? /^(\d+)-?$/.exec(v)?.[1] : op === '<' ? fdOfPath(v) : undefined;
    if (src !== undefined) {
      const from = r.fdFrom.get(src) ?? descriptorFrom(ctx.vars, src);
      const to = fd ? t.slice(fd.start, fd.end) : '0';
      if (from.length) { r.fdFrom.set(to, from); if (to === '0') { r.stdinFrom.push(...from); r.stdin = null; } }
    }
    r.list.push(`${op}${v}`);
    if (op === '<') r.stdin = run.readFile(v);
    if (/^(>|>>|&>|&>>|>\||>&)$/.test(op) && !v.startsWith('/dev/')) r.outFiles.push({ path: v, append: op.endsWith('>>') });
  }
  return r;
}

function heredocText(run: Run, body: SNode, ctx: Ctx, names: string[]): string {
  let s = '';
  let pos = body.start;
  const env = run.wordEnv(ctx, names);
  for (const c of body.children) {
    s += ctx.layer.text.slice(pos, c.start);
    s += c.type === 'heredoc_content' ? ctx.layer.text.slice(c.start, c.end) : evalWord(c, env).value;
    pos = c.end;
  }
  return s + ctx.layer.text.slice(pos, body.end);
}
