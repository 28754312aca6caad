// Why: a file tool can write a script that does the harm later: a deploy.sh holding `ssh -R …`, a
// cron entry that pipes curl into sh, a notebook cell `!xmrig -o stratum+tcp://…`, a Python file that
// opens a reverse shell. Threat it stops: the agent moving a command the Bash screen would deny into
// a file it (or the user, or cron) runs afterwards. This file decides which written text is code and
// in which language, and hands the code to the same command analyser as the Bash screen: shell for
// .sh/.bash/.zsh/.ksh files, sh/bash/zsh shebangs, shell startup files, cron script directories and
// git hooks; the command part of each crontab line; Python for .py files and python shebangs; a
// notebook code cell as Python, with its `!cmd` lines and %%bash/%%sh cells as shell; Node, Ruby,
// Perl and PHP files (by extension or shebang) as the inline code of `node -e`, `ruby -e`, `perl -e`,
// `php -r` — what a heredoc'd script of theirs is judged as (a user review, session 43: the same Node
// reverse shell written by the file tool was not screened at all). Other files (Markdown, JSON, YAML,
// source in languages Corral does not read) are data to Corral.
import { posix } from 'node:path';
import { shellQuote } from '../util/shell-join.js';
import type { WrittenText } from './file-tool-input.js';

export type CodeTool = 'bash' | 'python';
/** A piece of written text to screen, the language to screen it as, and where it came from. */
export interface CodeUnit { label: string; text: string; tool: CodeTool }

type Kind = 'shell' | 'python' | 'crontab' | 'crontab-user' | 'anacrontab' | 'notebook' | Script;
/** Languages read as inline code: the interpreter and its inline-code option. */
type Script = 'node' | 'ruby' | 'perl' | 'php';
const SCRIPT_FLAG: Record<Script, string> = { node: '-e', ruby: '-e', perl: '-e', php: '-r' };
const SCRIPT_EXT: [RegExp, Script][] = [[/\.(js|mjs|cjs)$/i, 'node'], [/\.rb$/i, 'ruby'], [/\.(pl|pm)$/i, 'perl'], [/\.php$/i, 'php']];
const SCRIPT_SHEBANG: [RegExp, Script][] = [[/^(node|nodejs)$/, 'node'], [/^ruby[0-9.]*$/, 'ruby'], [/^perl[0-9.]*$/, 'perl'], [/^php[0-9.]*$/, 'php']];

const SHELL_EXT = /\.(sh|bash|zsh|ksh|mksh|dash|ash)$/i;
const PY_EXT = /\.(py|pyw)$/i;
const SHELLS = new Set(['sh', 'bash', 'zsh', 'ksh', 'mksh', 'dash', 'ash', 'busybox']);
/** Directories whose files are shell scripts run later (run-parts, git, login, init). */
const SCRIPT_DIRS = /^\/etc\/cron\.(hourly|daily|weekly|monthly)\/|\/\.git\/(modules\/.+\/)?hooks\/[^/]+$|^\/etc\/(init\.d|update-motd\.d|profile\.d)\/|^\/etc\/rc\.local$|\/\.ssh\/rc$|^\/etc\/ssh\/sshrc$/;

/** The interpreter a `#!` line names: its basename, or the program `env` runs (after -S, -i, VAR=…). */
export function shebangInterpreter(text: string): string | undefined {
  const m = /^#!\s*(\S+)([^\n]*)/.exec(text);
  if (!m) return undefined;
  const prog = posix.basename(m[1]!);
  if (prog !== 'env') return prog;
  for (const w of m[2]!.trim().split(/\s+/)) if (w !== '' && !w.startsWith('-') && !w.includes('=')) return posix.basename(w);
  return undefined;
}

function byShebang(text: string): Kind | undefined {
  const p = shebangInterpreter(text);
  if (p === undefined) return undefined;
  if (SHELLS.has(p)) return 'shell';
  if (/^python[0-9.]*$/.test(p)) return 'python';
  return SCRIPT_SHEBANG.find(([re]) => re.test(p))?.[1];
}

function isScript(k: Kind): k is Script { return k in SCRIPT_FLAG; }

