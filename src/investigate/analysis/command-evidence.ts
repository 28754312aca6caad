// Why: the command text of a tool call is the best evidence that it caused an alert: it may
// name the alert's destination, start a process that outlives the call (the only way traffic
// can appear after the call ended), or match a detection rule. This module reads commands for
// those signs and turns commands into patterns so the fleet view can count "what precedes alerts".
// Commands are untrusted text: nothing here executes or resolves them.

/** Ways a command leaves something running after the tool call returns. */
const DETACH = [
  /\bnohup\b/, /\bsetsid\b/, /\bdisown\b/, /\bdaemon(?:ize)?\b/, /\bstart-stop-daemon\b/,
  /\bscreen\s+(?:-\w*\s+)*-d/, /\btmux\s+new(?:-session)?\b[^|;]*\s-d\b/, /\bsystemd-run\b/,
  /\b(?:docker|podman)\s+run\b[^|;]*\s-d\b/, /\bat\s+now\b/,
  /\bsubprocess\.Popen\b/, /\bos\.fork\b/, /\bos\.spawn/, /\bmultiprocessing\b/, /\bthreading\.Thread\b/, /\bdaemon\s*=\s*True\b/,
  /\bchild_process\b/, /\bspawn\(/,
];

/** True when the command visibly starts work that can outlive the call. */
export function leavesProcessRunning(command: string | undefined): boolean {
  if (!command) return false;
  for (const re of DETACH) if (re.test(command)) return true;
  if (command.includes('/etc/cron') && writesCron(command)) return true;
  // The shell's own operators only outside quotes: `echo "a & b"` runs nothing in the background.
  const shell = command.includes('&') || command.includes('crontab') ? unquoted(command) : '';
  return BACKGROUND.test(shell) || installsCrontab(shell);
}

/** A single '&' (not &&, 2>&1, &>, or a URL's a=1&b=2). */
const BACKGROUND = /(?:^|[^&>|<])&(?=\s|$|;|\))(?!\s*&)/;
/** The argument of `sh -c` (and bash, dash, zsh, ksh) is a script: its quotes are opened, not blanked. */
const SHELL_C = /\b(?:ba|da|z|k)?sh\s+(?:-[a-zA-Z]+\s+)*-[a-zA-Z]*c\s*$/;

/** The command with every quoted string blanked, except the script of `sh -c '…'` (unquoted, to be read as shell). */
function unquoted(command: string): string {
  return command.replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, (q, at: number) => (SHELL_C.test(command.slice(Math.max(0, at - 64), at)) ? ` ${q.slice(1, -1)} ` : '""'));
}

/**
 * Whether a crontab invocation installs a table (persistence): `crontab FILE`, `crontab -`,
 * `crontab -e`. Listing (-l) and removing (-r) leave nothing to run later.
 */
