// Why: `corral replay` re-runs recorded agent trajectories, each episode in a fresh
// sandbox, and reports per tool call which alerts it caused, including alerts raised later
// by processes it left running. Evaluation tools depend on its output and exit codes:
//   stdout (--json): one line per tool call once its episode finished, then {"summary":…}
//   exit 0: no alerts · 3: at least one alert · 1: an episode failed, or a call could not be run for a
//   reason of Corral's own (never screened nor observed: no clean 0) · anything else: Corral failed.
// Processes an episode leaves running get a short linger before its sandbox closes (replay-linger.ts).
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { Runtime } from '../session/runtime.js';
import type { Session } from '../session/session.js';
import { fileCallProblem } from '../session/file-tools.js';
import type { CaptureStatus } from '../session/capture-loss.js';
import { resolvePolicy, type Policy } from '../policy/index.js';
import { decodeLines, parseReplayInput, type Episode, type InputProblem } from '../trace/replay-input.js';
import { DEFAULT_LINGER_MS, lingerThenCount, MAX_LINGER_MS } from '../trace/replay-linger.js';
import { parseDuration } from '../policy/units.js';
import { alertJson, Progress, renderAlerts, skippedList, UsageError, writeInputProblems, type CliIO } from './io.js';
import { spoolStdin, stdinWanted, STDIN_NAME } from './stdin-input.js';
import { makeStyle, safeText } from './style.js';
import { SENSOR_RING_USAGE, sensorRuntimeOptions } from './sensor-ring-flag.js';
import type { AlertEvent } from '../events/event.js';

export const REPLAY_USAGE = `Usage: corral replay [--policy P] [--parallel N] [--json] [--strict] [--home DIR] [--no-sensor] [--sensor-ring SIZE] [--linger DUR] FILE…
  FILE: JSON lines, canonical ({"episode","step","command",...} per line) or OpenAI/Anthropic chat
  ({"episode"?, "messages":[...]} per line), possibly compressed; "-" reads standard input.
  One episode may span files; repeated steps run in file order as ID#2, ID#3. File editors' calls
  (Anthropic's text editor: create, view, str_replace, insert; Write/Edit/MultiEdit/Read, an Edit with
  replace_all; write_file/read_file) are done as file operations inside the sandbox, never run as bash
  (a MultiEdit's edits all apply or none does; --json's "problem" names the edit that did not);
  undo_edit, NotebookEdit and browsers are not replayed (counted on stderr by tool); a malformed
  editor call (a Write without file_path, an Edit whose old_string is not a string) is a bad line.
  A canonical line of a file tool: {"episode","step","tool":"str_replace_based_edit_tool","input":{…}};
  of a shell tool: {"episode","step","tool":"bash","input":{"command":…}} (text or argv; cmd; code).
  One episode is a (run, episode) pair: the same episode name in two runs is two sandboxes.
  A tool call id is a non-empty string of at most 256 characters or a whole number (as its text);
  a step a whole number ≥ 0; else the line (or, in a chat line, the call) is skipped and named.
  --linger DUR (default 2s, 0 = none, at most 60s): an episode whose processes are still running
  after its last step is given this long before its sandbox closes, so what they do is observed; those
  still running then are killed, and the call that started them says so ("left_running": N).
  --no-sensor runs without the eBPF sensor (no kernel exec/connect capture; gateway, limits and the
  command screen still record; the summary's capture is then incomplete: "sensor_off").
  ${SENSOR_RING_USAGE}
  --parallel N (1..256, decimal digits): episodes run at once. An episode with no tool call to replay gets
  no sandbox ("episodes_without_calls" in the summary). A line that is not UTF-8 is a bad line.
  Exit 0 = no alerts, 3 = alerts, 2 = nothing to replay, a usage error, or a policy that cannot be applied
  (found by the first sandbox, before any other starts; with --json stderr ends in {"error":…}), 130/143 = stopped by Ctrl-C or a
  kill (every sandbox torn down, the summary says "interrupted"), 1 = an episode failed or a tool call
  could not be run for a reason of Corral's own (its line has "error" and exit_code null), other = failure.
  --strict: exit 2 (after replaying the rest) when any input line or tool call could not be read ("bad_lines",
  "bad_calls"), whatever the alerts: a verdict on part of a trajectory is not a verdict on it.`;

