// Limits on real cgroups: a fork bomb hits the pids cap, a memory hog is OOM-killed and
// reported (so is a call whose files fill a tmpfs: never the sandbox's holder), a runaway call
// hits its timeout (with the processes it left behind), and Corral stays healthy afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HOME } from '../src/store/home.js';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import type { SessionOptions, ToolCallSpec } from '../src/session/session.js';
import { policyDigest } from '../src/policy/policy-digest.js';
import { tmpScratchBytes } from '../src/sandbox/bwrap-args.js';
import { DEFAULT_WORKSPACE_DISK } from '../src/policy/schema.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }, { kind: 'sink', port: 443 }] }], 'lablim'); });
after(async () => { await fx?.close(); });

const LIMITS = 'resources:\n  pids: 48\n  memory: 96MiB\n  timeout: 3s\n  cpus: 0.5\n';

test('a fork bomb hits the pids cap and is reported as resource_abuse', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(LIMITS), episode: 'limits' });
  try {
    // bounded "fork bomb": tries to hold 200 processes at once
    const r = await s.exec({ command: 'for i in $(seq 200); do sleep 2 & done 2>/dev/null; wait; echo survived', step: 1, toolCallId: 'bomb' });
    assert.equal(r.alerts.filter((a) => a.payload.rule === 'limit.pids').length, 1, JSON.stringify(r.alerts.map((a) => a.payload.rule)));
    assert.equal(r.alerts[0]!.payload.category, 'resource_abuse');
    assert.equal(r.alerts[0]!.tool_call, 'bomb');
    const ok = await s.exec({ command: 'echo still-alive', step: 2, toolCallId: 'after' });
    assert.equal(ok.stdout.trim(), 'still-alive');
    assert.deepEqual(ok.alerts, []);
  } finally { await s.close(); }
});

test('a memory hog is OOM-killed and reported', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(LIMITS), episode: 'limits' });
  try {
    const r = await s.exec({ command: 'x = bytearray(400 * 1024 * 1024)\nprint("allocated")', tool: 'python', step: 1, toolCallId: 'hog' });
    assert.notEqual(r.exitCode, 0);
    assert.ok(!r.stdout.includes('allocated'));
    const oom = r.alerts.find((a) => a.payload.rule === 'limit.memory_oom');
    assert.ok(oom, JSON.stringify(r.alerts.map((a) => a.payload.rule)));
    // (a limit is `blocked`; `killed` is response.kill's: a user review, session 41)
    assert.equal(oom.payload.action, 'blocked');
    const peak = s.events.find((e) => e.kind === 'resource' && e.tool_call === 'hog')!;
    assert.ok(Number(peak.payload.memory_peak_bytes) <= 96 * 1024 * 1024 + 4096);
  } finally { await s.close(); }
});

test('files filling /tmp get ENOSPC below the memory limit and the session cleans up; past the limit (/tmp and /dev/shm) the OOM kills the call\'s process, not the sandbox', async () => {
  // tmpfs pages belong to no process and count against the memory limit. Uncapped, a full /tmp made every
  // later call an OOM kill (rm included); and the OOM killer picked bwrap (the sandbox's holder), ending
  // the session with exit 137, no alert and a clean verdict.
  const s = await fx.rt.createSession({ policy: labPolicy(LIMITS), episode: 'tmpfs-oom' });
  try {
    const full = await s.exec({ command: 'head -c 200000000 /dev/zero > /tmp/big; echo "rc=$?"; stat -c %s /tmp/big; df -k /tmp | tail -1', step: 1, toolCallId: 'fill' });
    assert.match(full.stdout + full.stderr, /No space left on device/);
    assert.equal(Number(full.stdout.split('\n')[1]), tmpScratchBytes(96 << 20), `/tmp holds the memory limit less the reserve: ${full.stdout}`);
    assert.deepEqual(full.alerts.map((a) => a.payload.rule).filter((r) => r.startsWith('limit.memory')), [], 'no OOM');
    const tmpAlert = full.alerts.filter((a) => a.payload.rule === 'limit.tmp');
    assert.equal(tmpAlert.length, 1, JSON.stringify(full.alerts.map((a) => a.payload.rule)));
    assert.match(tmpAlert[0]!.payload.reason ?? '', /^\/tmp is full \(limit 72 MiB/);
    const clean = await s.exec({ command: 'rm /tmp/big && echo cleaned', step: 2, toolCallId: 'clean' });
    assert.equal(clean.stdout.trim(), 'cleaned');
    assert.deepEqual(clean.alerts.map((a) => a.payload.rule), []);
    const r = await s.exec({ command: 'head -c 80000000 /dev/zero > /tmp/a; head -c 80000000 /dev/zero > /dev/shm/b; echo "rc=$?"', step: 3, toolCallId: 'both' });
    assert.ok(r.alerts.some((a) => a.payload.rule === 'limit.memory_oom'), `${JSON.stringify(r.alerts.map((a) => a.payload.rule))} ${r.stdout}${r.stderr}`);
    assert.ok(!s.events.some((e) => e.kind === 'session.end'), 'the sandbox was not killed');
    const status = readFileSync(`/proc/${(s as unknown as { nsInitPid: number }).nsInitPid}/status`, 'utf8');
    assert.match(status, /^Name:\s+corral-holder/m, 'the holder is alive');
  } finally { await s.close(); }
});

test('a runaway call hits its timeout; it and its background children are killed; the session goes on', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(LIMITS), episode: 'limits' });
  try {
    const t0 = Date.now();
    const r = await s.exec({ command: '(sleep 60 &) ; sleep 60', step: 1, toolCallId: 'runaway', timeoutMs: 1500 });
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, 124);
    const limit = r.alerts.find((a) => a.payload.rule === 'limit.timeout' && a.payload.category === 'resource_abuse');
    assert.ok(limit);
    // the agent reads the timeout it had, not a rounding of it (1500 ms was "2 s", 300 ms "0 s")
    assert.equal(limit.payload.reason, 'The tool call ran longer than 1.5 s and was killed.');
    // a limit, not response.kill: the session's verdict is blocked, not killed (a user review, session 41)
    assert.deepEqual([limit.payload.action, limit.payload.attack], ['blocked', []]);
    // a command killed by a signal is named by it; one that exits 137 itself is not (a user review, session 41)
    const killed = await s.exec({ command: 'kill -9 $$', step: 4, toolCallId: 'self-kill' });
    assert.deepEqual([killed.exitCode, killed.signal], [137, 'SIGKILL']);
    const exited = await s.exec({ command: 'exit 137', step: 5, toolCallId: 'exit-137' });
    assert.deepEqual([exited.exitCode, exited.signal], [137, null]);
    // a call cannot ask for more time than the policy gives (3 s here): its timeout_ms is cut to it
    const t1 = Date.now();
    const longer = await s.exec({ command: 'sleep 8', step: 3, toolCallId: 'asks-more', timeoutMs: 20_000 });
    assert.equal(longer.timedOut, true);
    assert.ok(Date.now() - t1 < 6500, `ended at the policy's 3 s: ${Date.now() - t1} ms`);
    const ps = await s.exec({ command: 'ps -eo stat=,comm= | grep -c " sleep$" || true; ps -eo pid,ppid,stat,comm,args >&2', step: 2, toolCallId: 'ps' });
    assert.equal(ps.stdout.trim(), '0', `the background sleep of the timed-out call was killed too: ${ps.stderr}`);
  } finally { await s.close(); }
});

