// Why: `--postgres` (collect, events, report) is handed to the pg driver as a connection string,
// and the driver takes almost anything: "mysql://x" or "not a url" become host names it looks up
// in DNS and tries to reach, so a typo fails late, slowly, and with traffic to a name nobody
// meant. This checks the URL before any connection (postgres:// or postgresql://, parseable) and
// redacts its password for every message that shows it.
import { urlForError } from './url-for-errors.js';

/** A connection string without its password, for messages (up to the last @ of the authority: a password may hold @). */
export function redact(url: string): string {
  return url.replace(/(:\/\/[^:/@]*):[^/]*@/, '$1:***@').replace(/(password=)\S+/i, '$1***');
}

/** Why url is not a PostgreSQL URL (to follow the flag's name in a usage error), or undefined when it is one. */
export function postgresUrlProblem(url: string): string | undefined {
  const want = 'must be a URL postgres://USER@HOST:PORT/DB (or postgresql://…)';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  // (the value is shown as urlForError does: it may be the password itself, or hold it unmarked)
  if (scheme !== 'postgres' && scheme !== 'postgresql') return `${want}, got ${urlForError(url)}`;
  try {
    new URL(url);
  } catch {
    return `${want}, got ${urlForError(url)}`;
  }
  if (!url.slice(scheme.length + 1).startsWith('//')) return `${want}, got ${urlForError(url)} (no // after ${scheme}:)`;
  return undefined;
}
