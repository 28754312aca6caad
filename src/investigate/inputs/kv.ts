// Why: many firewalls log `key=value` lines, not JSON or CSV — FortiGate (`date=2024-05-01
// time=12:00:03 srcip=10.20.0.9 dstip=… dstport=3333 action="deny" …`), Sophos, logfmt-style
// appliances — often behind a syslog prefix. Each line becomes a flat object and goes through the
// generic field map (guessed from common names, or --map), like JSON lines. FortiGate's split
// date and time fields are joined (with its tz when given), or its `eventtime` (epoch) is used.
// Threat stopped: a fleet's firewall whose log format is none of the big ones being unreadable.
import { objectLinesReader } from './generic.js';

/** key=value tokens (after a blank, a separator or a syslog <PRI>): the key, then a "quoted value" (\" and \\ escapes) or a bare one up to a blank. */
const TOKEN = /(?:^|[\s,;>])([A-Za-z_][\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))/g;

/** A key=value line as a flat object, or an error when it holds fewer than three pairs or a quoted value is not closed. */
export function parseKv(text: string): Record<string, unknown> | string {
  const o: Record<string, unknown> = {};
  let n = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    // (`key="egress block` with no closing quote, a torn line: the value and the rest of the line are lost)
    if (m[2] === undefined && m[3] === '' && text.charCodeAt(TOKEN.lastIndex) === 34) return `unterminated quoted value of ${m[1]} at column ${TOKEN.lastIndex + 1}`;
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (!(m[1]! in o)) { o[m[1]!] = v; n++; }
  }
  if (n < 3) return `not a key=value line (${n} pairs)`;
  // FortiGate: `eventtime` (epoch, precise) is the time; else `date` + `time` (+ `tz`) make one.
  if (typeof o.eventtime === 'string' && /^\d+$/.test(o.eventtime)) o.time = o.eventtime;
  else if (typeof o.date === 'string' && typeof o.time === 'string' && /^\d{4}-\d\d-\d\d$/.test(o.date) && /^\d\d:\d\d:\d\d/.test(o.time)) {
    o.time = `${o.date} ${o.time}${typeof o.tz === 'string' && /^[+-]\d\d:?\d\d$/.test(o.tz) ? o.tz : ''}`;
  }
  return o;
}

/** Whether a line looks like key=value pairs: at least four, covering most of it. */
export function looksKv(line: string): boolean {
  let n = 0, covered = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(line); m; m = TOKEN.exec(line)) { n++; covered += m[0].length; }
  return n >= 4 && covered >= line.length * 0.6;
}

export const kvReader = objectLinesReader('kv', parseKv);
