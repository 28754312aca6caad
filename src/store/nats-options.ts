// Why: a fleet's NATS is rarely open: it wants TLS (often with client certificates) and
// credentials. This turns Corral's NATS settings into nats.js connection options, one way for
// `corral serve --publish`, `corral collect` and `corral events --follow --nats`: a user and
// password or a token in the URL (nats.js ignores them there, so they are taken out and passed
// as options), an NKEY seed file, a CA to trust and a client certificate. It also redacts the
// secrets of a URL Corral prints, and explains the errors a secured server gives.
// Threat stopped: events (commands, hosts, alerts) crossing the network in clear text or to a
// server that is not the fleet's; credentials leaking into logs, health answers and summaries.
import { readNamedFile } from '../util/read-named-file.js';
import { nkeyAuthenticator, type ConnectionOptions } from 'nats';

/** Files for TLS and NKEY authentication (paths). */
export interface NatsSecurity { ca?: string; cert?: string; key?: string; nkey?: string }

/** The same URL with a password or token replaced by *** (for anything printed or stored). */
export function redactNatsUrl(url: string): string {
  // (the scheme is optional, as natsConnectOptions takes user:password@host:port too)
  return url.replace(/^([a-z]+:\/\/)?([^/\s]*)@/i, (_, scheme: string | undefined, info: string) => {
    const colon = info.indexOf(':');
    return colon < 0 ? `${scheme ?? ''}***@` : `${scheme ?? ''}${info.slice(0, colon)}:***@`;
  });
}

/** Reads a file the options name, with an error that names the option and the file. */
function readNamed(what: string, path: string): string {
  try { return readNamedFile(path); } catch (e) { throw new Error(`${what} ${(e as Error).message}`); }
}

/**
 * nats.js options for url (nats://, tls:// or host:port, optionally user:password@ or token@)
 * with sec, reconnecting forever. Throws when a named file cannot be read or holds no NKEY seed.
 */
export function natsConnectOptions(url: string, sec: NatsSecurity, name: string): ConnectionOptions {
  const o: ConnectionOptions = { name, maxReconnectAttempts: -1, reconnectTimeWait: 1000, timeout: 5000 };
  const m = /^([a-z]+:\/\/)?([^@/\s]*)@(.*)$/i.exec(url);
  if (m) {
    o.servers = `${m[1] ?? ''}${m[3]}`;
    const info = m[2]!, colon = info.indexOf(':');
    if (colon < 0) o.token = decodeURIComponent(info);
    else { o.user = decodeURIComponent(info.slice(0, colon)); o.pass = decodeURIComponent(info.slice(colon + 1)); }
  } else o.servers = url;
  if (sec.ca !== undefined || sec.cert !== undefined) {
    // Read here so a missing file is named now, not as a TLS error on every reconnect.
    if (sec.ca !== undefined) readNamed('--nats-ca', sec.ca);
    if (sec.cert !== undefined) { readNamed('--nats-cert', sec.cert); readNamed('--nats-key', sec.key ?? ''); }
    o.tls = { ...(sec.ca !== undefined ? { caFile: sec.ca } : {}), ...(sec.cert !== undefined ? { certFile: sec.cert, keyFile: sec.key } : {}) };
  }
  if (sec.nkey !== undefined) {
    const seed = readNamed('--nats-nkey', sec.nkey).trim();
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new Error(`--nats-nkey ${sec.nkey}: not an NKEY user seed (one line starting with SU, 58 characters)`);
    o.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  return o;
}

/** A connection error with a hint at the setting that most likely causes it. */
export function explainNatsError(e: unknown): string {
  const code = String((e as { code?: unknown })?.code ?? '');
  const msg = (e as Error)?.message ?? String(e);
  if (code === 'AUTHORIZATION_VIOLATION' || /authorization violation/i.test(msg)) return `${msg} (check the user:password@ or token@ in the URL, or --nats-nkey)`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/i.test(code) || /certificate/i.test(msg)) return `${msg} (TLS: --nats-ca must name the CA that signed the server's certificate, issued for the host in the URL)`;
  if (code === 'TIMEOUT') return `${msg} (no answer in time; a server that requires a client certificate closes the handshake without one: --nats-cert/--nats-key)`;
  if (code === 'CONNECTION_REFUSED' || /ECONNREFUSED|CONNECTION_REFUSED/.test(msg)) return `${msg} (nothing listens there: is nats-server running, and are the host and port in --nats right?)`;
  return msg;
}
