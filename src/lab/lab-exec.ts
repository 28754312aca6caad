// Why: the single way into the lab. `node dist/src/lab/lab-exec.js -- CMD ARGS…` runs CMD in a
// fresh network namespace (unshare --net) that holds only loopback, so whatever hostile traffic
// the command produces can only reach hosts the lab itself creates. Threat stopped: tests and
// demos that mine, tunnel or scan touching the real network (SAFETY.md rule 2, outer wall).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertInLab, inLab, OUTER_NETNS_ENV } from './lab-guard.js';

const SELF = fileURLToPath(import.meta.url);
/** Set on the re-executed copy so it never re-executes again (no unshare loops). */
const REEXEC_ENV = 'CORRAL_LAB_REEXEC';
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
const SIGNUM: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1, SIGQUIT: 3 };

function stripDashes(argv: string[]): string[] {
  return argv[0] === '--' ? argv.slice(1) : argv;
}

/** Direct children of pid (so a signal can skip `unshare`, which ignores SIGINT/SIGTERM). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv, viaWrapper: boolean): Promise<number> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(cmd, args, { stdio: 'inherit', env });
    const forward = (sig: NodeJS.Signals): void => {
      const pid = child.pid;
      if (pid === undefined) return;
      const targets = viaWrapper ? childrenOf(pid) : [pid];
      for (const t of targets) { try { process.kill(t, sig); } catch { /* already gone */ } }
    };
    for (const s of FORWARDED) process.on(s, forward);
    const done = (code: number): void => {
      for (const s of FORWARDED) process.off(s, forward);
      resolve(code);
    };
    child.on('error', (err) => { process.stderr.write(`lab-exec: cannot start ${cmd}: ${err.message}\n`); done(127); });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? SIGNUM[signal] ?? 1 : 1)));
  });
}

/** Prepare the lab netns itself: loopback up and forwarding on (Corral routes sandboxes here). */
function prepareLab(): void {
  execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' });
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
}

/** Runs argv (`[--] CMD ARGS…`) inside a lab, entering one first when needed; resolves to its exit code. */
export async function runInLab(argv: string[]): Promise<number> {
  const cmdv = stripDashes(argv);
  const [cmd, ...args] = cmdv;
  if (cmd === undefined) throw new Error('lab-exec: no command given. Usage: lab-exec.js -- CMD ARGS…');

  if (!inLab()) {
    if (process.env[REEXEC_ENV] === '1') assertInLab(); // a fresh unshare should always pass; say why not
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CORRAL_LAB: '1',
      [REEXEC_ENV]: '1',
      [OUTER_NETNS_ENV]: readlinkSync('/proc/self/ns/net'),
    };
    return runChild('unshare', ['--net', '--fork', '--kill-child', '--', process.execPath, SELF, '--', ...cmdv], env, true);
  }

  prepareLab();
  assertInLab();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env[REEXEC_ENV];
  return runChild(cmd, args, env, false);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try { return realpathSync(entry) === realpathSync(SELF); } catch { return false; }
}

if (isMain()) {
  runInLab(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => { process.stderr.write(`${(err as Error).message}\n`); process.exit(1); },
  );
}
