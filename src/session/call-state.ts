// Why: what a session knows of each tool call while it runs and after (its cgroup, its times, how it
// ended, whether it left processes running), shared by the session and the parts that blame calls
// (session-persistence.ts). Attribution comes from this record, never from anything the agent sets.
import type { Attribution } from '../events/event.js';
import type { Cgroup, CgroupStats } from '../sandbox/cgroups.js';

export interface CallState extends Attribution {
  cgroup: Cgroup; running: boolean; startedNs: bigint; endedNs?: bigint; statsBefore?: CgroupStats; killReason?: string; cancelled?: string;
  /** The command screen parsed this call's text (see rootScreened). */
  screened?: boolean;
  /** Processes of this call were still running when it ended (background work that may act later). */
  leftRunning?: boolean;
  /** The argv Corral starts the call with, when the screen read its text; cleared once its exec is seen. */
  rootArgv?: string[];
}

