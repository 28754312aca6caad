// Why: owns one runtime's nft table (nft-ruleset.ts) in the gateway's namespace: made at start,
// a sandbox's veth added to it before the link comes up and removed after the link is gone,
// deleted at close; a crashed Corral's table is found by its pid and deleted at the next start.
// Threat: a sandbox veth that carries traffic without being in the set would bypass the gateway,
// so add() is awaited before a slot is handed out, and remove() runs only once the veth is deleted.
import { execFile } from '../util/exec-file.js';
import { pidAlive } from '../util/pid-alive.js';
import { buildGatewayRuleset, gatewayTableName, gatewayTableOwner, SANDBOX_IF_SET } from './nft-ruleset.js';

export class GatewayRules {
  private constructor(readonly table: string) {}

  /** Loads the runtime's table (replacing a stale one of the same name). */
  static async create(instance: string, ports: { tcpPort: number; dnsPort: number }): Promise<GatewayRules> {
    const table = gatewayTableName(instance);
    await execFile(['nft', 'delete', 'table', 'inet', table], { allowFail: true });
    await execFile(['nft', '-f', '-'], { input: buildGatewayRuleset({ table, ...ports }) });
    return new GatewayRules(table);
  }

  /** Puts a sandbox's host-side veth under the rules (redirect to the gateway, reject the rest). */
  async add(hostIf: string): Promise<void> {
    await execFile(['nft', 'add', 'element', 'inet', this.table, SANDBOX_IF_SET, `{ "${checkIfName(hostIf)}" }`]);
  }

  /** Takes a veth out of the set; call it after the veth is deleted (a gone element is not an error). */
  async remove(hostIf: string): Promise<void> {
    await execFile(['nft', 'delete', 'element', 'inet', this.table, SANDBOX_IF_SET, `{ "${checkIfName(hostIf)}" }`], { allowFail: true });
  }

  async close(): Promise<void> {
    await execFile(['nft', 'delete', 'table', 'inet', this.table], { allowFail: true });
  }
}

/** Interface names come from leases (`crl<hex>h`); anything else must never reach nft's parser. */
function checkIfName(name: string): string {
  if (!/^[0-9A-Za-z_.-]{1,15}$/.test(name)) throw new Error(`not an interface name: ${JSON.stringify(name)}`);
  return name;
}

/** Deletes the tables of runtimes whose process is gone; returns how many. */
export async function cleanupOrphanGatewayTables(): Promise<number> {
  const r = await execFile(['nft', 'list', 'tables'], { allowFail: true });
  let n = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^table inet (\S+)$/.exec(line.trim());
    const owner = m ? gatewayTableOwner(m[1]!) : undefined;
    if (owner === undefined || pidAlive(owner)) continue;
    await execFile(['nft', 'delete', 'table', 'inet', m![1]!], { allowFail: true });
    n++;
  }
  return n;
}
