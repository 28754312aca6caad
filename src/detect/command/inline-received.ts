// Why: inline code that reads from a network connection and runs what it read — as code (exec, eval,
// new Function, vm, unpickling) or as a command (os.system, popen, subprocess, child_process, backticks)
// — gives whoever is at the far end a shell without any shell's name: staged payloads
// (`exec(zlib.decompress(s.recv(l)))`) and command-loop reverse shells
// (`s.send(os.popen(s.recv(1024).decode()).read())`). A rule that asked only "a socket and an exec
// somewhere" flagged every script that connects and also runs `subprocess.run(cmd)` (a red team's 29
// false positives, session 45), so this looks for a path from a network read to such a sink in the
// tokenizer's normalised code (one statement per line, strings folded):
//   - the read inside the sink's call on the same statement (`exec(s.recv(9))`);
//   - a name bound from a read (assignment, `+=`, walrus, `for … in`, a `.on("data", d => …)` callback's
//     parameter, a ruby block's `|l|`, perl's `$_` in `while(<$s>)`) — or from a name already bound so —
//     named in the sink's call (`d=s.recv(l)` … `exec(zlib.decompress(d))`, `exec(f"{d}")`);
//   - the sink handed over as the reader's callback (`.on("data", eval)`).
// Sinks are found by name, also through aliases (`import subprocess as q`, `from os import system as z`,
// `{execSync: x} = require("child_process")`, `x = exec`), builtins/Kernel/globalThis prefixes, getattr and
// `["name"]` lookups. Threat it stops: the far end of a socket running code in the sandbox through inline
// code that names no shell. It is a heuristic over one normalised text, not a data-flow analysis: a value
// that passes through a container, a function or a file, or code the tokenizer cannot fold, is not followed
// (docs/check.md).