test('files and background processes persist between calls of a session; not across sessions', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist' });
  try {
    await s.exec({ command: 'echo data > note.txt; nohup sleep 30 >/dev/null 2>&1 & echo started', step: 1 });
    const r = await s.exec({ command: 'cat note.txt; ps -eo comm= | grep -c "^sleep"', step: 2 });
    assert.deepEqual(r.stdout.trim().split('\n'), ['data', '1']);
  } finally { await s.close(); }
  const s2 = await fx.rt.createSession({ policy: labPolicy(), episode: 'persist-2' });
  try {
    const r = await s2.exec({ command: 'ls; ps -eo comm= | grep -c "^sleep" || true', step: 1 });
    assert.equal(r.stdout.trim(), '0');
  } finally { await s2.close(); }
});

test('a call returns when its command exits even if a background process keeps its output open; that process lives on', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'held-output' });
  try {
    const t0 = Date.now();
    const r = await s.exec({ step: 1, command: 'sleep 60 & echo started; echo err-line >&2' });
    assert.ok(Date.now() - t0 < 5_000, `returned after ${Date.now() - t0} ms, not when the background sleep ends`);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'started\n');
    assert.match(r.stderr, /^err-line\n/);
    assert.match(r.stderr, /a background process of this call still holds its output open/);
    const next = await s.exec({ step: 2, command: 'pgrep -c -x sleep' });
    assert.equal(next.stdout.trim(), '1', 'the background process was not killed (no SIGPIPE either)');
    const quick = await s.exec({ step: 3, command: 'head -c 300000 /dev/zero | tr "\\0" x; echo' });
    assert.equal(quick.stdout.length, 300001, 'output written just before the exit is all there');
    assert.doesNotMatch(quick.stderr, /holds its output/);
  } finally { await s.close(); }
});

test('refused sockets are recorded and alerted with the pid and the tool call: vsock (the hypervisor, past the netns), raw, packet', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'sockets' });
  try {
    const r = await s.exec({ step: 1, toolCallId: 'socks', command: [
      'python3 -c "import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)" 2>/dev/null; echo vsock=$?',
      'python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)" 2>/dev/null; echo raw=$?',
      'python3 -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)" 2>/dev/null; echo packet=$?',
      'python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(); socket.socket(socket.AF_UNIX).close()"; echo ok=$?',
    ].join('; ') });
    assert.equal(r.stdout.trim(), 'vsock=1\nraw=1\npacket=1\nok=0');
    const rules = r.alerts.map((a) => a.payload.rule).sort();
    assert.deepEqual(rules, ['socket.raw', 'socket.raw', 'socket.vsock'], JSON.stringify(r.alerts.map((a) => a.payload.message)));
    for (const a of r.alerts) {
      assert.equal(a.tool_call, 'socks');
      assert.ok(typeof a.pid === 'number' && a.pid > 0, 'the refusing process is named');
      assert.equal(a.payload.category, 'policy_violation');
    }
    assert.match(String(r.alerts.find((a) => a.payload.rule === 'socket.vsock')!.payload.message), /socket\(AF_VSOCK, SOCK_STREAM\) refused: vsock reaches the hypervisor/);
  } finally { await s.close(); }
});

