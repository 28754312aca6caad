// Why: hosts without an IDS still log firewall hits: iptables/nftables `LOG` rules write
// kernel lines "PREFIX IN=… OUT=… SRC=… DST=… PROTO=… SPT=… DPT=…" into syslog or the
// journal. The prefix names the rule that fired. Syslog's "May  1 12:00:00" has no year and no
// zone; both are taken from options or the file's mtime and stated in tsNote. A syslog priority
// (`<4>`, and RFC 5424's `<4>1 TIME HOST APP PROCID MSGID SD MSG`) is read past. Lines that are
// not firewall lines (other kernel or daemon messages) are skipped and counted, not errors.
//
// kind: a prefix with the word ACCEPT/ALLOW/PASS/PERMIT makes a 'flow' (a logged allowed packet);
// every other prefix (DROP, REJECT, custom names) makes an 'alert' (a rule hit worth explaining).
// Words, not substrings: DISALLOWED, NOT-ACCEPTED and BYPASS are no allowed traffic.
import { isBlank, mkRecord, readLines, type NetReader } from './base.js';
import { deriveCategory } from './category.js';
import { priorityTag, rfc5424Message } from './syslog-priority.js';
import { normaliseProto, toCount, toPort } from './normalise.js';

/** Value of KEY= in s between from and stop (stop excludes an ICMP error's quoted inner packet). */
function kv(s: string, key: string, from: number, stop: number): string | undefined {
  const k = s.indexOf(key, from);
  if (k < 0 || k >= stop) return undefined;
  const v = k + key.length;
  const e = s.indexOf(' ', v);
  return s.slice(v, e < 0 || e > stop ? stop : e);
}

/** The inside of the kernel's `[seconds.micros]` time since boot. */
const UPTIME = /^\s*\d+(?:\.\d+)?$/;

/** Words of a prefix that say the packet went through (whole words: BYPASS, PASSWD, ALLOWLIST-MISS are none). */
const ALLOW_WORDS: ReadonlySet<string> = new Set(['accept', 'accepted', 'accepts', 'allow', 'allowed', 'allows', 'pass', 'passed', 'permit', 'permitted', 'permits']);
/** An allow word negated by a word before it (NOT-ALLOWED, NO ACCEPT) or glued to it (DISALLOWED, UNPERMITTED, NOTALLOWED). */
const NEGATIONS: ReadonlySet<string> = new Set(['not', 'no', 'non', 'never', 'dont']);
const NEGATED = /^(?:dis|un|non|not|no)(accept|accepted|accepts|allow|allowed|allows|pass|passed|permit|permitted|permits)$/;

/** blocked (DROP/REJECT/BLOCK/DENY anywhere, or a negated allow word), allowed (an allow word), else undefined. */
export function actionOfPrefix(p: string): string | undefined {
  const l = p.toLowerCase();
  if (/drop|reject|block|deny|denied/.test(l)) return 'blocked';
  const words = l.split(/[^a-z]+/).filter((w) => w !== '');
  let allowed = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (NEGATED.test(w) || (ALLOW_WORDS.has(w) && i > 0 && NEGATIONS.has(words[i - 1]!))) return 'blocked';
    if (ALLOW_WORDS.has(w)) allowed = true;
  }
  return allowed ? 'allowed' : undefined;
}

export const iptablesLogReader: NetReader = {
  format: 'iptables-log',
  read(path, onRecord, opts = {}) {
    return readLines(path, 'iptables-log', opts, ({ file, stats, ts, cats }) => {
      const actionCache = new Map<string, string | undefined>();
      return (raw, line) => {
        if (isBlank(raw)) return;
        // (`<4>May  1 …` and RFC 5424's `<4>1 2024-…`: the priority is syslog's transport, not the time)
        const pri = priorityTag(raw);
        const text = pri.len ? raw.slice(pri.len) : raw;
        const inAt = text.indexOf('IN=');
        const srcAt = text.indexOf(' SRC=', inAt);
        if (inAt < 0 || srcAt < 0) { stats.skip('non-firewall line'); return; }
        // Time: BSD syslog "Mmm dd HH:MM:SS host …" or RFC 3339 (rsyslog, journalctl -o short-iso).
        let t: number;
        let after: number;
        const sys = ts.syslogPrefix(text);
        const dm = sys ? undefined : ts.dmesgPrefix(text); // (dmesg -T: no host name follows)
        if (sys) { t = sys.ms; after = sys.next; }
        else if (dm) { t = dm.ms; after = dm.next; }
        else {
          const sp = text.indexOf(' ');
          const first = sp < 0 ? text : text.slice(0, sp);
          if (first.charCodeAt(0) === 91) { stats.badLine(line, 'kernel uptime only ([seconds since boot]), no wall-clock time: export with journalctl -k -o short-iso (or dmesg -T)'); return; }
          t = ts.iso(first);
          after = sp;
        }
        if (Number.isNaN(t)) { stats.badLine(line, `unparseable timestamp at the start of the line: "${text.slice(0, 32)}"`); return; }
        while (text.charCodeAt(after) === 32) after++;
        const hostEnd = dm ? after : text.indexOf(' ', after);
        const host = hostEnd > after ? text.slice(after, hostEnd) : undefined;
        // The prefix sits between "kernel: " (and an optional "[uptime] ") and "IN=".
        let p = text.indexOf('kernel:', after);
        p = p >= 0 && p < inAt ? p + 7 : pri.rfc5424 && hostEnd > 0 ? rfc5424Message(text, hostEnd, inAt) : hostEnd;
        while (text.charCodeAt(p) === 32) p++;
        // (the kernel's own `[ 1234.567890]` uptime, not a prefix in brackets such as UFW's `[UFW BLOCK]`)
        if (text.charCodeAt(p) === 91) { const close = text.indexOf(']', p); if (close > 0 && close < inAt && UPTIME.test(text.slice(p + 1, close))) p = close + 1; }
        const prefix = text.slice(p, inAt).trim();
        const stop = (() => { const b = text.indexOf('[', srcAt); return b < 0 ? text.length : b; })();
        const src = kv(text, ' SRC=', inAt, stop), dst = kv(text, ' DST=', inAt, stop);
        if (!src || !dst) { stats.badLine(line, 'firewall line without SRC= and DST= values'); return; }
        let action = actionCache.get(prefix);
        if (action === undefined && !actionCache.has(prefix)) { action = actionOfPrefix(prefix); actionCache.set(prefix, action); }
        const r = mkRecord(t, action === 'allowed' ? 'flow' : 'alert', src, dst, file, line);
        r.proto = normaliseProto(kv(text, ' PROTO=', inAt, stop));
        r.sport = toPort(kv(text, ' SPT=', inAt, stop));
        r.dport = toPort(kv(text, ' DPT=', inAt, stop));
        r.bytes = toCount(kv(text, ' LEN=', inAt, stop));
        r.rule = prefix || undefined;
        r.action = action;
        r.host = host === 'kernel:' ? undefined : host;
        r.category = deriveCategory({ kind: r.kind, dst, dport: r.dport, text: r.rule }, cats);
        stats.records++;
        onRecord(r);
      };
    });
  },
};
