// Why: joining firewall alerts to tool calls is only as good as the clocks. Logs write time
// as ISO 8601 with or without a zone, as epoch s/ms/µs/ns, as Zeek float seconds, as syslog
// "May  1 12:00:00" (no year, no zone). A wrong unit or zone silently shifts every record by
// hours or by a factor of 1000 and produces confident but false links. This parser turns all
// of them into epoch milliseconds (UTC) and keeps a note of every assumption it made, which
// the readers put into InputStats.tsNote, so an assumption is always stated, never silent.
import { daysInMonth, parseNamedMonthDate } from './named-dates.js';
export type EpochUnit = 's' | 'ms' | 'us' | 'ns';

const UNIT_NAME: Record<EpochUnit, string> = { s: 'epoch seconds', ms: 'epoch milliseconds', us: 'epoch microseconds', ns: 'epoch nanoseconds' };
const UNIT_DIV: Record<EpochUnit, number> = { s: 1e-3, ms: 1, us: 1e3, ns: 1e6 };
/** Plausible window for log timestamps: 2000-01-01 .. now + 2 days. Outside it, unit or clock is suspect. */
const MIN_PLAUSIBLE = 946_684_800_000;
/** Largest |ms| a Date holds (ECMA-262 §21.4.1.1): beyond it a value is no time at all. */
const MAX_DATE_MS = 8.64e15;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** Guesses the unit of an epoch number by its magnitude (valid for dates 1973..5138). */
export function epochUnitOf(n: number): EpochUnit {
  const a = Math.abs(n);
  return a < 1e11 ? 's' : a < 1e14 ? 'ms' : a < 1e17 ? 'us' : 'ns';
}

export interface TsOptions {
  /** Zone for timestamps that carry none: 'UTC', '+02:00', '-0500' or an IANA name ('Europe/Berlin'). Default UTC (stated in the note). */
  tz?: string;
  /** Year for syslog timestamps (which have none). Default: the year of the file's mtime (stated in the note). */
  year?: number;
  /** Reference time for the syslog year guess and rollover (file mtime, ms). */
  refMs?: number;
}

/** Validates a tz option; throws a readable error for an unknown zone. */
export function checkTz(tz: string): void {
  if (fixedOffsetMs(tz) !== undefined) return;
  try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); } catch { throw new Error(`unknown timezone "${tz}": use UTC, an offset like +02:00, or an IANA name like Europe/Berlin`); }
}

/** A fixed zone (UTC, ±HH[:MM], UTC±HH:MM) as ms east of UTC; undefined when tz is no such form. Throws for an offset beyond ±23:59. */
function fixedOffsetMs(tz: string): number | undefined {
  if (tz === 'UTC' || tz === 'Z' || tz === 'GMT' || tz === 'utc') return 0;
  const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(tz);
  if (!m) return undefined;
  const h = Number(m[2]), mi = Number(m[3] ?? 0);
  // (as in ISO 8601 times: "+99:99" or "+2400" would shift every zone-less time by days)
  if (h > 23 || mi > 59) throw new Error(`offset "${tz}" out of range: hours 00-23, minutes 00-59 (e.g. +05:30)`);
  return (m[1] === '-' ? -1 : 1) * (h * 60 + mi) * 60_000;
}

export { daysInMonth };

/** Parses timestamps of one file and remembers what it had to assume. */
export class TsParser {
  private readonly units: Record<EpochUnit, number> = { s: 0, ms: 0, us: 0, ns: 0 };
  private expectedMismatch = 0;
  private expected?: EpochUnit;
  private zoned = 0;
  private unzoned = 0;
  private syslog = 0;
  private dmesg = 0;
  private implausible = 0;
  private firstImplausible?: number;
  private readonly maxPlausible = Date.now() + 2 * 86_400_000;
  private readonly fixed: number | undefined;
  /** Per local hour: the zone's offset, and whether that hour is one a daylight-saving change made twice (fold) or skipped (gap). */
  private readonly zoneCache = new Map<number, { off: number; dst?: 'fold' | 'gap' }>();
  /** Zone-less times that fell in such an hour (read as said in the note: they may be an hour off). */
  private dstFold = 0;
  private dstGap = 0;
  private firstFold?: string;
  private firstGap?: string;
  private dtf?: Intl.DateTimeFormat;
  private yearNote?: string;
  private lastMinute?: string;
  private lastMinuteMs = 0;
  private lastHour = '';
  private lastHourMs = 0;

