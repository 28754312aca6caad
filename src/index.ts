// Why: Corral's library entry point for programmatic use (trainers, evaluation harnesses).
export { Runtime, type RuntimeOptions } from './session/runtime.js';
export { Session, type SessionOptions, type ToolCallSpec, type ToolCallResult } from './session/session.js';
export { loadPreset, loadPolicyFile, parsePolicy, resolvePolicy, withExtraAllows, compilePolicy, PolicyError, type Policy } from './policy/index.js';
export { EventStore, type EventQuery } from './store/index.js';
export { parseReplayInput, type Episode, type ToolCallLine } from './trace/replay-input.js';
export { replayEpisodes } from './cli/replay-command.js';
export * from './events/event.js';
