// Why: benchmarks and demos need large, realistic fleets on disk without writing code:
//   node dist/src/investigate/generate/cli.js --out DIR --tool-calls N --records M --seed S
// Options: --formats suricata-eve,zeek-conn-tsv,vpc-flow,iptables-log  --otlp  --no-trace-ips
//          --bad-lines K  --skew MS  --noise PER_HOST_HOUR  --nat FRACTION  --json
// Progress goes to stderr; a summary (or the ground truth's counts with --json) to stdout.
import { pathToFileURL } from 'node:url';
import { processIO, Progress, UsageError, type CliIO } from '../../cli/io.js';
import { makeStyle, table } from '../../cli/style.js';
import { generateFleetFiles, type FleetFilesOptions } from './generate.js';
import { NET_OUTPUTS, type NetOutput } from './model.js';

const USAGE = 'usage: generate --out DIR --tool-calls N --records M [--seed S] [--formats a,b] [--otlp] [--no-trace-ips] [--bad-lines K] [--skew MS] [--noise N] [--nat F] [--json]';

function num(v: string | undefined, flag: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} needs a non-negative number\n${USAGE}`);
  return n;
}

export function parseGenerateArgs(argv: string[]): FleetFilesOptions & { json: boolean } {
  const o: Partial<FleetFilesOptions> & { json: boolean } = { seed: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--out': o.outDir = next(); break;
      case '--tool-calls': o.toolCalls = Math.round(num(next(), a)); break;
      case '--records': o.records = Math.round(num(next(), a)); break;
      case '--seed': o.seed = Math.round(num(next(), a)); break;
      case '--skew': o.clockSkewMs = Number(next()); if (!Number.isFinite(o.clockSkewMs)) throw new UsageError(`--skew needs milliseconds\n${USAGE}`); break;
      case '--noise': o.noiseAlertsPerHour = num(next(), a); break;
      case '--nat': o.natShare = num(next(), a); if (o.natShare > 1) throw new UsageError('--nat is a fraction 0..1'); break;
      case '--bad-lines': o.badLinesPerFile = Math.round(num(next(), a)); break;
      case '--otlp': o.otlp = true; break;
      case '--no-trace-ips': o.traceIps = false; break;
      case '--json': o.json = true; break;
      case '--formats': {
        const fs = (next() ?? '').split(',').filter(Boolean);
        for (const f of fs) if (!(NET_OUTPUTS as readonly string[]).includes(f)) throw new UsageError(`unknown format "${f}" (formats: ${NET_OUTPUTS.join(', ')})`);
        o.formats = fs as NetOutput[];
        break;
      }
      default: throw new UsageError(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (!o.outDir || o.toolCalls === undefined || o.records === undefined) throw new UsageError(USAGE);
  return o as FleetFilesOptions & { json: boolean };
}

/** CLI entry: (argv, io) → exit code. */
export async function fleetGenerateCommand(argv: string[], io: CliIO): Promise<number> {
  let opts: FleetFilesOptions & { json: boolean };
  try { opts = parseGenerateArgs(argv); } catch (e) { if (e instanceof UsageError) { io.stderr.write(`${e.message}\n`); return 2; } throw e; }
  const progress = new Progress(io);
  const t0 = Date.now();
  const truth = await generateFleetFiles({ ...opts, onProgress: (phase, done, total) => progress.update(`${phase}: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`) });
  progress.done();
  const secs = (Date.now() - t0) / 1000;
  if (opts.json) { io.stdout.write(JSON.stringify({ outDir: opts.outDir, seconds: secs, counts: truth.counts, files: truth.files, incidents: truth.incidents.length }) + '\n'); return 0; }
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  io.stdout.write(`${st.bold('fleet written')} to ${opts.outDir} in ${secs.toFixed(1)} s (seed ${truth.seed})\n`);
  io.stdout.write(table(Object.entries(truth.counts).map(([k, v]) => [k, v.toLocaleString('en-US')]), ['count', 'value']) + '\n');
  io.stdout.write(table(truth.files.network.map((f) => [f.path, f.format, f.records.toLocaleString('en-US')]), ['file', 'format', 'records']) + '\n');
  io.stdout.write(`${truth.incidents.length} planted incidents; ground truth in ${opts.outDir}/ground-truth.json\n`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  fleetGenerateCommand(process.argv.slice(2), processIO).then((c) => { process.exitCode = c; }, (e: unknown) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
}