test('the sandbox holds: no root, no capabilities, NoNewPrivs, seccomp, read-only root, hidden secrets, no namespaces', async () => {
  // (Corral's default store exists on any machine that ran it; it must look empty from inside, not "permission denied")
  mkdirSync(DEFAULT_HOME, { recursive: true, mode: 0o700 });
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'walls' });
  try {
    const r = await s.exec({ step: 1, command: [
      'id -u', 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t" " "',
      'touch /usr/x 2>/dev/null && echo usr-writable || echo usr-ro',
      'ls /root 2>/dev/null && echo root-visible || echo root-hidden',
      'unshare -n true 2>/dev/null && echo unshare-ok || echo unshare-denied',
      'python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)" 2>/dev/null && echo raw-ok || echo raw-denied',
      'python3 -c "import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)" 2>&1 | grep -o "Errno 97" || echo vsock-ok',
      'env | grep -c CORRAL || true', 'touch /workspace/w && echo ws-writable', '(ls -A /var/lib/corral 2>&1 || true) | wc -l', 'ps -e --no-headers | wc -l',
      // the host's cgroup tree (other sandboxes' usage) and its network interfaces are not shown
      'ls -A /sys/fs/cgroup | wc -l', 'ls -A /sys/class/net /sys/devices/virtual/net | grep -c crl || true', 'test -d /sys/devices/system/cpu && echo sys-cpu',
      // the host's logs (who logged in from where, what it installed) are hidden by the default policy
      'ls -A /var/log | wc -l',
      // covers over hidden places and /dev itself are read-only; /run is sized like /tmp (not the host's memory)
      'for d in /var/log /sys/fs/cgroup /sys/firmware /dev; do touch $d/x 2>/dev/null && echo $d-writable; done; echo covers-checked',
      'test $(df -k --output=size /run | tail -1) -le $(df -k --output=size /tmp | tail -1) && echo run-sized',
    ].join('; ') });
    assert.deepEqual(r.stdout.trim().split('\n'), ['65534', 'CapEff: 0000000000000000', 'NoNewPrivs: 1', 'Seccomp: 2', 'usr-ro', 'root-hidden', 'unshare-denied', 'raw-denied', 'Errno 97', '0', 'ws-writable', '0', r.stdout.trim().split('\n')[12]!, '0', '0', 'sys-cpu', '0', 'covers-checked', 'run-sized']);
    assert.ok(Number(r.stdout.trim().split('\n')[12]) < 10, 'only the sandbox processes are visible');
  } finally { await s.close(); }
});

test('the process that waits for a tool call (corral-enter, in the sandbox\'s namespaces) holds no capability and cannot gain one; no call can dump core', async () => {
  // (a review, session 31: the waiter never execs, so its uid drop from the user namespace's unmapped root kept every
  // capability there — CapEff 1ffffffffff, no NoNewPrivs — one leak away from CAP_SYS_ADMIN in the sandbox)
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'waiter' });
  try {
    const call = s.exec({ step: 1, command: 'ulimit -Hc; ulimit -c unlimited 2>/dev/null && echo raised || echo not-raised; sleep 2' });
    const waiters: string[] = [];
    // (from 0.5 s on: the call's own process has long been exec'd by then, only the waiter is still corral-enter)
    await new Promise((res) => setTimeout(res, 500));
    const until = Date.now() + 1300;
    while (Date.now() < until && waiters.length === 0) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        let status = '';
        try { status = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { continue; }
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
        if (/^Name:\s+corral-enter$/m.test(status) && uid !== 0) waiters.push(status.split('\n').filter((l) => /^(CapPrm|CapEff|CapAmb|NoNewPrivs):/.test(l)).join(' ').replace(/\s+/g, ' '));
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const r = await call;
    assert.equal(r.stdout, '0\nnot-raised\n', r.stderr);
    assert.ok(waiters.length >= 1, 'the call\'s waiter was seen');
    for (const w of waiters) assert.equal(w, 'CapPrm: 0000000000000000 CapEff: 0000000000000000 CapAmb: 0000000000000000 NoNewPrivs: 1');
  } finally { await s.close(); }
});

