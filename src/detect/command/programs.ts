// Why: what the analyzer must know about programs to unwrap them: which are wrappers that run
// another command (env, nohup, sudo, timeout, xargs, find -exec …), which are shells taking a
// script (`bash -c`), which are interpreters taking inline code (`python -c`, `perl -e`), and which
// options take a value. Threat it stops: a hostile command hidden behind one or more wrappers
// (`nohup setsid timeout 0 sudo -u x env A=1 nc -e sh …`) being judged by the wrapper's name.
// This is parsing knowledge, not detection: what is *bad* lives in rules/command-*.yaml.

export interface OptSpec {
  /** Short option letters that take a value (attached `-uroot` or next argument). */
  short?: string;
  /** Long options that take a value (`--user root` or `--user=root`). */
  long?: string[];
  /** Positional arguments to skip before the wrapped command (timeout DURATION, chroot DIR). */
  skip?: number;
  /** Options after which the rest is not a command (`command -v`, `nice` has none). */
  noExec?: string[];
}

/** Wrappers whose wrapped command starts at the first positional argument. */
export const WRAPPERS: Record<string, OptSpec> = {
  env: { short: 'uCS', long: ['--unset', '--chdir', '--split-string'] },
  nohup: {}, setsid: {}, time: { short: 'fo', long: ['--format', '--output'] },
  sudo: { short: 'ughpCDrtUTR', long: ['--user', '--group', '--host', '--prompt', '--close-from', '--chdir', '--role', '--type', '--other-user', '--command-timeout', '--chroot'], noExec: ['-l', '-v', '-k', '-K', '--list', '--validate'] },
  doas: { short: 'uC' }, timeout: { short: 'sk', long: ['--signal', '--kill-after'], skip: 1 },
  nice: { short: 'n', long: ['--adjustment'] }, ionice: { short: 'cnp', long: ['--class', '--classdata'], noExec: ['-p'] },
  stdbuf: { short: 'ioe', long: ['--input', '--output', '--error'] }, exec: { short: 'a' },
  command: { noExec: ['-v', '-V'] }, builtin: {}, chroot: { long: ['--userspec', '--groups'], skip: 1 },
  unshare: { short: 'S', long: ['--setuid', '--setgid', '--propagation', '--setgroups'] },
  nsenter: { short: 'tSGw', long: ['--target', '--setuid', '--setgid', '--wd'] },
  flock: { short: 'wE', long: ['--timeout', '--conflict-exit-code'], skip: 1 },
  strace: { short: 'oepsSIaPuE', noExec: ['-p'] }, ltrace: { short: 'oepsnu' },
  taskset: { short: '', skip: 1, noExec: ['-p'] }, chrt: { skip: 1, noExec: ['-p'] },
  proxychains: { short: 'f' }, proxychains4: { short: 'f' }, torsocks: {}, tsocks: {}, torify: {},
  'xvfb-run': {}, sshpass: { short: 'pfdP' }, caffeinate: {}, cpulimit: { short: 'lpe', long: ['--limit', '--pid'] },
  busybox: {}, catchsegv: {}, fakeroot: {}, firejail: {}, daemonize: { short: 'aceopluv' },
  'systemd-run': { short: 'pEuM', long: ['--unit', '--property', '--description', '--slice', '--uid', '--gid', '--setenv', '--working-directory', '--on-calendar', '--on-active'] },
  xargs: { short: 'ILnPdEsa', long: ['--max-lines', '--max-args', '--max-procs', '--delimiter', '--eof', '--max-chars', '--arg-file'] },
  parallel: { short: 'jS', long: ['--jobs'] }, watch: { short: 'n', long: ['--interval'] },
  // (a red team's round, session 45: each ran `nc -e /bin/sh …` unjudged)
  setpriv: { long: ['--ruid', '--euid', '--reuid', '--rgid', '--egid', '--regid', '--groups', '--inh-caps', '--ambient-caps', '--bounding-set', '--securebits', '--pdeathsig', '--selinux-label', '--apparmor-profile', '--landlock-access', '--landlock-rule'] },
  prlimit: { noExec: ['-p', '--pid'] }, unbuffer: {}, chronic: {}, eatmydata: {}, pkexec: { long: ['--user'] },
  rlwrap: { short: 'bCDefgHlMOpPqsStwz', long: ['--break-chars', '--command-name', '--history-no-dupes', '--file', '--forget-matching', '--history-filename', '--logfile', '--one-shot-rx', '--prompt-colour', '--pre-given', '--quote-characters', '--substitute-prompt', '--set-term-name', '--polling-interval', '--filter'] },
  numactl: { short: 'NmCpi', long: ['--cpunodebind', '--membind', '--physcpubind', '--preferred', '--interleave'], noExec: ['-s', '--show', '-H', '--hardware'] },
  cgexec: { short: 'g' }, linux32: {}, linux64: {}, x86_64: {}, i386: {}, faketime: { short: 'f', skip: 1 }, trickle: { short: 'dutwnL' },
  // (a second red team's round, session 45)
  gosu: { skip: 1 }, 'su-exec': { skip: 1 }, tini: { short: 'ep' }, 'dumb-init': { short: 'r', long: ['--rewrite'] }, valgrind: {},
  nocache: {}, 'run-one': {}, sem: { short: 'j', long: ['--id', '--jobs'] }, 'systemd-inhibit': { long: ['--what', '--who', '--why', '--mode'] },
  'ddtrace-run': {}, 'dbus-run-session': { long: ['--config-file', '--dbus-daemon'] }, chpst: { short: 'ugUebnlLmdofcrt/' },
  proot: { short: 'rbqwkm', long: ['--rootfs', '--bind', '--qemu', '--cwd', '--kernel-release'] },
  runuser: { short: 'ugGs', long: ['--user', '--group', '--supp-group', '--shell'] },
};

