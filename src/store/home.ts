// Why: one place decides where Corral keeps its event store and how a session id becomes a file
// name. Threat stopped: path traversal — a session label such as "../../etc/cron.d/x" must never
// turn into a write outside <home>/sessions, so names are checked against a strict pattern.
import { join } from 'node:path';

export const DEFAULT_HOME = '/var/lib/corral';

/** `<home>` = explicit option, else $CORRAL_HOME, else /var/lib/corral. */
export function resolveHome(home?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (home !== undefined && home !== '') return home;
  const fromEnv = env.CORRAL_HOME;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_HOME;
}

const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** True when `session` is safe to use as a file name (no slashes, no leading dot, bounded length). */
export function isSafeSessionName(session: unknown): session is string {
  return typeof session === 'string' && SESSION_NAME.test(session);
}

export function sessionsDir(home: string): string {
  return join(home, 'sessions');
}

export function indexPath(home: string): string {
  return join(home, 'index.sqlite');
}

/** Path of a session's JSON-lines log. Throws on an unsafe session name. */
export function sessionLogPath(home: string, session: string): string {
  if (!isSafeSessionName(session)) throw new Error(`unsafe session name: ${JSON.stringify(session)}`);
  return join(sessionsDir(home), `${session}.jsonl`);
}