test('TCP buffers count against the memory limit: a sandbox cannot park host memory in its own loopback connections', async () => {
  // (cgroup v1 charges them only once the cgroup has a TCP limit: a review, session 23, held 1.5 GiB under a 128 MiB
  // limit and pushed the host's TCP memory past its pressure mark; v2 charges them to memory.max)
  const py = [
    'import socket',
    'def mem():',
    '    for l in open("/proc/net/sockstat"):',
    '        if l.startswith("TCP:"):',
    '            f = l.split(); return int(f[f.index("mem") + 1])',
    'm0 = mem()',
    'srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(512)',
    'keep, chunk = [], b"x" * 65536',
    'for i in range(100):',
    '    try:',
    '        c = socket.create_connection(srv.getsockname(), timeout=2); a, _ = srv.accept()',
    '    except OSError:',
    '        break',
    '    c.setblocking(False); keep += [c, a]',
    '    try:',
    '        for _ in range(200): c.send(chunk)',
    '    except OSError:',
    '        pass',
    'print((mem() - m0) * 4096 // (1 << 20))',
  ].join('\n');
  const s = await fx.rt.createSession({ policy: labPolicy('resources:\n  memory: 128MiB\n'), episode: 'tcp-buffers' });
  try {
    const r = await s.exec({ step: 1, tool: 'python', command: py, timeoutMs: 60_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const heldMiB = Number(r.stdout.trim());
    assert.ok(heldMiB <= 160, `the sandbox's TCP buffers stayed near its 128 MiB limit: ${heldMiB} MiB`);
  } finally { await s.close(); }
});

test('open files: a sandbox opening thousands of connections is held to its share of the gateway, and its neighbour is still served; sandboxes get a fixed descriptor limit, the host an unbounded count', { timeout: 120_000 }, async () => {
  // (a review, session 23: 3 400 allowed connections took the Corral process's 20 000 descriptors — six per
  // relayed flow — and another session's tool call failed to start with EMFILE)
  const { UNBOUNDED_FILE_MAX, SANDBOX_NOFILE } = await import('../src/sandbox/file-limits.js');
  const { MAX_FLOWS_PER_SANDBOX } = await import('../src/gateway/gateway.js');
  assert.equal(readFileSync('/proc/sys/fs/file-max', 'utf8').trim(), String(UNBOUNDED_FILE_MAX), 'the host-wide count no longer caps open files (memory limits do)');
  const own = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))!;
  assert.equal(own[1], own[2], 'Corral\'s soft descriptor limit is raised to its hard one');
  const N = MAX_FLOWS_PER_SANDBOX + 500;
  const hog = await fx.rt.createSession({ policy: labPolicy(), episode: 'fd-hog' });
  const other = await fx.rt.createSession({ policy: labPolicy(), episode: 'fd-neighbour' });
  try {
    const limits = await other.exec({ step: 1, command: 'ulimit -n; ulimit -Hn' });
    const expected = String(Math.min(SANDBOX_NOFILE, Number(own[2])));
    assert.deepEqual(limits.stdout.trim().split('\n'), [expected, expected], 'a sandbox\'s limit is its own (Corral\'s hard limit caps it where root cannot raise it)');
    const before = await fx.far.accepted('198.51.100.10', 443);
    // Each connection sends a request head (so its flow is judged and relayed) to a far host that never answers; held a while.
    const hold = hog.exec({ step: 1, tool: 'python', timeoutMs: 90_000, command: [
      'import socket, time',
      'ip = socket.gethostbyname("registry.test")',
      'keep = []',
      `for i in range(${N}):`,
      '    try:',
      '        s = socket.create_connection((ip, 443), timeout=10)',
      '        s.sendall(b"GET / HTTP/1.1\\r\\nHost: registry.test\\r\\n\\r\\n")',
      '        keep.append(s)',
      '    except OSError:',
      '        pass',
      'print("opened", len(keep), flush=True)',
      'time.sleep(8)',
    ].join('\n') });
    const reached = await fx.far.waitForAccepted('198.51.100.10', 443, before + MAX_FLOWS_PER_SANDBOX, 60_000);
    assert.equal(reached - before, MAX_FLOWS_PER_SANDBOX, 'the hog\'s connections up to its cap reached the far host');
    const r = await other.exec({ step: 2, command: 'echo still-served; curl -sS -m 5 -o /dev/null -w "%{http_code}" http://registry.test/' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['still-served', '200'], 'the neighbour still runs commands and still gets out');
    const h = await hold;
    assert.equal(h.exitCode, 0, h.stderr);
    assert.equal(await fx.far.accepted('198.51.100.10', 443) - before, MAX_FLOWS_PER_SANDBOX, 'no connection past the cap reached the far host');
    const capped = h.alerts.filter((a) => a.payload.rule === 'gateway.flow_limit');
    assert.ok(capped.length >= 1 && capped.every((a) => a.payload.category === 'resource_abuse' && a.tool_call === h.toolCallId),
      JSON.stringify(h.alerts.map((a) => [a.payload.rule, a.payload.message]).slice(0, 5)));
  } finally { await Promise.all([hog.close(), other.close()]); }
});

test('pseudo-terminals: a sandbox holds at most its own devpts\'s share (policy ptys, default 64); a neighbour still gets one; nothing is mounted on the host', async () => {
  // (a review, session 23: one sandbox opened 3 071 ptys — all of the host's pool for non-initial devpts
  // instances — and every other sandbox's openpty() failed with ENOSPC)
  const { DEFAULT_PTYS } = await import('../src/policy/schema.js');
  const devpts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / - devpts /.test(l)).length;
  const hostMounts = devpts();
  const grab = [
    'import os, time',
    'fds = []',
    'try:',
    '    while len(fds) < 5000: fds.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))',
    'except OSError as e: print("held", len(fds), e.errno, flush=True)',
    'time.sleep(4)',
  ].join('\n');
  const hog = await fx.rt.createSession({ policy: labPolicy(), episode: 'pty-hog' });
  const small = await fx.rt.createSession({ policy: labPolicy('resources:\n  ptys: 4\n'), episode: 'pty-small' });
  const other = await fx.rt.createSession({ policy: labPolicy(), episode: 'pty-neighbour' });
  try {
    const held = hog.exec({ step: 1, tool: 'python', command: grab });
    await new Promise((r) => setTimeout(r, 1500));
    const r = await other.exec({ step: 1, tool: 'python', command: 'import os\nm, s = os.openpty()\nprint(os.ttyname(s))' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), '/dev/pts/0', 'the neighbour gets a pty of its own devpts');
    assert.equal((await held).stdout.trim(), `held ${DEFAULT_PTYS} 28`, 'the hog stops at its cap with ENOSPC');
    assert.equal((await small.exec({ step: 1, tool: 'python', command: grab.replace('time.sleep(4)', '') })).stdout.trim(), 'held 4 28');
    assert.equal(devpts(), hostMounts, 'the sandboxes\' devpts instances are in their own mount namespaces, not the host\'s');
  } finally { await Promise.all([hog.close(), small.close(), other.close()]); }
});

