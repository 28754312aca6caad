// Why: the fields a rule condition can read, computed from one CorralEvent. Field values are
// extracted lazily and cached per event (FieldCache), so forty rules reading proc.name cost one
// basename. Payloads come from sensors that see hostile input (argv, DNS names), so every getter
// checks types and returns undefined rather than trusting the shape.
import { posix } from 'node:path';
import { classifyAddress } from '../../policy/address-class.js';
import type { EngineEvent } from './api.js';

export type FieldType = 'str' | 'num' | 'strs' | 'bool';
export interface FieldInfo {
  name: string;
  type: FieldType;
  /** Event kinds that carry it ('*' = any). */
  kinds: string;
  doc: string;
}
export type Getter = (ev: EngineEvent, c: FieldCache) => unknown;
interface FieldDef extends FieldInfo { get: Getter }

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}
/** The string elements of a; a itself (no copy) when all are strings, as sensors send them. */
function strings(a: unknown[]): string[] {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return a.filter((x): x is string => typeof x === 'string');
  return a as string[];
}
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/**
 * An absolute program path with its `.`, `..` and repeated slashes resolved as written (no symlinks
 * followed). Threat it stops: `/usr/../workspace/x` passing for a system program (system_executable),
 * `//proc/self/fd/3` or `/dev/./fd/3` passing for a path that is not a memory file descriptor.
 */
export function canonicalExe(p: string | undefined): string | undefined {
  if (p === undefined || p.charCodeAt(0) !== 47 || (!p.includes('/.') && !p.includes('//'))) return p;
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
const P = (ev: EngineEvent): Record<string, unknown> => (ev.payload && typeof ev.payload === 'object' ? ev.payload : {}) as Record<string, unknown>;

/** A relayed shell in words, from the shell's exec or from its feeder's connect (fed-shells.ts). */
function shellRelay(ev: EngineEvent): string | undefined {
  const p = P(ev);
  if (ev.kind === 'exec' && typeof p.fed_by_net === 'string') return `shell pid ${String(ev.pid)} reads its commands from pid ${String(p.fed_by_pid)}, which connected to ${p.fed_by_net}`;
  if (ev.kind === 'socket' && typeof p.fed_by_net === 'string') return `shell pid ${String(ev.pid)} reads its commands through pipes from pid ${String(p.fed_by_pid)}, which connected to ${p.fed_by_net} (found once it held the shell's pipes)`;
  if (ev.kind === 'connect' && typeof p.feeds_shell === 'number') return `pid ${String(ev.pid)}, feeding commands to shell pid ${p.feeds_shell}, connected to ${String(p['network.peer.address'])}:${String(p['network.peer.port'])}`;
  return undefined;
}
const NET_KINDS = new Set(['connect', 'flow', 'drop']);

/** Address classification is pure, so recent answers are reused (bounded, one memo per FieldTable). */
function classifyMemo(memo: Map<string, string | undefined>, ip: string): string | undefined {
  const hit = memo.get(ip);
  if (hit !== undefined || memo.has(ip)) return hit;
  let v: string | undefined;
  try { v = classifyAddress(ip); } catch { v = undefined; }
  if (memo.size >= 4096) memo.clear();
  memo.set(ip, v);
  return v;
}

function basename(s: string): string {
  const i = s.lastIndexOf('/');
  return i < 0 ? s : s.slice(i + 1);
}

/** Shannon entropy in bits per character. */
export function shannon(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) { const p = n / s.length; h -= p * Math.log2(p); }
  return h;
}

const HEX = /^[0-9a-f]+$/;
const BASE32 = /^[a-z2-7]+$/;
const BASE36 = /^[a-z0-9]+$/;
const HOSTNAME = /^[a-z0-9_-]+$/;
/** Size of the smallest common encoding alphabet that holds every character of a (lower-cased) label. */
export function alphabetSize(l: string): number {
  return HEX.test(l) ? 16 : BASE32.test(l) ? 32 : BASE36.test(l) ? 36 : HOSTNAME.test(l) ? 38 : 64;
}

/** Lower-cases a host name and drops a trailing dot, allocating only when needed. */
function normName(n: string | undefined): string | undefined {
  if (n === undefined) return undefined;
  if (n.charCodeAt(n.length - 1) === 46) n = n.slice(0, -1);
  return HAS_UPPER.test(n) ? n.toLowerCase() : n;
}
const HAS_UPPER = /[A-Z]/;

/** Last two labels of a name (naive registrable domain). */
function lastLabels(n: string | undefined): string | undefined {
  if (n === undefined) return undefined;
  const a = n.lastIndexOf('.');
  if (a <= 0) return n;
  const b = n.lastIndexOf('.', a - 1);
  return b < 0 ? n : n.slice(b + 1);
}

/** lastLabels through a bounded memo: names repeat heavily (registries, CDNs), and a memo hit
 *  skips the slice whose result would be hashed again for every `in (list)` test. */
