// Why: the store's public surface in one import for the rest of Corral (CLI, server, reports).
export { EventStore, FLUSH_EVENTS, FLUSH_MS, type EventQuery, type EventStoreOptions, type SessionSummary, type StoreStats } from './event-store.js';
export { EventReader } from './event-reader.js';
export { rebuildIndex, type ReindexResult } from './reindex.js';
export { StoreError, type StoreErrorKind } from './store-error.js';
export { resolveHome, sessionLogPath, indexPath, isSafeSessionName, DEFAULT_HOME } from './home.js';
export { summarizeEvent } from './summary.js';
