// Why: the file-writer watch (file-writers.ts) learns a writer when the file is closed. A process an
// earlier call left running can open a start-up file, write it and keep it open past the end of a
// later call: at that call's end the file has changed, no close was seen, and its change time falls
// inside the later call — which would be blamed for a write it did not make. This finds the process
// that holds the file open for writing right now, among the given (the session's calls') processes,
// by the file's identity (device and inode through /proc/PID/fd), never by a path the agent chose.
// Threat: persistence blamed on the wrong tool call by a writer that keeps its descriptor open.
import { statSync } from 'node:fs';
import { eachProcFd, fdAccess } from './proc-fds.js';

/**
 * The first of `pids` with `file` (a host path) open for writing (O_WRONLY or O_RDWR), or undefined
 * when none does, the file is gone, or the look would exceed MAX_FDS descriptors (proc-fds.ts).
 */
export function openForWriting(file: string, pids: Iterable<number>): number | undefined {
  let target: { dev: number; ino: number };
  try {
    const st = statSync(file);
    target = { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
  let found: number | undefined;
  const complete = eachProcFd(pids, (pid, fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      if (st.ino !== target.ino || st.dev !== target.dev) return false;
      if (fdAccess(pid, fd).write) { found = pid; return true; }
    } catch { /* closed meanwhile, or the process exited */ }
    return false;
  });
  return complete ? found : undefined;
}