function installsCrontab(shell: string): boolean {
  // (the command, not a path that ends in the word: /etc/crontab is a file, read or written — see writesCron)
  for (const m of shell.matchAll(/(?:^|[\s;|&(`])crontab\b([^|;&)\n]*)/g)) {
    if (!/(?:^|\s)-[a-zA-Z]*[lr]\b/.test(m[1]!)) return true;
  }
  return false;
}

/**
 * Writes under /etc/cron* (a system crontab or a cron.d/cron.daily entry: work that runs after the call): a
 * redirect or tee into it, a copy, move, install, link or dd to it, an in-place sed, a file opened there for
 * writing. Reading it (`cat /etc/crontab`, `grep … /etc/cron.d`, `ls /etc/cron.daily`) leaves nothing behind.
 */
const CRON_WRITES = [
  />>?\|?\s*['"]?\/etc\/cron/,
  /\btee\b(?:\s+-\S+)*(?:\s+['"]?\/[^\s'"]*)*\s+['"]?\/etc\/cron/,
  /\b(?:cp|mv|install|ln|rsync|scp)\b[^|;&\n]*\s['"]?\/etc\/cron[^\s'"|;&)]*['"]?\/?\s*(?:$|[|;&)\n])/,
  /\bdd\b[^|;&\n]*\bof=['"]?\/etc\/cron/,
  /\bsed\b(?:\s+-[^i\s]\S*)*\s+-[a-zA-Z]*i[^|;&\n]*\/etc\/cron/,
  /\bopen\(\s*['"]\/etc\/cron[^'"]*['"]\s*,\s*['"][^'"]*[wax+]/,
  /\b(?:writeFileSync|appendFileSync|writeFile|appendFile)\(\s*['"]\/etc\/cron/,
];

function writesCron(command: string): boolean {
  return CRON_WRITES.some((re) => re.test(command));
}

/** True when the command names the destination (address, or address/port pair) of an alert. */
export function mentionsDestination(command: string | undefined, dst: string, dport?: number): 'address' | 'port' | undefined {
  if (!command || !dst) return undefined;
  let at = command.indexOf(dst);
  const v6 = dst.includes(':');
  while (at >= 0) {
    // Guard against 10.0.0.1 matching inside 10.0.0.10.
    const after = command.charCodeAt(at + dst.length);
    const before = at > 0 ? command.charCodeAt(at - 1) : 32;
    if (!isAddrChar(after, v6) && !isAddrChar(before, v6)) return 'address';
    at = command.indexOf(dst, at + 1);
  }
  if (dport !== undefined && dport > 1024) {
    // An uncommon port written as :PORT or -p PORT is weaker evidence (pools, tunnels).
    const re = new RegExp(`(?::|\\bport[= ]|-p\\s*)${dport}\\b`);
    if (re.test(command)) return 'port';
  }
  return undefined;
}

function isAddrChar(c: number, v6: boolean): boolean {
  if ((c >= 48 && c <= 57) || c === 46) return true;
  return v6 && ((c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 58);
}

/**
 * A command pattern: the command with its variable parts replaced, so that
 * `curl http://10.0.3.7:8080/x?id=41` and `curl http://10.0.9.2:8080/x?id=7` count together.
 */
export function commandPattern(command: string | undefined, max = 120): string {
  if (!command) return '(no command)';
  let s = command.replace(/\s+/g, ' ').trim();
  s = s
    .replace(/\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b/gi, '<ip6>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g, '<ip>')
    .replace(/\b[0-9a-f]{16,}\b/gi, '<hex>')
    .replace(/\b[A-Za-z0-9+/]{32,}={0,2}/g, '<b64>')
    .replace(/(['"])(?:(?!\1).){24,}\1/g, '$1<str>$1')
    .replace(/\b\d+(?:\.\d+)?\b/g, '<n>')
    .replace(/\/(?:tmp|var\/tmp|dev\/shm)\/[^\s'"]+/g, (m) => m.replace(/\/[^/]+$/, '/<file>'));
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** What the detection engine's command analyzer says about one command (if it is available). */
export interface RuleHit { rule: string; category?: string; severity?: string }
export type CommandRules = (command: string, tool?: string) => RuleHit[];

/**
 * Loads the command analyzer of the detection issue (src/detect/check.ts) when it exists.
 * It is optional: the build may not contain it yet, or its API may differ. Any failure degrades
 * to `undefined`, and the investigation then scores without rule evidence (and says so).
 */
export async function loadCommandRules(): Promise<{ check?: CommandRules; note: string }> {
  let mod: Record<string, unknown>;
  try {
    const url = new URL('../../detect/check.js', import.meta.url).href;
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    return { note: `command analyzer not available (${(e as Error).message.split('\n')[0]}); scoring without rule matches` };
  }
  try {
    let fn: ((c: string, o?: { tool?: 'bash' | 'python' }) => unknown) | undefined;
    if (typeof mod.checkCommand === 'function') fn = mod.checkCommand as (c: string, o?: { tool?: 'bash' | 'python' }) => unknown;
    else if (typeof mod.CommandChecker === 'function') {
      const Ctor = mod.CommandChecker as { create?: () => unknown } & (new () => unknown);
      const inst = (typeof Ctor.create === 'function' ? Ctor.create() : new Ctor()) as { check?: (c: string) => unknown; checkCommand?: (c: string) => unknown };
      const m = inst.check ?? inst.checkCommand;
      if (typeof m === 'function') fn = m.bind(inst);
    }
    if (!fn) return { note: 'command analyzer found but it exports neither checkCommand nor CommandChecker; scoring without rule matches' };
    const probe = fn('true');
    if (probe && typeof (probe as Promise<unknown>).then === 'function') {
      return { note: 'command analyzer is asynchronous; not supported here yet, scoring without rule matches' };
    }
    const call = fn;
    return { check: (c: string, tool?: string) => toHits(call(c, { tool: /python|ipython|code_interpreter/i.test(tool ?? '') ? 'python' : 'bash' })), note: 'command analyzer: src/detect/check.ts (rule matches are evidence)' };
  } catch (e) {
    return { note: `command analyzer failed to start (${(e as Error).message}); scoring without rule matches` };
  }
}

/** Accepts the shapes an analyzer may reasonably return: an array of detections, or an object holding one. */
function toHits(v: unknown): RuleHit[] {
  const list = Array.isArray(v) ? v : v && typeof v === 'object'
    ? (['detections', 'alerts', 'findings', 'matches', 'hits'].map((k) => (v as Record<string, unknown>)[k]).find(Array.isArray) as unknown[] | undefined) ?? []
    : [];
  const out: RuleHit[] = [];
  for (const d of list) {
    if (!d || typeof d !== 'object') continue;
    const o = d as Record<string, unknown>;
    const rule = typeof o.rule === 'string' ? o.rule : typeof o.id === 'string' ? o.id : typeof o.name === 'string' ? o.name : undefined;
    if (!rule) continue;
    out.push({ rule, category: typeof o.category === 'string' ? o.category : undefined, severity: typeof o.severity === 'string' ? o.severity : undefined });
  }
  return out;
}
