// Why: what one simple command does to data and files, computed without running it: the static
// stdout of producers and filters (echo, printf, cat, base64 -d, xxd -r, rev, tr, gunzip …) so a
// pipeline's payload can be decoded, the file operands a command acts on (so `grep PATTERN`
// and `echo TEXT` are not mistaken for file access — mentioning is not doing), and the files
// curl/wget download. Threat it stops: `echo … | base64 -d | sh` and friends, and false alarms
// on commands that only talk about a dangerous thing.
import { base32Decode, base64Decode, echoOutput, gunzip, hexDecode, MAX_DECODED, printfOutput, revLines, trText, xxdDumpDecode } from './decode.js';
import { basename } from './programs.js';

const has = (args: string[], ...opts: string[]): boolean => args.some((a) => opts.includes(a) || (/^-[a-zA-Z]+$/.test(a) && opts.some((o) => o.length === 2 && o[0] === '-' && a.includes(o[1]!))));

/**
 * Static stdout of `argv` given its stdin (null = unknown). `readFile` returns content the same
 * tool call wrote earlier (or null). Returns null when the output cannot be known.
 */
export function stageOutput(argv: string[], stdin: Buffer | null, readFile: (p: string) => Buffer | null): Buffer | null {
  const name = basename(argv[0] ?? '');
  const args = argv.slice(1);
  const operands = args.filter((a) => !a.startsWith('-') || a === '-');
  const input = (): Buffer | null => {
    const files = operands.filter((a) => a !== '-');
    if (files.length === 0) return stdin;
    const parts = files.map(readFile);
    return parts.every((p): p is Buffer => p !== null) ? Buffer.concat(parts) : null;
  };
  let out: Buffer | string | null = null;
  switch (name) {
    case 'echo': out = echoOutput(args); break;
    case 'printf': out = printfOutput(args); break;
    case 'cat': out = input(); break;
    case 'base64': case 'gbase64': {
      const inp = input();
      if (inp === null) return null;
      out = has(args, '-d', '--decode', '-D') ? base64Decode(inp.toString('latin1'), has(args, '-i', '--ignore-garbage')) : `${inp.toString('base64')}\n`;
      break;
    }
    case 'base32': { const inp = input(); out = inp && has(args, '-d', '--decode') ? base32Decode(inp.toString('latin1')) : null; break; }
    case 'xxd': {
      const inp = input();
      if (inp === null || !has(args, '-r', '-revert')) return null;
      out = has(args, '-p', '-ps', '-plain', '-postscript') ? hexDecode(inp.toString('latin1')) : xxdDumpDecode(inp.toString('latin1'));
      break;
    }
    case 'rev': { const inp = input(); out = inp && revLines(inp.toString('utf8')); break; }
    case 'tr': out = stdin && trText(stdin.toString('utf8'), args); break;
    case 'gunzip': case 'zcat': { const inp = input(); out = inp && gunzip(inp); break; }
    case 'gzip': case 'pigz': { const inp = input(); out = inp && has(args, '-d', '--decompress') ? gunzip(inp) : null; break; }
    case 'openssl': {
      if (!has(args.slice(1), '-d')) return null;
      if (args[0] === 'base64' || (args[0] === 'enc' && has(args, '-a', '-base64'))) out = stdin && base64Decode(stdin.toString('latin1'));
      else if (args[0] === 'zlib') out = stdin && gunzip(stdin);
      break;
    }
    default: return null;
  }
  if (out === null) return null;
  const b = typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
  return b.length > MAX_DECODED ? null : b;
}

