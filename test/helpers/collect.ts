// Why: commands under test write to injected streams; one in-memory stream that keeps what was
// written (and can claim to be a terminal, for colour and progress tests) serves every test.
import { Writable } from 'node:stream';

export class Collect extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}
