// Why: `corral run -- CMD…` puts one command into a fresh sandbox as one tool call, passes
// its stdio through, exits with its exit code, and then says what was blocked and why.
// When a `corral serve` daemon listens, the call goes there (warm sensor and netns pool: tens
// of milliseconds instead of the ~2 s a fresh eBPF sensor needs); otherwise it runs here.
import { DAEMON_LABELS, isStepLabel, labelNameProblem, labelValueProblem, LABELS_MAX, stepFromLabels } from '../session/call-labels.js';
import { parseArgs } from 'node:util';
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants } from 'node:os';
import { randomBytes } from 'node:crypto';
import { alertJson, renderAlertSummaries, UsageError, type AlertJson, type CliIO } from './io.js';
import { makeStyle, safeText } from './style.js';
import { VISIBLE_ROOT_DIRS } from '../sandbox/bwrap-args.js';
import { parseTimerDuration } from '../policy/units.js';
import { DaemonError, daemonFailure, daemonRequest, DEFAULT_SOCKET, noDaemon, socketPathProblem } from '../server/daemon-client.js';
import { argvProblem } from '../server/argv-limits.js';
import { setFlagsFromString } from 'node:v8';
import { policySource, type PolicySource } from '../policy/source.js';
import type { Runtime } from '../session/runtime.js';
import type { Session } from '../session/session.js';
import { captureIncompleteText, type CaptureStatus } from '../session/capture-loss.js';
import { verdictOf, type Verdict } from '../report/session-report.js';
import { shellJoin } from '../util/shell-join.js';

export const RUN_USAGE = `Usage: corral run [--policy P] [--allow HOST]… [--label k=v]… [--timeout DUR] [--workspace DIR] [--mount HOST:PATH]… [--root DIR [--root-writable]] [--workspace-path PATH] [--json] [--home DIR] [--no-sensor] [--socket PATH | --no-daemon] -- CMD ARGS…
  Runs CMD (no shell) as one tool call in a fresh sandbox. stdin/stdout/stderr pass through and
  corral exits with CMD's exit code. A summary of violations follows on stderr; with --json the
  summary is one JSON object on the last line of stderr. --workspace DIR (e.g. .) runs CMD in that
  host directory as /workspace: the agent's uid sees DIR's owner's files as its own (an idmapped
  mount; nothing on the host is chowned) — the way to run a coding agent's commands on its project.
  --allow HOST opens one destination for this run: a domain, *.wildcard, IP or CIDR, optionally :PORT
  (default ports 80 and 443): registry.test, api.test:8443, 198.51.100.0/24:443, [2001:db8::1]:443. It
  never opens the host itself, loopback, link-local or metadata addresses, and protocol checks still
  apply (SSH or Stratum to an allowed address stays cut): both are for a policy file (--policy).
  --label k=v sets run, episode, step, tool_call (and any other key, recorded with the session and echoed in --json;
  at most 32, a name of 1-64 characters, a value of at most 256; run, episode and tool_call not empty).
  --timeout DUR sets this call's wall-clock limit ('500ms', '30s', '5m'), instead of the policy's
  resources.timeout (it may be longer: the one running corral chooses the policy too).
  --mount HOST:PATH shows a host file or directory read-only at PATH (a dataset, a model cache).
  --root DIR runs CMD in an image's root filesystem (a host directory, e.g. an exported container:
  docker export C | tar -x -C DIR) shown read-only as / instead of the host's; --root-writable makes it
  this run's own copy-on-write layer (the image never changes). --workspace-path PATH
  shows the workspace at PATH (default /workspace), e.g. /testbed for an SWE-style image.
  If a \`corral serve\` daemon listens on --socket (default $CORRAL_SOCKET, else ${DEFAULT_SOCKET}),
  the call runs there; --no-daemon (or --home, --no-sensor, or CORRAL_NO_DAEMON=1) runs it in this
  process. --no-sensor runs without the eBPF sensor (no exec/connect records; the gateway still enforces).`;

interface RunSummary {
  session: string; exit_code: number | null; duration_ms: number; timed_out: boolean;
  verdict: Verdict; alerts: AlertJson[];
  /** Whether the kernel capture was whole (no records lost, no sensor gap): a clean verdict with complete: false is a blind one. */
  capture?: CaptureStatus;
  sensor: string; via: 'daemon' | 'local';
  /** The --label values the call was recorded with (run, episode, step, tool_call and any other). */
  labels?: Record<string, string>;
}