function domainMemo(memo: Map<string, string>, n: string | undefined): string | undefined {
  if (n === undefined) return undefined;
  let d = memo.get(n);
  if (d === undefined) {
    d = lastLabels(n)!;
    if (memo.size >= 4096) memo.clear();
    memo.set(n, d);
  }
  return d;
}

interface LabelStats { count: number; maxLen: number; maxStart: number }
/** Label count and the longest label's position, without splitting. */
function labelStats(n: string | undefined): LabelStats | undefined {
  if (n === undefined) return undefined;
  let count = 1, maxLen = 0, maxStart = 0, start = 0;
  for (let i = 0; i <= n.length; i++) {
    if (i === n.length || n.charCodeAt(i) === 46) {
      if (i - start > maxLen) { maxLen = i - start; maxStart = start; }
      if (i < n.length) count++;
      start = i + 1;
    }
  }
  return { count, maxLen, maxStart };
}

// Slot indices of fields other getters reuse (their position in DEFS below).
const S_ARGV = 0;
const S_EXE = 1;
const S_DNS_NAME = 2;
const S_DNS_LABELS = 3;
const S_DST_IP = 4;
const S_NET_NAME = 5;
const S_DNS_STATS = 6;

const DEFS: FieldDef[] = [
  // --- reused by other getters: keep these first and in the order of the S_* constants ---
  { name: 'proc.argv', type: 'strs', kinds: 'exec, command', doc: 'argv array (p.argv); non-strings are dropped',
    get: (ev) => { const a = P(ev).argv; return Array.isArray(a) && a.length ? strings(a) : undefined; } },
  { name: 'proc.exe', type: 'str', kinds: 'exec, command, connect, resource', doc: "the program: p.program if present (what the dynamic loader was told to run, `ld.so /bin/bash x`; on a connect, what its process exec'd), else p.filename, else argv[0]; an absolute path with its `.`, `..` and `//` resolved as written (/usr/../workspace/x is /workspace/x); for a process resource sample p.exe (the sampler's readlink of /proc/PID/exe, as the sandbox sees it)",
    get: (ev, c) => (ev.kind === 'resource' ? str(P(ev).exe) : canonicalExe(str(P(ev).program) ?? str(P(ev).filename) ?? (c.g(S_ARGV) as string[] | undefined)?.[0])) },
  { name: 'dns.name', type: 'str', kinds: 'dns', doc: 'queried name, lower-cased, without the trailing dot',
    get: (ev) => (ev.kind === 'dns' ? normName(str(P(ev).name)) : undefined) },
  { name: 'dns.labels', type: 'strs', kinds: 'dns', doc: 'the labels of dns.name',
    get: (ev, c) => { const n = c.g(S_DNS_NAME) as string | undefined; return n ? n.split('.') : undefined; } },
  { name: 'net.dst.ip', type: 'str', kinds: 'connect, flow, drop', doc: "p['network.peer.address'] (the original destination)",
    get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev)['network.peer.address']) : undefined) },
  { name: 'net.name', type: 'str', kinds: 'connect, flow', doc: "p['server.address'] (name the client asked for), else p.sni; lower-cased",
    get: (ev) => { if (!NET_KINDS.has(ev.kind)) return undefined; const p = P(ev); return normName(str(p['server.address']) ?? str(p.sni)); } },
  { name: '_dns.stats', type: 'num', kinds: 'dns', doc: 'internal: label statistics', get: (ev, c) => labelStats(c.g(S_DNS_NAME) as string | undefined) },
  // --- evt ---
  { name: 'evt.kind', type: 'str', kinds: '*', doc: 'event kind (exec, exit, connect, dns, flow, drop, resource, command, toolcall.start …)', get: (ev) => str(ev.kind) },
  { name: 'evt.id', type: 'str', kinds: '*', doc: 'event id', get: (ev) => str(ev.id) },
  { name: 'evt.session', type: 'str', kinds: '*', doc: 'sandbox/session id', get: (ev) => str(ev.session) },
  { name: 'evt.run', type: 'str', kinds: '*', doc: 'run label', get: (ev) => str(ev.run) },
  { name: 'evt.episode', type: 'str', kinds: '*', doc: 'episode label', get: (ev) => str(ev.episode) },
  { name: 'evt.step', type: 'num', kinds: '*', doc: 'step number', get: (ev) => num(ev.step) },
  { name: 'evt.tool_call', type: 'str', kinds: '*', doc: 'tool call id (from the cgroup, not from the agent)', get: (ev) => str(ev.tool_call) },
  { name: 'evt.cgroup', type: 'str', kinds: '*', doc: 'cgroup path of the process', get: (ev) => str(ev.cgroup) },
  // --- proc ---
  { name: 'proc.pid', type: 'num', kinds: '*', doc: 'event pid', get: (ev) => num(ev.pid) },
  { name: 'proc.ppid', type: 'num', kinds: '*', doc: 'event ppid', get: (ev) => num(ev.ppid) },
  { name: 'proc.name', type: 'str', kinds: 'exec, command, exit, connect, resource', doc: 'basename of proc.exe (a connect\'s too: what its process exec\'d, not its rewritable comm); for other kinds (resource included) p.comm; for a renamed copy of a watched program (proc.copy_of) the program it copies',
    get: (ev, c) => { const copy = str(P(ev).copy_of); if (copy !== undefined) return copy; const e = ev.kind === 'resource' ? undefined : c.g(S_EXE) as string | undefined; return e !== undefined ? basename(e) : str(P(ev).comm); } },
  { name: 'proc.exe_name', type: 'str', kinds: 'exec, command, exit, connect, resource', doc: 'basename of proc.exe (p.comm for other kinds): the name the program was started by, also for a renamed copy — what a disguise shows',
    get: (ev, c) => { const e = ev.kind === 'resource' ? undefined : c.g(S_EXE) as string | undefined; return e !== undefined ? basename(e) : str(P(ev).comm); } },
  { name: 'proc.copy_of', type: 'str', kinds: 'exec, exit, connect', doc: "p.copy_of: the watched system program (bash, nc, socat, python3 …) whose bytes this process's executable copies under another name or path (`cp /bin/bash ./.kw`), or that it is itself, run through a symbolic link with a name none of its own (`ln -s /bin/bash k; ./k`); absent for the program run by its own names",
    get: (ev) => str(P(ev).copy_of) },
  { name: 'proc.args', type: 'str', kinds: 'exec, command', doc: 'argv[1..] joined by one space',
    get: (ev, c) => (c.g(S_ARGV) as string[] | undefined)?.slice(1).join(' ') },
  { name: 'proc.cmdline', type: 'str', kinds: 'exec, command', doc: 'argv joined by one space',
    get: (ev, c) => (c.g(S_ARGV) as string[] | undefined)?.join(' ') },
  { name: 'proc.argc', type: 'num', kinds: 'exec, command', doc: 'argv length', get: (ev, c) => (c.g(S_ARGV) as string[] | undefined)?.length },
  { name: 'proc.cwd', type: 'str', kinds: 'exec, command', doc: 'p.cwd when the sensor or analyzer knows it', get: (ev) => str(P(ev).cwd) },
  { name: 'proc.exe_writable', type: 'bool', kinds: 'exec, connect, resource', doc: "the program (proc.exe) lies inside the session's workspace, wherever filesystem.workspace_path puts it (p.exe_writable): a file the agent wrote, even under a system-looking path such as /opt/app",
    get: (ev) => (ev.kind === 'exec' || ev.kind === 'connect' || ev.kind === 'resource' ? P(ev).exe_writable === true : undefined) },
  { name: 'proc.exe_unlinked', type: 'bool', kinds: 'exec', doc: "the kernel's file of the new program image had no name left when it started (p.exe_unlinked: a memfd, an O_TMPFILE, a file deleted first): fileless execution, however the path it was run by was spelled",
    get: (ev) => (ev.kind === 'exec' ? P(ev).exe_unlinked === true : undefined) },
  { name: 'proc.truncated', type: 'bool', kinds: 'exec', doc: 'the sensor cut argv short (p.truncated)', get: (ev) => bool(P(ev).truncated) },
  { name: 'proc.stdio_socket', type: 'bool', kinds: 'exec', doc: 'the new program image got a TCP socket as its stdin, stdout or stderr (p.stdio_socket: which of fds 0–2): a shell on a socket is a reverse or bind shell, whoever connected it',
    get: (ev) => (ev.kind === 'exec' ? Array.isArray(P(ev).stdio_socket) && (P(ev).stdio_socket as unknown[]).length > 0 : undefined) },
  { name: 'proc.stdio_fds', type: 'str', kinds: 'exec', doc: 'which of fds 0–2 are TCP sockets, as "0,1,2" (p.stdio_socket); absent when none',
    get: (ev) => (ev.kind === 'exec' && Array.isArray(P(ev).stdio_socket) ? (P(ev).stdio_socket as unknown[]).join(',') : undefined) },
  { name: 'proc.fed_by_net', type: 'str', kinds: 'exec, socket', doc: 'a shell that reads its commands from a pipe or pseudo-terminal and answers into one, whose parent had connected out: where that parent connected, "ip:port" (p.fed_by_net; loopback and DNS not counted) — a reverse shell relayed through the parent, however its code was spelled; on a socket event (relay_found), a relay beside the shell found at a later resource sample, once it held the shell\'s pipes',
    get: (ev) => (ev.kind === 'exec' || ev.kind === 'socket' ? str(P(ev).fed_by_net) : undefined) },
  { name: 'proc.feeds_shell', type: 'num', kinds: 'connect', doc: 'this connection out was made by a process whose child shell already read its commands from a pipe or pseudo-terminal: that shell\'s pid (p.feeds_shell; the other order of proc.fed_by_net)',
    get: (ev) => (ev.kind === 'connect' ? num(P(ev).feeds_shell) : undefined) },
  { name: 'proc.shell_relay', type: 'str', kinds: 'exec, connect, socket', doc: 'either half of a relayed shell (proc.fed_by_net, proc.feeds_shell) in words, for an alert\'s text',
    get: (ev) => shellRelay(ev) },
  { name: 'proc.argv_cut', type: 'bool', kinds: 'exec', doc: 'argv cut short because the tool call spent its argv budget: an exec flood (p.argv_cut)', get: (ev) => bool(P(ev).argv_cut) },
  { name: 'proc.exec_failed', type: 'bool', kinds: 'exec', doc: "execve returned an error (p.result = 'failed'): the program never ran — a PATH search's misses, a file without the exec bit, a noexec mount",
    get: (ev) => (ev.kind === 'exec' ? P(ev).result === 'failed' : undefined) },
  { name: 'proc.exec_error', type: 'str', kinds: 'exec', doc: "the failed execve's errno name (p.error: ENOENT, EACCES …)", get: (ev) => (ev.kind === 'exec' ? str(P(ev).error) : undefined) },
  { name: 'proc.exit_code', type: 'num', kinds: 'exit', doc: 'p.exit_code', get: (ev) => (ev.kind === 'exit' ? num(P(ev).exit_code) : undefined) },
  // --- cmd (kind 'command', from the command analyzer) ---
  { name: 'cmd.text', type: 'str', kinds: 'command', doc: 'unwrapped text of this command (p.text)', get: (ev) => (ev.kind === 'command' ? str(P(ev).text) : undefined) },
  { name: 'cmd.depth', type: 'num', kinds: 'command', doc: 'unwrapping depth (0 = typed directly)', get: (ev) => (ev.kind === 'command' ? num(P(ev).depth) : undefined) },
  { name: 'cmd.via', type: 'str', kinds: 'command', doc: "wrapper chain, outermost first ('bash -c > base64')", get: (ev) => (ev.kind === 'command' ? str(P(ev).via) : undefined) },
  { name: 'cmd.inline_lang', type: 'str', kinds: 'command', doc: 'language of inline code (python, node, perl, ruby …)', get: (ev) => (ev.kind === 'command' ? str(P(ev).inline_lang) : undefined) },
  { name: 'cmd.inline_code', type: 'str', kinds: 'command', doc: 'inline interpreter code', get: (ev) => (ev.kind === 'command' ? str(P(ev).inline_code) : undefined) },
  { name: 'cmd.inline_received_exec', type: 'str', kinds: 'command', doc: "inline code that runs what it read from a network connection, as code or as a command: 'sink ← source' (`os.popen ← s.recv`; src/detect/command/inline-received.ts)", get: (ev) => (ev.kind === 'command' ? str(P(ev).inline_received_exec) : undefined) },
  { name: 'cmd.script', type: 'str', kinds: 'command', doc: "the script a shell, interpreter or source runs: its first operand after its options (`python3 -u p.py`: p.py; none for -c/-e code and python -m), or the file redirected into one that runs its stdin (`sh < k.sh`), resolved against cmd.cwd when relative (p.script)", get: (ev) => (ev.kind === 'command' ? str(P(ev).script) : undefined) },
  { name: 'cmd.cwd', type: 'str', kinds: 'command', doc: "the directory a literal `cd` earlier in the same shell moved to (`cd /tmp/.x && sh i.sh`: /tmp/.x); absent when unknown. A relative program path is resolved against it into proc.exe (p.program)", get: (ev) => (ev.kind === 'command' ? str(P(ev).cwd) : undefined) },
  { name: 'cmd.redirects', type: 'strs', kinds: 'command', doc: "redirections as operator+target, e.g. '>>~/.bashrc', '>&/dev/tcp/h/80' (p.redirects)", get: (ev) => { if (ev.kind !== 'command') return undefined; const a = P(ev).redirects; return Array.isArray(a) ? strings(a) : undefined; } },
  { name: 'cmd.input_from', type: 'strs', kinds: 'command', doc: 'names of the commands whose output feeds this one: pipes, $(…), <(…) (p.input_from)', get: (ev) => { if (ev.kind !== 'command') return undefined; const a = P(ev).input_from; return Array.isArray(a) ? strings(a) : undefined; } },
  { name: 'cmd.files', type: 'strs', kinds: 'command', doc: 'file operands; patterns, programs, echo text and code excluded (p.files)', get: (ev) => { if (ev.kind !== 'command') return undefined; const a = P(ev).files; return Array.isArray(a) ? strings(a) : undefined; } },
  { name: 'cmd.ips', type: 'strs', kinds: 'command', doc: 'IP literals the arguments name, canonical: dotted quad (inet_aton spellings such as 2852039166 or 0251.254.169.254 resolved), RFC 5952 IPv6, and the IPv4 of an IPv4-mapped IPv6 (p.ips)', get: (ev) => { if (ev.kind !== 'command') return undefined; const a = P(ev).ips; return Array.isArray(a) ? strings(a) : undefined; } },
  { name: 'cmd.flags', type: 'strs', kinds: 'command', doc: 'analyzer facts: in_loop, code_from_input, exec_downloaded, background … (p.flags)', get: (ev) => { if (ev.kind !== 'command') return undefined; const a = P(ev).flags; return Array.isArray(a) ? strings(a) : undefined; } },
  // --- tool (kind 'toolcall.start') ---
  { name: 'tool.command', type: 'str', kinds: 'toolcall.start', doc: 'the tool call text (p.command)', get: (ev) => (ev.kind === 'toolcall.start' ? str(P(ev).command) : undefined) },
  { name: 'tool.name', type: 'str', kinds: 'toolcall.start', doc: 'the tool name (p.tool)', get: (ev) => (ev.kind === 'toolcall.start' ? str(P(ev).tool) : undefined) },
  // --- net ---
  { name: 'net.dst.port', type: 'num', kinds: 'connect, flow, drop', doc: "p['network.peer.port']", get: (ev) => (NET_KINDS.has(ev.kind) ? num(P(ev)['network.peer.port']) : undefined) },
  { name: 'net.domain', type: 'str', kinds: 'connect, flow', doc: 'last two labels of net.name (naive registrable domain; no public-suffix list)',
    get: (ev, c) => domainMemo(c.domainMemo, c.g(S_NET_NAME) as string | undefined) },
  { name: 'net.sni', type: 'str', kinds: 'connect, flow', doc: 'TLS SNI seen by the gateway', get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).sni)?.toLowerCase() : undefined) },
  { name: 'tls.ja4', type: 'str', kinds: 'connect, flow', doc: "JA4 fingerprint of the client's TLS ClientHello (p['tls.client.ja4'])", get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev)['tls.client.ja4']) : undefined) },
  { name: 'tls.ja3', type: 'str', kinds: 'connect, flow', doc: "JA3 fingerprint (MD5) of the client's TLS ClientHello (p['tls.client.ja3'])", get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev)['tls.client.ja3']) : undefined) },
  { name: 'net.protocol', type: 'str', kinds: 'connect, flow, drop', doc: 'p.protocol as sniffed by the gateway (tls, http, ssh, mining, other); for drop p.proto',
    get: (ev) => { if (!NET_KINDS.has(ev.kind)) return undefined; const p = P(ev); return str(p.protocol) ?? str(p.proto); } },
  { name: 'net.detail', type: 'str', kinds: 'connect', doc: "gateway's protocol detail (e.g. the mining method seen)", get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).detail) : undefined) },
  { name: 'net.decision', type: 'str', kinds: 'connect, flow', doc: 'gateway decision: allow or deny', get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).decision) : undefined) },
  { name: 'net.rule', type: 'str', kinds: 'connect, flow', doc: 'policy rule that decided', get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).rule) : undefined) },
  { name: 'net.observed', type: 'bool', kinds: 'connect', doc: 'observe mode: denied but let through', get: (ev) => (NET_KINDS.has(ev.kind) ? bool(P(ev).observed) : undefined) },
  { name: 'net.addr_class', type: 'str', kinds: 'connect, flow, drop', doc: 'p.address_class, else computed from net.dst.ip (metadata, private, cgnat, link_local, loopback, host_self, multicast, reserved, public)',
    get: (ev, c) => {
      const given = str(P(ev).address_class);
      if (given !== undefined || !NET_KINDS.has(ev.kind)) return given;
      const ip = c.g(S_DST_IP) as string | undefined;
      if (ip === undefined) return undefined;
      return classifyMemo(c.classMemo, ip);
    } },
  { name: 'net.bytes_up', type: 'num', kinds: 'flow', doc: 'bytes sent by the sandbox', get: (ev) => (ev.kind === 'flow' ? num(P(ev).bytes_up) : undefined) },
  { name: 'net.bytes_down', type: 'num', kinds: 'flow', doc: 'bytes received', get: (ev) => (ev.kind === 'flow' ? num(P(ev).bytes_down) : undefined) },
  { name: 'net.duration_ms', type: 'num', kinds: 'flow', doc: 'flow duration', get: (ev) => (ev.kind === 'flow' ? num(P(ev).duration_ms) : undefined) },
  // An open connection gets interim records (bytes so far); prev is its count at the flow's record before (0 for the
  // first), so `net.bytes_up > X and net.bytes_up_prev <= X` fires once per flow, when X is crossed.
  { name: 'net.bytes_up_prev', type: 'num', kinds: 'flow', doc: "bytes sent at this flow's previous record (0: first record)", get: (ev) => (ev.kind === 'flow' ? num(P(ev).bytes_up_prev) ?? 0 : undefined) },
  { name: 'net.bytes_down_prev', type: 'num', kinds: 'flow', doc: "bytes received at this flow's previous record (0: first record)", get: (ev) => (ev.kind === 'flow' ? num(P(ev).bytes_down_prev) ?? 0 : undefined) },
  { name: 'net.uninspected', type: 'strs', kinds: 'flow', doc: "parts of the upload the gateway's scanners could not read: a content coding it cannot decode, an inflate bound reached (p.uninspected)",
    get: (ev) => { if (ev.kind !== 'flow') return undefined; const a = P(ev).uninspected; return Array.isArray(a) ? strings(a) : undefined; } },
  { name: 'net.uninspected_new', type: 'bool', kinds: 'flow', doc: "this record is the first to carry an entry of net.uninspected (once per entry, interim records included)", get: (ev) => (ev.kind === 'flow' ? bool(P(ev).uninspected_new) ?? false : undefined) },
  { name: 'net.interim', type: 'bool', kinds: 'flow', doc: 'a record of a connection still open (bytes so far)', get: (ev) => (ev.kind === 'flow' ? bool(P(ev).interim) ?? false : undefined) },
  { name: 'net.source', type: 'str', kinds: 'connect, flow, drop', doc: "p.source ('gateway' or 'syscall'); flow: 'gateway'; drop: 'nft'",
    get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).source) ?? (ev.kind === 'flow' ? 'gateway' : ev.kind === 'drop' ? 'nft' : undefined) : undefined) },
  { name: 'net.family', type: 'str', kinds: 'connect', doc: 'address family of a syscall connect', get: (ev) => (NET_KINDS.has(ev.kind) ? str(P(ev).family) ?? (typeof P(ev).family === 'number' ? String(P(ev).family) : undefined) : undefined) },
  // --- dns ---
  { name: 'dns.qtype', type: 'str', kinds: 'dns', doc: 'query type (A, AAAA, TXT …)', get: (ev) => (ev.kind === 'dns' ? str(P(ev).qtype) : undefined) },
  { name: 'dns.verdict', type: 'str', kinds: 'dns', doc: "resolver decision ('allow', 'deny')", get: (ev) => (ev.kind === 'dns' ? str(P(ev).verdict) : undefined) },
  { name: 'dns.rule', type: 'str', kinds: 'dns', doc: 'policy rule that decided', get: (ev) => (ev.kind === 'dns' ? str(P(ev).rule) : undefined) },
  { name: 'dns.server', type: 'str', kinds: 'dns', doc: "address the query was sent to, p['network.peer.address'] (conntrack's original destination: Corral's resolver, or another the redirect caught; absent without conntrack)", get: (ev) => (ev.kind === 'dns' ? str(P(ev)['network.peer.address']) : undefined) },
  { name: 'dns.rcode', type: 'str', kinds: 'dns', doc: 'response code', get: (ev) => { if (ev.kind !== 'dns') return undefined; const r = P(ev).rcode; return typeof r === 'number' ? String(r) : str(r); } },
  { name: 'dns.answers', type: 'strs', kinds: 'dns', doc: 'answer addresses', get: (ev) => { if (ev.kind !== 'dns') return undefined; const a = P(ev).answers; return Array.isArray(a) && a.length ? strings(a) : undefined; } },
  { name: 'dns.domain', type: 'str', kinds: 'dns', doc: 'last two labels of dns.name (naive registrable domain; no public-suffix list)',
    get: (ev, c) => domainMemo(c.domainMemo, c.g(S_DNS_NAME) as string | undefined) },
  { name: 'dns.name_len', type: 'num', kinds: 'dns', doc: 'length of dns.name', get: (ev, c) => (c.g(S_DNS_NAME) as string | undefined)?.length },
  { name: 'dns.label_count', type: 'num', kinds: 'dns', doc: 'number of labels', get: (ev, c) => (c.g(S_DNS_STATS) as LabelStats | undefined)?.count },
  { name: 'dns.label_max_len', type: 'num', kinds: 'dns', doc: 'length of the longest label', get: (ev, c) => (c.g(S_DNS_STATS) as LabelStats | undefined)?.maxLen },
  { name: 'dns.entropy', type: 'num', kinds: 'dns', doc: 'Shannon entropy (bits/char) of the longest label',
    get: (ev, c) => { const n = c.g(S_DNS_NAME) as string | undefined; const st = c.g(S_DNS_STATS) as LabelStats | undefined; return st === undefined ? undefined : shannon(n!.slice(st.maxStart, st.maxStart + st.maxLen)); } },
  { name: 'dns.entropy_norm', type: 'num', kinds: 'dns', doc: "dns.entropy divided by log2 of the size of the smallest encoding alphabet the longest label fits: hex [0-9a-f] 16, base32 [a-z2-7] 32, [a-z0-9] 36, [a-z0-9_-] 38, else 64 (base64 and the rest, lower-cased); random data nears 1, words stay lower (0 for an empty label)",
    get: (ev, c) => { const n = c.g(S_DNS_NAME) as string | undefined; const st = c.g(S_DNS_STATS) as LabelStats | undefined; if (st === undefined) return undefined; const l = n!.slice(st.maxStart, st.maxStart + st.maxLen); return l.length === 0 ? 0 : shannon(l) / Math.log2(alphabetSize(l)); } },
  { name: 'dns.subdomain_len', type: 'num', kinds: 'dns', doc: 'length of dns.name before dns.domain (without the joining dot; 0 for the domain itself): the part of a name that can carry data',
    get: (ev, c) => { const n = c.g(S_DNS_NAME) as string | undefined; if (n === undefined) return undefined; const d = domainMemo(c.domainMemo, n)!; return n.length > d.length ? n.length - d.length - 1 : 0; } },
  // --- res (kind 'resource') ---
  { name: 'res.scope', type: 'str', kinds: 'resource', doc: "sample scope ('tool_call', 'process', 'background': unexpected processes of ended calls summed across calls, 'gpu' …)", get: (ev) => (ev.kind === 'resource' ? str(P(ev).scope) : undefined) },
  { name: 'res.cpu_pct', type: 'num', kinds: 'resource', doc: 'p.cpu_pct: CPU use over the sample interval, % of one core (sensors that sample periodically set it)', get: (ev) => (ev.kind === 'resource' ? num(P(ev).cpu_pct) : undefined) },
  { name: 'res.calls', type: 'num', kinds: 'resource', doc: "p.calls: how many tool calls' processes a 'background' sample sums", get: (ev) => (ev.kind === 'resource' ? num(P(ev).calls) : undefined) },
  { name: 'res.split', type: 'str', kinds: 'resource', doc: "p.split: a 'background' sample's calls with their CPU shares ('call-2 40%, call-3 37%')", get: (ev) => (ev.kind === 'resource' ? str(P(ev).split) : undefined) },
  { name: 'res.young', type: 'bool', kinds: 'resource', doc: 'p.young: a process sample first taken when the process was under 50 ms old (its cpu_pct, capped at one core, is measured over that short life)', get: (ev) => (ev.kind === 'resource' ? P(ev).young === true : undefined) },
  { name: 'res.cpu_ns', type: 'num', kinds: 'resource', doc: 'cumulative CPU time', get: (ev) => (ev.kind === 'resource' ? num(P(ev).cpu_ns) : undefined) },
  { name: 'res.mem_bytes', type: 'num', kinds: 'resource', doc: 'p.memory_peak_bytes (else p.mem_bytes)', get: (ev) => (ev.kind === 'resource' ? num(P(ev).memory_peak_bytes ?? P(ev).mem_bytes) : undefined) },
  { name: 'res.pids', type: 'num', kinds: 'resource', doc: 'processes in the cgroup', get: (ev) => (ev.kind === 'resource' ? num(P(ev).pids) : undefined) },
  { name: 'res.oom_kills', type: 'num', kinds: 'resource', doc: 'OOM kills in the cgroup', get: (ev) => (ev.kind === 'resource' ? num(P(ev).oom_kills) : undefined) },
  { name: 'res.pids_max_hits', type: 'num', kinds: 'resource', doc: 'forks refused by pids.max', get: (ev) => (ev.kind === 'resource' ? num(P(ev).pids_max_hits) : undefined) },
  { name: 'res.throttled_periods', type: 'num', kinds: 'resource', doc: 'CPU quota throttling periods', get: (ev) => (ev.kind === 'resource' ? num(P(ev).throttled_periods) : undefined) },
  // --- gpu (future GPU samples: any kind whose payload carries these keys) ---
  { name: 'gpu.util_pct', type: 'num', kinds: 'resource', doc: 'p.gpu_util_pct', get: (ev) => num(P(ev).gpu_util_pct) },
  { name: 'gpu.mem_bytes', type: 'num', kinds: 'resource', doc: 'p.gpu_mem_bytes', get: (ev) => num(P(ev).gpu_mem_bytes) },
  { name: 'gpu.process', type: 'str', kinds: 'resource', doc: 'p.gpu_process: name of the process using the GPU', get: (ev) => str(P(ev).gpu_process) },
];