/**
 * What kind of text a file holds. `shellStartup`: the path screen found a shell startup file
 * (cmd_persistence_rc_write), the one place list this file does not repeat.
 */
function kindOf(abs: string, first: string, notebook: boolean, shellStartup: boolean): Kind | undefined {
  if (notebook) return 'notebook';
  if (abs === '/etc/crontab' || abs.startsWith('/etc/cron.d/')) return 'crontab';
  if (abs.startsWith('/var/spool/cron/')) return 'crontab-user';
  if (abs === '/etc/anacrontab') return 'anacrontab';
  const fromShebang = byShebang(first);
  if (fromShebang) return fromShebang;
  if (SHELL_EXT.test(abs) || shellStartup || SCRIPT_DIRS.test(abs)) return 'shell';
  if (PY_EXT.test(abs)) return 'python';
  return SCRIPT_EXT.find(([re]) => re.test(abs))?.[1];
}

/**
 * The commands of a crontab: each entry's schedule (5 fields or @word; anacrontab: period, delay,
 * job id) and, in system tables, user field removed; `%` (a newline to cron, the rest is stdin) ends
 * the command. Comments and VAR=value lines are skipped.
 */
export function crontabCommands(text: string, kind: 'crontab' | 'crontab-user' | 'anacrontab'): string {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) continue;
    const fields = line.split(/\s+/);
    let skip = kind === 'anacrontab' ? 3 : fields[0]!.startsWith('@') ? 1 : 5;
    if (kind === 'crontab') skip++;
    let cmd = fields.slice(skip).join(' ');
    const pct = cmd.search(/(?<!\\)%/);
    if (pct >= 0) cmd = cmd.slice(0, pct);
    if (cmd.trim() !== '') out.push(cmd);
  }
  return out.join('\n');
}

/** A notebook code cell: %%bash/%%sh cells are shell; `!cmd`, `x = !cmd` and %sx/%system lines are shell; the rest Python. */
export function notebookUnits(label: string, source: string): CodeUnit[] {
  const lines = source.split('\n');
  const magic = /^\s*%%(bash|sh|script\s+(ba|z)?sh|system)\b/.exec(lines[0] ?? '');
  if (magic) return [{ label, text: lines.slice(1).join('\n'), tool: 'bash' }];
  const shell: string[] = [];
  const py = lines.map((l) => {
    const m = /^\s*(?:[A-Za-z_][\w, ]*=\s*)?!(.*)$/.exec(l) ?? /^\s*%(?:sx|system)\s+(.*)$/.exec(l);
    if (m) { shell.push(m[1]!); return ''; }
    return /^\s*%/.test(l) ? '' : l; // other IPython magics are not Python
  });
  const units: CodeUnit[] = [{ label, text: py.join('\n'), tool: 'python' }];
  if (shell.length > 0) units.push({ label: `${label} (shell lines)`, text: shell.join('\n'), tool: 'bash' });
  return units;
}

/**
 * The code units to screen in what a call writes to `abs`. `notebook`: a NotebookEdit code cell
 * (markdown cells are not passed in). Empty when the file is not code Corral reads.
 */
export function codeUnits(abs: string, texts: WrittenText[], o: { notebook?: boolean; shellStartup?: boolean } = {}): CodeUnit[] {
  const units: CodeUnit[] = [];
  for (const t of texts) {
    const kind = kindOf(abs, t.text.slice(0, 200), o.notebook === true, o.shellStartup === true);
    if (kind === undefined || t.text.trim() === '') continue;
    if (kind === 'notebook') units.push(...notebookUnits(t.label, t.text));
    else if (kind === 'shell' || kind === 'python') units.push({ label: t.label, text: t.text, tool: kind === 'shell' ? 'bash' : 'python' });
    // (a #! line is not code to the interpreters' -e; it is left out)
    else if (isScript(kind)) units.push({ label: t.label, text: `${kind} ${SCRIPT_FLAG[kind]} ${shellQuote(t.text.replace(/^#![^\n]*\n?/, ''))}`, tool: 'bash' });
    else units.push({ label: `${t.label} (crontab commands)`, text: crontabCommands(t.text, kind), tool: 'bash' });
  }
  return units.filter((u) => u.text.trim() !== '');
}
