// Why: `corral events --reindex` — the operator's recovery for a damaged or lost index: rebuild
// it from the session logs (store/reindex.ts) with progress on stderr, then say how many events
// the new index holds, where the old file was kept, and which log lines could not be indexed.
// Log-line errors quote agent-written text, so everything printed passes through safeText.
import { rebuildIndex, type ReindexResult } from '../store/reindex.js';
import { StoreError } from '../store/store-error.js';
import { Progress, type CliIO } from './io.js';
import { safeText } from './style.js';

const SHOWN_BAD_LINES = 20;

export function reindexStore(home: string, json: boolean, io: CliIO): number {
  const progress = new Progress(io);
  let result: ReindexResult;
  try {
    result = rebuildIndex(home, (p) => {
      if (p.sessions === 1) progress.update(`corral events: rebuilding the index of ${safeText(home)} from ${p.of} session log(s)`, true);
      progress.update(`corral events: reindexing: ${p.sessions}/${p.of} session logs, ${p.events} events`, p.sessions === p.of);
    });
  } catch (err) {
    progress.done();
    if (!(err instanceof StoreError)) throw err;
    io.stderr.write(`corral events: ${safeText(err.message)}\n`);
    return err.kind === 'missing' ? 2 : 1;
  }
  progress.done();
  if (json) io.stdout.write(`${JSON.stringify(result)}\n`);
  const lines = [`corral events: reindexed ${result.events} event(s) from ${result.sessions} session log(s) into ${safeText(result.index)}`];
  if (result.duplicates > 0) lines.push(`  ${result.duplicates} log line(s) repeated an event id already indexed and were counted once`);
  if (result.previousEvents !== undefined && result.previousEvents > result.events) {
    lines.push(`  warning: the previous index answered ${result.previousEvents} event(s), more than the logs hold now: compare it before deleting it`);
  }
  if (result.kept.length > 0) lines.push(`  the previous index is kept as ${safeText(result.kept[0]!)}${result.kept.length > 1 ? ` (with its ${result.kept.slice(1).map((k) => k.slice(k.lastIndexOf('-'))).join(', ')})` : ''}; delete it once you no longer need it`);
  if (result.badLines.length > 0) {
    lines.push(`  ${result.badLines.length} log line(s) could not be indexed (they stay in the logs):`);
    for (const b of result.badLines.slice(0, SHOWN_BAD_LINES)) lines.push(`    sessions/${b.session}.jsonl:${b.line}: ${safeText(b.error)}`);
    if (result.badLines.length > SHOWN_BAD_LINES) lines.push(`    … and ${result.badLines.length - SHOWN_BAD_LINES} more (--json lists them all)`);
  }
  io.stderr.write(`${lines.join('\n')}\n`);
  return 0;
}