/** Public description of every static field (docs, `corral rules fields`). */
export const FIELDS: FieldInfo[] = DEFS.filter((d) => !d.name.startsWith('_')).map(({ name, type, kinds, doc }) => ({ name, type, kinds, doc }));
const BY_NAME = new Map(DEFS.map((d, i) => [d.name, i] as const).filter(([n]) => !n.startsWith('_')));
const INDEXED = /^proc\.arg\[(\d{1,4})\]$/;

export interface FieldRef { name: string; type: FieldType; slot: number }

/**
 * Maps field names (and their lower-cased variants) to cache slots for one rule set. Static fields
 * occupy the first slots in DEFS order; proc.arg[N] and lower-case variants are added on demand.
 */
/** Everything the static getters' source text refers to (see cloneGetter). */
const GETTER_SCOPE: Record<string, unknown> = {
  P, str, num, bool, strings, NET_KINDS, S_ARGV, S_EXE, S_DNS_NAME, S_DNS_LABELS, S_DST_IP, S_NET_NAME, S_DNS_STATS,
  basename, normName, lastLabels, labelStats, shannon, classifyMemo, domainMemo, alphabetSize, canonicalExe, shellRelay,
};

/**
 * A copy of a getter with its own inline caches. Payload shapes differ per event kind, so one
 * shared getter sees them all and its property loads go megamorphic; a copy per kind stays
 * monomorphic (several times faster). With `kind`, the copy is only ever called for events of
 * that kind (the engine dispatches on ev.kind), so `ev.kind` and the kind-set tests fold to
 * constants. Falls back to the original if the copy cannot be built.
 */
