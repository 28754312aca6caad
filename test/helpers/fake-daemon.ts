// Why: the clients' impostor tests (Node and Python) need a process that is not Corral listening on
// a daemon socket path, as another user would: it answers every request as a daemon would (a clean
// run) and writes down what it was sent, so a test can prove a client sent it nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The uid of `nobody`, the other user the impostor runs as (setpriv). */
export const NOBODY = 65534;

const FAKE = `
const http = require('node:http'), fs = require('node:fs');
const [sock, got] = process.argv.slice(2);
http.createServer((req, res) => {
  let b = ''; req.on('data', (c) => { b += c; });
  req.on('end', () => {
    fs.appendFileSync(got, req.method + ' ' + req.url + ' ' + b + '\\n');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/v1/sessions' ? { session: 'fake' }
      : req.url === '/v1/run' ? { session: 'fake', exit_code: 0, signal: null, duration_ms: 1, timed_out: false, verdict: 'clean', alerts: [], via: 'daemon' } : { ok: true }));
  });
}).listen(sock, () => console.log('listening'));
setTimeout(() => process.exit(0), 60000);
`;

/**
 * Starts a fake daemon on sock (appending every request to got), as uid (default: this process's
 * user), and resolves once it listens. The script is written into dir (readable by uid).
 */
export async function startFakeDaemon(dir: string, sock: string, got: string, uid?: number): Promise<ChildProcess> {
  const script = join(dir, 'fake-daemon.cjs');
  writeFileSync(script, FAKE, { mode: 0o644 });
  const argv = uid === undefined ? [process.execPath, script, sock, got]
    : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, script, sock, got];
  const fake = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  fake.stderr!.on('data', (c: Buffer) => { err += c; });
  await new Promise<void>((resolve, reject) => {
    fake.stdout!.once('data', () => resolve());
    fake.once('exit', (code) => reject(new Error(`the fake daemon exited ${code}: ${err}`)));
  });
  return fake;
}