/** bwrap's options and how many values each takes (any other `--x` takes none). */
export const BWRAP_ARGS: Record<string, number> = {
  '--bind': 2, '--bind-try': 2, '--ro-bind': 2, '--ro-bind-try': 2, '--dev-bind': 2, '--dev-bind-try': 2, '--symlink': 2, '--setenv': 2,
  '--file': 2, '--bind-data': 2, '--ro-bind-data': 2, '--chmod': 2, '--proc': 1, '--dev': 1, '--tmpfs': 1, '--dir': 1, '--mqueue': 1,
  '--chdir': 1, '--uid': 1, '--gid': 1, '--hostname': 1, '--remount-ro': 1, '--cap-add': 1, '--cap-drop': 1, '--seccomp': 1,
  '--add-seccomp-fd': 1, '--unsetenv': 1, '--perms': 1, '--size': 1, '--args': 1, '--argv0': 1, '--info-fd': 1, '--json-status-fd': 1,
  '--block-fd': 1, '--userns-block-fd': 1, '--sync-fd': 1, '--userns': 1, '--userns2': 1, '--pidns': 1, '--exec-label': 1, '--file-label': 1, '--lock-file': 1,
};

/**
 * Tools that run a command after a subcommand (`uv run CMD`, `conda run -n ENV CMD`, `ip netns exec NAME CMD`,
 * `aws-vault exec PROFILE -- CMD`): the subcommand's words, its options, then `operands` words before the command.
 */
export const SUBCOMMAND_WRAPPERS: Record<string, { sub: string[]; spec?: OptSpec; operands?: number }> = {
  uv: { sub: ['run'], spec: { long: ['--with', '--python', '--project', '--directory', '--env-file', '--extra', '--group', '--package', '--index', '--from'] } },
  poetry: { sub: ['run'], spec: { short: 'C', long: ['--directory'] } }, pipenv: { sub: ['run'] }, pdm: { sub: ['run'] }, hatch: { sub: ['run'] },
  rye: { sub: ['run'] }, pixi: { sub: ['run'], spec: { short: 'e', long: ['--environment', '--manifest-path'] } },
  conda: { sub: ['run'], spec: { short: 'np', long: ['--name', '--prefix', '--cwd'] } }, mamba: { sub: ['run'], spec: { short: 'np', long: ['--name', '--prefix'] } },
  micromamba: { sub: ['run'], spec: { short: 'np', long: ['--name', '--prefix'] } }, bundle: { sub: ['exec'] }, pnpm: { sub: ['exec'] },
  direnv: { sub: ['exec'], operands: 1 }, doppler: { sub: ['run'], spec: { short: 'pc', long: ['--project', '--config', '--token'] } },
  'aws-vault': { sub: ['exec'], operands: 1, spec: { short: 'd', long: ['--duration', '--region', '--mfa-token'] } },
  op: { sub: ['run'], spec: { long: ['--env-file'] } }, ip: { sub: ['netns', 'exec'], operands: 1 },
};

/** Wrappers whose remaining arguments form a shell string (`watch CMD…`, `su -c CMD`). */
export const SHELL_STRING_OPTS: Record<string, { opt: string[]; spec: OptSpec }> = {
  su: { opt: ['-c', '--command'], spec: { short: 'sgG', long: ['--shell', '--group', '--supp-group'] } },
  runuser: { opt: ['-c', '--command'], spec: { short: 'usgG', long: ['--user', '--shell', '--group'] } },
  script: { opt: ['-c', '--command'], spec: { short: 'EIOTtB', long: ['--log-in', '--log-out', '--log-timing'] } },
  flock: { opt: ['-c', '--command'], spec: { short: 'wE' } },
};

