// Why: `corral investigate` reads eve.json and canonical traces through the native JSON Lines
// scanner when it is built, and with JSON.parse for every line when it is not (no gcc) or when
// CORRAL_NO_NATIVE_SCANNER=1. Both must give the same investigation. This test runs the real
// CLI both ways on a simulated fleet (all four log formats) with bad lines planted in every log,
// and compares the full JSON results (all but timings and the notes naming the reader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateFleet, type FleetOptions } from '../src/investigate/generate/index.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const FLEET: FleetOptions = {
  hosts: 4, sandboxesPerHost: 4, episodes: 400, toolCallsPerEpisode: 12, natShare: 0.4, noiseAlertsPerHour: 6, benignFlowsPerCall: 1.5,
  clockSkewMs: 1500, incidents: { tunnel: 3, minerBeacon: 3, internalScan: 3, metadata: 3 }, seed: 5, badLinesPerFile: 3,
};

function run(args: string[], env: Record<string, string>): Record<string, unknown> {
  const r = spawnSync(process.execPath, [main, 'investigate', ...args, '--json', '--quiet'], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.ok(r.status === 0 || r.status === 3, `exit ${r.status}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('investigate gives the same result with the native scanner and with JSON.parse only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-fallback-'));
  try {
    const truth = await generateFleet(FLEET, dir);
    const logs = truth.files.network.map((f) => join(dir, f.path));
    const trace = join(dir, truth.files.traces.find((t) => t.format === 'canonical-jsonl')!.path);
    const args = [...logs, '--traces', trace, '--jobs', '2'];
    const native = run(args, { CORRAL_NO_NATIVE_SCANNER: '0' });
    const plain = run(args, { CORRAL_NO_NATIVE_SCANNER: '1' });
    const notes = (r: Record<string, unknown>): string[] => r.notes as string[];
    assert.ok(notes(native).some((n) => /read from the native scanner's index/.test(n)), 'the native run used the scanner');
    assert.ok(!notes(plain).some((n) => /native scanner/.test(n)), 'the fallback run did not');
    const strip = (r: Record<string, unknown>): string => JSON.stringify({ ...r, timings: undefined, notes: notes(r).filter((n) => !/native scanner|worker threads/.test(n)) });
    assert.equal(strip(native), strip(plain));
    const net = (native.inputs as { net: { bad: number }[] }).net;
    assert.ok(net.reduce((n, s) => n + s.bad, 0) >= 3 * logs.length, 'the planted bad lines were reported');
    assert.ok((native.incidents as unknown[]).length > 0, 'incidents were found');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