export interface CallOutcome {
  /** The episode's run, when the input named one. */
  run?: string;
  episode: string; step: number; tool_call_id: string; exit_code: number | null; duration_ms: number;
  alerts: ReturnType<typeof alertJson>[];
  /** The call could not be started (e.g. a command too long for the kernel): why; its episode goes on. */
  error?: string;
  /** A file call that ran but did not apply (old text absent or repeated, which edit of a MultiEdit failed …): why, as the agent read it. */
  problem?: string;
  /** Processes this call started that were still running when its episode ended (after --linger), killed then. */
  left_running?: number;
  /** Alerts of other calls (a job runner they left running) about code this call wrote: their co_culprit is this call. */
  planted?: ReturnType<typeof alertJson>[];
}

export interface ReplayResult {
  outcomes: CallOutcome[]; alerts: AlertEvent[]; problems: InputProblem[]; failedEpisodes: { run?: string; episode: string; error: string }[]; /** Episodes that were started (all, unless stopped). */ episodesRun: number;
  /** Episodes whose kernel capture was not whole (records lost, a sensor gap): their verdict may be blind. */
  incompleteEpisodes: { episode: string; capture: CaptureStatus }[];
  /** Episodes run while no kernel sensor ran (--no-sensor, or none available): their capture is not whole either. */
  sensorOffEpisodes: number;
  /** Episodes that still had processes running when they ended (after the linger), and how many processes in all. */
  leftRunning: { episodes: number; processes: number };
  /** Episodes with no tool call to replay (only calls not replayed, or bad ones): skipped, no sandbox started. */
  emptyEpisodes: number;
}

/**
 * An error of the policy or of how this host can apply it (a mount that does not exist, a GPU grant,
 * a writable root without a root): not one episode's, since every episode gets the same policy.
 */
function isSetupError(e: unknown): boolean {
  const name = (e as Error | undefined)?.name;
  return name === 'SessionSetupError' || name === 'PolicyError';
}

/**
 * Opens episodes' sessions; the first alone, before any other starts. When the first fails with a
 * setup error, `setupError` is set and no session is opened (undefined): the replay is one setup error (exit 2),
 * as `corral run`'s is, where each episode used to fail with it (N failed episodes, exit 1).
 */
class SessionGate {
  setupError?: Error;
  private first?: Promise<unknown>;
  constructor(private rt: Runtime, private policy: Policy) {}
  async open(ep: Episode): Promise<Session | undefined> {
    if (this.first) await this.first.catch(() => {});
    if (this.setupError) return undefined;
    const p = this.rt.createSession({ policy: this.policy, run: ep.run, episode: ep.episode });
    if (this.first) return p;
    this.first = p;
    try { return await p; } catch (e) { if (!isSetupError(e)) throw e; this.setupError = e as Error; return undefined; }
  }
}

/**
 * A replay may be stopped (Ctrl-C, a reader that left): no new episode starts, running calls are
 * killed, and every session still closes, so nothing is left behind.
 */
export interface ReplayStop { stopped?: string; onStop?: () => void }

/**
 * Library form: replays episodes with a runtime the caller owns. Episodes without calls are counted
 * (emptyEpisodes), not started; a setup error of the first session (SessionSetupError, PolicyError) is
 * thrown before any other episode starts.
 */