export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const sep = argv.indexOf('--');
  const opts = sep < 0 ? argv : argv.slice(0, sep);
  if (opts.includes('--help') || opts.includes('-h')) { io.stdout.write(`${RUN_USAGE}\n`); return 0; }
  if (sep < 0 || sep === argv.length - 1) throw new UsageError(`missing command after --\n${RUN_USAGE}`);
  const { values } = parseArgs({
    args: argv.slice(0, sep), strict: true, allowPositionals: false,
    options: {
      policy: { type: 'string' }, allow: { type: 'string', multiple: true }, label: { type: 'string', multiple: true },
      json: { type: 'boolean' }, home: { type: 'string' }, timeout: { type: 'string' }, 'no-sensor': { type: 'boolean' },
      socket: { type: 'string' }, 'no-daemon': { type: 'boolean' }, workspace: { type: 'string' }, mount: { type: 'string', multiple: true }, root: { type: 'string' }, 'workspace-path': { type: 'string' }, 'root-writable': { type: 'boolean' },
    },
  });
  let mounts: { host: string; path: string; mode?: string }[] = [];
  if (values.mount?.length) {
    // (the policy layer's parser and schema only when asked for: ≈ 45 ms of imports a call through the daemon skips)
    const { parseMountSpec, PolicyError } = await import('../policy/index.js');
    try { mounts = values.mount.map((m) => parseMountSpec(m, process.cwd())); } catch (e) { if (e instanceof PolicyError) throw new UsageError(e.message); throw e; }
  }
  const cmd = argv.slice(sep + 1);
  // (the same limit whichever path runs it: what execve takes, not what the daemon's API happens to)
  const tooLarge = argvProblem(cmd);
  if (tooLarge) throw new UsageError(`the command cannot be run: ${tooLarge}`);
  const labels = parseLabels(values.label ?? []);
  const workspaceNot = workspaceNotDirectory(values.workspace);
  if (workspaceNot) throw new UsageError(`--workspace ${safeText(workspaceNot)} is not a directory`);
  if (values.socket && values['no-daemon']) throw new UsageError('--socket and --no-daemon contradict each other');
  // --policy by resolvePolicy's one rule, local and through the daemon alike (a preset's name is the preset,
  // never a same-named file here); a file by its absolute path: the daemon does not share this directory
  const named = values.policy === undefined || values.policy === '' ? undefined : policySource(values.policy);
  const source: PolicySource | undefined = named && 'file' in named ? { file: resolve(named.file) } : named;
  const inside = policyInsideWorkspace(source, values.workspace);
  if (inside) io.stderr.write(`corral run: warning: the policy file ${safeText(inside)} is inside the workspace this sandbox can write; a tool call could rewrite the policy of the next run (keep policies outside it)\n`);
  const shown = workspaceSeenByAll(values.workspace);
  if (shown) io.stderr.write(`corral run: warning: the workspace ${safeText(shown)} lies under a directory every sandbox sees read-only: other sandboxes on this host can read its files (keep workspaces outside /${VISIBLE_ROOT_DIRS.join(', /')})\n`);
  const local = values['no-daemon'] || values.home !== undefined || values['no-sensor'] || io.env.CORRAL_NO_DAEMON === '1';
  let summary: RunSummary | undefined;
  if (!local) {
    const socket = values.socket ?? io.env.CORRAL_SOCKET ?? DEFAULT_SOCKET;
    // (the kernel would cut a longer path short and connect to whatever the shorter name is)
    const badSocket = socketPathProblem(socket);
    if (badSocket) throw new DaemonError('socket', `--socket: ${badSocket}`, 2);
    summary = await viaDaemon(socket, values.socket !== undefined, cmd, { ...values, mounts, policySource: source }, labels, io.env);
  }
  summary ??= await runLocally(cmd, { ...values, mounts, policySource: source }, labels);
  if (Object.keys(labels).length) summary = { ...summary, labels };
  if (values.json) {
    // One JSON object on a line of its own, also after a command whose stderr did not end with a newline.
    io.stderr.write(`${stderrEndsLine(io.stderr) ? '' : '\n'}${JSON.stringify(summary)}\n`);
  } else {
    const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
    if (summary.alerts.length) io.stderr.write(`\n${st.bold(`corral: ${summary.alerts.length} violation(s) in session ${summary.session}`)}\n${renderAlertSummaries(summary.alerts, io)}\n`);
    // (a run without the kernel sensor says so too, as replay and report do: its verdict rests on the gateway, limits and the screen)
    const why = summary.capture && captureIncompleteText(summary.capture, true);
    if (why) io.stderr.write(`${st.yellow(`corral: capture incomplete in session ${summary.session}: ${why}`)}\n`);
  }
  return summary.exit_code ?? 128;
}

interface RunValues { policySource?: PolicySource; policy?: string; allow?: string[]; timeout?: string; home?: string; 'no-sensor'?: boolean; workspace?: string; root?: string; 'workspace-path'?: string; 'root-writable'?: boolean; mounts: { host: string; path: string; mode?: string }[] }

