// Why: the NATS security flags (TLS CA, client certificate, NKEY seed) of every command that
// talks to the fleet's NATS (`serve --publish`, `collect`, `events --follow --nats`), parsed and
// checked one way, with $CORRAL_NATS_* defaults for service units. A file that cannot be read
// or a certificate without its key is a usage error naming the flag, before anything connects.
import { natsConnectOptions, type NatsSecurity } from '../store/nats-options.js';
import { UsageError } from './io.js';
import { safeText } from './style.js';

export const NATS_FLAG_OPTIONS = {
  'nats-ca': { type: 'string' }, 'nats-cert': { type: 'string' }, 'nats-key': { type: 'string' }, 'nats-nkey': { type: 'string' },
} as const;

export const NATS_FLAGS_USAGE = `  NATS security: --nats-ca FILE (the CA that signed the server's certificate: TLS),
  --nats-cert FILE --nats-key FILE (a client certificate: mutual TLS), --nats-nkey FILE (an NKEY
  user seed); defaults $CORRAL_NATS_CA, $CORRAL_NATS_CERT, $CORRAL_NATS_KEY, $CORRAL_NATS_NKEY.
  A user:password@ or token@ in the URL authenticates too (printed and stored as ***).`;

type NatsFlagValues = { 'nats-ca'?: string; 'nats-cert'?: string; 'nats-key'?: string; 'nats-nkey'?: string };

/** The security settings of the flags (or environment); checks them against url by building the options once. */
export function natsSecurityFlags(values: NatsFlagValues, env: NodeJS.ProcessEnv, url: string | undefined): NatsSecurity {
  const sec: NatsSecurity = {
    ca: values['nats-ca'] ?? env.CORRAL_NATS_CA, cert: values['nats-cert'] ?? env.CORRAL_NATS_CERT,
    key: values['nats-key'] ?? env.CORRAL_NATS_KEY, nkey: values['nats-nkey'] ?? env.CORRAL_NATS_NKEY,
  };
  for (const k of Object.keys(sec) as (keyof NatsSecurity)[]) if (sec[k] === undefined || sec[k] === '') delete sec[k];
  if ((sec.cert === undefined) !== (sec.key === undefined)) throw new UsageError('--nats-cert and --nats-key go together (a client certificate and its private key)');
  const given = (Object.keys(NATS_FLAG_OPTIONS) as (keyof NatsFlagValues)[]).filter((k) => values[k] !== undefined);
  if (given.length > 0 && url === undefined) throw new UsageError(`--${given[0]} secures a NATS connection: give its URL too`);
  if (url === undefined) return {};
  {
    try { natsConnectOptions(url, sec, 'check'); } catch (e) { throw new UsageError(safeText((e as Error).message)); }
  }
  return sec;
}
