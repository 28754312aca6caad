// Why: deciding whether a process is still running (orphan cleanup), and still the same process
// (a pid reused after a crash is another process: its start time differs).
import { readFileSync } from 'node:fs';
export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, after "pid (comm)"
  } catch { return undefined; }
}