export async function replayEpisodes(rt: Runtime, episodes: Episode[], policy: Policy, opts: { parallel?: number; onEpisode?: (ep: Episode, outcomes: CallOutcome[], alerts: AlertEvent[]) => void; onStep?: () => void; stop?: ReplayStop; /** How long an episode with processes still running may go on after its last step (default 2 s). */ lingerMs?: number } = {}): Promise<Omit<ReplayResult, 'problems'>> {
  // (an episode with no call to replay gets no sandbox: counted, never started)
  const queue = episodes.filter((e) => e.calls.length > 0);
  const emptyEpisodes = episodes.length - queue.length;
  const gate = new SessionGate(rt, policy);
  const outcomes: CallOutcome[] = [];
  const alerts: AlertEvent[] = [];
  const failedEpisodes: ReplayResult['failedEpisodes'] = [];
  const incompleteEpisodes: ReplayResult['incompleteEpisodes'] = [];
  let sensorOffEpisodes = 0;
  const leftRunning = { episodes: 0, processes: 0 };
  const lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
  const active = new Set<{ cancelRunning(why?: string): void }>();
  let episodesRun = 0;
  if (opts.stop) opts.stop.onStop = () => { for (const s of active) s.cancelRunning(opts.stop!.stopped); };
  const worker = async () => {
    for (let ep = queue.shift(); ep && !opts.stop?.stopped && !gate.setupError; ep = queue.shift()) {
      episodesRun++;
      try {
        const s = await gate.open(ep);
        if (!s) return; // (the first session's setup error: thrown below, no episode is reported)
        active.add(s);
        if (opts.stop?.stopped) s.cancelRunning(opts.stop.stopped);
        const results: { step: number; toolCallId: string; exitCode: number | null; durationMs: number; error?: string; ok?: boolean; problem?: string }[] = [];
        // Tool call ids are unique within an episode: a repeated id (two lines with one step) gets #2, #3 …,
        // or the later call's alerts would be reported on both.
        const used = new Map<string, number>();
        let left = new Map<string, number>();
        try {
          for (const c of ep.calls) {
            if (opts.stop?.stopped) break;
            const base = c.tool_call_id ?? `${ep.episode}:${c.step}`;
            const n = (used.get(base) ?? 0) + 1;
            used.set(base, n);
            const toolCallId = n === 1 ? base : `${base}#${n}`;
            // (a file call refused before it runs — a path under /proc, an empty old text — could not start, as a
            // command too long to run could not: exit 126 and its error, README's contract; it was exit null)
            const refused = c.file ? fileCallProblem({ ...c.file, step: c.step, toolCallId }) : undefined;
            if (refused !== undefined) { results.push({ step: c.step, toolCallId, exitCode: 126, durationMs: 0, error: `file call: ${refused}` }); opts.onStep?.(); continue; }
            try {
              results.push(c.file ? await s.file({ ...c.file, step: c.step, toolCallId }) : await s.exec({ command: c.command, tool: c.tool, step: c.step, toolCallId, stdio: 'pipe' }));
            } catch (e) {
              // (a call that cannot start, e.g. too long, already returns 126 from exec; this is anything else) — the episode goes on
              results.push({ step: c.step, toolCallId, exitCode: null, durationMs: 0, error: (e as Error).message });
            }
            opts.onStep?.();
          }
          // (processes the episode left running: given --linger to show what they do, then counted before the close kills them)
          if (!opts.stop?.stopped) left = await lingerThenCount(s, rt, lingerMs, () => opts.stop?.stopped !== undefined);
        } finally {
          active.delete(s);
          const { capture } = await s.close();
          // (a sensor that was off throughout is the summary's `sensor` and `capture.sensor_off`, not an episode's loss)
          if (!capture.complete && !capture.sensor_off) incompleteEpisodes.push({ episode: ep.episode, capture });
          if (capture.sensor_off) sensorOffEpisodes++;
        }
        if (left.size) { leftRunning.episodes++; for (const n of left.values()) leftRunning.processes += n; }
        const epOut: CallOutcome[] = results.map((r) => ({
          ...(ep!.run !== undefined ? { run: ep!.run } : {}),
          episode: ep!.episode, step: r.step, tool_call_id: r.toolCallId, exit_code: r.exitCode,
          duration_ms: Math.round(r.durationMs), alerts: s.alertsFor(r.toolCallId).map(alertJson), ...(r.error ? { error: r.error } : {}),
          ...(r.ok === false && r.problem ? { problem: r.problem } : {}),
          ...(left.get(r.toolCallId) ? { left_running: left.get(r.toolCallId)! } : {}),
          ...plantedBy(s.alertEvents, r.toolCallId),
        }));
        outcomes.push(...epOut);
        alerts.push(...s.alertEvents);
        opts.onEpisode?.(ep, epOut, s.alertEvents);
      } catch (e) {
        failedEpisodes.push({ ...(ep.run !== undefined ? { run: ep.run } : {}), episode: ep.episode, error: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 1) }, worker));
  if (gate.setupError) throw gate.setupError;
  return { outcomes, alerts, failedEpisodes, episodesRun, incompleteEpisodes, sensorOffEpisodes, leftRunning, emptyEpisodes };
}

/**
 * --parallel: a plain decimal whole number 1..256, nothing else. Number() took '' (as 1), '0x10'
 * (16) and '1e2' (100): a typo ran a different replay than asked instead of a usage error.
 */
function parallelOf(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 256)) throw new UsageError(`--parallel must be an integer 1..256 in plain decimal digits, got "${safeText(text)}"`);
  return n;
}

