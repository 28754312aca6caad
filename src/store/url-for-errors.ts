// Why: a URL Corral is handed (--alert-webhook / $CORRAL_ALERT_WEBHOOK, --publish / $CORRAL_PUBLISH,
// --postgres / $CORRAL_POSTGRES) is often itself the secret: a Slack-style hook's path, a
// user:password@ or token@, a ?password=. Threat stopped: a usage error that echoed the value put
// that secret on a terminal, in a service's journal and in CI logs, which more people read than the
// environment it came from. An error shows only the scheme, host and port; userinfo, path, query
// and fragment become ***, and a value that does not parse as scheme://… is not shown at all.

/** How url appears in an error message: scheme://[***@]host[:port][/***], or a note that it is withheld. */
export function urlForError(url: string): string {
  const withheld = 'a value that is not a scheme://HOST URL (not shown: it may hold a secret)';
  let u: URL;
  try { u = new URL(url); } catch { return withheld; }
  // (without "//" the part before ":" may be a user name: "user:password@host" parses as scheme user:)
  if (!url.toLowerCase().startsWith(`${u.protocol}//`)) return withheld;
  const userinfo = u.username !== '' || u.password !== '' || /^[^/?#]*@/.test(url.slice(u.protocol.length + 2)) ? '***@' : '';
  const rest = (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '' ? '/***' : '';
  return `${u.protocol}//${userinfo}${u.host}${rest}`;
}