test('seccomp refuses ptrace\'s cousins, the rest of the quota and mount families, modify_ldt, uselib, fanotify, Linux AIO and device-event sockets, from inside a real sandbox', async () => {
  // Arguments that, allowed, get an answer other than EPERM here (0, EBADF, EFAULT or ENOSYS), so EPERM is the filter's.
  const calls: [string, number, number[]][] = [
    ['modify_ldt', 154, [0, 0, 0]], ['quotactl_fd', 443, [-1, 0, 0, 0]], ['pidfd_getfd', 438, [-1, 0, 0]],
    ['process_madvise', 440, [-1, 0, 0, 0, 0]], ['uselib', 134, [0]], ['open_tree_attr', 467, [-1, 0, 0, 0, 0]],
    ['fanotify_init', 300, [0x200, 0]], ['getpid', 39, []], ['mseal', 462, [0, 0, 0]],
    // (Linux AIO draws on one host-wide pool: ENOSYS; a netlink socket for the kernel's device events: EPERM, for routes: allowed)
    ['io_setup', 206, [128, 0]], ['uevent_socket', 41, [16, 3, 15]], ['route_socket', 41, [16, 3, 0]],
  ];
  const py = [
    'import ctypes, json, sys',
    'libc = ctypes.CDLL(None, use_errno=True); libc.syscall.restype = ctypes.c_long',
    'def call(nr, args):',
    '    ctypes.set_errno(0)',
    '    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])',
    '    return 0 if r >= 0 else ctypes.get_errno()',
    'print(json.dumps({n: call(nr, a) for n, nr, a in json.loads(sys.argv[1])}))',
  ].join('\n');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'syscalls' });
  try {
    const r = await s.exec({ step: 1, command: `python3 -c '${py}' '${JSON.stringify(calls)}'` });
    assert.equal(r.exitCode, 0, r.stderr);
    const got = JSON.parse(r.stdout) as Record<string, number>;
    const EPERM = 1;
    assert.deepEqual(got, { modify_ldt: EPERM, quotactl_fd: EPERM, pidfd_getfd: EPERM, process_madvise: EPERM, uselib: EPERM, open_tree_attr: EPERM, fanotify_init: EPERM, getpid: 0, mseal: 0,
      io_setup: 38 /* ENOSYS */, uevent_socket: EPERM, route_socket: 0 });
  } finally { await s.close(); }
});

test('/sys shows no host NIC (MAC, byte counters) and no block device (another sandbox\'s workspace image, its I/O); CPU topology stays', async () => {
  const { realpathSync, existsSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  // the host's own NIC and disk directories deep in /sys/devices, as the host sees them
  const nics = readdirSync('/sys/class/net').map((n) => realpathSync(`/sys/class/net/${n}`)).filter((p) => !p.includes('/virtual/')).map(dirname);
  const disks = readdirSync('/sys/class/block').map((n) => realpathSync(`/sys/class/block/${n}`)).filter((p) => !p.includes('/virtual/')).map((p) => p.slice(0, p.lastIndexOf('/block/') + 6));
  // a second session with a disk-backed workspace: its loop device is what a neighbour must not see
  const other = await fx.rt.createSession({ policy: labPolicy(), episode: 'sys-neighbour' });
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'sys-view' });
  try {
    const dirs = [...new Set([...nics, ...disks])].filter((d) => existsSync(d));
    const r = await s.exec({ step: 1, command: [
      'ls -A /sys/block /sys/class/block /sys/devices/virtual/block /sys/dev/block 2>/dev/null | grep -v "^/sys\\|^$" | wc -l',
      'cat /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l',
      ...dirs.map((d) => `ls -A '${d}' | wc -l`),
      'test -d /sys/devices/system/cpu/cpu0 && echo cpu0',
    ].join('; ') });
    assert.deepEqual(r.stdout.trim().split('\n'), ['0', '0', ...dirs.map(() => '0'), 'cpu0'], r.stderr);
    assert.ok(readdirSync('/sys/devices/virtual/block').some((n) => n.startsWith('loop')), 'the host does have loop devices');
  } finally { await s.close(); await other.close(); }
});

test('pid 1 cannot be taken over (the holder is not dumpable, is filtered, reaps orphans), nor another call\'s processes; tool calls get no inherited descriptors', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'pid1' });
  try {
    // Same uid as pid 1: without the holder's protection /proc/1/mem opens read-write (no ptrace
    // needed on kernels without Yama) and a tool call could make pid 1 run anything, unfiltered.
    const r = await s.exec({ step: 1, command: [
      'python3 -c "open(\'/proc/1/mem\', \'r+b\')" 2>&1 | grep -o PermissionError || echo mem-open',
      'ls /proc/1/fd >/dev/null 2>&1 && echo fd-listed || echo fd-denied',
      'grep -E "^(Name|Seccomp):" /proc/1/status | tr -s "\t" " "',
      '(sleep 0.1 &); sleep 0.5; ps -e -o stat= | grep -c "^Z" || true',
    ].join('; ') });
    assert.deepEqual(r.stdout.trim().split('\n'), ['PermissionError', 'fd-denied', 'Name: corral-holder', 'Seccomp: 2', '0'], r.stderr);
  } finally { await s.close(); }
  // Nor another call's processes: a later call cannot write into a background process an earlier
  // call left running (its actions would be attributed to the earlier call), yet can still signal it.
  const t = await fx.rt.createSession({ policy: labPolicy(), episode: 'cross-call' });
  try {
    const bg = await t.exec({ step: 1, command: 'sleep 60 >/dev/null 2>&1 & echo $!' });
    const pid = bg.stdout.trim();
    const r = await t.exec({ step: 2, command: [
      `python3 -c "open('/proc/${pid}/mem', 'r+b')" 2>&1 | grep -o PermissionError || echo mem-open`,
      `cat /proc/${pid}/environ >/dev/null 2>&1 && echo environ-read || echo environ-denied`,
      'sleep 5 & (cat /proc/$!/environ >/dev/null && echo own-child-ok); kill $!',
      `kill ${pid} && echo signal-ok`,
    ].join('; ') });
    assert.deepEqual(r.stdout.trim().split('\n'), ['PermissionError', 'environ-denied', 'own-child-ok', 'signal-ok'], r.stderr);
  } finally { await t.close(); }
  // A descriptor left open (not close-on-exec) by whatever started Corral never reaches a tool call.
  const dir = mkdtempSync(join(tmpdir(), 'corral-fd-'));
  const secret = openSync(join(dir, 'secret'), 'w');
  try {
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const c = spawnSync(process.execPath, [main, 'run', '--no-daemon', '--home', fx.home, '--', 'bash', '-c', '[ -e /proc/self/fd/7 ] && echo leaked || echo closed'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', secret] });
    assert.equal(c.stdout.trim(), 'closed', c.stderr);
  } finally { closeSync(secret); rmSync(dir, { recursive: true, force: true }); }
});