export function cloneGetter(g: Getter, kind?: string): Getter {
  try {
    let src = g.toString();
    if (kind !== undefined) {
      src = src.replaceAll('NET_KINDS.has(ev.kind)', String(NET_KINDS.has(kind))).replaceAll('ev.kind', JSON.stringify(kind));
    }
    const names = Object.keys(GETTER_SCOPE);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function(...names, `"use strict"; return (${src});`)(...names.map((n) => GETTER_SCOPE[n])) as Getter;
  } catch { return g; }
}

export class FieldTable {
  readonly getters: Getter[] = DEFS.map((d) => d.get);
  private extra = new Map<string, number>();
  private perKind = new Map<string, Getter[]>();

  /** Getters specialised for events whose ev.kind is exactly `kind` (static ones cloned with the
   *  kind folded in; extra slots shared). Never use them for an event of another kind. */
  gettersFor(kind: string): Getter[] {
    let g = this.perKind.get(kind);
    if (!g) { g = this.getters.map((x, i) => (i < DEFS.length ? cloneGetter(x, kind) : x)); this.perKind.set(kind, g); }
    for (let i = g.length; i < this.getters.length; i++) g.push(this.getters[i]!);
    return g;
  }

  /** Every field name a rule, output or window of this table's rule set has asked for. */
  readonly resolved = new Set<string>();

