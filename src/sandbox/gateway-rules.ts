// Why: owns one runtime's nft table (nft-ruleset.ts) in the gateway's namespace: made at start,
// a sandbox's veth added to it before the link comes up and removed after the link is gone,
// deleted at close; a crashed Corral's table is found by its pid and deleted at the next start.
// Threat: a sandbox veth that carries traffic without being in the set would bypass the gateway,
// so add() is awaited before a slot is handed out, and remove() runs only once the veth is deleted.
import { execFile } from '../util/exec-file.js';
import { pidAlive } from '../util/pid-alive.js';
import { readFileSync } from 'node:fs';
import { buildGatewayRuleset, conntrackTotal, gatewayTableName, gatewayTableOwner, SANDBOX_IF_SET } from './nft-ruleset.js';

export class GatewayRules {
  /** The veths that must be in the set (what repair() puts back). */
  private readonly members = new Set<string>();
  /** Repairs run one at a time, and close() waits for the last: a repair must never bring back a closed table. */
  private lastRepair: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly table: string, private readonly ports: { tcpPort: number; dnsPort: number; ctTotal: number }) {}

  /** Loads the runtime's table (its name holds the pid and a random part: never one already there). */
  /** ctTotal: conntrack entries all the runtime's sandboxes may hold together (default: conntrackTotal() of the host's table). */
  static async create(instance: string, opts: { tcpPort: number; dnsPort: number; ctTotal?: number }): Promise<GatewayRules> {
    const table = gatewayTableName(instance);
    const ports = { tcpPort: opts.tcpPort, dnsPort: opts.dnsPort, ctTotal: opts.ctTotal ?? conntrackTotal(hostConntrackMax()) };
    await execFile(['nft', '-f', '-'], { input: buildGatewayRuleset({ table, ...ports }) });
    return new GatewayRules(table, ports);
  }

  /** Puts a sandbox's host-side veth under the rules (redirect to the gateway, reject the rest). */
  async add(hostIf: string): Promise<void> {
    await execFile(['nft', 'add', 'element', 'inet', this.table, SANDBOX_IF_SET, `{ "${checkIfName(hostIf)}" }`]);
    // (a member once it is in: a check of the table while it is being added must not report it missing;
    // a table deleted before it got in makes this add fail, and the slot with it)
    this.members.add(hostIf);
  }

  /** Takes a veth out of the set; call it after the veth is deleted (a gone element is not an error). */
  async remove(hostIf: string): Promise<void> {
    this.members.delete(checkIfName(hostIf));
    await execFile(['nft', 'delete', 'element', 'inet', this.table, SANDBOX_IF_SET, `{ "${hostIf}" }`], { allowFail: true });
  }

  /**
   * Puts the table back as it must be when someone else changed it (gateway-rules-watch.ts): the whole table
   * again, in one transaction, when any of it is gone; else the veths missing from the set. Returns what it
   * found wrong ('' when nothing was).
   */
  repair(): Promise<string> {
    const run = this.lastRepair.then(() => (this.closed ? '' : this.repairNow()));
    this.lastRepair = run.catch(() => {});
    return run;
  }

  private async repairNow(): Promise<string> {
    const listed = await execFile(['nft', 'list', 'table', 'inet', this.table], { allowFail: true });
    const want = buildGatewayRuleset({ table: this.table, ...this.ports });
    const chains = (t: string): number => (t.match(/^\s*chain /gm) ?? []).length;
    const rules = (t: string): number => t.split('\n').filter((l) => /(redirect to|reject|accept$)/.test(l.trim()) && !/policy accept/.test(l)).length;
    const elements = [...this.members].map((m) => `"${m}"`).join(', ');
    const fill = elements ? `add element inet ${this.table} ${SANDBOX_IF_SET} { ${elements} }\n` : '';
    if (listed.code !== 0 || chains(listed.stdout) !== chains(want) || rules(listed.stdout) !== rules(want)) {
      // (add table first so the delete cannot fail: one transaction, never a moment with half a table)
      await execFile(['nft', '-f', '-'], { input: `add table inet ${this.table}\ndelete table inet ${this.table}\n${want}${fill}` });
      return listed.code !== 0 ? 'the table was deleted' : 'its chains or rules were changed';
    }
    const missing = [...this.members].filter((m) => !listed.stdout.includes(`"${m}"`));
    if (!missing.length) return '';
    await execFile(['nft', 'add', 'element', 'inet', this.table, SANDBOX_IF_SET, `{ ${missing.map((m) => `"${m}"`).join(', ')} }`]);
    return `${missing.length} sandbox veth(s) were taken out of its set`;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.lastRepair;
    this.members.clear();
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

/** The host's connection-tracking table size, or undefined before the conntrack module is loaded. */
function hostConntrackMax(): number | undefined {
  try { return Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'utf8').trim()); } catch { return undefined; }
}