test("an internal-network allow never opens the host's own sandbox-side address (the gateway's veth)", async () => {
  // A service on the host listening on every address — what the gateway's veth address reaches.
  let accepted = 0;
  const srv = createServer((c) => { accepted++; c.end('HOST-SERVICE\n'); });
  await new Promise<void>((r) => srv.listen(0, '0.0.0.0', r));
  const port = (srv.address() as AddressInfo).port;
  const s = await fx.rt.createSession({ policy: labPolicy('network:\n  allow:\n    - cidr: 10.0.0.0/8\n      ports: any\n'), episode: 'hostself' });
  try {
    const gw = s.sandboxIp.replace(/\.(\d+)$/, (_, n: string) => `.${Number(n) - 1}`);
    const r = await s.exec({ step: 1, command: `timeout 3 bash -c 'cat < /dev/tcp/${gw}/${port}' 2>/dev/null; echo rc=$?` });
    assert.doesNotMatch(r.stdout, /HOST-SERVICE/);
    assert.equal(accepted, 0, 'the host service saw no connection');
    const decided = s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload['network.peer.address'] === gw);
    assert.deepEqual(decided.map((e) => [e.payload.decision, e.payload.rule]), [['deny', 'always-deny:host_self']]);
  } finally { await s.close(); srv.close(); }
});

test('corral run warns when the policy file lies in the writable workspace, and when the workspace is visible to every sandbox', async () => {
  // (under /opt: bound read-only into every sandbox on this host — other sandboxes could read it)
  const ws = mkdtempSync('/opt/corral-test-ws-');
  try {
    writeFileSync(join(ws, 'policy.yaml'), 'name: in-ws\nextends: default\n');
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const c = spawnSync(process.execPath, [main, 'run', '--no-daemon', '--home', fx.home, '--workspace', ws, '--policy', join(ws, 'policy.yaml'), '--', 'true'], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stderr, /warning: the policy file .*policy\.yaml is inside the workspace this sandbox can write/);
    assert.match(c.stderr, /warning: the workspace \/opt\/corral-test-ws-\w+ lies under a directory every sandbox sees read-only/);
  } finally { rmSync(ws, { recursive: true, force: true }); }
});

test('library callers get clear errors for bad tool calls, never lost events; a repeated tool call id is ID#2', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'lib-input' });
  try {
    await assert.rejects(s.exec({ command: 'true', step: -1 }), /Session\.exec: step must be a whole number ≥ 0, got -1/);
    await assert.rejects(s.exec({ command: 'true', step: Number.NaN }), /step must be a whole number/);
    await assert.rejects(s.exec({} as ToolCallSpec), /command must be a string/);
    await assert.rejects(s.exec({ command: 'true', timeoutMs: 3e9 }), /timeoutMs must be from 1 to 2147483647/);
    const a = await s.exec({ command: 'echo one', toolCallId: 'same' });
    const b = await s.exec({ command: 'echo two', toolCallId: 'same' });
    assert.deepEqual([a.toolCallId, b.toolCallId, b.stdout.trim()], ['same', 'same#2', 'two']);
    assert.equal(s.events.find((e) => e.kind === 'session.start')!.payload.policy_digest, policyDigest(labPolicy()), 'the effective policy is named');
    // numbering went on after the refused calls: every call's events are in the store
    assert.deepEqual(s.events.filter((e) => e.kind === 'toolcall.start').map((e) => e.tool_call), ['same', 'same#2']);
  } finally { await s.close(); }
  await assert.rejects(fx.rt.createSession({} as SessionOptions), /createSession: opts\.policy is required/);
});

test('workspace_size caps /workspace: writes past it fail with ENOSPC, the call is flagged, the host disk is untouched', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_size: 2MiB\n'), episode: 'disk' });
  try {
    const r = await s.exec({ command: 'dd if=/dev/zero of=/workspace/fill bs=64k count=200 2>&1; echo rc=$?; stat -c %s /workspace/fill', step: 1, toolCallId: 'fill' });
    assert.match(r.stdout, /No space left on device/);
    assert.doesNotMatch(r.stdout, /rc=0/);
    const size = Number(r.stdout.trim().split('\n').at(-1));
    assert.ok(size > 0 && size <= 2 * 1024 * 1024, `file size ${size}`);
    const a = r.alerts.filter((x) => x.payload.rule === 'limit.workspace');
    assert.equal(a.length, 1, JSON.stringify(r.alerts.map((x) => x.payload.rule)));
    assert.equal(a[0]!.payload.category, 'resource_abuse');
    // freeing space lets work go on, and the next fill is flagged again
    const ok = await s.exec({ command: 'rm /workspace/fill && echo hi > /workspace/note && cat /workspace/note', step: 2, toolCallId: 'free' });
    assert.equal(ok.stdout.trim(), 'hi');
    assert.deepEqual(ok.alerts, []);
  } finally { await s.close(); }
  // without the cap the same write succeeds
  const u = await fx.rt.createSession({ policy: labPolicy(), episode: 'disk' });
  try {
    const r = await u.exec({ command: 'dd if=/dev/zero of=/workspace/fill bs=64k count=200 2>/dev/null; stat -c %s /workspace/fill' });
    assert.equal(Number(r.stdout.trim()), 200 * 64 * 1024);
  } finally { await u.close(); }
});