  /** Resolves a field name; undefined when unknown. */
  resolve(name: string): FieldRef | undefined {
    this.resolved.add(name);
    const i = BY_NAME.get(name);
    if (i !== undefined) return { name, type: DEFS[i]!.type, slot: i };
    const m = INDEXED.exec(name);
    if (!m) return undefined;
    const n = Number(m[1]);
    return { name, type: 'str', slot: this.slotFor(name, (ev, c) => (c.g(S_ARGV) as string[] | undefined)?.[n]) };
  }

  /** Slots whose values other getters read through the cache (see cachedSlots). */
  private deps = new Set<number>([S_ARGV, S_EXE, S_DNS_NAME, S_DNS_LABELS, S_DST_IP, S_NET_NAME, S_DNS_STATS]);

  /** Slots that generated code must read through a FieldCache, not with a private getter call:
   *  other getters (the S_* helpers, lower-case variants, proc.arg[N]) read them from the cache. */
  cachedSlots(): ReadonlySet<number> { return this.deps; }

  /** Slot holding the lower-cased value of a string or string-array field. */
  lowerSlot(f: FieldRef): number {
    this.deps.add(f.slot);
    return this.slotFor(`lower:${f.name}`, (ev, c) => {
      const v = c.g(f.slot);
      if (typeof v === 'string') return v.toLowerCase();
      return Array.isArray(v) ? v.map((x: string) => x.toLowerCase()) : undefined;
    });
  }

