// Why: Corral may run in a container, i.e. in a pid namespace of its own. Then the kernel's pids
// (what bpftrace 0.17 reports) are not the ones Corral spawns and reads /proc by, and /proc/1 is
// the container's init, not the machine's. Code that depends on either asks here.
import { readlinkSync } from 'node:fs';

/** The init pid namespace's inode number is fixed (PROC_PID_INIT_INO). */
const INIT_PID_NS = 'pid:[4026531836]';

/** Whether this process runs in a pid namespace other than the init one (false when it cannot tell). */
export function inChildPidNs(): boolean {
  try { return readlinkSync('/proc/self/ns/pid') !== INIT_PID_NS; } catch { return false; }
}