test('workspace_disk caps /workspace on disk, not in memory: a 48 MiB file fits under a 32 MiB memory limit (a tmpfs workspace would be OOM-killed), a write past the cap gets ENOSPC and is flagged, teardown frees the loop device', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy('resources:\n  memory: 32MiB\n  workspace_disk: 64MiB\n'), episode: 'disk-backed' });
  const loop = loopImage(s.workspaceDir);
  try {
    // 48 MiB of files under a 32 MiB memory limit: a tmpfs workspace would charge them to memory (OOM), this one does not
    const big = await s.exec({ command: 'dd if=/dev/urandom of=/workspace/big bs=1M count=48 2>&1 | tail -1; sync; stat -c %s /workspace/big; ls -A /workspace; stat -f -c %T /workspace', step: 1, toolCallId: 'big' });
    const lines = big.stdout.trim().split('\n');
    assert.equal(Number(lines.at(-3)), 48 << 20, big.stdout + big.stderr);
    assert.equal(lines.at(-2), 'big', 'no lost+found in the agent\'s view');
    assert.equal(lines.at(-1), 'ext2/ext3', 'the workspace is its own filesystem');
    assert.equal(big.signal, null);
    assert.deepEqual(big.alerts.map((a) => a.payload.rule), []);
    const fill = await s.exec({ command: 'dd if=/dev/zero of=/workspace/fill bs=1M count=64 2>&1; echo rc=$?', step: 2, toolCallId: 'fill' });
    assert.match(fill.stdout, /No space left on device/);
    const a = fill.alerts.filter((x) => x.payload.rule === 'limit.workspace');
    assert.equal(a.length, 1, JSON.stringify(fill.alerts.map((x) => x.payload.rule)));
    assert.match(a[0]!.payload.reason ?? '', /workspace is full \(limit 64 ?MiB\)/);
  } finally { await s.close(); }
  assert.ok(await loopFreed(loop), `${loop.dev} still holds the session's image 3 s after the session closed`);
  // both caps, or a disk cap on a host directory: refused, never half-applied. Both caps in a policy file are a
  // policy error at its line (test/policy.test.ts); a Policy built in code with both is refused when the session starts.
  assert.throws(() => labPolicy('resources:\n  workspace_size: 2MiB\n  workspace_disk: 64MiB\n'), /test-policy\.yaml:5:\d+: resources\.workspace_disk: a workspace has one size cap/);
  const mem = labPolicy('resources:\n  workspace_size: 2MiB\n');
  await assert.rejects(fx.rt.createSession({ policy: { ...mem, resources: { ...mem.resources, workspace_disk: 64 << 20 } }, episode: 'disk' }), /sets both resources.workspace_size .* and resources.workspace_disk/);
  await assert.rejects(fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_disk: 64MiB\nfilesystem:\n  workspace: /tmp/corral-ws-refused\n'), episode: 'disk' }), /test-policy\.yaml:4:\d+: resources\.workspace_disk: enforced only on a workspace Corral creates, and this session has a host workspace \(\/tmp\/corral-ws-refused, filesystem\.workspace\)/);
  // a host workspace the run gives (API, corral run --workspace) against a cap in the file: still the cap's line
  await assert.rejects(fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_disk: 64MiB\n'), workspace: '/tmp/corral-ws-refused', episode: 'disk' }), /test-policy\.yaml:4:\d+: resources\.workspace_disk: .*given by the run/);
});

/** The source (device) of the mount at `dir`, from this process's mount table. */
function mountSource(dir: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (left?.split(' ')[4] === dir) return right?.split(' ')[1];
  }
  return undefined;
}

/** The loop device mounted at `dir` and the inode of the image file behind it (what loopFreed watches). */
function loopImage(dir: string): { dev: string; ino: number } {
  const dev = mountSource(dir) ?? '';
  assert.match(dev, /^\/dev\/loop\d+$/, `the workspace is a loop-mounted filesystem (${dir})`);
  return { dev, ino: statSync(backingFile(dev)!).ino };
}

/**
 * True once the loop device no longer holds this session's image (a closed session's disk workspace is detached in the
 * background, within moments). The device itself may be attached again at once, to another file: the ready pool's
 * refill takes the lowest free loop device, often the one just freed, so "the device is attached" proves nothing.
 */
async function loopFreed(img: { dev: string; ino: number }): Promise<boolean> {
  for (let i = 0; i < 60 && holdsImage(img); i++) await new Promise((r) => setTimeout(r, 50));
  return !holdsImage(img);
}

/** The file a loop device is attached to ("" or undefined when free; " (deleted)" appended once the file is removed). */
function backingFile(dev: string): string | undefined {
  try { return readFileSync(`/sys/block/${dev.replace('/dev/', '')}/loop/backing_file`, 'utf8').trim(); } catch { return undefined; }
}

