// Why: bytes the gateway had to decode first — a compressed HTTP request body, compressed WebSocket messages — are a
// stream of their own and get the same three readings as a raw upload: pool messages as lines, pool messages as JSON
// structure (padding cannot hide them), an SSH identification line. One place for the three, so the two decoded
// paths cannot drift apart. Threat: mining JSON-RPC or SSH hidden by compression (stream-inflate.ts).
import { MiningRpcScanner, SshIdScanner } from './index.js';
import { UploadRpcScan, type RpcHit } from './mining-skeleton.js';

/** What decoded bytes showed: a pool message, an SSH identification line. */
export interface DecodedHit { rpc?: RpcHit; ssh?: string }

export class DecodedStreamScan {
  private readonly lines = new MiningRpcScanner();
  private readonly rpc = new UploadRpcScan();
  private readonly ssh = new SshIdScanner();

  /**
   * Scans the next decoded bytes. `unit`: 'message' reads each WebSocket message's JSON on its own and as the stream a
   * relay makes of them (`start` on a message's first bytes); 'body' reads an HTTP body (`start` on its first).
   */
  push(text: Buffer, start: boolean, unit: 'message' | 'body'): DecodedHit | undefined {
    const line = this.lines.push(text);
    const rpc = line ? { method: line.method, detail: line.method } : unit === 'message' ? this.rpc.ws(text, start) : this.rpc.body(text, start);
    const ssh = this.ssh.push(text);
    return rpc || ssh !== undefined ? { ...(rpc ? { rpc } : {}), ...(ssh !== undefined ? { ssh } : {}) } : undefined;
  }
}