export const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'rbash', 'fish', 'yash', 'posh', 'tcsh', 'csh']);
export const SHELL_OPTS: OptSpec = { short: 'oO', long: ['--rcfile', '--init-file'] };

export interface InterpreterSpec {
  lang: string;
  /** Options whose value is inline code (perl -e, python -c). */
  code: string[];
  /** Options (short letters / long names) that take a value that is not code. */
  spec: OptSpec;
  /** Python-style: `-c CODE` ends option parsing and may be clustered (`-Bc`). */
  clusterCode?: string;
}

export const INTERPRETERS: Record<string, InterpreterSpec> = {
  python: { lang: 'python', code: ['-c'], clusterCode: 'c', spec: { short: 'WXm', long: ['--check-hash-based-pycs'] } },
  perl: { lang: 'perl', code: ['-e', '-E'], clusterCode: 'eE', spec: { short: 'IMmdDxCl0F', long: [] } },
  ruby: { lang: 'ruby', code: ['-e'], clusterCode: 'e', spec: { short: 'IrCEFKTUWx0', long: ['--encoding'] } },
  node: { lang: 'node', code: ['-e', '--eval', '-p', '--print'], spec: { short: 'r', long: ['--require', '--import', '--input-type', '--loader', '--env-file'] } },
  php: { lang: 'php', code: ['-r'], spec: { short: 'cdzft', long: [] } },
  lua: { lang: 'lua', code: ['-e'], spec: { short: 'l' } },
  awk: { lang: 'awk', code: [], spec: { short: 'fFvW', long: ['--file', '--field-separator', '--assign'] } },
};

/** Maps a program name to its interpreter family (python3.11 → python, nodejs → node). */
export function interpreterOf(name: string): InterpreterSpec | undefined {
  if (/^python[0-9.]*$/.test(name) || /^pypy[0-9.]*$/.test(name)) return INTERPRETERS.python;
  if (/^perl[0-9.]*$/.test(name)) return INTERPRETERS.perl;
  if (/^ruby[0-9.]*$/.test(name) || name === 'jruby') return INTERPRETERS.ruby;
  if (name === 'node' || name === 'nodejs' || name === 'bun' || name === 'deno') return INTERPRETERS.node;
  if (/^php[0-9.]*$/.test(name)) return INTERPRETERS.php;
  if (/^lua(jit|[0-9.]*)$/.test(name)) return INTERPRETERS.lua;
  if (/^(g|m|n|busybox-)?awk$/.test(name)) return INTERPRETERS.awk;
  return undefined;
}

/**
 * The script a shell, an interpreter or `source` / `.` runs: its first operand after its options. Undefined when it
 * runs inline code (`-c`, `-e`, `-r` …), a module (`python -m`), its standard input (`-s`, `-`, none) or is awk
 * (whose operands are data). `php -f FILE` names it by option.
 */
export function scriptOperand(name: string, argv: readonly string[]): string | undefined {
  const p = programInput(name, argv);
  return p === STDIN ? undefined : p;
}

/**
 * The file a shell or interpreter reads its program from when that program is its standard input (`sh < k.sh`,
 * `python3 - < p.py`, `bash -s < x.sh`): the last `<` redirect of the command. Threat: a payload in a hidden
 * directory fed on stdin ran unseen by every rule on script paths (a note of session 44).
 */
export function stdinScript(name: string, argv: readonly string[], redirects: readonly string[]): string | undefined {
  if (programInput(name, argv) !== STDIN) return undefined;
  for (let i = redirects.length - 1; i >= 0; i--) if (/^<[^<&(>]/.test(redirects[i]!)) return redirects[i]!.slice(1);
  return undefined;
}

const STDIN = Symbol('stdin');

/** Where a shell, an interpreter or `source` takes its program from: a file operand, STDIN, or undefined (inline code, a module, not one). */
function programInput(name: string, argv: readonly string[]): string | typeof STDIN | undefined {
  if (name === 'source' || name === '.') return argv[1];
  const interp = interpreterOf(name);
  const shell = SHELLS.has(name);
  if ((!interp && !shell) || interp?.lang === 'awk') return undefined;
  const code = shell ? ['-c'] : interp!.code;
  const cluster = shell ? 'c' : `${interp!.clusterCode ?? ''}${interp!.lang === 'python' ? 'm' : ''}`;
  if (interp?.lang === 'php') { const f = argv.indexOf('-f'); if (f > 0) return argv[f + 1]; }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (code.includes(a) || (interp?.lang === 'python' && a === '-m')) return undefined;
    if (shell && /^-[A-Za-z]*s[A-Za-z]*$/.test(a) && !a.includes('c')) return STDIN;
    if (/^-[A-Za-z]+$/.test(a) && [...a.slice(1)].some((c) => cluster.includes(c))) return undefined;
    const at = skipOptions(argv as string[], i, shell ? SHELL_OPTS : interp!.spec).at;
    if (at > i) { i = at - 1; continue; }
    if (shell && /^\+[oO]$/.test(a)) { i++; continue; }
    if (shell && a.startsWith('+')) continue;
    return a === '-' ? STDIN : a;
  }
  return STDIN;
}

