// Why: Corral's library entry point for programmatic use (trainers, evaluation harnesses).
export { Runtime, type RuntimeOptions, type RuntimeEvents } from './session/runtime.js';
export { Session, SessionSetupError, type SessionOptions, type ToolCallSpec, type ToolCallResult, type SessionCloseResult, toolCallSpecProblem } from './session/session.js';
export { type Verdict, verdictOf } from './events/verdict.js';
export { buildSessionReport, type SessionReport, type ReportCall, type ReportAlert } from './report/session-report.js';
export { alertJson, type AlertJson } from './events/alert-json.js';
export { type CgroupStats } from './sandbox/cgroups.js';
export { type CheckResult, type Finding } from './detect/check.js';
export { type CaptureStatus } from './session/capture-loss.js';
export { SessionBusyError, type RunningCall } from './session/session-busy-error.js';
export { type FileCallSpec, type FileCallResult, type FileOperation, type TextEdit, fileCallProblem } from './session/file-tools.js';
export {
  checkPolicy, loadPreset, loadPolicyFile, parsePolicy, resolvePolicy, listPresets, withExtraAllows, withExtraMounts, compilePolicy, PolicyError, type Policy,
  type CompiledPolicy, type Decision, classifyAddress, type AddressClass, localHostAddresses, parseResolver, parseSize, parseDuration,
} from './policy/index.js';
export { EventStore, EventReader, StoreError, rebuildIndex, type EventQuery, type ReindexResult } from './store/index.js';
export { parseReplayInput, type Episode, type ToolCallLine } from './trace/replay-input.js';
export { replayEpisodes } from './cli/replay-command.js';
export * from './events/event.js';
