// Why: `corral run -- CMD…` puts one command into a fresh sandbox as one tool call, passes
// its stdio through, exits with its exit code, and then says what was blocked and why.
import { parseArgs } from 'node:util';
import { Runtime } from '../session/runtime.js';
import { resolvePolicy, withExtraAllows } from '../policy/index.js';
import { alertJson, renderAlerts, UsageError, type CliIO } from './io.js';
import { makeStyle } from './style.js';

export const RUN_USAGE = `Usage: corral run [--policy P] [--allow HOST]… [--label k=v]… [--timeout DUR] [--json] [--home DIR] -- CMD ARGS…
  Runs CMD (no shell) as one tool call in a fresh sandbox. stdin/stdout/stderr pass through and
  corral exits with CMD's exit code. A summary of violations follows on stderr; with --json the
  summary is one JSON object on the last line of stderr.`;

export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new UsageError(`missing command after --\n${RUN_USAGE}`);
  const { values } = parseArgs({
    args: argv.slice(0, sep), strict: true, allowPositionals: false,
    options: {
      policy: { type: 'string' }, allow: { type: 'string', multiple: true }, label: { type: 'string', multiple: true },
      json: { type: 'boolean' }, home: { type: 'string' }, timeout: { type: 'string' }, 'no-sensor': { type: 'boolean' },
    },
  });
  const cmd = argv.slice(sep + 1);
  let policy = resolvePolicy(values.policy);
  if (values.allow?.length) policy = withExtraAllows(policy, values.allow);
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label expects k=v, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const rt = await Runtime.start({ home: values.home, sensor: values['no-sensor'] ? false : 'auto', poolSize: 0 });
  let code = 125;
  try {
    const session = await rt.createSession({ policy, run: labels.run, episode: labels.episode, labels });
    const r = await session.exec({ command: cmd.join(' '), argv: cmd, stdio: 'inherit', step: 1, toolCallId: labels.tool_call });
    const { alerts } = await session.close();
    code = r.exitCode ?? 128;
    if (values.json) {
      io.stderr.write(`${JSON.stringify({ session: session.id, exit_code: r.exitCode, duration_ms: Math.round(r.durationMs), timed_out: r.timedOut, alerts: alerts.map(alertJson), sensor: rt.sensor ? 'ebpf' : `off (${rt.sensorError ?? 'disabled'})` })}\n`);
    } else if (alerts.length) {
      const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
      io.stderr.write(`\n${st.bold(`corral: ${alerts.length} violation(s) in session ${session.id}`)}\n${renderAlerts(alerts, io)}\n`);
    }
  } finally {
    await rt.close();
  }
  return code;
}
