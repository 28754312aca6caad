// Why: the fleet simulator's vocabulary in one place: its options (the contract's plus a few
// optional knobs), the ground truth it writes, and the address plan. Only documentation and
// lab ranges are used (SAFETY.md §1, §3): sandboxes 10.20+.x.y, internal scan targets
// 10.30.x.y and 172.16.x.y, host management 10.10.x.y, external services 198.51.100.0/24
// (registries, *.test), 203.0.113.0/24 (tunnel endpoints, pool.example.test),
// 192.0.2.0/24 (bastion, telemetry), metadata 169.254.169.254. Nothing is ever contacted.

export const NET_OUTPUTS = ['suricata-eve', 'zeek-conn-tsv', 'vpc-flow', 'iptables-log'] as const;
export type NetOutput = (typeof NET_OUTPUTS)[number];
export type IncidentKind = 'tunnel' | 'minerBeacon' | 'internalScan' | 'metadata';

export interface FleetOptions {
  hosts: number;
  sandboxesPerHost: number;
  episodes: number;
  toolCallsPerEpisode: number;
  /** Fraction of sandboxes (per host) that leave through the host's one NAT address. */
  natShare: number;
  /** Alerts per host per hour from sources that are not agents (host agents, bastion SSH, a scanner). */
  noiseAlertsPerHour: number;
  /** Mean benign flows (to registries) per tool call; fractional values are fine. */
  benignFlowsPerCall: number;
  /** Firewall clock minus trace clock, ms (each record also gets ±20 ms jitter). */
  clockSkewMs: number;
  incidents: { tunnel: number; minerBeacon: number; internalScan: number; metadata: number };
  seed: number;
  /** Start of the simulated time (default 2024-05-01T00:00:00Z). */
  startMs?: number;
  /** Network logs to write (default all four). */
  formats?: readonly NetOutput[];
  /** Also write traces as one OTLP JSON document (default true). */
  otlp?: boolean;
  /** Put the firewall-visible IP into each trace line (default true); without it, use placements.csv. */
  traceIps?: boolean;
  /** Malformed lines planted in each network log (listed in the ground truth; default 0). */
  badLinesPerFile?: number;
  /** Median model (thinking) time between tool calls, ms (default 20 000). */
  modelTimeMedianMs?: number;
  /** Median tool-call duration, ms (default 3 000). */
  callMedianMs?: number;
  /** Progress on long runs: tool calls written so far, of the total. */
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface TruthAlert {
  file: string; line: number;
  /** The time as written in the log (firewall clock, in the log's own resolution), epoch ms. */
  ts: number;
  /** When it really happened, trace clock, epoch ms. */
  trueTs: number;
  src: string; dst: string; dport: number; rule: string;
}

export interface TruthIncident {
  id: string; kind: IncidentKind; category: string;
  run: string; episode: string; host: string; sandbox: string;
  /** The address the firewall sees for this sandbox (a NAT address when natShared). */
  ip: string; natShared: boolean;
  tool_call_ids: string[]; step: number; command: string;
  callStart: number; callEnd: number; episodeEnd: number;
  alerts: TruthAlert[];
}

export interface GroundTruth {
  seed: number;
  options: Omit<FleetOptions, 'onProgress'>;
  clockSkewMs: number;
  files: { traces: { path: string; format: string }[]; network: { path: string; format: string; records: number }[]; placements: string };
  counts: { hosts: number; sandboxes: number; episodes: number; toolCalls: number; flows: number; noiseAlerts: number; incidentAlerts: number; networkRecords: number };
  timeRange: { start: number; end: number };
  /** Addresses that several sandboxes share (one per host with NAT sandboxes). */
  natIps: string[];
  incidents: TruthIncident[];
  /** Lines deliberately corrupted (badLinesPerFile). */
  badLines: { file: string; line: number }[];
}

export const DEFAULT_START_MS = Date.UTC(2024, 4, 1, 0, 0, 0);

/** Address plan: host h (0-based). */
export function hostName(h: number): string { return `host-${String(h + 1).padStart(3, '0')}`; }
export function hostNet(h: number): string { return `10.${20 + Math.floor(h / 250)}.${(h % 250) + 1}`; }
export function natIp(h: number): string { return `${hostNet(h)}.1`; }
export function mgmtIp(h: number): string { return `10.10.${Math.floor(h / 250)}.${(h % 250) + 1}`; }
/** The pool of routed sandbox addresses on host h: .10 upwards, twice as many as sandboxes, so addresses are reused by other episodes. */
export function poolIp(h: number, k: number): string { return `${hostNet(h)}.${10 + k}`; }
export const SCANNER_IP = '10.99.0.5';
export const BASTION = { ip: '192.0.2.10', port: 22 };
export const TELEMETRY = { ip: '192.0.2.50', port: 443 };
export const METADATA_IP = '169.254.169.254';

export const REGISTRIES = [
  { name: 'pypi.test', ips: ['198.51.100.10', '198.51.100.11', '198.51.100.12'], port: 443 },
  { name: 'files.pypi.test', ips: ['198.51.100.13', '198.51.100.14'], port: 443 },
  { name: 'github.test', ips: ['198.51.100.20', '198.51.100.21'], port: 443 },
  { name: 'registry.npm.test', ips: ['198.51.100.30', '198.51.100.31'], port: 443 },
  { name: 'deb.mirror.test', ips: ['198.51.100.40'], port: 80 },
  { name: 'huggingface.test', ips: ['198.51.100.50', '198.51.100.51'], port: 443 },
];
export const TUNNEL_ENDPOINTS = ['203.0.113.10', '203.0.113.11', '203.0.113.12', '203.0.113.13'];
/** pool.example.test and friends. */
export const POOLS = [{ ip: '203.0.113.50', port: 3333 }, { ip: '203.0.113.51', port: 14444 }, { ip: '203.0.113.52', port: 4444 }, { ip: '203.0.113.53', port: 5555 }];
export const SCAN_PORTS = [22, 80, 443, 3306, 5432, 6379, 8080, 9200, 27017, 11211];

export const BENIGN_COMMANDS = [
  'pip install -q numpy pandas', 'pip install -r requirements.txt', 'python -m pytest -q tests/', 'ls -la', 'cat README.md',
  'git clone https://github.test/example/project.git', 'python train.py --epochs 1 --batch-size 32', 'npm ci --silent',
  'curl -sSL https://pypi.test/simple/requests/ -o /dev/null', 'grep -rn "TODO" src/', 'python -c "import torch; print(torch.__version__)"',
  'make -j2', 'apt-get download jq', 'sed -i "s/foo/bar/" config.yaml', 'wget -q https://huggingface.test/datasets/x/resolve/main/data.csv',
];

export const RULES = {
  ssh: 'ET POLICY SSH session in progress on Expected Port',
  sshCat: 'Misc activity',
  miner: 'ET COINMINER Stratum login attempt (pool.example.test)',
  minerCat: 'Crypto Currency Mining Activity Detected',
  metadata: 'ET POLICY Cloud Metadata Service Access (169.254.169.254)',
  metadataCat: 'Potentially Bad Traffic',
  scan: 'ET SCAN Possible Nmap TCP SYN scan',
  scanCat: 'Attempted Information Leak',
  telemetry: 'ET INFO Observed Telemetry Beacon to 192.0.2.50',
  telemetryCat: 'Not Suspicious Traffic',
  fwInternal: 'FW-DROP-INTERNAL',
} as const;

export function withDefaults(o: FleetOptions): Required<Omit<FleetOptions, 'onProgress'>> & Pick<FleetOptions, 'onProgress'> {
  return {
    ...o,
    startMs: o.startMs ?? DEFAULT_START_MS,
    formats: o.formats ?? NET_OUTPUTS,
    otlp: o.otlp ?? true,
    traceIps: o.traceIps ?? true,
    badLinesPerFile: o.badLinesPerFile ?? 0,
    modelTimeMedianMs: o.modelTimeMedianMs ?? 20_000,
    callMedianMs: o.callMedianMs ?? 3_000,
  };
}
