// Why: some programs run a shell command that is handed to them as an option or an environment
// variable: ssh `-o ProxyCommand=…`/`LocalCommand=…`, git `-c core.sshCommand=…`,
// `GIT_SSH_COMMAND=…`, rsync `-e …`/`RSYNC_RSH=…`. Threat it stops: a tunnel or reverse shell
// (`GIT_SSH_COMMAND="ssh -R 9000:localhost:22" git clone …`, `ssh -o ProxyCommand="socat - TCP:h:443"`)
// hidden in a value the rules would otherwise read as plain data. `optionCommands` lists those
// strings; the analyzer screens each as one more shell layer.

/** Environment variables whose value a program runs as a shell command. */
export const COMMAND_ENV = new Set(['GIT_SSH_COMMAND', 'GIT_SSH', 'GIT_PROXY_COMMAND', 'RSYNC_RSH', 'CVS_RSH']);

const SSH_FAMILY = new Set(['ssh', 'autossh', 'scp', 'sftp', 'sshfs', 'dbclient']);
const SSH_KEYS = /^(ProxyCommand|LocalCommand)(?:\s*=\s*|\s+)([\s\S]*)$/i;
const GIT_KEYS = /^core\.(sshCommand|gitProxy)=([\s\S]*)$/i;

export interface OptionCommand {
  /** argv index that holds the command (alone or after `Key=`). */
  idx: number;
  text: string;
  label: string;
}

/** Shell commands that program `name` (argv[0]'s basename) will run from its options or environment assignments. */
export function optionCommands(name: string, argv: string[]): OptionCommand[] {
  const out: OptionCommand[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (SSH_FAMILY.has(name) || (name === 'rsync' && a.startsWith('-o'))) {
      const v = a === '-o' ? argv[i + 1] : a.startsWith('-o') ? a.slice(2) : undefined;
      const at = a === '-o' ? i + 1 : i;
      const m = v === undefined ? null : SSH_KEYS.exec(v);
      if (m && m[2]!.trim()) out.push({ idx: at, text: m[2]!, label: `${name} ${m[1]}` });
    }
    if (name === 'git' && a === '-c') {
      const m = GIT_KEYS.exec(argv[i + 1] ?? '');
      if (m && m[2]!.trim()) out.push({ idx: i + 1, text: m[2]!, label: `git core.${m[1]}` });
    }
    if (name === 'rsync') {
      const v = a === '-e' || a === '--rsh' ? argv[i + 1] : a.startsWith('--rsh=') ? a.slice(6) : /^-e./.test(a) ? a.slice(2) : undefined;
      if (v?.trim()) out.push({ idx: a === '-e' || a === '--rsh' ? i + 1 : i, text: v, label: 'rsync -e' });
    }
    if (name === 'env') {
      const m = /^([A-Z_][A-Z0-9_]*)=([\s\S]*)$/.exec(a);
      if (m && COMMAND_ENV.has(m[1]!) && m[2]!.trim()) out.push({ idx: i, text: m[2]!, label: m[1]! });
    }
  }
  return out;
}
