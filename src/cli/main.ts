#!/usr/bin/env node
// Why: the `corral` command: a thin dispatcher over the library. Exit codes: 0 ok,
// 2 usage error (also a sandbox that cannot be set up as asked, an invalid policy or rule file, a
// socket `corral serve` cannot take), 125 Corral failed (run; also its daemon unreachable or full), 1/3 per command
// (see each usage text). With --json a failure's last stderr line is {"error":{"kind","message"}}.
// Commands are imported when chosen: `corral run` through a daemon and the `corral check` hook
// must not pay for loading the sandbox runtime, the rule engine or investigate.
import { readFileSync } from 'node:fs';
import { processIO, UsageError, type CliIO } from './io.js';
import { safeText } from './style.js';

const USAGE = `Usage: corral <command> [options]
Commands:
  run       run one command as one tool call in a fresh sandbox (through \`corral serve\` when it runs)
  serve     keep a warm Corral and serve its API on a Unix socket (fast \`corral run\`, sessions over HTTP)
  replay    re-run recorded agent trajectories in sandboxes
  demo      build a lab and replay a rogue episode (safe: nothing leaves the machine)
  events    query recorded events (this machine's store, or the fleet's with --postgres)
  collect   gather the fleet's events from NATS JetStream into PostgreSQL
  dashboard a live web page of this machine's sandboxes (from a running corral serve)
  report    explain recorded sessions: timeline, blame per tool call, verdict (--html, --json)
  check     screen commands before they run (allow 0 / warn 1 / deny 2; --hook claude-code)
  investigate  tie existing firewall logs to agent traces offline (HTML report, --json)
  doctor    check prerequisites
Every command accepts --json; colour follows NO_COLOR. \`corral help COMMAND\` or \`corral COMMAND --help\` for one command;
\`corral --version\`.`;

/** This package's version (package.json, two levels above dist/src/cli). */
function packageVersion(): string {
  try { return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown'; } catch { return 'unknown'; }
}

/**
 * Commands that report some failures by their exit code rather than by throwing: which codes are
 * failures (the rest are verdicts or success) and their kind in the JSON error object.
 */
const RETURNED_FAILURES: Record<string, Record<number, string>> = {
  events: { 1: 'failure', 2: 'usage' }, report: { 1: 'failure', 2: 'usage' },
  investigate: { 1: 'failure', 2: 'usage' }, check: { 64: 'usage', 65: 'input' },
  collect: { 1: 'failure', 2: 'usage' }, dashboard: { 2: 'usage' },
};

/**
 * With --json, a failure a command returned (not threw) still ends stderr with the JSON error
 * object, built from the command's last message: the stderr stream is watched, not replaced.
 */
async function withJsonFailure(cmd: string, rest: string[], io: CliIO, run: (io: CliIO) => Promise<number>): Promise<number> {
  const codes = RETURNED_FAILURES[cmd];
  if (!codes || !rest.includes('--json')) return run(io);
  let last = '';
  const real = io.stderr;
  const watched = Object.create(real) as CliIO['stderr'];
  watched.write = ((chunk: unknown, ...more: unknown[]) => {
    if (typeof chunk === 'string' && chunk.trim() !== '') last = chunk;
    return (real.write as (...a: unknown[]) => boolean)(chunk, ...more);
  }) as CliIO['stderr']['write'];
  const code = await run({ ...io, stderr: watched });
  const kind = codes[code];
  if (kind !== undefined && !last.trimStart().startsWith('{')) real.write(`${JSON.stringify({ error: { kind, message: errorMessage(cmd, last) } })}\n`);
  return code;
}

/** The message of an error text: its first line, without the `corral CMD:` prefix or a usage text after it. */
function errorMessage(cmd: string, text: string): string {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return first.replace(new RegExp(`^corral( ${cmd})?: `), '').trim();
}

/**
 * A failure's text for people, each line through safeText: it quotes what others wrote (a policy's keys
 * and values, a path, a daemon's message), and an escape sequence there must not reach the terminal.
 */
function terminalLines(text: string): string {
  return text.split('\n').map(safeText).join('\n');
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && RETURNED_FAILURES[cmd]) return withJsonFailure(cmd, rest, io, (watched) => dispatch(cmd, rest, watched));
  return dispatch(cmd, rest, io);
}

