// Why: dates that are neither ISO 8601 nor syslog used to go to Date.parse, whose legacy parser
// takes almost anything: `4/31/2024 00:00:11 Z` rolled to May 1, `2/30/2024 … GMT` to March,
// `build 7 UTC` became 2001-07-01, and `01/05/2024 … +0000` was read as US month/day without a
// word (a European log then lands four months off). Only explicit grammars with the month as a
// name are read here, each field range-checked (the day against its month): RFC 2822
// (`Wed, 01 May 2024 12:00:00 +0000`), month first (`May 1, 2024 12:00:00 UTC`, JavaScript's
// `Wed May 01 2024 12:00:00 GMT+0200`) and ctime / date(1) (`Wed May  1 12:00:00 UTC 2024`). A
// zone is required (else the machine's zone would be guessed). Anything else, all-numeric
// `a/b/yyyy` forms included (day or month first cannot be told), is no time: a bad record.

/** Days in month mo (1-12) of year y: 2024-02-30 is no date (Date.UTC would roll it to March 1). */
export function daysInMonth(y: number, mo: number): number {
  return mo === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** 1..12 for a month's name, its three-letter abbreviation (any case) or "Sept"; 0 otherwise. */
function monthOf(w: string): number {
  const l = w.toLowerCase();
  const i = MONTH_NAMES.findIndex((m) => l === m || l === m.slice(0, 3) || (m === 'september' && l === 'sept'));
  return i + 1;
}

function isDayName(w: string): boolean {
  const l = w.toLowerCase();
  return DAY_NAMES.some((d) => l === d || l === d.slice(0, 3));
}

const WD = String.raw`(?:([A-Za-z]+),?\s+)?`;
const TIME = String.raw`(\d{1,2}):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?`;
/** Z, UTC, GMT, an offset ±HH:MM / ±HHMM, or GMT/UTC followed by one. */
const ZONE = String.raw`(Z|(?:UTC|GMT)?[+-]\d\d:?\d\d|UTC|GMT)`;
/** RFC 2822: [Www,] DD Mon YYYY HH:MM[:SS] ZONE (also DD-Mon-YYYY). */
const RFC2822 = new RegExp(String.raw`^${WD}(\d{1,2})[ -]([A-Za-z]+)\.?[ -](\d{4}),?\s+${TIME}\s*${ZONE}$`);
/** Month first: [Www[,]] Mon DD[,] YYYY[,] HH:MM[:SS] ZONE. */
const MONTH_FIRST = new RegExp(String.raw`^${WD}([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4}),?\s+${TIME}\s*${ZONE}$`);
/** ctime / date(1): [Www] Mon DD HH:MM:SS ZONE YYYY, or … YYYY ZONE. */
const CTIME = new RegExp(String.raw`^${WD}([A-Za-z]+)\s+(\d{1,2})\s+${TIME}\s+(?:${ZONE}\s+(\d{4})|(\d{4})\s+${ZONE})$`);

/** Epoch ms of a date with a month name and a zone in one of the grammars above, or NaN. */
export function parseNamedMonthDate(s: string): number {
  const t = s.trim();
  let m = RFC2822.exec(t);
  if (m) return build(m[1], m[3]!, m[2]!, m[4]!, m.slice(5, 9), m[9]!);
  m = MONTH_FIRST.exec(t);
  if (m) return build(m[1], m[2]!, m[3]!, m[4]!, m.slice(5, 9), m[9]!);
  m = CTIME.exec(t);
  if (m) return build(m[1], m[2]!, m[3]!, m[9] ?? m[10]!, m.slice(4, 8), m[8] ?? m[11]!);
  return NaN;
}

function build(wd: string | undefined, monW: string, dayS: string, yearS: string, time: (string | undefined)[], zone: string): number {
  if (wd !== undefined && !isDayName(wd)) return NaN;
  const mo = monthOf(monW), d = Number(dayS), y = Number(yearS);
  const h = Number(time[0]), mi = Number(time[1]), sec = Number(time[2] ?? 0);
  const frac = time[3] === undefined ? 0 : Number(`0.${time[3]}`) * 1000;
  if (mo === 0 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || sec > 60) return NaN;
  const off = offsetMinutes(zone);
  if (off === undefined) return NaN;
  return Date.UTC(y, mo - 1, d, h, mi, sec) + frac - off * 60_000;
}

/** Minutes east of UTC for Z/UTC/GMT or [UTC|GMT]±HH[:]MM (hours ≤ 23, minutes ≤ 59), else undefined. */
function offsetMinutes(z: string): number | undefined {
  if (z === 'Z' || z === 'UTC' || z === 'GMT') return 0;
  const m = /^(?:UTC|GMT)?([+-])(\d\d):?(\d\d)$/.exec(z);
  if (!m) return undefined;
  const oh = Number(m[2]), om = Number(m[3]);
  if (oh > 23 || om > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (oh * 60 + om);
}
