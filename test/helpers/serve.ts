// Why: the daemon's tests start a real `corral serve` on a private socket and home (no sensor, no
// pool: fast) and talk to it as clients do; one way to start it, wait for its ready line and stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { MAIN } from './cli.js';

export interface Served { child: ChildProcess; out: () => string; err: () => string; stop: () => Promise<void> }

/**
 * Starts `corral serve --socket SOCKET --home HOME --no-sensor --pool 0` (with --quiet, or --json
 * when json is set) and resolves once it printed its ready line; env is added to this process's.
 */
export function startServe(socket: string, home: string, opts: { json?: boolean; env?: Record<string, string> } = {}): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--socket', socket, '--home', home, '--no-sensor', '--pool', '0', opts.json ? '--json' : '--quiet'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  let out = '', err = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); }
  };
  child.stderr!.on('data', (c: Buffer) => { err += c; });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      if (opts.json ? out.includes('"ready":true') : out.includes('ready on')) resolve({ child, out: () => out, err: () => err, stop });
    });
    child.on('exit', (code) => reject(new Error(`corral serve exited ${code}: ${err}`)));
  });
}
