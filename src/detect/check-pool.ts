// Why: batch screening at the speed of every core. One CommandChecker is single-threaded (the
// wasm parser is not re-entrant), so `corral check --stdin/--jsonl` and library callers with many
// commands hand batches to worker threads and get results back in input order. Repeated
// (tool, text) pairs are screened once per run when the rule set allows reuse (see check-cache.ts),
// wherever in the input they occur. Threat it stops: none by itself; it makes screening whole
// trajectory datasets cheap enough to do routinely. Answers are exactly CommandChecker's.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CheckResult } from './check.js';
import { cloneFinding } from './check-cache.js';
import type { WorkerBatch, WorkerInit } from './check-worker.js';

export interface PoolItem { command: string; tool: 'bash' | 'python' }
export interface PoolOptions extends Partial<WorkerInit> {
  /** Worker threads (default: the machine's available parallelism). */
  workers?: number;
  /** Commands per message (default 64): amortises the message cost, keeps workers evenly loaded. */
  batch?: number;
}

type Reply = { type: 'ready'; caching: boolean } | { type: 'error'; message: string } | { type: 'results'; id: number; results: CheckResult[] };

function copyResult(r: CheckResult): CheckResult {
  return { ...r, findings: r.findings.map(cloneFinding), parseErrors: r.parseErrors.slice(), unwrapped: r.unwrapped.slice() };
}

export class CheckPool {
  private constructor(private readonly workers: Worker[], readonly caching: boolean, private readonly batch: number) {}

  static async start(opts: PoolOptions = {}): Promise<CheckPool> {
    const n = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
    const init: WorkerInit = { extraRules: opts.extraRules ?? [], policy: opts.policy ?? {}, cacheSize: opts.cacheSize };
    const url = new URL('./check-worker.js', import.meta.url);
    const workers: Worker[] = [];
    try {
      const ready = await Promise.all(Array.from({ length: n }, () => new Promise<boolean>((resolve, reject) => {
        const w = new Worker(url, { workerData: init });
        workers.push(w);
        const onMsg = (m: Reply): void => {
          w.off('error', reject);
          if (m.type === 'ready') resolve(m.caching);
          else reject(new Error(m.type === 'error' ? m.message : 'check worker: unexpected first message'));
        };
        w.once('message', onMsg);
        w.once('error', reject);
      })));
      return new CheckPool(workers, ready.every(Boolean), Math.max(1, opts.batch ?? 64));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
  }

  get size(): number { return this.workers.length; }

  /**
   * Screens `items`, calling `onResult(index, result)` in input order as results become
   * available (so output can stream), and resolves with the number checked. A worker that
   * dies rejects the whole run: no result is ever made up.
   */
  run(items: PoolItem[], onResult: (index: number, r: CheckResult) => void): Promise<number> {
    // Work list: first occurrences only (when reuse is allowed); repeats point at their first.
    const firstOf = new Int32Array(items.length);
    const work: number[] = [];
    const seen = this.caching ? new Map<string, number>() : null;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const k = `${it.tool}\u0000${it.command}`;
      const f = seen?.get(k);
      if (f !== undefined) { firstOf[i] = f; continue; }
      seen?.set(k, i);
      firstOf[i] = i;
      work.push(i);
    }
    const results = new Array<CheckResult | undefined>(items.length);
    let next = 0;
    let emitted = 0;
    let batchId = 0;
    const inFlight = new Map<number, number[]>();
    return new Promise<number>((resolve, reject) => {
      let failed = false;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        this.detach();
        reject(e);
      };
      const flush = (): void => {
        while (emitted < items.length) {
          const f = firstOf[emitted]!;
          const r = results[f];
          if (r === undefined) break;
          onResult(emitted, f === emitted ? r : copyResult(r));
          emitted++;
        }
        if (emitted === items.length) {
          this.detach();
          resolve(items.length);
        }
      };
      const feed = (w: Worker): void => {
        if (next >= work.length) return;
        const idx = work.slice(next, next + this.batch);
        next += idx.length;
        const id = batchId++;
        inFlight.set(id, idx);
        const msg: WorkerBatch = { id, items: idx.map((i) => ({ command: items[i]!.command, tool: items[i]!.tool })) };
        w.postMessage(msg);
      };
      for (const w of this.workers) {
        w.on('message', (m: Reply) => {
          if (failed) return;
          if (m.type !== 'results') return fail(new Error(`check worker: ${m.type === 'error' ? m.message : 'unexpected message'}`));
          const idx = inFlight.get(m.id);
          if (!idx || idx.length !== m.results.length) return fail(new Error('check worker: results do not match the batch sent'));
          inFlight.delete(m.id);
          idx.forEach((i, j) => { results[i] = m.results[j]; });
          feed(w);
          flush();
        });
        w.on('error', (e: Error) => fail(new Error(`check worker died: ${e.message}`)));
        w.on('exit', (code) => fail(new Error(`check worker exited (code ${code}) before finishing`)));
        // two batches in flight per worker keep it busy while the main thread handles a reply
        feed(w); feed(w);
      }
      if (items.length === 0) { this.detach(); resolve(0); }
    });
  }

  private detach(): void {
    for (const w of this.workers) for (const ev of ['message', 'error', 'exit']) w.removeAllListeners(ev);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
