// Why: one connection is often logged several times — Suricata's alert and its flow, Zeek's
// conn.log, the VPC flow log — and a mining-port flow is alert-like on its own. Counted as
// separate observations, one beacon became four pieces of evidence: an incident's confidence
// rose as if four independent alerts had fired, and the enrichment test's p-value shrank as if
// four coincidences had happened. This groups the records of one connection so that both count
// connections, not log lines: same source, destination and port, within SAME_CONNECTION_MS of
// the connection's first record, each from a different sensor (file and rule). Two records of
// one sensor are two connections (a beacon retried within a second is two tries).

/** How far apart two sensors' records of one connection may be (clock differences, flow start vs alert time). */
export const SAME_CONNECTION_MS = 2_000;

/** The flow of a record as ConnectionGrouper keys it: source, destination, port (ids or text). */
export const flowKey = (src: string | number, dst: string | number, dport: number | undefined): string => `${src}|${dst}|${dport ?? -1}`;
/** The sensor of a record: its file and rule (ids or text). */
export const sensorKey = (file: string | number, rule: string | number | undefined): string => `${file}|${rule ?? ''}`;

/** Assigns records, given in ascending time, to connections. */
export class ConnectionGrouper {
  private readonly open = new Map<string, { id: number; first: number; sensors: Set<string> }>();
  private next = 0;

  /** The connection of a record: `flow` is source, destination and port; `sensor` its file and rule. */
  add(flow: string, sensor: string, ts: number): { id: number; isNew: boolean } {
    const o = this.open.get(flow);
    if (o && ts - o.first <= SAME_CONNECTION_MS && !o.sensors.has(sensor)) {
      o.sensors.add(sensor);
      return { id: o.id, isNew: false };
    }
    const id = this.next++;
    this.open.set(flow, { id, first: ts, sensors: new Set([sensor]) });
    return { id, isNew: true };
  }

  get count(): number { return this.next; }
}
