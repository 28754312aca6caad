// Why: people watching a live machine (`corral events --follow`) and tools reacting to alerts as
// they happen need Corral's events while they are produced, not after a session closes. This
// serves them as server-sent events from the daemon's runtime, filtered on the server side.
// Threat: a slow or stalled reader must not make the daemon buffer without bound (a memory
// exhaustion vector): past a high-water mark events are dropped and counted, and the reader is
// told how many it missed when it catches up.
import type http from 'node:http';
import { ALERT_CATEGORIES, EVENT_KINDS, type CorralEvent } from '../events/event.js';

export interface StreamFilter {
  session?: string; run?: string; episode?: string; step?: number; tool_call?: string;
  kinds?: Set<string>; categories?: Set<string>;
}

const HIGH_WATER = 1 << 20;
const HEARTBEAT_MS = 15_000;

/** A query a stream cannot serve as asked (a misspelled or repeated parameter, an unknown kind): said, never ignored. */
export class StreamFilterError extends Error {}

const PARAMS = new Set(['session', 'run', 'episode', 'step', 'tool_call', 'kind', 'category']);

/**
 * Reads ?session=&run=&episode=&step=&tool_call=&kind=a,b&category=c,d into a filter. A parameter it does not know, an
 * empty or repeated one, a step that is not a whole number, or a kind or category Corral never emits is a
 * StreamFilterError: a reader following its session with `?sesion=` got every session's events, and `?kind=bogus`
 * a stream that never said anything (a user review, session 41).
 */
export function streamFilter(params: URLSearchParams): StreamFilter {
  for (const k of new Set(params.keys())) {
    if (!PARAMS.has(k)) throw new StreamFilterError(`unknown query parameter '${k.slice(0, 64)}' (known: ${[...PARAMS].join(', ')})`);
    const all = params.getAll(k);
    if (all.length > 1) throw new StreamFilterError(`query parameter '${k}' is given ${all.length} times; give it once (kind and category take a comma-separated list)`);
    if (all[0]!.trim() === '') throw new StreamFilterError(`query parameter '${k}' is empty`);
  }
  const step = params.get('step');
  if (step !== null && !/^\d{1,15}$/.test(step)) throw new StreamFilterError(`step must be a whole number, got '${step.slice(0, 64)}'`);
  const set = (k: string, known: readonly string[]): Set<string> | undefined => {
    const v = params.get(k);
    if (!v) return undefined;
    const out = new Set(v.split(',').map((s) => s.trim()).filter(Boolean));
    for (const x of out) if (!known.includes(x)) throw new StreamFilterError(`unknown ${k} '${x.slice(0, 64)}' (known: ${known.join(', ')})`);
    return out;
  };
  return {
    session: params.get('session') ?? undefined, run: params.get('run') ?? undefined, episode: params.get('episode') ?? undefined,
    step: params.get('step') === null ? undefined : Number(params.get('step')),
    tool_call: params.get('tool_call') ?? undefined, kinds: set('kind', EVENT_KINDS), categories: set('category', ALERT_CATEGORIES),
  };
}

export function matches(f: StreamFilter, ev: CorralEvent): boolean {
  if (f.session !== undefined && ev.session !== f.session) return false;
  if (f.run !== undefined && ev.run !== f.run) return false;
  if (f.episode !== undefined && ev.episode !== f.episode) return false;
  if (f.step !== undefined && ev.step !== f.step) return false;
  if (f.tool_call !== undefined && ev.tool_call !== f.tool_call) return false;
  if (f.kinds && !f.kinds.has(ev.kind)) return false;
  if (f.categories && !(ev.kind === 'alert' && f.categories.has(String(ev.payload.category)))) return false;
  return true;
}

/**
 * Streams matching events to res until the client goes away. subscribe() registers a listener
 * and returns its unsubscribe function.
 */
export function serveEventStream(res: http.ServerResponse, filter: StreamFilter, subscribe: (fn: (ev: CorralEvent) => void) => () => void): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(': corral event stream\n\n');
  let dropped = 0;
  const unsubscribe = subscribe((ev) => {
    if (!matches(filter, ev) || res.destroyed) return;
    if (res.writableLength > HIGH_WATER) { dropped++; return; }
    if (dropped) { res.write(`event: dropped\ndata: ${JSON.stringify({ dropped })}\n\n`); dropped = 0; }
    res.write(`data: ${JSON.stringify(ev)}\n\n`);
  });
  const beat = setInterval(() => { if (!res.destroyed) res.write(': ping\n\n'); }, HEARTBEAT_MS);
  beat.unref();
  res.on('close', () => { clearInterval(beat); unsubscribe(); });
}
