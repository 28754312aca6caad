// Why: `corral demo` shows in one command what Corral is for: it builds a lab (SAFETY.md)
// with fake far hosts, replays a rogue episode modelled on the incident, and prints a
// timeline of what was blocked and which tool call each alert is attributed to. It tears
// everything down afterwards and checks that no far host received a hostile connection.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { inLab } from '../lab/lab-guard.js';
import { runInLab } from '../lab/lab-exec.js';
import { FarHosts } from '../lab/far-hosts.js';
import { Runtime } from '../session/runtime.js';
import { loadPreset } from '../policy/index.js';
import { alertJson, Progress, severityColor, type CliIO } from './io.js';
import { makeStyle, safeText } from './style.js';
import { demoEpisode, DEMO_FAR_HOSTS } from './demo-scenario.js';
import type { AlertEvent } from '../events/event.js';

export const DEMO_USAGE = `Usage: corral demo [--json] [--home DIR]
  Builds a lab network namespace with fake far hosts (a real sshd, a fake Stratum pool, internal
  hosts, a metadata service, an allowed registry), replays a rogue episode modelled on the
  incident, prints what was blocked and which tool call each alert belongs to, checks that no far
  host received a hostile connection, and tears everything down. Nothing leaves the machine.
  --json: one JSON object (session, steps with their alerts, far_host_connections,
  hostile_connections_through, alerts: the number of alerts). Exit 0 when no hostile connection reached a far host,
  1 otherwise.`;

export async function demoCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean' }, home: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout.write(`${DEMO_USAGE}\n`); return 0; }
  if (!inLab()) {
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    return runInLab([process.execPath, main, 'demo', ...argv]);
  }
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  const progress = new Progress(io);
  progress.update('corral demo: building the lab (far hosts: sshd, fake pool, internal hosts, metadata, registry)…', true);
  const far = await FarHosts.start(DEMO_FAR_HOSTS, { prefix: 'labdm' });
  let rt: Runtime | undefined;
  try {
    rt = await Runtime.start({ home: values.home, poolSize: 1 });
    const policy = loadPreset('lab-demo');
    const calls = demoEpisode();
    const session = await rt.createSession({ policy, run: 'demo', episode: calls[0]!.episode });
    const rows: { step: number; id: string; command: string; exit: number | null; ms: number; startMs: number }[] = [];
    const t0 = Date.now();
    for (const c of calls) {
      progress.update(`corral demo: step ${c.step}/${calls.length}: ${c.command.split('\n')[0]!.slice(0, 60)}`, true);
      const startMs = Date.now() - t0;
      const r = await session.exec({ command: c.command, tool: c.tool, step: c.step, toolCallId: c.tool_call_id, stdio: 'pipe', timeoutMs: 20_000 });
      rows.push({ step: c.step, id: r.toolCallId, command: c.command, exit: r.exitCode, ms: r.durationMs, startMs });
    }
    const { alerts } = await session.close();
    progress.done();
    const counts = await far.counts();
    const hostile = Object.entries(counts).filter(([k]) => !k.startsWith('198.51.100.10:'));
    const leaked = hostile.reduce((n, [, c]) => n + c.accepted, 0);
    const registryHits = counts['198.51.100.10:80']?.accepted ?? 0;
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ session: session.id, steps: rows.map((r) => ({ ...r, alerts: alerts.filter((a) => a.tool_call === r.id).map(alertJson) })), far_host_connections: counts, hostile_connections_through: leaked, alerts: alerts.length })}\n`);
    } else {
      io.stdout.write(renderTimeline(rows, alerts, st, t0));
      io.stdout.write(`\n${st.bold('Far hosts')} (connections that reached them): ${hostile.map(([k, c]) => `${k}=${c.accepted}`).join('  ')}\n`);
      io.stdout.write(`  allowed registry.test: ${registryHits}   hostile: ${leaked === 0 ? st.green('0 — nothing got through') : st.red(String(leaked))}\n`);
      const home = values.home ? ` --home ${values.home}` : '';
      io.stdout.write(st.dim(`\nEvents: corral events --session ${session.id}${home}\nReport: corral report --session ${session.id}${home} [--html demo.html]\n`));
    }
    return leaked === 0 ? 0 : 1;
  } finally {
    progress.update('corral demo: tearing down the lab…', true);
    await rt?.close();
    await far.stop();
    progress.done('corral demo: lab torn down.');
  }
}

/**
 * One line for a command. A heredoc (`cat > w.py <<'EOF' … EOF`) shows its first line and what runs
 * after the body — the action (`nohup python3 w.py &`) — with the body's length between.
 */
function shortCommand(command: string, st: ReturnType<typeof makeStyle>): string {
  const lines = command.trim().split('\n');
  if (lines.length === 1) return safeText(lines[0]!).slice(0, 90);
  const delim = /<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/.exec(lines[0]!)?.[1];
  const end = delim === undefined ? -1 : lines.findIndex((l, i) => i > 0 && l.trim() === delim);
  const after = end > 0 ? lines.slice(end + 1).filter((l) => l.trim()) : lines.slice(-1);
  const body = end > 0 ? end - 1 : lines.length - 2;
  return `${safeText(lines[0]!).slice(0, 45)} ${st.dim(`… ${body} lines …`)} ${safeText(after.join('; ')).slice(0, 70)}`;
}

function renderTimeline(rows: { step: number; id: string; command: string; exit: number | null; ms: number; startMs: number }[], alerts: AlertEvent[], st: ReturnType<typeof makeStyle>, t0: number): string {
  const out: string[] = [st.bold('\nCorral demo: a rogue episode, replayed in a lab\n')];
  for (const r of rows) {
    const mine = alerts.filter((a) => a.tool_call === r.id);
    const cmd = shortCommand(r.command, st);
    const status = r.exit === 0 ? st.green(`exit ${r.exit}`) : st.yellow(`exit ${r.exit}`);
    out.push(`${st.dim(`+${(r.startMs / 1000).toFixed(1)}s`.padStart(7))}  ${st.bold(`step ${r.step}`)}  ${cmd}  ${status} ${st.dim(`(${Math.round(r.ms)} ms)`)}`);
    if (!mine.length) out.push(`          ${st.green('no alerts')}`);
    for (const a of mine) {
      const p = a.payload;
      const late = Number(BigInt(a.ts) / 1_000_000n) - t0 > r.startMs + r.ms + 200 ? st.cyan(' (raised later, by a process this call left running)') : '';
      out.push(`          ${severityColor(st, p.severity, `✖ ${p.category}`)} ${st.dim(`[${p.severity}, ${p.attack.join(',')}]`)} ${safeText(p.message)}${p.count && p.count > 1 ? ` ×${p.count}` : ''}${late}`);
      out.push(`            ${st.dim(`${p.action}${p.layer ? ` at the ${p.layer} layer` : ''}${a.pid ? ` · pid ${a.pid}` : ''} · agent reads: ${safeText(p.reason)}`)}`);
    }
  }
  const cats = [...new Set(alerts.map((a) => a.payload.category))];
  const steps = new Set(alerts.map((a) => a.tool_call)).size;
  out.push('', st.bold(`Verdict: ${alerts.length} alert(s) in ${cats.length} categor${cats.length === 1 ? 'y' : 'ies'} (${cats.join(', ')}), from ${steps} of ${rows.length} steps; each is attributed to the step that caused it.`));
  return `${out.join('\n')}\n`;
}