export async function replayCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { policy: { type: 'string' }, parallel: { type: 'string' }, linger: { type: 'string' }, json: { type: 'boolean' }, strict: { type: 'boolean' }, home: { type: 'string' }, 'no-sensor': { type: 'boolean' }, 'sensor-ring': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(`${REPLAY_USAGE}\n`); return 0; }
  if (!positionals.length) throw new UsageError(`no input files\n${REPLAY_USAGE}`);
  const parallel = parallelOf(values.parallel);
  let lingerMs = DEFAULT_LINGER_MS;
  if (values.linger !== undefined) {
    const d = /^\s*0+(\.0*)?\s*(ms|s|m)?\s*$/.test(values.linger) ? { ok: true as const, value: 0 } : parseDuration(values.linger);
    if (!d.ok || d.value > MAX_LINGER_MS) throw new UsageError(`--linger must be a duration from 0 to 60s (like 500ms, 2s), got "${safeText(values.linger)}"`);
    lingerMs = d.value;
  }
  const sensorOpts = sensorRuntimeOptions(values);
  const policy = resolvePolicy(values.policy);
  const { byEpisode, problems, skipped, skippedTools } = await readInputs(positionals, io);
  const episodes = [...byEpisode.values()];
  for (const ep of episodes) ep.calls.sort((a, b) => a.step - b.step);
  // (a whole line skipped, or one tool call of a chat line whose other calls are replayed)
  writeInputProblems(io, 'corral replay', problems.map((p) => ({ ...p, error: `${p.error} (${p.call ? 'tool call skipped; the line\'s other calls are read' : 'line skipped'})` })));
  const badCalls = problems.filter((p) => p.call).length;
  const badLines = new Set(problems.filter((p) => !p.call).map((p) => `${p.file}\0${p.line}`)).size;
  if (skipped) io.stderr.write(`corral replay: ${skipped} tool call(s) not replayed: ${skippedList(skippedTools)} (editor calls that are not a file operation — undo_edit, NotebookEdit — and tools that run no shell or python command: browsers, submit, other languages' code)\n`);
  const dup = episodes.map((e) => ({ e, n: e.calls.length - new Set(e.calls.map((c) => c.tool_call_id ?? c.step)).size })).filter((x) => x.n > 0);
  if (dup.length) io.stderr.write(`corral replay: ${dup.length} episode(s) repeat a step or tool call id (first: ${safeText(dup[0]!.e.episode)}); the repeats run in file order and are reported as ID#2, ID#3 …\n`);
  const total = episodes.reduce((n, e) => n + e.calls.length, 0);
  // Nothing to replay at all (a wrong, empty or binary file): a usage error, never a clean "no alerts";
  // thrown, so that with --json it ends in the {"error":…} line every failure ends in (main.ts).
  if (total === 0) throw new UsageError(`no tool call could be read from ${positionals.map((f) => safeText(f)).join(', ')}${problems.length ? ` (${problems.length} bad lines)` : ''}; expected JSON lines of tool calls or OpenAI/Anthropic-style episodes`);
  // (an episode none of whose calls is replayed — only a browser's or a submit — gets no sandbox: replayEpisodes skips it)
  const runnable = episodes.filter((e) => e.calls.length > 0).length;
  const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
  const progress = new Progress(io);
  let doneSteps = 0;
  let doneEps = 0;
  let alertCount = 0;
  const draw = (force = false) => progress.update(`corral replay: ${doneEps}/${runnable} episodes · ${doneSteps}/${total} tool calls · ${alertCount} alerts`, force);
  draw(true);
  // Ctrl-C, a kill, or a reader that left (`| head`: main turns the broken pipe into SIGTERM): stop
  // starting episodes, kill the running calls, close every session and the runtime, say so.
  const stop: ReplayStop = {};
  const onSignal = (sig: NodeJS.Signals): void => { if (stop.stopped) return; stop.stopped = sig; stop.onStop?.(); };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  const rt = await Runtime.start({ home: values.home, ...sensorOpts, poolSize: Math.min(parallel + 1, 8) });
  let res;
  try {
    res = await replayEpisodes(rt, episodes, policy, {
      parallel, stop, lingerMs,
      onStep: () => { doneSteps++; draw(); },
      onEpisode: (_ep, outs, alerts) => {
        doneEps++;
        alertCount += alerts.length;
        if (values.json) for (const o of outs) io.stdout.write(`${JSON.stringify(o)}\n`);
        // (throttled like every update — one line per 2 s in a log, not one per episode — but the last is always shown)
        draw(doneEps === runnable);
      },
    });
  } finally {
    progress.done();
    await rt.close();
    for (const sig of signals) process.off(sig, onSignal);
  }
  const byCategory: Record<string, number> = {};
  for (const a of res.alerts) byCategory[a.payload.category] = (byCategory[a.payload.category] ?? 0) + 1;
  const summary = {
    episodes: episodes.length, tool_calls: res.outcomes.length, alerts: res.alerts.length, by_category: byCategory,
    failed_episodes: res.failedEpisodes, episodes_without_calls: res.emptyEpisodes, bad_lines: badLines, bad_calls: badCalls, not_replayed: skipped,
    calls_not_run: res.outcomes.filter((o) => o.error !== undefined).length,
    left_running: res.leftRunning, sensor: rt.sensorState,
    // (records lost are runtime-wide: the runtime's total, and every episode open at the time is named;
    // without a kernel sensor no exec or connect was captured: not complete either, as `corral report` says)
    capture: {
      complete: res.incompleteEpisodes.length === 0 && res.sensorOffEpisodes === 0, records_lost: rt.sensorLost, incomplete_episodes: res.incompleteEpisodes.map((e) => e.episode),
      ...(res.sensorOffEpisodes ? { sensor_off: true } : {}),
    },
    ...(stop.stopped ? { interrupted: stop.stopped, episodes_not_run: runnable - res.episodesRun, tool_calls_not_run: total - res.outcomes.length } : {}),
  };
  if (values.json) io.stdout.write(`${JSON.stringify({ summary })}\n`);
  else {
    io.stdout.write(`${st.bold('corral replay')}: ${episodes.length} episodes, ${res.outcomes.length} tool calls, ${res.alerts.length} alerts${res.emptyEpisodes ? ` (${res.emptyEpisodes} episode(s) with no tool call to replay: no sandbox started)` : ''}\n`);
    for (const [c, n] of Object.entries(byCategory)) io.stdout.write(`  ${c}: ${n}\n`);
    if (res.alerts.length) io.stdout.write(`${renderAlerts(res.alerts, io, io.stdout)}\n`);
    for (const f of res.failedEpisodes) io.stdout.write(st.red(`  episode ${safeText(f.episode)}${f.run !== undefined ? ` (run ${safeText(f.run)})` : ''} failed: ${safeText(f.error)}\n`));
    if (res.sensorOffEpisodes) io.stdout.write(st.yellow(`  capture incomplete: no kernel sensor ran (${safeText(rt.sensorState)}): processes and connections were not captured by the kernel; the verdict rests on the gateway, limits and the command screen\n`));
    const left = res.outcomes.filter((o) => o.left_running);
    for (const o of left.slice(0, 20)) io.stdout.write(st.yellow(`  episode ${safeText(o.episode)} step ${o.step} (${safeText(o.tool_call_id)}) left ${o.left_running} process(es) running at the end of its episode (after ${lingerMs} ms): killed, what they would have done next was not observed\n`));
    if (left.length > 20) io.stdout.write(st.yellow(`  … and ${left.length - 20} more tool calls that left processes running\n`));
    if (res.incompleteEpisodes.length) io.stdout.write(st.yellow(`  capture incomplete: ${rt.sensorLost} kernel records lost; ${res.incompleteEpisodes.length} episode(s) may be missing processes or connections (${res.incompleteEpisodes.slice(0, 5).map((e) => safeText(e.episode)).join(', ')}${res.incompleteEpisodes.length > 5 ? ', …' : ''}): their verdict is not proof of a clean run\n`));
    // (a call refused before it ran — a file call's bad path, say — is in --json's "error"; people see it too)
    const notRun = res.outcomes.filter((o) => o.error !== undefined);
    for (const o of notRun.slice(0, 20)) io.stdout.write(st.yellow(`  episode ${safeText(o.episode)} step ${o.step} (${safeText(o.tool_call_id)}) did not run: ${safeText(o.error!)}\n`));
    if (notRun.length > 20) io.stdout.write(st.yellow(`  … and ${notRun.length - 20} more tool calls that did not run\n`));
    // (a file call that ran but did not apply — a MultiEdit whose edit 2 of 3 found no old text — left its file as it was)
    const notApplied = res.outcomes.filter((o) => o.problem !== undefined);
    for (const o of notApplied.slice(0, 20)) io.stdout.write(st.yellow(`  episode ${safeText(o.episode)} step ${o.step} (${safeText(o.tool_call_id)}) did not apply: ${safeText(o.problem!)}\n`));
    if (notApplied.length > 20) io.stdout.write(st.yellow(`  … and ${notApplied.length - 20} more file calls that did not apply\n`));
  }
  if (stop.stopped) {
    io.stderr.write(`corral replay: stopped by ${stop.stopped} after ${res.episodesRun} of ${runnable} episodes had started (${res.outcomes.length} of ${total} tool calls ran; the rest never did); every sandbox was torn down\n`);
    return 128 + (constants.signals[stop.stopped as keyof typeof constants.signals] ?? 15);
  }
  if (res.failedEpisodes.length) return 1;
  if (values.strict && (badLines || badCalls)) {
    io.stderr.write(`corral replay: --strict: ${badLines} line(s) and ${badCalls} tool call(s) of the input could not be read (exit 2; the rest was replayed)\n`);
    return 2;
  }
  if (res.alerts.length) return 3;
  // (a call that could not run for a reason of Corral's own — not a refusal with exit 126 — was never screened
  // or observed: the episode's clean verdict would be a lie)
  return res.outcomes.some((o) => o.exit_code === null && o.error !== undefined) ? 1 : 0;
}

