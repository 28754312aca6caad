// Why: the client side of `corral serve`'s local API, kept free of heavy imports so that
// `corral run` through a warm daemon starts in tens of milliseconds.
import http from 'node:http';
import type net from 'node:net';

/** Where `corral serve` listens unless told otherwise (CORRAL_SOCKET, --socket). */
export const DEFAULT_SOCKET = '/run/corral/corral.sock';

/** sun_path holds 108 bytes with its terminating NUL: a longer path would be cut silently by the kernel. */
export const SOCKET_PATH_MAX = 107;

/** Why a Unix socket path cannot be used at all (too long, or with a NUL), else undefined. */
export function socketPathProblem(path: string): string | undefined {
  if (path === '') return 'the socket path is empty';
  if (path.includes('\0')) return 'the socket path contains a NUL byte';
  const n = Buffer.byteLength(path);
  if (n > SOCKET_PATH_MAX) return `the socket path is ${n} bytes long; a Unix socket path may have at most ${SOCKET_PATH_MAX} (the kernel would cut it short): ${path.slice(0, 60)}…`;
  return undefined;
}

export interface DaemonAnswer { status: number; json: Record<string, unknown> }

/**
 * An expected failure of a call through the daemon, said in one line (no stack): `kind` is the
 * JSON error kind and `exitCode` what `corral run` exits with — 'daemon' (125: none answers on a
 * named socket, or it went away mid-call), 'unavailable' (125: --max-sessions reached, stopping),
 * 'socket' (2: a socket path the kernel would cut short).
 */
export class DaemonError extends Error {
  override readonly name = 'DaemonError';
  constructor(readonly kind: 'daemon' | 'unavailable' | 'socket', message: string, readonly exitCode: number) { super(message); }
}

/** One line for a socket error of a call to the daemon at socketPath (a connection refused, a hang-up mid-call). */
export function daemonFailure(socketPath: string, e: unknown): DaemonError {
  if (e instanceof DaemonError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const msg = (e as Error).message ?? String(e);
  if (code === 'ENOENT') return new DaemonError('daemon', `no corral daemon at ${socketPath} (no such socket; start \`corral serve\` or drop --socket)`, 125);
  if (code === 'ECONNREFUSED') return new DaemonError('daemon', `no corral daemon answers at ${socketPath} (connection refused: it is not running; start \`corral serve\` or drop --socket)`, 125);
  if (code === 'ENOTSOCK') return new DaemonError('daemon', `${socketPath} is not a socket (start \`corral serve\` or name its socket with --socket)`, 125);
  if (code === 'EACCES') return new DaemonError('daemon', `no permission to connect to the corral daemon at ${socketPath} (its socket is root-only)`, 125);
  if (code === 'ECONNRESET' || msg === 'socket hang up') return new DaemonError('daemon', `the corral daemon at ${socketPath} closed the connection before answering (it stopped or crashed); the command may have been killed part-way`, 125);
  return new DaemonError('daemon', `corral daemon at ${socketPath}: ${code ?? msg}`, 125);
}

/** One request to the daemon; rejects with the socket error (ENOENT, ECONNREFUSED) when none listens. */
export function daemonRequest(socketPath: string, method: string, path: string, body?: unknown): Promise<DaemonAnswer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      method, path, createConnection: trusted(socketPath),
      headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(raw) as Record<string, unknown> });
        } catch {
          reject(new Error(`daemon answered ${res.statusCode} with a body that is not JSON: ${raw.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** True for the errors that mean "no daemon here" (fall back to running locally). */
export function noDaemon(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTSOCK' || code === 'EACCES';
}

/**
 * Follows a server-sent event stream of the daemon (GET path): calls onEvent(type, data) per
 * message ('message' for plain data lines). Resolves when the daemon ends the stream; rejects on a
 * socket error or a non-200 answer.
 */
export function daemonStream(socketPath: string, path: string, onEvent: (type: string, data: unknown) => void): { done: Promise<void>; stop: () => void } {
  let req: http.ClientRequest | undefined;
  const done = new Promise<void>((resolve, reject) => {
    req = http.request({ method: 'GET', path, createConnection: trusted(socketPath), headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.on('data', (c: Buffer) => { body += c; });
        res.on('end', () => reject(new Error(`daemon answered ${res.statusCode}: ${body.slice(0, 300)}`)));
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let type = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) { try { onEvent(type, JSON.parse(data)); } catch { /* a torn message: skip */ } }
        }
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  return { done, stop: () => req?.destroy() };
}

/**
 * The connection for a request to the daemon: made only to a listener that is root or this user
 * (daemon-trust.ts, loaded when a request is first made: `corral run` keeps its start fast).
 */
// (no `agent`: with one — even `agent: false` — Node ignores createConnection and dials TCP localhost:80)
function trusted(socketPath: string): NonNullable<http.RequestOptions['createConnection']> {
  return (_opts, oncreate) => {
    const done = (err: Error | null, socket?: net.Socket): void => oncreate(err, socket!);
    import('./daemon-trust.js').then((m) => m.connectToDaemon(socketPath, done), (e: unknown) => done(e as Error));
    return undefined;
  };
}
