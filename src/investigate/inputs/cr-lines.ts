// Why: a log whose lines end with a carriage return alone (classic Mac OS, some Windows export
// tools, a Zeek log passed through a converter) has no '\n' at all: every reader saw it as one
// line — a Zeek TSV file was one "#separator" header line, read as 0 records and 0 bad records,
// all of it silently lost. Such content is recognised by its first bytes (a CR not followed by LF,
// and no LF) and each CR is read as LF: one byte for one, so sizes and offsets are unchanged.
// Threat stopped: a whole log read as nothing, with nothing said.

const CR = 13, LF = 10;

/** Whether head (a content's first bytes) ends its lines with CR alone: a lone CR and no LF. */
export function looksCrOnly(head: Uint8Array): boolean {
  if (head.indexOf(LF) >= 0) return false;
  const i = head.indexOf(CR);
  // (a CR as the very last byte of the head may be the start of a CRLF cut by the head's end)
  return i >= 0 && i + 1 < head.length;
}

/** b with every CR turned into LF (a copy: b may be a caller's buffer). */
export function crToLf(b: Buffer): Buffer {
  if (b.indexOf(CR) < 0) return b;
  const out = Buffer.from(b);
  for (let i = out.indexOf(CR); i >= 0; i = out.indexOf(CR, i + 1)) out[i] = LF;
  return out;
}
