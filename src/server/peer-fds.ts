// Why: loads the native helper that borrows a Unix-socket peer's descriptors (native/peer-fds.c),
// with a clear error when it was not built. See that file for the threat it stops.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface PeerFds {
  /** The peer's pid/uid/gid (from the kernel) and duplicates of its targetFds (−1 where it has none). */
  borrowPeerFds(sockFd: number, targetFds: number[]): { pid: number; uid: number; gid: number; fds: number[] };
}

export function loadPeerFds(): PeerFds {
  const path = fileURLToPath(new URL('../../native/peer-fds.node', import.meta.url));
  try {
    return createRequire(import.meta.url)(path) as PeerFds;
  } catch (e) {
    throw new Error(`native helper ${path} is missing or broken (${(e as Error).message.split('\n')[0]}); run npm run build`);
  }
}
