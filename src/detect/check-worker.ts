// Why: one thread of the CheckPool (check-pool.ts). Screening is CPU-bound and the parser is
// single-threaded, so batch screening (`corral check --stdin/--jsonl`, replay files, datasets of
// trajectories) runs one CommandChecker per worker thread. Threat it stops: the same as check.ts;
// this file only moves commands in and results out, in order, and never changes an answer.
import { parentPort, workerData } from 'node:worker_threads';
import type { RuleSource } from './engine/api.js';
import type { Policy } from './check.js';

export interface WorkerInit { extraRules: RuleSource[]; policy: Policy; cacheSize?: number }
export interface WorkerBatch { id: number; items: { command: string; tool: 'bash' | 'python' }[] }

const port = parentPort;
if (!port) throw new Error('check-worker.js runs only as a worker thread');
const init = workerData as WorkerInit;
try {
  const { CommandChecker } = await import('./check.js');
  const checker = CommandChecker.create({ extraRules: init.extraRules, policy: init.policy, cacheSize: init.cacheSize });
  port.on('message', (b: WorkerBatch) => {
    const results = b.items.map((it) => checker.check(it.command, { tool: it.tool }));
    port.postMessage({ type: 'results', id: b.id, results });
  });
  port.postMessage({ type: 'ready', caching: checker.caching });
} catch (e) {
  port.postMessage({ type: 'error', message: (e as Error).message });
}
