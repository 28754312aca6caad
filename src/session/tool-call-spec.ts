// Why: the tool call a caller asks a session to run (ToolCallSpec), what only Corral's own file
// tools may add (InternalCallSpec), the result it gets back (ToolCallResult), and the check of a
// library caller's spec. Split out of session.ts. Threat stopped: a harness that spreads a model's
// tool arguments into exec() — an unknown option, a prescreen verdict or a NUL in an argument is
// refused by name instead of skipping a screen or running something else than recorded.
import type { CheckResult } from '../detect/check.js';
import type { AlertEvent } from '../events/event.js';
import type { Verdict } from '../events/verdict.js';
import { MAX_TIMER_MS } from '../policy/units.js';

export interface ToolCallSpec {
  /** Shell command (bash) or Python source; with argv, only the text recorded for it (default: the argv, shell-quoted). One of the two is required. */
  command?: string;
  /** Run this argv directly, without a shell (used by `corral run`). */
  argv?: string[];
  tool?: 'bash' | 'python';
  step?: number;
  toolCallId?: string;
  /** 'pipe' captures stdout/stderr; 'inherit' passes Corral's own; three descriptors (−1 = closed) are
   * used as the call's stdin/stdout/stderr (`corral serve` passes a client's borrowed stdio). */
  stdio?: 'inherit' | 'pipe' | [number, number, number];
  /** Wall-clock limit of this call; at most the policy's resources.timeout, which is also the default. */
  timeoutMs?: number;
  /** Captured output cap per stream in pipe mode. */
  maxOutput?: number;
  /** Drain the kernel sensor before returning, so every exec/connect record of the call is stored. */
  syncSensor?: boolean;
  /** Skip pre-execution command screening for this call: the operator's switch, never a model's argument. */
  skipScreen?: boolean;
  /** Bytes for the call's stdin, which is then closed (pipe mode; without it stdin is /dev/null). */
  stdin?: string | Uint8Array;
  /** Keep stdout as bytes (`stdoutBytes`) instead of decoding it as UTF-8 text (pipe mode). */
  binaryStdout?: boolean;
  /**
   * Called with each piece of output as it is read (pipe mode, text), up to the same per-stream cap
   * as the captured output, while the call runs: a trainer or UI shows a long build live, and an
   * `exec` over the API streams it (`stream: true`). The result still carries the whole output.
   */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /**
   * Cancels this call when aborted: its processes are killed and the result has `cancelled` (the signal's
   * reason, or 'aborted'); the session goes on. A signal already aborted rejects with its reason, as fetch does.
   */
  signal?: AbortSignal;
}

/** The options of a tool call, by name: anything else in a ToolCallSpec is refused (a typo, or a model's arguments spread into it). */
const TOOL_CALL_KEYS: ReadonlySet<string> = new Set(['command', 'argv', 'tool', 'step', 'toolCallId', 'stdio', 'timeoutMs', 'maxOutput', 'syncSensor', 'skipScreen', 'stdin', 'binaryStdout', 'onOutput', 'signal']);

/**
 * What only Corral's own file tools give a call, never a library caller: a verdict judged elsewhere and an exec the
 * runtime rules leave out. On the public spec they were a way around both screens for a harness that spreads a
 * model's tool arguments into exec() (a library review, session 43); Session.exec refuses them now.
 */
export interface InternalCallSpec extends ToolCallSpec {
  /** The screen's verdict, judged by the caller on what the call really does (a file tool: its
   * path and written text), used instead of screening the command text. */
  prescreen?: CheckResult;
  /** A second verdict, judged once the call ended on what its stdout says it did (a file tool's
   * edit: the lines as they are now); its findings are alerts of the call, as observed. */
  postscreen?: (out: { stdout: string; stderr: string }) => CheckResult | undefined;
  /** What toolcall.start records besides the command: the tool's name (default `tool`) and fields. */
  record?: { tool: string; fields?: Record<string, unknown> };
  /** The argv is Corral's own constant program whose arguments are data (a file tool): its exec is
   * left out of the runtime rules, screen or not. Else, with the screen off (or its check failing),
   * a file named notes/169.254.169.254.txt raised metadata_url_exec on the file tool's own perl. */
  ownRoot?: boolean;
}