  constructor(private readonly opts: TsOptions = {}) {
    if (opts.tz !== undefined) checkTz(opts.tz);
    this.fixed = opts.tz === undefined ? 0 : fixedOffsetMs(opts.tz);
  }

  /** Any JSON value: number (epoch, unit by magnitude), numeric string, or date string. NaN when unusable. */
  parse(v: unknown, expected?: EpochUnit): number {
    if (typeof v === 'number') return this.epoch(v, expected);
    if (typeof v === 'string') return this.parseString(v, expected);
    return NaN;
  }

  /** An epoch number; the unit is detected by magnitude. If the format defines a unit and the value disagrees, that is noted. */
  epoch(n: number, expected?: EpochUnit): number {
    if (!Number.isFinite(n) || n <= 0) return NaN;
    const u = epochUnitOf(n);
    this.units[u]++;
    if (expected !== undefined) { this.expected = expected; if (u !== expected) this.expectedMismatch++; }
    return this.check(n / UNIT_DIV[u]);
  }

  parseString(s: string, expected?: EpochUnit): number {
    const c = s.charCodeAt(0);
    if (c >= 48 && c <= 57 && isNumeric(s)) return this.epoch(Number(s), expected);
    return this.iso(s);
  }

  /** ISO 8601 / RFC 3339 ('-' or '/' between date parts), 'T' or space, optional fraction, zone Z, ±HH:MM, ±HHMM, ±HH or none. */
  iso(s: string): number {
    const n = s.length;
    let base: number;
    // Consecutive log lines share their minute: reuse "YYYY-MM-DDTHH:MM" → ms from the last line.
    if (this.lastMinute !== undefined && s.startsWith(this.lastMinute)) base = this.lastMinuteMs;
    else {
      // (YYYY-MM-DD, or YYYY/MM/DD as Palo Alto's CSV exports write it)
      const ds = s.charCodeAt(4);
      if (n < 16 || (ds !== 45 && ds !== 47) || s.charCodeAt(7) !== ds) return this.fallback(s);
      const y = d4(s, 0), mo = d2(s, 5), d = d2(s, 8);
      const sep = s.charCodeAt(10);
      if ((sep !== 84 && sep !== 32 && sep !== 116) || s.charCodeAt(13) !== 58) return this.fallback(s);
      const h = d2(s, 11), mi = d2(s, 14);
      // (24:00 is the end of the day in ISO 8601; 24:01 and later are no time)
      if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 24 || mi < 0 || mi > 59 || (h === 24 && mi > 0)) return NaN;
      base = Date.UTC(y, mo - 1, d, h, mi);
      this.lastMinute = s.slice(0, 16);
      this.lastMinuteMs = base;
    }
    let i = 16, sec = 0, frac = 0;
    if (i < n && s.charCodeAt(i) === 58) { sec = d2(s, 17); i = 19; }
    if (i < n && (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44)) {
      i++;
      let scale = 100;
      while (i < n) { const k = s.charCodeAt(i) - 48; if (k < 0 || k > 9) break; frac += k * scale; scale /= 10; i++; }
    }
    if (sec < 0 || sec > 60 || (s.charCodeAt(11) === 50 && s.charCodeAt(12) === 52 && sec + frac > 0)) return NaN;
    const local = base + sec * 1000 + frac;
    if (i === n) { this.unzoned++; return this.check(local - this.offsetFor(local)); }
    const z = s.charCodeAt(i);
    if ((z === 90 || z === 122) && i + 1 === n) { this.zoned++; return this.check(local); }
    if (z === 43 || z === 45) {
      const oh = d2(s, i + 1);
      let om = 0;
      let j = i + 3;
      if (j < n && s.charCodeAt(j) === 58) j++;
      if (j + 2 <= n) { om = d2(s, j); j += 2; }
      // (RFC 3339: offset hours 00-23, minutes 00-59; "+99:00" is no zone)
      if (oh < 0 || oh > 23 || om < 0 || om > 59 || j !== n) return NaN;
      this.zoned++;
      return this.check(local - (z === 45 ? -1 : 1) * (oh * 60 + om) * 60_000);
    }
    if (s.endsWith(' UTC') || s.endsWith(' GMT')) { this.zoned++; return this.check(local); }
    return NaN;
  }

  /**
   * Fast path of the trace scanner: "YYYY-MM-DDTHH:MM:SS.sssZ" (exactly 24 characters) at s[i..],
   * or NaN for anything else (the caller then uses parse()). No side effects: a value the caller
   * keeps goes through acceptZoned(), so the notes count it exactly as parse() would.
   */
  isoZAt(s: string, i: number): number {
    if (s.charCodeAt(i + 23) !== 90 || s.charCodeAt(i + 19) !== 46 || s.charCodeAt(i + 13) !== 58 || s.charCodeAt(i + 16) !== 58) return NaN;
    let base: number;
    // Consecutive calls share their hour: "YYYY-MM-DDTHH" → ms is reused.
    if (this.lastHour !== '' && s.startsWith(this.lastHour, i)) base = this.lastHourMs;
    else {
      if (s.charCodeAt(i + 4) !== 45 || s.charCodeAt(i + 7) !== 45 || s.charCodeAt(i + 10) !== 84) return NaN;
      const y = d4(s, i), mo = d2(s, i + 5), d = d2(s, i + 8), h = d2(s, i + 11);
      if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23) return NaN;
      base = Date.UTC(y, mo - 1, d, h);
      this.lastHour = s.slice(i, i + 13);
      this.lastHourMs = base;
    }
    const mi = d2(s, i + 14), sec = d2(s, i + 17), f = d2(s, i + 20), g = s.charCodeAt(i + 22) - 48;
    if (mi < 0 || mi > 59 || sec < 0 || sec > 60 || f < 0 || g < 0 || g > 9) return NaN;
    return base + mi * 60_000 + sec * 1000 + f * 10 + g;
  }

  /** Counts a zoned timestamp read by isoZAt (the same bookkeeping as iso()). */
  acceptZoned(ms: number): number { this.zoned++; return this.check(ms); }

  /** Counts n zoned timestamps converted elsewhere (the native trace linker), all inside plausibleRange(). */
  countZoned(n: number): void { this.zoned += n; }

  /** Counts n epoch-seconds values converted elsewhere (the native flow reader), all inside plausibleRange(). */
  countEpochSeconds(n: number): void {
    if (n <= 0) return;
    this.units.s += n;
    this.expected = 's';
  }

  /** Times outside [min, max] are counted as implausible (and the first one is named in the note). */
  plausibleRange(): [number, number] { return [MIN_PLAUSIBLE, this.maxPlausible]; }

  /**
   * Other date strings: only RFC 2822, month-first and ctime forms with the month as a name and a
   * zone (named-dates.ts); never Date.parse, which rolls 31 Apr into May and reads 01/05 as US month/day.
   */
  private fallback(s: string): number {
    const t = parseNamedMonthDate(s);
    if (Number.isNaN(t)) return NaN;
    this.zoned++;
    return this.check(t);
  }

  /**
   * Syslog "Mmm dd HH:MM:SS" at the start of s (BSD format: no year, no zone). Returns the time
   * and the index after it, or undefined. Year from opts.year or the reference time (file mtime),
   * going back one year when the date would otherwise lie more than a day after the reference.
   */
  syslogPrefix(s: string): { ms: number; next: number } | undefined {
    if (s.length < 15 || s.charCodeAt(3) !== 32 || s.charCodeAt(9) !== 58 || s.charCodeAt(12) !== 58) return undefined;
    const mo = MONTHS[s.slice(0, 3)];
    if (mo === undefined) return undefined;
    const dc = s.charCodeAt(4) === 32 ? s.charCodeAt(5) - 48 : (s.charCodeAt(4) - 48) * 10 + s.charCodeAt(5) - 48;
    const h = d2(s, 7), mi = d2(s, 10), sec = d2(s, 13);
    // (hour 24, minute 60 or second 61 would roll into the next hour or day: no time)
    if (dc < 1 || dc > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return undefined;
    const ref = this.opts.refMs ?? Date.now();
    let year = this.opts.year ?? new Date(ref).getUTCFullYear();
    let local = Date.UTC(year, mo, dc, h, mi, sec);
    if (this.opts.year === undefined && local - this.offsetFor(local, false) > ref + 86_400_000) { year--; local = Date.UTC(year, mo, dc, h, mi, sec); }
    if (dc > daysInMonth(year, mo + 1)) return undefined; // (Feb 30: no date)
    this.yearNote ??= this.opts.year !== undefined ? `year ${this.opts.year} given as an option` : `year taken from the file's modification time (${new Date(ref).toISOString().slice(0, 10)}), previous year for dates after it`;
    this.syslog++;
    return { ms: this.check(local - this.offsetFor(local)), next: 15 };
  }

  /**
   * `dmesg -T` (--ctime) "[Www Mmm dd HH:MM:SS YYYY]" at the start of s: a wall-clock time the
   * kernel log tool computed from boot time plus uptime (local time, no zone; it drifts after a
   * suspend). Returns the time and the index after the bracket, or undefined.
   */
  dmesgPrefix(s: string): { ms: number; next: number } | undefined {
    if (s.length < 26 || s.charCodeAt(0) !== 91 || s.charCodeAt(4) !== 32 || s.charCodeAt(8) !== 32 || s.charCodeAt(25) !== 93) return undefined;
    const mo = MONTHS[s.slice(5, 8)];
    if (mo === undefined) return undefined;
    const dc = s.charCodeAt(9) === 32 ? s.charCodeAt(10) - 48 : (s.charCodeAt(9) - 48) * 10 + s.charCodeAt(10) - 48;
    const h = d2(s, 12), mi = d2(s, 15), sec = d2(s, 18), year = Number(s.slice(21, 25));
    if (dc < 1 || dc > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || s.charCodeAt(14) !== 58 || s.charCodeAt(17) !== 58 || !(year >= 1970 && year <= 9999) || dc > daysInMonth(year, mo + 1)) return undefined;
    const local = Date.UTC(year, mo, dc, h, mi, sec);
    this.dmesg++;
    return { ms: this.check(local - this.offsetFor(local)), next: 26 };
  }

  /**
   * The zone's offset for a wall-clock time. Around a daylight-saving change the same wall time may have
   * happened twice (the clocks went back: a fold) or never (they went forward: a gap); such a time is read as
   * its earlier instant (fold) or with the offset from before the change (gap, as RFC 5545 and Temporal's
   * "compatible" read it), and counted for the note — one of those may be an hour off, and the log cannot
   * say which. (Before, a fold was read as its later instant east of UTC and its earlier one west of it.)
   * `count`: false for a look that is not the timestamp's reading (the syslog year check).
   */
  private offsetFor(localMs: number, count = true): number {
    if (this.fixed !== undefined) return this.fixed;
    const bucket = Math.floor(localMs / 3_600_000);
    let hit = this.zoneCache.get(bucket);
    if (hit === undefined) {
      this.dtf ??= new Intl.DateTimeFormat('en-US', { timeZone: this.opts.tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
      // Offset at an instant = wall clock there − the instant; a day either side brackets any one change.
      const before = this.wallMinusUtc(localMs - 86_400_000), after = this.wallMinusUtc(localMs + 86_400_000);
      if (before === after) hit = { off: before };
      else {
        const okBefore = this.wallMinusUtc(localMs - before) === before, okAfter = this.wallMinusUtc(localMs - after) === after;
        if (okBefore && okAfter) hit = { off: Math.max(before, after), dst: 'fold' };
        else if (okBefore) hit = { off: before };
        else if (okAfter) hit = { off: after };
        else hit = { off: before, dst: 'gap' };
      }
      this.zoneCache.set(bucket, hit);
    }
    if (hit.dst && count) {
      const at = new Date(localMs).toISOString().slice(0, 16).replace('T', ' ');
      if (hit.dst === 'fold') { this.dstFold++; this.firstFold ??= at; } else { this.dstGap++; this.firstGap ??= at; }
    }
    return hit.off;
  }

  private wallMinusUtc(utc: number): number {
    const p: Record<string, number> = {};
    for (const part of this.dtf!.formatToParts(new Date(utc))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return wall - Math.floor(utc / 1000) * 1000;
  }

  private check(ms: number): number {
    if (!(Math.abs(ms) <= MAX_DATE_MS)) return NaN; // (no date at all: the caller reports the value)
    if (ms < MIN_PLAUSIBLE || ms > this.maxPlausible) { this.implausible++; this.firstImplausible ??= ms; }
    return ms;
  }

  /** Everything that was assumed or looked wrong, or undefined when every timestamp was explicit and plausible. */
  note(): string | undefined {
    const parts: string[] = [];
    const seen = (Object.keys(this.units) as EpochUnit[]).filter((u) => this.units[u] > 0);
    if (seen.length === 1) parts.push(`${UNIT_NAME[seen[0]!]} detected`);
    else if (seen.length > 1) parts.push(`MIXED epoch units: ${seen.map((u) => `${this.units[u]} ${UNIT_NAME[u]}`).join(', ')} (each converted by magnitude)`);
    if (this.expectedMismatch > 0) parts.push(`WARNING: the format defines ${UNIT_NAME[this.expected!]} but ${this.expectedMismatch} values had another magnitude (converted by magnitude)`);
    const zoneName = this.opts.tz === undefined ? 'UTC (--tz, --log-tz or --trace-tz to override)' : this.opts.tz;
    if (this.unzoned > 0) parts.push(`${this.unzoned} timestamps had no timezone: assumed ${zoneName}`);
    if (this.syslog > 0) parts.push(`${this.syslog} syslog timestamps have no year and no timezone: ${this.yearNote}; zone assumed ${zoneName}`);
    if (this.dmesg > 0) parts.push(`${this.dmesg} dmesg -T timestamps have no timezone: zone assumed ${zoneName} (dmesg derives them from the boot time: they drift after a suspend; journalctl -k -o short-iso is exact)`);
    if (this.dstFold > 0) parts.push(`WARNING: ${this.dstFold} zone-less timestamps fall in an hour ${zoneName} lived twice (the clocks went back; first ${this.firstFold}): read as the first time round, so some may be an hour early`);
    if (this.dstGap > 0) parts.push(`WARNING: ${this.dstGap} zone-less timestamps fall in an hour ${zoneName} skipped (the clocks went forward; first ${this.firstGap}): no such local time exists — read with the offset from before the change; wrong zone?`);
    if (this.implausible > 0) parts.push(`WARNING: ${this.implausible} timestamps outside 2000-01-01..now+2d (first ${isoOrRaw(this.firstImplausible!)}): wrong unit or clock?`);
    return parts.length ? parts.join('; ') : undefined;
  }
}

function isoOrRaw(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function isNumeric(s: string): boolean {
  let dot = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && !dot) { dot = true; continue; }
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48, b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function d4(s: string, i: number): number {
  const a = d2(s, i), b = d2(s, i + 2);
  return a < 0 || b < 0 ? -1 : a * 100 + b;
}
