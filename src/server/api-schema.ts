// Why: the request bodies of Corral's local API (`corral serve`), validated before anything runs.
// A malformed request gets a 400 whose message names the field ("argv.0: Expected string"),
// never a half-started sandbox. Threat: a client sending huge or hostile bodies to wedge the
// daemon — sizes and counts are bounded here, and unknown fields are refused so typos show.
import { z } from 'zod';
import { hostWorkspaceProblem, workspacePathProblem } from '../sandbox/host-workspace.js';
import { checkMounts } from '../policy/index.js';
import { DAEMON_LABELS, isStepLabel, labelNameProblem, labelValueProblem, LABELS_MAX } from '../session/call-labels.js';
import { MULTI_EDIT_MAX, READ_MAX_BYTES, WRITE_MAX_BYTES } from '../session/file-tools.js';
import { ARG_MAX_CAP, ARG_STRLEN_MAX, ARGV_COUNT_MAX, argvProblem } from './argv-limits.js';

/** The largest body of a file request: a write's bytes in base64, with room for the other fields. */
export const FILE_BODY_MAX = Math.ceil(WRITE_MAX_BYTES / 3) * 4 + 64 * 1024;

const label = z.string().min(1).max(256);
/**
 * Labels the daemon sets itself from the kernel's word on who connected (SO_PEERCRED): a request
 * naming them is refused, so a recorded session's client is never what a request claimed (a run
 * whose output came back in the answer kept `client_uid: "4242"` as sent).
 */