/**
 * What is wrong with a library caller's tool call, if anything. The API and the CLI validate their
 * input; a library call must too, or its events are refused by the store (a negative step) and lost
 * without a word, or `bash -c undefined` runs.
 */
export function toolCallSpecProblem(spec: ToolCallSpec, internal = false): string | undefined {
  if (typeof spec !== 'object' || spec === null) return 'expected a tool call object';
  if (!internal) {
    const unknown = Object.keys(spec).filter((k) => !TOOL_CALL_KEYS.has(k) && (spec as unknown as Record<string, unknown>)[k] !== undefined);
    if (unknown.length) return `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (a tool call takes ${[...TOOL_CALL_KEYS].join(', ')}; never spread a model's tool arguments into it)`;
  }
  const argvOk = Array.isArray(spec.argv) && spec.argv.length > 0 && spec.argv.every((a) => typeof a === 'string');
  if (spec.argv !== undefined && !argvOk) return 'argv must be a non-empty array of strings';
  if (!argvOk && typeof spec.command !== 'string') return 'command must be a string';
  // (a shell never receives a NUL — execve ends the argument there — so `echo a\0b` ran `echo a`: a user review, session 41)
  if (argvOk ? spec.argv!.some((a) => a.includes('\0')) : spec.command!.includes('\0')) return `${argvOk ? 'an argv element' : 'command'} contains a NUL character, which no program can be given in its arguments`;
  if (spec.tool !== undefined && spec.tool !== 'bash' && spec.tool !== 'python') return `tool must be 'bash' or 'python', got ${JSON.stringify(spec.tool)}`;
  if (spec.step !== undefined && !(Number.isSafeInteger(spec.step) && spec.step >= 0)) return `step must be a whole number ≥ 0, got ${String(spec.step)}`;
  if (spec.toolCallId !== undefined && (typeof spec.toolCallId !== 'string' || spec.toolCallId === '' || spec.toolCallId.length > 256)) return 'toolCallId must be a non-empty string of at most 256 characters';
  if (spec.timeoutMs !== undefined && !(Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0 && spec.timeoutMs <= MAX_TIMER_MS)) return `timeoutMs must be from 1 to ${MAX_TIMER_MS} (≈ 24.8 days), got ${String(spec.timeoutMs)}`;
  if (spec.maxOutput !== undefined && !(Number.isSafeInteger(spec.maxOutput) && spec.maxOutput >= 0)) return `maxOutput must be a whole number of bytes, got ${String(spec.maxOutput)}`;
  if (spec.stdin !== undefined && typeof spec.stdin !== 'string' && !(spec.stdin instanceof Uint8Array)) return 'stdin must be a string or bytes';
  if (spec.onOutput !== undefined && typeof spec.onOutput !== 'function') return 'onOutput must be a function';
  if (spec.signal !== undefined && !(spec.signal instanceof AbortSignal)) return 'signal must be an AbortSignal';
  return undefined;
}

export interface ToolCallResult {
  /** Set when the call could not be started at all (exit 126): why. */
  error?: string;
  /**
   * Set when Corral refused to run the call (exit 126, nothing ran): the command screen denied it under
   * `detection.on_finding: block` (`screen`), or a `response.kill` of scope session had stopped the session
   * (`stopped`). A command's own exit 126 (a script without its exec bit) has no `refused`.
   */
  refused?: { by: 'screen' | 'stopped'; reason: string };
  /** The call's verdict from its alerts so far — killed, blocked, flagged or clean — as the daemon and replay give it. */
  verdict: Verdict;
  toolCallId: string;
  step: number;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  stdout: string;
  /** stdout as bytes, when the call asked for binaryStdout (`stdout` is then empty). */
  stdoutBytes?: Buffer;
  stderr: string;
  /** Alerts attributed to this tool call so far. */
  alerts: AlertEvent[];
  /** Set when the call was stopped from outside (its client left, Corral is stopping): why. */
  cancelled?: string;
  /** Set when output went past maxOutput: what was left out of stdout / stderr (characters; bytes for binaryStdout). */
  outputTruncated?: { stdout: number; stderr: number };
  /**
   * Set when a stream's bytes were not valid UTF-8 (a binary file printed, a Latin-1 log): the text has U+FFFD in
   * their place and says nothing of the bytes; binaryStdout keeps stdout's bytes.
   */
  outputLossy?: { stdout?: true; stderr?: true };
}
