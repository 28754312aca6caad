// Test helper, run as a program by test/sensor-pid-namespace.test.ts inside `unshare --pid --fork
// --mount-proc` (a container's view: Corral is pid 1 of its own pid namespace and /proc shows only
// that namespace). Opens a real runtime with the kernel sensor, runs a tool call that leaves a
// process behind (after a blocked connect it becomes `sleep 30` with the same pid), and prints what
// that namespace's /proc says about the pids the sensor reported, as one JSON line.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../../src/lab/lab-guard.js';
import { Runtime } from '../../src/session/runtime.js';
import { loadPreset } from '../../src/policy/index.js';

const cmdline = (pid: number | undefined): string | null => {
  if (!pid) return null;
  try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' '); } catch { return null; }
};

assertInLab();
const home = mkdtempSync(join(tmpdir(), 'corral-pidns-'));
const rt = await Runtime.start({ home, sensor: true, poolSize: 0, commandCheck: false, sensorSyncTimeoutMs: 5_000 });
try {
  const s = await rt.createSession({ policy: loadPreset('default'), episode: 'pidns' });
  // bash keeps its pid across `exec`: the connect's pid is the sleep's
  const cmd = "bash -c '{ : <>/dev/tcp/192.0.2.7/8099; } 2>/dev/null; exec sleep 30' & sh -c 'sleep 31; :' & echo started";
  const r = await s.exec({ command: cmd, step: 1, toolCallId: 'bg', syncSensor: true });
  const deadline = Date.now() + 10_000;
  const execOf = (argv0: string, arg: string) => s.events.filter((e) => e.kind === 'exec' && (e.payload.argv as string[] | undefined)?.[0] === argv0 && (e.payload.argv as string[])[1] === arg);
  let conn = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'syscall' && e.payload['network.peer.address'] === '192.0.2.7');
  while (!conn && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 100));
    conn = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'syscall' && e.payload['network.peer.address'] === '192.0.2.7');
  }
  const gw = s.events.find((e) => e.kind === 'connect' && e.payload.source === 'gateway' && e.payload['network.peer.address'] === '192.0.2.7');
  const sleep = execOf('sleep', '31')[0];
  const out = {
    self_pid: process.pid,
    exit_code: r.exitCode,
    sleep_pid: sleep?.pid ?? null,
    sleep_cmdline: cmdline(sleep?.pid),
    sleep_parent_cmdline: cmdline(sleep?.ppid),
    connect_pid: conn?.pid ?? null,
    connect_cmdline: cmdline(conn?.pid),
    gateway_pid: gw?.pid ?? null,
    gateway_attribution: gw?.payload.attribution ?? null,
  };
  const t0 = Date.now();
  const closed = await s.close();
  console.log(JSON.stringify({ ...out, close_ms: Date.now() - t0, capture: closed.capture }));
} finally {
  await rt.close();
  rmSync(home, { recursive: true, force: true });
}