export { DAEMON_LABELS };
/** A label's name, by the rule `corral run --label` follows too (never __proto__: zod would drop it without a word). */
const labelName = z.string().superRefine((k, ctx) => {
  const why = labelNameProblem(k);
  if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
});
const labels = z.record(labelName, z.string()).refine((r) => Object.keys(r).length <= LABELS_MAX, `at most ${LABELS_MAX} labels`).superRefine((r, ctx) => {
  for (const k of DAEMON_LABELS) if (Object.hasOwn(r, k)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${k} is set by the daemon from the kernel (who connected), never by a request`, path: [k] });
  for (const [k, v] of Object.entries(r)) {
    const why = labelValueProblem(k, v);
    if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why, path: [k] });
  }
});
/** A NUL ends an execve argument: text after one never reaches the program (`echo a\0b` ran `echo a`: a user review, session 41). */
const NO_NUL = [/^[^\0]*$/, 'contains a NUL byte, which no command can receive'] as const;
const argv = z.array(z.string().max(64 * 1024).regex(...NO_NUL)).min(1, 'argv must name a command').max(4096);
/** A run's argv: bounded by what execve takes (argv-limits.ts), as the same command run locally is — not by a smaller count. */
const runArgv = z.array(z.string().max(ARG_STRLEN_MAX)).min(1, 'argv must name a command').max(ARGV_COUNT_MAX).superRefine((a, ctx) => {
  const why = argvProblem(a);
  if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
});
/**
 * The caller's environment (`corral run` sends its own): the policy's filesystem.env_allow
 * variables are taken from it instead of the daemon's; the rest is dropped on arrival. Bounded
 * like an execve environment.
 */
const callerEnv = z.record(z.string().min(1).max(4096).regex(/^[^=\0]+$/, 'a variable name without = or NUL'), z.string().max(ARG_STRLEN_MAX))
  .refine((r) => Object.keys(r).length <= 16384, 'at most 16384 variables');
/** The body limit of POST /v1/run: the largest argv and environment execve takes, JSON-escaped. */
export const RUN_BODY_MAX = 4 * ARG_MAX_CAP + 2 * 1024 * 1024;
const policyFields = {
  /** A preset name, or an absolute path to a policy file (read by the daemon). */
  policy: z.string().min(1).max(4096).optional(),
  /** Extra allowed hosts, as `corral run --allow`. */
  allow: z.array(z.string().min(1).max(512)).max(256).optional(),
};
/** A host directory (absolute) shown to the agent as /workspace; never a system directory by a typo. */
const hostWorkspace = z.string().min(1).max(4096).superRefine((p, ctx) => {
  const why = hostWorkspaceProblem(p);
  if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
});
/** An image's root filesystem on the host (absolute; checked again, on the real path, when the session starts). */
const hostRoot = z.string().min(1).max(4096).refine((p) => p.startsWith('/') && !p.split('/').includes('..'), 'must be an absolute path without ..');
const workspacePath = z.string().max(256).superRefine((p, ctx) => {
  const why = workspacePathProblem(p);
  if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
});
const timeoutMs = z.number().int().positive().max(7 * 24 * 3600 * 1000);
/** Read-only host paths ({host, path}), checked as filesystem.mounts is (field names in the message). */
const mounts = z.array(z.unknown()).max(64).superRefine((v, ctx) => {
  const r = checkMounts(v);
  if (!r.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error, path: r.path ?? [] });
});

/** A one-call run's labels: the step label, when given, is the recorded step (a whole number). */
const runLabels = labels.superRefine((r, ctx) => {
  if (r.step !== undefined && !isStepLabel(r.step)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `step must be a whole number, got "${r.step.slice(0, 40)}"`, path: ['step'] });
});

/** POST /v1/run: one command as one tool call in a fresh sandbox (what `corral run` sends). */
export const RunRequest = z.object({
  argv: runArgv,
  ...policyFields,
  /** The caller's environment, for the policy's env_allow variables (default: the daemon's own). */
  env: callerEnv.optional(),
  /** A random token (32 hex digits) naming this run for POST /v1/run/cancel (`corral run` interrupted by a signal). */
  cancel_token: z.string().regex(/^[0-9a-f]{32}$/, 'cancel_token: 32 hex digits').optional(),
  labels: runLabels.optional(),
  timeout_ms: timeoutMs.optional(),
  /** The host directory the command works in, as /workspace (`corral run --workspace DIR`). */
  workspace: hostWorkspace.optional(),
  /** Read-only host paths (`corral run --mount HOST:PATH`), added to the policy's filesystem.mounts. */
  mounts: mounts.optional(),
  /** An image's root filesystem (host directory) shown read-only as / (`corral run --root DIR`). */
  root: hostRoot.optional(),
  /** Where the workspace appears in the sandbox (`corral run --workspace-path /testbed`). */
  workspace_path: workspacePath.optional(),
  /** The image root as a copy-on-write layer of this run (`corral run --root-writable`). */
  root_writable: z.boolean().optional(),
  /** 'borrow': the command uses the connecting process's own stdin/stdout/stderr (the kernel
   * says which process that is); 'capture': output comes back in the response. */
  stdio: z.enum(['borrow', 'capture']).default('capture'),
}).strict();

/** POST /v1/sessions: a sandbox that runs many tool calls in order (an RL episode). */
export const SessionRequest = z.object({
  ...policyFields,
  /** The caller's environment, for the policy's env_allow variables (default: the daemon's own). */
  env: callerEnv.optional(),
  run: label.optional(),
  episode: label.optional(),
  labels: labels.optional(),
  /** By default a session is closed when the process that opened it exits; true keeps it until
   * DELETE or --session-idle (for a client that hands sessions to other processes). */
  keep_after_client_exit: z.boolean().optional(),
  /** A host directory (absolute) to mount as /workspace: seed a task's files, collect its artifacts. */
  workspace: hostWorkspace.optional(),
  /** Read-only host paths added to the policy's filesystem.mounts (a dataset per episode); checked like the policy's. */
  mounts: mounts.optional(),
  /** A host directory holding an image's root filesystem, shown read-only as / (a task's own environment). */
  root: hostRoot.optional(),
  /** Where the workspace appears in the sandbox (default /workspace; /testbed for an SWE-style image). */
  workspace_path: workspacePath.optional(),
  /** The image root as this session's own copy-on-write layer (pip install into the image works; the image never changes). */
  root_writable: z.boolean().optional(),
}).strict();

/** POST /v1/run/cancel: stop the run started with this cancel_token (its client was interrupted); the run still answers. */
export const CancelRequest = z.object({
  cancel_token: z.string().regex(/^[0-9a-f]{32}$/, 'cancel_token: 32 hex digits'),
  /** The signal the client got (its name goes into the call's `cancelled`). */
  signal: z.enum(['SIGINT', 'SIGTERM', 'SIGHUP']).optional(),
}).strict();

/** POST /v1/sessions/{id}/exec: one tool call in that session; output is captured. */
export const ExecRequest = z.object({
  command: z.string().max(1024 * 1024).regex(...NO_NUL).optional(),
  argv: argv.optional(),
  tool: z.enum(['bash', 'python']).optional(),
  step: z.number().int().nonnegative().optional(),
  tool_call_id: label.optional(),
  timeout_ms: timeoutMs.optional(),
  max_output: z.number().int().positive().max(64 * 1024 * 1024).optional(),
  /** Text for the command's stdin (closed after it); without it stdin is /dev/null. */
  stdin: z.string().max(1024 * 1024).optional(),
  /** Answer as NDJSON while the call runs: output and alerts as they come, then the result (server/exec-stream.ts). */
  stream: z.boolean().optional(),
}).strict().refine((r) => r.command !== undefined || r.argv !== undefined, { message: 'give command or argv', path: ['command'] });

const fileText = z.string().max(FILE_BODY_MAX);
/** The fields that belong to some file ops only (the others: op, path, step, tool_call_id, timeout_ms). */
const OP_FIELDS: Record<string, string[]> = {
  content: ['write'], content_base64: ['write'], append: ['write'], max_bytes: ['read'], encoding: ['read'],
  old: ['str_replace'], new: ['str_replace'], replace_all: ['str_replace'], edits: ['multi_edit'], line: ['insert'], text: ['insert'],
};
/** One edit of a multi_edit: `old` becomes `new` (every occurrence with replace_all). */
const TextEdit = z.object({ old: fileText, new: fileText, replace_all: z.boolean().optional() }).strict();
/**
 * POST /v1/sessions/{id}/files: one file operation as one tool call (session/file-tools.ts). A write's
 * bytes come as `content` (text) or `content_base64`; a read answers `content` when the bytes are
 * UTF-8 (and `encoding` is not base64), else `content_base64`.
 */
export const FileRequest = z.object({
  op: z.enum(['write', 'read', 'str_replace', 'multi_edit', 'insert']),
  path: z.string().min(1).max(4096),
  content: fileText.optional(),
  // (padded to a multiple of 4: Buffer.from(…, 'base64') decodes 'abc' or 'a' without a word, so a
  // cut-off or unpadded payload was written short — 'a' as an empty file — and answered ok)
  content_base64: fileText.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64').refine((b) => b.length % 4 === 0, 'not base64: its length must be a multiple of 4 (padded with =)').optional(),
  append: z.boolean().optional(),
  old: fileText.optional(),
  new: fileText.optional(),
  replace_all: z.boolean().optional(),
  edits: z.array(TextEdit).min(1).max(MULTI_EDIT_MAX).optional(),
  line: z.number().int().nonnegative().optional(),
  text: fileText.optional(),
  max_bytes: z.number().int().nonnegative().max(READ_MAX_BYTES).optional(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  step: z.number().int().nonnegative().optional(),
  tool_call_id: label.optional(),
  timeout_ms: timeoutMs.optional(),
}).strict().superRefine((r, ctx) => {
  const need = (field: keyof typeof r, why: string): void => { if (r[field] === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why, path: [field] }); };
  if (r.op === 'write' && (r.content === undefined) === (r.content_base64 === undefined)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a write needs content or content_base64 (one of them)', path: ['content'] });
  if (r.op === 'str_replace') { need('old', 'str_replace needs old'); need('new', 'str_replace needs new'); }
  if (r.op === 'multi_edit') need('edits', 'multi_edit needs edits: [{old, new, replace_all?}, …]');
  if (r.op === 'insert') { need('line', 'insert needs line (0: before the first line)'); need('text', 'insert needs text'); }
  // A field of another op is refused, not ignored: `encoding: "base64"` on a write wrote the base64 text itself.
  for (const [field, ops] of Object.entries(OP_FIELDS)) {
    if (r[field as keyof typeof r] !== undefined && !ops.includes(r.op)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${field} is for ${ops.join(' or ')}, not ${r.op}${field === 'encoding' ? ' (a write takes bytes as content_base64)' : ''}`, path: [field] });
  }
});

export type RunRequest = z.infer<typeof RunRequest>;
export type CancelRequest = z.infer<typeof CancelRequest>;
export type SessionRequest = z.infer<typeof SessionRequest>;
export type ExecRequest = z.infer<typeof ExecRequest>;
export type FileRequest = z.infer<typeof FileRequest>;

/** Formats zod issues as "field: message; field: message" (the place, then what is wrong). */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
}