/** Where a network connection is made or accepted (a plain `import socket` is not one). */
const NET_OPEN = /[.:]connect(?:_ex)?\(|require\("socket"\)|create_connection|open_connection|start_server|\.accept\(|\.listen\(|TCPSocket|TCPServer|UDPSocket|fsockopen|stream_socket_(?:client|server)|socket_(?:create|connect)|IO::Socket|net\.(?:connect|createConnection|createServer|Socket)|require\("(?:node:)?(?:net|tls|dgram)"\)|\btls\.connect|socket\.(?:tcp|udp)\(|\bsocket\(\w+,|socket\.socket\(|WebSocket|websocket|wss?:\/\/|resolveTxt|"TXT"|dns\.resolver|\/dev\/tcp\/|socketserver|SocketServer|RequestHandler/;

/** A read of data that may have come from the network (file reads by open()/readFileSync and stdin excluded). */
const READ_SRC = String.raw`recv\w*\(|(?<!open\([^()\n]*\)|stdin|STDIN|Path\([^()\n]*\))\.read(?!File|dir|link|_text|_bytes|able)\w*\(|(?<!stdin|STDIN)\.read\b|\bgets\b|getline|[.:]receive\(|\bfgets\(|\bfread\(|stream_get_\w+\(|socket_read\(|sysread\(|<\$\w+>|<(?!STDIN>)[A-Z][A-Z0-9_]*>|makefile\(|rfile|each_line|resolveTxt|\.strings\b|to_text\(|for\s*await|open\(\w+\.fileno\(\)|\.(?:on|once|addListener)\("(?:data|message|line)"|onmessage`;
const READ = new RegExp(READ_SRC);

/** Sinks: names that run their argument as code or as a command. */
const SINK_NAMES = ['exec', 'eval', 'execfile', 'Function', 'loadstring', 'create_function', 'readpipe',
  'system', 'popen', 'spawn', 'spawnSync', 'execSync', 'execFile', 'execFileSync', 'shell_exec', 'passthru', 'proc_open',
  'pcntl_exec', 'getoutput', 'getstatusoutput', 'check_output', 'check_call', 'Popen', 'capture2', 'capture2e', 'capture3',
  'popen2', 'popen2e', 'popen3', 'instance_eval', 'class_eval', 'module_eval', 'runsource', 'runcode', 'FunctionType',
  'Unpickler', 'runInThisContext', 'runInNewContext', 'runInContext', 'compileFunction', 'create_subprocess_shell',
  'create_subprocess_exec', 'execv', 'execvp', 'execl', 'execlp', 'posix_spawn', 'posix_spawnp', 'Worker'];
/** Names that are sinks only behind one of these receivers (`subprocess.run`, `pickle.loads`, `os.execute`, lua's bare load). */
const QUALIFIED: Record<string, string[]> = {
  run: ['subprocess'], call: ['subprocess'], loads: ['pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle'],
  load: ['pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle'], execute: ['os'], timeit: ['timeit'], Script: ['vm'], compile: ['InstructionSequence'],
};
/** Receivers a sink may sit behind and still be the sink (anything else before a dot, or `->`, is a method of its own). */
const RECEIVERS = ['os', 'posix', 'subprocess', 'builtins', '__builtins__', 'Kernel', 'TOPLEVEL_BINDING', 'binding', 'globalThis',
  'global', 'window', 'self', 'pickle', 'cPickle', '_pickle', 'marshal', 'dill', 'cloudpickle', 'vm', 'io', 'IO', 'Open3', 'Process',
  'asyncio', 'code', 'timeit', 'cProfile', 'types', 'child_process', 'cp', 'InteractiveInterpreter()', 'InteractiveConsole()',
  'require("child_process")', 'require("node:child_process")', 'require("vm")', 'require("node:vm")', '__import__("builtins")',
  '__import__("os")', '__import__("subprocess")', 'globals()["__builtins__"]', 'vars(__builtins__)', '__builtins__.__dict__', 'InstructionSequence'];

export interface ReceivedExec {
  /** The sink as written (`os.popen`, `eval`, `backticks`). */
  sink: string;
  /** What reached it: the read (`s.recv`) or the name bound from one (`d`). */
  source: string;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Inline code that runs what it read from a network connection: the first sink a read reaches, or undefined. */
export function receivedExec(code: string, lang: string): ReceivedExec | undefined {
  if (!NET_OPEN.test(code) || !READ.test(code)) return undefined;
  const lines = code.split('\n');
  const aliases = sinkAliases(code);
  const receivers = [...RECEIVERS, ...aliases.receivers];
  const tainted = taintedNames(lines, lang);
  const names = [...SINK_NAMES, ...aliases.sinks];
  const recv = `(?:${receivers.map(esc).join('|')})`;
  const sinkNames = names.map(esc).join('|');
  const sinkRe = new RegExp(String.raw`(?:(?<![\w$.@])(?<!->)(?<!::)|(?<=(?<![\w$])${recv}\.))(${sinkNames})(?:\.(?:call|apply))?\s*\(`
    + String.raw`|(?<=(?<![\w$])${recv}\.)(${Object.keys(QUALIFIED).join('|')})\s*\(`
    + String.raw`|getattr\([^)\n]*,"(\w+)"\)\(|\["(\w+)"\]\(|\)\.(constructor)\(`
    + (lang === 'php' ? String.raw`|(?<![\w$>])(assert)\s*\(` : '')
    + (lang === 'lua' ? String.raw`|(?<![\w$.:])(load)\s*\(` : '')
    + String.raw`|[(,](eval)\)\(`
    + String.raw`|Reflect\.construct\((Function)|\b(?:call_user_func(?:_array)?|array_map|array_walk)\("(\w+)"|\((?:loadstring|load)\b[^)\n]*\)\(`
    + (lang === 'node' ? String.raw`|(?<![\w$.])(import)\(` : '')
    + (lang === 'perl' || lang === 'ruby' ? String.raw`|(?<![\w$.@])(?<!->)(?<!::)(system|exec|eval|spawn)(?:\s*(?=[$@<])|\s+(?=[\w"'(]))|\bsend\(:(?:eval|system|exec|spawn|\x60)` : '')
    + (lang === 'perl' || lang === 'ruby' || lang === 'php' ? String.raw`|(\x60)[^\x60\n]*\x60|%x\(|\bqx\b|\bopen\s*\(?\s*(?:my\s*)?\$?\w+\s*,\s*"(?:[^"\n]*\||-\|)"` : ''), 'g');
  const reader = tainted.length ? new RegExp(`${READ_SRC}|(?<![\\w])\\$?(${tainted.map(esc).join('|')})(?![\\w])`) : READ;
  for (const line of lines) {
    for (const m of line.matchAll(sinkRe)) {
      const name = m.slice(1).find((g) => g !== undefined) ?? m[0];
      if (!isSink(name, m[0])) continue;
      // (the sink's own text counts: a perl pipe open or backticks hold the command they run)
      const hit = reader.exec(m[0].startsWith('`') ? m[0] : line.slice(m.index!));
      if (hit) return { sink: sinkLabel(line, m.index!, m[0]), source: hit[1] ?? hit[0] };
    }
    const cb = /\.(?:on|once|addListener)\("(?:data|message|line)",(\w+(?:\.\w+)?)\)|\.then\((eval|Function)\)|onmessage=(eval|Function)\b/.exec(line);
    if (cb && /(?:^|\.)(?:eval|Function|exec\w*|system|spawn\w*)$/.test(cb[1] ?? cb[2] ?? cb[3]!)) return { sink: cb[1] ?? cb[2] ?? cb[3]!, source: 'a received message' };
  }
  return undefined;
}

/** A matched name is a sink: names from SINK_NAMES/aliases are, `getattr(…,"x")`/`["x"]` only when x is one. */
function isSink(name: string, whole: string): boolean {
  if (whole.startsWith('getattr') || whole.startsWith('["')) return SINK_NAMES.includes(name) || name in QUALIFIED;
  return true;
}

function sinkLabel(line: string, at: number, whole: string): string {
  if (whole.startsWith('`')) return 'backticks';
  const before = /(?:[\w$]+(?:\(\))?\.)*$/.exec(line.slice(0, at))?.[0] ?? '';
  return `${before}${whole.replace(/\s*\($/, '').trim()}`.slice(0, 60);
}

/**
 * Other names for sinks and their modules: `import subprocess as q`, `q=__import__("subprocess")`,
 * `cp=require("child_process")` (receivers); `from os import system as z`, `{execSync: x} = require(…)`,
 * `x=exec`, `x=os.system` (sinks).
 */
function sinkAliases(code: string): { receivers: string[]; sinks: string[] } {
  const receivers: string[] = [];
  const sinks: string[] = [];
  for (const m of code.matchAll(/\b(?:os|subprocess|pickle|marshal|posix|builtins|asyncio|code|types) as (\w+)/g)) receivers.push(m[1]!);
  for (const m of code.matchAll(/(\w+)=(?:__import__|require|importlib\.import_module)\("(?:node:)?(?:os|subprocess|posix|builtins|pickle|marshal|child_process|vm)"\)/g)) receivers.push(m[1]!);
  for (const m of code.matchAll(/from (?:os|subprocess|builtins|pickle|marshal|posix|code|asyncio) import ([^\n]+)/g)) {
    for (const part of m[1]!.replace(/[()]/g, '').split(',')) {
      const [orig, as] = part.trim().split(/\s+as\s+/);
      if (orig === '*') sinks.push('run', 'call', 'loads', 'load');
      else if (orig) sinks.push(as ?? orig);
    }
  }
  for (const m of code.matchAll(/\{([^}\n]*)\}=require\("(?:node:)?child_process"\)/g)) {
    for (const part of m[1]!.split(',')) { const as = part.split(':')[1]?.trim(); if (as) sinks.push(as); }
  }
  const all = new RegExp(String.raw`(?<![\w$.])(\w+)=(?:(?:${RECEIVERS.map(esc).join('|')})\.)?(?:${[...SINK_NAMES, ...Object.keys(QUALIFIED)].map(esc).join('|')})(?![\w(])`, 'g');
  for (const m of code.matchAll(all)) sinks.push(m[1]!);
  return { receivers, sinks: sinks.filter((s) => /^\w+$/.test(s)) };
}

/** Names bound from a read, then from those names, to a fixed point (at most four rounds). */
function taintedNames(lines: string[], lang: string): string[] {
  const names = new Set<string>();
  for (let round = 0; round < 4; round++) {
    const before = names.size;
    const src = names.size ? new RegExp(`${READ_SRC}|(?<![\\w])\\$?(?:${[...names].map(esc).join('|')})(?![\\w])`) : READ;
    for (const line of lines) {
      // d=…, d+=…, d.=…, $d=…, a,b=…, while chunk:=…, my $d=…
      for (const m of line.matchAll(/(?:^|[^\w$.=!<>])\$?(\w+(?:,\$?\w+)*)\s*(?:\+|\.|\|\|)?(?::)?=(?![=>~])([^\n]*)/g)) {
        if (src.test(m[2]!)) for (const n of m[1]!.split(',')) names.add(n.replace(/^\$/, ''));
      }
      for (const m of line.matchAll(/for\s*\(?\s*(?:const |let |var |my )?\$?(\w+)\s+(?:in|of)\s+([^\n]*)/g)) if (src.test(m[2]!)) names.add(m[1]!);
      for (const m of line.matchAll(/for\s*await\s*\(\s*(?:const |let |var )?(\w+)\s+of\b/g)) names.add(m[1]!);
      for (const m of line.matchAll(/\.(?:on|once|addListener)\("(?:data|message|line)",(?:async)?(?:function)?\(?(\w+)/g)) names.add(m[1]!);
      for (const m of line.matchAll(/onmessage=(?:async)?(?:function)?\(?(\w+)/g)) names.add(m[1]!);
      if (lang === 'ruby') for (const m of line.matchAll(/(?:gets|read|each_line|recv\w*)\b[^|\n]*(?:do|\{)\s*\|(\w+)\|/g)) names.add(m[1]!);
      if (lang === 'perl' && /while\s*\(\s*<\$?\w+>\s*\)/.test(line)) names.add('_');
    }
    if (names.size === before) break;
  }
  return [...names];
}
