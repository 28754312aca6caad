// Why: a session directory holds what the agent made (its workspace, a writable root's upper
// layer), and the agent chooses its shape: `for i in $(seq 3000); do mkdir d; cd d; done` makes a
// tree deeper than PATH_MAX, which Node's rmSync walks by full path names and cannot remove
// (ENAMETOOLONG). Threat it stops: an agent making its sandbox's teardown throw, so the session
// dir (and what the caller does after close()) is left behind on every rollout: disk filled,
// leaks, a runtime that reports sessions it no longer has. GNU rm walks by directory descriptors
// at any depth; it is run as an argv (never a shell string) with --one-file-system, so a mount
// that is somehow still there below the dir is never deleted through.
import { existsSync, rmSync } from 'node:fs';
import { execFile } from '../util/exec-file.js';

/** Removes `dir` and everything in it; undefined when it is gone, else why it is not. Never throws. */
export async function removeDirTree(dir: string): Promise<string | undefined> {
  let first: string;
  try {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  } catch (e) { first = (e as Error).message.split('\n')[0]!; }
  try {
    await execFile(['rm', '-rf', '--one-file-system', '--', dir]);
  } catch (e) {
    return `${first}; rm -rf --one-file-system: ${(e as Error).message.split('\n')[0]!}`;
  }
  return existsSync(dir) ? `${first}; rm -rf --one-file-system left it` : undefined;
}
