// Why this exists: the `nft monitor` that notices a host firewall reload deleting Corral's table is a
// process like any other: it can die (killed, OOM), stall, miss events, or outlive a Corral killed
// by SIGKILL. Each must leave containment whole: a dead monitor is restarted and the table checked
// at once (a deletion while none ran is found), a stalled one is covered by the periodic check, and
// the monitor dies with its Corral. Real nft in the lab's namespace; no traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertInLab } from '../src/lab/lab-guard.js';
import { GatewayRules } from '../src/sandbox/gateway-rules.js';
import { GatewayRulesWatch, type RulesTamper } from '../src/sandbox/gateway-rules-watch.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const hasTable = (t: string): boolean => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === `table inet ${t}`);
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function until(what: string, ok: () => boolean, ms = 3000): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
  return Date.now() - t0;
}

async function watched(instance: string, opts: { auditEveryMs?: number } = {}): Promise<{ rules: GatewayRules; watch: GatewayRulesWatch; tampers: RulesTamper[]; problems: string[] }> {
  assertInLab();
  const rules = await GatewayRules.create(instance, { tcpPort: 1, dnsPort: 2 });
  const tampers: RulesTamper[] = [], problems: string[] = [];
  const watch = new GatewayRulesWatch(rules, (t) => tampers.push(t), (p) => problems.push(p), opts);
  watch.start();
  return { rules, watch, tampers, problems };
}

test('a monitor that dies is restarted, and a deletion while none ran is put back at the restart', async () => {
  const { rules, watch, tampers, problems } = await watched(`${process.pid}_wtest1`, { auditEveryMs: 0 });
  try {
    await rules.add('crlw1h');
    await until('the monitor runs', () => watch.monitorPid !== undefined);
    const first = watch.monitorPid!;
    process.kill(first, 'SIGKILL');
    await until('the monitor is gone', () => !alive(first));
    // nobody is watching now: only the restart's check can find this
    execFileSync('nft', ['delete', 'table', 'inet', rules.table]);
    const ms = await until('the table is back', () => hasTable(rules.table));
    console.log(`# put back ≈ ${ms} ms after the deletion`);
    assert.match(execFileSync('nft', ['list', 'set', 'inet', rules.table, 'ifs'], { encoding: 'utf8' }), /"crlw1h"/, 'with its member');
    await until('a new monitor runs', () => watch.monitorPid !== undefined && watch.monitorPid !== first);
    assert.equal(watch.starts, 2);
    assert.match(problems.join('\n'), /nft monitor exited \(SIGKILL\): restarted/);
    // (reported once the repair's nft has returned: a moment after the table is visible)
    await until('reported', () => tampers.length === 1);
    assert.equal(tampers[0]!.what, 'the table was deleted');
    assert.equal(tampers[0]!.line, 'nft monitor restarted');
    // and the new monitor reports the next one as it happens
    execFileSync('nft', ['delete', 'table', 'inet', rules.table]);
    await until('the table is back again', () => hasTable(rules.table));
    await until('reported', () => tampers.length === 2);
    assert.match(tampers[1]!.line, /^delete table inet /);
  } finally {
    watch.stop();
    await rules.close();
  }
});

test('a stalled monitor misses the deletion; the periodic check puts the table back', async () => {
  const { rules, watch, tampers } = await watched(`${process.pid}_wtest2`, { auditEveryMs: 300 });
  let stopped: number | undefined;
  try {
    await until('the monitor runs', () => watch.monitorPid !== undefined);
    stopped = watch.monitorPid!;
    process.kill(stopped, 'SIGSTOP');
    execFileSync('nft', ['delete', 'table', 'inet', rules.table]);
    await until('the table is back', () => hasTable(rules.table), 2000);
    await until('reported', () => tampers.length === 1);
    assert.equal(tampers[0]!.line, 'periodic check of the table');
    // the stalled monitor wakes and reads the old deletion: the table is whole, nothing more is reported
    process.kill(stopped, 'SIGCONT');
    await sleep(400);
    assert.equal(tampers.length, 1, JSON.stringify(tampers));
  } finally {
    if (stopped !== undefined && alive(stopped)) process.kill(stopped, 'SIGCONT');
    watch.stop();
    await rules.close();
  }
});

test('the monitor dies with its Corral, even one killed by SIGKILL', async () => {
  assertInLab();
  const here = fileURLToPath(new URL('.', import.meta.url));
  const script = `
    const { GatewayRules } = await import(${JSON.stringify(`${here}../src/sandbox/gateway-rules.js`)});
    const { GatewayRulesWatch } = await import(${JSON.stringify(`${here}../src/sandbox/gateway-rules-watch.js`)});
    const rules = await GatewayRules.create(process.pid + '_wtest3', { tcpPort: 1, dnsPort: 2 });
    const watch = new GatewayRulesWatch(rules, () => {}, () => {});
    watch.start();
    const t = setInterval(() => { if (watch.monitorPid) { console.log(rules.table + ' ' + watch.monitorPid); clearInterval(t); } }, 20);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(d.trim()));
    child.once('exit', (c) => reject(new Error(`the runtime stand-in exited ${c}`)));
  });
  const [table, pidText] = line.split(' ');
  const monitor = Number(pidText);
  try {
    assert.ok(alive(monitor));
    child.kill('SIGKILL');
    await until('the monitor is gone with its Corral', () => !alive(monitor) || readState(monitor) === 'Z', 2000);
  } finally {
    if (alive(monitor)) try { process.kill(monitor, 'SIGKILL'); } catch { /* gone */ }
    execFileSync('nft', ['delete', 'table', 'inet', table!], { stdio: 'ignore' });
  }
});

function readState(pid: number): string {
  try { return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim()[0] ?? ''; } catch { return ''; }
}
