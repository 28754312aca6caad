// Why: the Claude Code PreToolUse hook sees every tool call its matcher lets through, but only some
// tools can do what Corral screens for. Threat it stops: an agent doing through Write/Edit/MultiEdit/
// NotebookEdit (persistence, parked scripts) or WebFetch (metadata, internal services, pools) what
// the Bash screen would deny. This routes a call to its screen: Bash → the command screen, a file
// tool → the path and content screens, WebFetch → the URL screen. Other tools are not screened
// (undefined: the caller answers "no opinion"). A malformed input is an "ask" naming the problem.
import type { CommandChecker } from '../detect/check.js';
import { fetchLists, screenFetchUrl } from './fetch-url-screen.js';
import { fileToolNamed, readFileToolInput } from './file-tool-input.js';
import { screenFileWrite } from './file-write-screen.js';
import { hookDecision, shown, type HookAnswer } from './hook-decision.js';

/** Tool names the hook screens (the matcher docs/check.md recommends lists the same). */
export const SCREENED_TOOLS = ['Bash', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'WebFetch'] as const;

export interface ToolCallContext {
  /** Builds the checker on first need (an unscreened tool does not pay for the grammar and rules). */
  checker: () => Promise<CommandChecker>;
  /** Answer "allow" rather than no opinion when nothing is found (--hook-allow). */
  allowClean: boolean;
  /** Absolute home directory (`~`), and the working directory used when the payload has no absolute cwd. */
  home: string;
  cwd: string;
}

const review = (problem: string): HookAnswer => ({ decision: 'ask', reason: `corral: ${shown(problem)}; please review this call yourself.` });

/**
 * Screens one tool call of a PreToolUse payload (tool_name, tool_input, cwd as received).
 * Returns undefined for a tool Corral does not screen.
 */
export async function screenToolCall(tool: string, input: unknown, cwd: unknown, ctx: ToolCallContext): Promise<HookAnswer | undefined> {
  const name = tool.toLowerCase();
  const fields = typeof input === 'object' && input !== null && !Array.isArray(input) ? input as Record<string, unknown> : undefined;
  if (name === 'bash') {
    const command = fields && typeof fields.command === 'string' ? fields.command : undefined;
    if (command === undefined) return { decision: 'ask', reason: 'corral: the Bash tool call has no command string; please review it yourself.' };
    return hookDecision([{ result: (await ctx.checker()).check(command) }], { allowClean: ctx.allowClean });
  }
  if (name === 'webfetch') {
    if (!fields || typeof fields.url !== 'string') return review('the WebFetch call has no url string');
    const checker = await ctx.checker();
    const r = screenFetchUrl(fields.url, fetchLists(checker.rules));
    if ('problem' in r) return review(r.problem);
    const result = { verdict: checker.verdict(r.findings), findings: r.findings, parseErrors: [], unwrapped: [], durationUs: 0 };
    return hookDecision([{ result }], { subject: shown(`WebFetch ${fields.url}`), allowClean: ctx.allowClean });
  }
  const fileTool = fileToolNamed(name);
  if (fileTool === undefined) return undefined;
  const call = readFileToolInput(fileTool, input);
  if ('problem' in call) return review(call.problem);
  const dir = typeof cwd === 'string' && cwd.startsWith('/') ? cwd : ctx.cwd;
  return screenFileWrite(call, await ctx.checker(), { cwd: dir, home: ctx.home, allowClean: ctx.allowClean });
}
