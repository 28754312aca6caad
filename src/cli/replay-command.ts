// Why: `corral replay` re-runs recorded agent trajectories, each episode in a fresh
// sandbox, and reports per tool call which alerts it caused, including alerts raised later
// by processes it left running. Evaluation tools depend on its output and exit codes:
//   stdout (--json): one line per tool call once its episode finished, then {"summary":…}
//   exit 0: no alerts · 3: at least one alert · anything else: Corral failed.
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { Runtime } from '../session/runtime.js';
import { fileCallProblem } from '../session/file-tools.js';
import type { CaptureStatus } from '../session/capture-loss.js';
import { resolvePolicy, type Policy } from '../policy/index.js';
import { parseReplayInput, type Episode, type InputProblem } from '../trace/replay-input.js';
import { alertJson, Progress, readTextFile, renderAlerts, skippedList, UsageError, writeInputProblems, type CliIO } from './io.js';
import { spoolStdin, stdinWanted, STDIN_NAME } from './stdin-input.js';
import { makeStyle, safeText } from './style.js';
import { SENSOR_RING_USAGE, sensorRuntimeOptions } from './sensor-ring-flag.js';
import type { AlertEvent } from '../events/event.js';

export const REPLAY_USAGE = `Usage: corral replay [--policy P] [--parallel N] [--json] [--home DIR] [--no-sensor] [--sensor-ring SIZE] FILE…
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
  --no-sensor runs without the eBPF sensor (no kernel exec/connect capture; gateway, limits and the
  command screen still record).
  ${SENSOR_RING_USAGE}
  Exit 0 = no alerts, 3 = alerts, 2 = nothing to replay or a usage error, 130/143 = stopped by Ctrl-C or a
  kill (every sandbox torn down, the summary says "interrupted"), other = failure.`;

export interface CallOutcome {
  episode: string; step: number; tool_call_id: string; exit_code: number | null; duration_ms: number;
  alerts: ReturnType<typeof alertJson>[];
  /** The call could not be started (e.g. a command too long for the kernel): why; its episode goes on. */
  error?: string;
  /** A file call that ran but did not apply (old text absent or repeated, which edit of a MultiEdit failed …): why, as the agent read it. */
  problem?: string;
}

export interface ReplayResult {
  outcomes: CallOutcome[]; alerts: AlertEvent[]; problems: InputProblem[]; failedEpisodes: { episode: string; error: string }[]; /** Episodes that were started (all, unless stopped). */ episodesRun: number;
  /** Episodes whose kernel capture was not whole (records lost, a sensor gap): their verdict may be blind. */
  incompleteEpisodes: { episode: string; capture: CaptureStatus }[];
}

/** Library form: replays episodes with a runtime the caller owns. */
/**
 * A replay may be stopped (Ctrl-C, a reader that left): no new episode starts, running calls are
 * killed, and every session still closes, so nothing is left behind.
 */
export interface ReplayStop { stopped?: string; onStop?: () => void }

export async function replayEpisodes(rt: Runtime, episodes: Episode[], policy: Policy, opts: { parallel?: number; onEpisode?: (ep: Episode, outcomes: CallOutcome[], alerts: AlertEvent[]) => void; onStep?: () => void; stop?: ReplayStop } = {}): Promise<Omit<ReplayResult, 'problems'>> {
  const queue = [...episodes];
  const outcomes: CallOutcome[] = [];
  const alerts: AlertEvent[] = [];
  const failedEpisodes: { episode: string; error: string }[] = [];
  const incompleteEpisodes: ReplayResult['incompleteEpisodes'] = [];
  const active = new Set<{ cancelRunning(why?: string): void }>();
  let episodesRun = 0;
  if (opts.stop) opts.stop.onStop = () => { for (const s of active) s.cancelRunning(opts.stop!.stopped); };
  const worker = async () => {
    for (let ep = queue.shift(); ep && !opts.stop?.stopped; ep = queue.shift()) {
      episodesRun++;
      try {
        const s = await rt.createSession({ policy, run: ep.run, episode: ep.episode });
        active.add(s);
        if (opts.stop?.stopped) s.cancelRunning(opts.stop.stopped);
        const results: { step: number; toolCallId: string; exitCode: number | null; durationMs: number; error?: string; ok?: boolean; problem?: string }[] = [];
        // Tool call ids are unique within an episode: a repeated id (two lines with one step) gets #2, #3 …,
        // or the later call's alerts would be reported on both.
        const used = new Map<string, number>();
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
        } finally {
          active.delete(s);
          const { capture } = await s.close();
          // (a sensor that was off throughout is the summary's `sensor`, not an episode's loss)
          if (capture.records_lost || capture.sensor_gaps || capture.unsynced) incompleteEpisodes.push({ episode: ep.episode, capture });
        }
        const epOut = results.map((r) => ({
          episode: ep!.episode, step: r.step, tool_call_id: r.toolCallId, exit_code: r.exitCode,
          duration_ms: Math.round(r.durationMs), alerts: s.alertsFor(r.toolCallId).map(alertJson), ...(r.error ? { error: r.error } : {}),
          ...(r.ok === false && r.problem ? { problem: r.problem } : {}),
        }));
        outcomes.push(...epOut);
        alerts.push(...s.alertEvents);
        opts.onEpisode?.(ep, epOut, s.alertEvents);
      } catch (e) {
        failedEpisodes.push({ episode: ep.episode, error: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 1) }, worker));
  return { outcomes, alerts, failedEpisodes, episodesRun, incompleteEpisodes };
}

