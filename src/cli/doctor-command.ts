// Why: `corral doctor` checks every prerequisite of the sandbox, gateway and sensors, and the
// event store, and says exactly what is missing and how to fix it, instead of failing mid-run.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { release } from 'node:os';
import { KernelBtf } from '../sensors/kernel-btf.js';
import { structDefinitions } from '../sensors/sensor-types.js';
import { jsonLinesAddon } from '../investigate/inputs/json-lines.js';
import { detectCgroupLayout } from '../sandbox/cgroups.js';
import { enterBinary, loadGatewayNative } from '../sandbox/launcher.js';
import { resolveHome } from '../store/home.js';
import { checkStore } from '../store/store-check.js';
import { makeStyle, safeText } from './style.js';
import type { CliIO } from './io.js';

export interface Check { name: string; ok: boolean; required: boolean; detail: string; fix?: string }

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
function read(p: string): string | undefined { try { return readFileSync(p, 'utf8').trim(); } catch { return undefined; } }

/** `home`: the event store to check (default $CORRAL_HOME or /var/lib/corral). */
export function runChecks(home: string = resolveHome()): Check[] {
  const c: Check[] = [];
  const setup = 'run: scripts/setup.sh';
  c.push({ name: 'root', ok: process.getuid?.() === 0, required: true, detail: `uid ${process.getuid?.()}`, fix: 'run corral as root (sudo)' });
  const [maj, min] = release().split('.').map(Number);
  c.push({ name: 'kernel', ok: (maj! > 5) || (maj === 5 && min! >= 14), required: true, detail: release(), fix: 'Linux 5.14+ is needed (cgroup.kill)' });
  const layout = detectCgroupLayout();
  const limits = layout.unifiedControllers || (!!layout.v1.cpu && !!layout.v1.memory && !!layout.v1.pids);
  c.push({ name: 'cgroup limits (cpu, memory, pids)', ok: limits, required: true, detail: layout.unifiedControllers ? 'cgroup2 controllers' : `v1: ${Object.keys(layout.v1).join(', ') || 'none'}`, fix: 'mount the cpu, memory and pids controllers (cgroup v1) or enable them in cgroup2' });
  c.push({ name: 'cgroup2 (kill, populated events)', ok: !!layout.unified && existsSync(`${layout.unified}/cgroup.procs`), required: true, detail: layout.unified || 'not mounted', fix: 'mount -t cgroup2 none /sys/fs/cgroup/unified' });
  const userns = Number(read('/proc/sys/user/max_user_namespaces') ?? '0');
  c.push({ name: 'user namespaces', ok: userns > 0, required: true, detail: `max_user_namespaces=${userns}`, fix: 'sysctl -w user.max_user_namespaces=10000' });
  for (const [bin, pkg] of [['bwrap', 'bubblewrap'], ['nft', 'nftables'], ['ip', 'iproute2'], ['sysctl', 'procps']] as const) {
    const p = which(bin);
    c.push({ name: bin, ok: !!p, required: true, detail: p ?? 'not found', fix: `apt-get install -y ${pkg} (or ${setup})` });
  }
  let native = '';
  try { native = enterBinary(); } catch (e) { native = ''; c.push({ name: 'native helpers', ok: false, required: true, detail: (e as Error).message, fix: 'npm run build' }); }
  if (native) c.push({ name: 'native helpers', ok: existsSync(native.replace('corral-enter', 'original-dst.node')), required: true, detail: native, fix: 'npm run build' });
  const store = checkStore(home);
  if (native) {
    let abi = 0;
    try { abi = Number(execFileSync(native, ['--landlock-abi'], { encoding: 'utf8' }).trim()) || 0; } catch { /* reported as 0 */ }
    c.push({ name: 'Landlock (tool calls kept out of each other\'s processes)', ok: abi > 0, required: false, detail: abi > 0 ? `ABI ${abi}` : 'not available', fix: 'a kernel with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm= (5.13+); without it a later tool call can write into an earlier call\'s background process through /proc/PID/mem' });
    // (a template namespace made and given up at once: what every runtime does at start, mount-template.ts)
    const tmpl = spawnSync(native, ['--mount-template-serve'], { input: '', encoding: 'utf8', timeout: 5000 });
    const tmplOk = tmpl.status === 0 && tmpl.stdout.startsWith('ready');
    c.push({ name: 'template mount namespace (sandbox starts that do not slow down with the number of sandboxes)', ok: tmplOk, required: false,
      detail: tmplOk ? 'corral-enter --mount-template-serve works (open_tree/move_mount: Linux 5.2+)' : `not available: ${(tmpl.stderr || tmpl.error?.message || `exit ${tmpl.status}`).trim()}`,
      fix: 'Linux 5.2+ and CAP_SYS_ADMIN; without it every sandbox starts from the host\'s mount namespace, ≈ 0.1 ms slower per sandbox on the host' });
  }
  c.push({ name: 'event store', ok: store.ok, required: true, detail: store.detail, ...(store.fix !== undefined ? { fix: store.fix } : {}) });
  const serveKernel = (maj! > 6) || (maj === 6 && min! >= 5);
  const peerFds = native ? existsSync(native.replace('corral-enter', 'peer-fds.node')) : false;
  c.push({ name: 'corral serve (stdio borrowing)', ok: serveKernel && peerFds, required: false,
    detail: !serveKernel ? `Linux ${release()} lacks SO_PEERPIDFD (6.5+): corral serve cannot start; corral run runs locally` : peerFds ? 'peer-fds.node built, SO_PEERPIDFD available' : 'peer-fds.node not built',
    fix: serveKernel ? 'npm run build' : 'Linux 6.5+ for corral serve (everything else works without it)' });
  const scanner = jsonLinesAddon();
  const fileTool = native ? native.replace('corral-enter', 'corral-file') : undefined;
  c.push({ name: 'file tools (corral-file)', ok: !!fileTool && existsSync(fileTool), required: true, detail: fileTool && existsSync(fileTool) ? `${fileTool} (static; write/read/str_replace/multi_edit/insert run inside the sandbox, any root)` : 'native/corral-file is not built: sessions cannot start', fix: 'npm run build (needs gcc and the static C library, libc6-dev)' });
  const fwatch = native ? native.replace('corral-enter', 'corral-fwatch') : undefined;
  const fanotify = existsSync('/proc/sys/fs/fanotify/max_user_marks') || existsSync('/proc/sys/fs/fanotify');
  c.push({ name: 'file writers (persistence blamed by writer)', ok: !!fwatch && existsSync(fwatch) && fanotify, required: false,
    detail: !fwatch || !existsSync(fwatch) ? 'native/corral-fwatch is not built: persistence files are blamed by their change time' : fanotify ? `${fwatch}; fanotify filesystem marks on each session's disk workspace` : 'this kernel has no fanotify: persistence files are blamed by their change time',
    fix: 'npm run build (needs gcc); a kernel with CONFIG_FANOTIFY (Linux 5.1+ for filesystem marks)' });
  let ct = 'original-dst.node not built';
  try { ct = loadGatewayNative().conntrackProbe(); } catch { /* (said by the native helpers line) */ }
  c.push({ name: 'conntrack netlink (gateway flows joined to their process by the agent\'s own source port)', ok: ct === 'ENOENT', required: false,
    detail: ct === 'ENOENT' ? 'ctnetlink answers: a source port the redirect remapped (a reused one) is read back from conntrack' : `ctnetlink does not answer (${ct}): a flow whose source port the redirect remapped is attributed by its connect() records or inferred`,
    fix: 'a kernel with CONFIG_NF_CT_NETLINK (module nf_conntrack_netlink)' });
  const fastSpawn = native ? existsSync(native.replace('corral-enter', 'fast-spawn.node')) : false;
  c.push({ name: 'tool call start (posix_spawn)', ok: fastSpawn, required: false,
    detail: fastSpawn ? 'fast-spawn.node built: a tool call\'s launcher starts without a fork of Corral\'s process' : 'fast-spawn.node not built: each tool call forks Corral\'s process (slower as it grows)', fix: 'npm run build (needs gcc)' });
  c.push({ name: 'JSON Lines scanner (investigate speed)', ok: !!scanner, required: false, detail: scanner ? 'native/json-lines.c loaded' : 'not loaded: `corral investigate` parses every line with JSON.parse (same answers, ~2x slower)', fix: 'npm run build (needs gcc)' });
  const mkfs = which('mkfs.ext4'), loop = existsSync('/dev/loop-control');
  c.push({ name: 'disk-capped workspaces (resources.workspace_disk, on by default)', ok: !!mkfs && loop, required: false,
    detail: mkfs && loop ? `${mkfs}, /dev/loop-control; ${runDirNote()}` : `${mkfs ? '' : 'mkfs.ext4 not found; '}${loop ? '' : 'no /dev/loop-control (loop devices)'}: workspaces go uncapped (one warning per run) and a policy that names workspace_disk cannot start sessions`.replace(/; :/, ':'),
    fix: `apt-get install -y e2fsprogs; modprobe loop (or ${setup})` });
  const bpf = which('bpftrace');
  const shim = native ? existsSync(native.replace('corral-enter', 'tracefs-events-shim.so')) : false;
  c.push({ name: 'bpftrace (exec/connect sensor)', ok: !!bpf, required: false,
    detail: !bpf ? 'not found' : shim ? `${bpf} (started with a short tracefs event list: tracefs-events-shim.so)` : `${bpf}; tracefs-events-shim.so is not built: the sensor starts ≈ 0.8 s slower`,
    fix: bpf ? 'npm run build' : `apt-get install -y bpftrace (or ${setup})` });
  const tracefs = existsSync('/sys/kernel/tracing/events');
  c.push({ name: 'tracefs', ok: tracefs, required: false, detail: tracefs ? '/sys/kernel/tracing' : 'not mounted', fix: 'mount -t tracefs nodev /sys/kernel/tracing' });
  const sendLength = tracefs && existsSync('/sys/kernel/tracing/events/sock/sock_send_length');
  c.push({ name: 'DNS query source ports (sock:sock_send_length)', ok: sendLength, required: false, detail: sendLength ? 'DNS queries joined to their sender by source port' : 'not available: DNS queries are joined to their sender by time (a guess while several tool calls resolve, never killed on)', fix: 'Linux 6.3+' });
  const btf = existsSync('/sys/kernel/btf/vmlinux');
  let types = '';
  if (btf) {
    try { structDefinitions(KernelBtf.fromFile()); types = '; the sensor\'s kernel types are written from it (fast start)'; } catch (e) { types = `; the sensor's kernel types cannot be written from it (${(e as Error).message}): bpftrace reads BTF itself, its start ≈ 1 s slower`; }
  }
  c.push({ name: 'BTF', ok: btf, required: false, detail: btf ? `/sys/kernel/btf/vmlinux${types}` : 'absent', fix: 'a kernel built with CONFIG_DEBUG_INFO_BTF' });
  const nflog = read('/proc/sys/net/netfilter/nf_log_all_netns');
  c.push({ name: 'nft logging from namespaces', ok: nflog === '1', required: false, detail: `nf_log_all_netns=${nflog ?? 'absent'}`, fix: 'sysctl -w net.netfilter.nf_log_all_netns=1 (needed to record blocked UDP/ICMP)' });
  c.push(corePatternCheck(read('/proc/sys/kernel/core_pattern')));
  const kmsg = existsSync('/dev/kmsg');
  c.push({ name: '/dev/kmsg', ok: kmsg, required: false, detail: kmsg ? 'readable' : 'absent', fix: 'needed to record blocked non-TCP packets' });
  return c;
}