/** The signals that end `corral run` with a summary (the call is stopped first), as a shell's 128+N. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The call through a warm daemon; undefined when none listens (and none was named explicitly). */
async function viaDaemon(socket: string, explicit: boolean, cmd: string[], v: RunValues, labels: Record<string, string>, env: NodeJS.ProcessEnv): Promise<RunSummary | undefined> {
  // A policy file is named by its absolute path (the daemon does not share this working
  // directory); a preset by its name — decided here exactly as a local run decides.
  const policy = v.policySource === undefined ? undefined : 'file' in v.policySource ? v.policySource.file : v.policySource.preset;
  const timeout_ms = v.timeout === undefined ? undefined : parseTimeout(v.timeout);
  const cancel_token = randomBytes(16).toString('hex');
  // Ctrl-C or a kill of corral stops the call in the daemon (POST /v1/run/cancel, repeated until the
  // run answers: it may still be setting up) and the run's answer, alerts so far included, is the summary.
  let interrupted: NodeJS.Signals | undefined;
  let answered = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = sig;
    void (async () => {
      for (let i = 0; i < 100 && !answered; i++) {
        try { await daemonRequest(socket, 'POST', '/v1/run/cancel', { cancel_token, signal: sig }); } catch { /* the run's own request says what happened */ }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  let answer;
  try {
    answer = await daemonRequest(socket, 'POST', '/v1/run', {
      argv: cmd, policy, allow: v.allow, labels, timeout_ms, stdio: 'borrow', env: callerEnv(env), cancel_token,
      workspace: v.workspace === undefined ? undefined : resolve(v.workspace), ...(v.root === undefined ? {} : { root: resolve(v.root) }), ...(v['workspace-path'] === undefined ? {} : { workspace_path: v['workspace-path'] }), ...(v['root-writable'] ? { root_writable: true } : {}), ...(v.mounts.length ? { mounts: v.mounts } : {}),
    });
  } catch (e) {
    if (!explicit && !interrupted && noDaemon(e)) return undefined;
    throw daemonFailure(socket, e);
  } finally {
    answered = true;
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
  if (answer.status === 200) {
    const summary = answer.json as unknown as RunSummary;
    return interrupted ? { ...summary, exit_code: 128 + constants.signals[interrupted] } : summary;
  }
  const err = (answer.json.error ?? {}) as { kind?: string; message?: string };
  const message = err.message ?? `the daemon answered ${answer.status}`;
  // The same kinds and messages as a local run: main.ts classes these by name.
  if (err.kind === 'policy') throw Object.assign(new Error(message), { name: 'PolicyError' });
  if (err.kind === 'setup') throw Object.assign(new Error(message), { name: 'SessionSetupError' });
  if (answer.status === 400 || answer.status === 413) throw new UsageError(message);
  if (answer.status === 503) throw new DaemonError('unavailable', `the corral daemon at ${socket} cannot take the call now: ${message}`, 125);
  throw new DaemonError('daemon', `the corral daemon at ${socket} answered ${answer.status}: ${message}`, 125);
}

/** The caller's environment for the daemon (it keeps only the policy's env_allow variables), within the API's bounds. */
function callerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, val] of Object.entries(env)) {
    if (val === undefined || k.length > 4096 || k.includes('=') || k.includes('\0') || Buffer.byteLength(val) > 131071) continue;
    if (++n > 16384) break;
    out[k] = val;
  }
  return out;
}

/**
 * Whether what was last written to this stderr ended a line, as far as can be told: only a regular
 * file can be read back (its last byte); a pipe or terminal cannot, so it is taken as not.
 */
function stderrEndsLine(stderr: CliIO['stderr']): boolean {
  const fd = (stderr as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return true; // (not a descriptor: a test's stream, written only by Corral)
  let rfd: number | undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return false;
    if (st.size === 0) return true;
    rfd = openSync(`/proc/self/fd/${fd}`, 'r');
    const b = Buffer.alloc(1);
    return readSync(rfd, b, 0, 1, st.size - 1) === 1 && b[0] === 0x0a;
  } catch { return false; } finally { if (rfd !== undefined) closeSync(rfd); }
}


/**
 * The --label k=v options as labels (a null-prototype object: a name is never a property one already
 * has), each checked as the daemon checks them, before any sandbox starts: a bad one is a usage error.
 */
function parseLabels(given: string[]): Record<string, string> {
  const labels = Object.create(null) as Record<string, string>;
  for (const l of given) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label expects k=v, got "${safeText(l)}"`);
    const [k, v] = [l.slice(0, i), l.slice(i + 1)];
    const why = labelNameProblem(k) ?? labelValueProblem(k, v) ?? reservedLabelProblem(k);
    if (why) throw new UsageError(`--label ${safeText(k.slice(0, 80))}=…: ${why}`);
    labels[k] = v;
  }
  if (Object.keys(labels).length > LABELS_MAX) throw new UsageError(`--label: at most ${LABELS_MAX} labels`);
  if (labels.step !== undefined && !isStepLabel(labels.step)) throw new UsageError(`--label step=N expects a whole number, got "${safeText(labels.step.slice(0, 40))}"`);
  return labels;
}

/** Why a label name is Corral's own to set (the client's pid and uid, from the kernel), or undefined. */
function reservedLabelProblem(name: string): string | undefined {
  return (DAEMON_LABELS as readonly string[]).includes(name) ? `${name} is set by Corral from the kernel (who ran the call), never by --label` : undefined;
}

/** The workspace's path when it names something that exists and is not a directory (a file given by mistake), else undefined. */
function workspaceNotDirectory(workspace: string | undefined): string | undefined {
  if (workspace === undefined) return undefined;
  try { return statSync(workspace).isDirectory() ? undefined : resolve(workspace); } catch { return undefined; } // (missing: created under the session's own checks)
}

/** The workspace's real path when it lies under a directory shown (read-only) in every sandbox, else undefined. */
function workspaceSeenByAll(workspace: string | undefined): string | undefined {
  if (workspace === undefined) return undefined;
  try {
    const ws = realpathSync(workspace);
    return VISIBLE_ROOT_DIRS.some((d) => ws.startsWith(`/${d}/`)) ? ws : undefined;
  } catch { return undefined; } // (a workspace that does not exist yet: created under the session's own checks)
}

/** The policy file's real path when it lies inside the (writable) host workspace, else undefined. */
function policyInsideWorkspace(policy: PolicySource | undefined, workspace: string | undefined): string | undefined {
  if (policy === undefined || workspace === undefined || !('file' in policy)) return undefined;
  try {
    const file = realpathSync(policy.file);
    if (!statSync(file).isFile()) return undefined;
    const ws = realpathSync(workspace);
    return file.startsWith(`${ws}/`) ? file : undefined;
  } catch { return undefined; } // (a preset name, or a path that does not exist: resolvePolicy says so)
}

function parseTimeout(text: string): number {
  const d = parseTimerDuration(text);
  if (!d.ok) throw new UsageError(`--timeout: ${d.error}`);
  return d.value;
}

async function runLocally(cmd: string[], v: RunValues, labels: Record<string, string>): Promise<RunSummary> {
  setFlagsFromString('--liftoff-only');
  const [{ Runtime: RuntimeClass }, { loadPolicyFile, loadPreset, withExtraAllows, withExtraMounts }] = await Promise.all([import('../session/runtime.js'), import('../policy/index.js')]);
  const src = v.policySource;
  let policy = src === undefined ? loadPreset('default') : 'file' in src ? loadPolicyFile(src.file) : loadPreset(src.preset);
  if (v.allow?.length) policy = withExtraAllows(policy, v.allow);
  policy = withExtraMounts(policy, v.mounts);
  const timeoutMs = v.timeout === undefined ? undefined : parseTimeout(v.timeout);
  // Ctrl-C or a kill of corral itself ends the call (its cgroup is killed) and still tears the
  // sandbox down and reports, instead of leaving it for the next start's orphan cleanup.
  let interrupted: NodeJS.Signals | undefined;
  let session: Session | undefined;
  const onSignal = (sig: NodeJS.Signals): void => { interrupted ??= sig; session?.cancelRunning(sig); };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  let rt: Runtime | undefined;
  try {
    rt = await RuntimeClass.start({ home: v.home, sensor: v['no-sensor'] ? false : 'auto', poolSize: 0 });
    if (!interrupted) session = await rt.createSession({ policy, run: labels.run, episode: labels.episode, labels, workspace: v.workspace === undefined ? undefined : resolve(v.workspace), root: v.root === undefined ? undefined : resolve(v.root), workspacePath: v['workspace-path'], rootWritable: v['root-writable'] });
    const r = session && !interrupted ? await session.exec({ command: shellJoin(cmd), argv: cmd, stdio: 'inherit', step: stepFromLabels(labels), toolCallId: labels.tool_call, timeoutMs }) : undefined;
    const closed = session ? await session.close() : undefined;
    const alerts = closed?.alerts ?? [];
    const signalCode = interrupted ? 128 + constants.signals[interrupted] : undefined;
    return {
      session: session?.id ?? '', exit_code: signalCode ?? r?.exitCode ?? null, duration_ms: Math.round(r?.durationMs ?? 0), timed_out: r?.timedOut ?? false,
      verdict: verdictOf(alerts), alerts: alerts.map(alertJson), ...(closed ? { capture: closed.capture } : {}), sensor: rt.sensorState, via: 'local',
    };
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    await rt?.close();
  }
}
