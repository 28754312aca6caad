// Why: firewall logs see IP addresses, traces see episodes. When the traces do not say which
// IP an episode used, a mapping file does: CSV "ip,from,to,host,sandbox,episode" (header
// optional, that column order assumed without one) or JSON lines with the same keys. An IP
// can appear many times (reused over time); several sandboxes can share one IP (NAT).
// Empty from → -Infinity (since always), empty to → Infinity (still in use).
import type { Placement } from '../types.js';
import { isBlank, parseObject, readLines, type LineCtx } from './base.js';
import { splitCsv } from './fieldmap.js';
import { canonicalIp, toStr } from './normalise.js';
import { lineError, type ReadStats } from './stats.js';

const COLS = ['ip', 'from', 'to', 'host', 'sandbox', 'episode'] as const;
const COL_INDEX = { ip: 0, from: 1, to: 2, host: 3, sandbox: 4, episode: 5 } as const;

function trimmed(v: unknown): string | undefined {
  const s = toStr(v);
  return s === undefined ? undefined : toStr(s.trim());
}

function bound(v: unknown, ctx: LineCtx, open: number): number {
  if (v === undefined || v === null || v === '' || v === '-') return open;
  return ctx.ts.parse(typeof v === 'string' ? v.trim() : v);
}

function make(get: (k: (typeof COLS)[number]) => unknown, ctx: LineCtx, line: number): Placement | string {
  const ip = trimmed(get('ip'));
  if (ip === undefined) return 'missing ip';
  const from = bound(get('from'), ctx, -Infinity), to = bound(get('to'), ctx, Infinity);
  if (Number.isNaN(from) || Number.isNaN(to)) return `unparseable from/to ${JSON.stringify([get('from'), get('to')])}`;
  if (to < from) return `to before from at line ${line}`;
  const p: Placement = { ip: canonicalIp(ip), from, to };
  const host = trimmed(get('host')), sandbox = trimmed(get('sandbox')), episode = trimmed(get('episode'));
  if (host !== undefined) p.host = host;
  if (sandbox !== undefined) p.sandbox = sandbox;
  if (episode !== undefined) p.episode = episode;
  return p;
}

/** Reads a placement file and reports bad lines with file and line. */
export async function readPlacementsDetailed(path: string, opts: { tz?: string } = {}): Promise<{ placements: Placement[]; stats: ReadStats }> {
  const placements: Placement[] = [];
  const stats = await readLines(path, 'placements', opts, (ctx) => {
    let idx: number[] | undefined;
    let delim = ',';
    const cells: string[] = [];
    const fromCells = (k: (typeof COLS)[number]): string | undefined => { const i = idx![COL_INDEX[k]]!; return i < 0 ? undefined : cells[i]; };
    return (text, line, info) => {
      if (isBlank(text)) return;
      let p: Placement | string;
      if (text.charCodeAt(0) === 123 || text.trimStart().startsWith('{')) {
        const o = parseObject(text);
        if (typeof o === 'string') { ctx.stats.badLine(line, lineError(o, info.unterminated)); return; }
        p = make((k) => o[k], ctx, line);
      } else {
        if (idx === undefined) delim = text.includes('\t') && !text.includes(',') ? '\t' : ',';
        const err = splitCsv(text, delim, cells);
        if (err) { ctx.stats.badLine(line, lineError(err, info.unterminated)); return; }
        if (idx === undefined) {
          const lower = cells.map((c) => c.trim().toLowerCase());
          if (lower.includes('ip')) { idx = COLS.map((c) => lower.indexOf(c)); return; }
          idx = COLS.map((_, i) => i);
        }
        p = make(fromCells, ctx, line);
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