/**
 * The host's core_pattern. A pipe (`|/usr/share/apport/apport …`, systemd-coredump) makes the kernel start that
 * helper as root, in the host's namespaces and root cgroup, for every crash — a sandboxed process's too: the
 * kernel ignores RLIMIT_CORE for pipes (except the value 1, which the agent may lower to 0), so no limit Corral
 * sets inside can stop it. Each crash then costs host CPU and disk outside every sandbox limit and puts a root
 * parser of agent-shaped data in reach. Only the host can turn it off.
 */
export function corePatternCheck(pattern: string | undefined): Check {
  const pipe = pattern?.startsWith('|') === true;
  return {
    name: 'core dumps stay inside the sandbox (kernel.core_pattern)', ok: !pipe, required: false,
    detail: pipe ? `core_pattern is a pipe (${pattern!.slice(0, 120)}): every crash in a sandbox starts that helper as root on the host, outside the sandbox and its limits`
      : `core_pattern=${pattern ?? 'absent'} (a file: RLIMIT_CORE 0 in every sandbox writes none)`,
    fix: 'sysctl -w kernel.core_pattern=core (and disable apport / systemd-coredump on hosts that run sandboxes)',
  };
}

export const DOCTOR_USAGE = `Usage: corral doctor [--json] [--home DIR]
  Checks every prerequisite (root, kernel features, cgroup v2 controllers, bubblewrap, nftables,
  tracefs and the eBPF sensor, the native addons, …) and says what is missing and how to fix it.
  The event store (--home DIR, default $CORRAL_HOME or /var/lib/corral) is read-only checked: it
  is readable, its index opens and passes SQLite's quick_check, and every session log is indexed.
  --json: {"ok", "checks": [{"name", "ok", "required", "detail", "fix"}]}. Exit 0 when every
  required check passes, 1 otherwise.`;

