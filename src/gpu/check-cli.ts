// Why: the GPU adapter was written on a machine with no GPU, against hand-written fixtures.
// This small entry lets a GPU host check it for real: parse captured nvidia-smi output (or
// poll the live tool), show the samples with their /proc cgroup mapping, and print the bwrap
// device arguments a grant would produce on this host. Exit 1 on any unreadable line, so
// scripts/device-check-gpu.sh fails loudly when the real format differs from the fixtures.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { makeStyle, safeText, table } from '../cli/style.js';
import { processIO, type CliIO } from '../cli/io.js';
import { nowNs } from '../events/event.js';
import { buildGpuDeviceArgs, type GpuDevicePlan, type GpuGrant, type HostGpu } from './gpu-devices.js';
import { buildSamples, cgroupV2Path, GpuSampler, type GpuAttribution, type GpuSample, type GpuSamplerProblem } from './gpu-sampler.js';
import { formatIssue, parseComputeApps, parseGpuQuery, parseQueryInfo, type ParseIssue, type QueryInfo } from './nvidia-smi.js';

const USAGE = `usage: check-cli (--gpu-file F [--apps-file F] | --live [--count N] [--interval-ms MS])
                 [--q-file F] [--grant none|all|0,1,...] [--args0] [--proc-cgroups] [--json]
  --args0  print only the bwrap device arguments for --grant, NUL-separated (for scripts)`;