async function dispatch(cmd: string | undefined, rest: string[], io: CliIO): Promise<number> {
  try {
    switch (cmd) {
      case 'run': return await (await import('./run-command.js')).runCommand(rest, io);
      case 'serve': return await (await import('./serve-command.js')).serveCommand(rest, io);
      case 'replay': return await (await import('./replay-command.js')).replayCommand(rest, io);
      case 'demo': return await (await import('./demo-command.js')).demoCommand(rest, io);
      case 'events': return await (await import('./events-command.js')).eventsCommand(rest, io);
      case 'collect': return await (await import('./collect-command.js')).collectCommand(rest, io);
      case 'dashboard': return await (await import('./dashboard-command.js')).dashboardCommand(rest, io);
      case 'report': return await (await import('./report-command.js')).reportCommand(rest, io);
      case 'doctor': return await (await import('./doctor-command.js')).doctorCommand(rest, io);
      case 'check': return await (await import('./check-command.js')).checkCommandCli(rest, io);
      case 'investigate': return await (await import('./investigate-command.js')).investigateCommand(rest, io);
      case '--version': case '-V': case 'version':
        io.stdout.write(`corral ${packageVersion()}\n`); return 0;
      case 'help':
        // `corral help check` is `corral check --help`
        if (rest[0] !== undefined && rest[0] !== 'help' && !rest[0].startsWith('-')) return await main([rest[0], '--help'], io);
        io.stdout.write(`${USAGE}\n`); return 0;
      case '-h': case '--help':
        io.stdout.write(`${USAGE}\n`); return 0;
      case undefined:
        io.stderr.write(`${USAGE}\n`); return 2;
      default:
        io.stderr.write(`corral: unknown command "${cmd}"\n${USAGE}\n`); return 2;
    }
  } catch (e) {
    // With --json (before a run's "--"), the last line of stderr is also one JSON object, as on success.
    const json = (cmd === 'run' ? rest.slice(0, rest.indexOf('--') < 0 ? rest.length : rest.indexOf('--')) : rest).includes('--json');
    const fail = (kind: string, text: string, code: number): number => {
      io.stderr.write(`${terminalLines(text)}\n`);
      // (a usage text after the message is for people: the JSON message ends before it)
      if (json) io.stderr.write(`${JSON.stringify({ error: { kind, message: String((e as Error).message ?? e).split(/\nUsage:/)[0] } })}\n`);
      return code;
    };
    if (e instanceof UsageError || String((e as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS')) return fail('usage', `corral ${cmd}: ${(e as Error).message}`, 2);
    const { PolicyError } = await import('../policy/errors.js');
    // (a PolicyError by name: the daemon's answer to `corral run` for a policy it could not load)
    if (e instanceof PolicyError || (e as Error).name === 'PolicyError') return fail('policy', `corral: invalid policy: ${(e as Error).message}`, 2);
    // The daemon could not be reached, went away mid-call, or is full (server/daemon-client.ts): one line, its own kind and exit code.
    if ((e as Error).name === 'DaemonError') { const de = e as Error & { kind: string; exitCode: number }; return fail(de.kind, `corral ${cmd}: ${de.message}`, de.exitCode); }
    // A socket path `corral serve` cannot take (not a socket, too long, a live daemon's): the operator's to fix.
    if ((e as Error).name === 'DaemonSocketError') return fail('socket', `corral ${cmd}: ${(e as Error).message}`, 2);
    // A webhook URL that is not http(s) (a library caller of CorralDaemon.start; the CLI checks it as a usage error).
    if ((e as Error).name === 'WebhookUrlError') return fail('usage', `corral ${cmd}: ${(e as Error).message}`, 2);
    // A sandbox that cannot be set up as asked (a mount or workspace that does not exist or is hidden): the asker's to fix.
    if ((e as Error).name === 'SessionSetupError') return fail('setup', `corral ${cmd}: ${(e as Error).message}`, 2);
    // A rule file that does not load (a user's rules, or a bad edit): its message names file and field; no stack.
    if ((e as Error).name === 'RuleError') return fail('rules', `corral ${cmd}: invalid rules: ${(e as Error).message}`, 2);
    // A store Corral cannot record into (damaged index, index lost next to its logs, read-only,
    // not root's to read): its message names the file and the repair; a Corral failure, no stack.
    if ((e as Error).name === 'StoreError') return fail('store', `corral ${cmd}: ${(e as Error).message}`, 125);
    return fail('internal', `corral ${cmd}: ${(e as Error).stack ?? e}`, 125);
  }
}

/**
 * `corral events --json | head`: the reader left. Stop quietly (exit 0) as Unix tools do, not with
 * a stack trace; a command with its own SIGTERM teardown (run, collect, dashboard, --follow) goes
 * through it, so no sandbox is left behind.
 */
function quietOnBrokenPipe(): { gone: boolean } {
  const reader = { gone: false };
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (reader.gone) return;
      reader.gone = true;
      if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM'); else process.exit(0);
    });
  }
  return reader;
}

const reader = quietOnBrokenPipe();
// (a command that tore down on the reader's leaving still ends 0, as without a teardown)
main(process.argv.slice(2)).then((code) => { process.exitCode = reader.gone ? 0 : code; });
