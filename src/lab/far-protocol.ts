// Why: the shapes shared by FarHosts (in the lab netns) and far-server (in the far netns), so
// the IPC channel between them is typed on both ends. Part of the lab harness that lets tests
// prove how many hostile connections reached a fake host (SAFETY.md rule 2).

export type FarServiceKind = 'ssh' | 'stratum' | 'http' | 'metadata' | 'sink';
export type FarService = { kind: FarServiceKind; port: number };
export interface FarHostSpec { name: string; ip: string; services: FarService[] }

/** Per ip:port counters kept by far-server. */
export interface ServiceCounts {
  kind: FarServiceKind;
  /** TCP connections the service accepted (for ssh: sshd's own "Connection from" log lines). */
  accepted: number;
  /** Bytes read from clients (not tracked for ssh: 0). */
  bytesIn: number;
  /** Protocol requests answered: HTTP requests or Stratum JSON-RPC messages (0 for sink/ssh). */
  requests: number;
}
export type FarCounts = Record<string, ServiceCounts>;

export function serviceKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

export type ToFar =
  | { type: 'start'; specs: FarHostSpec[]; tmpDir: string; sshdConfig?: string }
  | { type: 'counts'; id: number }
  | { type: 'stop' };

export type FromFar =
  | { type: 'hello' }
  | { type: 'started'; sshdPid?: number }
  | { type: 'counts'; id: number; counts: FarCounts }
  | { type: 'error'; message: string }
  | { type: 'stopped' };
