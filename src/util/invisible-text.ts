// Why: agent-written text (commands, file names, alert messages built from them) is shown to people
// in terminals and HTML reports. Threat it stops: text that reads differently from what ran —
// bidirectional overrides and isolates reorder it (`cat /etc/shadow` shown as `wodahs/cte/ tac`
// after U+202E), zero-width characters and separators hide parts of it. Such characters are shown
// as a visible \uXXXX instead.

/** Bidi marks, embeddings, overrides and isolates; zero-width characters; line/paragraph separators; BOM. */
export const INVISIBLE_FORMAT = /[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** The text with every INVISIBLE_FORMAT character written as \uXXXX. */
export function showInvisible(s: string): string {
  return s.replace(INVISIBLE_FORMAT, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
