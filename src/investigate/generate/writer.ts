// Why: the simulator writes multi-GB files (10 M tool calls); one write() per line would be
// slow, and streams with backpressure complicate a synchronous simulation. This buffers lines
// and writes ~1 MiB at a time synchronously, counting lines so ground truth can cite file:line.
import { closeSync, openSync, utimesSync, writeSync } from 'node:fs';

export class LineWriter {
  private parts: string[] = [];
  private size = 0;
  private readonly fd: number;
  /** Lines written so far (the next line written gets number lines + 1). */
  lines = 0;
  bytes = 0;

  constructor(readonly path: string) { this.fd = openSync(path, 'w', 0o644); }

  /** Writes one line (a newline is appended); returns its 1-based line number. */
  line(s: string): number {
    this.parts.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 20) this.flush();
    return ++this.lines;
  }

  /** Text written at close without a newline (a deliberately torn last line); counts as a line. */
  tail(s: string): number { this.tailText = s; return this.lines + 1; }
  private tailText?: string;

  flush(): void {
    if (this.parts.length === 0) return;
    this.parts.push('');
    this.bytes += writeSync(this.fd, this.parts.join('\n'));
    this.parts = [];
    this.size = 0;
  }

  /** Flushes, closes, and sets the file's mtime (a log's mtime is its last write: syslog year guesses rely on it). */
  close(mtimeMs?: number): void {
    this.flush();
    if (this.tailText !== undefined) { this.bytes += writeSync(this.fd, this.tailText); this.lines++; }
    closeSync(this.fd);
    if (mtimeMs !== undefined) utimesSync(this.path, new Date(mtimeMs), new Date(mtimeMs));
  }
}
