// Test fixture: far hosts in the lab plus a Corral runtime with its own store. Refuses to
// run outside the lab (the FarHosts guard), and tears everything down in close().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FarHosts, type FarHostSpec } from '../../src/lab/far-hosts.js';
import { assertInLab } from '../../src/lab/lab-guard.js';
import { Runtime, type RuntimeOptions } from '../../src/session/runtime.js';
import { loadPreset, parsePolicy, type Policy } from '../../src/policy/index.js';
import type { AlertEvent } from '../../src/events/event.js';

export interface Fixture { far: FarHosts; rt: Runtime; home: string; close(): Promise<void> }

export async function startFixture(hosts: FarHostSpec[], prefix: string, runtime: Partial<RuntimeOptions> = {}): Promise<Fixture> {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-test-home-'));
  const far = await FarHosts.start(hosts, { prefix });
  let rt: Runtime;
  try {
    rt = await Runtime.start({ home, sensor: true, poolSize: 1, ...runtime });
  } catch (e) {
    await far.stop();
    throw e;
  }
  return {
    far, rt, home,
    async close() {
      await rt.close();
      await far.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The demo policy with overrides, written as YAML so tests exercise the real parser. */
export function labPolicy(extraYaml = ''): Policy {
  if (!extraYaml) return loadPreset('lab-demo');
  return parsePolicy(`name: test\nextends: lab-demo\n${extraYaml}`, 'test-policy.yaml');
}

export function categories(alerts: AlertEvent[]): string[] {
  return [...new Set(alerts.map((a) => a.payload.category))].sort();
}

/**
 * One screened-out call in a fresh session of the lab policy (the command screen skipped, the sensor
 * synced), closed after: what a script the screen never read does at the process and network layers.
 */
export async function oneUnscreenedCall(fx: Fixture, command: string, episode: string, tool: 'bash' | 'python' = 'bash') {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode });
  try {
    const r = await s.exec({ command, tool, step: 1, toolCallId: 'call-1', timeoutMs: 30_000, skipScreen: true, syncSensor: true });
    await s.close();
    return { r, alerts: s.alertEvents, s };
  } finally { await s.close(); }
}

/** The rules an alert stands for: its own and those folded into it ("(also: a, b)"). */
export const rulesOf = (a: AlertEvent): string[] => [a.payload.rule, ...(/\(also: ([^)]*)\)/.exec(a.payload.message)?.[1]?.split(', ') ?? [])];
