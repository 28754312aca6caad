// Why: `corral run -- CMD…` puts one command into a fresh sandbox as one tool call, passes
// its stdio through, exits with its exit code, and then says what was blocked and why.
// When a `corral serve` daemon listens, the call goes there (warm sensor and netns pool: tens
// of milliseconds instead of the ~2 s a fresh eBPF sensor needs); otherwise it runs here.
import { isStepLabel, stepFromLabels } from '../session/call-labels.js';
import { parseArgs } from 'node:util';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants } from 'node:os';
import { alertJson, renderAlertSummaries, UsageError, type AlertJson, type CliIO } from './io.js';
import { makeStyle, safeText } from './style.js';
import { VISIBLE_ROOT_DIRS } from '../sandbox/bwrap-args.js';
import { parseTimerDuration } from '../policy/units.js';
import { daemonRequest, DEFAULT_SOCKET, noDaemon } from '../server/daemon-client.js';
import { setFlagsFromString } from 'node:v8';
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
  --label k=v sets run, episode, step, tool_call (and any other key, recorded with the session and echoed in --json).
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
  const { parseMountSpec, PolicyError, listPresets } = await import('../policy/index.js');
  let mounts: { host: string; path: string; mode?: string }[];
  try { mounts = (values.mount ?? []).map((m) => parseMountSpec(m, process.cwd())); } catch (e) { if (e instanceof PolicyError) throw new UsageError(e.message); throw e; }
  const cmd = argv.slice(sep + 1);
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label expects k=v, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  if (labels.step !== undefined && !isStepLabel(labels.step)) throw new UsageError(`--label step=N expects a whole number, got "${labels.step}"`);
  if (values.socket && values['no-daemon']) throw new UsageError('--socket and --no-daemon contradict each other');
  const inside = policyInsideWorkspace(values.policy, values.workspace, listPresets());
  if (inside) io.stderr.write(`corral run: warning: the policy file ${safeText(inside)} is inside the workspace this sandbox can write; a tool call could rewrite the policy of the next run (keep policies outside it)\n`);
  const shown = workspaceSeenByAll(values.workspace);
  if (shown) io.stderr.write(`corral run: warning: the workspace ${safeText(shown)} lies under a directory every sandbox sees read-only: other sandboxes on this host can read its files (keep workspaces outside /${VISIBLE_ROOT_DIRS.join(', /')})\n`);
  const local = values['no-daemon'] || values.home !== undefined || values['no-sensor'] || io.env.CORRAL_NO_DAEMON === '1';
  let summary: RunSummary | undefined;
  if (!local) summary = await viaDaemon(values.socket ?? io.env.CORRAL_SOCKET ?? DEFAULT_SOCKET, values.socket !== undefined, cmd, { ...values, mounts }, labels);
  summary ??= await runLocally(cmd, { ...values, mounts }, labels);
  if (Object.keys(labels).length) summary = { ...summary, labels };
  if (values.json) {
    io.stderr.write(`${JSON.stringify(summary)}\n`);
  } else {
    const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
    if (summary.alerts.length) io.stderr.write(`\n${st.bold(`corral: ${summary.alerts.length} violation(s) in session ${summary.session}`)}\n${renderAlertSummaries(summary.alerts, io)}\n`);
    const why = summary.capture && captureIncompleteText(summary.capture);
    if (why) io.stderr.write(`${st.yellow(`corral: capture incomplete in session ${summary.session}: ${why}`)}\n`);
  }
  return summary.exit_code ?? 128;
}

interface RunValues { policy?: string; allow?: string[]; timeout?: string; home?: string; 'no-sensor'?: boolean; workspace?: string; root?: string; 'workspace-path'?: string; 'root-writable'?: boolean; mounts: { host: string; path: string; mode?: string }[] }

/** The call through a warm daemon; undefined when none listens (and none was named explicitly). */
async function viaDaemon(socket: string, explicit: boolean, cmd: string[], v: RunValues, labels: Record<string, string>): Promise<RunSummary | undefined> {
  // A policy file is named by its absolute path: the daemon does not share this working directory.
  const policy = v.policy !== undefined && (/\.ya?ml$/i.test(v.policy) || existsSync(v.policy)) ? resolve(v.policy) : v.policy;
  const timeout_ms = v.timeout === undefined ? undefined : parseTimeout(v.timeout);
  let answer;
  try {
    answer = await daemonRequest(socket, 'POST', '/v1/run', { argv: cmd, policy, allow: v.allow, labels, timeout_ms, stdio: 'borrow', workspace: v.workspace === undefined ? undefined : resolve(v.workspace), ...(v.root === undefined ? {} : { root: resolve(v.root) }), ...(v['workspace-path'] === undefined ? {} : { workspace_path: v['workspace-path'] }), ...(v['root-writable'] ? { root_writable: true } : {}), ...(v.mounts.length ? { mounts: v.mounts } : {}) });
  } catch (e) {
    if (!explicit && noDaemon(e)) return undefined;
    throw new Error(`corral daemon at ${socket}: ${(e as Error).message}`);
  }
  if (answer.status === 200) return answer.json as unknown as RunSummary;
  const err = (answer.json.error ?? {}) as { kind?: string; message?: string };
  if (err.kind === 'policy') throw new UsageError(`invalid policy: ${err.message}`);
  if (answer.status === 400) throw new UsageError(err.message ?? 'bad request');
  throw new Error(`corral daemon at ${socket} answered ${answer.status}: ${err.message ?? ''}`);
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
function policyInsideWorkspace(policy: string | undefined, workspace: string | undefined, presets: string[]): string | undefined {
  if (policy === undefined || workspace === undefined) return undefined;
  if (!policy.includes('/') && !/\.ya?ml$/i.test(policy) && presets.includes(policy)) return undefined; // a preset
  try {
    const file = realpathSync(policy);
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
  const [{ Runtime: RuntimeClass }, { resolvePolicy, withExtraAllows, withExtraMounts }] = await Promise.all([import('../session/runtime.js'), import('../policy/index.js')]);
  let policy = resolvePolicy(v.policy);
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
