// Why: deciding whether a process is still running (orphan cleanup), and still the same process
// (a pid reused after a crash is another process: its start time differs).
import { readFileSync } from 'node:fs';
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Field 22 of /proc/PID/stat; 'gone' when the process does not exist, 'unknown' when it could not be read (EMFILE …). */
export function readStartTime(pid: number): string | 'gone' | 'unknown' {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 'unknown'; // field 22, after "pid (comm)"
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? 'gone' : 'unknown';
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined when it is gone or unreadable. */
export function processStartTime(pid: number): string | undefined {
  const t = readStartTime(pid);
  return t === 'gone' || t === 'unknown' ? undefined : t;
}
