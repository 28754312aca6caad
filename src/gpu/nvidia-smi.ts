// Why: Corral's only view of what runs on a host's NVIDIA GPUs is nvidia-smi's text output.
// These pure parsers turn the two CSV queries (per-GPU state, per-process compute apps) and
// the `nvidia-smi -q` minor numbers into typed rows. Threat: a process name is chosen by the
// agent (argv[0], a file name in /workspace), so it may carry commas, quotes or terminal
// escapes meant to shift columns or hide a miner; names are taken as "everything between the
// fixed columns" and never split, and a line that cannot be read becomes an issue naming its
// line and column while every other line is kept.

/** Columns of the per-GPU query, in order. */
export const GPU_QUERY_FIELDS = [
  'index', 'uuid', 'name', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total',
  'power.draw', 'temperature.gpu',
] as const;

/** Columns of the per-process query, in order. */
export const APPS_QUERY_FIELDS = ['gpu_uuid', 'pid', 'process_name', 'used_memory'] as const;

export function gpuQueryArgv(command = 'nvidia-smi'): string[] {
  return [command, `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
}

export function appsQueryArgv(command = 'nvidia-smi'): string[] {
  return [command, `--query-compute-apps=${APPS_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
}

export interface GpuRow {
  index: number;
  uuid: string;
  name: string;
  util_pct: number | null;
  mem_util_pct: number | null;
  mem_used_mib: number | null;
  mem_total_mib: number | null;
  power_w: number | null;
  temp_c: number | null;
  /** Fields nvidia-smi did not report, with its reason ("[N/A]", "[Not Supported]", …). */
  unavailable: Record<string, string>;
}

export interface AppRow {
  gpu_uuid: string;
  pid: number;
  name: string;
  used_mib: number | null;
  unavailable: Record<string, string>;
  /** Set on a row salvaged from an unreadable line (its issue is reported too): only gpu_uuid and pid are trustworthy. */
  partial?: true;
}

/** One line that could not be read. The line is kept (clipped, control bytes escaped) in `text`. */
export interface ParseIssue {
  source: string;
  line: number;
  column: number;
  text: string;
  message: string;
}

export interface Parsed<T> { rows: T[]; issues: ParseIssue[] }

/** Renders an issue as one readable line: `source:line:column: message — "text"`. */
export function formatIssue(i: ParseIssue): string {
  return `${i.source}:${i.line}:${i.column}: ${i.message} — ${i.text}`;
}

const MAX_SHOWN = 160;

/** JSON-quoted, clipped copy of untrusted text: control bytes come out as \uXXXX, never raw. */
function shown(s: string): string {
  const clipped = s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
  return JSON.stringify(clipped).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

interface Cell { v: string; col: number }

/** Splits on commas, trimming each cell; `col` is the 1-based column where the cell's text starts. */
function cells(line: string): Cell[] {
  const out: Cell[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === ',') {
      const raw = line.slice(start, i);
      const lead = raw.length - raw.trimStart().length;
      out.push({ v: raw.trim(), col: start + lead + 1 });
      start = i + 1;
    }
  }
  return out;
}

/** Joins cells [from, to) back into the original text (a name that contained commas). */
function joined(line: string, cs: Cell[], from: number, to: number): Cell {
  const first = cs[from]!;
  const last = cs[to - 1]!;
  return { v: line.slice(first.col - 1, last.col - 1 + last.v.length), col: first.col };
}

class FieldError extends Error {
  constructor(readonly column: number, message: string) { super(message); }
}

const BRACKETED = /^\[[^\]]*\]$/;
const UNIT = /\s*(MiB|W|%|C)$/;

/** A number, or null with the reason recorded when nvidia-smi printed "[N/A]" and friends. */
function num(c: Cell, field: string, unavailable: Record<string, string>, o: { int?: boolean; max?: number } = {}): number | null {
  if (BRACKETED.test(c.v)) { unavailable[field] = c.v; return null; }
  const v = c.v.replace(UNIT, '');
  const ok = o.int ? /^\d+$/.test(v) : /^\d+(\.\d+)?$/.test(v);
  if (!ok) throw new FieldError(c.col, `expected ${o.int ? 'a whole number' : 'a number'} for ${field}, got ${shown(c.v)}`);
  const n = Number(v);
  if (o.max !== undefined && n > o.max) throw new FieldError(c.col, `${field} ${n} is above ${o.max}`);
  return n;
}

function requiredInt(c: Cell, field: string): number {
  if (!/^\d+$/.test(c.v)) throw new FieldError(c.col, `expected a whole number for ${field}, got ${shown(c.v)}`);
  return Number(c.v);
}

// GPU-<hex uuid>, MIG-<hex uuid> (R470+), or the older MIG-GPU-<uuid>/<gi>/<ci>.
const UUID = /^(GPU|MIG)-[0-9A-Fa-f-]+(\/\d+\/\d+)?$/;
function uuid(c: Cell, field: string): string {
  if (!UUID.test(c.v)) throw new FieldError(c.col, `expected a GPU or MIG UUID for ${field}, got ${shown(c.v)}`);
  return c.v;
}

/** Lines nvidia-smi prints instead of rows: nothing to parse, nothing lost. */
const NO_ROWS = /^No running (compute )?processes found\.?$/i;

/** Reads one line into a row, or says where and why it cannot. */
function tryRow<T>(line: string, arity: number, row: (line: string, cs: Cell[]) => T): T | FieldError {
  const cs = cells(line);
  if (cs.length < arity) return new FieldError(line.length + 1, `has ${cs.length} field${cs.length === 1 ? '' : 's'}, expected ${arity} (a truncated line, or not this query's output)`);
  try { return row(line, cs); } catch (e) {
    if (e instanceof FieldError) return e;
    throw e;
  }
}

const MAX_JOIN = 4;
const ROW_START = /^\s*(GPU|MIG)-[0-9A-Fa-f-]*\s*,/;

/** Process lines may be joined and salvaged (pass `salvage`); GPU lines are never joined, their names are not the agent's. */
function parseLines<T>(
  text: string, source: string, headerFirst: string, arity: number,
  row: (line: string, cs: Cell[]) => T, salvage?: (line: string, cs: Cell[]) => T | undefined,
): Parsed<T> {
  const joinable = salvage !== undefined;
  const rows: T[] = [];
  const issues: ParseIssue[] = [];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const blank = (l: string) => l.trim() === '' || NO_ROWS.test(l.trim());
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (blank(line)) continue;
    // A header (someone ran the query without `noheader`) is recognised and skipped.
    if (i === 0 && cells(line)[0]?.v === headerFirst) continue;
    const r = tryRow(line, arity, row);
    if (!(r instanceof FieldError)) { rows.push(r); continue; }
    // A process name may contain newlines (argv[0] is the agent's): a short line is joined with
    // the next ones, but only while those neither parse on their own nor start like a row.
    let joinedRow: T | undefined;
    let used = 0;
    if (joinable && cells(line).length < arity) {
      let acc = line;
      for (let k = 1; k <= MAX_JOIN && i + k < lines.length; k++) {
        const next = lines[i + k]!;
        if (ROW_START.test(next) || !(tryRow(next, arity, row) instanceof FieldError)) break;
        acc = `${acc}\n${next}`;
        const j = tryRow(acc, arity, row);
        if (!(j instanceof FieldError)) { joinedRow = j; used = k; break; }
      }
    }
    if (joinedRow !== undefined) { rows.push(joinedRow); i += used; continue; }
    issues.push({ source, line: i + 1, column: r.column, text: shown(line), message: r.message });
    // What can be read (a process's GPU and pid) is still kept, so a process is never invisible.
    const part = salvage?.(line, cells(line));
    if (part !== undefined) rows.push(part);
  }
  return { rows, issues };
}

