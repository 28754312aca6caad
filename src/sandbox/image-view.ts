// Why: a read-only image root was bound into the sandbox as it lies on the host, so its unix
// sockets and fifos were the very inodes host processes and other sandboxes use: a sandbox could
// connect() to a socket a host service listens on inside the image directory (a path around the
// network namespace and the gateway), and two sandboxes of one image could talk through a fifo the
// image holds (a covert channel between rollouts). Threat it stops: both. The image is shown
// through this session's own read-only overlay instead: an overlay gives every socket and fifo an
// inode of its own, so a connect() finds no listener and a fifo is this session's alone, while the
// files read as before (same owners and modes, nothing writable). The image's path never enters
// the overlay's option string (a comma or colon in it would be options): it is bound first.
import { execFile as execFileCb } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

/**
 * Mounts `image` read-only at `merged` through an overlay whose layers lie in `layerDir` (made
 * here, root's alone). Throws with the kernel's reason when it cannot; what it mounted is left for
 * the session's teardown (every mount under the session directory is detached there).
 */
export async function mountImageView(image: string, layerDir: string, merged: string): Promise<void> {
  mkdirSync(layerDir, { mode: 0o700 });
  chmodSync(layerDir, 0o700);
  const lower = join(layerDir, 'lower'), empty = join(layerDir, 'empty');
  for (const d of [lower, empty, merged]) mkdirSync(d);
  try {
    await execFile('mount', ['--bind', image, lower]);
    // (an overlay without an upper layer needs two lower ones: the second is empty; redirects and
    // metacopy an image's own trusted.overlay.* attributes might ask for are not followed)
    await execFile('mount', ['-t', 'overlay', 'corral-image', '-o', `ro,nosuid,nodev,redirect_dir=nofollow,metacopy=off,lowerdir=${lower}:${empty}`, merged]);
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(String(err.stderr ?? '').trim().split('\n')[0] || err.message.split('\n')[0]);
  }
}