interface ReadInputs { byEpisode: Map<string, Episode>; problems: InputProblem[]; skipped: number; skippedTools: Record<string, number> }

/** Every input file read into one map: an episode spread over files is one episode, in one sandbox. */
async function readInputs(files: string[], io: CliIO): Promise<ReadInputs> {
  const got: ReadInputs = { byEpisode: new Map(), problems: [], skipped: 0, skippedTools: {} };
  // "-" is standard input (once), spooled like corral investigate's so a compressed pipe reads too.
  const stdin = io.stdin ?? process.stdin;
  const piped = stdinWanted(files, stdin);
  for (const f of files) {
    const bytes = f === STDIN_NAME && piped ? await readSpooledStdin(stdin) : await readBytesUntilBreak(f);
    readOneInput(f, bytes, got);
  }
  return got;
}

async function readSpooledStdin(stdin: NodeJS.ReadableStream): Promise<{ bytes: Buffer; broke?: string }> {
  const spooled = await spoolStdin(stdin, () => {});
  try { return await readBytesUntilBreak(spooled.path); } finally { spooled.cleanup(); }
}

/**
 * One file's lines into `into`. A truncated or corrupt compressed file: the whole lines decoded before
 * the break are replayed, the break is a bad line of that file, and the other files are still replayed.
 * A line that is not UTF-8 is a bad line (decodeLines); the file's bad lines are reported in line order.
 */