/** Whether the loop device is still attached to the image `img` names (a removed image shows as "… (deleted)"). */
function holdsImage(img: { dev: string; ino: number }): boolean {
  const f = backingFile(img.dev);
  if (!f) return false;
  if (f.endsWith(' (deleted)')) return true;
  try { return statSync(f).ino === img.ino; } catch { return true; }
}

test('by default the Corral-made workspace is capped on disk (4 GiB, sparse, from the ready pool); `unlimited` makes it a plain directory; a host workspace is never capped or refused', async () => {
  // (the pool refills in the background after each session takes one: wait for it, as a steady fleet would find it)
  for (let i = 0; i < 100 && fx.rt.diskPool.readyCount(DEFAULT_WORKSPACE_DISK) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const def = await fx.rt.createSession({ policy: labPolicy(), episode: 'default-disk' });
  let loop: { dev: string; ino: number } | undefined;
  try {
    loop = loopImage(def.workspaceDir);
    assert.match(def.workspaceDir, /\/disk\/workspace$/, 'taken ready-made from the runtime\'s pool');
    const r = await def.exec({ command: 'df -B1 --output=size /workspace | tail -1; ls -A /workspace; echo hi > /workspace/f && cat /workspace/f', step: 1 });
    const [size, ...rest] = r.stdout.trim().split('\n');
    // (ext4's own metadata takes a little of the 4 GiB)
    assert.ok(Number(size) > 4 * 1024 ** 3 * 0.95 && Number(size) <= 4 * 1024 ** 3, r.stdout + r.stderr);
    assert.deepEqual(rest, ['hi'], 'empty (no lost+found) and writable by the agent');
  } finally { await def.close(); }
  assert.ok(await loopFreed(loop!), `${loop!.dev} still holds the session's image 3 s after the session closed`);

  const plain = await fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_disk: unlimited\n'), episode: 'no-disk-cap' });
  try {
    assert.equal(mountSource(plain.workspaceDir), undefined, 'unlimited: a plain directory, no mount');
    assert.equal((await plain.exec({ command: 'echo hi > /workspace/f && cat /workspace/f' })).stdout, 'hi\n');
  } finally { await plain.close(); }

  // session.start says which workspace each session had
  const ws = (episode: string) => fx.rt.store.query({ episode, kind: ['session.start'] })[0]?.payload.workspace;
  assert.deepEqual(ws('default-disk'), { kind: 'corral', path: '/workspace', cap: 'disk', cap_bytes: 4 * 1024 ** 3 });
  assert.deepEqual(ws('no-disk-cap'), { kind: 'corral', path: '/workspace', cap: 'none' });
  const dir = mkdtempSync(join(tmpdir(), 'corral-hostws-'));
  const host = await fx.rt.createSession({ policy: labPolicy(), episode: 'host-ws', workspace: dir });
  try {
    assert.equal((await host.exec({ command: 'echo mine > /workspace/f && cat /workspace/f' })).stdout, 'mine\n');
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'mine\n', 'the host directory itself, uncapped');
  } finally { await host.close(); rmSync(dir, { recursive: true, force: true }); }
  assert.deepEqual(ws('host-ws'), { kind: 'host', path: '/workspace' });
});

test('without mkfs.ext4 the default disk cap is skipped with one warning (sessions still start); a cap the policy names fails the session', async () => {
  // A host without e2fsprogs, made real for this runtime: a PATH whose first mkfs.ext4 fails as a missing one would.
  const bin = mkdtempSync(join(tmpdir(), 'corral-nomkfs-'));
  writeFileSync(join(bin, 'mkfs.ext4'), '#!/bin/sh\necho "mkfs.ext4: not installed here" >&2\nexit 127\n', { mode: 0o755 });
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  const { Runtime } = await import('../src/session/runtime.js');
  const rt = await Runtime.start({ home: mkdtempSync(join(tmpdir(), 'corral-nomkfs-home-')), sensor: false, poolSize: 1, commandCheck: false });
  const warnings: string[] = [];
  rt.on('warning', (w: string) => warnings.push(w));
  try {
    for (let i = 0; i < 2; i++) {
      const s = await rt.createSession({ policy: labPolicy(), episode: `nomkfs-${i}` });
      try {
        assert.equal(mountSource(s.workspaceDir), undefined, 'a plain directory');
        assert.equal((await s.exec({ command: 'echo ok' })).stdout, 'ok\n');
      } finally { await s.close(); }
    }
    assert.equal(warnings.filter((w) => /not capped on disk/.test(w)).length, 1, JSON.stringify(warnings));
    assert.equal((rt.store.query({ episode: 'nomkfs-1', kind: ['session.start'] })[0]?.payload.workspace as { uncapped_because?: string } | undefined)?.uncapped_because, 'no loop devices or mkfs.ext4 here');
    await assert.rejects(rt.createSession({ policy: labPolicy('resources:\n  workspace_disk: 64MiB\n'), episode: 'nomkfs-explicit' }), /resources.workspace_disk: cannot make a 67108864-byte disk-backed workspace \(.*not installed here/);
  } finally {
    process.env.PATH = oldPath;
    await rt.close();
    rmSync(bin, { recursive: true, force: true });
  }
});

test('workspace_size with a host workspace directory is refused, not silently ignored', async () => {
  await assert.rejects(fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_size: 2MiB\nfilesystem:\n  workspace: /tmp/corral-ws-refused\n'), episode: 'disk' }),
    /test-policy\.yaml:4:\d+: resources\.workspace_size: enforced only on a workspace Corral creates/);
});
