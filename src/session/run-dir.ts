// Why: every sandbox's launcher (a dropped uid, before bwrap binds the session's files) walks through Corral's run
// directory, so it must be searchable by others. Something else may have made it first with a tighter mode — the
// sensor's type cache made /run/corral 0700 on a fresh machine when a sensor started before any runtime, and from
// then on every sandbox failed to start ("bwrap: Can't find source path …/pts: Permission denied") until a reboot.
import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** Makes `dir` (0755) or gives an existing one search permission for everyone; says what it changed. */
export function ensureRunDir(dir: string): { created: boolean; madeSearchable: boolean } {
  const made = mkdirSync(dir, { recursive: true, mode: 0o755 });
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o011) === 0o011) return { created: made !== undefined, madeSearchable: false };
  // (search only, not read: what a session keeps there stays unlisted to other users)
  chmodSync(dir, mode | 0o011);
  return { created: made !== undefined, madeSearchable: true };
}