function readOneInput(f: string, got: { bytes: Buffer; broke?: string }, into: ReadInputs): void {
  let bytes = got.bytes;
  let partial = false;
  if (got.broke !== undefined) { const cut = bytes.lastIndexOf(0x0a) + 1; partial = cut < bytes.length; bytes = bytes.subarray(0, cut); }
  const { text, problems: notUtf8 } = decodeLines(bytes, f);
  const r = parseReplayInput(text, f, into.byEpisode);
  into.problems.push(...[...notUtf8, ...r.problems].sort((a, b) => a.line - b.line));
  if (got.broke !== undefined) {
    const line = text.split('\n').length;
    into.problems.push({ file: f, line, error: `${got.broke}${partial ? ` (the incomplete line ${line} is not read)` : ''}; the lines before it are replayed` });
  }
  into.skipped += r.skipped;
  for (const [k, n] of Object.entries(r.skippedTools)) into.skippedTools[k] = (into.skippedTools[k] ?? 0) + n;
}

/**
 * A file's bytes, decompressed when compressed; a break in a compressed file (truncated, corrupt)
 * ends the bytes where it broke and says why, so what came before is still replayed. A file that
 * cannot be opened at all is a usage error, as before. (Decoded line by line: decodeLines.)
 */
async function readBytesUntilBreak(path: string): Promise<{ bytes: Buffer; broke?: string }> {
  const { openContent } = await import('../investigate/inputs/source.js');
  const parts: Buffer[] = [];
  try {
    for await (const c of openContent(path, { chunkBytes: 1 << 20 }).chunks) parts.push(c);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== undefined && parts.length === 0) throw new UsageError(`cannot read ${safeText(path)}: ${safeText(err.message)}`);
    return { bytes: Buffer.concat(parts), broke: err.message };
  }
  return { bytes: Buffer.concat(parts) };
}

/** The alerts whose co-culprit is this call (it wrote the code another call's process ran); nothing when none. */
function plantedBy(alerts: AlertEvent[], toolCallId: string): { planted?: ReturnType<typeof alertJson>[] } {
  const mine = alerts.filter((a) => a.payload.co_culprit?.tool_call === toolCallId || a.payload.co_culprit?.also?.some((w) => w.tool_call === toolCallId));
  return mine.length ? { planted: mine.map(alertJson) } : {};
}
