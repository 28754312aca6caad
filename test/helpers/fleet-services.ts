// Why: the fleet pipeline's tests need a real NATS server with JetStream and a real PostgreSQL,
// started fresh in a temporary directory on 127.0.0.1 (SAFETY.md: loopback only) and removed
// afterwards. PostgreSQL refuses to run as root, so its cluster belongs to the `postgres` user
// the Debian package creates.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export interface NatsServer {
  url: string; port: number;
  /** Stops the server, keeping its JetStream data (an outage). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  remove(): Promise<void>;
  /** SIGSTOP: a server that keeps its connections open and answers nothing (a hung host, a partition); remove() ends it. */
  freeze(): void;
}

/**
 * nats-server with JetStream (file store in a temp dir) on 127.0.0.1; stop()/start() keep its
 * data. config: extra configuration (TLS, authorization) in nats-server's config syntax.
 */
export async function startNats(opts: { config?: string } = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-nats-'));
  const port = await freePort();
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, opts.config ?? '');
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn('nats-server', ['-c', conf, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'js'), '--http_port', '0'], { stdio: 'ignore' });
    await waitFor('nats-server', () => portOpen(port));
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => { c.once('exit', () => r()); c.kill('SIGTERM'); });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`, port, start, stop,
    remove: async () => { child?.kill('SIGCONT'); await stop(); rmSync(dir, { recursive: true, force: true }); },
    freeze: () => { child?.kill('SIGSTOP'); },
  };
}

export interface Postgres { url: string; stop(): Promise<void> }

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', name))) return join(root, v, 'bin', name);
  throw new Error(`PostgreSQL's ${name} not found under ${root} (scripts/setup.sh installs the postgresql package)`);
}

/** A throwaway PostgreSQL cluster (trust auth, loopback and a private socket dir). */
export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pg-'));
  const data = join(dir, 'data');
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('no postgres user (scripts/setup.sh installs the postgresql package)');
  const uid = Number(id.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  const as = (argv: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8' });
  const init = as([pgBin('initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = as([pgBin('pg_ctl'), '-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start failed: ${start.stderr} ${start.stdout}`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      as([pgBin('pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
