// Why: two readers follow the fleet live from the subjects `corral serve --publish` writes
// (`corral events --follow --nats`, `corral dashboard --nats`). Anyone who can publish to NATS
// can put bytes there, so every message is checked like the collector checks it (strict UTF-8,
// JSON, store/event-check.ts) before it is shown; the machine comes from the Corral-Host header.
// Threat stopped: a hostile message on the stream reaching a terminal or a browser as anything
// but a checked event (bad ones are counted, never shown raw).
import type { Subscription } from 'nats';
import type { CorralEvent } from '../events/event.js';
import { checkEvent } from './event-check.js';

/**
 * Feeds each valid event of sub (with its machine) to on, until the subscription ends; calls
 * onBad for each message that is not an event, and returns how many there were.
 */
export async function consumeFleet(sub: Subscription, on: (ev: CorralEvent, host: string | undefined) => void, onBad?: () => void): Promise<number> {
  let bad = 0;
  const dec = new TextDecoder('utf-8', { fatal: true });
  for await (const m of sub) {
    let ev: CorralEvent;
    try { ev = checkEvent(JSON.parse(dec.decode(m.data))).ev; } catch { bad++; onBad?.(); continue; }
    on(ev, m.headers?.get('Corral-Host') || undefined);
  }
  return bad;
}
