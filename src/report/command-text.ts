// Why: a session report is read to learn what a tool call did, and the part of a command that raised an alert is
// often not its first line (`cd /workspace` then `echo … >> ~/.bashrc`) or lies past a long argument. The terminal
// report showed the first line cut at 100 characters (a review, session 40); this lays the whole command out as
// indented lines, wrapping long ones, and elides only the middle of a very long command, saying how much.
import { safeText } from '../cli/style.js';

/** Characters per printed line of a command. */
const WIDTH = 120;
/** Printed lines per command: past this the middle is left out (its count said), the start and the end kept. */
const MAX_LINES = 24;

/** The command as printed lines (no indent): its own lines, each wrapped at WIDTH, the middle elided past MAX_LINES. */
export function commandLines(command: string, width = WIDTH, max = MAX_LINES): string[] {
  const out: string[] = [];
  for (const raw of command.replace(/\s+$/, '').split('\n')) {
    const line = safeText(raw);
    if (line.length <= width) { out.push(line); continue; }
    for (let i = 0; i < line.length; i += width) out.push((i > 0 ? '  ' : '') + line.slice(i, i + width));
  }
  if (out.length <= max) return out;
  const head = Math.ceil((max - 1) / 2), tail = max - 1 - head;
  return [...out.slice(0, head), `… ${out.length - head - tail} more lines …`, ...out.slice(out.length - tail)];
}
