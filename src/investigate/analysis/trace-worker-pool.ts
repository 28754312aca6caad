// Why: a trace worker takes ≈ 0.1 s of a core to boot (a new isolate, Node's own bootstrap, the
// readers' modules). Booted when the log pass frees a core — while the main thread builds the
// alert table and that core would otherwise idle — that time is off the critical path; the
// workers then wait for their input (trace-worker.ts). Workers the trace pass does not take are
// terminated by close(), which the caller must reach (a booted worker keeps the process alive).
import { Worker } from 'node:worker_threads';

export class TraceWorkerPool {
  private readonly idle: Worker[] = [];
  private booted = false;

  /** n: how many workers boot() starts (0: none; the trace pass then starts its own, if any). */
  constructor(private readonly n: number) {}

  /** Starts the workers (the first call only). */
  boot(): void {
    if (this.booted) return;
    this.booted = true;
    for (let i = 0; i < this.n; i++) {
      const w = new Worker(new URL('./trace-worker.js', import.meta.url), { workerData: { corralTraceWorker: true } });
      // A worker that failed or ended while waiting is left out (its events are gone by the time someone
      // would take it); the trace pass starts a new one in its place, which reports any failure.
      const drop = (): void => { const i = this.idle.indexOf(w); if (i >= 0) this.idle.splice(i, 1); };
      w.on('error', drop);
      w.once('exit', drop);
      this.idle.push(w);
    }
  }

  /** A booting (or booted) worker waiting for its input, or undefined when none is left. */
  take(): Worker | undefined { return this.idle.shift(); }

  /** Terminates the workers nobody took. */
  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((w) => w.terminate()));
  }
}