export async function doctorCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean' }, home: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout.write(`${DOCTOR_USAGE}\n`); return 0; }
  const checks = runChecks(resolveHome(values.home, io.env));
  const ok = checks.every((c) => c.ok || !c.required);
  if (values.json) { io.stdout.write(`${JSON.stringify({ ok, checks })}\n`); return ok ? 0 : 1; }
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  for (const c of checks) {
    const mark = c.ok ? st.green('ok  ') : c.required ? st.red('FAIL') : st.yellow('warn');
    io.stdout.write(`${mark} ${c.name.padEnd(34)} ${st.dim(safeText(c.detail))}\n`);
    if (!c.ok && c.fix) io.stdout.write(`     ${st.dim('fix:')} ${safeText(c.fix)}\n`);
  }
  io.stdout.write(ok ? st.green('\ncorral doctor: ready\n') : st.red('\ncorral doctor: not ready (see FAIL lines)\n'));
  return ok ? 0 : 1;
}

/** Where the workspaces' sparse files live, and what that filesystem is (a small tmpfs spends memory on them). */
function runDirNote(): string {
  const dir = process.env.CORRAL_RUN_DIR ?? '/run/corral';
  let at = dir;
  while (!existsSync(at) && at !== '/') at = at.slice(0, at.lastIndexOf('/')) || '/';
  try {
    const st = statfsSync(at);
    const free = Number(st.bavail) * Number(st.bsize);
    // (0x01021994: TMPFS_MAGIC)
    const tmpfs = Number(st.type) === 0x01021994;
    return `their files live under ${dir} (${tmpfs ? 'a tmpfs: memory, not disk; set CORRAL_RUN_DIR to a directory on disk, ' : ''}${(free / 1024 ** 3).toFixed(1)} GiB free)`;
  } catch {
    return `their files live under ${dir}`;
  }
}
