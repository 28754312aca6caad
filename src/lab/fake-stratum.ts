// Why: a fake mining pool for the lab's far hosts, so mining scenarios can speak real Stratum
// (Bitcoin-style mining.* and XMR-style login/job/submit) to something that answers, without
// any real pool or miner (SAFETY.md rule 4). It only ever runs inside the far netns.
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

type Json = Record<string, unknown>;

function send(socket: Socket, msg: Json): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(msg)}\n`);
}

function btcNotify(): Json {
  const hex = (n: number): string => randomBytes(n).toString('hex');
  return {
    id: null,
    method: 'mining.notify',
    params: [hex(4), hex(32), hex(40), hex(30), [], '20000000', '1d00ffff', Math.floor(Date.now() / 1000).toString(16), true],
  };
}

function xmrJob(): Json {
  return {
    blob: randomBytes(76).toString('hex'),
    job_id: randomBytes(6).toString('hex'),
    target: 'b88d0600',
    algo: 'rx/0',
    height: 3000000,
    seed_hash: randomBytes(32).toString('hex'),
  };
}

/** Answers one JSON-RPC message; returns false when the line was not JSON-RPC. */
function answer(socket: Socket, msg: Json): boolean {
  const id = msg['id'] ?? null;
  const method = msg['method'];
  if (typeof method !== 'string') return false;
  switch (method) {
    case 'mining.subscribe':
      send(socket, {
        id, error: null,
        result: [[['mining.set_difficulty', 'labsub1'], ['mining.notify', 'labsub1']], randomBytes(4).toString('hex'), 4],
      });
      return true;
    case 'mining.authorize':
      send(socket, { id, result: true, error: null });
      send(socket, { id: null, method: 'mining.set_difficulty', params: [1024] });
      send(socket, btcNotify());
      return true;
    case 'mining.submit':
      send(socket, { id, result: true, error: null });
      return true;
    case 'mining.extranonce.subscribe':
      send(socket, { id, result: true, error: null });
      return true;
    case 'login':
      send(socket, { id, jsonrpc: '2.0', error: null, result: { id: 'lab-session-1', job: xmrJob(), extensions: [], status: 'OK' } });
      return true;
    case 'getjob':
      send(socket, { id, jsonrpc: '2.0', error: null, result: xmrJob() });
      return true;
    case 'submit':
      send(socket, { id, jsonrpc: '2.0', error: null, result: { status: 'OK' } });
      return true;
    case 'keepalived':
      send(socket, { id, jsonrpc: '2.0', error: null, result: { status: 'KEEPALIVED' } });
      return true;
    default:
      send(socket, { id, result: null, error: { code: -1, message: `unknown method ${method}` } });
      return true;
  }
}

/** Serves one pool connection; onRequest is called for every JSON-RPC message answered. */
export function serveStratum(socket: Socket, onRequest: () => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > 1_000_000) { socket.destroy(); return; }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === '') continue;
      let msg: unknown;
      try { msg = JSON.parse(line); } catch { continue; }
      if (msg !== null && typeof msg === 'object' && !Array.isArray(msg) && answer(socket, msg as Json)) onRequest();
    }
  });
}