/** Parses `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits`. */
export function parseGpuQuery(text: string, source = 'query-gpu'): Parsed<GpuRow> {
  const n = GPU_QUERY_FIELDS.length;
  return parseLines(text, source, 'index', n, (line, cs) => {
    // index and uuid are first and the six numbers last; the name is whatever lies between.
    const tail = cs.slice(cs.length - 6);
    const unavailable: Record<string, string> = {};
    const name = joined(line, cs, 2, cs.length - 6);
    if (name.v === '') throw new FieldError(name.col, 'empty GPU name');
    return {
      index: requiredInt(cs[0]!, 'index'),
      uuid: uuid(cs[1]!, 'uuid'),
      name: name.v,
      util_pct: num(tail[0]!, 'utilization.gpu', unavailable, { int: true, max: 100 }),
      mem_util_pct: num(tail[1]!, 'utilization.memory', unavailable, { int: true, max: 100 }),
      mem_used_mib: num(tail[2]!, 'memory.used', unavailable, { int: true }),
      mem_total_mib: num(tail[3]!, 'memory.total', unavailable, { int: true }),
      power_w: num(tail[4]!, 'power.draw', unavailable),
      temp_c: num(tail[5]!, 'temperature.gpu', unavailable, { int: true }),
      unavailable,
    };
  });
}

