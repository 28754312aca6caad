// Why: one verdict of a set of alerts for every surface that gives one — the library's tool-call results,
// the daemon's answers, replay's lines and the session report — so a trainer reads the same word everywhere.

/** killed > blocked > flagged > clean. */
export type Verdict = 'clean' | 'flagged' | 'blocked' | 'killed';

/** The verdict of a set of alerts: killed > blocked > flagged > clean. */
export function verdictOf(alerts: { payload: { action: string } }[]): Verdict {
  if (alerts.some((a) => a.payload.action === 'killed')) return 'killed';
  if (alerts.some((a) => a.payload.action === 'blocked')) return 'blocked';
  return alerts.length ? 'flagged' : 'clean';
}
