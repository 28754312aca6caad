// Why: agent-written text (commands, file names, alert messages built from them) is shown to people
// in terminals and HTML reports. Threat it stops: text that reads differently from what ran —
// bidirectional overrides and isolates reorder it (`cat /etc/shadow` shown as `wodahs/cte/ tac`
// after U+202E), zero-width characters and separators hide parts of it. Such characters are shown
// as a visible \uXXXX instead.

/**
 * Bidi marks, embeddings, overrides and isolates; zero-width and other invisible characters (soft
 * hyphen, Mongolian vowel separator, Hangul fillers); line/paragraph separators; BOM; and the tag
 * characters U+E0000–E007F, which carry hidden ASCII ("ASCII smuggling").
 */
export const INVISIBLE_FORMAT = /[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\u3164\ufeff\uffa0\u{e0000}-\u{e007f}]/gu;

/** The text with every INVISIBLE_FORMAT character written as \uXXXX (\u{XXXXX} above the BMP). */
export function showInvisible(s: string): string {
  return s.replace(INVISIBLE_FORMAT, (c) => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}
