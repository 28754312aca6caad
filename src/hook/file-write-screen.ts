// Why: screens one Claude Code file-writing call (Write, Edit, MultiEdit, NotebookEdit) before it
// runs. Threat it stops: persistence and sandbox tampering planted through a file tool (the path
// screen: the write judged by the command rules as `tee PATH`), and hostile code parked in a file
// for later (the content screen: shell and Python text run through the Bash screen's analyser).
// Both screens' findings become one decision through the same mapping as a Bash call.
import type { CheckResult, CommandChecker } from '../detect/check.js';
import { writeRecord } from '../detect/write-record.js';
import type { FileToolCall } from './file-tool-input.js';
import { hookDecision, shown, type HookAnswer, type ScreenPart } from './hook-decision.js';
import { resolveToolPath } from './tool-path.js';
import { codeUnits } from './written-content.js';

/** The rule whose finding marks a shell startup file (its content is then shell). */
const SHELL_STARTUP_RULE = 'cmd_persistence_rc_write';

/**
 * The PreToolUse answer for a file-writing call. `cwd` resolves relative paths (the payload's cwd),
 * `home` expands `~`; both absolute.
 */
export function screenFileWrite(call: FileToolCall, checker: CommandChecker, o: { cwd: string; home: string; allowClean: boolean }): HookAnswer {
  let path;
  try {
    path = resolveToolPath(call.path, o);
  } catch (e) {
    return { decision: 'ask', reason: `corral: the ${call.tool} call's path ${shown(JSON.stringify(call.path))} cannot be screened (${(e as Error).message}); please review this call yourself.` };
  }
  const where: CheckResult = checker.checkRecords([writeRecord(call.tool, path.abs, path.tilde)]);
  const parts: ScreenPart[] = [{ result: where }];
  if (!(call.tool === 'NotebookEdit' && call.cellType === 'markdown')) {
    const shellStartup = where.findings.some((f) => f.rule === SHELL_STARTUP_RULE);
    for (const u of codeUnits(path.abs, call.texts, { notebook: call.tool === 'NotebookEdit', shellStartup })) {
      parts.push({ label: u.label, result: checker.check(u.text, { tool: u.tool }) });
    }
  }
  return hookDecision(parts, { subject: shown(`${call.tool} ${path.abs}`), allowClean: o.allowClean });
}