/** Parses `nvidia-smi --query-compute-apps=<APPS_QUERY_FIELDS> --format=csv,noheader,nounits`. Empty output = no processes. */
export function parseComputeApps(text: string, source = 'query-compute-apps'): Parsed<AppRow> {
  const n = APPS_QUERY_FIELDS.length;
  return parseLines(text, source, 'gpu_uuid', n, (line, cs) => {
    const unavailable: Record<string, string> = {};
    // The process name is agent-controlled and may contain commas: it is everything between pid and used_memory.
    const name = joined(line, cs, 2, cs.length - 1);
    return {
      gpu_uuid: uuid(cs[0]!, 'gpu_uuid'),
      pid: requiredInt(cs[1]!, 'pid'),
      name: name.v,
      used_mib: num(cs[cs.length - 1]!, 'used_memory', unavailable, { int: true }),
      unavailable,
    };
  }, (line, cs) => {
    if (cs.length < 2 || !UUID.test(cs[0]!.v) || !/^\d+$/.test(cs[1]!.v)) return undefined;
    const name = cs.length >= n ? joined(line, cs, 2, cs.length - 1).v : cs.length > 2 ? line.slice(cs[2]!.col - 1).trim() : '';
    return { gpu_uuid: cs[0]!.v, pid: Number(cs[1]!.v), name: name || '(unreadable)', used_mib: null, unavailable: { used_memory: '[unreadable line]' }, partial: true };
  });
}

export interface QueryInfo {
  driver?: string;
  cuda?: string;
  /** Device-node minor number (the N of /dev/nvidiaN) by GPU UUID. */
  minorByUuid: Map<string, number>;
  /** MIG mode ("Enabled"/"Disabled") by GPU UUID, when reported. */
  migByUuid: Map<string, string>;
}

/**
 * Reads the few facts Corral needs from `nvidia-smi -q` (plain text): driver and CUDA
 * versions, and each GPU's minor number. nvidia-smi's index is not guaranteed to equal the
 * /dev/nvidiaN minor, so device grants use this map when it is available.
 */
export function parseQueryInfo(text: string): QueryInfo {
  const info: QueryInfo = { minorByUuid: new Map(), migByUuid: new Map() };
  // Fields are collected per "GPU <bus id>" block and committed when the block ends, since
  // "MIG Mode" comes before "GPU UUID" in the block and "Minor Number" after it.
  let block: { uuid?: string; minor?: number; mig?: string } | undefined;
  let section = '';
  const commit = () => {
    if (block?.uuid && block.minor !== undefined) info.minorByUuid.set(block.uuid, block.minor);
    if (block?.uuid && block.mig) info.migByUuid.set(block.uuid, block.mig);
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^GPU [0-9A-Fa-f]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+\.\d/.test(line)) { commit(); block = {}; section = ''; continue; }
    const kv = /^(\s*)([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (!kv) {
      const head = /^(\s+)(\S.*?)\s*$/.exec(line);
      if (head && head[1]!.length <= 4) section = head[2]!;
      continue;
    }
    const [, indent, key, value] = kv as unknown as [string, string, string, string];
    if (indent.length <= 4 && indent.length > 0) section = '';
    if (key === 'Driver Version') info.driver = value;
    else if (key === 'CUDA Version') info.cuda = value;
    else if (!block) continue;
    else if (key === 'GPU UUID' && UUID.test(value) && !block.uuid) block.uuid = value;
    else if (key === 'Minor Number' && /^\d+$/.test(value)) block.minor = Number(value);
    else if (key === 'Current' && section === 'MIG Mode') block.mig = value;
  }
  commit();
  return info;
}
