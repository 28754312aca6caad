// Why: firewall logs see IP addresses, traces see episodes. When the traces do not say which
// IP an episode used, a mapping file does: CSV "ip,from,to,host,sandbox,episode,run" (header
// optional, that column order assumed without one; run may be left out) or JSON lines with the same keys. An IP
// can appear many times (reused over time); several sandboxes can share one IP (NAT).
// Empty from → -Infinity (since always), empty to → Infinity (still in use).
// A record whose ip is not an IP address, whose host/sandbox/episode is not text (an object, a
// list, true), or that gives its interval under another name (since/until, start/end: read as
// "always" before) is a bad record with its line, never a placement that would link wrongly.
import { isIP } from 'node:net';
import type { Placement } from '../types.js';
import { isBlank, parseObject, readLines, type LineCtx } from './base.js';
import { splitCsv } from './fieldmap.js';
import { canonicalIp, toStr } from './normalise.js';
import { lineError, type ReadStats } from './stats.js';

const COLS = ['ip', 'from', 'to', 'host', 'sandbox', 'episode', 'run'] as const;
const COL_INDEX = { ip: 0, from: 1, to: 2, host: 3, sandbox: 4, episode: 5, run: 6 } as const;

function trimmed(v: unknown): string | undefined {
  const s = toStr(v);
  return s === undefined ? undefined : toStr(s.trim());
}

/** Names an interval is often given under that are not from/to (an open interval would be assumed). */
const BOUND_ALIASES = /^(?:since|until|start|end|begin|starts?_at|ends?_at|start_?time|end_?time|started(?:_at)?|ended(?:_at)?|valid_?from|valid_?to|valid_?until|not_?before|not_?after|from_ts|to_ts)$/i;

/** The keys among names that look like an interval bound but are not "from" or "to". */
export function boundAliases(names: readonly string[]): string[] {
  return names.filter((n) => BOUND_ALIASES.test(n.trim()));
}

/** A wrong-typed value as an error message names it: a list, an object, or the value itself. */
function shown(v: unknown): string {
  return Array.isArray(v) ? 'a list' : typeof v === 'object' && v !== null ? 'an object' : JSON.stringify(v);
}

/** Why a value of a text field (host, sandbox, episode, run) cannot be used, or undefined when it can (absent and null are absent). */
function notText(k: string, v: unknown): string | undefined {
  return v === undefined || v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? undefined : `"${k}" must be text, not ${shown(v)}`;
}

function bound(v: unknown, ctx: LineCtx, open: number): number {
  if (v === undefined || v === null || v === '' || v === '-') return open;
  return ctx.ts.parse(typeof v === 'string' ? v.trim() : v);
}

function make(get: (k: (typeof COLS)[number]) => unknown, ctx: LineCtx, line: number, aliases: readonly string[]): Placement | string {
  const ipv = get('ip');
  if (ipv !== undefined && ipv !== null && typeof ipv !== 'string') return `"ip" must be an IP address as text, not ${shown(ipv)}`;
  const ip = trimmed(ipv);
  if (ip === undefined) return 'missing ip';
  const pct = ip.indexOf('%');
  if (isIP(pct < 0 ? ip : ip.slice(0, pct)) === 0) return `ip ${JSON.stringify(ip.length > 60 ? `${ip.slice(0, 60)}…` : ip)} is not an IP address`;
  for (const k of ['host', 'sandbox', 'episode', 'run'] as const) { const why = notText(k, get(k)); if (why) return why; }
  const absent = (v: unknown): boolean => v === undefined || v === null || v === '' || v === '-';
  if (aliases.length && (absent(get('from')) || absent(get('to')))) return `${aliases.map((a) => `"${a}"`).join(', ')} ${aliases.length > 1 ? 'are' : 'is'} not read: a placement's interval is "from" and "to" (without one of them it would be open on that side)`;
  const from = bound(get('from'), ctx, -Infinity), to = bound(get('to'), ctx, Infinity);
  if (Number.isNaN(from) || Number.isNaN(to)) return `unparseable from/to ${JSON.stringify([get('from'), get('to')])}`;
  if (to < from) return `to before from at line ${line}`;
  const p: Placement = { ip: canonicalIp(ip), from, to };
  const host = trimmed(get('host')), sandbox = trimmed(get('sandbox')), episode = trimmed(get('episode'));
  if (host !== undefined) p.host = host;
  if (sandbox !== undefined) p.sandbox = sandbox;
  if (episode !== undefined) p.episode = episode;
  const run = trimmed(get('run'));
  if (run !== undefined) p.run = run;
  return p;
}

/** Reads a placement file and reports bad lines with file and line. */
export async function readPlacementsDetailed(path: string, opts: { tz?: string } = {}): Promise<{ placements: Placement[]; stats: ReadStats }> {
  const placements: Placement[] = [];
  const stats = await readLines(path, 'placements', opts, (ctx) => {
    let idx: number[] | undefined;
    let aliases: string[] = [];
    let delim = ',';
    const cells: string[] = [];
    const fromCells = (k: (typeof COLS)[number]): string | undefined => { const i = idx![COL_INDEX[k]]!; return i < 0 ? undefined : cells[i]; };
    return (text, line, info) => {
      if (isBlank(text)) return;
      let p: Placement | string;
      if (text.charCodeAt(0) === 123 || text.trimStart().startsWith('{')) {
        const o = parseObject(text);
        if (typeof o === 'string') { ctx.stats.badLine(line, lineError(o, info.unterminated)); return; }
        p = make((k) => o[k], ctx, line, boundAliases(Object.keys(o)));
      } else {
        if (idx === undefined) delim = text.includes('\t') && !text.includes(',') ? '\t' : ',';
        const err = splitCsv(text, delim, cells);
        if (err) { ctx.stats.badLine(line, lineError(err, info.unterminated)); return; }
        if (idx === undefined) {
          const lower = cells.map((c) => c.trim().toLowerCase());
          if (lower.includes('ip')) { idx = COLS.map((c) => lower.indexOf(c)); aliases = boundAliases(cells); return; }
          idx = COLS.map((_, i) => i);
        }
        p = make(fromCells, ctx, line, aliases);
      }
      if (typeof p === 'string') { ctx.stats.badLine(line, lineError(p, info.unterminated)); return; }
      ctx.stats.records++;
      placements.push(p);
    };
  });
  return { placements, stats };
}

/** The contract's form: the placements only (bad lines are skipped; use readPlacementsDetailed to see them). */
export async function readPlacements(path: string): Promise<Placement[]> {
  return (await readPlacementsDetailed(path)).placements;
}