export async function replayCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { policy: { type: 'string' }, parallel: { type: 'string' }, json: { type: 'boolean' }, home: { type: 'string' }, 'no-sensor': { type: 'boolean' }, 'sensor-ring': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(`${REPLAY_USAGE}\n`); return 0; }
  if (!positionals.length) throw new UsageError(`no input files\n${REPLAY_USAGE}`);
  const parallel = values.parallel ? Number(values.parallel) : 1;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256) throw new UsageError(`--parallel must be an integer 1..256, got "${values.parallel}"`);
  const sensorOpts = sensorRuntimeOptions(values);
  const policy = resolvePolicy(values.policy);
  // One map for all files: an episode spread over files is one episode, in one sandbox.
  const byEpisode = new Map<string, Episode>();
  const problems: InputProblem[] = [];
  let skipped = 0;
  const skippedTools: Record<string, number> = {};
  // "-" is standard input (once), spooled like corral investigate's so a compressed pipe reads too.
  const stdin = io.stdin ?? process.stdin;
  const piped = stdinWanted(positionals, stdin);
  for (const f of positionals) {
    let text: string;
    if (f === STDIN_NAME && piped) {
      const spooled = await spoolStdin(stdin, () => {});
      try { text = await readTextFile(spooled.path); } finally { spooled.cleanup(); }
    } else {
      try { text = await readTextFile(f); } catch (e) { throw new UsageError(`cannot read ${f}: ${(e as Error).message}`); }
    }
    const r = parseReplayInput(text, f, byEpisode);
    problems.push(...r.problems);
    skipped += r.skipped;
    for (const [k, n] of Object.entries(r.skippedTools)) skippedTools[k] = (skippedTools[k] ?? 0) + n;
  }
  const episodes = [...byEpisode.values()];
  for (const ep of episodes) ep.calls.sort((a, b) => a.step - b.step);
  writeInputProblems(io, 'corral replay', problems, ' (line skipped)');
  if (skipped) io.stderr.write(`corral replay: ${skipped} tool call(s) not replayed: ${skippedList(skippedTools)} (editor calls that are not a file operation — undo_edit, NotebookEdit — and tools that run no command)\n`);
  const dup = episodes.map((e) => ({ e, n: e.calls.length - new Set(e.calls.map((c) => c.tool_call_id ?? c.step)).size })).filter((x) => x.n > 0);
  if (dup.length) io.stderr.write(`corral replay: ${dup.length} episode(s) repeat a step or tool call id (first: ${safeText(dup[0]!.e.episode)}); the repeats run in file order and are reported as ID#2, ID#3 …\n`);
  const total = episodes.reduce((n, e) => n + e.calls.length, 0);
  // Nothing to replay at all (a wrong, empty or binary file): a usage error, never a clean "no alerts".
  if (total === 0) {
    io.stderr.write(`corral replay: no tool call could be read from ${positionals.map((f) => safeText(f)).join(', ')}${problems.length ? ` (${problems.length} bad lines)` : ''}; expected JSON lines of tool calls or OpenAI/Anthropic-style episodes\n`);
    return 2;
  }
  const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
  const progress = new Progress(io);
  let doneSteps = 0;
  let doneEps = 0;
  let alertCount = 0;
  const draw = (force = false) => progress.update(`corral replay: ${doneEps}/${episodes.length} episodes · ${doneSteps}/${total} tool calls · ${alertCount} alerts`, force);
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
      parallel, stop,
      onStep: () => { doneSteps++; draw(); },
      onEpisode: (_ep, outs, alerts) => {
        doneEps++;
        alertCount += alerts.length;
        if (values.json) for (const o of outs) io.stdout.write(`${JSON.stringify(o)}\n`);
        // (throttled like every update — one line per 2 s in a log, not one per episode — but the last is always shown)
        draw(doneEps === episodes.length);
      },
    });
  } finally {
    await rt.close();
    for (const sig of signals) process.off(sig, onSignal);
  }
  progress.done();
  const byCategory: Record<string, number> = {};
  for (const a of res.alerts) byCategory[a.payload.category] = (byCategory[a.payload.category] ?? 0) + 1;
  const summary = {
    episodes: episodes.length, tool_calls: res.outcomes.length, alerts: res.alerts.length, by_category: byCategory,
    failed_episodes: res.failedEpisodes, bad_lines: problems.length, sensor: rt.sensorState,
    // (records lost are runtime-wide: the runtime's total, and every episode open at the time is named)
    capture: { complete: res.incompleteEpisodes.length === 0, records_lost: rt.sensorLost, incomplete_episodes: res.incompleteEpisodes.map((e) => e.episode) },
    ...(stop.stopped ? { interrupted: stop.stopped, episodes_not_run: episodes.length - res.episodesRun } : {}),
  };
  if (values.json) io.stdout.write(`${JSON.stringify({ summary })}\n`);
  else {
    io.stdout.write(`${st.bold('corral replay')}: ${episodes.length} episodes, ${res.outcomes.length} tool calls, ${res.alerts.length} alerts\n`);
    for (const [c, n] of Object.entries(byCategory)) io.stdout.write(`  ${c}: ${n}\n`);
    if (res.alerts.length) io.stdout.write(`${renderAlerts(res.alerts, io, io.stdout)}\n`);
    for (const f of res.failedEpisodes) io.stdout.write(st.red(`  episode ${safeText(f.episode)} failed: ${safeText(f.error)}\n`));
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
    io.stderr.write(`corral replay: stopped by ${stop.stopped} after ${res.episodesRun} of ${episodes.length} episodes; every sandbox was torn down\n`);
    return 128 + (constants.signals[stop.stopped as keyof typeof constants.signals] ?? 15);
  }
  if (res.failedEpisodes.length) return 1;
  return res.alerts.length ? 3 : 0;
}
