// Why: Corral's library entry point for programmatic use (trainers, evaluation harnesses).
export { Runtime, type RuntimeOptions } from './session/runtime.js';
export { Session, type SessionOptions, type ToolCallSpec, type ToolCallResult, type SessionCloseResult, toolCallSpecProblem } from './session/session.js';
export { type CaptureStatus } from './session/capture-loss.js';
export { SessionBusyError, type RunningCall } from './session/session-busy-error.js';
export { type FileCallSpec, type FileCallResult, type FileOperation, type TextEdit, fileCallProblem } from './session/file-tools.js';
export {
  loadPreset, loadPolicyFile, parsePolicy, resolvePolicy, listPresets, withExtraAllows, withExtraMounts, compilePolicy, PolicyError, type Policy,
  type CompiledPolicy, type Decision, classifyAddress, type AddressClass, localHostAddresses, parseResolver, parseSize, parseDuration,
} from './policy/index.js';
export { EventStore, EventReader, StoreError, rebuildIndex, type EventQuery, type ReindexResult } from './store/index.js';
export { parseReplayInput, type Episode, type ToolCallLine } from './trace/replay-input.js';
export { replayEpisodes } from './cli/replay-command.js';
export * from './events/event.js';
