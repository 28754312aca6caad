// Why: the GPU adapter is the part of Corral aimed at the incident that started it (an agent
// mining on lent GPUs). This machine has no GPU, so these tests run the parsers, the sampler,
// the device-node builder and the detections on hand-written fixtures in nvidia-smi's
// documented format (test/fixtures/gpu, see docs/gpu.md). The sampler's command runner is a
// MOCK that returns fixture text: there is no nvidia-smi to run here. The same parsers are run
// on real captures by scripts/device-check-gpu.sh on a GPU host.
import { after, test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { GpuMonitor } from '../src/gpu/gpu-monitor.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  appsQueryArgv, formatIssue, gpuQueryArgv, parseComputeApps, parseGpuQuery, parseQueryInfo,
} from '../src/gpu/nvidia-smi.js';
import {
  buildSamples, cgroupV2Path, GpuSampler, procCgroupAttributor,
  type CommandRunner, type GpuAttribution, type GpuSample, type GpuSamplerProblem,
} from '../src/gpu/gpu-sampler.js';
import { buildGpuDeviceArgs, GpuGrantError, insertGpuArgs, NVIDIA_CONTROL_NODES, type GpuGrant } from '../src/gpu/gpu-devices.js';
import { detectGpuAbuse, gpuResourcePayloads, matchesExpected, type GpuTaskPolicy } from '../src/gpu/gpu-detect.js';
import { buildBwrapArgs } from '../src/sandbox/bwrap-args.js';
import { ALERT_CATEGORIES } from '../src/events/event.js';
import { gpuCheckCommand } from '../src/gpu/check-cli.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/gpu/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIX, name), 'utf8');
const MIB = 1048576;
const made: string[] = [];
/** A temporary directory removed when the file's tests end. */
function tmp(prefix: string): string { const d = mkdtempSync(join(tmpdir(), prefix)); made.push(d); return d; }
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const hasBwrap = () => spawnSync('bwrap', ['--version']).status === 0;