/** Shows the raw cgroup2 path of each pid, so the /proc mapping is checked on a real host (no Corral session exists there). */
function procCgroupLabel(pid: number): GpuAttribution | undefined {
  try {
    const path = cgroupV2Path(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    return path === undefined ? undefined : { session: '(host)', cgroup: `/${path}` };
  } catch { return undefined; }
}

function parseGrant(s: string): GpuGrant {
  if (s === 'none' || s === 'all') return s;
  const parts = s.split(',');
  if (!parts.every((p) => /^\d+$/.test(p))) throw new Error(`--grant: expected none, all or indices like 0,1; got ${JSON.stringify(s)}`);
  return parts.map(Number);
}

function mib(b: number | null): string { return b === null ? 'n/a' : String(Math.round(b / 1048576)); }
function orNa(v: number | null, unit = ''): string { return v === null ? 'n/a' : `${v}${unit}`; }

export async function gpuCheckCommand(argv: string[], io: CliIO): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, strict: true, options: {
      'gpu-file': { type: 'string' }, 'apps-file': { type: 'string' }, 'q-file': { type: 'string' },
      live: { type: 'boolean' }, count: { type: 'string' }, 'interval-ms': { type: 'string' },
      grant: { type: 'string' }, args0: { type: 'boolean' }, 'proc-cgroups': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' },
    } }).values;
  } catch (e) { io.stderr.write(`${(e as Error).message}\n${USAGE}\n`); return 2; }
  if (values.help) { io.stdout.write(`${USAGE}\n`); return 0; }
  if (!values.live === !values['gpu-file']) { io.stderr.write(`give exactly one of --gpu-file or --live\n${USAGE}\n`); return 2; }
  const attribute = values['proc-cgroups'] || values.live ? procCgroupLabel : undefined;
  const issues: ParseIssue[] = [];
  const problems: GpuSamplerProblem[] = [];
  let samples: GpuSample[] = [];
  let availability: unknown;
  let info: QueryInfo | undefined;
  const roundMs: number[] = [];
  try {
    if (values['q-file']) info = parseQueryInfo(readFileSync(values['q-file'], 'utf8'));
    if (values['gpu-file']) {
      const g = parseGpuQuery(readFileSync(values['gpu-file'], 'utf8'), values['gpu-file']);
      const a = values['apps-file'] ? parseComputeApps(readFileSync(values['apps-file'], 'utf8'), values['apps-file']) : null;
      issues.push(...g.issues, ...(a?.issues ?? []));
      samples = buildSamples(nowNs(), g.rows, a ? a.rows : null, { attribute, onProblem: (p) => problems.push(p) });
    } else {
      const av = await GpuSampler.available();
      availability = av;
      if (!av.ok) { io.stderr.write(`GPU not available: ${av.why}\n`); if (values.json) io.stdout.write(`${JSON.stringify({ ok: false, availability: av })}\n`); return 1; }
      const count = Math.min(Math.max(Number(values.count ?? 3) || 3, 1), 60);
      const interval = Math.min(Math.max(Number(values['interval-ms'] ?? 1000) || 1000, 100), 10_000);
      const sampler = new GpuSampler({ attribute, onProblem: (p) => { problems.push(p); if (p.issues) issues.push(...p.issues); } });
      for (let i = 0; i < count; i++) {
        if (i) await new Promise((r) => setTimeout(r, interval));
        const t0 = process.hrtime.bigint();
        const round = await sampler.sampleOnce();
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        roundMs.push(Math.round(ms * 10) / 10);
        samples.push(...round);
        io.stderr.write(`sample ${i + 1}/${count}: ${round.length} GPU(s), ${round.reduce((n, s) => n + s.processes.length, 0)} process(es), ${ms.toFixed(1)} ms (both queries)\n`);
      }
    }
  } catch (e) { io.stderr.write(`${(e as Error).message}\n`); return 1; }

  let devices: GpuDevicePlan | { error: string } | undefined;
  if (values.grant) {
    const seen = new Map<string, HostGpu>();
    for (const s of samples) {
      if (s.gpu.index === null || seen.has(s.gpu.uuid)) continue;
      const minor = info?.minorByUuid.get(s.gpu.uuid);
      seen.set(s.gpu.uuid, { index: s.gpu.index, uuid: s.gpu.uuid, ...(minor !== undefined ? { minor } : {}) });
    }
    try { devices = buildGpuDeviceArgs({ grant: parseGrant(values.grant), hostGpus: [...seen.values()] }); } catch (e) { devices = { error: (e as Error).message }; }
  }
  if (values.args0) {
    if (!devices || 'error' in devices) { io.stderr.write(`${devices ? devices.error : '--args0 needs --grant'}\n`); return 1; }
    io.stdout.write(devices.args.map((a) => `${a}\0`).join(''));
    return issues.length ? 1 : 0;
  }
  const ok = issues.length === 0 && !problems.some((p) => p.stage !== 'attribution') && !(devices && 'error' in devices);

  if (values.json) {
    const q = info && { driver: info.driver, cuda: info.cuda, minorByUuid: Object.fromEntries(info.minorByUuid), migByUuid: Object.fromEntries(info.migByUuid) };
    io.stdout.write(`${JSON.stringify({ ok, availability, query_info: q, round_ms: roundMs.length ? roundMs : undefined, samples, issues, problems, devices }, null, 2)}\n`);
    return ok ? 0 : 1;
  }
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  const latest = new Map<string, GpuSample>();
  for (const s of samples) latest.set(s.gpu.uuid, s);
  const last = [...latest.values()];
  if (info) io.stdout.write(`driver ${info.driver ?? '?'}, CUDA ${info.cuda ?? '?'}\n`);
  io.stdout.write(table(last.map((s) => [String(s.gpu.index ?? '?'), safeText(s.gpu.name), s.gpu.uuid, orNa(s.gpu.util_pct, '%'),
    s.gpu.mem_total_bytes === null ? mib(s.gpu.mem_used_bytes) : `${mib(s.gpu.mem_used_bytes)}/${mib(s.gpu.mem_total_bytes)}`, orNa(s.gpu.power_w, ' W'), orNa(s.gpu.temp_c, ' C')]),
  ['GPU', 'NAME', 'UUID', 'UTIL', 'MEM MiB', 'POWER', 'TEMP']));
  const procs = last.flatMap((s) => s.processes.map((p) => [String(s.gpu.index ?? '?'), String(p.pid), safeText(p.name),
    mib(p.used_bytes), p.attribution ? safeText(p.attribution.cgroup ?? p.attribution.session) : st.dim('-')]));
  io.stdout.write(procs.length ? `\n${table(procs, ['GPU', 'PID', 'PROCESS', 'MiB', 'CGROUP'])}` : `\n${st.dim('no GPU compute processes')}\n`);
  if (devices) {
    io.stdout.write(`\nbwrap device args for --grant ${values.grant}:\n`);
    if ('error' in devices) io.stdout.write(`  ${st.red(devices.error)}\n`);
    else io.stdout.write(`  ${devices.args.join(' ') || '(none: no nvidia node visible)'}\n  env ${JSON.stringify(devices.env)}${devices.absent.length ? `\n  absent: ${devices.absent.join(', ')}` : ''}\n`);
  }
  for (const i of issues) io.stderr.write(`${st.red('unreadable')} ${safeText(formatIssue(i))}\n`);
  for (const p of problems) if (!p.issues) io.stderr.write(`${st.yellow(p.stage)} ${safeText(p.message)}\n`);
  io.stdout.write(`\n${ok ? st.green('ok') : st.red('FAILED')}: ${samples.length} sample(s), ${issues.length} unreadable line(s), ${problems.length} problem(s)\n`);
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  gpuCheckCommand(process.argv.slice(2), processIO).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
}
