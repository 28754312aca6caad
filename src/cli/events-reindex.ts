// Why: `corral events --reindex` — the operator's recovery for a damaged or lost index: rebuild
// it from the session logs (store/reindex.ts) with progress on stderr, then say how many events
// the new index holds, where the old file was kept, and which log lines could not be indexed.
// Log-line errors quote agent-written text, so everything printed passes through safeText.
// A log that could not be read (or not to its end) is named with the line and byte it stopped at,
// the other logs are indexed all the same, and the exit status is 1: never a stack trace.
import { LISTED_BAD_LINES, rebuildIndex, type ReindexResult } from '../store/reindex.js';
import { StoreError } from '../store/store-error.js';
import { Progress, type CliIO } from './io.js';
import { safeText } from './style.js';

const SHOWN_BAD_LINES = 20;

export function reindexStore(home: string, json: boolean, io: CliIO): number {
  const progress = new Progress(io);
  let result: ReindexResult;
  let started = false;
  try {
    result = rebuildIndex(home, (p) => {
      if (!started) progress.update(`corral events: rebuilding the index of ${safeText(home)} from ${p.of} session log(s)`, true);
      started = true;
      const reading = p.current === undefined ? '' : ` (reading sessions/${safeText(p.current)}.jsonl)`;
      progress.update(`corral events: reindexing: ${p.sessions}/${p.of} session logs, ${p.events} events${reading}`, p.current === undefined && p.sessions === p.of);
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
  const bad = result.badLines.length + result.unlistedBadLines;
  if (bad > 0) {
    lines.push(`  ${bad} log line(s) could not be indexed (they stay in the logs):`);
    for (const b of result.badLines.slice(0, SHOWN_BAD_LINES)) lines.push(`    sessions/${b.session}.jsonl:${b.line}: ${safeText(b.error)}`);
    if (bad > SHOWN_BAD_LINES) lines.push(`    … and ${bad - SHOWN_BAD_LINES} more (--json lists ${result.unlistedBadLines > 0 ? `the first ${LISTED_BAD_LINES} of each log` : 'them all'})`);
  }
  if (result.failed.length > 0) {
    lines.push(`  error: ${result.failed.length} session log(s) could not be read to the end; the events read before the point named are indexed, the rest are not (the logs are left as they are):`);
    for (const f of result.failed) lines.push(`    sessions/${f.session}.jsonl: ${safeText(f.error)}`);
    lines.push(`  the other session logs are indexed; once those logs can be read, run the rebuild again`);
  }
  io.stderr.write(`${lines.join('\n')}\n`);
  return result.failed.length > 0 ? 1 : 0;
}