describe('nvidia-smi parsers', () => {
  test('the argv asks for exactly the columns the parsers read', () => {
    assert.deepEqual(gpuQueryArgv('/opt/nv/nvidia-smi'), ['/opt/nv/nvidia-smi',
      '--query-gpu=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,power.draw,temperature.gpu',
      '--format=csv,noheader,nounits']);
    assert.deepEqual(appsQueryArgv(), ['nvidia-smi', '--query-compute-apps=gpu_uuid,pid,process_name,used_memory', '--format=csv,noheader,nounits']);
  });

  test('8x H200 GPU query: every row, numbers typed', () => {
    const text = fixture('h200x8-query-gpu.csv');
    const r = parseGpuQuery(text);
    assert.deepEqual(r.issues, []);
    assert.equal(r.rows.length, text.trim().split('\n').length);
    assert.deepEqual(r.rows.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    const g4 = r.rows[4]!;
    assert.equal(g4.name, 'NVIDIA H200');
    assert.equal(g4.uuid, 'GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe');
    assert.equal(g4.util_pct, 100);
    assert.equal(g4.mem_used_mib, 5099);
    assert.equal(g4.mem_total_mib, 143771);
    assert.equal(g4.power_w, 521.37);
    assert.equal(g4.temp_c, 58);
    assert.deepEqual(g4.unavailable, {});
  });

  test('8x H200 compute apps: a training job and a miner', () => {
    const r = parseComputeApps(fixture('h200x8-compute-apps.csv'));
    assert.deepEqual(r.issues, []);
    assert.equal(r.rows.length, 6);
    const miner = r.rows.find((a) => a.name.endsWith('xmrig'))!;
    assert.deepEqual(miner, { gpu_uuid: 'GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe', pid: 51877, name: '/workspace/.cache/xmrig', used_mib: 4581, unavailable: {} });
    assert.equal(r.rows.filter((a) => a.name === '/usr/bin/python3').length, 5);
  });

  test('MIG and unsupported fields: [N/A] and [Not Supported] become null with the reason kept', () => {
    const g = parseGpuQuery(fixture('h100-mig-query-gpu.csv'));
    assert.deepEqual(g.issues, []);
    assert.equal(g.rows[0]!.name, 'NVIDIA H100 80GB HBM3');
    assert.equal(g.rows[0]!.util_pct, null);
    assert.deepEqual(g.rows[0]!.unavailable, { 'utilization.gpu': '[N/A]', 'utilization.memory': '[N/A]' });
    assert.equal(g.rows[0]!.mem_used_mib, 26710);
    assert.equal(g.rows[1]!.power_w, null);
    assert.equal(g.rows[1]!.temp_c, null);
    assert.equal(g.rows[1]!.unavailable['temperature.gpu'], '[Not Supported]');
    const a = parseComputeApps(fixture('h100-mig-compute-apps.csv'));
    assert.deepEqual(a.issues, []);
    assert.deepEqual(a.rows.map((r) => [r.pid, r.used_mib]), [[7702, null], [7711, null], [7740, 60002]]);
    assert.ok(a.rows[1]!.gpu_uuid.startsWith('MIG-'));
  });

  test('empty output and "No running processes found" mean no processes, not an error', () => {
    for (const f of ['empty-compute-apps.csv', 'no-processes-compute-apps.txt']) {
      assert.deepEqual(parseComputeApps(fixture(f)), { rows: [], issues: [] }, f);
    }
    assert.deepEqual(parseGpuQuery('\n\n'), { rows: [], issues: [] });
  });

  test('a header line (query run without noheader) is skipped', () => {
    const r = parseGpuQuery(`index, uuid, name, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], power.draw [W], temperature.gpu\n${fixture('h200x8-query-gpu.csv')}`);
    assert.deepEqual(r.issues, []);
    assert.equal(r.rows.length, 8);
  });

  test('malformed GPU lines: each named by line and column, the good lines kept', () => {
    const r = parseGpuQuery(fixture('malformed-query-gpu.csv'), 'gpu.csv');
    assert.deepEqual(r.rows.map((g) => g.index), [0, 6, 7]);
    // CRLF line 7 parsed; its [Unknown Error] temperature is null with the reason
    assert.equal(r.rows[1]!.unavailable['temperature.gpu'], '[Unknown Error]');
    assert.deepEqual(r.issues.map((i) => [i.line, i.column]), [[2, 71], [3, 144], [4, 59], [5, 59], [6, 4]]);
    assert.match(r.issues[0]!.message, /has 6 fields, expected 9/);
    assert.match(r.issues[2]!.message, /utilization\.gpu, got "9x"/);
    assert.match(r.issues[3]!.message, /utilization\.gpu 250 is above 100/);
    assert.match(r.issues[4]!.message, /UUID for uuid, got "not-a-uuid"/);
    assert.match(formatIssue(r.issues[1]!), /^gpu\.csv:3:144: .*NVIDIA-SMI has failed/);
  });

  test('hostile process lines: commas, newlines and escapes in names; unreadable lines salvaged by pid', () => {
    const r = parseComputeApps(fixture('malformed-compute-apps.csv'), 'apps.csv');
    const byPid = new Map(r.rows.map((a) => [a.pid, a]));
    // a name with commas does not shift the columns
    assert.equal(byPid.get(51877)!.name, '/workspace/run, --url, pool.minexmr.test');
    assert.equal(byPid.get(51877)!.used_mib, 4581);
    // a name with a newline (argv[0] is the agent's) is joined back
    assert.equal(byPid.get(51900)!.name, '/tmp/.x/kworker\n --donate-level 0');
    assert.equal(byPid.get(51900)!.used_mib, 2210);
    // a truncated line still yields its pid, marked partial, and an issue
    assert.equal(byPid.get(51911)!.partial, true);
    assert.equal(byPid.get(51911)!.name, '/tmp/.x/kswapd0');
    assert.equal(byPid.get(48215)!.partial, true);
    assert.equal(byPid.get(48215)!.name, '/usr/bin/python3');
    assert.equal(byPid.get(48216)!.used_mib, 120972);
    assert.deepEqual(r.issues.map((i) => i.line), [5, 7, 8, 9]);
    // the issue text never carries raw control bytes
    const esc = parseComputeApps('GPU-c255404e-4fb4-4003-4d66-08697a8d41be, 9, \x1b]0;x\x07, oops\n');
    assert.equal(esc.issues.length, 1);
    assert.doesNotMatch(esc.issues[0]!.text, /[\x00-\x1f\x7f-\x9f]/);
    assert.match(esc.issues[0]!.text, /\\u001b/);
  });

  test('a newline-forged second row does not swallow or hide the real process', () => {
    // argv[0] = "x\nGPU-…, 1, python3, 10": the forged line parses alone, so it is not joined;
    // the real first line is short, reported, and salvaged with its real pid.
    const text = 'GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe, 666, x\nGPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe, 1, python3, 10\n';
    const r = parseComputeApps(text);
    assert.deepEqual(r.rows.map((a) => [a.pid, a.partial ?? false]), [[666, true], [1, false]]);
    assert.equal(r.issues[0]!.line, 1);
    // a following line that starts like a row is never glued onto a short line, even when it is itself unreadable
    const two = parseComputeApps('GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe, 12, /x\nGPU-ff9243a8-f506-b409-28b5-b7a767c76fb0, pid?, /y, 100\n');
    assert.deepEqual(two.issues.map((i) => i.line), [1, 2]);
    assert.deepEqual(two.rows.map((a) => [a.pid, a.name]), [[12, '/x']]);
  });

  test('nvidia-smi -q: versions, minor numbers and MIG mode per UUID', () => {
    const q = parseQueryInfo(fixture('h200x8-q.txt'));
    assert.equal(q.driver, '570.133.20');
    assert.equal(q.cuda, '12.8');
    assert.equal(q.minorByUuid.size, 8);
    const gpus = parseGpuQuery(fixture('h200x8-query-gpu.csv')).rows;
    for (const g of gpus) assert.equal(q.minorByUuid.get(g.uuid), g.index);
    const m = parseQueryInfo(fixture('h100-mig-q.txt'));
    assert.equal(m.minorByUuid.get('GPU-d440e504-54f3-1af3-1768-13e02ea68ef7'), 1);
    assert.equal(m.minorByUuid.get('GPU-86e4d3ce-a27d-2693-4b48-4e73cf575dca'), 0);
    assert.equal(m.migByUuid.get('GPU-d440e504-54f3-1af3-1768-13e02ea68ef7'), 'Enabled');
    assert.equal(m.migByUuid.get('GPU-86e4d3ce-a27d-2693-4b48-4e73cf575dca'), 'Disabled');
  });
});

/**
 * MOCK runner: this machine has no GPU and no nvidia-smi, so the sampler is fed fixture text
 * keyed by the query it asks for. It records every argv so the tests can check what would run.
 */
function mockRunner(gpuText: string | (() => string), appsText: string | (() => string), calls: string[][] = []): CommandRunner {
  return async (argv) => {
    calls.push(argv);
    const q = argv.find((a) => a.startsWith('--query-'));
    if (q?.startsWith('--query-gpu=')) return { code: 0, stdout: typeof gpuText === 'function' ? gpuText() : gpuText, stderr: '' };
    if (q?.startsWith('--query-compute-apps=')) return { code: 0, stdout: typeof appsText === 'function' ? appsText() : appsText, stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
}

const TRAIN: GpuAttribution = { session: 's-train', step: 2, tool_call: 'tc-2' };
const AGENT: GpuAttribution = { session: 's-agent', step: 5, tool_call: 'tc-5', cgroup: 'corral/1-s-agent/call-5' };

describe('GpuSampler (mock nvidia-smi: no GPU on this machine)', () => {
  test('one round joins GPUs and processes, converts MiB to bytes, and attributes pids', async () => {
    const calls: string[][] = [];
    const attribution = new Map<number, GpuAttribution>([[48213, TRAIN], [51877, AGENT]]);
    const s = new GpuSampler({
      runner: mockRunner(fixture('h200x8-query-gpu.csv'), fixture('h200x8-compute-apps.csv'), calls),
      attribute: (pid) => attribution.get(pid), clock: () => '1700000000000000000',
    });
    const samples = await s.sampleOnce();
    assert.equal(calls.length, 2);
    assert.ok(calls.every((c) => c[0] === 'nvidia-smi'));
    assert.equal(samples.length, 8);
    const g4 = samples.find((x) => x.gpu.index === 4)!;
    assert.equal(g4.gpu.mem_used_bytes, 5099 * MIB);
    assert.equal(g4.gpu.mem_total_bytes, 143771 * MIB);
    assert.equal(g4.gpu.power_w, 521.37);
    assert.deepEqual(g4.processes, [{ pid: 51877, name: '/workspace/.cache/xmrig', used_bytes: 4581 * MIB, attribution: AGENT }]);
    assert.equal(samples[0]!.processes[0]!.attribution, TRAIN);
    // a host process (no Corral cgroup) has no attribution
    assert.equal(samples.find((x) => x.gpu.index === 6)!.processes[0]!.attribution, undefined);
    assert.deepEqual(samples.find((x) => x.gpu.index === 5)!.processes, []);
    assert.ok(samples.every((x) => x.ts === '1700000000000000000' && x.processes_complete));
  });

  test('a process on a UUID missing from the GPU list (MIG instance) still gets a sample', async () => {
    const s = new GpuSampler({ runner: mockRunner(fixture('h100-mig-query-gpu.csv'), fixture('h100-mig-compute-apps.csv')) });
    const samples = await s.sampleOnce();
    assert.equal(samples.length, 3);
    const orphan = samples.find((x) => x.gpu.index === null)!;
    assert.equal(orphan.gpu.uuid, 'MIG-d6ba2b0a-ee0c-a923-7328-81584d8c4fa2');
    assert.deepEqual(orphan.processes.map((p) => [p.pid, p.used_bytes]), [[7711, null]]);
  });

  test('a failed or unreadable process query marks the process list incomplete and reports why', async () => {
    const problems: GpuSamplerProblem[] = [];
    const failing: CommandRunner = async (argv) => (argv.some((a) => a.startsWith('--query-compute-apps'))
      ? { code: 15, stdout: 'Unable to determine the device handle for GPU0000:18:00.0: Unknown Error\n', stderr: '' }
      : { code: 0, stdout: fixture('h200x8-query-gpu.csv'), stderr: '' });
    const samples = await new GpuSampler({ runner: failing, onProblem: (p) => problems.push(p) }).sampleOnce();
    assert.equal(samples.length, 8);
    assert.ok(samples.every((x) => !x.processes_complete && x.processes.length === 0));
    assert.equal(problems[0]!.stage, 'query-compute-apps');
    assert.match(problems[0]!.message, /exited 15: Unable to determine the device handle/);

    problems.length = 0;
    const bad = await new GpuSampler({ runner: mockRunner(fixture('h200x8-query-gpu.csv'), fixture('malformed-compute-apps.csv')), onProblem: (p) => problems.push(p) }).sampleOnce();
    assert.ok(bad.every((x) => !x.processes_complete));
    assert.equal(problems[0]!.issues!.length, 4);
    // the salvaged truncated line is still a process
    assert.ok(bad.some((x) => x.processes.some((p) => p.pid === 51911 && p.partial)));
  });

  test('an attribution callback that throws does not lose the process', async () => {
    const problems: GpuSamplerProblem[] = [];
    const samples = await new GpuSampler({
      runner: mockRunner(fixture('h200x8-query-gpu.csv'), fixture('h200x8-compute-apps.csv')),
      attribute: (pid) => { if (pid === 51877) throw new Error('EACCES'); return undefined; }, onProblem: (p) => problems.push(p),
    }).sampleOnce();
    assert.ok(samples.some((x) => x.processes.some((p) => p.pid === 51877 && !p.attribution)));
    assert.deepEqual(problems.map((p) => p.stage), ['attribution']);
  });

  test('available(): absent binary, driver failure, no GPUs, and a working host', async () => {
    const missing = await GpuSampler.available({ command: '/nonexistent/corral-test/nvidia-smi' });
    assert.equal(missing.ok, false);
    assert.match((missing as { why: string }).why, /not found/);
    const driver = await GpuSampler.available({ runner: async () => ({ code: 9, stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", stderr: '' }) });
    assert.match((driver as { why: string }).why, /exited 9: NVIDIA-SMI has failed/);
    const none = await GpuSampler.available({ runner: async () => ({ code: 0, stdout: '', stderr: '' }) });
    assert.match((none as { why: string }).why, /listed no GPUs/);
    const ok = await GpuSampler.available({ runner: async () => ({ code: 0, stdout: 'GPU 0: NVIDIA H200 (UUID: GPU-a4c123b1-612d-d272-d137-1c17149d4395)\n', stderr: '' }) });
    assert.deepEqual(ok, { ok: true, gpus: ['GPU 0: NVIDIA H200 (UUID: GPU-a4c123b1-612d-d272-d137-1c17149d4395)'] });
  });

  test('start/stop polls on the interval and emits each round through onSample', async () => {
    let round = 0;
    const gpuText = () => { round++; return `0, GPU-a4c123b1-612d-d272-d137-1c17149d4395, NVIDIA H200, ${round}, 0, 1, 143771, 70.00, 30\n`; };
    const seen: GpuSample[] = [];
    const s = new GpuSampler({ runner: mockRunner(gpuText, ''), intervalMs: 10, onSample: (x) => seen.push(x) });
    s.start();
    const deadline = Date.now() + 3000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await s.stop();
    const after = seen.length;
    assert.ok(after >= 3, `expected 3 rounds, got ${after}`);
    assert.deepEqual(seen.slice(0, 3).map((x) => x.gpu.util_pct), [1, 2, 3]);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(seen.length, after, 'no samples after stop()');
  });
});

describe('pid -> attribution through /proc/<pid>/cgroup', () => {
  test('cgroupV2Path reads the unified line on hybrid and pure cgroup2 hosts', () => {
    assert.equal(cgroupV2Path('0::/corral/123-s1/call-2\n'), 'corral/123-s1/call-2');
    assert.equal(cgroupV2Path('12:pids:/corral/123-s1/call-2\n4:memory:/corral/123-s1/call-2\n0::/corral/123-s1/call-2\n'), 'corral/123-s1/call-2');
    assert.equal(cgroupV2Path('4:memory:/x\n'), undefined);
  });

  test('maps a pid to its call, walks up to a known parent, ignores host and vanished pids', () => {
    const proc = tmp('corral-gpu-proc-');
    const put = (pid: number, text: string) => { mkdirSync(join(proc, String(pid))); writeFileSync(join(proc, String(pid), 'cgroup'), text); };
    put(100, '0::/corral/9-sA/call-3\n');
    put(101, '0::/corral/9-sA/call-3/nested\n');
    put(102, '0::/corral/9-sA\n');
    put(103, '0::/user.slice/user-0.slice/session-1.scope\n');
    const labels = new Map<string, GpuAttribution>([
      ['corral/9-sA', { session: 'sA' }],
      ['corral/9-sA/call-3', { session: 'sA', step: 3, tool_call: 'tc-3' }],
    ]);
    const attr = procCgroupAttributor((p) => labels.get(p), { procRoot: proc });
    assert.deepEqual(attr(100), { session: 'sA', step: 3, tool_call: 'tc-3', cgroup: 'corral/9-sA/call-3' });
    assert.deepEqual(attr(101), { session: 'sA', step: 3, tool_call: 'tc-3', cgroup: 'corral/9-sA/call-3/nested' });
    assert.deepEqual(attr(102), { session: 'sA', cgroup: 'corral/9-sA' });
    assert.equal(attr(103), undefined);
    assert.equal(attr(999), undefined);
  });

  test('works on this host for this very process (real /proc)', () => {
    const self = cgroupV2Path(readFileSync('/proc/self/cgroup', 'utf8'));
    const attr = procCgroupAttributor((p) => (p === self || self?.startsWith(`${p}/`) ? { session: 'me' } : undefined));
    if (self) assert.deepEqual(attr(process.pid), { session: 'me', cgroup: self });
    else assert.equal(attr(process.pid), undefined);
  });
});

describe('bwrap GPU device arguments', () => {
  const host = [0, 1, 2, 3].map((i) => ({ index: i, uuid: `GPU-0000000${i}-0000-0000-0000-000000000000` }));
  const allNodes = new Set(['/dev/nvidia0', '/dev/nvidia1', '/dev/nvidia2', '/dev/nvidia3', '/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia-modeset']);
  const exists = (p: string) => allNodes.has(p);

  test('no grant: no nvidia node bound, CUDA told there is no device', () => {
    for (const grant of ['none', []] as GpuGrant[]) {
      const plan = buildGpuDeviceArgs({ grant, hostGpus: host, exists });
      assert.deepEqual(plan.args, []);
      assert.deepEqual(plan.env, { CUDA_VISIBLE_DEVICES: '', NVIDIA_VISIBLE_DEVICES: 'void' });
    }
  });

  test('the sandbox argv without a grant never mentions an nvidia node; --dev gives a fresh /dev', () => {
    const root = tmp('corral-gpu-root-');
    for (const d of ['usr', 'etc', 'dev']) mkdirSync(join(root, d));
    const argv = buildBwrapArgs({ workspace: '/w', resolvConf: '/r', hostsFile: '/h', hide: [], rootDir: root }, ['/bin/cat']);
    assert.ok(argv.join(' ').includes('--dev /dev'));
    assert.ok(!argv.some((a) => a.includes('nvidia')));
    assert.ok(!argv.includes('--dev-bind'));
  });

  test('one GPU: its node plus the control nodes, env by UUID, placed after --dev /dev', () => {
    const plan = buildGpuDeviceArgs({ grant: [2], hostGpus: host, exists });
    assert.deepEqual(plan.args, [
      '--dev-bind', '/dev/nvidia2', '/dev/nvidia2',
      ...NVIDIA_CONTROL_NODES.flatMap((n) => ['--dev-bind', n, n]),
    ]);
    assert.ok(!plan.args.includes('/dev/nvidia0') && !plan.args.includes('/dev/nvidia1') && !plan.args.includes('/dev/nvidia3'));
    assert.equal(plan.env.CUDA_VISIBLE_DEVICES, 'GPU-00000002-0000-0000-0000-000000000000');
    const bw = ['bwrap', '--ro-bind', '/usr', '/usr', '--dev', '/dev', '--proc', '/proc', '--', 'cat'];
    const merged = insertGpuArgs(bw, plan.args);
    assert.deepEqual(merged.slice(0, 6), bw.slice(0, 6));
    assert.equal(merged[6], '--dev-bind');
    assert.equal(merged.indexOf('--dev-bind') > merged.indexOf('--dev'), true);
    assert.deepEqual(merged.slice(-4), ['--proc', '/proc', '--', 'cat']);
    assert.throws(() => insertGpuArgs(['bwrap', '--', 'cat', '--dev', '/dev'], plan.args), GpuGrantError);
  });

  test('all GPUs; minor numbers from nvidia-smi -q override the index; optional nodes may be absent', () => {
    const plan = buildGpuDeviceArgs({ grant: 'all', hostGpus: host, exists });
    assert.deepEqual(plan.nodes.slice(0, 4), ['/dev/nvidia0', '/dev/nvidia1', '/dev/nvidia2', '/dev/nvidia3']);
    assert.equal(plan.env.NVIDIA_VISIBLE_DEVICES?.split(',').length, 4);
    const q = parseQueryInfo(fixture('h100-mig-q.txt'));
    const gpus = parseGpuQuery(fixture('h100-mig-query-gpu.csv')).rows.map((g) => ({ index: g.index, uuid: g.uuid, minor: q.minorByUuid.get(g.uuid) }));
    const swapped = buildGpuDeviceArgs({ grant: [0], hostGpus: gpus, exists: (p) => p === '/dev/nvidia1' || p === '/dev/nvidiactl' });
    assert.deepEqual(swapped.nodes, ['/dev/nvidia1', '/dev/nvidiactl']);
    assert.deepEqual(swapped.absent, ['/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia-modeset']);
    assert.equal(swapped.env.CUDA_VISIBLE_DEVICES, 'GPU-d440e504-54f3-1af3-1768-13e02ea68ef7');
  });

  test('real bwrap: only granted nodes appear, a bind before --dev would vanish, and mknod is refused', { skip: !hasBwrap() && 'bwrap not installed' }, () => {
    // Stand-in files play the host's nodes (this machine has no GPU); bwrap binds them exactly as it would the real ones.
    const base = tmp('corral-gpu-bwrap-');
    const fakeDev = join(base, 'dev');
    mkdirSync(fakeDev);
    for (const n of ['nvidia0', 'nvidia1', 'nvidia2', 'nvidiactl', 'nvidia-uvm']) writeFileSync(join(fakeDev, n), '');
    const ws = join(base, 'ws');
    mkdirSync(ws);
    writeFileSync(join(base, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    writeFileSync(join(base, 'hosts'), '127.0.0.1 localhost\n');
    const inside = (gpuArgs: string[], before = false) => {
      let argv = buildBwrapArgs({ workspace: ws, resolvConf: join(base, 'resolv.conf'), hostsFile: join(base, 'hosts'), hide: [] },
        ['/bin/sh', '-c', 'ls /dev | grep nvidia; mknod /dev/nvidia9 c 195 9 2>/dev/null && echo MKNOD-OK; true']);
      argv = before ? [argv[0]!, ...gpuArgs, ...argv.slice(1)] : insertGpuArgs(argv, gpuArgs);
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const none = buildGpuDeviceArgs({ grant: 'none', hostGpus: host, sourceDir: fakeDev });
    assert.deepEqual(inside(none.args), []);
    const one = buildGpuDeviceArgs({ grant: [1], hostGpus: host, sourceDir: fakeDev });
    assert.deepEqual(one.absent, ['/dev/nvidia-uvm-tools', '/dev/nvidia-modeset']);
    assert.deepEqual(inside(one.args).sort(), ['nvidia-uvm', 'nvidia1', 'nvidiactl']);
    assert.deepEqual(inside(one.args, true), [], 'binds placed before --dev are hidden by the fresh /dev');
  });

  test('impossible grants fail loudly instead of silently giving no GPU', () => {
    assert.throws(() => buildGpuDeviceArgs({ grant: [7], hostGpus: host, exists }), /grants GPU 7, but this host has only 0, 1, 2, 3/);
    assert.throws(() => buildGpuDeviceArgs({ grant: 'all', hostGpus: [], exists }), /has none/);
    assert.throws(() => buildGpuDeviceArgs({ grant: [0], hostGpus: host, exists: (p) => p !== '/dev/nvidiactl' }), /nvidiactl does not exist/);
    assert.throws(() => buildGpuDeviceArgs({ grant: [1], hostGpus: host, exists: (p) => p !== '/dev/nvidia1' }), /\/dev\/nvidia1 does not exist/);
    assert.throws(() => buildGpuDeviceArgs({ grant: [-1], hostGpus: host, exists }), GpuGrantError);
  });
});

describe('GPU detections', () => {
  const policies: Record<string, GpuTaskPolicy> = {
    's-train': { expected_processes: ['python3', '/usr/local/bin/torchrun'] },
    's-agent': {},
  };
  const policyFor = (a: GpuAttribution) => policies[a.session] ?? {};

  function h200Round(ts: bigint, attr: Map<number, GpuAttribution>, util4 = 100): GpuSample[] {
    const gpuText = fixture('h200x8-query-gpu.csv').replace(/^(4, [^,]+, NVIDIA H200, )100,/m, `$1${util4},`);
    return buildSamples(ts.toString(), parseGpuQuery(gpuText).rows, parseComputeApps(fixture('h200x8-compute-apps.csv')).rows, { attribute: (p) => attr.get(p) });
  }

  test('the miner is flagged once as mining / T1496.001; the expected training job and host processes are not', () => {
    const attr = new Map<number, GpuAttribution>([[48213, TRAIN], [48214, TRAIN], [51877, AGENT]]);
    const t0 = 1_700_000_000_000_000_000n;
    const samples = [0n, 5n, 10n].flatMap((k) => h200Round(t0 + k * 1_000_000_000n, attr));
    const d = detectGpuAbuse(samples, { policyFor, sustainS: 3600 });
    assert.equal(d.length, 1);
    const [a] = d;
    assert.equal(a!.draft.rule, 'gpu.unexpected_process');
    assert.equal(a!.draft.category, 'mining');
    assert.equal(a!.draft.severity, 'high');
    assert.deepEqual(a!.draft.attack, ['T1496.001']);
    assert.ok(ALERT_CATEGORIES.includes(a!.draft.category));
    assert.equal(a!.pid, 51877);
    assert.deepEqual(a!.attribution, AGENT);
    assert.deepEqual(a!.gpu, { index: 4, uuid: 'GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe' });
    assert.match(a!.draft.message, /xmrig.*pid 51877.*session s-agent, step 5, call tc-5.*GPU 4/);
    assert.match(a!.draft.reason, /no GPU processes.*\[corral rule gpu\.unexpected_process\]/);
  });

  test('names are matched by basename, absolute entries by exact path; exe beats the agent-chosen name', () => {
    assert.equal(matchesExpected({ name: '/usr/bin/python3' }, ['python3']), true);
    assert.equal(matchesExpected({ name: '/workspace/python3' }, ['/usr/bin/python3']), false);
    assert.equal(matchesExpected({ name: 'python3', exe: '/workspace/.x/xmrig' }, ['python3']), false);
    assert.equal(matchesExpected({ name: 'python3' }, []), false);
  });

  test('sustained utilisation by a non-GPU task: resource_abuse after T seconds, once, restarted by a dip', () => {
    // The agent renames its miner "python3" and its policy does not expect GPU use.
    const attr = new Map<number, GpuAttribution>([[51877, AGENT]]);
    const disguised = (util: number, ts: bigint) => h200Round(ts, attr, util).filter((x) => x.gpu.index === 4).map((x) => ({
      ...x, processes: x.processes.map((p) => ({ ...p, name: 'python3' })),
    }));
    const t0 = 1_700_000_000_000_000_000n;
    const sec = 1_000_000_000n;
    const stream = [
      ...[0n, 10n, 20n].map((k) => disguised(95, t0 + k * sec)),       // busy 20 s
      disguised(10, t0 + 30n * sec),                                   // dip: clock restarts
      ...[40n, 50n, 60n, 70n, 80n, 90n].map((k) => disguised(97, t0 + k * sec)), // busy 50 s
    ].flat();
    const opts = { policyFor: () => ({ expected_processes: ['python3'], gpu_task: false }), utilThresholdPct: 80, sustainS: 45 };
    const d = detectGpuAbuse(stream, opts);
    assert.equal(d.length, 1);
    assert.equal(d[0]!.draft.rule, 'gpu.sustained_util');
    assert.equal(d[0]!.draft.category, 'resource_abuse');
    assert.deepEqual(d[0]!.draft.attack, ['T1496.001']);
    assert.equal(d[0]!.ts, (t0 + 90n * sec).toString());
    assert.match(d[0]!.draft.message, /above 80% utilisation for 50 s \(now 97%\)/);
    // without the dip, the alert comes at 50 s (first sample ≥ 45 s after the start)
    const noDip = detectGpuAbuse(stream.filter((s) => s.gpu.util_pct !== 10), opts);
    assert.equal(noDip[0]!.ts, (t0 + 50n * sec).toString());
    // a GPU task is never flagged for using its GPU
    assert.deepEqual(detectGpuAbuse(stream, { ...opts, policyFor: () => ({ expected_processes: ['python3'] }) }), []);
    // a long gap between samples restarts the clock
    const gappy = [disguised(99, t0), disguised(99, t0 + 40n * sec), disguised(99, t0 + 80n * sec)].flat();
    assert.deepEqual(detectGpuAbuse(gappy, { ...opts, sustainS: 60, maxGapS: 30 }), []);
  });

  test('each session\'s own policy thresholds decide, the detector\'s only where a policy sets none', () => {
    const attr = new Map<number, GpuAttribution>([[51877, AGENT]]);
    const sec = 1_000_000_000n;
    const t0 = 1_700_000_000_000_000_000n;
    const stream = [0n, 1n, 2n].flatMap((k) => h200Round(t0 + k * sec, attr, 30).filter((x) => x.gpu.index === 4));
    const defaults = { utilThresholdPct: 50, sustainS: 60 };
    // 30 % for 2 s: nothing under the detector's defaults …
    assert.deepEqual(detectGpuAbuse(stream, { ...defaults, policyFor: () => ({ gpu_task: false, expected_processes: ['xmrig'] }) }), []);
    // … an alert under a policy of 10 % for 1 s, worded with the policy's threshold
    const d = detectGpuAbuse(stream, { ...defaults, policyFor: () => ({ gpu_task: false, expected_processes: ['xmrig'], util_threshold_pct: 10, sustain_s: 1 }) });
    assert.deepEqual(d.map((x) => x.draft.rule), ['gpu.sustained_util']);
    assert.equal(d[0]!.ts, (t0 + sec).toString());
    assert.match(d[0]!.draft.message, /above 10% utilisation for 1 s \(now 30%\)/);
    // a policy threshold above the utilisation: nothing, though the detector's default is below it
    assert.deepEqual(detectGpuAbuse(stream, { utilThresholdPct: 5, sustainS: 1, policyFor: () => ({ gpu_task: false, expected_processes: ['xmrig'], util_threshold_pct: 40 }) }), []);
  });

  test('an incomplete process list does not reset the clock', () => {
    const attr = new Map<number, GpuAttribution>([[51877, AGENT]]);
    const sec = 1_000_000_000n;
    const t0 = 1_700_000_000_000_000_000n;
    const round = (k: bigint, complete: boolean) => h200Round(t0 + k * sec, attr).filter((x) => x.gpu.index === 4)
      .map((x) => (complete ? x : { ...x, processes: [], processes_complete: false }));
    const stream = [round(0n, true), round(10n, false), round(20n, true)].flat();
    const d = detectGpuAbuse(stream, { policyFor: () => ({ gpu_task: false, expected_processes: ['xmrig'] }), utilThresholdPct: 50, sustainS: 20 });
    assert.deepEqual(d.map((x) => x.draft.rule), ['gpu.sustained_util']);
  });

  test('resource payloads carry the keys the detection engine reads', () => {
    const attr = new Map<number, GpuAttribution>([[51877, AGENT]]);
    const p = h200Round(1n, attr).flatMap(gpuResourcePayloads);
    assert.equal(p.length, 1);
    assert.deepEqual(p[0]!.payload, {
      scope: 'gpu', gpu_index: 4, gpu_uuid: 'GPU-cc3fc162-6e53-a130-43b0-26c48bbf33fe', gpu_util_pct: 100,
      gpu_mem_bytes: 4581 * MIB, gpu_process: '/workspace/.cache/xmrig', gpu_exe: undefined, gpu_power_w: 521.37,
    });
  });
});

describe('GpuMonitor (MOCK nvidia-smi script on PATH: no GPU on this machine)', () => {
  const unified = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.controllers')));
  test('the policy\'s thresholds and task flag reach the detector', { skip: !unified ? 'no cgroup2' : process.getuid?.() !== 0 ? 'needs root (a cgroup)' : false }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-gpumon-'));
    made.push(dir);
    // the GPU process: a real process in a cgroup of its own (host processes in the root cgroup are never attributed)
    const cg = join(unified!, `corral-test-gpumon-${process.pid}`);
    mkdirSync(cg);
    const proc = spawn('sleep', ['60'], { stdio: 'ignore' });
    writeFileSync(join(cg, 'cgroup.procs'), String(proc.pid));
    const uuid = 'GPU-0b7e9b0e-0000-4000-8000-000000000001';
    // a stand-in nvidia-smi: one GPU at 30 %, with that process as its compute process
    writeFileSync(join(dir, 'nvidia-smi'), `#!/bin/sh
case "$1" in
  -L) echo "GPU 0: NVIDIA H200 (UUID: ${uuid})" ;;
  --query-gpu=*) echo "0, ${uuid}, NVIDIA H200, 30, 5, 1000, 143771, 120.5, 40" ;;
  --query-compute-apps=*) echo "${uuid}, ${proc.pid}, /usr/bin/python3, 900" ;;
esac
`, { mode: 0o755 });
    const cgId = String(statSync(cg).ino);
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath ?? ''}`;
    const run = async (policy: GpuTaskPolicy): Promise<string[]> => {
      const rules: string[] = [];
      const m = await GpuMonitor.start({
        unifiedRoot: unified!, intervalMs: 150,
        labelsForCgroupId: (id) => (id === cgId ? { session: 's-mon', step: 1, tool_call: 'tc-1' } : undefined),
        policyFor: () => policy,
        onResource: () => {}, onDetection: (d) => rules.push(d.draft.rule), onProblem: () => {},
      });
      try {
        assert.equal(m.hostGpus.length, 1);
        await new Promise((r) => setTimeout(r, 1800));
      } finally { m.stop(); }
      return rules;
    };
    try {
      // python3 is expected: no unexpected-process alert; not a GPU task, 10 % for 1 s: sustained use flagged
      assert.deepEqual(await run({ expected_processes: ['python3'], gpu_task: false, util_threshold_pct: 10, sustain_s: 1 }), ['gpu.sustained_util']);
      // the defaults (50 %) would not flag 30 %, and a GPU task is never flagged for using its GPU
      assert.deepEqual(await run({ expected_processes: ['python3'], gpu_task: false }), []);
      assert.deepEqual(await run({ expected_processes: ['python3'], gpu_task: true, util_threshold_pct: 10, sustain_s: 1 }), []);
    } finally {
      process.env.PATH = oldPath;
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      rmdirSync(cg);
    }
  });
});

describe('check-cli (the entry scripts/device-check-gpu.sh runs)', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: { write: (s: string) => { out.push(s); return true; } }, stderr: { write: (s: string) => { err.push(s); return true; } }, env: { NO_COLOR: '1' } } as never };
  }

  test('parses fixture files to JSON with the device plan; exit 0', async () => {
    const t = io();
    const args = ['--gpu-file', join(FIX, 'h100-mig-query-gpu.csv'), '--apps-file', join(FIX, 'h100-mig-compute-apps.csv'), '--q-file', join(FIX, 'h100-mig-q.txt'), '--json'];
    const code = await gpuCheckCommand([...args, '--grant', 'none'], t.io);
    assert.equal(code, 0, t.err.join(''));
    const j = JSON.parse(t.out.join(''));
    assert.equal(j.ok, true);
    assert.equal(j.samples.length, 3);
    assert.equal(j.query_info.driver, '550.90.07');
    assert.equal(j.query_info.minorByUuid['GPU-d440e504-54f3-1af3-1768-13e02ea68ef7'], 1);
    assert.deepEqual(j.devices.args, []);
    // A real grant checks the real /dev: this machine has no GPU, so GPU 0 (minor 1) cannot be granted: exit 1.
    const t2 = io();
    assert.equal(await gpuCheckCommand([...args, '--grant', '0'], t2.io), 1);
    assert.match(JSON.parse(t2.out.join('')).devices.error, /\/dev\/nvidia1 does not exist/);
  });

  test('unreadable lines: readable report names them, exit 1', async () => {
    const t = io();
    const code = await gpuCheckCommand(['--gpu-file', join(FIX, 'malformed-query-gpu.csv'), '--apps-file', join(FIX, 'malformed-compute-apps.csv')], t.io);
    assert.equal(code, 1);
    const err = t.err.join('');
    assert.match(err, /malformed-query-gpu\.csv:4:59: expected a whole number for utilization\.gpu/);
    assert.doesNotMatch(t.out.join('') + err, /\x1b/);
    assert.match(t.out.join(''), /FAILED: 7 sample\(s\), 9 unreadable line\(s\)/);
  });

  test('usage errors exit 2', async () => {
    const t = io();
    assert.equal(await gpuCheckCommand([], t.io), 2);
    assert.equal(await gpuCheckCommand(['--bogus'], t.io), 2);
  });
});
