// Why: what a command name bash expands at run time runs as, for the rules that key on a program's name. A
// one-character bracket glob is that character (`/usr/bin/[n]c` is nc); `/proc/self/exe` run by a shell is that shell;
// `$SHELL` and `$BASH` name a shell; a glob that matches a notable program may be it (`/usr/bin/s?h`); and a name
// built around expansions the analyzer cannot know is also its literal letters (`n$()c`, `n${u}c`, `n$@c` are nc when
// they expand to nothing). Threat it stops: a tool's name spelt so that no rule on names sees it (two red-team rounds,
// session 45). The extra names are judged beside the name as written (records flagged name_guess), never instead.

import { globToRegex } from '../engine/codegen.js';

/** Programs a glob in a command's name is tried against (rules name them; a glob that matches one may be it). */
const NOTABLE_PROGRAMS = ['nc', 'ncat', 'netcat', 'nc.traditional', 'nc.openbsd', 'socat', 'ssh', 'sh', 'bash', 'dash', 'zsh', 'ksh', 'python',
  'python3', 'perl', 'ruby', 'php', 'node', 'curl', 'wget', 'nmap', 'masscan', 'zmap', 'xmrig', 'telnet', 'openssl', 'chisel', 'ngrok',
  'frpc', 'busybox', 'autossh', 'sshpass', 'cloudflared'];

/**
 * `name`: what the name runs as, when that is certain (replaces it); `others`: names it may also be, each judged as
 * well. `exact`: the analyzer knows the name's whole text.
 */
export function nameGuesses(name: string, exact: boolean): { name?: string; others: string[] } {
  if (exact) {
    let n: string | undefined;
    if (/\[[^\]/]\]/.test(name)) n = name.replace(/\[([^\]/])\]/g, '$1');
    if (/^\/proc\/(?:self|\$\$|\d+)\/exe$/.test(name)) n = 'bash';
    const cur = n ?? name;
    const base = cur.slice(cur.lastIndexOf('/') + 1);
    if (!/[?*[]/.test(base)) return { ...(n !== undefined ? { name: n } : {}), others: [] };
    const re = globRegex(base);
    const dir = cur.slice(0, cur.length - base.length);
    return { ...(n !== undefined ? { name: n } : {}), others: NOTABLE_PROGRAMS.filter((x) => x !== base && re?.test(x)).slice(0, 4).map((p) => dir + p) };
  }
  const guess = /^\$\{?(?:SHELL|BASH)\}?$/.test(name) ? 'bash' : name.replace(/\$\{[^}]*\}|\$\([^)]*\)|`[^`]*`|\$[@*#?$!0-9-]|\$\w+/g, '');
  return { others: guess !== name && /^[\w.+-][\w./+-]*$/.test(guess) && !guess.startsWith('.') ? [guess] : [] };
}

/** The rule engine's glob reading (codegen.ts), or undefined for a pattern no regex can hold. */
function globRegex(glob: string): RegExp | undefined {
  try { return globToRegex(glob); } catch { return undefined; }
}