// Tools whose first operand is a pattern or program, not a file.
const PATTERN_FIRST = new Set(['grep', 'egrep', 'fgrep', 'zgrep', 'rg', 'ag', 'ack', 'sed', 'awk', 'gawk', 'mawk', 'nawk', 'jq', 'yq', 'perl', 'xmllint']);
// Tools whose operands are data or names, never files they act on.
const NO_FILES = new Set(['echo', 'printf', 'man', 'info', 'whatis', 'apropos', 'help', 'type', 'which', 'whereis', 'command', 'alias', 'export', 'declare', 'local', 'readonly', 'unset', 'history', 'true', 'false', ':', 'test', '[', '[[', 'expr', 'let', 'pgrep', 'pkill', 'kill', 'killall']);
// Per pattern-first tool: options whose value is the pattern/program, and options taking a plain value.
const PATTERN_OPTS: Record<string, { pat: string[]; val: string[] }> = {
  grep: { pat: ['-e', '--regexp', '-f', '--file'], val: ['-m', '-A', '-B', '-C', '-d', '-D', '--max-count', '--label'] },
  sed: { pat: ['-e', '--expression', '-f', '--file'], val: ['-l', '--line-length'] },
  awk: { pat: ['-f', '--file'], val: ['-F', '-v', '--field-separator', '--assign'] },
  jq: { pat: ['-f', '--from-file'], val: ['--arg', '--argjson', '--slurpfile', '--rawfile', '--indent'] },
  perl: { pat: ['-e', '-E'], val: ['-I', '-M', '-m'] },
};
const patternOpts = (name: string): { pat: string[]; val: string[] } => {
  const k = /grep$|^rg$|^ag$|^ack$/.test(name) ? 'grep' : /awk$/.test(name) ? 'awk' : name === 'yq' ? 'jq' : name;
  return Object.prototype.hasOwnProperty.call(PATTERN_OPTS, k) ? PATTERN_OPTS[k]! : { pat: [], val: [] };
};

/** Operands naming files the command reads or writes (best effort; see docs/check.md). */
export function fileOperands(argv: string[]): string[] {
  const name = basename(argv[0] ?? '');
  if (NO_FILES.has(name)) return [];
  if (name === 'git' && (argv[1] === 'commit' || argv[1] === 'tag' || argv[1] === 'log' || argv[1] === 'grep')) return [];
  const out: string[] = [];
  let patternSeen = !PATTERN_FIRST.has(name);
  const args = argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { out.push(...args.slice(i + 1).slice(patternSeen ? 0 : 1)); break; }
    if (a.startsWith('-') && a !== '-') {
      const po = patternOpts(name);
      if (po.pat.includes(a)) { patternSeen = true; i++; continue; }
      if (po.val.includes(a)) { i += a === '--arg' || a === '--argjson' ? 2 : 1; continue; }
      const eq = a.indexOf('=');
      if (eq > 0 && /^[~/.$]/.test(a.slice(eq + 1))) out.push(a.slice(eq + 1));
      continue;
    }
    if (!patternSeen) { patternSeen = true; continue; }
    if ((name === 'awk' || name === 'gawk') && /^[A-Za-z_]\w*=/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/** Files that curl/wget will write (explicit -o/-O paths or the URL's basename). */
export function downloadTargets(argv: string[]): string[] {
  const name = basename(argv[0] ?? '');
  const args = argv.slice(1);
  const urls = args.filter((a) => /^(https?|ftp):\/\//i.test(a) || /^[\w.-]+\.[a-z]{2,}\/\S+/i.test(a));
  const urlBase = (): string[] => urls.map((u) => basename(u.replace(/[?#].*$/, ''))).filter((b) => b && !b.includes(':'));
  const out: string[] = [];
  if (name === 'curl') {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-o' || a === '--output') out.push(args[++i] ?? '');
      else if (/^-[a-zA-Z]*o$/.test(a) && !a.startsWith('--')) out.push(args[++i] ?? '');
      else if (a.startsWith('--output=')) out.push(a.slice(9));
      else if (a === '-O' || a === '--remote-name' || (/^-[a-zA-Z]*O[a-zA-Z]*$/.test(a) && !a.startsWith('--'))) out.push(...urlBase());
    }
  } else if (name === 'tftp' || name === 'atftp') {
    const g = args.findIndex((a) => a === 'get' || a === '-g' || a === '--get');
    if (g >= 0 && args[g + 1]) out.push(args[g + 2] && !args[g + 2]!.startsWith('-') ? args[g + 2]! : basename(args[g + 1]!));
  } else if (name === 'aria2c' || name === 'axel') {
    const o = args.findIndex((a) => a === '-o' || a === '--out' || a === '--output');
    out.push(...(o >= 0 && args[o + 1] ? [args[o + 1]!] : urlBase()));
  } else if (name === 'wget') {
    let explicit = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-O' || a === '--output-document') { out.push(args[++i] ?? ''); explicit = true; }
      else if (a.startsWith('--output-document=')) { out.push(a.slice(18)); explicit = true; }
      else if (/^-O./.test(a)) { out.push(a.slice(2)); explicit = true; }
    }
    if (!explicit) out.push(...urlBase());
  }
  return out.filter((p) => p !== '' && p !== '-');
}

/** Normalizes a path for same-call bookkeeping (`./x` and `x` are one file). */
export function normPath(p: string): string {
  return p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}
