// Why: "any CSV or JSONL through a field mapping" covers firewalls with their own export
// formats. A record is an 'alert' when it has a rule, severity or category value, else a
// 'flow' — except that an allowed record (accept/allow/pass/permit) is a flow when all it has is
// the rule that allowed it and at most an informational severity: a cloud firewall's allow log
// (GCP's jsonPayload.rule_details, a Palo Alto traffic log) names its rule on every connection,
// and reading those as alerts would make all allowed traffic incidents. Its rule's name is then
// no category evidence either (a rule "allow-ssh" is policy, not a tunnel); its destination still
// is (a metadata address, a mining port). ts, src and dst are required; a file where no column
// can be found for them is reported once (line 1) with the columns it has and the --map syntax;
// a CSV row with more or fewer cells than the header is a bad record (its fields may be shifted).
import type { FieldMap, NetRecord } from '../types.js';
import { isBlank, mkRecord, parseObject, readLines, type LineCtx, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { compilePath, FIELD_CANDIDATES, FIELD_KEYS, looseFind, looseIndex, looseName, sniffDelimiter, splitCsv, type FieldKey } from './fieldmap.js';
import { given, normaliseAction, normaliseProto, normaliseSeverity, toCount, toPort, toStr } from './normalise.js';
import { lineError } from './stats.js';
import { ALERT_CATEGORIES } from '../../events/event.js';

const CATS: ReadonlySet<string> = new Set(ALERT_CATEGORIES);
/** Severity words of log levels, not of threats (a log entry's "severity": "INFO"). */
const INFO_WORDS: ReadonlySet<string> = new Set(['info', 'informational', 'notice', 'debug', 'default']);
type Get = (k: FieldKey) => unknown;
const KI = Object.fromEntries(FIELD_KEYS.map((k, i) => [k, i])) as Record<FieldKey, number>;

/** Builds a NetRecord from field values; returns an error string when a required one is missing. */
function build(get: Get, ctx: LineCtx, line: number): NetRecord | string {
  const tv = get('ts');
  const t = ctx.ts.parse(tv);
  if (Number.isNaN(t)) return `missing or unparseable ts ${JSON.stringify(tv ?? null)}`;
  const src = toStr(get('src')), dst = toStr(get('dst'));
  if (src === undefined || dst === undefined) return 'missing src or dst';
  const rule = toStr(get('rule')), sevRaw = get('severity'), catRaw = toStr(get('category'));
  const severity = normaliseSeverity(sevRaw);
  const action = normaliseAction(get('action'));
  const allowLog = action === 'allowed' && catRaw === undefined && (severity === undefined || (typeof sevRaw === 'string' && INFO_WORDS.has(sevRaw.toLowerCase())));
  const kind = !allowLog && (rule !== undefined || severity !== undefined || catRaw !== undefined) ? 'alert' : 'flow';
  const r = mkRecord(t, kind, src, dst, ctx.file, line);
  const sp = get('sport'), dp = get('dport');
  r.sport = toPort(sp);
  r.dport = toPort(dp);
  if (r.sport === undefined && given(sp)) ctx.stats.tally('source ports not 0..65535 dropped, the records kept', line);
  if (r.dport === undefined && given(dp)) ctx.stats.tally('destination ports not 0..65535 dropped, the records kept', line);
  r.proto = normaliseProto(get('proto'));
  r.action = action;
  r.severity = severity;
  r.rule = rule;
  r.host = toStr(get('host'));
  r.bytes = toCount(get('bytes'));
  const text = allowLog ? undefined : catRaw !== undefined && rule !== undefined ? `${catRaw} | ${rule}` : catRaw ?? rule;
  r.category = catRaw !== undefined && CATS.has(catRaw) ? catRaw : deriveCategory({ kind, dst, dport: r.dport, text }, ctx.cats);
  return r;
}

function describeMap(cols: Partial<Record<FieldKey, string>>, given: FieldMap): string {
  const guessed = FIELD_KEYS.filter((k) => cols[k] !== undefined && given[k] === undefined).map((k) => `${k}=${cols[k]}`);
  return guessed.length ? `columns guessed: ${guessed.join(',')} (override with --map)` : '';
}

export const csvReader: NetReader = {
  format: 'csv',
  read(path, onRecord, opts = {}) {
    const given = opts.map ?? {};
    return readLines(path, 'csv', opts, (ctx) => {
      let delim = ',';
      let idx: Int32Array | undefined;
      let ncols = 0;
      let failed = false;
      const cells: string[] = [];
      const get: Get = (k) => { const i = idx![KI[k]]!; return i < 0 ? undefined : cells[i]; };
      return (text, line, info) => {
        if (failed || isBlank(text)) return;
        if (idx === undefined) {
          // (a byte order mark was dropped with the content's start: source.ts)
          delim = sniffDelimiter(text);
          const err = splitCsv(text, delim, cells);
          if (err) { ctx.stats.badLine(line, `header: ${err}`); failed = true; return; }
          // Header names compared loosely: "Source address" / "Receive Time" (Palo Alto) find source_address / receive_time.
          const lower = cells.map((c) => looseName(c));
          ncols = cells.length;
          idx = new Int32Array(FIELD_KEYS.length).fill(-1);
          const chosen: Partial<Record<FieldKey, string>> = {};
          FIELD_KEYS.forEach((k, ki) => {
            const want = given[k];
            const i = want !== undefined ? cells.findIndex((c) => c.trim() === want) : FIELD_CANDIDATES[k].map((c) => lower.indexOf(looseName(c))).find((j) => j >= 0) ?? -1;
            if (want !== undefined && i < 0) ctx.stats.badLine(line, `--map ${k}=${want}: no such column`);
            idx![ki] = i;
            if (i >= 0) chosen[k] = cells[i]!.trim();
          });
          const missing = (['ts', 'src', 'dst'] as const).filter((k) => idx![FIELD_KEYS.indexOf(k)]! < 0);
          if (missing.length) {
            // (short enough that the issue keeps its advice: see MAX_ISSUE_CHARS)
            const shown = cells.slice(0, 8).map((c) => (c.length > 20 ? `${c.slice(0, 20)}…` : c)).join(', ') + (cells.length > 8 ? `, … (${cells.length} columns)` : '');
            ctx.stats.badLine(line, `no column for ${missing.join(', ')} (columns: ${shown}); pass --map ${missing.map((m) => `${m}=COLUMN`).join(',')}`);
            failed = true; return;
          }
          const d = describeMap(chosen, given);
          if (d) ctx.stats.note(d);
          return;
        }
        const err = splitCsv(text, delim, cells);
        if (err) { ctx.stats.badLine(line, lineError(err, info.unterminated)); return; }
        // A row of another width than the header cannot be mapped: its fields may be shifted.
        if (cells.length !== ncols) { ctx.stats.badLine(line, lineError(`expected ${ncols} columns (as the header), found ${cells.length}`, info.unterminated)); return; }
        const r = build(get, ctx, line);
        if (typeof r === 'string') { ctx.stats.badLine(line, lineError(r, info.unterminated)); return; }
        ctx.stats.records++;
        onRecord(r);
      };
    });
  },
};

export const jsonlReader: NetReader = objectLinesReader('jsonl', (text) => parseObject(text));

type Getter = (o: Record<string, unknown>) => unknown;
/** Most distinct key sets resolved per file (beyond, lines use the first line's fields). */
const MAX_KEY_SETS = 256;
/** Guesses of other kinds of line stated per file, beyond the first line's. */
const MAX_GUESS_NOTES = 5;

/**
 * A reader of lines that are each one object (JSON lines; key=value lines, kv.ts): fields are
 * found by --map paths or guessed from the keys (the first line's guesses are stated, and those of
 * up to five other kinds of line that differ), then
 * build() makes the record. Guesses are made per distinct set of top-level keys, so a log that
 * mixes kinds of line (FortiGate's traffic and IPS lines: policyname or attack as the rule) reads
 * each kind by its own fields; a kind without ts/src/dst fields uses the first line's.
 */
export function objectLinesReader(format: string, parse: (text: string) => Record<string, unknown> | string): NetReader {
  return { format, read(path, onRecord, opts = {}) {
    const given = opts.map ?? {};
    return readLines(path, format, opts, (ctx) => {
      let getters: Getter[] | undefined, first: Getter[] | undefined, firstGuess = '', otherGuesses = 0;
      const byKeys = new Map<string, Getter[]>();
      let cur: Record<string, unknown> = {};
      const get: Get = (k) => getters![KI[k]]!(cur);
      const resolve = (o: Record<string, unknown>): { gs: Getter[]; chosen: Partial<Record<FieldKey, string>>; missing: string[] } => {
        const chosen: Partial<Record<FieldKey, string>> = {};
        let index: Map<string, string> | undefined;
        const gs = FIELD_KEYS.map((k) => {
          const paths = given[k] !== undefined ? [given[k]!] : FIELD_CANDIDATES[k];
          for (const p of paths) { const g = compilePath(p); if (g(o) !== undefined) { chosen[k] = p; return g; } }
          if (given[k] !== undefined) return compilePath(given[k]!);
          // Not under a common name: the same names nested or capitalised (Azure's properties.SourceIp).
          const p = looseFind(index ??= looseIndex(o), FIELD_CANDIDATES[k]);
          if (p !== undefined) { chosen[k] = p; return compilePath(p); }
          return () => undefined;
        });
        return { gs, chosen, missing: (['ts', 'src', 'dst'] as const).filter((k) => chosen[k] === undefined) };
      };
      return (text, line, info) => {
        if (isBlank(text)) return;
        const o = parse(text);
        if (typeof o === 'string') { ctx.stats.badLine(line, lineError(o, info.unterminated)); return; }
        const sig = Object.keys(o).join('\n');
        let gs = byKeys.get(sig);
        if (!gs) {
          const r = resolve(o);
          const d = describeMap(r.chosen, given);
          if (!first) {
            if (r.missing.length) {
              const keys = Object.keys(o).slice(0, 20).join(', ');
              const mapped = r.missing.filter((m) => given[m as FieldKey] !== undefined), unmapped = r.missing.filter((m) => given[m as FieldKey] === undefined);
              ctx.stats.badLine(line, mapped.length
                ? `${mapped.map((m) => `--map ${m}=${given[m as FieldKey]}`).join(', ')}: no such field (keys: ${keys})`
                : `no field for ${unmapped.join(', ')} (keys: ${keys}); pass --map ${unmapped.map((m) => `${m}=PATH`).join(',')}`);
              return;
            }
            first = r.gs; firstGuess = d;
            if (d) ctx.stats.note(d);
          } else if (!r.missing.length && d && d !== firstGuess && otherGuesses < MAX_GUESS_NOTES) {
            // Another kind of line read by other fields: said too (a wrong guess must be visible).
            otherGuesses++;
            ctx.stats.note(`from line ${line} (keys ${Object.keys(o).slice(0, 6).join(', ')}${Object.keys(o).length > 6 ? ', …' : ''}): ${d}`);
          }
          gs = r.missing.length ? first : r.gs;
          if (byKeys.size < MAX_KEY_SETS) byKeys.set(sig, gs);
        }
        getters = gs;
        cur = o;
        const r = build(get, ctx, line);
        if (typeof r === 'string') { ctx.stats.badLine(line, lineError(r, info.unterminated)); return; }
        ctx.stats.records++;
        onRecord(r);
      };
    });
  } };
}