/** Own-property lookup: a command named `constructor` or `__proto__` must not hit Object.prototype. */
export function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

export function basename(p: string): string {
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i < 0 ? s : s.slice(i + 1);
}

/**
 * Skips options (per `spec`) starting at argv[i]; returns the index of the first positional
 * argument (or argv.length) and whether a `noExec` option was seen.
 */
export function skipOptions(argv: string[], i: number, spec: OptSpec, assignments = false): { at: number; noExec: boolean } {
  let noExec = false;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) { i++; continue; }
    if (assignments && (a === '-' || /^BASH_FUNC_[^=]*%%=/.test(a))) { i++; continue; } // (env's `-` is -i; an exported function)
    if (!a.startsWith('-') || a === '-') break;
    if (spec.noExec?.includes(a)) noExec = true;
    if (a.startsWith('--')) {
      const name = a.split('=')[0]!;
      if (spec.noExec?.includes(name)) noExec = true;
      i += !a.includes('=') && spec.long?.includes(name) ? 2 : 1;
      continue;
    }
    if (/^-\d+$/.test(a)) { i++; continue; } // nice -10
    let takesNext = false;
    for (let k = 1; k < a.length; k++) {
      if (spec.short?.includes(a[k]!)) { takesNext = k === a.length - 1; break; }
    }
    i += takesNext ? 2 : 1;
  }
  return { at: Math.min(i, argv.length), noExec };
}

/** Programs that fetch data from elsewhere (their output files are downloads; a variable set from one carries its name). */
export const DOWNLOADERS = new Set(['curl', 'wget', 'fetch', 'aria2c', 'axel', 'lftp', 'ftp', 'tftp', 'nc', 'ncat', 'netcat', 'socat']);

/**
 * Where the command of a tool with its own syntax starts: `{ from, program?, label? }` (argv from there, a program
 * put in front), or the argument that is a shell string. Subcommand wrappers (`uv run CMD`, `ip netns exec NAME CMD`),
 * `setarch ARCH [flags] CMD`, `sg GROUP [-c] 'CMD'`, `nix-shell … --run 'CMD'`, `capsh … -- ARGS` (bash's arguments),
 * `start-stop-daemon … --exec PROG … -- ARGS`, `bwrap OPTIONS CMD`. Undefined for anything else.
 */
export function wrappedCommand(name: string, argv: string[]): { from: number; program?: string; label?: string } | string | undefined {
  const sw = own(SUBCOMMAND_WRAPPERS, name);
  if (sw && sw.sub.every((w, k) => argv[1 + k] === w)) {
    const k = skipOptions(argv, 1 + sw.sub.length, sw.spec ?? {}).at + (sw.operands ?? 0);
    return { from: argv[k] === '--' ? k + 1 : k, label: `${name} ${sw.sub.join(' ')}` };
  }
  if (name === 'setarch' && argv.length > 2) { let k = 2; while (k < argv.length && argv[k]!.startsWith('-')) k++; return { from: k }; } // (flags only)
  if (name === 'sg') return argv[2] === '-c' ? argv[3] : argv[2];
  if (name === 'nix-shell' || name === 'nix') { const i = argv.findIndex((a) => a === '--run' || a === '--command'); return i > 0 ? argv[i + 1] : undefined; }
  if (name === 'capsh') { const i = argv.indexOf('--'); return i > 0 ? { from: i + 1, program: '/bin/bash' } : undefined; }
  if (name === 'start-stop-daemon') {
    const e = argv.findIndex((a) => a === '--exec' || a === '-x' || a === '--startas' || a === '-a');
    if (e < 0 || e + 1 >= argv.length) return undefined;
    const dd = argv.indexOf('--');
    return { from: dd > 0 ? dd + 1 : argv.length, program: argv[e + 1]! };
  }
  if (name === 'bwrap') {
    let i = 1;
    while (i < argv.length && argv[i]!.startsWith('--')) { if (argv[i] === '--') { i++; break; } i += 1 + (BWRAP_ARGS[argv[i]!] ?? 0); }
    return { from: i };
  }
  return undefined;
}
