// Why: a session whose capture was incomplete must say so, and say why, in every report — the terminal's and
// the HTML page's — or a "clean" verdict reads as proof it is not. Each shortfall's words live here once, in
// one order, and each renderer only styles them (they were written twice, drifting in order and wording).
import { nsToIso } from '../events/event.js';
import { num, type SessionReport } from './session-report.js';

/**
 * One shortfall: its headline (what is missing, with the count) and the rest of the sentence, which starts with
 * its own separator (`${head}${rest}` reads whole); yellow when nothing was lost, only not recorded.
 */
export interface CaptureNote { level: 'red' | 'yellow'; head: string; rest: string }

export function captureNotes(c: SessionReport['capture'] | undefined): CaptureNote[] {
  if (!c) return [];
  const out: CaptureNote[] = [];
  if (c.records_lost) {
    const when = c.first_loss_ts ? ` (${nsToIso(c.first_loss_ts)}${c.last_loss_ts && c.last_loss_ts !== c.first_loss_ts ? ` … ${nsToIso(c.last_loss_ts)}` : ''})` : '';
    out.push({ level: 'red', head: `capture incomplete: ${num(c.records_lost)} kernel records lost`, rest: ` while this session was open${when} — the sensor's ring overflowed; the loss cannot be attributed to one sandbox, so execs and connects of this session may be missing and the verdict is not proof of a clean run` });
  }
  if (c.unsynced) out.push({ level: 'red', head: 'capture incomplete', rest: ': the kernel sensor did not confirm, before the session ended, that it had delivered every record — its last execs and connects may be missing' });
  if (c.drop_log_overruns) out.push({ level: 'red', head: `capture incomplete: the kernel log overwrote drop records ${num(c.drop_log_overruns)} time(s)`, rest: ' before they were read — dropped UDP/ICMP packets of this or another sandbox may be missing' });
  if (c.events_unstored) out.push({ level: 'red', head: `capture incomplete: ${num(c.events_unstored)} event(s) counted but not stored`, rest: ' — the session spent its store budget (a flood of execs or connections), so the process and connection tables stop there; alerts and the events they cite were stored' });
  if (c.argv_cut) out.push({ level: 'red', head: `capture incomplete: ${num(c.argv_cut)} exec(s) with argv cut short`, rest: ' by the kernel — their tool call spent its argv budget (an exec flood), so a command line hidden among them may be missing from the record and from every rule that reads argv' });
  if (c.copies_unchecked) out.push({ level: 'red', head: `capture incomplete: ${num(c.copies_unchecked)} exec(s) not checked for renamed copies`, rest: ' of system programs — their files had a shell\'s or network tool\'s size, but the hash budget was spent (a crowd of same-sized files), so a renamed copy among them may have passed unnamed' });
  if (c.sensor_off) out.push({ level: 'yellow', head: 'capture incomplete: no kernel sensor ran', rest: ' — execs and connects were not recorded (the gateway still judged every connection)' });
  return out;
}