  private slotFor(key: string, get: Getter): number {
    let s = this.extra.get(key);
    if (s === undefined) {
      s = this.getters.length;
      this.getters.push(get);
      this.extra.set(key, s);
      for (const g of this.perKind.values()) g.push(get);
    }
    return s;
  }

  /** Memo of address classes, shared by this table's caches. */
  readonly classMemo = new Map<string, string | undefined>();

  /** Memo of registrable-domain guesses (dns.domain, net.domain), shared by this table's caches. */
  readonly domainMemo = new Map<string, string>();

  newCache(): FieldCache { return new FieldCache(this.getters, this.classMemo, this.domainMemo); }
}

/** Per-event lazy cache of field values. reset() starts a new event in O(1). */
export class FieldCache {
  ev: EngineEvent = { id: '', ts: '0', kind: 'exec', session: '', payload: {} };
  private gen = 1;
  private gens: Uint32Array;
  private vals: unknown[];
  private getters: Getter[];
  constructor(private readonly base: Getter[], readonly classMemo: Map<string, string | undefined> = new Map(),
    readonly domainMemo: Map<string, string> = new Map()) {
    this.getters = base;
    this.gens = new Uint32Array(base.length + 16);
    this.vals = new Array(base.length + 16).fill(undefined);
  }
  /** Starts a new event; `getters` may be a kind-specialised set from FieldTable.gettersFor. */
  reset(ev: EngineEvent, getters: Getter[] = this.base): this {
    this.ev = ev;
    this.getters = getters;
    if (++this.gen === 0xffffffff) { this.gens.fill(0); this.gen = 1; }
    if (this.gens.length < this.getters.length) {
      this.gens = new Uint32Array(this.getters.length + 16);
      this.vals = new Array(this.getters.length + 16).fill(undefined);
    }
    return this;
  }
  g(i: number): unknown {
    if (this.gens[i] === this.gen) return this.vals[i];
    let v: unknown;
    try { v = this.getters[i]!(this.ev, this); } catch { v = undefined; }
    this.gens[i] = this.gen;
    this.vals[i] = v;
    return v;
  }
}
