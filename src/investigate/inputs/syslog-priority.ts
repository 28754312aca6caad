// Why: firewall lines forwarded by syslog, or captured off the wire, keep syslog's priority in
// front of the time (`<4>May  1 12:00:00 fw kernel: …`, RFC 5424's `<4>1 2024-05-01T… fw kernel - - - …`).
// The readers that find the time at the start of a line (iptables, Cisco ASA) read past it here;
// before, every such line was a bad record ("unparseable timestamp") and a raw capture lost all of them.

const NO_PRIORITY = { len: 0, rfc5424: false } as const;

/**
 * A syslog priority at the start of a line (`<4>`, as forwarded syslog and raw captures keep it),
 * and RFC 5424's version after it (`<4>1 2024-…`): its length, 0 when there is none.
 */
export function priorityTag(s: string): { len: number; rfc5424: boolean } {
  if (s.charCodeAt(0) !== 60) return NO_PRIORITY;
  const close = s.indexOf('>', 1);
  if (close < 2 || close > 4 || !/^\d+$/.test(s.slice(1, close)) || Number(s.slice(1, close)) > 191) return NO_PRIORITY;
  return s.startsWith('1 ', close + 1) ? { len: close + 3, rfc5424: true } : { len: close + 1, rfc5424: false };
}

/** In an RFC 5424 message, where MSG starts after the host: past APP-NAME, PROCID, MSGID and STRUCTURED-DATA (`-` or `[…]…`). */
export function rfc5424Message(s: string, from: number, stop: number): number {
  let p = from;
  for (let field = 0; field < 3; field++) {
    while (s.charCodeAt(p) === 32) p++;
    const sp = s.indexOf(' ', p);
    if (sp < 0 || sp >= stop) return from;
    p = sp;
  }
  while (s.charCodeAt(p) === 32) p++;
  if (s.charCodeAt(p) === 45) return p + 1; // '-': no structured data
  while (s.charCodeAt(p) === 91) { // one or more [id param="…"] elements (a `\]` inside a value is escaped)
    let q = p + 1;
    for (; q < stop && s.charCodeAt(q) !== 93; q++) if (s.charCodeAt(q) === 92) q++;
    if (q >= stop) return from;
    p = q + 1;
  }
  return p;
}
