// Why: without a cap, a Corral-made workspace lives on the host's disk and one rollout can fill
// it (a miner's blockchain, a runaway log, `yes > out`): every other sandbox on the machine and
// Corral's own event store then get ENOSPC. `resources.workspace_size` caps it as a tmpfs, but
// tmpfs pages are memory (charged to the session's memory limit), so a build that needs a few
// GB of workspace would need as much memory. `resources.workspace_disk` caps it on disk instead:
// the workspace is its own ext4 filesystem in a sparse file under the session dir, loop-mounted
// nosuid,nodev; the file takes only what is written, and a write past the size gets ENOSPC in
// the sandbox. Threat it stops: disk exhaustion of the host by one rollout, without spending
// the session's memory on files. Teardown and orphan cleanup detach it with the session dir's
// other mounts (workspace-quota.ts), and the loop device is freed with its last mount.
import { execFile as execFileCb } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, rmdirSync } from 'node:fs';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

/** Runs a tool; a failure says the tool and its own words (first line of stderr), not only "Command failed". */
async function run(tool: string, args: string[]): Promise<void> {
  try {
    await execFile(tool, args);
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: unknown };
    const said = String(err.stderr ?? '').trim().split('\n')[0];
    throw new Error(`${tool}: ${said || (err.code === 'ENOENT' ? 'not found' : err.message.split('\n')[0])}`);
  }
}

/**
 * Makes `image` (created, sparse) an ext4 filesystem of `bytes` and mounts it on `dir` (`background`:
 * mkfs at the lowest CPU priority, for a pool). No
 * journal (the workspace dies with the session), no reserved blocks, no lost+found left in
 * the agent's view. Throws with the tool's message when loop devices or mkfs.ext4 are missing.
 */
export async function mountDiskWorkspace(image: string, dir: string, bytes: number, o: { background?: boolean } = {}): Promise<void> {
  const size = Math.ceil(bytes / 4096) * 4096;
  // (a sparse file of that size: one open and one ftruncate, no process)
  const fd = openSync(image, 'wx', 0o600);
  try { ftruncateSync(fd, size); } finally { closeSync(fd); }
  const mkfs = ['mkfs.ext4', '-q', '-F', '-m', '0', '-O', '^has_journal', '-E', 'lazy_itable_init=1,nodiscard', image];
  // (made ahead of time for a pool: at the lowest CPU priority, behind the sessions it serves)
  if (o.background) await run('nice', ['-n', '19', ...mkfs]);
  else await run(mkfs[0]!, mkfs.slice(1));
  await run('mount', ['-o', 'loop,nosuid,nodev,noatime', image, dir]);
  try { rmdirSync(`${dir}/lost+found`); } catch { /* (not made, or not empty: harmless) */ }
}
