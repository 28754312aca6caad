// Why: a client of `corral serve` (`corral run`, `corral events --follow`, `corral dashboard`) sends
// the daemon its whole environment and takes its word for what a command did. Whoever listens on
// the socket path it names gets both. Threat stopped: an unprivileged local user listening first
// on a path root's client names (a CORRAL_SOCKET under /tmp, a directory that user can write)
// collected root's environment (AWS keys, tokens) and answered "exit 0, clean" for a command that
// never ran (review). Before a request is written, the kernel is asked who listens (SO_PEERCRED of
// the connected socket: the listener's credentials); only root or the client's own user is a daemon.
import net from 'node:net';
import { DaemonError } from './daemon-client.js';
import { loadPeerFds, type PeerFds } from './peer-fds.js';

/** The process listening on the socket is neither root nor this user: nothing is sent to it. */
export class DaemonOwnerError extends DaemonError {
  readonly code = 'EDAEMONOWNER';
  constructor(socketPath: string, uid: number) {
    super('daemon', `${socketPath} is served by a process of uid ${uid}, neither root nor you: refusing to send it anything (it would get your environment and decide what your command did); name the real daemon's socket`, 125);
  }
}

let peer: PeerFds | undefined;

/** Connects to socketPath and hands the socket to done only once its listener is root or this user. */
export function connectToDaemon(socketPath: string, done: (err: Error | null, socket?: net.Socket) => void): void {
  const s = net.connect(socketPath);
  const failed = (e: Error): void => done(e);
  s.once('error', failed);
  s.once('connect', () => {
    s.off('error', failed);
    let uid: number;
    try {
      const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) throw new Error(`cannot read the descriptor of the connection to ${socketPath}`);
      peer ??= loadPeerFds();
      uid = peer.borrowPeerFds(fd, []).uid;
    } catch (e) {
      s.destroy();
      done(e as Error);
      return;
    }
    const me = process.geteuid?.() ?? 0;
    if (uid !== 0 && uid !== me) { s.destroy(); done(new DaemonOwnerError(socketPath, uid)); return; }
    done(null, s);
  });
}
