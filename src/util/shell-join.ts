// Why: an argv (`corral run -- bash -c 'SCRIPT'`) has to become shell text for the command screen,
// which parses bash. Joining the words with spaces loses their boundaries: `bash -c 'grep -rn
// "169.254.169.254" docs/'` became `bash -c grep -rn "169.254.169.254" docs/`, so the screen saw
// bash (not a text tool) carrying the address as an argument and denied a harmless search, and
// `on_finding: block` stopped it. Quoting each word keeps the argv exactly what it is.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argv word as bash text that evaluates to exactly that word. */
export function shellQuote(word: string): string {
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** An argv as a bash command line that runs exactly that argv. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
