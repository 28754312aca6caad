// Why: people reading `corral events` (and reports) need one line per event that says what
// happened. Payload field names differ between sensors (plain names or OpenTelemetry dotted
// names), so each summary looks for the usual aliases and falls back to compact JSON.
import type { CorralEvent } from '../events/event.js';

type P = Record<string, unknown>;

function pick(p: P, ...keys: string[]): unknown {
  for (const k of keys) if (p[k] !== undefined && p[k] !== null) return p[k];
  return undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

function shellWord(a: string): string {
  return a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function compactJson(v: unknown, max = 200): string {
  const s = JSON.stringify(v) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** "ip:port", with IPv6 bracketed; host name first when the sensor recorded one. */
function destination(p: P): string {
  const dst = str(pick(p, 'dst', 'destination'));
  const ip = str(pick(p, 'dst_ip', 'daddr', 'destination.address', 'server.address', 'network.peer.address', 'ip'));
  const port = str(pick(p, 'dst_port', 'dport', 'destination.port', 'server.port', 'network.peer.port', 'port'));
  const host = str(pick(p, 'host', 'sni', 'server_name', 'url.domain'));
  let addr = dst ?? '';
  if (ip !== undefined) addr = port !== undefined ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : ip;
  else if (addr === '' && port !== undefined) addr = `:${port}`;
  if (host !== undefined && host !== addr && !addr.startsWith(`${host}:`)) addr = addr === '' ? host : `${host} (${addr})`;
  return addr === '' ? '?' : addr;
}

function decision(p: P): string | undefined {
  return str(pick(p, 'decision', 'verdict', 'action'));
}

function withRule(p: P, base: string): string {
  const d = decision(p);
  const rule = str(pick(p, 'rule', 'policy_rule', 'reason'));
  const parts = [base];
  if (d !== undefined) parts.push(d);
  if (rule !== undefined) parts.push(`(${rule})`);
  return parts.join(' ');
}

/** 1536 → "1.5KiB" */
export function formatBytes(v: unknown): string {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = n;
  let u = 0;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${x}B` : `${x.toFixed(1)}${units[u]}`;
}

function execSummary(p: P): string {
  const s = execLine(p);
  // A failed execve (a PATH search's misses, a file without the exec bit): the program never ran.
  return p.result === 'failed' ? `${s}  [exec failed: ${str(p.error) ?? '?'}]` : s;
}

function execLine(p: P): string {
  const argv = pick(p, 'argv', 'process.command_args', 'args');
  if (Array.isArray(argv) && argv.length > 0) return argv.map((a) => shellWord(String(a))).join(' ');
  const line = str(pick(p, 'command', 'process.command_line', 'cmdline'));
  if (line !== undefined) return line;
  return str(pick(p, 'filename', 'exe', 'process.executable.path')) ?? compactJson(p);
}

function dnsSummary(p: P): string {
  const name = str(pick(p, 'name', 'qname', 'query', 'dns.question.name')) ?? '?';
  const qtype = str(pick(p, 'qtype', 'type'));
  const raw = pick(p, 'answers', 'dns.answers', 'answer');
  const answers = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .map((a) => str(a) ?? str((a as P | null)?.data) ?? str((a as P | null)?.address) ?? compactJson(a, 60));
  const verdict = str(pick(p, 'verdict', 'decision', 'action', 'rcode'));
  let s = qtype !== undefined ? `${name} ${qtype}` : name;
  s += ` → ${answers.length > 0 ? answers.join(', ') : '(none)'}`;
  if (verdict !== undefined) s += ` / ${verdict}`;
  return s;
}

function flowSummary(p: P): string {
  const up = pick(p, 'bytes_up', 'bytes_out', 'tx_bytes', 'bytes_sent', 'network.io.bytes_sent');
  const down = pick(p, 'bytes_down', 'bytes_in', 'rx_bytes', 'bytes_received', 'network.io.bytes_received');
  const proto = str(pick(p, 'protocol', 'app_protocol', 'network.protocol.name'));
  let base = destination(p);
  if (proto !== undefined) base += ` ${proto}`;
  base += ` ↑${formatBytes(up)} ↓${formatBytes(down)}`;
  if (p.interim === true) base += ' (still open: so far)';
  return withRule(p, base);
}

function alertSummary(p: P): string {
  const parts = [p.severity, p.category, p.rule, p.message].map((v) => str(v)).filter((v): v is string => v !== undefined);
  const count = typeof p.count === 'number' && p.count > 1 ? ` ×${p.count}` : '';
  return parts.join(' ') + count;
}

function resourceSummary(p: P): string {
  const cpu = pick(p, 'cpu_pct', 'cpu_percent', 'cpu', 'process.cpu.utilization');
  const mem = pick(p, 'mem_bytes', 'memory_bytes', 'mem', 'memory', 'process.memory.usage');
  const pids = pick(p, 'pids', 'pids_current', 'process.count');
  const parts: string[] = [];
  if (cpu !== undefined) parts.push(`cpu ${typeof cpu === 'number' ? cpu.toFixed(1) : str(cpu) ?? '?'}%`);
  if (mem !== undefined) parts.push(`mem ${formatBytes(mem)}`);
  if (pids !== undefined) parts.push(`pids ${str(pids) ?? '?'}`);
  return parts.length > 0 ? parts.join(' ') : compactJson(p);
}

function exitSummary(p: P): string {
  const code = str(pick(p, 'code', 'exit_code', 'process.exit.code'));
  const signal = str(pick(p, 'signal'));
  if (signal !== undefined) return `signal ${signal}`;
  return code !== undefined ? `exit ${code}` : compactJson(p);
}

function lifecycleSummary(p: P): string {
  const name = str(pick(p, 'tool', 'name', 'gen_ai.tool.name'));
  const cmd = str(pick(p, 'command'));
  const status = str(pick(p, 'status', 'outcome', 'verdict'));
  const parts = [name, cmd, status].filter((v): v is string => v !== undefined);
  return parts.length > 0 ? parts.join(' ') : compactJson(p);
}

function callEndSummary(p: P): string {
  if (p.exit_code === undefined && p.signal === undefined && p.duration_ms === undefined) return lifecycleSummary(p);
  const how = p.timed_out === true ? 'timed out' : typeof p.signal === 'string' ? `signal ${p.signal}` : `exit ${str(p.exit_code) ?? '?'}`;
  const ms = typeof p.duration_ms === 'number' ? ` after ${Math.round(p.duration_ms)} ms` : '';
  const out = typeof p.stdout_bytes === 'number' ? `, ${formatBytes(p.stdout_bytes)} out, ${formatBytes(p.stderr_bytes)} err` : '';
  return `${how}${ms}${out}${p.blocked === true ? ', blocked' : ''}`;
}

function sessionEndSummary(p: P): string {
  if (typeof p.reason === 'string') return `ended: ${p.reason}`;
  if (p.alerts === undefined && p.cpu_ns === undefined) return lifecycleSummary(p);
  const cpu = typeof p.cpu_ns === 'number' ? `, cpu ${(p.cpu_ns / 1e6).toFixed(0)} ms` : '';
  const mem = p.memory_peak_bytes !== undefined ? `, memory peak ${formatBytes(p.memory_peak_bytes)}` : '';
  return `ended: ${str(p.alerts) ?? '0'} alert(s)${cpu}${mem}`;
}

/** One human-readable line describing an event's payload. Text is raw: escape before printing to a terminal. */
export function summarizeEvent(ev: CorralEvent): string {
  const p = (ev.payload ?? {}) as P;
  switch (ev.kind) {
    case 'exec': return execSummary(p);
    case 'exit': return exitSummary(p);
    case 'connect': {
      const ja4 = str(p['tls.client.ja4']);
      return withRule(p, destination(p)) + (ja4 !== undefined ? ` tls ${ja4}` : '');
    }
    case 'drop': return withRule(p, destination(p));
    case 'dns': return dnsSummary(p);
    case 'flow': return flowSummary(p);
    case 'alert': return alertSummary(p);
    case 'resource': return resourceSummary(p);
    case 'session.start':
    case 'toolcall.start': return lifecycleSummary(p);
    case 'toolcall.end': return callEndSummary(p);
    case 'session.end': return sessionEndSummary(p);
    case 'socket': return `socket(family ${str(p.family) ?? '?'}, type ${str(p.type) ?? '?'}) refused by seccomp (errno ${str(p.errno) ?? '?'})${typeof p.comm === 'string' ? ` by ${p.comm}` : ''}`;
    case 'file': return `${str(p.path) ?? '?'} ${str(p.change) ?? 'changed'}: ${str(p.place) ?? ''}`;
    case 'sensor': return p.state === 'down' ? `kernel sensor DOWN (capture gap begins): ${str(p.error) ?? ''}`
      : p.state === 'gateway_rules_restored' ? `gateway rules changed by another program on the host (${str(p.what) ?? '?'}); put back in ${str(p.restored_ms) ?? '?'} ms: a containment gap`
      : p.state === 'lost' ? `kernel sensor LOST ${str(p.records_lost) ?? '?'} records (${str(p.records_lost_total) ?? '?'} in this session; ring overflow, not attributable to one sandbox): capture incomplete`
      : `kernel sensor back after a ${p.gap_ms} ms capture gap`;
    default: return compactJson(p);
  }
}
