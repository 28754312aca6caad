// Why: a repository's own .git/config can make git run any command on ordinary git use:
// `core.fsmonitor = curl … | sh` runs on every `git status`/`git diff`, a clean/smudge filter on
// `git add`/`checkout`, `diff.external` on `git diff`, `include.path` pulls such settings from a
// file elsewhere. An agent that plants one in the workspace gets code run later — by itself in a
// later call, or by the user or the training harness when it collects the episode's patch with
// `git diff` (on the host, outside the sandbox, for a host workspace). Nothing needs a hook file
// or a shell start-up file, so the other persistence places never see it, and `git config …` in a
// script or Python is invisible to the command screen. Also: editors and pagers that are more than
// a program's name, credential helpers given as paths, `!` aliases, `ext::` remotes, signing and
// tool commands.
// Threat it stops: T1546 event-triggered execution through git configuration (persistence, and a
// way out of the sandbox through whoever runs git in its workspace next).

/** Git's booleans (core.fsmonitor may be one: the built-in daemon, not a command). */
const BOOLEAN = /^(true|false|yes|no|on|off|1|0|)$/i;
/** git-lfs's own filter commands (`git lfs install --local`), which are not a hook the agent chose. */
const LFS = /^git[- ]lfs (clean|smudge|filter-process)\b/;

/**
 * An editor or pager setting that is only a program's name with plain options (`vim`, `less -FRX`,
 * `code --wait`): an ordinary choice. Anything else (a path, a pipe, `sh -c …`) runs what the agent
 * chose whenever git opens an editor or a pager.
 */
const PLAIN_PROGRAM = /^[A-Za-z][A-Za-z0-9._+-]*(\s+--?[A-Za-z][A-Za-z0-9-]*(=[A-Za-z0-9,._-]*)?)*$/;
/** git's own credential helpers and the usual ones, named without a path: `git credential-<name>` on PATH. */
const NAMED_HELPER = /^[A-Za-z][A-Za-z0-9._-]*(\s+[A-Za-z0-9._~/=:@+,-]+)*$/;

/** Is `section.sub.key = value` a setting that makes git run a command (or read settings from elsewhere)? */
function runsCommand(section: string, sub: string | undefined, key: string, value: string): boolean {
  switch (section) {
    case 'core':
      if (key === 'fsmonitor') return !BOOLEAN.test(value);
      if (key === 'editor' || key === 'pager') return !PLAIN_PROGRAM.test(value);
      return key === 'hookspath' || key === 'sshcommand' || key === 'askpass' || key === 'gitproxy' || key === 'alternaterefscommand';
    case 'sequence':
      return key === 'editor' && !PLAIN_PROGRAM.test(value);
    case 'pager':
      return !BOOLEAN.test(value) && !PLAIN_PROGRAM.test(value);
    case 'alias':
      return value.startsWith('!');
    case 'remote':
      // (`ext::` runs a command as the transport; upload/receive-pack name the program run for a fetch or push)
      return (key === 'url' || key === 'pushurl') ? /^ext::/i.test(value) : key === 'uploadpack' || key === 'receivepack';
    case 'protocol':
      return sub?.toLowerCase() === 'ext' && key === 'allow' && value.toLowerCase() === 'always';
    case 'uploadpack':
      return key === 'packobjectshook';
    case 'difftool':
    case 'mergetool':
    case 'browser':
    case 'man':
      return sub !== undefined && (key === 'cmd' || key === 'path');
    case 'diff':
      return sub === undefined ? key === 'external' : key === 'command' || key === 'textconv';
    case 'filter':
      return sub !== undefined && (key === 'clean' || key === 'smudge' || key === 'process') && !LFS.test(value);
    case 'merge':
      return sub !== undefined && key === 'driver';
    case 'credential':
      // (`store`, `cache`, `manager`, `osxkeychain` … are programs git finds itself; a path or `!cmd` is the agent's)
      return key === 'helper' && value !== '' && !NAMED_HELPER.test(value);
    case 'gpg':
      // gpg.program, gpg.ssh.program, gpg.x509.program; gpg.ssh.defaultKeyCommand runs when signing
      return key === 'program' || key === 'defaultkeycommand';
    case 'include':
    case 'includeif':
      return key === 'path';
    // (a red-team review, session 41: these run commands too — `git submodule update` with `!cmd`, a trailer's
    // command on commit, the templates `git init` and `git clone` copy hooks from, the alternates' ref listing,
    // send-email's mailer)
    case 'submodule':
      return sub !== undefined && key === 'update' && value.startsWith('!');
    case 'trailer':
      return sub !== undefined && (key === 'cmd' || key === 'command');
    case 'init':
      return key === 'templatedir';
    case 'sendemail':
      return key === 'sendmailcmd' || (key === 'smtpserver' && value.startsWith('/'));
    default:
      return false;
  }
}

/**
 * The settings of a git config text that make git run a command, as `section[.sub].key = value`
 * lines (at most 16, values cut at 200 characters). A line git would reject is skipped, never
 * guessed at; a value continued with a backslash is read as far as its first line.
 */
export function gitConfigExecEntries(text: string): string[] {
  const out: string[] = [];
  let section = '';
  let sub: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\](.*)$/.exec(line);
    if (head) {
      // ([section.sub] is the old spelling of [section "sub"]; a key may follow on the same line)
      const [name, dotted] = head[1]!.split(/\.(.*)/s) as [string, string | undefined];
      section = name.toLowerCase();
      sub = head[2] ?? dotted;
      const rest = head[3]!.trim();
      if (rest === '' || rest.startsWith('#') || rest.startsWith(';')) continue;
      const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(rest);
      if (kv && runsCommand(section, sub, kv[1]!.toLowerCase(), unquote(kv[2] ?? 'true'))) out.push(entry(section, sub, kv[1]!, kv[2] ?? 'true'));
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!kv || section === '') continue;
    const value = unquote(kv[2] ?? 'true');
    if (runsCommand(section, sub, kv[1]!.toLowerCase(), value)) out.push(entry(section, sub, kv[1]!, kv[2] ?? 'true'));
    if (out.length >= 16) break;
  }
  return out;
}

/** A value as git reads it for the checks above: quotes removed, a trailing comment dropped. */
function unquote(v: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '"') { quoted = !quoted; continue; }
    if (c === '\\' && i + 1 < v.length) { out += v[++i]; continue; }
    if (!quoted && (c === '#' || c === ';')) break;
    out += c;
  }
  return out.trim();
}

function entry(section: string, sub: string | undefined, key: string, value: string): string {
  const v = unquote(value);
  return `${section}${sub !== undefined ? `.${sub}` : ''}.${key.toLowerCase()} = ${v.length > 200 ? `${v.slice(0, 200)}…` : v}`;
}
